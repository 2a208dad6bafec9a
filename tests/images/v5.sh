#!/usr/bin/env bash
# The v5 image test: plays the open-runtimes executor against every installable runtime image of
# runtimes/catalogue.json, in Docker — every version the local test can build (with --official: all).
#
#   tests/images/v5.sh [--official] [--keep] [NAME|FOLDER...]      NAME: python (every version), FOLDER: python-3.11; none: all
#
# For each runtime version, with the function of tests/images/functions/v5/<name>/ (its entry file is the
# catalogue's `entrypoint`, the image's default OPEN_RUNTIMES_ENTRYPOINT):
#   1. build: `docker run -v SRC:/mnt/code IMAGE sh -c 'bash /usr/local/server/helpers/build.sh "<install>"'`
#      (a compiled runtime: its build image, …:<version>-build, where helpers/build.sh compiles the folder after
#      the install command). An interpreted function's install command writes built.txt and a dependency where
#      its language looks (.python_packages/v5dep, node_modules/v5dep, vendor/v5dep.php, lib/v5dep.rb,
#      local/lib/perl5/V5dep.pm, …); a compiled one's writes a source file (v5dep.rs, v5dep.go, V5dep.java, …)
#      that the function uses, so the reply proves the command ran before the compile.
#      SRC/code.tar.gz must appear and hold .open-runtimes and the entry file and built.txt (compiled: the
#      program `runtime`, and not the entry file);
#   2. start: (a compiled runtime: its run image) the archive folder at /mnt/code, host folders at /mnt/logs and
#      /mnt/telemetry, OPEN_RUNTIMES_SECRET, command `bash /usr/local/server/helpers/start.sh "bash helpers/server.sh"`;
#      waits (bounded) for `HTTP server successfully started!` in `docker logs` and for the port;
#   3. an execution: POST /v5/test?name=shim&flag with the secret, x-open-runtimes-log-id and a JSON body:
#      201, the function's JSON (runtime, method, path, query, body, built, dependency), content-type with a
#      charset, its own header, the log id back; <id>_logs.log (a context.log line, the native-logs notice and a
#      native print) and <id>_errors.log (a context.error line);
#   4. a wrong secret gets 500 `Unauthorized. Provide correct "x-open-runtimes-secret" header.`;
#      /__opr/health is OK; /__opr/timings has extract=; PID 1 is the shim.
# Prints a line per catalogue version (PASS, FAIL and the first failed check, or SKIP and why: the catalogue's
# skip_offline, no local stand-in, a host binary a stand-in copies is missing, no v5 test function for the
# language) and "N passed, N failed, N skipped"; exit status 1 if one failed.
#
# The images are runtime-shim-test/<name>:<version> (and …-build), built here with runtimes/build-local.sh
# (from the local stand-ins of tests/images/bases.sh unless --official) — after tests/images/run.sh, which
# builds the same images, every layer is cached.
# Env: SKIP_MAKE=1 uses the existing target/x86_64-unknown-linux-gnu/release binaries without `make static`;
# READY_LIMIT seconds to wait for the server (60); BUILD_LIMIT seconds for a build step (600).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/images
cd "$root"
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'v5 images: ERROR: %s\n' "$*" >&2; exit 2; }
started_all=$SECONDS

# name | what the function reports as its dependency | the install command (run with sh in the build folder)
RUNTIMES=$(cat <<'TABLE'
python|from .python_packages|echo built > built.txt && mkdir -p .python_packages/v5dep && echo 'VALUE = "from .python_packages"' > .python_packages/v5dep/__init__.py
node|from node_modules|echo built > built.txt && mkdir -p node_modules/v5dep && echo 'module.exports = "from node_modules";' > node_modules/v5dep/index.js
php|from vendor|echo built > built.txt && mkdir -p vendor && echo '<?php return "from vendor";' > vendor/v5dep.php
ruby|from lib|echo built > built.txt && mkdir -p lib && echo 'V5DEP = "from lib"' > lib/v5dep.rb
deno|from lib|echo built > built.txt && mkdir -p lib && echo 'export default "from lib";' > lib/v5dep.ts
bun|from node_modules|echo built > built.txt && mkdir -p node_modules/v5dep && echo 'module.exports = "from node_modules";' > node_modules/v5dep/index.js
perl|from local/lib/perl5|echo built > built.txt && mkdir -p local/lib/perl5 && printf 'package V5dep;\nour $VALUE = "from local/lib/perl5";\n1;\n' > local/lib/perl5/V5dep.pm
lua|from lib|echo built > built.txt && mkdir -p lib && echo 'return "from lib"' > lib/v5dep.lua
bash|from lib|echo built > built.txt && mkdir -p lib && echo 'V5DEP="from lib"' > lib/v5dep.sh
rust|from v5dep.rs|printf 'pub const BUILT: &str = "built";\npub const DEPENDENCY: &str = "from v5dep.rs";\n' > v5dep.rs
go|from v5dep.go|printf 'package handler\n\nconst v5Built = "built"\nconst v5Dependency = "from v5dep.go"\n' > v5dep.go
c|from v5dep.c|printf 'const char *v5_built = "built", *v5_dependency = "from v5dep.c";\n' > v5dep.c
cpp|from v5dep.cc|printf 'const char *v5_built = "built", *v5_dependency = "from v5dep.cc";\n' > v5dep.cc
java|from V5dep.java|printf 'class V5dep {\n    static final String BUILT = "built";\n    static final String DEPENDENCY = "from V5dep.java";\n}\n' > V5dep.java
kotlin|from v5dep.kt|printf 'const val V5_BUILT = "built"\nconst val V5_DEPENDENCY = "from v5dep.kt"\n' > v5dep.kt
zig|from v5dep.zig|printf 'pub const built = "built";\npub const dependency = "from v5dep.zig";\n' > v5dep.zig
TABLE
)

