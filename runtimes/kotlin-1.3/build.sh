#!/bin/sh
exec "$(dirname "$0")/../kotlin/build.sh" "$@"
