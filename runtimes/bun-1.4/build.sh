#!/bin/sh
exec "$(dirname "$0")/../bun/build.sh" "$@"
