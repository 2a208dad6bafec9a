#!/usr/bin/python3
"""What one execution costs an adapter itself: no shim, no HTTP, just the adapter process and its pipes.

The adapter is started as the shim starts it (the bundled interpreter and file, the shim's SHIM_* variables,
the code folder as working directory, its own session), pinned to one CPU with taskset; this script, on another
CPU, waits for READY, then writes request frames exactly as the shim encodes them (src/protocol.rs: json or kv,
whichever the adapter announced) and reads the replies, one request in flight at a time (or `--pipeline K` at a
time). The adapter's CPU time over the measured executions (utime + stime of /proc/<pid>/stat, and the sum of
its threads' /proc/<pid>/task/*/schedstat, which has nanosecond resolution) divided by their number is the
adapter's own cost per execution; executions/s is the wall-clock rate, the driver's own cost included.

Cases:
  v1        protocol 1, the v1 seed function (conformance/<lang>/seed.*) with env, payload and headers
  v5        protocol 2, conformance/v5/<lang>/main.* with `x-action: jsonResponse` and a small JSON body
  v5-logs   the same with `x-action: spreadOperatorLogs` (two LOG frames before the reply)

`--strace` runs each case once more with `strace -c -f` attached after the warm-up and prints the system calls
per execution the adapter made (all its threads). Standard library only.

  bench/adapter_cost.py                       # python and node, every case, 20000 executions each
  bench/adapter_cost.py --adapter node --case v5 -n 50000 --pipeline 16
  bench/adapter_cost.py --strace -n 2000
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import statistics
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

ADAPTERS = {
    # name: (interpreter, adapter file, v1 function, v5 function)
    "python": ("/usr/bin/python3", "adapters/python/adapter.py", "conformance/python/seed.py",
               "conformance/v5/python/main.py"),
    "node": ("node", "adapters/node/adapter.js", "conformance/node/seed.js", "conformance/v5/node/main.js"),
}
CASES = ("v1", "v5", "v5-logs")
# Variables the shim never passes on (src/config.rs scrubbed): the executor's keys and its own SHIM_* settings.
SCRUBBED = ("APPWRITE_INTERNAL_RUNTIME_KEY", "INTERNAL_RUNTIME_KEY", "OPEN_RUNTIMES_SECRET")


# ---- Request frames, byte for byte as src/protocol.rs writes them ------------------------------------------------

def kv_record(tag, key, value):
    key, value = key.encode(), value if isinstance(value, bytes) else value.encode()
    return b"%s %d %d\n%s%s" % (tag.encode(), len(key), len(value), key, value)


def compact(value):
    # serde_json: no spaces, non-ASCII kept as UTF-8.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def v1_request(encoding, rid, code, file, timeout_ms, deadline_ms):
    env = {"ENV1": "enviroment variable", "OTHER": "x"}
    payload = '{"hello":"world","n":42}'
    headers = {"content-type": "application/json", "user-agent": "curl/8.5.0", "accept": "*/*",
               "x-appwrite-trigger": "http"}
    if encoding == "json":
        body = compact({"path": code, "file": file, "env": env, "payload": payload, "headers": headers,
                        "timeout_ms": timeout_ms, "deadline_ms": deadline_ms})
    else:
        body = b"".join([kv_record("path", "", code), kv_record("file", "", file), kv_record("payload", "", payload),
                         kv_record("timeout_ms", "", str(timeout_ms)), kv_record("deadline_ms", "", str(deadline_ms))]
                        + [kv_record("env", k, v) for k, v in env.items()]
                        + [kv_record("header", k, v) for k, v in headers.items()])
    return b"REQ %s %d\n%s" % (rid.encode(), len(body), body)


def v5_request(encoding, rid, action, timeout_ms, deadline_ms):
    raw = b'{"hello":"world","n":42}'
    headers = {"host": "localhost:3000", "user-agent": "curl/8.5.0", "accept": "*/*",
               "content-type": "application/json", "content-length": str(len(raw)), "x-action": action}
    query = {"a": "1", "b": ""}
    fields = {"method": "POST", "scheme": "http", "host": "localhost", "port": 3000, "path": "/run",
              "query_string": "a=1&b", "url": "http://localhost:3000/run?a=1&b", "json_body": True,
              "timeout_ms": timeout_ms, "deadline_ms": deadline_ms}
    if encoding == "json":
        order = ("method", "scheme", "host", "port", "path", "query_string", "query", "url", "headers", "json_body",
                 "timeout_ms", "deadline_ms")
        meta = compact({k: (query if k == "query" else headers if k == "headers" else fields[k]) for k in order})
    else:
        meta = b"".join([kv_record(k, "", "1" if v is True else str(v)) for k, v in fields.items()]
                        + [kv_record("header", k, v) for k, v in headers.items()]
                        + [kv_record("query", k, v) for k, v in query.items()])
    return b"REQ %s %d %d\n%s%s" % (rid.encode(), len(meta), len(meta) + len(raw), meta, raw)


# ---- The adapter process --------------------------------------------------------------------------------------

class Adapter:
    def __init__(self, name, case, cpu, interpreter=None):
        program, file, v1_fn, v5_fn = ADAPTERS[name]
        program = shlex.split(interpreter) if interpreter else [program]
        fn = ROOT / (v1_fn if case == "v1" else v5_fn)
        self.code, self.entry = str(fn.parent), fn.name
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIM_") and k not in SCRUBBED}
        env.update({"SHIM_PROTOCOL": "1" if case == "v1" else "2", "SHIM_CONTRACT": "v1" if case == "v1" else "v5",
                    "SHIM_CODE_PATH": self.code, "SHIM_ENTRYPOINT": self.entry, "PYTHONUNBUFFERED": "1"})
        argv = program + [str(ROOT / file)]
        if cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(cpu)] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=self.code, env=env, start_new_session=True, bufsize=0)
        self.pid = self.proc.pid  # taskset execs the interpreter: the same pid
        self.stdin, self.out = self.proc.stdin.fileno(), self.proc.stdout
        self.buf = bytearray()
        threading.Thread(target=self._stderr, daemon=True).start()
        self.stderr_lines = []
        kind, tokens, body = self.frame()
        if kind != "READY":
            raise RuntimeError("%s: expected READY, got %s %r" % (name, kind, body[:200]))
        self.version, self.encoding, self.info = tokens[1], tokens[2], body.decode()

    def _stderr(self):
        for line in self.proc.stderr:
            if len(self.stderr_lines) < 50:
                self.stderr_lines.append(line.decode(errors="replace").rstrip())

    def _fill(self):
        chunk = os.read(self.out.fileno(), 1 << 16)
        if not chunk:
            raise RuntimeError("the adapter closed its stdout; its stderr: %s" % "\n".join(self.stderr_lines[-10:]))
        self.buf += chunk

    def frame(self):
        while (nl := self.buf.find(b"\n")) < 0:
            self._fill()
        tokens = self.buf[:nl].decode("ascii").split(" ")
        size = int(tokens[-1])
        while len(self.buf) < nl + 1 + size:
            self._fill()
        body = bytes(self.buf[nl + 1:nl + 1 + size])
        del self.buf[:nl + 1 + size]
        return tokens[0], tokens, body

    def reply(self):
        """The frames up to the reply (LOG frames counted): (kind, tokens, body, logs)."""
        logs = 0
        while True:
            kind, tokens, body = self.frame()
            if kind != "LOG":
                return kind, tokens, body, logs
            logs += 1

    def write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.stdin, view):]

    def cpu(self):
        """(utime + stime in seconds, the threads' on-CPU time from schedstat in seconds)."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
        ns = 0
        for task in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.pid, task)) as f:
                    ns += int(f.read().split()[0])
            except OSError:
                pass  # a thread that ended meanwhile
        return ticks, ns / 1e9

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()


