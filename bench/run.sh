#!/usr/bin/env bash
# The benchmark, in one command:   bench/run.sh            (full: ≤ ~10 minutes)
#                                  bench/run.sh --quick    (≤ 2 minutes; results in bench/results/quick/)
# Installs the tools (bench/setup.sh, idempotent), builds the static release binary (make static), then runs
# bench/bench.py with the arguments given (see bench/bench.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup.sh
make static
exec /usr/bin/python3 bench/bench.py "$@"
