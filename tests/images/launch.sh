#!/usr/bin/env bash
# The entrypoint's signal duty, in Docker: a container stopped while `runtime-shim launch` (PID 1) is still
# extracting /tmp/code.tar.gz exits 0 at once — not after Docker's 10 s SIGKILL, as a shell PID 1 with no trap
# did. The tarball is a FIFO that no one writes, so the extraction waits for as long as the test wants; then
# the same with the tarball written and `docker stop` right behind it (the stop falls anywhere from the end of
# the extraction to the server's start) — exit 0 either way.
#
#   tests/images/launch.sh [IMAGE]        default runtime-shim-test/python:3.11 (tests/images/run.sh builds it)
#
# Env: STOP_LIMIT seconds a stop may take (2).
set -euo pipefail
image=${1:-runtime-shim-test/python:3.11}
STOP_LIMIT=${STOP_LIMIT:-2}
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'launch: ERROR: %s\n' "$*" >&2; exit 2; }
docker image inspect "$image" >/dev/null 2>&1 || die "no image $image (tests/images/run.sh python-3.11 builds it)"
tmp=$(mktemp -d /tmp/runtime-launch.XXXXXX)
label=runtime-shim-image-test=$tmp
trap 'docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1; rm -rf "$tmp"' EXIT
failed=0
result() { # OK WHAT
  if [ "$1" = 1 ]; then echo "PASS $2"; else echo "FAIL $2"; failed=1; fi
}

stop_time() { # CONTAINER: prints seconds.millis docker stop took, and the exit code
  local t0 t1
  t0=$(date +%s%N)
  docker stop -t 10 "$1" >/dev/null
  t1=$(date +%s%N)
  printf '%d.%03d %s\n' $(((t1 - t0) / 1000000000)) $((((t1 - t0) / 1000000) % 1000)) "$(docker inspect -f '{{.State.ExitCode}}' "$1")"
}

# 1. stopped during the extraction
mkfifo "$tmp/stuck.tar.gz"
chmod 666 "$tmp/stuck.tar.gz"
c=$(docker run -d --label "$label" -v "$tmp/stuck.tar.gz:/tmp/code.tar.gz" -e APPWRITE_INTERNAL_RUNTIME_KEY=k "$image")
for _ in $(seq 100); do docker logs "$c" 2>&1 | grep -q 'launch: extracting' && break; sleep 0.1; done
docker logs "$c" 2>&1 | grep -q 'launch: extracting' || die "the container never started extracting: $(docker logs "$c" 2>&1 | tail -n 5)"
sleep 0.5
read -r seconds code < <(stop_time "$c")
ok=0; [ "$code" = 0 ] && awk -v s="$seconds" -v l="$STOP_LIMIT" 'BEGIN { exit !(s < l) }' && ok=1
result $ok "stopped during the extraction: exit $code after $seconds s (limit $STOP_LIMIT s)"

# 2. stopped right after the extraction, while the server starts
mkdir -p "$tmp/fn"
printf 'def main(req, res):\n    res.send("")\n' > "$tmp/fn/index.py"
tar -C "$tmp/fn" -czf "$tmp/code.tar.gz" .
for round in 1 2 3; do
  rm -f "$tmp/quick.tar.gz"; mkfifo "$tmp/quick.tar.gz"; chmod 666 "$tmp/quick.tar.gz"
  c=$(docker run -d --label "$label" -v "$tmp/quick.tar.gz:/tmp/code.tar.gz" -e APPWRITE_INTERNAL_RUNTIME_KEY=k \
    -e APPWRITE_ENTRYPOINT_NAME=index.py "$image")
  for _ in $(seq 100); do docker logs "$c" 2>&1 | grep -q 'launch: extracting' && break; sleep 0.1; done
  cat "$tmp/code.tar.gz" > "$tmp/quick.tar.gz"
  read -r seconds code < <(stop_time "$c")
  ok=0; [ "$code" = 0 ] && awk -v s="$seconds" -v l="$STOP_LIMIT" 'BEGIN { exit !(s < l) }' && ok=1
  result $ok "stopped as the server starts (round $round): exit $code after $seconds s"
done
[ "$failed" = 0 ] && echo "launch: all passed" || echo "launch: FAILED"
exit $failed
