#!/bin/sh
exec "$(dirname "$0")/../ruby/build.sh" "$@"
