# Sourced by build-local.sh and publish.sh: runtimes/catalogue.json read once, for bash.
#   catalogue_rows            tab-separated: name version folder kind build_image run_image platforms(a,b) entrypoint
#   select_rows WANTED...     the rows named (by name: every version; or by folder), all when none; sets `selected`
#   other_arg ARG             the options both scripts share: --help prints the script's header, another flag
#                             is an error, anything else is a RUNTIME (appended to `wanted`)
#   image_args ROW            the build arguments of runtimes/Dockerfile for that row (one --build-arg=… a line)
catalogue_rows() {
  local file=$root/runtimes/catalogue.json
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$file" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["runtimes"]:
    print("\t".join([r["name"], r["version"], r["folder"], r["kind"], r["build_image"], r["run_image"], ",".join(r["platforms"]), r["entrypoint"]]))
PY
  elif command -v jq >/dev/null 2>&1; then
    jq -r '.runtimes[] | [.name, .version, .folder, .kind, .build_image, .run_image, (.platforms | join(",")), .entrypoint] | @tsv' "$file"
  else
    die "reading runtimes/catalogue.json needs python3 or jq"
  fi
}

select_rows() {
  local rows w match m
  rows=$(catalogue_rows)
  selected=()
  if [ $# -eq 0 ]; then mapfile -t selected <<<"$rows"; return; fi
  for w in "$@"; do
    match=$(awk -F'\t' -v w="$w" '$1 == w || $3 == w' <<<"$rows")
    [ -n "$match" ] || die "no runtime '$w' in runtimes/catalogue.json (see runtimes/build-local.sh --list)"
    while IFS= read -r m; do selected+=("$m"); done <<<"$match"
  done
}

# BUILD_IMAGE and RUN_IMAGE go through `image_of` (build-local.sh maps them to local stand-ins; publish.sh not).
image_args() {
  local name version folder kind build run adapter=/usr/code/runtime
  IFS=$'\t' read -r name version folder kind build run _ entry <<<"$1"
  [ "$kind" = compiled ] || adapter=$name
  [ -d "$root/runtimes/$name" ] || die "runtimes/$folder: no runtimes/$name/ with the language's build.sh"
  printf -- '--build-arg=%s\n' "BUILD_IMAGE=$(image_of "$build")" "RUN_IMAGE=$(image_of "$run")" "LANGUAGE=$name" \
    "VERSION=$version" "ADAPTER=$adapter" "ENTRYPOINT=$entry"
}

other_arg() {
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) wanted+=("$1") ;;
  esac
}
