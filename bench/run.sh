#!/usr/bin/env bash
# The benchmark, in one command:   bench/run.sh            (full: ≤ ~12 minutes)
#                                  bench/run.sh --quick    (≤ 3 minutes; results in bench/results/quick/)
# Installs the tools (bench/setup.sh, idempotent), builds the static release binary (make static) and the floor
# contender (the example bench-floor, with the same profile, locked crates and static glibc as the binary), then
# runs bench/bench.py with the arguments given (see bench/bench.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup.sh
make static
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target x86_64-unknown-linux-gnu \
  --example bench-floor
exec /usr/bin/python3 bench/bench.py "$@"
