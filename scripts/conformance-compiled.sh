#!/usr/bin/env bash
# Runs the conformance kit against a compiled language's adapter library:
#
#   scripts/conformance-compiled.sh <lang> [v1|v5]   (c, cpp, rust, go, java, kotlin, zig, dart, swift, dotnet)
#
# A compiled runtime serves one function whatever the request's file, but the kit calls a case function per
# file (seed.<ext>, echo.<ext>, …; missing.<ext> must be 404). So conformance/<lang>/ holds the case functions
# plus a test-only dispatcher entry (dispatch.<ext>, or Dispatch.java) that picks one by the request file's
# base name. This script copies that folder to a temp dir, compiles it with runtimes/<lang>-*/build.sh as an
# image build would, and runs `runtime-shim conformance <tmp>/code/runtime --functions conformance/<lang>`.
#
# v5 (the kit of conformance/v5.json, `--protocol v5`): conformance/v5/<lang>/ holds main.<ext> (the case
# function, in the library's v5 `context` API), noexport.<ext> and throwsatload.<ext> (the load failures the kit
# starts the shim with), plus the same kind of test-only dispatch entry. The kit names the entry file through
# OPEN_RUNTIMES_ENTRYPOINT, which the shim hands the runtime as SHIM_ENTRYPOINT; the library gives it to the
# function (rust `runtime::entrypoint()`, C `runtime_entrypoint()`, …), and the dispatcher serves main, emulates
# the load failure of the other two, or answers that the file does not exist, as an interpreted adapter would.
# A real image builds one entry file and serves it whatever the variable says.
#
# native (the shared-library ABI of adapters/native/runtime_shim.h): no runtime build step; the case functions of
# conformance/v5/native/ are compiled with cc into one library and the kit runs it as `native:<lib.so>`
# (SHIM_NATIVE_LIB), through the shim's own native worker. Only v5 (ABI version 2) has case functions.
# Exit status: 0 when every case passes, non-zero otherwise (or when the build fails).
# Env: SHIM (the runtime-shim binary; default target/debug/runtime-shim, built with cargo if need be),
#      KEEP=1 keeps the temp dir.
set -euo pipefail

lang=${1:?usage: scripts/conformance-compiled.sh <lang> [v1|v5]}
kit=${2:-v1}
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'conformance-compiled: %s\n' "$*" >&2; }

case $kit in
  v1) functions=$root/conformance/$lang ;;
  v5) functions=$root/conformance/v5/$lang ;;
  *) say "unknown kit $kit: v1 or v5"; exit 2 ;;
esac
[ -d "$functions" ] || { say "no $functions folder"; exit 2; }
shopt -s nullglob
if [ "$lang" = native ]; then
  if [ -z "${SHIM:-}" ]; then
    SHIM=$root/target/debug/runtime-shim
    (cd "$root" && cargo build -q) || { say "cargo build failed"; exit 2; }
  fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/conformance-native-$kit.XXXXXX")
  if [ "${KEEP:-}" = 1 ]; then say "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
  say "$kit: building $functions/*.c into a shared library with ${CC:-cc}"
  started=$(date +%s)
  "${CC:-cc}" -shared -fPIC -O2 -g -Wall -I"$root/adapters/native" "$functions"/*.c -o "$tmp/libfunction.so" \
    || { say "the build failed"; exit 1; }
  say "built in $(($(date +%s) - started)) s; running the kit"
  "$SHIM" conformance "native:$tmp/libfunction.so" --protocol "$kit" --functions "$functions"
  exit 0 # (a failing kit has exited already: set -e)
fi
builds=("$root"/runtimes/"$lang"-*/build.sh)
[ ${#builds[@]} -eq 1 ] || { say "expected one runtimes/$lang-*/build.sh, found ${#builds[@]}"; exit 2; }
entries=("$functions"/dispatch.* "$functions"/Dispatch.*)
[ ${#entries[@]} -eq 1 ] || { say "expected one dispatch.* entry file in $functions"; exit 2; }
entry=$(basename "${entries[0]}")

if [ -z "${SHIM:-}" ]; then
  SHIM=$root/target/debug/runtime-shim
  if ! (cd "$root" && cargo build -q 2>/dev/null); then
    [ -x "$SHIM" ] || { say "cargo build failed and there is no $SHIM"; exit 2; }
    say "cargo build failed (someone mid-edit?): using the existing $SHIM"
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conformance-$lang-$kit.XXXXXX")
if [ "${KEEP:-}" = 1 ]; then say "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
mkdir -p "$tmp/code" "$tmp/work"
cp -R "$functions/." "$tmp/code/"

say "$kit: building $entry with ${builds[0]#"$root"/}"
started=$(date +%s)
if ! CODE_DIR=$tmp/code WORK_DIR=$tmp/work APPWRITE_ENTRYPOINT_NAME=$entry "${builds[0]}"; then
  say "the build failed"
  exit 1
fi
say "built in $(($(date +%s) - started)) s; running the kit"
"$SHIM" conformance "$tmp/code/runtime" --protocol "$kit" --functions "$functions"
