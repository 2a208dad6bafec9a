#!/bin/sh
exec "$(dirname "$0")/../perl/build.sh" "$@"
