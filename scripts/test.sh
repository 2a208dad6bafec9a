#!/usr/bin/env bash
# Runs every test, after installing what the tests need on a fresh Debian machine (as root; elsewhere it
# only checks and says what is missing). Used by .ci/run; documented in the README.
#
#   scripts/test.sh   unit + integration tests, fuzz seeds and the load soak (debug build); a one-minute fuzzing
#                     run per target (FUZZ_SECONDS); the static release binary built and put through the same
#                     integration suite and soak; the conformance kits (v1, and v5 where an adapter has v5
#                     case functions) for every bundled adapter and every installable compiled language; the
#                     runtime images built and seed-tested in Docker, every image's v5 layout
#                     tested as the open-runtimes executor uses it, and the python image scaled out on a
#                     single-node Docker Swarm behind HAProxy under load (tests/swarm/run.sh).
#
# Interpreters: python3 and node are required. The others (php, ruby, perl, lua, deno, bun) are installed when
# this runs as root on Debian; elsewhere an adapter whose interpreter is missing is skipped with the reason —
# but in CI (CI=true) every adapter must run.
set -euo pipefail
cd "$(dirname "$0")/.."

# bounded SECONDS COMMAND...: runs COMMAND, and ends it (TERM, then KILL 30 s later) when it takes longer than
# SECONDS, saying which step that was: a hang fails its own step, with its output so far, instead of the run.
bounded() {
  local limit=$1 rc=0
  shift
  timeout --kill-after=30 "$limit" "$@" || rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "test.sh: '$*' did not end within $limit s: stopped" >&2
  fi
  return "$rc"
}

scripts/install-test-deps.sh
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  scripts/install-interpreters.sh
  scripts/install-compilers.sh
else
  echo "not root on Debian: not installing interpreters or compilers; adapters without one are skipped"
fi

# The image tests' local base images (a debootstrapped Debian and one image per language: minutes of apt and
# docker import, little CPU) are made in the background while the Rust suites run; the image step waits for them.
#
# Which runtime versions the image tests build: IMAGES=ci (the default) takes the first version of every
# language (the seed's runtimes, on Debian bookworm stand-ins) and python 3.13 (a trixie stand-in: the path
# every further version takes), which fits CI's time budget; IMAGES=all takes every catalogue version this
# machine can build (tests/images/run.sh and v5.sh without arguments; about 20 minutes more).
IMAGES=${IMAGES:-ci}
case $IMAGES in
  ci)
    image_runtimes=(python-3.11 python-3.13 node-20 php-8.2 ruby-3.1 deno-2.9 bun-1.4 perl-5.36 lua-5.4 bash-5.2
      rust-1.95 go-1.19 c-17 cpp-17 java-17 kotlin-1.3 zig-0.14)
    v5_runtimes=("${image_runtimes[@]}") # the same images, each driven as the open-runtimes executor does
    base_images=(local/debian:bookworm local/debian:trixie local/python:3.11 local/python:3.13 local/node:20
      local/php:8.2 local/ruby:3.1 local/perl:5.36 local/deno:2.9 local/bun:1.4 local/rust:1 local/golang:1.19
      local/gcc:12 local/jdk:17 local/jre:17 local/zig:0.14) ;;
  all) image_runtimes=() v5_runtimes=() base_images=() ;;
  *) echo "IMAGES must be ci or all, not '$IMAGES'" >&2; exit 2 ;;
esac
bases_pid='' bases_log=target/bases.log
if [[ $(id -u) -eq 0 ]] && docker info >/dev/null 2>&1; then
  mkdir -p target
  echo "== local base images for the image tests, in the background (tests/images/bases.sh > $bases_log)"
  bounded 2400 tests/images/bases.sh "${base_images[@]}" >"$bases_log" 2>&1 &
  bases_pid=$!
fi

echo "== unit and integration tests (debug build)"
bounded 1500 cargo test --locked

echo "== fuzzing smoke run: every target for ${FUZZ_SECONDS:=60} s (scripts/fuzz.sh; docs/reliability.md)"
bounded $((FUZZ_SECONDS * 3 + 900)) scripts/fuzz.sh "$FUZZ_SECONDS"

