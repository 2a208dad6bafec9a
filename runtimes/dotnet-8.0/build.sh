#!/bin/sh
exec "$(dirname "$0")/../dotnet/build.sh" "$@"
