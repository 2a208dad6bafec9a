#!/bin/sh
# Build step of the c-17 runtime: compiles the function in $CODE_DIR (every .c file there; the entry file,
# APPWRITE_ENTRYPOINT_NAME, defines handler()) with the C adapter library into $CODE_DIR/runtime, and leaves
# only that in $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR,
# CC (cc), CFLAGS, LDLIBS (e.g. -lcurl).
set -eu
CC=${CC:-cc}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir c runtime.c C
command -v "$CC" >/dev/null 2>&1 || die "no C compiler: '$CC' is not installed (apt-get install gcc)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .c file that defines handler()"
case $ENTRY in *.c) ;; *) die "the entry file $ENTRY is not a .c file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch c
cp -R "$CODE_DIR/." "$src/"
cd "$src"
# Relative names, so that the compiler's messages and __FILE__ (in res_error) name files as the user does.
files=$(find . -name '*.c' -type f | sed 's|^\./||' | sort)
# shellcheck disable=SC2086 # the file list and the flags are word lists
"$CC" -std=gnu17 -O2 -g -Wall -I"$ADAPTER_DIR" ${CFLAGS:-} $files "$ADAPTER_DIR/runtime.c" -o runtime -lm ${LDLIBS:-} \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

install_runtime runtime
