#!/bin/sh
# Build step of the bash-5.2 runtime. A bash function has no dependency manifest: this only checks the entry
# file's syntax (`bash -n`), so a typo fails the build rather than the first execution.
# For tests on a host, override: CODE_DIR (/usr/code).
set -eu
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the bash function"
if [ -n "$ENTRY" ] && [ -f "$ENTRY" ]; then
  bash -n "$ENTRY" || die "$ENTRY has a syntax error (above)"
  echo "build: $ENTRY parses; no dependencies to install"
else
  echo "build: no dependencies to install"
fi
