#!/usr/bin/env python3
"""The checks of tests/swarm/run.sh over what the run left in its temp folder.

  check.py TMP CONCURRENCY

Reads TMP/results.jsonl (load.py), TMP/exec/<host>.log (the ids each replica executed), TMP/events (the kill:
`name value` lines written by run.sh), TMP/containers.jsonl (docker events: task containers' starts and ends) and
TMP/haproxy.log (one `lb <id> <server> <address> <status> <termination> <retries> <ms>` line per request).
Prints the counts, then one `ok <what>` or `FAIL <what>` line per check.
"""
import collections
import glob
import json
import os
import sys

tmp, concurrency = sys.argv[1], int(sys.argv[2])
results = [json.loads(l) for l in open(os.path.join(tmp, "results.jsonl")) if l.strip()]
ev = dict(l.rstrip("\n").split(" ", 1) for l in open(os.path.join(tmp, "events")) if " " in l)
kill_before, kill_after = float(ev["kill_before"]), float(ev["kill_after"])
killed_id, killed_ip = ev["killed_id"], ev["killed_ip"]
checks = []


def check(ok, what):
    checks.append((bool(ok), what))


# ---- what the replicas executed ----
executed = collections.defaultdict(list)  # id -> [host, ...]
for path in glob.glob(os.path.join(tmp, "exec", "*.log")):
    host = os.path.basename(path)[:-4]
    for line in open(path):
        if line.strip():
            executed[line.strip()].append(host)

# ---- HAProxy's view: which server each request went to, and its connect retries ----
lb = {}
for line in open(os.path.join(tmp, "haproxy.log"), errors="replace"):
    f = line.split()
    if len(f) >= 8 and f[0] == "lb":
        lb[f[1]] = {"server": f[2], "addr": f[3], "status": f[4], "term": f[5], "retries": f[6]}
retried = sum(1 for v in lb.values() if v["retries"] not in ("0", "-", "+0"))

# ---- the answers ----
sent_ids = collections.Counter(r["id"] for r in results)
ok200 = [r for r in results if r.get("status") == 200]
answered = collections.Counter(r["id"] for r in ok200)
mismatched = [r for r in ok200 if r.get("reply_id") != r["id"] or not r.get("host")]
lb_conn = [r for r in results if r.get("status") == 502 and r.get("lb_error") == "backend-connection"]
socket_errors = [r for r in results if "error" in r]
other = [r for r in results if r.get("status") != 200 and r not in lb_conn and "error" not in r]
conn_errors = lb_conn + socket_errors
in_flight_at_kill = [r for r in conn_errors if r["t0"] <= kill_after and r["t1"] >= kill_before]
# HAProxy logs to stdout without blocking: a line can be lost when dockerd reads its logs late (a loaded
# machine, at the kill), so only the logged ones can be checked for their address.
logged = [r for r in conn_errors if r["id"] in lb]
killed_host = ev.get("killed_host")
# The replicas' own record: an id whose connection broke ran on the killed replica, or nowhere.
elsewhere = [r for r in conn_errors if set(executed.get(r["id"], [])) - {killed_host}]
on_killed = [r for r in logged if lb[r["id"]]["addr"] == killed_ip]
per_host = collections.Counter(r.get("host") for r in ok200)
dup_answers = sum(n - 1 for n in answered.values() if n > 1) + sum(n - 1 for n in sent_ids.values() if n > 1)
dup_exec = {i: h for i, h in executed.items() if len(h) > 1 and i in sent_ids}  # the load's ids
not_once = [r for r in ok200 if executed.get(r["id"]) != [r.get("host")]]

