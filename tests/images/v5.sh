#!/usr/bin/env bash
# The v5 image test: plays the open-runtimes executor against the python, node, php and ruby images, in Docker
# — every version of them in runtimes/catalogue.json the local test can build (with --official: all).
#
#   tests/images/v5.sh [--official] [--keep] [python|node|php|ruby|FOLDER...]     none: all four
#
# For each runtime version, with the function of tests/images/functions/v5/<lang>/:
#   1. build: `docker run -v SRC:/mnt/code IMAGE sh -c 'bash /usr/local/server/helpers/build.sh "<install>"'`
#      — the install command writes built.txt and a dependency (.python_packages/v5dep, node_modules/v5dep,
#      vendor/v5dep.php, lib/v5dep.rb);
#      SRC/code.tar.gz must appear and hold them and .open-runtimes;
#   2. start: the archive folder at /mnt/code, host folders at /mnt/logs and /mnt/telemetry,
#      OPEN_RUNTIMES_SECRET, command `bash /usr/local/server/helpers/start.sh "bash helpers/server.sh"`;
#      waits (bounded) for `HTTP server successfully started!` in `docker logs` and for the port;
#   3. an execution: POST /v5/test?name=shim&flag with the secret, x-open-runtimes-log-id and a JSON body:
#      201, the function's JSON (method, path, query, body, built, dependency), content-type with a charset,
#      its own header, the log id back; <id>_logs.log and <id>_errors.log hold the function's lines;
#   4. a wrong secret gets 500 `Unauthorized. Provide correct "x-open-runtimes-secret" header.`;
#      /__opr/health is OK; /__opr/timings has extract=; PID 1 is the shim.
# Prints a PASS/FAIL line per runtime and "N passed, N failed"; exit status 1 if one failed.
#
# The images are runtime-shim-test/<name>:<version>, built here with runtimes/build-local.sh (from the
# local stand-ins of tests/images/bases.sh unless --official) — after tests/images/run.sh they are cached.
# Env: SKIP_MAKE=1 uses the existing target/x86_64-unknown-linux-gnu/release binaries without `make static`;
# READY_LIMIT seconds to wait for the server (60).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/images
cd "$root"
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'v5 images: ERROR: %s\n' "$*" >&2; exit 2; }
started_all=$SECONDS

# name | entry file | what the install command installs, as the function reports it | install command
RUNTIMES="
python|main.py|from .python_packages|echo built > built.txt && mkdir -p .python_packages/v5dep && echo 'VALUE = \"from .python_packages\"' > .python_packages/v5dep/__init__.py
node|index.js|from node_modules|echo built > built.txt && mkdir -p node_modules/v5dep && echo 'module.exports = \"from node_modules\";' > node_modules/v5dep/index.js
php|index.php|from vendor|echo built > built.txt && mkdir -p vendor && echo '<?php return \"from vendor\";' > vendor/v5dep.php
ruby|index.rb|from lib|echo built > built.txt && mkdir -p lib && echo 'V5DEP = \"from lib\"' > lib/v5dep.rb
"
# Every version of those languages in the catalogue that the local test can build (all of them with --official).
versions_of() { # NAME
  python3 - "$root/runtimes/catalogue.json" "$1" "$official" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["runtimes"]:
    if r["name"] == sys.argv[2] and (sys.argv[3] or not r["skip_offline"]):
        print(r["folder"], r["version"], r["build_image"])
PY
}

official='' keep='' wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --official) official=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) grep -q "^${1%%-*}|" <<<"$RUNTIMES" || die "no v5 test for '$1' (python, node, php, ruby: a name or a folder)"; wanted+=("$1") ;;
  esac
  shift
