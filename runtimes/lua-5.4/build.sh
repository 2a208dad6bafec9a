#!/bin/sh
exec "$(dirname "$0")/../lua/build.sh" "$@"
