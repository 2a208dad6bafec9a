#!/bin/sh
exec "$(dirname "$0")/../python/build.sh" "$@"
