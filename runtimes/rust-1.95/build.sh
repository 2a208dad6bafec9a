#!/bin/sh
exec "$(dirname "$0")/../rust/build.sh" "$@"
