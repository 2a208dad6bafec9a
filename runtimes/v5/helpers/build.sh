#!/bin/sh
# v5 build step (SPEC §6 "Files"): copies the function's source from $MOUNT_DIR to $BUILD_DIR, runs the
# install command there, records the entry file in .open-runtimes and archives the folder to
# $MOUNT_DIR/code.tar.gz, which the start step extracts. In a compiled runtime's build image (its SHIM_ADAPTER
# is /usr/code/runtime, the program its build.sh makes) the folder is then compiled, as open-runtimes' compiled
# images do after the install command: the language's build.sh turns it into the program `runtime` alone.
#   /usr/local/server/helpers/build.sh "<install command>"     e.g. "pip install -r requirements.txt --target .python_packages"
# For tests on a host, override: MOUNT_DIR (/mnt/code), BUILD_DIR (/usr/local/build), COMPILE (the language's
# build.sh, /usr/local/src/build.sh), SHIM.
set -eu
MOUNT_DIR=${MOUNT_DIR:-/mnt/code}
BUILD_DIR=${BUILD_DIR:-/usr/local/build}
COMPILE=${COMPILE:-/usr/local/src/build.sh}
SHIM=${SHIM:-/opt/runtime-shim/runtime-shim}
[ -x "$SHIM" ] || SHIM=$(command -v runtime-shim || echo "$SHIM")
die() { echo "build: $*" >&2; exit 1; }

[ $# -le 1 ] || die "takes one argument, the install command (quote it); got $#"
[ -d "$MOUNT_DIR" ] || die "no source folder $MOUNT_DIR: mount the function's code there"
mkdir -p "$BUILD_DIR" || die "cannot create $BUILD_DIR"
cp -Rp "$MOUNT_DIR/." "$BUILD_DIR/" || die "cannot copy $MOUNT_DIR to $BUILD_DIR"
cd "$BUILD_DIR"
if [ -n "${1:-}" ]; then
  echo "build: $1"
  sh -c "$1" || die "the install command failed with exit status $?: $1"
fi
if [ "${SHIM_ADAPTER:-}" = /usr/code/runtime ] && [ -f "$COMPILE" ]; then
  echo "build: compiling ${OPEN_RUNTIMES_ENTRYPOINT:-} ($COMPILE)"
  CODE_DIR=$BUILD_DIR APPWRITE_ENTRYPOINT_NAME=${OPEN_RUNTIMES_ENTRYPOINT:-} sh "$COMPILE" ||
    die "compiling ${OPEN_RUNTIMES_ENTRYPOINT:-the function} failed (above)"
fi
printf 'OPEN_RUNTIMES_ENTRYPOINT=%s\n' "${OPEN_RUNTIMES_ENTRYPOINT:-}" > .open-runtimes || die "cannot write $BUILD_DIR/.open-runtimes"
"$SHIM" code archive "$BUILD_DIR" "$MOUNT_DIR/code.tar.gz" || die "cannot archive $BUILD_DIR into $MOUNT_DIR/code.tar.gz"
