#!/bin/sh
exec "$(dirname "$0")/../deno/build.sh" "$@"
