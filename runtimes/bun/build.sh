#!/bin/sh
# Build step of the bun-1.4 runtime: installs the dependencies of the function in $CODE_DIR, when it has a
# package.json, into $CODE_DIR/node_modules with `bun install --production` (frozen when a bun.lock or
# bun.lockb is there). Without a package.json there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), BUN (bun).
set -eu
BUN=${BUN:-bun}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the bun function"
if [ -f package.json ]; then
  command -v "$BUN" >/dev/null 2>&1 || die "'$BUN' is not installed"
  frozen=
  if [ -f bun.lock ] || [ -f bun.lockb ]; then frozen=--frozen-lockfile; fi
  echo "build: bun install --production $frozen"
  # shellcheck disable=SC2086 # empty or one flag
  "$BUN" install --production $frozen || die "bun install failed"
else
  echo "build: no package.json, no dependencies to install"
fi
