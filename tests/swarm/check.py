#!/usr/bin/env python3
"""The checks of tests/swarm/run.sh over what the run left in its temp folder.

  check.py TMP CONCURRENCY DRAIN_SECONDS

Reads TMP/results.jsonl (load.py), TMP/exec/<host>.log (the ids each replica executed), TMP/events (the kill:
`name value` lines written by run.sh), TMP/containers.jsonl (docker events: task containers' starts, the
signals sent to them, and their ends) and TMP/haproxy.log (one `lb <id> <server> <address> <status>
<termination> <retries> <ms>` line per request, from HAProxy's ring buffer: none is dropped).
Prints the counts, then one `ok <what>` or `FAIL <what>` line per check.

A connection error is excused only when it is proven to have been in flight on the SIGKILLed replica: HAProxy
logged it as sent to that replica's address and broken by the server side (termination state S…), it was
under way at the instant of the kill, and no other replica executed its id. Anything else fails.
"""
import collections
import glob
import json
import os
import sys

tmp, concurrency, drain = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
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
logged = [r for r in conn_errors if r["id"] in lb]
killed_host = ev.get("killed_host")
# The replicas' own record: an id whose connection broke ran on the killed replica, or nowhere.
elsewhere = [r for r in conn_errors if set(executed.get(r["id"], [])) - {killed_host}]
# Sent to the killed replica's address, and ended by the server side (S: the server aborted or broke the
# connection), not by the client or HAProxy's own timeouts.
on_killed = [r for r in logged if lb[r["id"]]["addr"] == killed_ip and lb[r["id"]]["term"].startswith("S")]
per_host = collections.Counter(r.get("host") for r in ok200)
dup_answers = sum(n - 1 for n in answered.values() if n > 1) + sum(n - 1 for n in sent_ids.values() if n > 1)
dup_exec = {i: h for i, h in executed.items() if len(h) > 1 and i in sent_ids}  # the load's ids
not_once = [r for r in ok200 if executed.get(r["id"]) != [r.get("host")]]

# ---- task containers' exit codes and lifetimes (docker events) ----
dies, starts, sigterm = [], {}, {}
for line in open(os.path.join(tmp, "containers.jsonl")):
    if line.strip():
        e = json.loads(line)
        a = e.get("Actor", {}).get("Attributes", {})
        cid = e.get("id") or e.get("Actor", {}).get("ID")
        t = e.get("timeNano", 0) / 1e9
        status = e.get("status") or e.get("Action")
        if status == "start":
            starts[cid] = t
        elif status == "kill" and a.get("signal") in ("15", "SIGTERM", "TERM"):
            sigterm.setdefault(cid, t)  # the first SIGTERM: Swarm's stop
        elif status == "die":
            # (id, name, exit code, lifetime, seconds from the first SIGTERM to the end or None)
            dies.append((cid, a.get("name", "?"), a.get("exitCode", "?"), t - starts.get(cid, t),
                         t - sigterm[cid] if cid in sigterm else None))
by_swarm = [d for d in dies if d[0] != killed_id]
killed = [d for d in dies if d[0] == killed_id]
codes = collections.Counter(d[2] for d in by_swarm)
# Drained: sent SIGTERM, then alive for the drain delay at least (the shim keeps serving that long with
# /_/ready at 503; 0.1 s for the gap between the signal and dockerd's event), then exit 0 by itself.
undrained = [d for d in by_swarm if d[4] is None or d[4] < drain - 0.1]
drain_times = sorted(round(d[4], 1) for d in by_swarm if d[4] is not None)

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
      f"the SIGKILLed one: {[d[2] for d in killed]}; seconds from SIGTERM to exit: {drain_times}")
for r in (other + conn_errors)[:10]:
    print(f"   failure: {json.dumps(r)}; HAProxy: {lb.get(r['id'], 'no log line')}; ran on: {executed.get(r['id'], [])}")
for cid, name, code, life, after_term in by_swarm:
    if code != "0" or after_term is None or after_term < drain - 0.1:
        print(f"   stopped by Swarm, exit {code}: {name} ({cid[:12]}), {life:.1f} s after it started, "
              f"{'no SIGTERM seen' if after_term is None else f'{after_term:.1f} s after SIGTERM'}")
for i, h in list(dup_exec.items())[:10]:
    print(f"   executed twice: {i} on {h}")

check(len(results) >= 100, f"the load sent {len(results)} requests (>= 100)")
check(not mismatched, f"every answer names the id it was asked for and its replica ({len(mismatched)} do not)")
check(dup_answers == 0, f"no id answered twice ({dup_answers})")
check(not dup_exec, f"no id executed twice, over the replicas' execution logs ({len(dup_exec)})")
check(not not_once, f"every 200 was executed exactly once, on the replica it names ({len(not_once)} not)")
check(not other, f"no HTTP error from a shim or HAProxy besides the killed replica's broken connections ({len(other)})")
# Connection errors (HAProxy's 502 for a broken replica connection, or a client socket error): each one proven
# in flight on the killed replica, or the run fails.
check(len(conn_errors) <= concurrency, f"connection errors {len(conn_errors)} <= concurrency {concurrency} (at most one in flight per connection)")
check(len(in_flight_at_kill) == len(conn_errors), f"every connection error was in flight at the SIGKILL ({len(in_flight_at_kill)}/{len(conn_errors)})")
check(len(on_killed) == len(conn_errors), f"every connection error was sent by HAProxy to the killed replica's address {killed_ip} and broken there ({len(on_killed)}/{len(conn_errors)})")
check(not elsewhere, f"no id whose connection broke was executed on another replica ({len(elsewhere)})")
unlogged = [r for r in results if r["id"] not in lb]
check(not unlogged, f"HAProxy logged every request ({len(unlogged)} of {len(results)} not)")
check(len(by_swarm) >= 5 and set(codes) == {"0"}, f"every task container stopped by Swarm (update, scale-down: >= 5) exited 0: {len(by_swarm)}, codes {dict(codes)}")
check(by_swarm and not undrained, f"every one drained: SIGTERM, then at least the {drain:g} s drain before it exited ({len(by_swarm) - len(undrained)}/{len(by_swarm)})")
check([d[2] for d in killed] == ["137"], f"the SIGKILLed container ended with 137: {[d[2] for d in killed]}")
for ok, what in checks:
    print(("ok   " if ok else "FAIL ") + what)
