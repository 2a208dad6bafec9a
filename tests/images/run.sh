#!/usr/bin/env bash
# The runtime images' seed test, for real, with Docker: for each runtime version of runtimes/catalogue.json it
# does what the seed's runtime tests do, then checks the container's process duties.
#
#   tests/images/run.sh [--official] [--record] [--keep] [RUNTIME...]    RUNTIME: python (every version) or python-3.11
#
# For each runtime:
#   1. build step: the build image with a test function at /tmp/code.tar.gz (conformance/<lang>/seed.<ext> as
#      index.<ext>; compiled languages with the small entry file of tests/images/functions/<lang>/), extracted
#      into /usr/code, /usr/local/src/build.sh, /usr/code tarred into /usr/builtCode/code.tar.gz;
#   2. run step: the run image with that tarball at /tmp/code.tar.gz and APPWRITE_INTERNAL_RUNTIME_KEY;
#   3. the seed's request (path, file, env ENV1, payload, timeout, headers, x-internal-challenge): the reply has
#      normal, env1 and payload; a wrong key gets 401 {"code":401,"message":"Unauthorized"};
#   4. the image's HEALTHCHECK (runtime-shim probe) turns healthy; PID 1 is the shim, every process runs as uid 2001, an orphan (docker exec sh -c 'sleep 1 &') is reaped
#      by PID 1, and `docker stop` ends the container with exit code 0 within a few seconds.
# Then a table (runtime, image build s, function build s, image size, result) and "N passed, N failed".
#
# Without a registry (the default) the official base images are replaced by local stand-ins built by
# tests/images/bases.sh (a debootstrapped Debian bookworm with each language from Debian's packages, or the
# host's node/deno/bun binaries); a version the catalogue marks skip_offline (Debian and the host have no such
# version), or one without a stand-in, is skipped with the reason. Images that exist are reused.
#   --official   use the official images of the Dockerfiles (a machine that can pull from a registry)
#   --record     write tested, image_size_mb and base_size_mb from this run into runtimes/catalogue.json
#   --keep       keep the temp folder and the containers of a failed runtime, to look at
# Env: SKIP_MAKE=1 uses the existing target/x86_64-unknown-linux-gnu/release binaries without `make static`;
# STOP_LIMIT seconds `docker stop` may take (5); READY_LIMIT seconds for /_/ready (60).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/images
cd "$root"
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'images: ERROR: %s\n' "$*" >&2; exit 2; }
started_all=$SECONDS

official='' record='' keep='' wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --official) official=1 ;;
    --record) record=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) wanted+=("$1") ;;
  esac
  shift
done
for tool in docker curl python3 tar; do command -v "$tool" >/dev/null || die "$tool is needed"; done
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info)"