echo "== static release binary"
make static
STATIC=target/x86_64-unknown-linux-gnu/release/runtime-shim
"$STATIC" --version

echo "== integration tests and the load soak against the static release binary"
SHIM_TEST_BIN="$PWD/$STATIC" bounded 1200 cargo test --locked --test integration
SHIM_TEST_BIN="$PWD/$STATIC" bounded 300 cargo test --locked --test soak -- --nocapture

echo "== conformance kit, every bundled adapter"
if [[ ${CI:-} == true ]]; then
  bounded 900 "$STATIC" conformance --require-all
else
  bounded 900 "$STATIC" conformance --all
fi

echo "== conformance kit, the v5 contract, every bundled adapter with v5 case functions"
if [[ ${CI:-} == true ]]; then
  bounded 1200 "$STATIC" conformance --require-all --protocol v5
else
  bounded 1200 "$STATIC" conformance --all --protocol v5
fi

echo "== conformance kit, compiled runtimes (built with their runtimes/<lang>-*/build.sh; v5 where conformance/v5/<lang>/ exists) and the native ABI"
passed=0 failed=0 skipped=0
for pair in c:cc cpp:g++ rust:cargo go:go java:javac kotlin:kotlinc zig:zig native:cc; do
  lang=${pair%%:*} tool=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1 && [[ ${CI:-} != true ]]; then
    echo "SKIP $lang: $tool is not installed (scripts/install-compilers.sh installs it)"
    skipped=$((skipped + 1))
    continue
  fi
  kits=""
  [ -d "conformance/$lang" ] && kits="v1"
  [ -d "conformance/v5/$lang" ] && kits="$kits v5"
  for kit in $kits; do
    started=$SECONDS
    if SHIM="$PWD/$STATIC" bounded 900 scripts/conformance-compiled.sh "$lang" "$kit"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
    echo "($lang $kit in $((SECONDS - started)) s)"
  done
done
echo "compiled: $passed kits passed, $failed failed, $skipped languages skipped"
((failed == 0))

echo "== no block repeats across the files under runtimes/ (tests/runtimes/repeats.py)"
python3 tests/runtimes/repeats.py

echo "== runtime images: the seed test in Docker (tests/images/run.sh; IMAGES=$IMAGES: ${image_runtimes[*]:-every catalogue version})"
if docker info >/dev/null 2>&1; then
  if [ -n "$bases_pid" ]; then
    started=$SECONDS
    bases_rc=0
    wait "$bases_pid" || bases_rc=$?
    echo "(waited $((SECONDS - started)) s for the base images; their log:)"
    grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' "$bases_log" || true
    ((bases_rc == 0)) || { echo "tests/images/bases.sh failed (exit $bases_rc)" >&2; exit 1; }
  fi
  SKIP_MAKE=1 bounded 2400 tests/images/run.sh "${image_runtimes[@]}"
  echo "== runtime images: the v5 layout, every language's image, as the open-runtimes executor uses it (tests/images/v5.sh; ${v5_runtimes[*]:-every catalogue version})"
  SKIP_MAKE=1 bounded 1200 tests/images/v5.sh "${v5_runtimes[@]}"
  echo "== runtime images: a container stopped while runtime-shim launch extracts exits 0 at once (tests/images/launch.sh)"
  bounded 600 tests/images/launch.sh
  echo "== runtime images: scale-out on Docker Swarm behind HAProxy, under load (tests/swarm/run.sh)"
  # It needs Debian's haproxy and docker-registry (scripts/install-test-deps.sh installs them as root): in CI
  # their absence fails the run (run.sh says what is missing); elsewhere it is skipped with the reason.
  if [[ ${CI:-} == true ]] || { [ -x /usr/bin/docker-registry ] && { [ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null; }; }; then
    SKIP_MAKE=1 bounded 900 tests/swarm/run.sh
  else
    echo "SKIP swarm: haproxy or docker-registry is not installed (scripts/install-test-deps.sh installs them as root)"
  fi
elif [[ ${CI:-} == true ]]; then
  echo "the Docker daemon is not reachable; CI needs it for the image tests" >&2
  exit 1
else
  echo "SKIP runtime images: the Docker daemon is not reachable (docker info failed)"
fi
