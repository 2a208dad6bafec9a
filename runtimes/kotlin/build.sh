#!/bin/sh
# Build step of the kotlin runtime: compiles the function in $CODE_DIR (every .kt file there; the entry file,
# APPWRITE_ENTRYPOINT_NAME, e.g. index.kt, has a top-level fun main(req: Request, res: Response)) with the
# Kotlin adapter library (adapters/kotlin, package runtime) into $CODE_DIR/runtime.jar (with the Kotlin
# standard library in it), writes the launcher $CODE_DIR/runtime, and leaves only those (and lib/ with the .jar
# files the code came with, which are on the class path) in $CODE_DIR. The image runs it with
# SHIM_ADAPTER=/usr/code/runtime.
#
# The launcher is a shell script: `exec java … 3>&1 4<&0 1>&2 0</dev/null`. The JVM cannot dup2, so the shell
# moves the protocol to fds 3 and 4 before java starts, and fd 1 (println, native code, child processes) is
# stderr from the first instruction on.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR,
# KOTLINC, KOTLINCFLAGS.
set -eu
KOTLINC=${KOTLINC:-kotlinc}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir kotlin runtime/Runtime.kt Kotlin
command -v "$KOTLINC" >/dev/null 2>&1 || die "no Kotlin compiler: '$KOTLINC' is not installed (apt-get install kotlin)"
command -v java >/dev/null 2>&1 || die "no Java runtime: java is not installed (apt-get install default-jdk-headless)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .kt file with fun main(req, res)"
case $ENTRY in *.kt) ;; *) die "the entry file $ENTRY is not a .kt file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch kotlin
mkdir -p "$src/code" "$src/out/lib"
cp -R "$CODE_DIR/." "$src/code/"
cd "$src"
# The entry file's class, as Kotlin names it: @file:JvmName("X"), else the file name capitalized + "Kt"
# (index.kt -> IndexKt), in the file's package if it declares one.
class=$(sed -n 's/^[[:space:]]*@file:JvmName("\([A-Za-z0-9_$]*\)").*/\1/p' "code/$ENTRY" | head -n 1)
if [ -z "$class" ]; then
  base=$(basename "$ENTRY" .kt | sed 's/[^A-Za-z0-9_]/_/g')
  class=$(printf '%s' "$base" | cut -c1 | tr '[:lower:]' '[:upper:]')$(printf '%s' "$base" | cut -c2-)Kt
fi
package=$(sed -n 's/^[[:space:]]*package[[:space:]]*\([A-Za-z0-9_.]*\).*/\1/p' "code/$ENTRY" | head -n 1)
[ -z "$package" ] || class=$package.$class
find code -name '*.jar' -type f -exec cp {} out/lib/ \;
find code "$ADAPTER_DIR/runtime" -name '*.kt' -type f > sources
classpath=$(find out/lib -name '*.jar' | tr '\n' ':')
# shellcheck disable=SC2046 # one argument per source file
"$KOTLINC" -include-runtime -d out/runtime.jar ${classpath:+-cp "$classpath"} ${KOTLINCFLAGS:-} $(cat sources) \
  || die "compiling $ENTRY failed (the compiler's messages are above)"
LANGUAGE=kotlin jvm_launcher out runtime.AdapterKt "$class"
