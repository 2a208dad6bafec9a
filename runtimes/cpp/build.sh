#!/bin/sh
# Build step of the cpp-17 runtime: compiles the function in $CODE_DIR (every .cpp/.cc/.cxx file there; the entry
# file, APPWRITE_ENTRYPOINT_NAME, defines runtime::main(req, res)) with the C++ adapter library into
# $CODE_DIR/runtime, and leaves only that in $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR,
# CXX (c++), CXXFLAGS (-static-libstdc++ -static-libgcc: the run image needs no libstdc++), LDLIBS (e.g. -lcurl).
set -eu
CXX=${CXX:-c++}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir cpp runtime.cpp C++
command -v "$CXX" >/dev/null 2>&1 || die "no C++ compiler: '$CXX' is not installed (apt-get install g++)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the file that defines runtime::main()"
case $ENTRY in *.cpp|*.cc|*.cxx) ;; *) die "the entry file $ENTRY is not a .cpp, .cc or .cxx file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch cpp
cp -R "$CODE_DIR/." "$src/"
cd "$src"
# Stack traces of exceptions: every throw passes through the library (--wrap=__cxa_throw); with libbacktrace
# (Debian's libgcc-*-dev has it) they read function (file:line) from the debug info (-g), else glibc's names.
# A compiler of its own (the gcc image's, in /usr/local) does not search Debian's gcc folder: try that one too.
probe() { printf '#include <backtrace.h>\nint main() { return !backtrace_create_state(0, 0, 0, 0); }\n' \
  | "$CXX" -x c++ - -o .probe "$@" -lbacktrace >/dev/null 2>&1; }
debian=$(ls -d /usr/lib/gcc/*/*/include/backtrace.h 2>/dev/null | sort -V | tail -n 1 | sed 's|/include/backtrace.h$||')
if probe; then
  trace_flags=-DRUNTIME_LIBBACKTRACE trace_libs=-lbacktrace
elif [ -n "$debian" ] && probe -I"$debian/include" -L"$debian"; then
  trace_flags="-DRUNTIME_LIBBACKTRACE -I$debian/include" trace_libs="-L$debian -lbacktrace"
else
  trace_flags= trace_libs=-rdynamic
  echo "build: note: no libbacktrace (Debian's libgcc-*-dev has it): exception stack traces will name functions, not file:line" >&2
fi
rm -f .probe
files=$(find . -type f \( -name '*.cpp' -o -name '*.cc' -o -name '*.cxx' \) | sed 's|^\./||' | sort)
# shellcheck disable=SC2086 # the file list and the flags are word lists
"$CXX" -std=gnu++17 -O2 -g -Wall -I"$ADAPTER_DIR" -fdebug-prefix-map="$src"="$CODE_DIR" $trace_flags ${CXXFLAGS--static-libstdc++ -static-libgcc} \
    $files "$ADAPTER_DIR/runtime.cpp" -o runtime -Wl,--wrap=__cxa_throw $trace_libs ${LDLIBS:-} \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

install_runtime runtime
