#!/bin/sh
exec "$(dirname "$0")/../java/build.sh" "$@"
