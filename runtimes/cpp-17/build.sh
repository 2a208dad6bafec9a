#!/bin/sh
exec "$(dirname "$0")/../cpp/build.sh" "$@"
