#!/bin/sh
exec "$(dirname "$0")/../c/build.sh" "$@"
