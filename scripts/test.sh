#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh Debian machine (as root; elsewhere it
# only checks and says what is missing). Used by .ci/run; documented in the README.
#
#   scripts/test.sh   unit + integration tests (debug build); the static release binary built and put through
#                     the same integration suite; the conformance kit for every bundled adapter.
#
# Interpreters: python3 and node are required. The others (php, ruby, perl, lua, deno, bun) are installed when
# this runs as root on Debian; elsewhere an adapter whose interpreter is missing is skipped with the reason —
# but in CI (CI=true) every adapter must run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  scripts/install-interpreters.sh
else
  echo "not root on Debian: not installing interpreters; adapters without one are skipped"
fi

echo "== unit and integration tests (debug build)"
cargo test --locked

echo "== static release binary"
make static
STATIC=target/x86_64-unknown-linux-gnu/release/runtime-shim
"$STATIC" --version

echo "== integration tests against the static release binary"
SHIM_TEST_BIN="$PWD/$STATIC" cargo test --locked --test integration

echo "== conformance kit, every bundled adapter"
if [[ ${CI:-} == true ]]; then
  "$STATIC" conformance --require-all
else
  "$STATIC" conformance --all
fi