# ---- task containers' exit codes and lifetimes (docker events) ----
dies, starts = [], {}
for line in open(os.path.join(tmp, "containers.jsonl")):
    if line.strip():
        e = json.loads(line)
        a = e.get("Actor", {}).get("Attributes", {})
        cid = e.get("id") or e.get("Actor", {}).get("ID")
        t = e.get("timeNano", 0) / 1e9
        if e.get("status") == "start":
            starts[cid] = t
        elif e.get("status") == "die":
            dies.append((cid, a.get("name", "?"), a.get("exitCode", "?"), t - starts.get(cid, t)))
by_swarm = [d for d in dies if d[0] != killed_id]
killed = [d for d in dies if d[0] == killed_id]
codes = collections.Counter(d[2] for d in by_swarm)

span = (max(r["t1"] for r in results) - min(r["t0"] for r in results)) if results else 0
print(f"requests: {len(results)} in {span:.1f} s over {concurrency} connections; 200: {len(ok200)}; "
      f"connection errors: {len(conn_errors)} ({len(lb_conn)} broken backend connections answered 502 by HAProxy, "
      f"{len(socket_errors)} client socket errors); other failures: {len(other)}")
print(f"duplicates: {dup_answers} answered twice, {len(dup_exec)} executed twice; mismatched answers: {len(mismatched)}; "
      f"HAProxy retried the connect of {retried} requests")
print("per replica (200s): " + ", ".join(f"{h}={n}" for h, n in sorted(per_host.items(), key=lambda x: -x[1])))
print(f"killed replica {ev.get('killed_host', '?')} ({killed_ip}) at +{float(ev.get('kill_rel', 0)):.1f} s: "
      f"{len(on_killed)} of the {len(logged)} connection errors HAProxy logged went to it, {len(in_flight_at_kill)} were in flight at the kill; "
      f"HAProxy logged {len(lb)} of {len(results)} requests")
print(f"exit codes of the task containers Swarm stopped: {dict(codes)} ({len(by_swarm)} containers); "
      f"the SIGKILLed one: {[d[2] for d in killed]}")
for r in (other + conn_errors)[:10]:
    print(f"   failure: {json.dumps(r)}; HAProxy: {lb.get(r['id'], 'no log line')}; ran on: {executed.get(r['id'], [])}")
for cid, name, code, life in by_swarm:
    if code != "0":
        print(f"   stopped by Swarm, exit {code}: {name} ({cid[:12]}), {life:.1f} s after it started")
for i, h in list(dup_exec.items())[:10]:
    print(f"   executed twice: {i} on {h}")

check(len(results) >= 100, f"the load sent {len(results)} requests (>= 100)")
check(not mismatched, f"every answer names the id it was asked for and its replica ({len(mismatched)} do not)")
check(dup_answers == 0, f"no id answered twice ({dup_answers})")
check(not dup_exec, f"no id executed twice, over the replicas' execution logs ({len(dup_exec)})")
check(not not_once, f"every 200 was executed exactly once, on the replica it names ({len(not_once)} not)")
check(not other, f"no HTTP error from a shim or HAProxy besides the killed replica's broken connections ({len(other)})")
# Connection errors: HAProxy's 502 for a broken replica connection, or the client's own socket errors.
check(len(conn_errors) <= concurrency, f"connection errors {len(conn_errors)} <= concurrency {concurrency}")
check(len(in_flight_at_kill) == len(conn_errors), f"every connection error was in flight at the SIGKILL ({len(in_flight_at_kill)}/{len(conn_errors)})")
check(not elsewhere, f"no id whose connection broke was executed on another replica ({len(elsewhere)})")
check(len(on_killed) == len(logged), f"every connection error HAProxy logged was on the killed replica's address ({len(on_killed)}/{len(logged)})")
check(len(by_swarm) >= 5 and set(codes) == {"0"}, f"every task container stopped by Swarm (update, scale-down: >= 5) exited 0: {len(by_swarm)}, codes {dict(codes)}")
check([d[2] for d in killed] == ["137"], f"the SIGKILLed container ended with 137: {[d[2] for d in killed]}")
for ok, what in checks:
    print(("ok   " if ok else "FAIL ") + what)
