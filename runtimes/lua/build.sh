#!/bin/sh
# Build step of the lua-5.4 runtime. Lua has no dependency manifest here: modules live beside the entry file
# (the adapter puts its folder on package.path). So this only checks that the entry file compiles
# (`luac -p`, when luac5.4 is installed; the image has only the interpreter, so usually nothing to do).
# For tests on a host, override: CODE_DIR (/usr/code), LUAC (luac5.4).
set -eu
LUAC=${LUAC:-luac5.4}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the lua function"
if [ -n "$ENTRY" ] && [ -f "$ENTRY" ] && command -v "$LUAC" >/dev/null 2>&1; then
  "$LUAC" -p "$ENTRY" || die "$ENTRY does not compile"
  echo "build: $ENTRY compiles; no dependencies to install"
else
  echo "build: no dependencies to install"
fi
