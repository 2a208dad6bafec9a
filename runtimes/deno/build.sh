#!/bin/sh
# Build step of the deno-2.9 runtime: fetches and compiles, into the code folder's module cache
# ($CODE_DIR/.deno, DENO_DIR at run time too), everything the function imports (`deno install --entrypoint`:
# remote, jsr: and npm: modules, and package.json / deno.json dependencies), and the shim's deno adapter, so
# the run step starts without a network and without compiling. Needs APPWRITE_ENTRYPOINT_NAME (the entry file).
# For tests on a host, override: CODE_DIR (/usr/code), DENO (deno), ADAPTER (the adapter.ts to cache).
set -eu
DENO=${DENO:-deno}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the deno function"
command -v "$DENO" >/dev/null 2>&1 || die "'$DENO' is not installed"
export DENO_DIR="$CODE_DIR/.deno"
if [ -z "${ADAPTER:-}" ]; then
  for a in /opt/runtime-shim/adapters/deno/adapter.ts "$(dirname "$0")/../../adapters/deno/adapter.ts"; do
    if [ -f "$a" ]; then ADAPTER=$a; break; fi
  done
fi
[ -z "${ADAPTER:-}" ] || "$DENO" cache --quiet "$ADAPTER" || die "deno cache $ADAPTER failed"
if [ -n "$ENTRY" ]; then
  [ -f "$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"
  echo "build: deno install --entrypoint $ENTRY"
  "$DENO" install --quiet --entrypoint "$ENTRY" || die "deno install --entrypoint $ENTRY failed"
elif [ -f deno.json ] || [ -f deno.jsonc ] || [ -f package.json ]; then
  echo "build: deno install"
  "$DENO" install --quiet || die "deno install failed"
else
  echo "build: no entry file named (APPWRITE_ENTRYPOINT_NAME) and no deno.json: nothing to fetch"
fi