STOP_LIMIT=${STOP_LIMIT:-5}
READY_LIMIT=${READY_LIMIT:-60}
PREFIX=runtime-shim-test
KEY=seed-test-key-$RANDOM$RANDOM
tmp=$(mktemp -d /tmp/runtime-images.XXXXXX)
cleanup() {
  docker ps -aq --filter "label=runtime-shim-image-test=$tmp" | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
if [ -z "$keep" ]; then trap cleanup EXIT; else trap 'echo "kept $tmp and its containers (label runtime-shim-image-test=$tmp)" >&2' EXIT; fi

# ---- the catalogue ----
catalogue=$(python3 - "$root/runtimes/catalogue.json" "${wanted[@]}" <<'PY'
import json, sys
runtimes = json.load(open(sys.argv[1]))["runtimes"]
wanted = sys.argv[2:]
for w in wanted:
    if not any(w in (r["name"], r["folder"]) for r in runtimes):
        sys.exit(f"no runtime '{w}' in runtimes/catalogue.json")
for r in runtimes:
    if not wanted or r["name"] in wanted or r["folder"] in wanted:
        print("\t".join([r["name"], r["version"], r["folder"], r["kind"], r["build_image"], r["run_image"], r["skip_offline"] or ""]))
PY
) || die "cannot read the catalogue"
mapfile -t rows <<<"$catalogue"

# ---- the shim ----
if [ "${SKIP_MAKE:-}" != 1 ]; then
  say "make static"
  t=$SECONDS
  if make -s static >"$tmp/make.log" 2>&1; then
    say "make static: $((SECONDS - t)) s"
  else
    tail -n 20 "$tmp/make.log" >&2
    [ -x target/x86_64-unknown-linux-gnu/release/runtime-shim ] || die "make static failed"
    say "make static failed: testing the binaries already in target/ (above: why)"
  fi
fi

# ---- base images: which official images each runtime's Dockerfile names, and their local stand-ins ----
"$here/bases.sh" --map > "$tmp/bases.map"
declare -A skip=()
selected=() needed=()
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name version folder kind build_image run_image offline <<<"$row"
  if [ -z "$official" ]; then
    # The catalogue says why a version cannot be tested here (no such version from Debian or the host).
    if [ -n "$offline" ]; then skip[$folder]=$offline; continue; fi
    if ! locals=$("$here/bases.sh" --stand-ins "$build_image" "$run_image"); then skip[$folder]=$locals; continue; fi
    mapfile -t -O "${#needed[@]}" needed <<<"$locals"
  fi
  selected+=("$row")
done
if [ -z "$official" ] && [ ${#needed[@]} -gt 0 ]; then
  say "local base images (tests/images/bases.sh)"
  mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
  t=$SECONDS
  "$here/bases.sh" "${needed[@]}" 2>&1 | { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; } ||
    die "building the local base images failed"
  say "base images ready in $((SECONDS - t)) s"
fi

# ---- runtime images ----
folders=()
for row in "${selected[@]}"; do IFS=$'\t' read -r _ _ folder _ <<<"$row"; folders+=("$folder"); done
: > "$tmp/images.tsv"
if [ ${#folders[@]} -gt 0 ]; then
  say "runtime images (runtimes/build-local.sh)"
  subst=()
  [ -n "$official" ] || subst=(--bases-file "$tmp/bases.map")
  RESULTS_FILE=$tmp/images.tsv "$root/runtimes/build-local.sh" --prefix "$PREFIX" "${subst[@]}" "${folders[@]}" 2>&1 |
    { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; } || true # a failed image fails its runtime below
fi
base_size=$(docker image inspect -f '{{.Size}}' runtime-shim-base 2>/dev/null | awk '{ printf "%.1f", $1 / 1e6 }' || true)

# ---- one runtime's seed test ----
# Every failed check is printed; the first one's text is the runtime's result.
fail=''
check() { [ -n "$fail" ] || fail=$1; printf '   FAIL %s\n' "$1" >&2; }
pass() { printf '   ok   %s\n' "$1" >&2; }
label() { echo "--label=runtime-shim-image-test=$tmp"; }

# The function's files, in $1 (a folder); prints the entry file's name.
function_files() { # NAME DIR
  local name=$1 dir=$2 seed entry
  seed=$(ls "conformance/$name"/seed.* 2>/dev/null | head -n 1)
  [ -n "$seed" ] || return 1
  if [ -d "$here/functions/$name" ]; then
    cp "$seed" "$dir/"
    cp "$here/functions/$name"/[iI]ndex.* "$dir/"
    entry=$(cd "$here/functions/$name" && ls [iI]ndex.* | head -n 1)
  else
    entry=index.${seed##*.}
    cp "$seed" "$dir/$entry"
  fi
  echo "$entry"
}

# GET /_/ready until 200 (bounded), or the container exits.
wait_ready() { # CONTAINER PORT
  local deadline=$((SECONDS + READY_LIMIT))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/_/ready")" = 200 ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
    sleep 0.2
  done
  return 1
}

run_test() { # NAME VERSION FOLDER KIND
  local name=$1 version=$2 folder=$3 kind=$4 dir=$tmp/$3 build_image run_image entry port c status body
  build_image=$PREFIX/$name:$version run_image=$PREFIX/$name:$version
  [ "$kind" = compiled ] && build_image=$PREFIX/$name:$version-build
  mkdir -p "$dir/src" "$dir/built"
  entry=$(function_files "$name" "$dir/src") || { check "no conformance/$name/seed.* function"; return; }
  tar -C "$dir/src" -czf "$dir/code.tar.gz" .
  chown 2001:2000 "$dir/built" 2>/dev/null || chmod 777 "$dir/built" # the images run as appwrite (2001)

  # 1. build step, as the executor does it
  local t=$SECONDS
  if ! timeout 900 docker run --rm "$(label)" --name "rs-build-$folder-$$" \
      -v "$dir/code.tar.gz:/tmp/code.tar.gz:ro" -v "$dir/built:/usr/builtCode:rw" \
      -e APPWRITE_ENTRYPOINT_NAME="$entry" "$build_image" \
      sh -c 'mkdir -p /usr/code && tar -xzf /tmp/code.tar.gz -C /usr/code && /usr/local/src/build.sh && tar -C /usr/code -czf /usr/builtCode/code.tar.gz .' \
      > "$dir/build.log" 2>&1; then
    tail -n 30 "$dir/build.log" | sed 's/^/   | /' >&2
    check "build step failed (build.sh)"
    build_seconds[$folder]=$((SECONDS - t))
    return
  fi
  build_seconds[$folder]=$((SECONDS - t))
  pass "build step: $entry built in ${build_seconds[$folder]} s ($(tail -n 1 "$dir/build.log"))"

  # 2. run step
  c=rs-run-$folder-$$
  docker run -d "$(label)" --name "$c" -p 127.0.0.1::3000 \
    -v "$dir/built/code.tar.gz:/tmp/code.tar.gz:ro" \
    -e APPWRITE_INTERNAL_RUNTIME_KEY="$KEY" -e APPWRITE_ENTRYPOINT_NAME="$entry" "$run_image" >/dev/null ||
    { check "docker run failed"; return; }
  port=$(docker port "$c" 3000/tcp | head -n 1 | sed 's/.*://')
  if ! wait_ready "$c" "$port"; then
    docker logs "$c" 2>&1 | tail -n 20 | sed 's/^/   | /' >&2
    check "not ready within ${READY_LIMIT} s"
    return
  fi

  # 3. the seed's tests
  status=$(curl -s -o "$dir/reply" -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
    -H "x-internal-challenge: $KEY" -H 'content-type: application/json' \
    -d "{\"path\":\"/usr/code\",\"file\":\"$entry\",\"env\":{\"ENV1\":\"Hello World!\"},\"payload\":\"Hello World! 2\",\"timeout\":60,\"headers\":{\"test\":\"test1\"}}")
  body=$(head -c 2000 "$dir/reply")
  if [ "$status" = 200 ] && python3 - "$dir/reply" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r.get("normal") == "Hello World!", r
assert r.get("env1") == "Hello World!", r
assert r.get("payload") == "Hello World! 2", r
PY
  then pass "seed request: $body"; else check "seed request: HTTP $status $body"; fi

  status=$(curl -s -o "$dir/reply" -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
    -H 'x-internal-challenge: wrong-key' -H 'content-type: application/json' -d '{"payload":"x"}')
  body=$(head -c 500 "$dir/reply")
  if [ "$status" = 401 ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r=={"code":401,"message":"Unauthorized"}, r' "$dir/reply" 2>/dev/null
  then pass "wrong key: 401 $body"; else check "wrong key: HTTP $status $body"; fi

  # The image's HEALTHCHECK (`runtime-shim probe`) says healthy.
  local health='' i
  for i in $(seq 1 40); do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c" 2>/dev/null || true)
    [ "$health" = healthy ] && break
    sleep 0.5
  done
  if [ "$health" = healthy ]; then pass "HEALTHCHECK (runtime-shim probe): healthy"
  else check "HEALTHCHECK status is '${health:-none}', not healthy"; fi

  # 4. process duties: PID 1, uid, reaping, stop
  local pid1 uids nproc
  pid1=$(docker exec "$c" sh -c 'tr "\0" " " < /proc/1/cmdline')
  case $pid1 in */runtime-shim\ *|*/runtime-shim) pass "PID 1 is the shim: $pid1" ;; *) check "PID 1 is '$pid1', not the shim" ;; esac
  # Real and effective uids of every process (the exec'd sh itself runs as the image's user too).
  uids=$(docker exec "$c" sh -c 'cat /proc/[0-9]*/status 2>/dev/null | sed -n "s/^Uid:[[:space:]]*\([0-9]*\)[[:space:]]*\([0-9]*\).*/\1 \2/p"' | tr ' ' '\n' | sort -u | tr '\n' ' ')
  nproc=$(docker exec "$c" sh -c 'ls -d /proc/[0-9]* | wc -l')
  if [ "$uids" = "2001 " ]; then pass "all $nproc processes run as uid 2001"; else check "processes run as uids: $uids"; fi

  # An orphan: the exec'd shell exits at once, its child is re-parented to PID 1, which must reap it.
  local orphan stat="" ppid_seen=""
  orphan=$(docker exec "$c" sh -c 'sleep 1 >/dev/null 2>&1 & echo $!')
  for _ in $(seq 1 50); do
    stat=$(docker exec "$c" sh -c "cat /proc/$orphan/stat 2>/dev/null" || true)
    [ -n "$stat" ] || break
    [ "$(echo "$stat" | sed 's/^.*) //' | cut -d' ' -f2)" = 1 ] && ppid_seen=1
    sleep 0.1
  done
  if [ -n "$stat" ]; then check "orphan $orphan not reaped: $stat"
  elif [ -z "$ppid_seen" ]; then check "orphan $orphan was never a child of PID 1"
  else pass "orphan $orphan (re-parented to PID 1) reaped"; fi

  local t0 elapsed code
  t0=$(date +%s.%N)
  docker stop -t 10 "$c" >/dev/null
  elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  if [ "$code" = 0 ] && awk -v e="$elapsed" -v l="$STOP_LIMIT" 'BEGIN { exit !(e < l) }'; then
    pass "docker stop: exit code 0 in $elapsed s"
  else
    docker logs "$c" 2>&1 | tail -n 10 | sed 's/^/   | /' >&2
    check "docker stop: exit code $code in $elapsed s (limit $STOP_LIMIT s)"
  fi
  [ -n "$fail" ] && [ -n "$keep" ] || docker rm -f "$c" >/dev/null 2>&1 || true
}

declare -A result=() build_seconds=() image_seconds=() image_size=()
while IFS=$'\t' read -r folder seconds size status; do
  image_seconds[$folder]=$seconds
  image_size[$folder]=$size
  [ "$status" = ok ] || result[$folder]="FAIL: image build failed"
done < "$tmp/images.tsv"

for row in "${selected[@]}"; do
  IFS=$'\t' read -r name version folder kind _ <<<"$row"
  [ -z "${result[$folder]:-}" ] || continue
  if [ -z "${image_seconds[$folder]:-}" ]; then result[$folder]="FAIL: no image"; continue; fi
  say "$folder"
  fail=''
  run_test "$name" "$version" "$folder" "$kind"
  result[$folder]=${fail:+FAIL: $fail}
  result[$folder]=${result[$folder]:-pass}
done

# ---- summary ----
passed=0 failed=0 skipped=0
printf '\n%-14s %-12s %-12s %-9s %s\n' runtime 'image build' 'func build' size result
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name version folder kind _ <<<"$row"
  if [ -n "${skip[$folder]:-}" ]; then
    printf '%-14s %-12s %-12s %-9s %s\n' "$folder" - - - "skipped: ${skip[$folder]}"
    skipped=$((skipped + 1))
    continue
  fi
  r=${result[$folder]}
  s=${image_size[$folder]:--}
  printf '%-14s %-12s %-12s %-9s %s\n' "$folder" "${image_seconds[$folder]:--} s" "${build_seconds[$folder]:--} s" \
    "${s}${image_size[$folder]:+ MB}" "$r"
  if [ "$r" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "base stage (runtime-shim-base): ${base_size:-?} MB; $([ -n "$official" ] && echo 'official base images' || echo 'local stand-in base images'); total $((SECONDS - started_all)) s"

if [ -n "$record" ]; then
  for row in "${selected[@]}"; do
    IFS=$'\t' read -r _ _ folder _ <<<"$row"
    printf '%s\t%s\t%s\n' "$folder" "${result[$folder]}" "${image_size[$folder]:-}"
  done > "$tmp/record.tsv"
  python3 - "$root/runtimes/catalogue.json" "$tmp/record.tsv" "${base_size:-}" <<'PY'
import json, sys
path, record, base = sys.argv[1], sys.argv[2], sys.argv[3]
cat = json.load(open(path))
results = {}
for line in open(record):
    folder, result, size = line.rstrip("\n").split("\t")
    results[folder] = (result == "pass", float(size) if size not in ("", "-") else None)
for r in cat["runtimes"]:
    if r["folder"] in results:
        r["tested"], r["image_size_mb"] = results[r["folder"]]
if base:
    cat["base_size_mb"] = float(base)
rows = ",\n".join("    " + json.dumps(r, ensure_ascii=False) for r in cat["runtimes"])
rest = {k: v for k, v in cat.items() if k != "runtimes"}
out = '{\n  "runtimes": [\n' + rows + '\n  ],\n' + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items()) + "\n}\n"
open(path, "w").write(out)
PY
  echo "recorded in runtimes/catalogue.json"
fi

if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
