#!/usr/bin/python3
"""The runtime-shim benchmark: the shim with its adapters against the servers a user would otherwise run.

Run through `bench/run.sh` (installs the tools and builds the static binary first). Phases:

1. cold start: process exec -> first 200 OK, for the shim alone, the shim with each adapter, and each peer;
   plus the interpreters' own startup for reference;
2. throughput: every contender is started (warm), then driven by wrk at each concurrency, in rounds: each round
   runs every contender once at every concurrency, in a rotating order, so drift on a noisy machine spreads
   over all of them instead of biasing one; medians and min-max over the rounds are reported;
3. payload: 1 KiB, 1 MiB and 16 MiB of payload in and the same back (an echo function), MB/s at c=4, for the
   shim with the trivial adapter and with node, bare node http and the floor;
4. memory: the shim's RSS idle and under load (and every contender's whole process tree, for comparison), and
   the shim's RSS at start and after a burst of 20 MB replies;
5. timeout precision: a function sleeping past a 1 s timeout, time to the error reply, and whether the adapter's
   process group is gone;
6. one table (absolute figures and ratios against each peer), written as JSON and Markdown under bench/results/,
   and a PNG chart (bench/chart.py).

Contenders are the CONTENDERS table below; the helpers they need (a trivial C adapter, the seed function as a
native library and as a compiled rust `runtime`, the Go peer) are built into bench/build/ first (the floor, a cargo
example, by bench/run.sh). A row whose
program is missing is skipped with its reason, a row that fails to start with its log line. Standard library only
(the chart script runs in bench/.venv).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHIM = ROOT / "target/x86_64-unknown-linux-gnu/release/runtime-shim"
# The floor contender (bench/contenders/floor.rs), built by bench/run.sh as the shim is: the example `bench-floor`,
# release profile, locked crates, static glibc (or BENCH_FLOOR=<path of another build>).
FLOOR = lambda: Path(os.environ.get("BENCH_FLOOR")
                     or ROOT / "target/x86_64-unknown-linux-gnu/release/examples/bench-floor")
BUILD = BENCH / "build"
LOGS = BUILD / "logs"
VENV = BENCH / ".venv"
PYTHON = "/usr/bin/python3"  # not a pyenv shim: those add ~130 ms to every start
NODE = shutil.which("node") or "node"
KEY = "bench-key"
CONFORMANCE = ROOT / "conformance"
PY_ALONE = "python interpreter alone: exec -> first line"
NODE_ALONE = "node interpreter alone: exec -> first line"
TIMEOUT_TARGET_S = 1
# The payload phase: N bytes of payload in the request, the same N back (every contender's `echo.js` function),
# at one concurrency. The limits of the contenders that have one leave room for 16 MiB and its JSON framing.
PAYLOAD_SIZES = [1024, 1 << 20, 16 << 20]
PAYLOAD_C = 4
PAYLOAD_LIMIT = 32 << 20
PAYLOAD_NAMES = ["shim+trivial-c", "shim+node", "node-http", "floor"]
# The burst: BURST_N replies of BURST_BYTES each (the trivial adapter's `generate`), BURST_C at a time, then the
# shim's RSS while idle for BURST_IDLE_S.
BURST_BYTES, BURST_N, BURST_C, BURST_IDLE_S = 20_000_000, 50, 4, 10
# Figures of the last full run before these targets were set (bench/results/bench.md of 2026-11-27): a run must
# be no worse, with a margin for the noise of a shared machine (those runs' spread is larger than the margins).
PREVIOUS = {"cold_shim_ms": 3.25, "timeout_ms": 1001.7}
COLD_MARGIN, TIMEOUT_MARGIN_MS = 1.2, 2.0

# ---------------------------------------------------------------------------------------------------------------
# The contenders. `kind` is "shim" (compared against the peers), "peer", or "floor" (the shim's HTTP stack
# answering in-process: what the shim's own work is measured against). `launch(port, workers)` returns the
# argv and the extra environment; `missing()` returns why the contender cannot run here, or None. `code` is the
# folder and file the request body names (the same seed function in each language).
# ---------------------------------------------------------------------------------------------------------------


def shim_env(port, workers, adapter, code, entry, **extra):
    return {
        "APPWRITE_INTERNAL_RUNTIME_KEY": KEY,
        "SHIM_HOST": "127.0.0.1",
        "SHIM_PORT": str(port),
        "SHIM_ADAPTER": str(adapter),
        "SHIM_CODE_PATH": str(code),
        "APPWRITE_ENTRYPOINT_NAME": entry,
        "SHIM_WORKERS": str(workers),
        "SHIM_QUEUE": "64",
        "SHIM_LOG": "warn",
        "SHIM_ADAPTERS_DIR": str(ROOT / "adapters"),
        **extra,
    }


RUST_RUNTIME = lambda: Path(os.environ.get("BENCH_RUST_RUNTIME") or BUILD / "rust-seed/runtime")
NATIVE_LIB = lambda: Path(os.environ.get("BENCH_NATIVE_LIB") or BUILD / "libseed-native.so")


def need_file(path, why):
    return None if path and Path(path).is_file() else why


CONTENDERS = [
    {
        "name": "shim+python", "kind": "shim", "lang": "python",
        "code": (CONFORMANCE / "python", "seed.py"),
        "launch": lambda port, w: ([str(SHIM)], shim_env(
            port, w, "python", CONFORMANCE / "python", "seed.py", SHIM_INTERPRETER=PYTHON)),
        "missing": lambda: need_file(PYTHON, f"{PYTHON} not found"),
    },
    {
        "name": "shim+node", "kind": "shim", "lang": "node",
        "code": (CONFORMANCE / "node", "seed.js"),
        "launch": lambda port, w: ([str(SHIM)], shim_env(
            port, w, "node", CONFORMANCE / "node", "seed.js", SHIM_INTERPRETER=NODE)),
        "missing": lambda: None if shutil.which("node") else "node not found",
        "payload_env": {"SHIM_MAX_BODY": str(PAYLOAD_LIMIT), "SHIM_MAX_REPLY": str(PAYLOAD_LIMIT)},
    },
    {
        # A near-free compiled adapter (bench/contenders/trivial_adapter.c): the shim's own cost and ceiling.
        "name": "shim+trivial-c", "kind": "shim", "lang": "c",
        "code": (CONFORMANCE / "python", "seed.py"),  # named in the body, ignored by a compiled adapter
        "launch": lambda port, w: ([str(SHIM)], shim_env(
            port, w, BUILD / "trivial-adapter", CONFORMANCE / "python", "seed.py")),
        "missing": lambda: need_file(BUILD / "trivial-adapter", "the trivial adapter did not build (cc)"),
        "payload_env": {"SHIM_MAX_BODY": str(PAYLOAD_LIMIT), "SHIM_MAX_REPLY": str(PAYLOAD_LIMIT)},
    },
    {
        # The physical floor of the shim's stack: hyper with the shim's settings, the reply made in-process.
        "name": "floor", "kind": "floor", "lang": "rust",
        "code": (CONFORMANCE / "python", "seed.py"),  # named in the body; the seed reply is built in
        "launch": lambda port, w: ([str(FLOOR())], {"PORT": str(port), "KEY": KEY}),
        "missing": lambda: need_file(FLOOR(), "bench-floor not built (bench/run.sh: cargo build --release --locked "
                                     "--example bench-floor)"),
        "payload_env": {"MAX_BODY": str(PAYLOAD_LIMIT)},
        "workers": "1 process, tokio multi-thread runtime as the shim's",
    },
    {
        # A compiled `runtime` executable: conformance/rust/seed.rs built with adapters/rust by
        # runtimes/rust-1.95/build.sh (or BENCH_RUST_RUNTIME=<path of another one>).
        "name": "shim+runtime-rust", "kind": "shim", "lang": "rust",
        "code": (CONFORMANCE / "rust", "seed.rs"),  # named in the body, ignored by a compiled runtime
        "launch": lambda port, w: ([str(SHIM)], shim_env(port, w, RUST_RUNTIME(), CONFORMANCE / "rust", "seed.rs")),
        "missing": lambda: need_file(RUST_RUNTIME(), "no compiled rust `runtime` (runtimes/rust-1.95/build.sh needs "
                                     "cargo; or set BENCH_RUST_RUNTIME=<path>)"),
    },
    {
        # A shared library exporting the native C ABI (bench/contenders/native_seed.c, or BENCH_NATIVE_LIB).
        "name": "shim+native", "kind": "shim", "lang": "native",
        "code": (CONFORMANCE / "c", "seed.c"),
        "launch": lambda port, w: ([str(SHIM)], {
            **shim_env(port, w, "", CONFORMANCE / "c", "seed.c"), "SHIM_NATIVE_LIB": str(NATIVE_LIB())}),
        "missing": lambda: need_file(NATIVE_LIB(), "no native library of the seed function (cc; or set "
                                     "BENCH_NATIVE_LIB=<path>)"),
        "drop_env": ["SHIM_ADAPTER"],
    },
    {
        # Seed-era: the Flask app started as that era did, `python app.py` -> app.run (werkzeug dev server).
        "name": "flask-dev", "kind": "peer", "lang": "python",
        "code": (CONFORMANCE / "python", "seed.py"),
        "launch": lambda port, w: ([str(VENV / "bin/python"), str(BENCH / "peers/flask_app.py")],
                                   {"PORT": str(port), "KEY": KEY}),
        "missing": lambda: need_file(VENV / "bin/flask", "bench/.venv has no flask: run bench/setup.sh"),
        "workers": "1 process, a thread per connection",
    },
    {
        # The same app under a production WSGI server, as many (sync) workers as the shim has adapters.
        "name": "gunicorn", "kind": "peer", "lang": "python",
        "code": (CONFORMANCE / "python", "seed.py"),
        "launch": lambda port, w: ([str(VENV / "bin/gunicorn"), "-w", str(w), "-b", f"127.0.0.1:{port}",
                                    "--chdir", str(BENCH / "peers"), "flask_app:app"], {"KEY": KEY}),
        "missing": lambda: need_file(VENV / "bin/gunicorn", "bench/.venv has no gunicorn: run bench/setup.sh"),
        "workers": "W sync workers",
    },
    {
        "name": "node-http", "kind": "peer", "lang": "node",
        "code": (CONFORMANCE / "node", "seed.js"),
        "launch": lambda port, w: ([NODE, str(BENCH / "peers/node_http.js")],
                                   {"PORT": str(port), "KEY": KEY, "WORKERS": str(w)}),
        "missing": lambda: None if shutil.which("node") else "node not found",
        "workers": "W processes (node cluster when W > 1)",
    },
    {
        "name": "go-http", "kind": "peer", "lang": "go",
        "code": (CONFORMANCE / "python", "seed.py"),
        "launch": lambda port, w: ([str(BUILD / "go-http")], {"PORT": str(port), "KEY": KEY}),
        "missing": lambda: need_file(BUILD / "go-http", "Go peer not built (no `go`: apt-get install golang-go)"),
        "workers": "1 process, GOMAXPROCS = CPUs it is pinned to",
    },
]

# ---------------------------------------------------------------------------------------------------------------
# Processes: every contender runs in its own session so its whole tree can be found and ended.
# ---------------------------------------------------------------------------------------------------------------

SERVER_CPUS = {0}
LOADGEN_CPUS = {1}
_spawned = []


def spawn(argv, env, log_name, cpus=None, **kw):
    """Starts argv with `cpus` as its affinity (inherited, so no extra exec of `taskset`). Returns the Popen."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{log_name}.log", "ab")
    mine = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        p = subprocess.Popen(argv, env=env, stdin=kw.pop("stdin", subprocess.DEVNULL),
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=log,
                             start_new_session=True, **kw)
    finally:
        if cpus:
            os.sched_setaffinity(0, mine)
    log.close()
    _spawned.append(p)
    return p


