#!/usr/bin/env bash
# Installs what the benchmark needs, idempotently: wrk, Go (for the Go peer), node and python3 with venv support
# from apt (as root on Debian), then flask, gunicorn and matplotlib into bench/.venv (built on /usr/bin/python3,
# the interpreter the python adapter is benchmarked with). Safe to run again: it only installs what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v go >/dev/null || need+=(golang-go)
command -v node >/dev/null || need+=(nodejs)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v taskset >/dev/null || need+=(util-linux)
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "bench/setup.sh: missing ${need[*]}: install them (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "bench/setup.sh: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

venv="$here/.venv"
if ! "$venv/bin/python" -c 'import flask, gunicorn, matplotlib' 2>/dev/null; then
  echo "bench/setup.sh: creating $venv (flask, gunicorn, matplotlib)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'flask>=3' 'gunicorn>=22' 'matplotlib>=3.7'
fi
