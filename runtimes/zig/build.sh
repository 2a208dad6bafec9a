#!/bin/sh
# Build step of the zig runtime: compiles the function in $CODE_DIR (the entry file, APPWRITE_ENTRYPOINT_NAME,
# has `pub fn main(req: *const runtime.Request, res: *runtime.Response) !void` and may @import its siblings)
# with the Zig adapter library (adapters/zig/runtime.zig, module "runtime") into $CODE_DIR/runtime, a static
# executable, and leaves only that in $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime.
#
# Zig 0.14: `zig` on PATH, or the PyPI package (`pip install ziglang==0.14.1`, run as `python3 -m ziglang`).
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, ZIG
# (a command), ZIGFLAGS (default -O ReleaseSafe -ferror-tracing: safety checks on, and error return traces, which ReleaseSafe
# leaves out by default, for the 500 messages).
set -eu

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir zig runtime.zig Zig
if [ -z "${ZIG:-}" ]; then
  if command -v zig >/dev/null 2>&1; then ZIG=zig
  elif python3 -c 'import ziglang' >/dev/null 2>&1; then ZIG="python3 -m ziglang"
  else die "no Zig compiler: zig is not installed (pip install ziglang==0.14.1, or a zig 0.14 release on PATH)"
  fi
fi
version=$($ZIG version) || die "'$ZIG version' failed"
case $version in 0.14.*) ;; *) die "the Zig adapter is written for Zig 0.14, and '$ZIG' is $version" ;; esac
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .zig file with pub fn main(req, res)"
case $ENTRY in *.zig) ;; *) die "the entry file $ENTRY is not a .zig file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch zig
code=$(cd "$CODE_DIR" && pwd)
cat > "$src/main.zig" <<ZIG
const runtime = @import("runtime");
const function = @import("function");

pub fn main() void {
    runtime.serve(function.main);
}
ZIG
# The code is compiled where it is (only read; the cache and the program go to the scratch dir), so that error
# return traces name its files as $CODE_DIR/<file>.
# shellcheck disable=SC2086 # ZIG may be a command with arguments; ZIGFLAGS is a word list
$ZIG build-exe ${ZIGFLAGS:--O ReleaseSafe -ferror-tracing} --cache-dir "$src/cache" -femit-bin="$src/runtime" \
    --dep runtime --dep function -Mroot="$src/main.zig" -Mruntime="$ADAPTER_DIR/runtime.zig" \
    --dep runtime -Mfunction="$code/$ENTRY" \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mv "$src/runtime" "$CODE_DIR/runtime"
echo "build: $CODE_DIR/runtime is ready ($(wc -c < "$CODE_DIR/runtime") bytes)"
