#!/bin/sh
# Run step of the go-1.19 runtime, the image's entrypoint: extracts the compiled function ($CODE_DIR/runtime,
# made by build.sh in the build image) from $CODE_TARBALL, mounted by the executor, into $CODE_DIR and execs
# the shim, so the shim is PID 1: it reaps orphans and turns `docker stop` into a clean shutdown. The shim
# runs $CODE_DIR/runtime as its adapter, whatever the request's file.
#
# With arguments it runs them instead (`docker run IMAGE sh -c '…build.sh…'` for the build step), or hands
# them to the shim when the first one is a flag (`docker run IMAGE --help`).
# For tests on a host, override: CODE_TARBALL (/tmp/code.tar.gz), CODE_DIR (/usr/code), SHIM.
set -eu
CODE_TARBALL=${CODE_TARBALL:-/tmp/code.tar.gz}
CODE_DIR=${CODE_DIR:-/usr/code}
SHIM=${SHIM:-/opt/runtime-shim/runtime-shim}
[ -x "$SHIM" ] || SHIM=$(command -v runtime-shim || echo "$SHIM") # on a host: the one on PATH
case ${1:-} in
  '') ;;
  -*) exec "$SHIM" "$@" ;;
  *) exec "$@" ;;
esac

if [ -f "$CODE_TARBALL" ]; then
  mkdir -p "$CODE_DIR"
  tar -xzf "$CODE_TARBALL" -C "$CODE_DIR" || { echo "launch: cannot extract $CODE_TARBALL into $CODE_DIR" >&2; exit 1; }
else
  echo "launch: no $CODE_TARBALL, serving $CODE_DIR as it is" >&2
fi
export SHIM_ADAPTER="${SHIM_ADAPTER:-$CODE_DIR/runtime}" SHIM_CODE_PATH="${SHIM_CODE_PATH:-$CODE_DIR}"
exec "$SHIM" serve
