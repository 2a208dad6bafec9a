#!/bin/sh
# Build step of the java runtime: compiles the function in $CODE_DIR (every .java file there; the entry file,
# APPWRITE_ENTRYPOINT_NAME, e.g. Index.java, holds the class of that name with main(Request req, Response res))
# with the Java adapter library (adapters/java, package runtime) into $CODE_DIR/runtime.jar, writes the
# launcher $CODE_DIR/runtime, and leaves only those (and lib/ with the .jar files the code came with, which are
# on the class path) in $CODE_DIR. The image runs it with SHIM_ADAPTER=/usr/code/runtime.
#
# The launcher is a shell script: `exec java … 3>&1 4<&0 1>&2 0</dev/null`. The JVM cannot dup2, so the shell
# moves the protocol to fds 3 and 4 before java starts, and fd 1 (System.out, native code, child processes)
# is stderr from the first instruction on.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR,
# JAVAC, JAR, JAVACFLAGS.
set -eu
JAVAC=${JAVAC:-javac}
JAR=${JAR:-jar}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir java runtime/Adapter.java Java
command -v "$JAVAC" >/dev/null 2>&1 && command -v "$JAR" >/dev/null 2>&1 \
  || die "no JDK: '$JAVAC' or '$JAR' is not installed (apt-get install default-jdk-headless)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .java file whose class has main(req, res)"
case $ENTRY in *.java) ;; *) die "the entry file $ENTRY is not a .java file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch java
mkdir -p "$src/code" "$src/classes" "$src/out/lib"
cp -R "$CODE_DIR/." "$src/code/"
cd "$src"
# The entry class: the file's name, in the file's package if it declares one.
package=$(sed -n 's/^[[:space:]]*package[[:space:]]*\([A-Za-z0-9_.]*\)[[:space:]]*;.*/\1/p' "code/$ENTRY" | head -n 1)
class=$(basename "$ENTRY" .java)
[ -z "$package" ] || class=$package.$class
find code -name '*.jar' -type f -exec cp {} out/lib/ \;
find code "$ADAPTER_DIR/runtime" -name '*.java' -type f > sources
"$JAVAC" -encoding UTF-8 -g -d classes -cp "out/lib/*" ${JAVACFLAGS:-} @sources \
  || die "compiling $ENTRY failed (the compiler's messages are above)"
"$JAR" --create --file out/runtime.jar -C classes . || die "jar failed"
LANGUAGE=java jvm_launcher out runtime.Adapter "$class"
