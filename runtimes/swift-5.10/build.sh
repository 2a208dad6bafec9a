#!/bin/sh
exec "$(dirname "$0")/../swift/build.sh" "$@"
