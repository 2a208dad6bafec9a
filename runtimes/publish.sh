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
say() { printf 'publish: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

registry='' platforms='' suffix='' builder='' dry=''
wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --registry) registry=${2:?--registry needs a value}; shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a value}; shift 2 ;;
    --tag-suffix) suffix=${2?--tag-suffix needs a value}; shift 2 ;;
    --builder) builder=${2:?--builder needs a value}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) wanted+=("$1"); shift ;;
  esac
done
[ -n "$registry" ] || die "--registry is required (see --help)"
registry=${registry%/}

# The catalogue as tab-separated rows: name version folder kind build_image run_image platforms(a,b).
catalogue_rows() {
  local file=$root/runtimes/catalogue.json
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$file" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["runtimes"]:
    print("\t".join([r["name"], r["version"], r["folder"], r["kind"], r["build_image"], r["run_image"], ",".join(r["platforms"])]))
PY
  elif command -v jq >/dev/null 2>&1; then
    jq -r '.runtimes[] | [.name, .version, .folder, .kind, .build_image, .run_image, (.platforms | join(","))] | @tsv' "$file"
  else
    die "reading runtimes/catalogue.json needs python3 or jq"
  fi
}

run() { # COMMAND...: print it; run it unless --dry-run
  printf '+ %s\n' "$*"
  [ -n "$dry" ] || "$@"
}

buildx=(docker buildx build)
[ -z "$builder" ] || buildx+=(--builder "$builder")
if [ -z "$dry" ]; then
  docker buildx version >/dev/null 2>&1 || die "docker buildx is not installed (multi-platform builds need BuildKit)"
fi

rows=$(catalogue_rows)
selected=()
if [ ${#wanted[@]} -eq 0 ]; then
  mapfile -t selected <<<"$rows"
else
  for w in "${wanted[@]}"; do
    match=$(awk -F'\t' -v w="$w" '$1 == w || $3 == w' <<<"$rows")
    [ -n "$match" ] || die "no runtime '$w' in runtimes/catalogue.json"
    while IFS= read -r m; do selected+=("$m"); done <<<"$match"
  done
fi

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
  IFS=$'\t' read -r _ _ _ _ _ _ plats <<<"$row"
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
  IFS=$'\t' read -r name ver folder kind _ _ plats <<<"$row"
  p=$(platforms_of "$plats")
  if [ -z "$p" ]; then say "$folder: none of its platforms ($plats) is wanted, skipped"; continue; fi
  dir=$root/runtimes/$folder
  [ -f "$dir/Dockerfile" ] || die "runtimes/$folder has no Dockerfile"
  image=$registry/$name:$ver$suffix
  say "$folder ($p)"
  if [ "$kind" = compiled ]; then
    run "${buildx[@]}" --platform "$p" --build-arg "SHIM_IMAGE=$shim" --target build -t "$registry/$name:$ver-build$suffix" --push "$dir"
    run "${buildx[@]}" --platform "$p" --build-arg "SHIM_IMAGE=$shim" --target run -t "$image" --push "$dir"
  else
    run "${buildx[@]}" --platform "$p" --build-arg "SHIM_IMAGE=$shim" -t "$image" --push "$dir"
  fi
done
say "done"