def proc_table():
    """{pid: (ppid, pgrp, state)} for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return table


def descendants(pid, table=None):
    table = table or proc_table()
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, (pp, _, st) in table.items() if pp == parent and st != "Z"]
        out += kids
        frontier += kids
    return out


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def busy_ticks(cpus):
    """Busy clock ticks (everything but idle and iowait) of the given CPUs, from /proc/stat."""
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *v = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and (cpus is None or int(name[3:]) in cpus):
                v = list(map(int, v))
                total += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return total


def own_ticks():
    """CPU ticks of this script and of the children it has waited for (wrk, probes)."""
    import resource
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime) * CLK_TCK


class Quiet:
    """Other jobs share this machine in bursts (and the hypervisor steals time). Before a measurement, wait until
    the whole machine has been quiet — other processes and steal under 5 % of all CPUs over 0.3 s — for at most
    `per_wait` seconds and `budget` seconds in all, so the run stays bounded."""

    def __init__(self, budget, per_wait, say):
        self.budget, self.per_wait, self.say, self.waited = budget, per_wait, say, 0.0

    WINDOW = 0.2

    def wait(self, ignore_pids=()):
        limit = min(self.per_wait, self.budget - self.waited)
        if limit <= 0:
            return None
        start = time.monotonic()
        while True:
            busy, own = busy_ticks(None), own_ticks()
            ours = {p: cpu_ticks(p) for p in ignore_pids}
            time.sleep(self.WINDOW)
            ours = sum((cpu_ticks(p) or 0) - (t or 0) for p, t in ours.items())
            others = (busy_ticks(None) - busy) - (own_ticks() - own) - ours
            pct = others / (self.WINDOW * CLK_TCK * os.cpu_count()) * 100
            spent = time.monotonic() - start
            if pct < 5 or spent >= limit:
                self.waited += spent
                if self.waited >= self.budget:
                    self.say(f"  (quiet-wait budget of {self.budget:.0f} s used up: no more waiting)")
                return pct


def tree_rss_kb(pid):
    return sum(status_kb(p, "VmRSS") for p in [pid] + descendants(pid))


def stop(p, grace=5.0):
    """SIGTERM the contender (a graceful stop), then SIGKILL whatever of its tree is left."""
    if p.poll() is not None:
        return
    tree = descendants(p.pid)
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    for pid in [p.pid] + tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(2)
    except subprocess.TimeoutExpired:
        pass


def stop_all():
    for p in _spawned:
        stop(p, grace=2)


# ---------------------------------------------------------------------------------------------------------------
# HTTP, by hand: a probe must cost microseconds, not the milliseconds of http.client's import and parsing.
# ---------------------------------------------------------------------------------------------------------------


def body_for(contender, payload="Hello World! 2", timeout=30, file=None):
    path, entry = contender["code"]
    return json.dumps({"path": str(path), "file": file or entry, "env": {"ENV1": "Hello World!"},
                       "payload": payload, "headers": {}, "timeout": timeout}, separators=(",", ":"))


def post_bytes(body):
    data = body.encode()
    return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"x-internal-challenge: " + KEY.encode() + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % len(data)) + data


def get_bytes(path):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def exchange(port, request, timeout=10.0, whole=False):
    """Sends one request; returns (status, headers, body) — body only if `whole`. Raises OSError if refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data if whole else b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if not data:
            raise ConnectionResetError("closed without a reply")
        status = int(data.split(b" ", 2)[1])
        if not whole:
            return status, {}, b""
        head, _, body = data.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def wait_for(port, request, p, deadline_s=30.0, want=200, pause=0.0001):
    """Polls until `request` answers `want`; returns the perf_counter at that moment. Raises if p exits."""
    end = time.perf_counter() + deadline_s
    while True:
        try:
            status, _, _ = exchange(port, request, timeout=deadline_s)
            if status == want:
                return time.perf_counter()
        except (OSError, ValueError, IndexError):
            pass
        if p.poll() is not None:
            raise RuntimeError(f"exited with status {p.returncode} before answering {want}")
        if time.perf_counter() > end:
            raise RuntimeError(f"no {want} within {deadline_s} s")
        time.sleep(pause)


def log_tail(name, lines=3):
    try:
        text = (LOGS / f"{name}.log").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------------------


def launch_env(contender, port, workers, payload=False):
    argv, extra = contender["launch"](port, workers)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIM_", "APPWRITE_", "BENCH_"))}
    env.update(extra)
    if payload:
        env.update(contender.get("payload_env", {}))
    for k in contender.get("drop_env", []):
        env.pop(k, None)
    return argv, env


def cold_once(argv, env, port, request, log_name):
    """exec -> first 200 of `request`, in ms. The contender runs on the server CPUs, the prober on its own."""
    t0 = time.perf_counter()
    p = spawn(argv, env, log_name, cpus=SERVER_CPUS)
    try:
        t1 = wait_for(port, request, p, deadline_s=30)
    finally:
        stop(p)
    return (t1 - t0) * 1000


