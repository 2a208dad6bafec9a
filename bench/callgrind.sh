#!/usr/bin/env bash
# The shim's own instructions per execution, counted by callgrind (repeatable on a noisy machine, unlike time):
# the shim (a release build with symbols, not stripped) serves the seed function through the trivial C adapter
# (bench/contenders/trivial_adapter.c, whose instructions are not counted: callgrind follows only the shim's
# process), one keep-alive connection, requests one after another. Two runs, of N1 and N2 requests; the
# difference divided by N2 - N1 is the cost of one execution, without start and shutdown.
#
#   bench/callgrind.sh                 builds target/profiling/runtime-shim and prints instructions per execution
#   SHIM=<binary> bench/callgrind.sh   counts that binary instead (built with symbols, for the annotation)
#   N1=200 N2=1200                     the two runs' request counts (defaults)
#   FLOOR=<binary>                     also counts the bench's floor (bench/contenders/floor.rs), the same way
#                                      (built as the example bench-floor when SHIM is not given)
#
# Each run's callgrind.out is kept in bench/build/callgrind/ (callgrind_annotate <file> shows where it goes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N1=${N1:-200} N2=${N2:-1200}
OUT=$ROOT/bench/build/callgrind
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
if [ -z "${SHIM:-}" ]; then
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --locked --target-dir target/profiling >&2
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --locked --target-dir target/profiling --example bench-floor >&2
  SHIM=$ROOT/target/profiling/release/runtime-shim
  FLOOR=${FLOOR:-$ROOT/target/profiling/release/examples/bench-floor}
fi
cc -O2 -o "$OUT/trivial-adapter" bench/contenders/trivial_adapter.c
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

count() { # count N [floor] → total instructions (Ir) of the server process for N executions
  local n=$1 kind=${2:-shim} port=$((39000 + RANDOM % 1000))
  local name=$n
  [ "$kind" = floor ] && name=floor.$n
  rm -f "$OUT"/callgrind.out."$name"*
  if [ "$kind" = floor ]; then
    PORT=$port KEY=secret \
      valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.$name.%p" "$FLOOR" 2>"$OUT/valgrind.$name.log" &
  else
    APPWRITE_INTERNAL_RUNTIME_KEY=secret SHIM_HOST=127.0.0.1 SHIM_PORT=$port SHIM_ADAPTER="$OUT/trivial-adapter" \
      SHIM_CODE_PATH="$ROOT/conformance/python" APPWRITE_ENTRYPOINT_NAME=seed.py SHIM_WORKERS=1 SHIM_LOG=warn \
      SHIM_DRAIN_DELAY=0 ${SHIM_ENV:-} \
      valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.$name.%p" "$SHIM" 2>"$OUT/valgrind.$name.log" &
  fi
  local pid=$! file="$OUT/callgrind.out.$name.$!"
  if "$PY" - "$port" "$n" "$kind" <<'PY'
import json, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
body = json.dumps({"path": "/x", "file": "seed.py", "env": {"ENV1": "Hello World!"}, "payload": "Hello World! 2",
                   "headers": {}, "timeout": 30}, separators=(",", ":")).encode()
req = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-internal-challenge: secret\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body)) + body
floor = sys.argv[3] == "floor"
ready = b"GET /_/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
for _ in range(600):  # up to a minute: callgrind starts slowly
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(ready)
            if s.recv(64).startswith(b"HTTP/1.1 " + (b"401" if floor else b"200")):
                break
    except OSError:
        pass
    time.sleep(0.1)
else:
    sys.exit("the shim did not get ready")
s = socket.create_connection(("127.0.0.1", port))
for i in range(n):
    s.sendall(req)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, rest = got.split(b"\r\n\r\n", 1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(rest) < length:
        rest += s.recv(65536)
    if not head.startswith(b"HTTP/1.1 200") or b"Hello World! 2" not in rest:
        sys.exit(f"request {i}: unexpected reply {head[:40]!r} {rest[:80]!r}")
s.close()
PY
  then :; else kill -TERM "$pid"; wait "$pid" || true; return 1; fi
  kill -TERM "$pid"
  wait "$pid" || true
  cp "$file" "$OUT/callgrind.out.$name"
  awk '/^summary:|^totals:/ {print $2; exit}' "$file"
}

a=$(count "$N1") || { echo "callgrind.sh: the run of $N1 failed ($OUT/valgrind.$N1.log)" >&2; exit 1; }
b=$(count "$N2") || { echo "callgrind.sh: the run of $N2 failed ($OUT/valgrind.$N2.log)" >&2; exit 1; }
per=$(( (b - a) / (N2 - N1) ))
printf 'shim instructions: %s for %s executions, %s for %s: %s per execution\n' "$a" "$N1" "$b" "$N2" "$per"
echo "profile: callgrind_annotate $OUT/callgrind.out.$N2"
if [ -n "${FLOOR:-}" ]; then
  fa=$(count "$N1" floor) || { echo "callgrind.sh: the floor's run of $N1 failed ($OUT/valgrind.floor.$N1.log)" >&2; exit 1; }
  fb=$(count "$N2" floor) || { echo "callgrind.sh: the floor's run of $N2 failed ($OUT/valgrind.floor.$N2.log)" >&2; exit 1; }
  fper=$(( (fb - fa) / (N2 - N1) ))
  printf 'floor instructions: %s per execution; the shim: %s.%02d× the floor\n' "$fper" $((per / fper)) $(( (per * 100 / fper) % 100 ))
fi
