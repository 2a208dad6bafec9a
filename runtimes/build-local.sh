#!/usr/bin/env bash
# Builds runtime images on this machine from runtimes/catalogue.json (the seed's buildLocalOnly.sh): for the
# host's platform only, with the legacy builder or BuildKit alike, loaded into the local image store. Every
# image is runtimes/Dockerfile with its catalogue entry as build arguments (runtimes/catalogue.sh).
#
#   runtimes/build-local.sh [options] [RUNTIME...]     RUNTIME: python, python-3.11 (name-version = folder)
#
#   --prefix P              image names: P/<name>:<version> (default runtime-shim); a compiled runtime gives
#                           two images, P/<name>:<version>-build (its build stage) and P/<name>:<version> (run)
#   --base OFFICIAL=LOCAL   use LOCAL wherever the catalogue names OFFICIAL as a build or run image (e.g. a registry-less
#                           machine: --base python:3.11-slim-bookworm=local/python:3.11); repeatable
#   --bases-file FILE       the same, one OFFICIAL=LOCAL a line (tests/images/bases.sh --map writes one)
#   --shim-image NAME       the Dockerfile.base stage to copy the shim from (default: runtime-shim-base, built
#                           here from the host's `make static` binaries with --target base-prebuilt)
#   --list                  print the catalogue's runtimes and exit
#
# No RUNTIME: every runtime in the catalogue. Prints one line per runtime (seconds, size); exits 1 if a build
# failed (its log is printed). Env: RESULTS_FILE — append "folder<TAB>seconds<TAB>size_mb<TAB>ok|failed" lines
# there (tests/images/run.sh reads them); DOCKER (docker).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DOCKER=${DOCKER:-docker}
say() { printf 'build-local: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

# shellcheck source=runtimes/catalogue.sh
. "$root/runtimes/catalogue.sh"

prefix=runtime-shim shim_image='' list=''
declare -A subst=()
add_subst() { [[ $1 == ?*=?* ]] || die "--base wants OFFICIAL=LOCAL, got '$1'"; subst[${1%%=*}]=${1#*=}; }
wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
    --base) add_subst "${2:?--base needs OFFICIAL=LOCAL}"; shift 2 ;;
    --bases-file)
      while read -r line; do [ -z "$line" ] || [[ $line == \#* ]] || add_subst "$line"; done < "${2:?--bases-file needs a file}"
      shift 2 ;;
    --shim-image) shim_image=${2:?--shim-image needs a value}; shift 2 ;;
    --list) list=1; shift ;;
    *) other_arg "$1"; shift ;;
  esac
done

if [ -n "$list" ]; then
  printf '%-14s %-12s %-30s %s\n' runtime kind build_image run_image
  while IFS=$'\t' read -r name version folder kind build run _; do
    printf '%-14s %-12s %-30s %s\n' "$folder" "$kind" "$build" "$run"
  done < <(catalogue_rows)
  exit 0
fi
select_rows "${wanted[@]}"

if [ -z "$shim_image" ]; then
  for bin in runtime-shim runtime-shim-native; do
    [ -x "$root/target/x86_64-unknown-linux-gnu/release/$bin" ] || die "no target/x86_64-unknown-linux-gnu/release/$bin: run make static first"
  done
  say "runtime-shim-base (Dockerfile.base, --target base-prebuilt, from the host's binaries)"
  "$DOCKER" build -q -f "$root/Dockerfile.base" --target base-prebuilt -t runtime-shim-base "$root" >/dev/null 2>"${TMPDIR:-/tmp}/build-local-base.log" ||
    { cat "${TMPDIR:-/tmp}/build-local-base.log" >&2; die "building runtime-shim-base failed"; }
  shim_image=runtime-shim-base
fi

image_of() { echo "${subst[$1]:-$1}"; } # an official image, or its substitute
size_mb() { "$DOCKER" image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1e6 }'; }

failed=0
log=$(mktemp "${TMPDIR:-/tmp}/build-local.XXXXXX")
trap 'rm -f "$log"' EXIT
for row in "${selected[@]}"; do
  IFS=$'\t' read -r name version folder kind build run _ <<<"$row"
  [ -d "$root/runtimes/$folder" ] || die "no folder runtimes/$folder for the catalogue's $folder"
  mapfile -t args < <(image_args "$row")
  args+=("--build-arg=SHIM_IMAGE=$shim_image" -f "$root/runtimes/Dockerfile")
  dir=$root/runtimes
  image=$prefix/$name:$version
  started=$SECONDS
  ok=1
  if [ "$kind" = compiled ]; then
    "$DOCKER" build --force-rm "${args[@]}" --target build -t "$image-build" "$dir" >"$log" 2>&1 &&
      "$DOCKER" build --force-rm "${args[@]}" --target run -t "$image" "$dir" >>"$log" 2>&1 || ok=''
    names="$image-build, $image"
  else
    "$DOCKER" build --force-rm "${args[@]}" --target build -t "$image" "$dir" >"$log" 2>&1 || ok=''
    names=$image
  fi
  seconds=$((SECONDS - started))
  if [ -n "$ok" ]; then
    size=$(size_mb "$image")
    say "$folder: $names — ${seconds} s, ${size} MB"
    [ -z "${RESULTS_FILE:-}" ] || printf '%s\t%s\t%s\tok\n' "$folder" "$seconds" "$size" >> "$RESULTS_FILE"
  else
    failed=1
    tail -n 40 "$log" >&2
    say "$folder: FAILED after ${seconds} s (docker build ${args[*]} $dir)"
    [ -z "${RESULTS_FILE:-}" ] || printf '%s\t%s\t-\tfailed\n' "$folder" "$seconds" >> "$RESULTS_FILE"
  fi
done
exit $failed
