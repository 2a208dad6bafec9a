#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh Debian machine (as root; elsewhere it
# only checks and says what is missing). Used by .ci/run; documented in the README.
#
#   scripts/test.sh   unit + integration tests, fuzz seeds and the load soak (debug build); a one-minute fuzzing
#                     run per target (FUZZ_SECONDS); the static release binary built and put through the same
#                     integration suite and soak; the conformance kits (v1, and v5 where an adapter has v5
#                     case functions) for every bundled adapter and every installable compiled language; the
#                     runtime images built and seed-tested in Docker, and the python and node images' v5 layout
#                     tested as the open-runtimes executor uses it.
#
# Interpreters: python3 and node are required. The others (php, ruby, perl, lua, deno, bun) are installed when
# this runs as root on Debian; elsewhere an adapter whose interpreter is missing is skipped with the reason —
# but in CI (CI=true) every adapter must run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  scripts/install-interpreters.sh
  scripts/install-compilers.sh
else
  echo "not root on Debian: not installing interpreters or compilers; adapters without one are skipped"
fi

echo "== unit and integration tests (debug build)"
cargo test --locked

echo "== fuzzing smoke run: every target for ${FUZZ_SECONDS:=60} s (scripts/fuzz.sh; docs/reliability.md)"
scripts/fuzz.sh "$FUZZ_SECONDS"

echo "== static release binary"
make static
STATIC=target/x86_64-unknown-linux-gnu/release/runtime-shim
"$STATIC" --version

echo "== integration tests and the load soak against the static release binary"
SHIM_TEST_BIN="$PWD/$STATIC" cargo test --locked --test integration
SHIM_TEST_BIN="$PWD/$STATIC" cargo test --locked --test soak -- --nocapture

echo "== conformance kit, every bundled adapter"
if [[ ${CI:-} == true ]]; then
  "$STATIC" conformance --require-all
else
  "$STATIC" conformance --all
fi

echo "== conformance kit, the v5 contract, every bundled adapter with v5 case functions"
if [[ ${CI:-} == true ]]; then
  "$STATIC" conformance --require-all --protocol v5
else
  "$STATIC" conformance --all --protocol v5
fi

echo "== conformance kit, compiled runtimes (built with their runtimes/<lang>-*/build.sh)"
passed=0 failed=0 skipped=0
for pair in c:cc cpp:g++ rust:cargo go:go java:javac kotlin:kotlinc zig:zig; do
  lang=${pair%%:*} tool=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1 && [[ ${CI:-} != true ]]; then
    echo "SKIP $lang: $tool is not installed (scripts/install-compilers.sh installs it)"
    skipped=$((skipped + 1))
    continue
  fi
  started=$SECONDS
  if SHIM="$PWD/$STATIC" scripts/conformance-compiled.sh "$lang"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  echo "($lang in $((SECONDS - started)) s)"
done
echo "compiled: $passed passed, $failed failed, $skipped skipped"
((failed == 0))

echo "== no block repeats across the files under runtimes/ (tests/runtimes/repeats.py)"
python3 tests/runtimes/repeats.py

echo "== runtime images: the seed test in Docker, every catalogue version (tests/images/run.sh)"
if docker info >/dev/null 2>&1; then
  SKIP_MAKE=1 tests/images/run.sh
  echo "== runtime images: the v5 layout, python, node, php and ruby, as the open-runtimes executor uses it (tests/images/v5.sh)"
  SKIP_MAKE=1 tests/images/v5.sh
  echo "== runtime images: a container stopped while runtime-shim launch extracts exits 0 at once (tests/images/launch.sh)"
  tests/images/launch.sh
  echo "== runtime images: scale-out on Docker Swarm behind HAProxy, under load (tests/swarm/run.sh)"
  # Not yet proven stable enough to gate every submission: run with SWARM=1 (issue in progress).
  if [[ ${SWARM:-} != 1 ]]; then
    echo "SKIP swarm: opt-in while it is being finished (SWARM=1 scripts/test.sh runs it)"
  elif [ -x /usr/bin/docker-registry ] && [ -x /usr/sbin/haproxy ]; then
    SKIP_MAKE=1 tests/swarm/run.sh
  else
    echo "SKIP swarm: haproxy or docker-registry is not installed (scripts/install-test-deps.sh installs them as root)"
  fi
elif [[ ${CI:-} == true ]]; then
  echo "the Docker daemon is not reachable; CI needs it for the image tests" >&2
  exit 1
else
  echo "SKIP runtime images: the Docker daemon is not reachable (docker info failed)"
fi
