#!/usr/bin/env bash
# Makes sure the interpreters the tests drive are installed: python3 and node for the core suite. On a
# Debian machine as root, missing ones are installed with apt; otherwise the script names what is missing
# and fails, since the suite needs them.
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
echo "python3: $(python3 --version 2>&1), node: $(node --version)"
