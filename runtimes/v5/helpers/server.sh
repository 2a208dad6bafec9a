#!/bin/sh
# v5 server: execs the shim under the open-runtimes v5 contract (SHIM_PROTOCOL=v5) on the function folder,
# so the shim takes the process's place (PID 1 when the start command execs this). The adapter is the
# image's SHIM_ADAPTER, else the shim guesses it from OPEN_RUNTIMES_ENTRYPOINT; a compiled runtime's image
# names /usr/code/runtime (the v1 layout), and serves the function folder's `runtime`, which the build
# compiled. What the build command installed into the function folder is found: .python_packages first on
# PYTHONPATH, perl's local/lib/perl5 (cpanm --local-lib-contained local) on PERL5LIB, deno's module cache
# .deno as DENO_DIR; node and bun find the function's node_modules by themselves.
# For tests on a host, override: SHIM_CODE_PATH (/usr/local/server/src/function), SHIM.
set -eu
SHIM=${SHIM:-/opt/runtime-shim/runtime-shim}
[ -x "$SHIM" ] || SHIM=$(command -v runtime-shim || echo "$SHIM")
export SHIM_PROTOCOL=v5
export SHIM_CODE_PATH="${SHIM_CODE_PATH:-/usr/local/server/src/function}"
if [ -d "$SHIM_CODE_PATH/.python_packages" ]; then
  export PYTHONPATH="$SHIM_CODE_PATH/.python_packages${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -d "$SHIM_CODE_PATH/local/lib/perl5" ]; then
  export PERL5LIB="$SHIM_CODE_PATH/local/lib/perl5${PERL5LIB:+:$PERL5LIB}"
fi
[ ! -d "$SHIM_CODE_PATH/.deno" ] || export DENO_DIR="$SHIM_CODE_PATH/.deno"
if [ "${SHIM_ADAPTER:-}" = /usr/code/runtime ] && [ -x "$SHIM_CODE_PATH/runtime" ]; then
  export SHIM_ADAPTER="$SHIM_CODE_PATH/runtime"
fi
exec "$SHIM" serve "$@"
