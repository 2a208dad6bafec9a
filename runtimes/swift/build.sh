#!/bin/sh
# Build step of the swift runtime (UNTESTED: no Swift toolchain can be installed where this was written):
# compiles the function in $CODE_DIR (every .swift file there; the entry file, APPWRITE_ENTRYPOINT_NAME, defines
# `func main(req: Request, res: Response) throws`, or `async throws`) together with the Swift adapter library
# (adapters/swift/Runtime.swift) into one module and the executable $CODE_DIR/runtime, and leaves only that in
# $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime. Foundation is there; SwiftPM packages are
# not (the code is compiled with swiftc, not `swift build`).
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, SWIFTC,
# SWIFTFLAGS.
set -eu
SWIFTC=${SWIFTC:-swiftc}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir swift Runtime.swift Swift
command -v "$SWIFTC" >/dev/null 2>&1 || die "no Swift toolchain: '$SWIFTC' is not installed (use the official swift image, or https://swift.org/install)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .swift file that defines main(req:res:)"
case $ENTRY in *.swift) ;; *) die "the entry file $ENTRY is not a .swift file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch swift
mkdir -p "$src/code"
cp -R "$CODE_DIR/." "$src/code/"
cd "$src"
# The program's entry point: the user's files are compiled as a library module (-parse-as-library), so none of
# them may be a main.swift with top-level code.
# A function of the v5 contract declares main(context:); one of v1 main(req:res:).
signature='main(req:res:)'
if grep -rqE 'func +main\( *context *:' "$CODE_DIR" --include='*.swift'; then signature='main(context:)'; fi
cat > RuntimeEntry.swift <<SWIFT
@main enum RuntimeEntry {
    static func main() async {
        await serve(Function.$signature)
    }
}
SWIFT
find code -name '*.swift' -type f | sort > sources
# shellcheck disable=SC2046,SC2086 # one argument per source file; SWIFTFLAGS is a word list
"$SWIFTC" -parse-as-library -O -g -module-name Function ${SWIFTFLAGS:-} \
    "$ADAPTER_DIR/Runtime.swift" RuntimeEntry.swift $(cat sources) -o runtime \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

install_runtime runtime
