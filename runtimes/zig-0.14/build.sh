#!/bin/sh
exec "$(dirname "$0")/../zig/build.sh" "$@"
