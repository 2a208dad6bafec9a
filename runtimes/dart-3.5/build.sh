#!/bin/sh
exec "$(dirname "$0")/../dart/build.sh" "$@"
