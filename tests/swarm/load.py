#!/usr/bin/env python3
"""Bounded load for tests/swarm/run.sh (stdlib only).

  load.py URL KEY SECONDS CONCURRENCY MAX_REQUESTS OUT

CONCURRENCY threads send v1 executions (POST /, x-internal-challenge KEY, {"payload": <id>}) one after another, each with a unique
id (also in x-request-id, which HAProxy logs) until SECONDS have passed or MAX_REQUESTS were sent, whichever
comes first; a request may take 15 s at most. Each request on a new connection (`connection: close`): when a
server dies under a request that is not the first of a keep-alive client connection, HAProxy closes that client
connection without an answer and without logging it (http_ana.c, abort_keep_alive: "the client is required to
retry"), so the run could not prove where it was sent; on a connection's first request it answers 502 and logs
the server, its address and the termination state. One JSON line per request goes to OUT: id, start and end times,
status (or the socket error), the id and host the reply names, and the x-lb-error / x-shim-error headers.
"""
import http.client
import json
import sys
import threading
import time
import uuid

url, key, seconds, concurrency, max_requests, out = sys.argv[1:7]
seconds, concurrency, max_requests = float(seconds), int(concurrency), int(max_requests)
host_port = url.split("//", 1)[1].split("/", 1)[0]
host, port = host_port.rsplit(":", 1)
run = uuid.uuid4().hex[:8]
deadline = time.time() + seconds
lock = threading.Lock()
sent = 0
lines = []


def take():
    global sent
    with lock:
        if sent >= max_requests or time.time() >= deadline:
            return False
        sent += 1
        return True


def worker(w):
    conn = None
    n = 0
    while take():
        n += 1
        rid = f"{run}-{w}-{n}"
        rec = {"id": rid, "t0": time.time()}
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=15)
            body = json.dumps({"payload": rid})
            conn.request("POST", "/", body=body, headers={
                "content-type": "application/json", "x-internal-challenge": key, "x-request-id": rid,
                "connection": "close"})
            r = conn.getresponse()
            data = r.read()
            rec["status"] = r.status
            rec["lb_error"] = r.getheader("x-lb-error")
            rec["shim_error"] = r.getheader("x-shim-error")
            if r.status == 200:
                try:
                    reply = json.loads(data)
                    rec["reply_id"], rec["host"] = reply.get("id"), reply.get("host")
                except ValueError:
                    rec["body"] = data[:200].decode("utf-8", "replace")
            else:
                rec["body"] = data[:200].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            rec["error"] = f"{type(e).__name__}: {e}"
        finally:
            if conn is not None:
                conn.close()
            conn = None
        rec["t1"] = time.time()
        with lock:
            lines.append(rec)


threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join(seconds + 30)
with open(out, "w") as f:
    for rec in lines:
        f.write(json.dumps(rec) + "\n")
print(f"load: {len(lines)} requests in {seconds:.0f} s over {concurrency} connections", file=sys.stderr)
