#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the shim's untrusted inputs: the executor's HTTP requests
# (executor_request), their JSON body alone (decode), and an adapter's stdout/stderr (adapter_stream). The
# properties checked live in fuzz/fuzzing.rs; fuzz/README.md describes the targets, fuzz/dicts/ holds their
# libFuzzer dictionaries.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   scripts/fuzz.sh                 every target for 60 s (the smoke run scripts/test.sh does)
#   scripts/fuzz.sh 3600            an hour per target: a longer search, worth running before a release
#   scripts/fuzz.sh 600 decode      one target
#
# Installs cargo-fuzz when it is missing (`cargo install cargo-fuzz --locked`, about a minute). It builds with
# the stable toolchain: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz passes. The first build takes
# about 2 minutes; later ones only rebuild what changed.
#
# Each target starts from fuzz/seeds/<target> and fuzz/regressions/<target>, copied into fuzz/corpus/<target>
# (not tracked; it keeps growing across runs, so a long run continues where the last one stopped; delete it to
# start afresh). Per target it prints the executions, executions per second, coverage (libFuzzer's cov = edges,
# ft = features) and the corpus size; the whole libFuzzer output is in fuzz/logs/<target>.log.
#
# Exits non-zero when any target crashes (a failed property is a crash), after running the rest, and prints
# where the crashing input is (fuzz/artifacts/<target>/crash-…). To keep it: minimise it with
# `cargo fuzz tmin <target> <file>`, fix the bug, and put the input in fuzz/regressions/<target>/ — `cargo test`
# (tests/fuzz_seeds.rs) replays it from then on.
#
# Environment: FUZZ_SANITIZER (default none; `address` adds AddressSanitizer, about 5 times slower, for the
# unsafe code in dependencies); FUZZ_ARGS, more libFuzzer options (`-only_ascii=1`, `-dict=…`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
all_targets=(executor_request decode adapter_stream)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ ! -f fuzz/fuzz_targets/$t.rs ]]; then
    echo "no fuzz target $t (there are: ${all_targets[*]})" >&2
    exit 2
  fi
done

# Longest input per target: past every limit the target's configuration sets (body 1 KiB and hyper's
# 100 headers; frame bodies up to 64 KiB and stderr pieces of 16 KiB), without slowing the search by much.
max_len() {
  case $1 in
    executor_request) echo 8192 ;;
    decode) echo 4096 ;;
    adapter_stream) echo 20000 ;;
    *) echo 4096 ;;
  esac
}

export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-none}
read -r -a extra <<<"${FUZZ_ARGS:-}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  started=$SECONDS
  cargo install cargo-fuzz --locked
  echo "(cargo-fuzz installed in $((SECONDS - started)) s)"
fi

# The fuzz crate resolves the shim's dependencies exactly as Cargo.lock does; cargo adds its own (libfuzzer-sys).
if [[ ! -f fuzz/Cargo.lock || Cargo.lock -nt fuzz/Cargo.lock ]]; then
  cp Cargo.lock fuzz/Cargo.lock
fi

echo "== building the fuzz targets (sanitizer: $sanitizer)"
started=$SECONDS
cargo fuzz build --sanitizer "$sanitizer"
echo "(built in $((SECONDS - started)) s)"

mkdir -p fuzz/logs
crashed=()
for t in "${targets[@]}"; do
  corpus=$PWD/fuzz/corpus/$t
  artifacts=$PWD/fuzz/artifacts/$t
  log=$PWD/fuzz/logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  for dir in fuzz/seeds/$t fuzz/regressions/$t; do
    [[ -d $dir ]] && cp -n "$dir"/* "$corpus"/ 2>/dev/null || true
  done
  echo "== $t: $seconds s"
  dict=()
  [[ -f fuzz/dicts/$t.dict ]] && dict=(-dict="$PWD/fuzz/dicts/$t.dict")
  status=0
  started=$SECONDS
  cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts/" "${dict[@]}" "${extra[@]}" >"$log" 2>&1 || status=$?
  took=$((SECONDS - started))
  execs=$(awk '/stat::number_of_executed_units/ {n = $2} END {print n + 0}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {n = $2} END {print n + 0}' "$log")
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  inputs=$(find "$corpus" -type f | wc -l)
  echo "$t: $execs executions in $took s ($rate/s), cov ${cov:-?} ft ${ft:-?}, corpus $inputs inputs"
  if ((status != 0)); then
    crash=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
    echo "CRASH in $t (exit status $status); from $log:"
    grep -E -A4 "panicked at" "$log" | grep -v -E "^ +[0-9]+: |^ +at |^stack backtrace" | head -n 20 || true
    grep -E "ERROR: libFuzzer|SUMMARY|out-of-memory|timeout after" "$log" | head -n 5 || true
    if [[ -n $crash ]]; then
      echo "the crashing input: $crash"
      echo "replay it: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $t $crash"
    fi
    crashed+=("$t")
  fi
done

if ((${#crashed[@]})); then
  echo "fuzzing found crashes in: ${crashed[*]}" >&2
  exit 1
fi
echo "fuzzing: no crashes in ${targets[*]}"
