#!/bin/sh
# v5 server: execs the shim under the open-runtimes v5 contract (SHIM_PROTOCOL=v5) on the function folder,
# so the shim takes the process's place (PID 1 when the start command execs this). The adapter is the
# image's SHIM_ADAPTER, else the shim guesses it from OPEN_RUNTIMES_ENTRYPOINT. Python packages installed by
# the build command into the function's .python_packages are importable (first on PYTHONPATH); node finds
# the function's node_modules by itself.
# For tests on a host, override: SHIM_CODE_PATH (/usr/local/server/src/function), SHIM.
set -eu
SHIM=${SHIM:-/opt/runtime-shim/runtime-shim}
[ -x "$SHIM" ] || SHIM=$(command -v runtime-shim || echo "$SHIM")
export SHIM_PROTOCOL=v5
export SHIM_CODE_PATH="${SHIM_CODE_PATH:-/usr/local/server/src/function}"
if [ -d "$SHIM_CODE_PATH/.python_packages" ]; then
  export PYTHONPATH="$SHIM_CODE_PATH/.python_packages${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$SHIM" serve "$@"