def exec_once(argv, env, ready_line=None):
    """exec -> exit (or -> the first stdout line starting with `ready_line`), in ms, on the server CPUs."""
    t0 = time.perf_counter()
    p = spawn(argv, env, "baseline", cpus=SERVER_CPUS, stdout=subprocess.PIPE if ready_line else subprocess.DEVNULL,
              stdin=subprocess.PIPE if ready_line else subprocess.DEVNULL)
    if ready_line:
        line = p.stdout.readline()
        t1 = time.perf_counter()
        if not line.startswith(ready_line):
            raise RuntimeError(f"expected {ready_line!r}, got {line[:80]!r}")
        p.stdin.close()
        p.wait(5)
        p.stdout.close()
    else:
        p.wait(30)
        t1 = time.perf_counter()
    return (t1 - t0) * 1000


def summary(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values),
            "values": [round(v, 3) for v in values]}


def measure_cold(available, reps, port_base, say, quiet):
    """Cold start of every contender (1 worker: one adapter to wait for), plus the interpreters' and adapters' own
    startup. Interleaved: each repetition measures every row once, so a busy spell on the machine hits all rows,
    and a row's difference to another is taken repetition by repetition."""
    port = [port_base]
    plan = []  # (label, contender name or None, measure())

    def server(c, request=None):
        def measure():
            port[0] += 1
            argv, env = launch_env(c, port[0], 1)
            return cold_once(argv, env, port[0], request or post_bytes(body_for(c)), c["name"])
        return measure

    trivial = next((c for c in available if c["name"] == "shim+trivial-c"), None)
    if trivial:
        plan.append(("shim alone: exec -> /_/health 200", trivial["name"], server(trivial, get_bytes("/_/health"))))
        plan.append(("shim+trivial-c: exec -> first execution 200", trivial["name"], server(trivial)))
    for c in available:
        if c is not trivial:
            what = "first execution 200" if c["kind"] == "shim" else "first 200"
            plan.append((f"{c['name']}: exec -> {what}", c["name"], server(c)))

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIM_", "APPWRITE_", "BENCH_"))}
    adapter_env = lambda lang, entry: {**base_env, "SHIM_PROTOCOL": "1", "SHIM_CODE_PATH": str(CONFORMANCE / lang),
                                       "SHIM_ENTRYPOINT": entry}
    # The interpreters alone: exec -> a first line on stdout from a script file, as the adapters are run (not
    # exec -> exit: node's teardown alone takes tens of ms, which no server pays before its first reply).
    (BUILD / "ready.py").write_text("import sys\nsys.stdout.write('READY\\n')\nsys.stdout.flush()\nsys.stdin.read()\n")
    (BUILD / "ready.js").write_text("process.stdout.write('READY\\n');\nprocess.stdin.resume();\n"
                                    "process.stdin.on('end', () => process.exit(0));\n")
    baselines = [
        (PY_ALONE, [PYTHON, str(BUILD / "ready.py")], base_env),
        ("python adapter alone: exec -> READY", [PYTHON, str(ROOT / "adapters/python/adapter.py")],
         adapter_env("python", "seed.py")),
        (NODE_ALONE, [NODE, str(BUILD / "ready.js")], base_env),
        ("node adapter alone: exec -> READY", [NODE, str(ROOT / "adapters/node/adapter.js")],
         adapter_env("node", "seed.js")),
    ]
    for label, argv, env in baselines:
        if Path(argv[0]).exists() or shutil.which(argv[0]):
            plan.append((label, None, lambda argv=argv, env=env: exec_once(argv, env, b"READY")))

    # Rows compared with each other run back to back: interpreter, adapter alone, shim with that adapter.
    order = [PY_ALONE, "python adapter alone: exec -> READY", "shim+python: exec -> first execution 200",
             NODE_ALONE, "node adapter alone: exec -> READY", "shim+node: exec -> first execution 200"]
    plan.sort(key=lambda row: order.index(row[0]) if row[0] in order else (-1 if row[1] == "shim+trivial-c" else 99))
    times = {label: [] for label, _, _ in plan}
    failed = set()
    for _ in range(reps):
        for label, name, measure in plan:
            if label in failed:
                continue
            quiet.wait()
            try:
                times[label].append(measure())
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                say(f"  {label}: failed: {e} ({log_tail(name) if name else ''})")
                failed.add(label)
    rows = {}
    for label, name, _ in plan:
        if label not in failed and times[label]:
            rows[label] = {"contender": name, **summary(times[label])}
            say(f"  {label}: {rows[label]['median']:.1f} ms (min {rows[label]['min']:.1f}, "
                f"max {rows[label]['max']:.1f})")
    # Per repetition: what the shim adds to its adapter's own start, and what the adapter adds to its interpreter.
    for lang in ("python", "node"):
        first = times.get(f"shim+{lang}: exec -> first execution 200")
        alone = times.get(f"{lang} adapter alone: exec -> READY")
        bare = times.get(PY_ALONE if lang == "python" else NODE_ALONE)
        if first and alone and bare and len(first) == len(alone) == len(bare):
            rows[f"{lang}: shim's share (first execution − adapter alone)"] = {
                "contender": None, "derived": True, **summary([a - b for a, b in zip(first, alone)])}
            rows[f"{lang}: adapter's share (adapter alone − interpreter alone)"] = {
                "contender": None, "derived": True, **summary([a - b for a, b in zip(alone, bare)])}
    return rows


def run_wrk(port, c, seconds, body, body_file=None):
    argv = ["wrk", "-t1", f"-c{c}", f"-d{seconds}s", "--timeout", "5s", "-s", str(BENCH / "wrk.lua"),
            f"http://127.0.0.1:{port}/"]
    env = {**os.environ, "BENCH_BODY": body or "", "BENCH_BODY_FILE": str(body_file or ""), "BENCH_KEY": KEY}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 30)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-300:]} {out.stderr[-300:]}")
    r = json.loads(line[6:])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


class RssSampler:
    """Samples the RSS of a process tree every 50 ms while active; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss_kb(self.pid))

    def close(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def measure_load(available, workers, concurrencies, rounds, seconds, warm, port_base, say, quiet):
    running = []
    port = port_base
    for c in available:
        port += 1
        argv, env = launch_env(c, port, workers)
        p = spawn(argv, env, c["name"], cpus=SERVER_CPUS)
        body = body_for(c)
        try:
            wait_for(port, post_bytes(body), p, deadline_s=30, pause=0.02)
        except RuntimeError as e:
            say(f"  {c['name']}: skipped: it did not start: {e} ({log_tail(c['name'])})")
            stop(p)
            c["skip"] = f"did not start: {e}: {log_tail(c['name'], 1)}"
            continue
        time.sleep(0.3)  # let the other workers finish starting before reading idle memory
        entry = {"contender": c, "p": p, "port": port, "body": body, "runs": {k: [] for k in concurrencies},
                 "idle_rss_kb": status_kb(p.pid, "VmRSS"), "idle_tree_rss_kb": tree_rss_kb(p.pid),
                 "processes": 1 + len(descendants(p.pid)), "peak_tree_rss_kb": 0}
        running.append(entry)
    say(f"  warming up ({warm} s each at c=16)")
    for e in running:
        run_wrk(e["port"], 16, warm, e["body"])
    for r in range(rounds):
        for c in concurrencies:
            order = running[r % len(running):] + running[:r % len(running)]
            for e in order:
                sampler = RssSampler(e["p"].pid) if c == max(concurrencies) else None
                main_pid = e["p"].pid
                tree_pids = [main_pid] + descendants(main_pid)
                quiet.wait(tree_pids)
                before = {pid: cpu_ticks(pid) for pid in tree_pids}
                busy, own = busy_ticks(None), own_ticks()
                run = run_wrk(e["port"], c, seconds, e["body"])
                busy, own = busy_ticks(None) - busy, own_ticks() - own
                after = {pid: cpu_ticks(pid) for pid in before}
                if sampler:
                    e["peak_tree_rss_kb"] = max(e["peak_tree_rss_kb"], sampler.close())
                tree = sum(after[p] - before[p] for p in before if after[p] is not None and before[p] is not None)
                main_ticks = (after[main_pid] or 0) - (before[main_pid] or 0)
                per_req = 1e6 / CLK_TCK / max(run["requests"], 1)
                run["cpu_us_per_req"] = tree * per_req
                run["main_cpu_us_per_req"] = main_ticks * per_req
                # CPU time that other processes (other jobs on a shared machine) and the hypervisor took from the
                # machine during the run: everything busy but the server, wrk and this script.
                span = CLK_TCK * run["duration_us"] / 1e6 * os.cpu_count()
                run["others_cpu_pct"] = max(0.0, (busy - tree - own) / span * 100)
                e["runs"][c].append(run)
            say(f"  round {r + 1}/{rounds} c={c}: " + ", ".join(
                f"{e['contender']['name']} {e['runs'][c][-1]['rps']:.0f}" for e in running))
    results = {}
    for e in running:
        name = e["contender"]["name"]
        results[name] = {
            "kind": e["contender"]["kind"],
            "processes": e["processes"],
            "idle_rss_kb": e["idle_rss_kb"],
            "idle_tree_rss_kb": e["idle_tree_rss_kb"],
            "peak_rss_kb": status_kb(e["p"].pid, "VmHWM"),
            "after_load_rss_kb": status_kb(e["p"].pid, "VmRSS"),
            "peak_tree_rss_kb": e["peak_tree_rss_kb"],
            "by_c": {},
        }
        for c, runs in e["runs"].items():
            results[name]["by_c"][str(c)] = {
                "rps": summary([x["rps"] for x in runs]),
                "p50_us": summary([x["p50_us"] for x in runs]),
                "p99_us": summary([x["p99_us"] for x in runs]),
                "non_2xx": sum(x["status"] for x in runs),
                "socket_errors": sum(x["socket_errors"] for x in runs),
                "requests": sum(x["requests"] for x in runs),
                "cpu_us_per_req": summary([x["cpu_us_per_req"] for x in runs]),
                "main_cpu_us_per_req": summary([x["main_cpu_us_per_req"] for x in runs]),
                "others_cpu_pct": summary([x["others_cpu_pct"] for x in runs]),
                "rps_runs": [x["rps"] for x in runs],
            }
        stop(e["p"])
    return results


def exchange_big(port, request, timeout=60.0):
    """One request on a connection of its own; returns (status, headers, body), the whole body however large."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        data = bytearray()
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed before the reply's headers")
            data += chunk
        head, _, rest = bytes(data).partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        if "content-length" in headers:
            length = int(headers["content-length"])
            body = bytearray(length)
            view = memoryview(body)
            got = min(len(rest), length)
            view[:got] = rest[:got]
            while got < length:
                n = s.recv_into(view[got:], min(length - got, 1 << 20))
                if not n:
                    break
                got += n
            return status, headers, bytes(view[:got])
        body = bytearray(rest)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return status, headers, bytes(body)
            body += chunk


