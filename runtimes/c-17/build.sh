#!/bin/sh
# Build step of the c-17 runtime: compiles the function in $CODE_DIR (every .c file there; the entry file,
# APPWRITE_ENTRYPOINT_NAME, defines handler()) with the C adapter library into $CODE_DIR/runtime, and leaves
# only that in $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR,
# CC (cc), CFLAGS, LDLIBS (e.g. -lcurl).
set -eu
CODE_DIR=${CODE_DIR:-/usr/code}
WORK_DIR=${WORK_DIR:-/usr/workspace}
ENTRY=${APPWRITE_ENTRYPOINT_NAME:-${ENTRYPOINT_NAME:-}}
CC=${CC:-cc}
die() { echo "build: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ADAPTER_DIR:-}" ]; then
  for d in "$here/../../adapters/c" /opt/runtime-shim/adapters/c /usr/local/lib/runtime-shim/adapters/c; do
    if [ -f "$d/runtime.c" ]; then ADAPTER_DIR=$(cd "$d" && pwd); break; fi
  done
fi
[ -f "${ADAPTER_DIR:-}/runtime.c" ] || die "the C adapter library (runtime.c, runtime.h) was not found: set ADAPTER_DIR"
command -v "$CC" >/dev/null 2>&1 || die "no C compiler: '$CC' is not installed (apt-get install gcc)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .c file that defines handler()"
case $ENTRY in *.c) ;; *) die "the entry file $ENTRY is not a .c file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

mkdir -p "$WORK_DIR"
src=$(mktemp -d "$WORK_DIR/c-build.XXXXXX")
trap 'rm -rf "$src"' EXIT
cp -R "$CODE_DIR/." "$src/"
cd "$src"
# Relative names, so that the compiler's messages and __FILE__ (in res_error) name files as the user does.
files=$(find . -name '*.c' -type f | sed 's|^\./||' | sort)
# shellcheck disable=SC2086 # the file list and the flags are word lists
"$CC" -std=gnu17 -O2 -g -Wall -I"$ADAPTER_DIR" ${CFLAGS:-} $files "$ADAPTER_DIR/runtime.c" -o runtime -lm ${LDLIBS:-} \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mv runtime "$CODE_DIR/runtime"
echo "build: $CODE_DIR/runtime is ready ($(wc -c < "$CODE_DIR/runtime") bytes)"
