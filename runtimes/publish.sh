#!/usr/bin/env bash
# Builds and pushes the runtime images for several platforms with BuildKit (docker buildx), from
# runtimes/catalogue.json. Needs a registry you are logged in to, buildx with a builder that can reach it, and
# QEMU (binfmt) for the platforms that are not the host's. Not run in this repository's CI.
#
#   runtimes/publish.sh --registry REGISTRY [options] [RUNTIME...]      RUNTIME: python or python-3.11
#
#   --registry R         where to push: R/runtime-shim-base:<shim version>, R/<name>:<version>, and for a
#                        compiled runtime also R/<name>:<version>-build (its build stage)
#   --platforms P,Q      only these of each runtime's catalogue platforms (default: all of them)
#   --tag-suffix S       appended to every runtime tag (e.g. -shim0.1.0); the base is tagged by the shim version
#   --builder NAME       docker buildx builder (default: the current one)
#   --dry-run            print the commands, run nothing
#
# Order: the shim stage first (Dockerfile.base --target base, compiled inside the Rust image for each
# platform), then every runtime with SHIM_IMAGE pointing at the pushed stage, so each platform's image gets
# that platform's shim.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=runtimes/catalogue.sh
. "$root/runtimes/catalogue.sh"
say() { printf 'publish: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

image_of() { echo "$1"; }

registry='' platforms='' suffix='' builder='' dry='' wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --registry) registry=${2:?--registry needs a value}; shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a value}; shift 2 ;;
    --tag-suffix) suffix=${2?--tag-suffix needs a value}; shift 2 ;;
    --builder) builder=${2:?--builder needs a value}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) other_arg "$1"; shift ;;
  esac
done
[ -n "$registry" ] || die "--registry is required (see --help)"
registry=${registry%/}

run() { # COMMAND...: print it; run it unless --dry-run
  printf '+ %s\n' "$*"
  [ -n "$dry" ] || "$@"
}

buildx=(docker buildx build)
[ -z "$builder" ] || buildx+=(--builder "$builder")
if [ -z "$dry" ]; then
  docker buildx version >/dev/null 2>&1 || die "docker buildx is not installed (multi-platform builds need BuildKit)"
fi

select_rows "${wanted[@]}"

# A runtime's platforms: the catalogue's, narrowed by --platforms.
platforms_of() { # CATALOGUE-PLATFORMS
  local p out=''
  for p in ${1//,/ }; do
    if [ -z "$platforms" ] || [[ ",$platforms," == *",$p,"* ]]; then out+=${out:+,}$p; fi
  done
  echo "$out"
}

# The shim stage, for every platform any selected runtime needs.
all_platforms=''
for row in "${selected[@]}"; do
  IFS=$'\t' read -r _ _ _ _ _ _ plats _ <<<"$row"
  for p in $(platforms_of "$plats" | tr ',' ' '); do
    [[ ",$all_platforms," == *",$p,"* ]] || all_platforms+=${all_platforms:+,}$p
  done
done
[ -n "$all_platforms" ] || die "no platform left to build (--platforms $platforms)"
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
shim=$registry/runtime-shim-base:$version
say "shim stage $shim ($all_platforms)"
run "${buildx[@]}" --platform "$all_platforms" -f "$root/Dockerfile.base" --target base -t "$shim" --push "$root"

for row in "${selected[@]}"; do
  IFS=$'\t' read -r name ver folder kind _ _ plats _ <<<"$row"
  p=$(platforms_of "$plats")
  if [ -z "$p" ]; then say "$folder: none of its platforms ($plats) is wanted, skipped"; continue; fi
  mapfile -t args < <(image_args "$row")
  args+=(--build-arg "SHIM_IMAGE=$shim" -f "$root/runtimes/Dockerfile")
  image=$registry/$name:$ver$suffix
  say "$folder ($p)"
  if [ "$kind" = compiled ]; then
    run "${buildx[@]}" --platform "$p" "${args[@]}" --target build -t "$registry/$name:$ver-build$suffix" --push "$root/runtimes"
    run "${buildx[@]}" --platform "$p" "${args[@]}" --target run -t "$image" --push "$root/runtimes"
  else
    run "${buildx[@]}" --platform "$p" "${args[@]}" --target build -t "$image" --push "$root/runtimes"
  fi
done
say "done"
