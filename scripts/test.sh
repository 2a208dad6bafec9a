#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh Debian machine (as root; elsewhere it
# only checks and says what is missing). Used by .ci/run; documented in the README.
#
#   scripts/test.sh            unit + integration tests (debug build), then the static release binary built
#                              and put through the same integration suite
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "== unit and integration tests (debug build)"
cargo test --locked

echo "== static release binary"
make static
STATIC=target/x86_64-unknown-linux-gnu/release/runtime-shim
"$STATIC" --version

echo "== integration tests against the static release binary"
SHIM_TEST_BIN="$PWD/$STATIC" cargo test --locked --test integration