def frames_for(adapter, case, count):
    deadline_ms = int(time.time() * 1000) + 900_000
    rids = [secrets.token_hex(16) for _ in range(count)]
    if case == "v1":
        return [v1_request(adapter.encoding, r, adapter.code, adapter.entry, 900_000, deadline_ms) for r in rids], rids
    action = "jsonResponse" if case == "v5" else "spreadOperatorLogs"
    return [v5_request(adapter.encoding, r, action, 900_000, deadline_ms) for r in rids], rids


EXPECTED = {  # the reply body each case must give, checked on every execution
    "v1": b'{"normal":"Hello World!","env1":"enviroment variable","payload":"{\\"hello\\":\\"world\\",\\"n\\":42}"}',
    "v5": b'{"json":true,"message":"Developers are awesome."}',
    "v5-logs": b"OK",
}


def run(adapter, case, frames, rids, pipeline):
    """Sends the frames and checks every reply; returns the number of LOG frames seen."""
    logs = 0
    expected, want_logs = EXPECTED[case], 2 if case == "v5-logs" else 0
    for at in range(0, len(frames), pipeline):
        batch = frames[at:at + pipeline]
        if len(batch) == 1:
            adapter.write(batch[0])
        else:  # a writer thread: a batch larger than the pipe's buffer must not deadlock against the replies
            writer = threading.Thread(target=adapter.write, args=(b"".join(batch),))
            writer.start()
        for i in range(len(batch)):
            kind, tokens, body, n = adapter.reply()
            if kind != "RES" or tokens[1] != rids[at + i] or tokens[2] != "200" or n != want_logs or \
                    not body.endswith(expected):
                raise RuntimeError("%s: unexpected reply %s %r (%d LOG frames)" % (case, " ".join(tokens), body[:300], n))
            logs += n
        if len(batch) > 1:
            writer.join()
    return logs


