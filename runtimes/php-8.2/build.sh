#!/bin/sh
exec "$(dirname "$0")/../php/build.sh" "$@"
