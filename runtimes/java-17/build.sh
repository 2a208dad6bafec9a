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
CODE_DIR=${CODE_DIR:-/usr/code}
WORK_DIR=${WORK_DIR:-/usr/workspace}
ENTRY=${APPWRITE_ENTRYPOINT_NAME:-${ENTRYPOINT_NAME:-}}
JAVAC=${JAVAC:-javac}
JAR=${JAR:-jar}
die() { echo "build: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ADAPTER_DIR:-}" ]; then
  for d in "$here/../../adapters/java" /opt/runtime-shim/adapters/java /usr/local/lib/runtime-shim/adapters/java; do
    if [ -f "$d/runtime/Adapter.java" ]; then ADAPTER_DIR=$(cd "$d" && pwd); break; fi
  done
fi
[ -f "${ADAPTER_DIR:-}/runtime/Adapter.java" ] || die "the Java adapter library (adapters/java) was not found: set ADAPTER_DIR"
command -v "$JAVAC" >/dev/null 2>&1 && command -v "$JAR" >/dev/null 2>&1 \
  || die "no JDK: '$JAVAC' or '$JAR' is not installed (apt-get install default-jdk-headless)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .java file whose class has main(req, res)"
case $ENTRY in *.java) ;; *) die "the entry file $ENTRY is not a .java file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

mkdir -p "$WORK_DIR"
src=$(mktemp -d "$WORK_DIR/java-build.XXXXXX")
trap 'rm -rf "$src"' EXIT
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
cat > out/runtime <<SH
#!/bin/sh
# The java runtime (made by runtimes/java-17/build.sh): the protocol moves to fds 3 (replies) and 4 (requests);
# fd 1 becomes stderr and fd 0 /dev/null, so nothing the function prints or reads can touch a frame.
here=\$(cd "\$(dirname "\$0")" && pwd)
exec "\${JAVA_HOME:+\$JAVA_HOME/bin/}java" \${JAVA_OPTS:-} -cp "\$here/runtime.jar:\$here/lib/*" runtime.Adapter '$class' \\
  3>&1 4<&0 1>&2 0</dev/null
SH
chmod +x out/runtime
rmdir out/lib 2>/dev/null || true

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -R out/. "$CODE_DIR/"
echo "build: $CODE_DIR/runtime is ready (entry class $class)"
