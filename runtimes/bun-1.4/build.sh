#!/bin/sh
# Build step of the bun-1.4 runtime: installs the dependencies of the function in $CODE_DIR, when it has a
# package.json, into $CODE_DIR/node_modules with `bun install --production` (frozen when a bun.lock or
# bun.lockb is there). Without a package.json there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), BUN (bun).
set -eu
CODE_DIR=${CODE_DIR:-/usr/code}
BUN=${BUN:-bun}
die() { echo "build: $*" >&2; exit 1; }

cd "$CODE_DIR" || die "no code folder $CODE_DIR"
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