def measure(name, case, args):
    """The median round of args.rounds, each a fresh adapter."""
    rounds = [measure_once(name, case, args, with_strace=args.strace and i == 0) for i in range(args.rounds)]
    best = dict(rounds[0])
    for key in ("cpu_us", "sched_us", "exec_per_s", "wall_us"):
        best[key] = statistics.median(r[key] for r in rounds)
    best["sched_min_us"] = min(r["sched_us"] for r in rounds)
    best["rounds"] = [{k: r[k] for k in ("cpu_us", "sched_us", "exec_per_s")} for r in rounds]
    return best


def measure_once(name, case, args, with_strace):
    adapter = Adapter(name, case, args.cpu, args.interpreter)
    try:
        frames, rids = frames_for(adapter, case, args.warmup + args.n)
        run(adapter, case, frames[:args.warmup], rids[:args.warmup], args.pipeline)
        ticks0, ns0 = adapter.cpu()
        t0 = time.perf_counter()
        run(adapter, case, frames[args.warmup:], rids[args.warmup:], args.pipeline)
        wall = time.perf_counter() - t0
        ticks1, ns1 = adapter.cpu()
        syscalls = strace_count(adapter, case, args) if with_strace else None
        return {"adapter": name, "case": case, "encoding": adapter.encoding, "info": adapter.info, "n": args.n,
                "pipeline": args.pipeline, "cpu_us": (ticks1 - ticks0) / args.n * 1e6,
                "sched_us": (ns1 - ns0) / args.n * 1e6, "exec_per_s": args.n / wall, "wall_us": wall / args.n * 1e6,
                "syscalls": syscalls}
    finally:
        adapter.close()


