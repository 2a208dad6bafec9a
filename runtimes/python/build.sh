#!/bin/sh
# Build step of the python-3.11 runtime: installs the dependencies of the function in $CODE_DIR, when it has a
# requirements.txt, into $CODE_DIR/.python_packages (launch.sh puts that folder on PYTHONPATH). The executor
# then tars $CODE_DIR for the run step. Without a requirements.txt there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), PYTHON (python3).
set -eu
PYTHON=${PYTHON:-python3}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the python function"
if [ -f requirements.txt ]; then
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "requirements.txt needs pip, and '$PYTHON -m pip' does not run"
  echo "build: pip install -r requirements.txt --target $CODE_DIR/.python_packages"
  # --target: into the code folder, so the tarball carries the packages (and PEP 668 does not apply).
  "$PYTHON" -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location --upgrade \
    --target "$CODE_DIR/.python_packages" -r requirements.txt || die "pip install failed"
else
  echo "build: no requirements.txt, no dependencies to install"
fi