done
[ ${#wanted[@]} -gt 0 ] || wanted=(python node php ruby)
for tool in docker curl python3 tar; do command -v "$tool" >/dev/null || die "$tool is needed"; done
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info)"

READY_LIMIT=${READY_LIMIT:-60}
PREFIX=runtime-shim-test
SECRET=v5-secret-$RANDOM$RANDOM
tmp=$(mktemp -d /tmp/runtime-images-v5.XXXXXX)
label="--label=runtime-shim-image-test=$tmp"
cleanup() {
  docker ps -aq --filter "label=runtime-shim-image-test=$tmp" | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
if [ -z "$keep" ]; then trap cleanup EXIT; else trap 'echo "kept $tmp and its containers (label runtime-shim-image-test=$tmp)" >&2' EXIT; fi

# ---- the images ----
if [ "${SKIP_MAKE:-}" != 1 ]; then
  say "make static"
  make -s static >"$tmp/make.log" 2>&1 || { tail -n 20 "$tmp/make.log" >&2; die "make static failed"; }
fi
folders=() rows=()
for w in "${wanted[@]}"; do
  while read -r folder version build_image; do
    [ "$w" = "${w%%-*}" ] || [ "$w" = "$folder" ] || continue
    folders+=("$folder") rows+=("${w%%-*} $version $folder $build_image")
  done < <(versions_of "${w%%-*}")
done
[ ${#folders[@]} -gt 0 ] || die "none of ${wanted[*]} can be built here (see runtimes/catalogue.json, skip_offline)"
subst=()
if [ -z "$official" ]; then
  "$here/bases.sh" --map > "$tmp/bases.map"
  bases=()
  for row in "${rows[@]}"; do
    read -r _ _ _ image <<<"$row"
    bases+=("$(awk -F= -v i="$image" '$1 == i { print $2 }' "$tmp/bases.map")")
  done
  why=$("$here/bases.sh" --check "${bases[@]}") || die "$why"
  "$here/bases.sh" "${bases[@]}" 2>&1 | { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; }
  subst=(--bases-file "$tmp/bases.map")
fi
say "runtime images (runtimes/build-local.sh ${folders[*]})"
"$root/runtimes/build-local.sh" --prefix "$PREFIX" "${subst[@]}" "${folders[@]}" 2>&1 |
  { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; } || true # a missing image fails its runtime below

# ---- one runtime ----
fail=''
check() { [ -n "$fail" ] || fail=$1; printf '   FAIL %s\n' "$1" >&2; }
pass() { printf '   ok   %s\n' "$1" >&2; }

# Until `HTTP server successfully started!` is in the logs and /__opr/health answers (bounded), or it exits.
wait_started() { # CONTAINER PORT
  local deadline=$((SECONDS + READY_LIMIT))
  while [ $SECONDS -lt $deadline ]; do
    if grep -qx 'HTTP server successfully started!' <<<"$(docker logs "$1" 2>/dev/null)" &&
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/__opr/health")" = 200 ]; then
      return 0
    fi
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
    sleep 0.2
  done
  return 1
}

run_test() { # NAME VERSION ENTRY INSTALL DEPENDENCY
  local name=$1 version=$2 entry=$3 install=$4 dependency=$5 image=$PREFIX/$1:$2 dir=$tmp/$1-$2 c port status id
  docker image inspect "$image" >/dev/null 2>&1 || { check "no image $image (its build failed above)"; return; }
  mkdir -p "$dir/code" "$dir/logs" "$dir/telemetry"
  cp -R "$here/functions/v5/$name/." "$dir/code/"
  chmod -R a+rwX "$dir" # the images run as appwrite (uid 2001)

  # 1. build
  local t=$SECONDS
  if ! timeout 300 docker run --rm "$label" -v "$dir/code:/mnt/code" -e OPEN_RUNTIMES_ENTRYPOINT="$entry" \
      -e INSTALL="$install" "$image" sh -c 'bash /usr/local/server/helpers/build.sh "$INSTALL"' \
      > "$dir/build.log" 2>&1; then
    sed 's/^/   | /' "$dir/build.log" | tail -n 20 >&2
    check "build step failed"
    return
  fi
  if [ -f "$dir/code/code.tar.gz" ] && tar -tzf "$dir/code/code.tar.gz" > "$dir/listing" &&
    grep -qx 'built.txt' "$dir/listing" && grep -qx '.open-runtimes' "$dir/listing" && grep -qx "$entry" "$dir/listing"; then
    pass "build step in $((SECONDS - t)) s: code.tar.gz with $entry, built.txt, .open-runtimes ($(wc -l < "$dir/listing") entries)"
  else
    sed 's/^/   | /' "$dir/build.log" | tail -n 20 >&2
    check "build step: no code.tar.gz holding $entry, built.txt and .open-runtimes"
    return
  fi

  # 2. start
  c=rs-v5-$name-$version-$$
  docker run -d "$label" --name "$c" -p 127.0.0.1::3000 -v "$dir/code:/mnt/code:ro" \
    -v "$dir/logs:/mnt/logs" -v "$dir/telemetry:/mnt/telemetry" \
    -e OPEN_RUNTIMES_SECRET="$SECRET" -e OPEN_RUNTIMES_ENTRYPOINT="$entry" \
    "$image" bash /usr/local/server/helpers/start.sh "bash helpers/server.sh" >/dev/null ||
    { check "docker run failed"; return; }
  port=$(docker port "$c" 3000/tcp | head -n 1 | sed 's/.*://')
  if ! wait_started "$c" "$port"; then
    docker logs "$c" 2>&1 | tail -n 20 | sed 's/^/   | /' >&2
    check "no 'HTTP server successfully started!' and /__opr/health within $READY_LIMIT s"
    return
  fi
  pass "started: $(grep -m1 '^extracted' <<<"$(docker logs "$c" 2>/dev/null)" || echo 'HTTP server successfully started!')"

  # 3. an execution
  id=v5test$RANDOM$RANDOM
  status=$(curl -s -o "$dir/reply" -D "$dir/headers" -w '%{http_code}' -X POST \
    "http://127.0.0.1:$port/v5/test?name=shim&flag" -H "x-open-runtimes-secret: $SECRET" \
    -H "x-open-runtimes-log-id: $id" -H 'content-type: application/json' -d '{"hello":"world","n":[1,2]}')
  if [ "$status" = 201 ] && python3 - "$dir/reply" "$dir/headers" "$name" "$id" "$dependency" <<'PY'
import json, sys
reply, headers, name, log_id, dependency = sys.argv[1:]
r = json.load(open(reply))
h = {}
for line in open(headers, encoding="latin-1").read().splitlines()[1:]:
    if ":" in line:
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
want = {"runtime": name, "method": "POST", "path": "/v5/test", "query": {"name": "shim", "flag": ""},
        "body": {"hello": "world", "n": [1, 2]}, "built": "built",
        "dependency": dependency}
assert r == want, f"reply {r}, want {want}"
assert h.get("content-type") == "application/json; charset=utf-8", h
assert h.get("x-v5-test") == "yes", h
assert h.get("x-open-runtimes-log-id") == log_id, h
PY
  then pass "execution: 201 $(head -c 300 "$dir/reply")"
  else
    docker logs "$c" 2>&1 | tail -n 10 | sed 's/^/   | /' >&2
    check "execution: HTTP $status $(head -c 300 "$dir/reply")"
  fi
  local logs=$dir/logs/${id}_logs.log errors=$dir/logs/${id}_errors.log
  if [ -f "$logs" ] && grep -q "$name function log" "$logs" && grep -q "$name native print" "$logs" &&
    grep -q 'Native logs detected' "$logs"; then
    pass "${id}_logs.log: $(tr '\n' '|' < "$logs" | head -c 200)"
  else check "${id}_logs.log: $(ls "$dir/logs"; cat "$logs" 2>/dev/null | head -c 300)"; fi
  if [ -f "$errors" ] && grep -q "$name function error line" "$errors"; then
    pass "${id}_errors.log: $(tr '\n' '|' < "$errors" | head -c 200)"
  else check "${id}_errors.log: $(cat "$errors" 2>/dev/null | head -c 300)"; fi

  # 4. the executor's other paths, and PID 1
  local body want='Unauthorized. Provide correct "x-open-runtimes-secret" header.'
  status=$(curl -s -o "$dir/reply" -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
    -H 'x-open-runtimes-secret: wrong' -d '{}')
  body=$(cat "$dir/reply")
  if [ "$status" = 500 ] && [ "$body" = "$want" ]; then pass "wrong secret: 500 $body"
  else check "wrong secret: HTTP $status $body"; fi
  body=$(curl -s "http://127.0.0.1:$port/__opr/health")
  if [ "$body" = OK ]; then pass "/__opr/health: OK"; else check "/__opr/health: $body"; fi
  body=$(curl -s "http://127.0.0.1:$port/__opr/timings")
  if grep -Eq '^extract=[0-9]+\.[0-9]{3}$' <<<"$body"; then pass "/__opr/timings: $(tr '\n' ' ' <<<"$body")"
  else check "/__opr/timings: $body"; fi
  local pid1
  pid1=$(docker exec "$c" sh -c 'tr "\0" " " < /proc/1/cmdline')
  case $pid1 in */runtime-shim\ *|*/runtime-shim) pass "PID 1 is the shim: $pid1" ;; *) check "PID 1 is '$pid1', not the shim" ;; esac
  [ -n "$fail" ] && [ -n "$keep" ] || docker rm -f "$c" >/dev/null 2>&1 || true
}

passed=0 failed=0 lines=()
for row in "${rows[@]}"; do
  read -r name version folder _ <<<"$row"
  IFS='|' read -r _ entry dependency install <<<"$(grep "^$name|" <<<"$RUNTIMES")"
  say "$folder (v5)"
  fail='' t=$SECONDS
  run_test "$name" "$version" "$entry" "$install" "$dependency"
  if [ -z "$fail" ]; then passed=$((passed + 1)); lines+=("PASS $folder v5 ($((SECONDS - t)) s)")
  else failed=$((failed + 1)); lines+=("FAIL $folder v5: $fail"); fi
done
echo
printf '%s\n' "${lines[@]}"
echo "v5 images: total $((SECONDS - started_all)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