def traced(pid):
    """Every thread of `pid` has a tracer."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                tracer = next((line.split()[1] for line in f if line.startswith("TracerPid:")), "0")
        except OSError:
            continue
        if tracer == "0":
            return False
    return True


def strace_count(adapter, case, args):
    """System calls per execution over args.strace_n executions, strace attached to every thread."""
    if not shutil.which("strace"):
        return None
    out = tempfile.NamedTemporaryFile(prefix="adapter-cost-strace-", suffix=".txt", delete=False).name
    tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(adapter.pid)], stderr=subprocess.PIPE)
    # Attached once every thread of the adapter has a tracer (strace prints nothing on success until it detaches).
    deadline = time.monotonic() + 10
    while not traced(adapter.pid):
        if tracer.poll() is not None or time.monotonic() > deadline:
            tracer.kill()
            raise RuntimeError("strace did not attach: %s" % tracer.stderr.read().decode(errors="replace")[:300])
        time.sleep(0.01)
    frames, rids = frames_for(adapter, case, args.strace_n)
    run(adapter, case, frames, rids, 1)
    tracer.send_signal(signal.SIGINT)
    tracer.wait()
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
                # % time, seconds, usecs/call, calls, [errors], syscall
                calls[parts[-1]] = int(parts[3])
    os.unlink(out)
    per = {k: v / args.strace_n for k, v in sorted(calls.items(), key=lambda kv: -kv[1])}
    return {"total": sum(per.values()), "by_call": per}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--adapter", action="append", choices=sorted(ADAPTERS), help="repeatable; default: all")
    parser.add_argument("--case", action="append", choices=CASES, help="repeatable; default: all")
    parser.add_argument("-n", type=int, default=20000, help="measured executions per case [20000]")
    parser.add_argument("--warmup", type=int, default=2000, help="executions before measuring [2000]")
    parser.add_argument("--pipeline", type=int, default=1, help="requests in flight at a time [1]")
    parser.add_argument("--cpu", type=int, default=os.cpu_count() - 1, help="CPU the adapter is pinned to [last]")
    parser.add_argument("--rounds", type=int, default=3, help="fresh adapters per case; the median is shown [3]")
    parser.add_argument("--interpreter", help="the command that runs the adapter file, e.g. \"node --cpu-prof\" "
                        "(with one --adapter) [/usr/bin/python3, node]")
    parser.add_argument("--strace", action="store_true", help="also count system calls per execution")
    parser.add_argument("--strace-n", type=int, default=1000, help="executions traced [1000]")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if args.pipeline < 1 or args.n < 1 or args.rounds < 1:
        parser.error("-n, --pipeline and --rounds must be at least 1")
    if args.interpreter and len(args.adapter or ADAPTERS) != 1:
        parser.error("--interpreter needs exactly one --adapter")
    # The driver keeps off the adapter's CPU.
    others = set(range(os.cpu_count())) - {args.cpu}
    if others:
        os.sched_setaffinity(0, others)
    rows = []
    for name in args.adapter or sorted(ADAPTERS):
        for case in args.case or CASES:
            rows.append(measure(name, case, args))
            if not args.json:
                print_row(rows[-1], header=len(rows) == 1, strace=args.strace)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.strace:
        print("\nsystem calls per execution, by call:")
        for r in rows:
            if r["syscalls"]:
                calls = ", ".join("%s %.2f" % kv for kv in r["syscalls"]["by_call"].items() if kv[1] >= 0.01)
                print("  %-6s %-8s %s" % (r["adapter"], r["case"], calls))


def print_row(r, header, strace):
    if header:
        print("%-6s %-8s %-4s %8s %9s %10s %8s %10s%s" % ("lang", "case", "enc", "n", "cpu µs", "sched µs", "min µs",
                                                          "exec/s", "  syscalls" if strace else ""))
    line = "%-6s %-8s %-4s %8d %9.1f %10.1f %8.1f %10.0f" % (r["adapter"], r["case"], r["encoding"], r["n"], r["cpu_us"],
                                                           r["sched_us"], r["sched_min_us"], r["exec_per_s"])
    if r["syscalls"]:
        line += "  %8.2f" % r["syscalls"]["total"]
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
