#!/usr/bin/env bash
# Makes sure the interpreters the tests drive are installed: python3 and node for the core suite. On a
# Debian machine as root, missing ones are installed with apt; otherwise the script names what is missing
# and fails, since the suite needs them.
#
# Also cargo-lambda (PyPI), whose Runtime API emulator the lambda tests run against (tests/integration/
# lambda.rs): as root it is pip-installed into a venv ($SHIM_INTERPRETERS_PREFIX, default
# /opt/runtime-shim-interpreters, the one scripts/install-interpreters.sh uses: Debian's python refuses
# `pip install` outside a venv) and linked into /usr/local/bin. Not root: the lambda tests are skipped (outside
# CI) unless cargo-lambda is already on PATH.
set -euo pipefail

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v file >/dev/null 2>&1 || need+=(file)

if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "missing: ${need[*]} (install them, or run this script as root on Debian)" >&2
    exit 1
  fi
fi

# haproxy and docker-registry (Debian packages) for the scale-out run on Docker Swarm (tests/swarm/run.sh),
# which starts its own processes of their binaries with its own configs (never the packages' services).
swarm_need=()
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || swarm_need+=(haproxy)
[ -x /usr/bin/docker-registry ] || swarm_need+=(docker-registry)
if ((${#swarm_need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${swarm_need[*]} (tests/swarm/run.sh)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${swarm_need[@]}"
  else
    echo "missing: ${swarm_need[*]}: tests/swarm/run.sh is skipped (outside CI)"
  fi
fi

CARGO_LAMBDA_VERSION=1.9.2
PREFIX=${SHIM_INTERPRETERS_PREFIX:-/opt/runtime-shim-interpreters}
if command -v cargo-lambda >/dev/null 2>&1; then
  :
elif [[ $(id -u) -eq 0 ]]; then
  if ! "$PREFIX/bin/python" -m pip --version >/dev/null 2>&1; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
    fi
    rm -rf "$PREFIX"
    python3 -m venv "$PREFIX"
  fi
  echo "installing: cargo-lambda==$CARGO_LAMBDA_VERSION (pip, into $PREFIX)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$PREFIX/bin/python" -m pip install -q "cargo-lambda==$CARGO_LAMBDA_VERSION"
  ln -sfn "$PREFIX/bin/cargo-lambda" /usr/local/bin/cargo-lambda
  /usr/local/bin/cargo-lambda lambda --help >/dev/null || { echo "cargo-lambda does not run after pip install" >&2; exit 1; }
  case ":$PATH:" in *":/usr/local/bin:"*) ;; *) echo "note: /usr/local/bin (cargo-lambda) is not on PATH" ;; esac
else
  echo "cargo-lambda is not installed and this is not root: the lambda tests are skipped (pip install cargo-lambda)"
fi

echo "python3: $(python3 --version 2>&1), node: $(node --version), cargo-lambda: $(command -v cargo-lambda || echo none)"
