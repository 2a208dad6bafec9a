#!/bin/sh
# Build step of the bash-5.2 runtime. A bash function has no dependency manifest: this only checks the entry
# file's syntax (`bash -n`), so a typo fails the build rather than the first execution.
# For tests on a host, override: CODE_DIR (/usr/code).
set -eu
CODE_DIR=${CODE_DIR:-/usr/code}
ENTRY=${APPWRITE_ENTRYPOINT_NAME:-${ENTRYPOINT_NAME:-}}
die() { echo "build: $*" >&2; exit 1; }

cd "$CODE_DIR" || die "no code folder $CODE_DIR"
if [ -n "$ENTRY" ] && [ -f "$ENTRY" ]; then
  bash -n "$ENTRY" || die "$ENTRY has a syntax error (above)"
  echo "build: $ENTRY parses; no dependencies to install"
else
  echo "build: no dependencies to install"
fi