def payload_body(n):
    """A payload of n ASCII bytes (nothing for JSON to escape) and the execution body naming `echo.js`."""
    pattern = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    payload = (pattern * (n // len(pattern) + 1))[:n].decode()
    body = json.dumps({"path": str(BENCH / "contenders"), "file": "echo.js", "env": {"ENV1": "Hello World!"},
                       "payload": payload, "headers": {}, "timeout": 30}, separators=(",", ":"))
    return payload, body


def measure_payload(available, workers, rounds, seconds, port_base, say, quiet):
    """N bytes of payload in, the same N out (echo.js, or the same function built in), at c=PAYLOAD_C, in
    rounds as the load phase. Each contender's reply at each size is checked byte for byte first; a size it
    fails is not measured and its answer is reported."""
    bodies = {}
    for n in PAYLOAD_SIZES:
        payload, body = payload_body(n)
        path = BUILD / f"payload-{n}.json"
        path.write_text(body)
        bodies[n] = (payload.encode(), post_bytes(body), path)
    running, port = [], port_base
    for c in available:
        if c["name"] not in PAYLOAD_NAMES:
            continue
        port += 1
        argv, env = launch_env(c, port, workers, payload=True)
        log = f"payload-{c['name']}"
        p = spawn(argv, env, log, cpus=SERVER_CPUS)
        try:
            wait_for(port, post_bytes(body_for(c)), p, deadline_s=30, pause=0.02)
        except RuntimeError as e:
            say(f"  {c['name']}: skipped: it did not start: {e} ({log_tail(log)})")
            stop(p)
            continue
        e = {"contender": c, "p": p, "port": port, "runs": {n: [] for n in PAYLOAD_SIZES}, "failed": {},
             "peak_tree_rss_kb": 0}
        for n, (payload, request, _) in bodies.items():
            try:
                status, headers, reply = exchange_big(port, request)
            except OSError as err:
                e["failed"][n] = f"no reply: {err}"
                continue
            if status != 200 or reply != payload:
                e["failed"][n] = (f"answered {status} {headers.get('content-type', '')} with {len(reply):,} bytes"
                                  + ("" if status == 200 else f": {reply[:200].decode(errors='replace')}"))
        for n, why in e["failed"].items():
            say(f"  {c['name']}: {n:,} bytes not measured: {why}")
        running.append(e)
    for e in running:  # warm: a second of the middle size
        n = PAYLOAD_SIZES[len(PAYLOAD_SIZES) // 2]
        if n not in e["failed"]:
            run_wrk(e["port"], PAYLOAD_C, 1, None, bodies[n][2])
    for r in range(rounds):
        for n in PAYLOAD_SIZES:
            order = running[r % max(len(running), 1):] + running[:r % max(len(running), 1)]
            for e in order:
                if n in e["failed"]:
                    continue
                main_pid = e["p"].pid
                tree_pids = [main_pid] + descendants(main_pid)
                quiet.wait(tree_pids)
                sampler = RssSampler(main_pid)
                before = {pid: cpu_ticks(pid) for pid in tree_pids}
                # The largest size runs twice as long: a few requests a second, counted whole.
                run = run_wrk(e["port"], PAYLOAD_C, seconds * (2 if n == PAYLOAD_SIZES[-1] else 1), None,
                              bodies[n][2])
                after = {pid: cpu_ticks(pid) for pid in before}
                e["peak_tree_rss_kb"] = max(e["peak_tree_rss_kb"], sampler.close())
                tree = sum(after[p] - before[p] for p in before if after[p] is not None and before[p] is not None)
                run["mbps"] = run["requests"] * 2 * n / (run["duration_us"] / 1e6) / 1e6
                run["cpu_ms_per_req"] = tree * 1e3 / CLK_TCK / max(run["requests"], 1)
                run["cpu_ms_per_mb"] = tree * 1e3 / CLK_TCK / max(run["requests"] * 2 * n / 1e6, 1e-9)
                run["read_bytes_per_req"] = run["bytes"] / max(run["requests"], 1)
                e["runs"][n].append(run)
            say(f"  round {r + 1}/{rounds} {n:,} bytes: " + ", ".join(
                f"{e['contender']['name']} {e['runs'][n][-1]['mbps']:.0f} MB/s" for e in running
                if e["runs"][n]))
    results = {}
    for e in running:
        name = e["contender"]["name"]
        results[name] = {"kind": e["contender"]["kind"], "peak_rss_kb": status_kb(e["p"].pid, "VmHWM"),
                         "peak_tree_rss_kb": e["peak_tree_rss_kb"],
                         "failed": {str(n): why for n, why in e["failed"].items()}, "by_size": {}}
        for n, runs in e["runs"].items():
            if not runs:
                continue
            results[name]["by_size"][str(n)] = {
                "mbps": summary([x["mbps"] for x in runs]),
                "rps": summary([x["rps"] for x in runs]),
                "p50_us": summary([x["p50_us"] for x in runs]),
                "p99_us": summary([x["p99_us"] for x in runs]),
                "cpu_ms_per_req": summary([x["cpu_ms_per_req"] for x in runs]),
                "cpu_ms_per_mb": summary([x["cpu_ms_per_mb"] for x in runs]),
                "read_bytes_per_req": summary([x["read_bytes_per_req"] for x in runs]),
                "non_2xx": sum(x["status"] for x in runs),
                "socket_errors": sum(x["socket_errors"] for x in runs),
                "requests": sum(x["requests"] for x in runs),
                "mbps_runs": [x["mbps"] for x in runs],
            }
        stop(e["p"])
    return results


def measure_burst(contender, workers, port, say, ready=None, idle_s=BURST_IDLE_S):
    """The main process's RSS at start (ready, before any execution), then after a burst of BURST_N replies of
    BURST_BYTES (the `generate` function, BURST_C at a time): right after, and every 0.5 s for `idle_s`. Ready
    is `/_/ready` answering 200, or (`ready` given) that path answering anything (the floor: 401 without a key)."""
    argv, env = launch_env(contender, port, workers)
    log = f"burst-{contender['name']}"
    p = spawn(argv, env, log, cpus=SERVER_CPUS)
    try:
        if ready:
            wait_for(port, get_bytes(ready), p, deadline_s=30, pause=0.01, want=401)
        else:
            wait_for(port, get_bytes("/_/ready"), p, deadline_s=30, pause=0.01)
        time.sleep(0.5)
        start_kb = status_kb(p.pid, "VmRSS")
        body = json.dumps({"path": str(BENCH / "contenders"), "file": "generate", "env": {},
                           "payload": str(BURST_BYTES), "headers": {}, "timeout": 30}, separators=(",", ":"))
        request = post_bytes(body)
        answers, lock, sent = [], threading.Lock(), [0]

        def client():
            while True:
                with lock:
                    if sent[0] >= BURST_N:
                        return
                    sent[0] += 1
                try:
                    status, _, reply = exchange_big(port, request)
                    answers.append((status, len(reply)))
                except OSError as err:
                    answers.append((None, str(err)))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(BURST_C)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        ok = sum(1 for status, n in answers if status == 200 and n == BURST_BYTES)
        end = time.perf_counter()
        timeline = []
        while True:
            t = time.perf_counter() - end
            timeline.append((round(t, 2), status_kb(p.pid, "VmRSS")))
            if t >= idle_s:
                break
            time.sleep(min(0.5, max(idle_s - t, 0.01)))
        at = lambda s: min(timeline, key=lambda x: abs(x[0] - s))[1] if timeline[-1][0] >= s - 0.5 else None
        result = {"start_kb": start_kb, "after_kb": timeline[0][1], "after_3s_kb": at(3), "after_10s_kb": at(10),
                  "peak_kb": status_kb(p.pid, "VmHWM"), "timeline": timeline, "requests": BURST_N, "ok": ok,
                  "bytes": BURST_BYTES, "concurrency": BURST_C, "took_s": round(took, 3),
                  "errors": [a for a in answers if a[0] != 200 or a[1] != BURST_BYTES][:5]}
    finally:
        stop(p)
    say(f"  {contender['name']} RSS: {fmt_mb(result['start_kb'])} at start, {fmt_mb(result['after_kb'])} right after "
        f"{BURST_N} × {BURST_BYTES / 1e6:.0f} MB replies ({ok} ok, {took:.1f} s), {fmt_mb(result['after_3s_kb'])} "
        f"after 3 s, {fmt_mb(result['after_10s_kb'])} after 10 s; peak {fmt_mb(result['peak_kb'])}")
    return result


def measure_timeout(lang, slow_file, reps, port, say):
    """A function sleeping 30 s under a 1 s timeout: time to the error reply; is the adapter's group gone?"""
    c = {"code": (CONFORMANCE / lang, slow_file)}
    argv = [str(SHIM)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIM_", "APPWRITE_", "BENCH_"))}
    env.update(shim_env(port, 1, lang, CONFORMANCE / lang, slow_file,
                        SHIM_INTERPRETER=PYTHON if lang == "python" else NODE))
    p = spawn(argv, env, f"timeout-{lang}", cpus=SERVER_CPUS)
    out = []
    try:
        for _ in range(reps):
            wait_for(port, get_bytes("/_/ready"), p, deadline_s=30, pause=0.005)
            before = set(descendants(p.pid))
            request = post_bytes(body_for(c, payload="30", timeout=TIMEOUT_TARGET_S))
            t0 = time.perf_counter()
            status, headers, body = exchange(port, request, timeout=40, whole=True)
            t1 = time.perf_counter()
            # The adapters that were there are the one that ran it: its process group must be gone.
            gone_at = None
            while time.perf_counter() - t1 < 5:
                table = proc_table()
                alive = [pid for pid, (_, pgrp, st) in table.items()
                         if st != "Z" and (pid in before or pgrp in before)]
                if not alive:
                    gone_at = time.perf_counter()
                    break
                time.sleep(0.002)
            out.append({"reply_s": t1 - t0, "status": status, "kind": headers.get("x-shim-error"),
                        "message": json.loads(body or b"{}").get("message"),
                        "group_gone_after_reply_ms": None if gone_at is None else (gone_at - t1) * 1000,
                        "survivors": gone_at is None})
    finally:
        stop(p)
    replies = [x["reply_s"] for x in out]
    result = {"timeout_s": TIMEOUT_TARGET_S, "reply_s": summary(replies), "runs": out,
              "all_500_timeout": all(x["status"] == 500 and x["kind"] == "timeout" for x in out),
              "no_survivor": not any(x["survivors"] for x in out)}
    say(f"  shim+{lang}: reply after {result['reply_s']['median'] * 1000:.1f} ms (timeout {TIMEOUT_TARGET_S} s), "
        f"500/timeout: {result['all_500_timeout']}, adapter group gone: {result['no_survivor']}")
    return result


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def fmt_us(us):
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def fmt_mb(kb):
    return "—" if kb is None else f"{kb / 1024:.1f} MiB"


def shown(path):
    """A path relative to the checkout when it is inside it."""
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def fmt_size(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def ratio(a, b):
    return a / b if b else float("nan")


def compute_ratios(load, concurrencies):
    """Ratio of req/s against each peer, taken round by round (the two runs of a round are minutes apart at
    most, so a slow phase of the machine hits both) and summarised as median and min-max over the rounds."""
    peers = [n for n, r in load.items() if r["kind"] == "peer"]
    out = {}
    for name, r in load.items():
        out[name] = {}
        for c in concurrencies:
            mine = r["by_c"][str(c)]["rps_runs"]
            out[name][str(c)] = {}
            for p in peers:
                theirs = load[p]["by_c"][str(c)]["rps_runs"]
                rounds = [ratio(a, b) for a, b in zip(mine, theirs)]
                out[name][str(c)][p] = {"median": statistics.median(rounds), "min": min(rounds),
                                        "max": max(rounds), "rounds": [round(x, 3) for x in rounds]}
    return out


def round_ratio(a, b):
    """Median of the per-round ratios of two lists of per-round figures (same round, same index)."""
    rounds = [ratio(x, y) for x, y in zip(a, b)]
    return statistics.median(rounds) if rounds else None


def targets(res):
    load, cold, ratios, payload = res["load"], res["cold_start"], res["ratios"], res.get("payload") or {}
    rows = []

    def add(target, value, ok, note=""):
        rows.append({"target": target, "value": value, "met": ok, "note": note})

    def rps_ratio(a, b, c):
        if a in load and b in load and str(c) in ratios.get(a, {}) and b in ratios[a][str(c)]:
            return ratios[a][str(c)][b]["median"]
        if a in load and b in load:
            return round_ratio(load[a]["by_c"][str(c)]["rps_runs"], load[b]["by_c"][str(c)]["rps_runs"])
        return None

    def at_least(target, r, goal, note="median of per-round req/s ratios"):
        add(target, None if r is None else f"{r:.2f}×", None if r is None else r >= goal,
            note if r is not None else "a row is missing from this run")

    # CPU per execution: the shim with a near-free adapter against the same HTTP stack answering in-process.
    if "shim+trivial-c" in load and "floor" in load:
        per_c = {c: load["shim+trivial-c"]["by_c"][str(c)]["cpu_us_per_req"]["median"] /
                 load["floor"]["by_c"][str(c)]["cpu_us_per_req"]["median"] for c in res["config"]["concurrencies"]}
        top = max(res["config"]["concurrencies"])
        a = load["shim+trivial-c"]["by_c"][str(top)]["cpu_us_per_req"]["median"]
        b = load["floor"]["by_c"][str(top)]["cpu_us_per_req"]["median"]
        add(f"shim+trivial-c CPU per execution ≤ 1.8× floor (c={top})", f"{a:.1f} / {b:.1f} µs = {a / b:.2f}×",
            a / b <= 1.8, "whole tree; other c: " + ", ".join(f"c={c} {x:.2f}×" for c, x in per_c.items() if c != top))
    else:
        add("shim+trivial-c CPU per execution ≤ 1.8× floor", None, None, "a row is missing from this run")
    at_least("shim+node ≥ 1.2× node-http at c=64", rps_ratio("shim+node", "node-http", 64), 1.2)
    at_least("shim+python ≥ 1.0× node-http at c=64", rps_ratio("shim+python", "node-http", 64), 1.0)
    at_least("shim+native ≥ 2× shim+python at c=16", rps_ratio("shim+native", "shim+python", 16), 2.0)
    at_least("shim+trivial-c ≥ 1.0× go-http at c=64", rps_ratio("shim+trivial-c", "go-http", 64), 1.0)
    for n in PAYLOAD_SIZES[1:]:
        mine = payload.get("shim+trivial-c", {}).get("by_size", {}).get(str(n))
        theirs = payload.get("node-http", {}).get("by_size", {}).get(str(n))
        target = f"shim+trivial-c ≥ 1.0× node-http MB/s at {fmt_size(n)}"
        if mine and theirs:
            r = round_ratio(mine["mbps_runs"], theirs["mbps_runs"])
            add(target, f"{r:.2f}× ({mine['mbps']['median']:.0f} vs {theirs['mbps']['median']:.0f} MB/s)", r >= 1.0,
                "median of per-round ratios")
        else:
            failed = payload.get("shim+trivial-c", {}).get("failed", {}).get(str(n))
            add(target, None, False if failed else None, f"shim+trivial-c failed: {failed}" if failed else
                "not measured in this run")
    for c in res["config"]["concurrencies"]:
        r = rps_ratio("shim+python", "flask-dev", c)
        add(f"shim+python ≥ 10× Flask dev server (c={c})", None if r is None else f"{r:.1f}×",
            None if r is None else r >= 10)
    for c in res["config"]["concurrencies"]:
        r = rps_ratio("shim+python", "gunicorn", c)
        add(f"shim+python ≥ 2× gunicorn, {res['config']['workers']} workers each (c={c})",
            None if r is None else f"{r:.2f}×", None if r is None else r >= 2)
    bursts = res.get("burst") or []
    idle = max(b["start_kb"] for b in bursts) if bursts else next(
        (load[n]["idle_rss_kb"] for n in ("shim+trivial-c", "shim+python") if n in load), None)
    add("idle RSS of the shim ≤ 3 MiB at start", None if idle is None else fmt_mb(idle),
        None if idle is None else idle <= 3072,
        "" if idle is None else ("ready, before any request" if bursts else "after its first request"))
    if bursts:
        worst = max(bursts, key=lambda b: b["after_3s_kb"])
        all_ok = all(b["ok"] == b["requests"] for b in bursts)
        add(f"shim RSS ≤ 8 MiB ~3 s after a burst of {worst['requests']} × {worst['bytes'] / 1e6:.0f} MB replies",
            ", ".join(fmt_mb(b["after_3s_kb"]) for b in bursts), worst["after_3s_kb"] <= 8192 and all_ok,
            (f"the worst of {len(bursts)} fresh shims" if len(bursts) > 1 else "one fresh shim") +
            ("" if all_ok else "; not every reply answered in full"))
    else:
        add("shim RSS ≤ 8 MiB ~3 s after a burst of large replies", None, None, "burst not run")
    size = res["binary"]["bytes"]
    add("static binary ≤ 3 MB", f"{size:,} bytes", size <= 3_000_000)
    health = cold.get("shim alone: exec -> /_/health 200")
    limit = PREVIOUS["cold_shim_ms"] * COLD_MARGIN
    add(f"cold start, shim alone, no worse than before: ≤ {PREVIOUS['cold_shim_ms']} ms + {COLD_MARGIN - 1:.0%}",
        None if not health else f"{health['median']:.2f} ms", None if not health else health["median"] <= limit,
        "median to the first /_/health 200")
    first = cold.get("shim+python: exec -> first execution 200")
    base = cold.get(PY_ALONE)
    if first and base:
        add("cold start, shim+python ≤ python's own startup + 10 ms",
            f"{first['median']:.1f} ms vs {base['median']:.1f} + 10 ms", first["median"] <= base["median"] + 10)
    for lang, t in res["timeout"].items():
        med = t["reply_s"]["median"] * 1000
        add(f"timeout reply no worse than before (shim+{lang}): ≤ {PREVIOUS['timeout_ms']} ms + "
            f"{TIMEOUT_MARGIN_MS:.0f} ms", f"{med:.1f} ms for a {t['timeout_s']} s timeout",
            med <= PREVIOUS["timeout_ms"] + TIMEOUT_MARGIN_MS and t["reply_s"]["max"] <= t["timeout_s"] + 0.1
            and t["all_500_timeout"] and t["no_survivor"],
            "median; every run ≤ timeout + 100 ms, 500 `timeout` each time, adapter's process group gone")
    return rows


def markdown(res):
    cfg, load, ratios = res["config"], res["load"], res["ratios"]
    peers = [n for n, r in load.items() if r["kind"] == "peer"]
    m = res["machine"]
    lines = [f"# runtime-shim benchmark — {res['date']}", ""]
    lines.append(f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory']}, {m['os']}, Linux {m['kernel']}; "
                 f"load average at start {m['loadavg']}. Servers pinned to CPU {cfg['server_cpus']}, wrk "
                 f"(1 thread, keep-alive) to CPU {cfg['loadgen_cpus']}. W = {cfg['workers']} worker(s): "
                 f"SHIM_WORKERS, gunicorn -w, node cluster size. SHIM_QUEUE=64, SHIM_LOG=warn. "
                 f"{cfg['rounds']} rounds × {cfg['seconds']} s per contender and concurrency; figures are "
                 f"medians, spread is min–max over the rounds.")
    lines.append("")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()))
    lines.append("")
    if res["skipped"]:
        lines.append("Skipped: " + "; ".join(f"{k} ({v})" for k, v in res["skipped"].items()))
        lines.append("")
    if load:
        lines.append("## Throughput and latency (seed function, POST /)")
        lines.append("")
        lines.append("req/s: median (min–max) over the rounds. p50/p99: medians of each run's percentiles. errors: "
                     "non-2xx replies and socket errors, all runs. CPU/req: CPU time of the server's whole process "
                     "tree per request (for a shim row, the shim's own share after the slash) — the figure least "
                     "moved by other jobs on the machine. × peer: req/s ratio taken round by round, median (min–max).")
        lines.append("")
        head = ["c", "contender", "req/s", "p50", "p99", "errors", "CPU/req", "others"] + [f"× {p}" for p in peers]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for c in cfg["concurrencies"]:
            for name, r in load.items():
                b = r["by_c"][str(c)]
                errors = b["non_2xx"] + b["socket_errors"]
                err = "0" if not errors else f"{b['non_2xx']} non-2xx, {b['socket_errors']} socket"
                cpu = f"{b['cpu_us_per_req']['median']:.0f} µs"
                if r["kind"] == "shim":
                    cpu += f" / {b['main_cpu_us_per_req']['median']:.0f}"
                cells = [str(c), f"**{name}**" if r["kind"] == "shim" else name,
                         f"{b['rps']['median']:,.0f} ({b['rps']['min']:,.0f}–{b['rps']['max']:,.0f})",
                         fmt_us(b["p50_us"]["median"]), fmt_us(b["p99_us"]["median"]), err, cpu,
                         f"{b['others_cpu_pct']['median']:.0f} %"]
                for p in peers:
                    x = ratios[name][str(c)][p]
                    cells.append("—" if p == name else f"{x['median']:.2f}× ({x['min']:.2f}–{x['max']:.2f})")
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        others = [x for r in load.values() for b in r["by_c"].values() for x in b["others_cpu_pct"]["values"]]
        if others:
            lines.append(f"Noise: other processes and hypervisor steal took {statistics.median(others):.0f} % of the "
                         f"machine's CPU during a run (median; max {max(others):.0f} %; the `others` column is the median "
                         f"for the row's runs). Before each run, up to {cfg['quiet_wait']} s were spent waiting for a quiet "
                         f"machine ({res.get('quiet_wait_s', 0):.0f} s in all).")
            lines.append("")
    payload = res.get("payload") or {}
    if payload:
        pc = cfg.get("payload", {})
        lines.append(f"## Payload (N bytes in, the same N back; c={pc.get('concurrency', PAYLOAD_C)}, "
                     f"W = {cfg['workers']})")
        lines.append("")
        lines.append("Every row runs the same function — `contenders/echo.js` for node-http and shim+node, the same "
                     "built into the trivial adapter and the floor: the request's payload is a JSON string of N ASCII "
                     "bytes, the reply is those N bytes as `text/plain`, checked byte for byte before the runs. "
                     "**MB/s counts payload bytes both ways: 2 × N per request** (1 MB = 10⁶ bytes; the JSON, HTTP "
                     "framing and headers are not counted). Median (min–max) over the rounds; CPU/req: the server "
                     "tree's CPU per request; × node-http: MB/s ratio taken round by round.")
        lines.append("")
        head = ["N", "contender", "MB/s", "req/s", "p50", "p99", "errors", "CPU/req", "CPU per MB", "× node-http"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for n in pc.get("sizes", PAYLOAD_SIZES):
            for name, r in payload.items():
                b = r["by_size"].get(str(n))
                label = f"**{name}**" if r["kind"] == "shim" else name
                if not b:
                    why = r["failed"].get(str(n), "not measured")
                    lines.append(f"| {fmt_size(n)} | {label} | **failed**: {why} |" + " |" * (len(head) - 3))
                    continue
                errors = b["non_2xx"] + b["socket_errors"]
                err = "0" if not errors else f"{b['non_2xx']} non-2xx, {b['socket_errors']} socket"
                theirs = payload.get("node-http", {}).get("by_size", {}).get(str(n))
                x = "—" if name == "node-http" or not theirs else \
                    f"{round_ratio(b['mbps_runs'], theirs['mbps_runs']):.2f}×"
                lines.append(f"| {fmt_size(n)} | {label} | {b['mbps']['median']:,.0f} ({b['mbps']['min']:,.0f}–"
                             f"{b['mbps']['max']:,.0f}) | {b['rps']['median']:,.0f} | {fmt_us(b['p50_us']['median'])} | "
                             f"{fmt_us(b['p99_us']['median'])} | {err} | {fmt_us(b['cpu_ms_per_req']['median'] * 1000)} "
                             f"| {b['cpu_ms_per_mb']['median']:.2f} ms | {x} |")
        lines.append("")
        lines.append("Peak RSS in the payload runs (main process VmHWM / whole tree, highest sample): " +
                     ", ".join(f"{name} {fmt_mb(r['peak_rss_kb'])} / {fmt_mb(r['peak_tree_rss_kb'])}"
                               for name, r in payload.items()) + ".")
        lines.append("")
    if res["cold_start"]:
        lines.append("## Cold start (exec → first 200 OK, 1 worker, pinned like the servers)")
        lines.append("")
        lines.append("| what | median | min | max | runs |")
        lines.append("|---|---|---|---|---|")
        for label, r in res["cold_start"].items():
            if r.get("derived"):
                continue
            lines.append(f"| {label} | {r['median']:.2f} ms | {r['min']:.2f} ms | {r['max']:.2f} ms | {r['n']} |")
        lines.append("")
        derived = {k: v for k, v in res["cold_start"].items() if v.get("derived")}
        if derived:
            lines.append("Differences taken repetition by repetition (median, min–max):")
            lines.append("")
            for label, r in derived.items():
                lines.append(f"- {label}: {r['median']:.1f} ms ({r['min']:.1f} to {r['max']:.1f})")
            lines.append("")
    lines.append(f"## Memory (RSS; W = {cfg['workers']})")
    lines.append("")
    if load:
        lines.append("| contender | processes | main process idle | main process peak | whole tree idle | "
                     "whole tree peak under c=%d |" % max(cfg["concurrencies"]))
        lines.append("|---|---|---|---|---|---|")
        for name, r in load.items():
            lines.append(f"| {name} | {r['processes']} | {fmt_mb(r['idle_rss_kb'])} | {fmt_mb(r['peak_rss_kb'])} | "
                         f"{fmt_mb(r['idle_tree_rss_kb'])} | {fmt_mb(r['peak_tree_rss_kb'])} |")
        lines.append("")
        lines.append("The main process of a shim row is the shim itself (its adapters are the rest of the tree). "
                     "Peak is VmHWM for the main process, the highest sampled sum for the tree.")
        lines.append("")
    bursts = res.get("burst") or []
    if bursts:
        burst = bursts[0]
        lines.append(f"After a burst: {burst['requests']} replies of {burst['bytes']:,} bytes, {burst['concurrency']} at "
                     f"a time, to a fresh shim+trivial-c (W = {cfg['workers']}; the adapter's `generate`), then idle; "
                     f"for reference, the same burst to a fresh floor. RSS of the shim process (of the floor's):")
        lines.append("")
        lines.append("| process | answered in full | took | at start (ready, no request yet) | right after the burst | "
                     "after ~3 s idle | after ~10 s idle | peak (VmHWM) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        rows = [(f"shim ({i + 1})" if len(bursts) > 1 else "shim", b) for i, b in enumerate(bursts)]
        rows += list((res.get("burst_reference") or {}).items())
        for name, b in rows:
            lines.append(f"| {name} | {b['ok']} of {b['requests']} | {b['took_s']:.1f} s | {fmt_mb(b['start_kb'])} | "
                         f"{fmt_mb(b['after_kb'])} | {fmt_mb(b['after_3s_kb'])} | "
                         f"{fmt_mb(b['after_10s_kb'])} | "
                         f"{fmt_mb(b['peak_kb'])} |")
        lines.append("")
    lines.append(f"Static binary: `{res['binary']['path']}`, {res['binary']['bytes']:,} bytes "
                 f"({res['binary']['bytes'] / 1048576:.2f} MiB).")
    lines.append("")
    if res["timeout"]:
        lines.append(f"## Timeout precision (slow function, payload \"30\", timeout {TIMEOUT_TARGET_S} s)")
        lines.append("")
        lines.append("| contender | reply after (median) | min | max | all 500 `timeout` | adapter group gone "
                     "after reply (max) |")
        lines.append("|---|---|---|---|---|---|")
        for lang, t in res["timeout"].items():
            gone = [x["group_gone_after_reply_ms"] for x in t["runs"] if x["group_gone_after_reply_ms"] is not None]
            lines.append(f"| shim+{lang} | {t['reply_s']['median'] * 1000:.1f} ms | {t['reply_s']['min'] * 1000:.1f} ms"
                         f" | {t['reply_s']['max'] * 1000:.1f} ms | {'yes' if t['all_500_timeout'] else 'NO'} | "
                         + (f"{max(gone):.1f} ms" if gone and t["no_survivor"] else "NO: a process survived") + " |")
        lines.append("")
    lines.append("## Targets")
    lines.append("")
    lines.append("| target | value | |")
    lines.append("|---|---|---|")
    for t in res["targets"]:
        verdict = "skipped" if t["met"] is None else ("met" if t["met"] else "**missed**")
        value = t["value"] if t["value"] is not None else "—"
        lines.append(f"| {t['target']} | {value} | {verdict}{' — ' + t['note'] if t['note'] else ''} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------


def version(argv, pattern=r"(\d+\.\d+[\w.]*)"):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        m = re.search(pattern, out.stdout + out.stderr)
        return m.group(1) if m else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "absent"


def machine():
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    osname = "?"
    try:
        osname = next(l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release")
                      if l.startswith("PRETTY_NAME"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory": f"{mem_kb / 1048576:.0f} GiB", "os": osname,
            "kernel": platform.release(), "loadavg": " ".join(open("/proc/loadavg").read().split()[:3])}


def build_helpers(say):
    BUILD.mkdir(parents=True, exist_ok=True)
    src = BENCH / "contenders/trivial_adapter.c"
    out = BUILD / "trivial-adapter"
    if shutil.which("cc") and (not out.exists() or out.stat().st_mtime < src.stat().st_mtime):
        r = subprocess.run(["cc", "-O2", "-static", "-o", str(out), str(src)], capture_output=True, text=True)
        if r.returncode:  # no static libc: a dynamic one still works
            r = subprocess.run(["cc", "-O2", "-o", str(out), str(src)], capture_output=True, text=True)
        if r.returncode:
            say(f"  the trivial adapter did not build: {r.stderr.strip()[:300]}")
    # The seed function as a native library, and as a compiled rust `runtime` (std only: builds offline).
    src, out = BENCH / "contenders/native_seed.c", BUILD / "libseed-native.so"
    if shutil.which("cc") and (not out.exists() or out.stat().st_mtime < src.stat().st_mtime):
        r = subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-I", str(ROOT / "adapters/native"), "-o", str(out),
                            str(src)], capture_output=True, text=True)
        if r.returncode:
            say(f"  the native library did not build: {r.stderr.strip()[:300]}")
    sources = [ROOT / "conformance/rust/seed.rs", ROOT / "adapters/rust/src/lib.rs", ROOT / "runtimes/rust-1.95/build.sh"]
    out = BUILD / "rust-seed/runtime"
    if "BENCH_RUST_RUNTIME" not in os.environ and shutil.which("cargo") and all(p.exists() for p in sources) and (
            not out.exists() or out.stat().st_mtime < max(p.stat().st_mtime for p in sources)):
        code = BUILD / "rust-seed"
        shutil.rmtree(code, ignore_errors=True)
        code.mkdir(parents=True)
        shutil.copy(sources[0], code / "seed.rs")
        env = {**os.environ, "CODE_DIR": str(code), "WORK_DIR": str(BUILD / "rust-work"),
               "APPWRITE_ENTRYPOINT_NAME": "seed.rs"}
        r = subprocess.run(["sh", str(sources[2])], capture_output=True, text=True, env=env)
        if r.returncode:
            say(f"  the rust runtime did not build: {(r.stdout + r.stderr).strip()[-300:]}")
    src = BENCH / "peers/go_http.go"
    out = BUILD / "go-http"
    if shutil.which("go") and (not out.exists() or out.stat().st_mtime < src.stat().st_mtime):
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0",
               "GOCACHE": str(BUILD / "go-cache"), "GOPATH": str(BUILD / "go-path")}
        r = subprocess.run(["go", "build", "-o", str(out), str(src)], capture_output=True, text=True, env=env,
                           cwd=BENCH / "peers")
        if r.returncode:
            say(f"  the Go peer did not build: {r.stderr.strip()[:300]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (≤ 2 minutes) for CI; results go to "
                    "bench/results/quick/")
    ap.add_argument("--workers", type=int, default=2, help="W: SHIM_WORKERS = gunicorn -w = node cluster size")
    ap.add_argument("--rounds", type=int, help="wrk runs per contender and concurrency")
    ap.add_argument("--seconds", type=int, help="length of one wrk run")
    ap.add_argument("--cold-reps", type=int, help="cold starts per row")
    ap.add_argument("--only", help="comma-separated contender names to run (default: all)")
    ap.add_argument("--server-cpus", default="0", help="CPUs the servers are pinned to")
    ap.add_argument("--loadgen-cpus", default="1", help="CPUs wrk and the probes are pinned to")
    ap.add_argument("--out", type=Path, help="results folder (default bench/results, or bench/results/quick)")
    ap.add_argument("--skip", default="", help="phases to skip: cold,load,payload,burst,timeout")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    seconds = args.seconds or (1 if args.quick else 2)
    cold_reps = args.cold_reps or (3 if args.quick else 10)
    timeout_reps = 1 if args.quick else 3
    payload_rounds = args.rounds or (1 if args.quick else 3)
    burst_reps = 1 if args.quick else 3
    warm = 1 if args.quick else 2
    concurrencies = [1, 16, 64]
    out_dir = args.out or (BENCH / "results/quick" if args.quick else BENCH / "results")
    skip = set(filter(None, args.skip.split(",")))

    global SERVER_CPUS, LOADGEN_CPUS
    SERVER_CPUS = {int(x) for x in args.server_cpus.split(",")}
    LOADGEN_CPUS = {int(x) for x in args.loadgen_cpus.split(",")}
    if len(os.sched_getaffinity(0)) < 2:
        SERVER_CPUS = LOADGEN_CPUS = None
        print("warning: fewer than 2 CPUs: nothing is pinned; figures will include load-generator contention")
    else:
        os.sched_setaffinity(0, LOADGEN_CPUS)  # wrk and the probes inherit this

    started = time.time()
    say = lambda s: print(f"[{time.time() - started:6.1f}s] {s}", flush=True)
    quiet = Quiet(budget=15 if args.quick else 90, per_wait=2 if args.quick else 5, say=say)
    if not SHIM.is_file():
        sys.exit(f"{SHIM} not found: run `make static` (bench/run.sh does)")
    if not shutil.which("wrk"):
        sys.exit("wrk not found: run bench/setup.sh")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    LOGS.mkdir(parents=True, exist_ok=True)
    for f in LOGS.glob("*.log"):
        f.unlink()

    say("building the bench helpers (trivial C adapter, native library, rust runtime, Go peer; bench/run.sh "
        "built the floor)")
    build_helpers(say)
    wanted = set(args.only.split(",")) if args.only else None
    available, skipped = [], {}
    for c in CONTENDERS:
        if wanted and c["name"] not in wanted:
            continue
        why = c["missing"]()
        if why:
            skipped[c["name"]] = why
            say(f"skipping {c['name']}: {why}")
        else:
            available.append(c)

    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {"workers": args.workers, "concurrencies": concurrencies, "rounds": rounds, "seconds": seconds,
                   "cold_reps": cold_reps, "quick": args.quick, "quiet_wait": quiet.per_wait,
                   "quiet_budget": quiet.budget, "shim_queue": 64, "shim_log": "warn",
                   "server_cpus": args.server_cpus, "loadgen_cpus": args.loadgen_cpus,
                   "wrk": "1 thread, keep-alive, --timeout 5s, bench/wrk.lua",
                   "payload": {"sizes": PAYLOAD_SIZES, "concurrency": PAYLOAD_C, "rounds": payload_rounds,
                               "limit": PAYLOAD_LIMIT},
                   "burst": {"bytes": BURST_BYTES, "requests": BURST_N, "concurrency": BURST_C,
                             "idle_s": BURST_IDLE_S, "fresh_shims": burst_reps}},
        "versions": {
            "runtime-shim": version([str(SHIM), "--version"]),
            "python": version([PYTHON, "--version"]),
            "node": version([NODE, "--version"]),
            "go": version(["go", "version"], r"go(\d+\.\d+[\w.]*)"),
            "flask": version([str(VENV / "bin/python"), "-c", "import importlib.metadata as m; print(m.version('flask'))"]),
            "gunicorn": version([str(VENV / "bin/gunicorn"), "--version"]),
            "wrk": version(["wrk", "-v"]),
        },
        "binary": {"path": str(SHIM.relative_to(ROOT)), "bytes": SHIM.stat().st_size},
        "skipped": skipped,
        "cold_start": {}, "load": {}, "ratios": {}, "timeout": {}, "payload": {}, "burst": [],
    }
    try:
        if "cold" not in skip:
            say(f"cold start ({cold_reps} runs each)")
            res["cold_start"] = measure_cold(available, cold_reps, 3200, say, quiet)
        if "load" not in skip:
            say(f"throughput: {len(available)} contenders × c={concurrencies} × {rounds} rounds × {seconds} s, "
                f"W={args.workers}")
            res["load"] = measure_load(available, args.workers, concurrencies, rounds, seconds, warm, 3100, say,
                                       quiet)
            for c in available:
                if "skip" in c:
                    skipped[c["name"]] = c["skip"]
            res["ratios"] = compute_ratios(res["load"], concurrencies)
        if "payload" not in skip:
            names = [c["name"] for c in available if c["name"] in PAYLOAD_NAMES]
            say(f"payload: {', '.join(names) or 'no contender'} × {[fmt_size(n) for n in PAYLOAD_SIZES]} both ways, "
                f"c={PAYLOAD_C} × {payload_rounds} rounds × {seconds} s, W={args.workers}")
            if names:
                res["payload"] = measure_payload(available, args.workers, payload_rounds, seconds, 3300, say, quiet)
        if "burst" not in skip:
            trivial = next((c for c in available if c["name"] == "shim+trivial-c"), None)
            if trivial:
                say(f"memory after a burst: {BURST_N} replies of {BURST_BYTES / 1e6:.0f} MB, c={BURST_C}, "
                    f"W={args.workers}, then {BURST_IDLE_S} s idle")
                # What the allocator keeps varies from one process to the next: a full run measures 3 fresh shims
                # (the 10 s reading on the first only) and the target takes the worst.
                res["burst"] = [measure_burst(trivial, args.workers, 3380 + i, say,
                                              idle_s=BURST_IDLE_S if i == 0 else 3) for i in range(burst_reps)]
                floor = next((c for c in available if c["name"] == "floor"), None)
                if floor:
                    res["burst_reference"] = {"floor": measure_burst(floor, args.workers, 3379, say, ready="/",
                                                                     idle_s=3)}
        if "timeout" not in skip:
            say(f"timeout precision ({timeout_reps} runs each)")
            for lang, slow in (("python", "slow.py"), ("node", "slow.js")):
                if any(c["name"] == f"shim+{lang}" for c in available):
                    res["timeout"][lang] = measure_timeout(lang, slow, timeout_reps, 3390 + len(res["timeout"]), say)
    finally:
        stop_all()
    res["quiet_wait_s"] = round(quiet.waited, 1)
    res["targets"] = targets(res)
    res["elapsed_s"] = round(time.time() - started, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    (out_dir / "bench.md").write_text(md)
    print()
    print(md)
    chart = out_dir / "bench.png"
    py = VENV / "bin/python"
    if py.exists() and res["load"]:
        r = subprocess.run([str(py), str(BENCH / "chart.py"), str(out_dir / "bench.json"), str(chart)],
                           capture_output=True, text=True)
        print(f"chart: {shown(chart)}" if r.returncode == 0 else f"chart failed: {r.stderr[-500:]}")
    print(f"written: {shown(out_dir / 'bench.json')}, {shown(out_dir / 'bench.md')}; "
          f"took {res['elapsed_s']:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
