#!/bin/sh
exec "$(dirname "$0")/../bash/build.sh" "$@"
