# Sourced by every runtimes/<lang>/build.sh, found beside it (an image's /usr/local/src) or one folder up (a
# checkout's runtimes/): what the build steps share. Host overrides: CODE_DIR (/usr/code), WORK_DIR (scratch,
# /usr/workspace), ADAPTER_DIR; the entry file is APPWRITE_ENTRYPOINT_NAME (or ENTRYPOINT_NAME).
CODE_DIR=${CODE_DIR:-/usr/code}
WORK_DIR=${WORK_DIR:-/usr/workspace}
ENTRY=${APPWRITE_ENTRYPOINT_NAME:-${ENTRYPOINT_NAME:-}}
die() { echo "build: $*" >&2; exit 1; }

# adapter_dir LANG FILE WHAT: ADAPTER_DIR (unless set) becomes the first folder holding FILE of the checkout's
# adapters/LANG, the image's /opt/runtime-shim/adapters/LANG and /usr/local/lib/runtime-shim/adapters/LANG;
# none: the build stops, naming WHAT.
adapter_dir() {
  if [ -z "${ADAPTER_DIR:-}" ]; then
    for d in "$lib_dir/../adapters/$1" "/opt/runtime-shim/adapters/$1" "/usr/local/lib/runtime-shim/adapters/$1"; do
      if [ -f "$d/$2" ]; then ADAPTER_DIR=$(cd "$d" && pwd); break; fi
    done
  fi
  [ -f "${ADAPTER_DIR:-}/$2" ] || die "the $3 adapter library ($2) was not found: set ADAPTER_DIR"
}

# install_code DIR: DIR's content replaces $CODE_DIR's (the build's output is all that is left).
install_code() {
  find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  cp -R "$1/." "$CODE_DIR/"
}

# install_runtime FILE: FILE becomes $CODE_DIR/runtime, the folder's only file.
install_runtime() {
  find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  mv "$1" "$CODE_DIR/runtime"
  echo "build: $CODE_DIR/runtime is ready ($(wc -c < "$CODE_DIR/runtime") bytes)"
}

# jvm_launcher OUT MAIN CLASS: OUT/runtime runs `java MAIN CLASS` on OUT's runtime.jar and lib/*.jar. The JVM
# cannot dup2, so the shell moves the protocol to fds 3 (replies) and 4 (requests) first: fd 1 becomes stderr
# and fd 0 /dev/null, so nothing the function prints or reads can touch a frame.
jvm_launcher() {
  cat > "$1/runtime" <<SH
#!/bin/sh
# A JVM runtime made by runtimes/$LANGUAGE/build.sh (see runtimes/build-lib.sh, jvm_launcher).
here=\$(cd "\$(dirname "\$0")" && pwd)
exec "\${JAVA_HOME:+\$JAVA_HOME/bin/}java" \${JAVA_OPTS:-} -cp "\$here/runtime.jar:\$here/lib/*" $2 '$3' \\
  3>&1 4<&0 1>&2 0</dev/null
SH
  chmod +x "$1/runtime"
  rmdir "$1/lib" 2>/dev/null || true
  install_code "$1"
  echo "build: $CODE_DIR/runtime is ready (entry class $3)"
}

# scratch NAME: src becomes a fresh folder in $WORK_DIR, removed when the build ends.
scratch() {
  mkdir -p "$WORK_DIR"
  src=$(mktemp -d "$WORK_DIR/$1-build.XXXXXX")
  trap 'rm -rf "$src"' EXIT
}