official='' keep='' wanted=()
while [ $# -gt 0 ]; do
  case $1 in
    --official) official=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) wanted+=("$1") ;;
  esac
  shift
done
for tool in docker curl python3 tar; do command -v "$tool" >/dev/null || die "$tool is needed"; done
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info)"

READY_LIMIT=${READY_LIMIT:-60}
BUILD_LIMIT=${BUILD_LIMIT:-600}
PREFIX=runtime-shim-test
SECRET=v5-secret-$RANDOM$RANDOM
tmp=$(mktemp -d /tmp/runtime-images-v5.XXXXXX)
label="--label=runtime-shim-image-test=$tmp"
cleanup() {
  docker ps -aq --filter "label=runtime-shim-image-test=$tmp" | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
if [ -z "$keep" ]; then trap cleanup EXIT; else trap 'echo "kept $tmp and its containers (label runtime-shim-image-test=$tmp)" >&2' EXIT; fi

# ---- the catalogue: the versions asked for (a name: all its versions; a folder: that one) ----
catalogue=$(python3 - "$root/runtimes/catalogue.json" "${wanted[@]}" <<'PY'
import json, sys
runtimes = json.load(open(sys.argv[1]))["runtimes"]
wanted = sys.argv[2:]
for w in wanted:
    if not any(w in (r["name"], r["folder"]) for r in runtimes):
        sys.exit(f"no runtime '{w}' in runtimes/catalogue.json")
for r in runtimes:
    if not wanted or r["name"] in wanted or r["folder"] in wanted:
        print("\t".join([r["name"], r["version"], r["folder"], r["kind"], r["entrypoint"], r["build_image"],
                         r["run_image"], r["skip_offline"] or ""]))
PY
) || die "cannot read the catalogue"
mapfile -t rows <<<"$catalogue"

# ---- the shim ----
if [ "${SKIP_MAKE:-}" != 1 ]; then
  say "make static"
  make -s static >"$tmp/make.log" 2>&1 || { tail -n 20 "$tmp/make.log" >&2; die "make static failed"; }
fi

# ---- which versions can be tested here, and their base images ----
declare -A skip=()
selected=() needed=()
[ -n "$official" ] || "$here/bases.sh" --map > "$tmp/bases.map"
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name version folder kind entry build_image run_image offline <<<"$row"
  # The catalogue says why a version cannot be tested here (no such version from Debian or the host).
  if [ -z "$official" ] && [ -n "$offline" ]; then skip[$folder]=$offline; continue; fi
  if ! grep -q "^$name|" <<<"$RUNTIMES" || [ ! -f "$here/functions/v5/$name/$entry" ]; then
    skip[$folder]="no v5 test function for $name (tests/images/functions/v5/$name/$entry)"; continue
  fi
  if [ -z "$official" ]; then
    if ! locals=$("$here/bases.sh" --stand-ins "$build_image" "$run_image"); then skip[$folder]=$locals; continue; fi
    mapfile -t -O "${#needed[@]}" needed <<<"$locals"
  fi
  selected+=("$row")
done
if [ ${#needed[@]} -gt 0 ]; then
  mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
  "$here/bases.sh" "${needed[@]}" 2>&1 | { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; } ||
    die "building the local base images failed"
fi

# ---- the images (cached layers when tests/images/run.sh built them) ----
folders=()
for row in "${selected[@]}"; do IFS=$'\t' read -r _ _ folder _ <<<"$row"; folders+=("$folder"); done
if [ ${#folders[@]} -gt 0 ]; then
  subst=()
  [ -n "$official" ] || subst=(--bases-file "$tmp/bases.map")
  say "runtime images (runtimes/build-local.sh ${folders[*]})"
  t=$SECONDS
  "$root/runtimes/build-local.sh" --prefix "$PREFIX" "${subst[@]}" "${folders[@]}" 2>&1 |
    { grep -v -e '^DEPRECATED' -e 'buildx' -e '^ *$' >&2 || true; } || true # a missing image fails its runtime below
  say "runtime images ready in $((SECONDS - t)) s"
fi

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

run_test() { # NAME VERSION KIND ENTRY INSTALL DEPENDENCY
  local name=$1 version=$2 kind=$3 entry=$4 install=$5 dependency=$6 dir=$tmp/$1-$2 c port status id
  local image=$PREFIX/$1:$2 build_image=$PREFIX/$1:$2
  [ "$kind" = compiled ] && build_image=$PREFIX/$name:$version-build
  local i
  for i in $(printf '%s\n' "$build_image" "$image" | sort -u); do
    docker image inspect "$i" >/dev/null 2>&1 || { check "no image $i (its build failed above)"; return; }
  done
  mkdir -p "$dir/code" "$dir/logs" "$dir/telemetry"
  cp -R "$here/functions/v5/$name/." "$dir/code/"
  chmod -R a+rwX "$dir" # the images run as appwrite (uid 2001)

  # 1. build (a compiled runtime: in its build image, which compiles after the install command)
  local t=$SECONDS want_files
  if ! timeout "$BUILD_LIMIT" docker run --rm "$label" -v "$dir/code:/mnt/code" -e OPEN_RUNTIMES_ENTRYPOINT="$entry" \
      -e INSTALL="$install" "$build_image" sh -c 'bash /usr/local/server/helpers/build.sh "$INSTALL"' \
      > "$dir/build.log" 2>&1; then
    sed 's/^/   | /' "$dir/build.log" | tail -n 20 >&2
    check "build step failed (in $build_image, $((SECONDS - t)) s)"
    return
  fi
  local ok=''
  if [ -f "$dir/code/code.tar.gz" ] && tar -tzf "$dir/code/code.tar.gz" | sed 's|^\./||; s|/$||' > "$dir/listing"; then
    if [ "$kind" = compiled ]; then
      want_files="runtime, .open-runtimes, no $entry"
      grep -qx 'runtime' "$dir/listing" && grep -qx '.open-runtimes' "$dir/listing" && ! grep -qx "$entry" "$dir/listing" && ok=1
    else
      want_files="$entry, built.txt, .open-runtimes"
      grep -qx 'built.txt' "$dir/listing" && grep -qx '.open-runtimes' "$dir/listing" && grep -qx "$entry" "$dir/listing" && ok=1
    fi
  fi
  if [ -n "$ok" ]; then
    pass "build step in $((SECONDS - t)) s: code.tar.gz with $want_files ($(wc -l < "$dir/listing") entries)"
  else
    sed 's/^/   | /' "$dir/build.log" | tail -n 20 >&2
    check "build step: no code.tar.gz holding ${want_files:-what the build should leave}: $(tr '\n' ' ' < "$dir/listing" 2>/dev/null | head -c 200)"
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

declare -A result=()
for row in "${selected[@]}"; do
  IFS=$'\t' read -r name version folder kind entry _ <<<"$row"
  IFS='|' read -r _ dependency install <<<"$(grep "^$name|" <<<"$RUNTIMES")"
  say "$folder (v5)"
  fail='' t=$SECONDS
  run_test "$name" "$version" "$kind" "$entry" "$install" "$dependency"
  if [ -z "$fail" ]; then result[$folder]="PASS ($((SECONDS - t)) s)"; else result[$folder]="FAIL: $fail"; fi
done

# ---- summary: every catalogue version asked for ----
passed=0 failed=0 skipped=0
echo
for row in "${rows[@]}"; do
  IFS=$'\t' read -r _ _ folder _ <<<"$row"
  if [ -n "${skip[$folder]:-}" ]; then
    printf '%-14s SKIP: %s\n' "$folder" "${skip[$folder]}"
    skipped=$((skipped + 1))
  elif [[ ${result[$folder]} == PASS* ]]; then
    printf '%-14s %s\n' "$folder" "${result[$folder]}"
    passed=$((passed + 1))
  else
    printf '%-14s %s\n' "$folder" "${result[$folder]}"
    failed=$((failed + 1))
  fi
done
echo "v5 images: total $((SECONDS - started_all)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
