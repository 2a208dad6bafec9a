#!/bin/sh
exec "$(dirname "$0")/../go/build.sh" "$@"
