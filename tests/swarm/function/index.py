# The scale-out run's function (tests/swarm/run.sh), a v1 one: it answers the request's unique id (the
# payload) and the replica's hostname (its container's short id), after appending the id to a file of its
# replica on the bind-mounted /mnt/swarm, so the run can tell whether any id was executed twice. The short
# sleep keeps a few requests in flight at any moment, so the SIGKILLed replica has some to lose; an id
# starting with "slow-" sleeps 5 s (to look at a kill by hand).
import socket
import time

HOST = socket.gethostname()
LOG = "/mnt/swarm/" + HOST + ".log"


def main(req, res):
    rid = req.payload
    with open(LOG, "a") as f:
        f.write(rid + "\n")
    time.sleep(5 if rid.startswith("slow-") else 0.02)
    res.json({"id": rid, "host": HOST})
