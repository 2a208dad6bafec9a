#!/usr/bin/env bash
# A scale-out run of the python runtime image on Docker Swarm, on the engine this machine has: a rolling
# update, a SIGKILLed replica and scaling, all under bounded load through a load balancer, with no request
# lost except those in flight on the killed replica.
#
#   tests/swarm/run.sh          Env: SWARM_SECONDS (60) of load, SWARM_CONCURRENCY (4) connections,
#                               KEEP=1 keeps everything it made (printed at the end), to look at.
#
# What it does:
#   1. A single-node swarm: `docker swarm init --advertise-addr 127.0.0.1` when this node is in none (then
#      `docker swarm leave --force` at the end); an existing one is used as it is and left alone.
#   2. A registry on 127.0.0.1:<free port> (Debian's docker-registry, /usr/bin/docker-registry serve, with
#      filesystem storage in the temp folder; dockerd trusts 127.0.0.1 registries without TLS). The python
#      runtime image runtime-shim-test/python:3.11 (built by tests/images/run.sh python when missing) is pushed
#      there as 127.0.0.1:<port>/runtime-shim/python:3.11, and so is the function image made FROM it with
#      tests/swarm/Dockerfile (function/index.py in /usr/code): Swarm resolves and starts the service's
#      image from that registry and looks up nothing anywhere else.
#   3. An attachable overlay network and the service: 3 replicas, --endpoint-mode dnsrr (no virtual IP: that
#      and the routing mesh need IPVS, which this kernel lacks), APPWRITE_INTERNAL_RUNTIME_KEY,
#      SHIM_DRAIN_DELAY=2 (after SIGTERM the shim serves 2 s more with /_/ready at 503), --stop-grace-period
#      15s (> drain 2 s + SHIM_SHUTDOWN_GRACE 8 s), --update-order start-first, --update-delay 1s,
#      --restart-condition any (a task Swarm stops for being unhealthy exits 0, and must still be replaced),
#      and the image's HEALTHCHECK (runtime-shim probe) run every second, with room for a loaded machine
#      (--health-interval 1s --health-timeout 10s --health-start-period 60s: the probe is a `docker exec`,
#      which alone can take over 2 s there). A task is "running" only once healthy, which start-first waits for.
#   4. The load balancer. Swarm's DNS (tasks.<service>) answers only inside containers on the overlay network
#      (Docker's embedded resolver, 127.0.0.11), and the host cannot route to the overlay's addresses, so
#      HAProxy on the host could reach no replica. HAProxy therefore runs in a container on the overlay
#      network: a container of the pushed runtime image (a Debian bookworm rootfs) into which the host's
#      /usr/sbin/haproxy (Debian's haproxy package) and the libraries ldd names are bind-mounted (nothing is
#      downloaded, no image built), started with `docker run --network <overlay> -p 127.0.0.1::8080` — a plain
#      container, as the network is attachable, so its port is published on
#      127.0.0.1 only (a swarm service could publish only on every address). Its config
#      (tests/swarm/haproxy.cfg) uses `resolvers` with nameserver 127.0.0.11 and `server-template srv 10
#      tasks.<service>:3000 resolvers docker init-addr none check`, `option httpchk GET /_/ready` (a draining
#      replica is out within ~0.6 s, well inside its 2 s drain), a new server connection per request
#      (`option http-server-close`: no idle connection a draining replica could close under a request), and
#      `retry-on conn-failure` with `option redispatch`: HAProxy retries only a connect that failed, when the
#      request was never sent. Not `empty-response`: that re-sends a request already delivered to a replica that
#      then died, which could run the function twice. A request in flight on the SIGKILLed replica is
#      therefore not retried: HAProxy answers it 502 with `x-lb-error: backend-connection` (its errorfile),
#      which the client counts as a connection error — the connection to the replica broke; a shim's own
#      errors carry x-shim-error instead. All load goes to that 127.0.0.1 port only, one connection per request:
#      on a keep-alive client connection's second or later request, HAProxy answers a server that died under
#      it by closing the client connection silently, and logs nothing (tests/swarm/load.py says more), so
#      where that request went could not be proven.
#   5. SWARM_SECONDS of load (tests/swarm/load.py: stdlib, SWARM_CONCURRENCY clients in parallel, a unique
#      id per request, bounded in time and count) with, at 10/60, 25/60, 35/60 and 45/60 of it: a start-first
#      rolling update (`docker service update --force`), `docker kill --signal KILL` of one replica's
#      container, scaling 3 → 5, and 5 → 2.
#   6. Checks (tests/swarm/check.py, then here): every answer names the id it was asked for; no id answered
#      twice, and none executed twice (each replica appends the ids it runs to a file of the bind-mounted temp
#      folder); every request answered 200 but those in flight on the killed replica, which are connection
#      errors, each proven in flight on it: under way at the instant of the kill, logged by HAProxy (which logs
#      every request) as sent to the killed replica's address and broken by the server side (termination
#      S…), and executed by no other replica; at most SWARM_CONCURRENCY of them; no HTTP error from a shim or
#      HAProxy otherwise. Every task container Swarm stopped (update, scale-down: `docker events`, as tasks of
#      removed slots vanish from `docker service ps`) drained — its SIGTERM, then at least the 2 s drain
#      alive — and exited 0; the killed one 137; the update completed; the service ends 2/2 running and
#      healthy. Counts, then "N passed, N failed".
#
# Everything it makes (service, network, HAProxy container, registry process, images it tagged, the temp
# folder, and the swarm if it made it) is removed on exit, failed or not. Every wait is a bounded poll.
# About 1.5 minutes when the runtime image exists (20 s of setup, 60 s of load, 10 s of checks and cleanup).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/swarm
cd "$root"
started_all=$SECONDS
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'swarm: ERROR: %s\n' "$*" >&2; exit 2; }

SECONDS_OF_LOAD=${SWARM_SECONDS:-60}
CONCURRENCY=${SWARM_CONCURRENCY:-4}
DRAIN=2 # SHIM_DRAIN_DELAY of the replicas, in seconds
KEEP=${KEEP:-}
RUNTIME_IMAGE=runtime-shim-test/python:3.11
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
REGISTRY_BIN=/usr/bin/docker-registry
for tool in docker python3 curl ldd tar; do command -v "$tool" >/dev/null || die "$tool is needed"; done
[ -x "$HAPROXY" ] || die "haproxy is needed (Debian package haproxy; scripts/install-test-deps.sh installs it)"
[ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN is needed (Debian package docker-registry; scripts/install-test-deps.sh installs it)"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info)"
[[ $SECONDS_OF_LOAD =~ ^[0-9]+$ ]] && [ "$SECONDS_OF_LOAD" -ge 20 ] || die "SWARM_SECONDS must be a whole number >= 20"

tag=rs-swarm-$$
svc=$tag-fn net=$tag-net lbc=$tag-lb
KEY=swarm-key-$RANDOM$RANDOM
tmp=$(mktemp -d /tmp/runtime-swarm.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/exec" "$tmp/registry" "$tmp/lb" "$tmp/lb-run" "$tmp/fn" "$tmp/haproxy/lib"
chmod 1777 "$tmp/exec" "$tmp/lb-run" # the replicas and HAProxy run as appwrite (uid 2001)
made_swarm='' registry_pid='' events_pid='' load_pid='' images=()

cleanup() {
  local rc=$?
  set +e
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null
  if [ -n "$KEEP" ]; then
    echo "KEEP=1: kept service $svc, network $net, container $lbc, registry pid ${registry_pid:-none} on port ${port:-?}," \
      "images ${images[*]:-none}, $tmp$([ -n "$made_swarm" ] && echo ', and the swarm this run made')" >&2
    [ -z "$events_pid" ] || kill "$events_pid" 2>/dev/null
    exit "$rc"
  fi
  docker rm -f "$lbc" >/dev/null 2>&1
  if docker service inspect "$svc" >/dev/null 2>&1; then
    docker service rm "$svc" >/dev/null 2>&1
    local i
    for i in $(seq 1 60); do # the tasks' containers go (bounded)
      [ -z "$(docker ps -aq --filter "label=com.docker.swarm.service.name=$svc")" ] && break
      sleep 0.5
    done
  fi
  docker ps -aq --filter "label=com.docker.swarm.service.name=$svc" | xargs -r docker rm -f >/dev/null 2>&1
  for i in $(seq 1 20); do # an overlay network goes once no endpoint is left on it
    docker network inspect "$net" >/dev/null 2>&1 || break
    docker network rm "$net" >/dev/null 2>&1 && break
    sleep 0.5
  done
  [ -z "$events_pid" ] || kill "$events_pid" 2>/dev/null
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null
  [ ${#images[@]} -eq 0 ] || docker rmi -f "${images[@]}" >/dev/null 2>&1
  [ -z "$made_swarm" ] || docker swarm leave --force >/dev/null 2>&1
  [ -z "$registry_pid" ] || wait "$registry_pid" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# poll SECONDS COMMAND...: run COMMAND every 0.5 s until it succeeds, at most SECONDS.
poll() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- 1. the swarm ----
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
case $state in
  inactive)
    say "docker swarm init --advertise-addr 127.0.0.1 (left again at the end)"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
    made_swarm=1 ;;
  active)
    [ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] || die "this node is in a swarm but not a manager: cannot create services"
    say "using the swarm this node is already in (not leaving it)" ;;
  *) die "this node's swarm state is '$state': neither inactive nor active" ;;
esac

# ---- 2. the registry and the images ----
# The image's HEALTHCHECK is what Swarm waits for: an image built before it had one is rebuilt too.
has_healthcheck() { [ -n "$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$RUNTIME_IMAGE" 2>/dev/null)" ]; }
if ! has_healthcheck; then
  say "no $RUNTIME_IMAGE with a HEALTHCHECK: building it (tests/images/run.sh python)"
  tests/images/run.sh python || die "tests/images/run.sh python failed"
  has_healthcheck || die "tests/images/run.sh python made no $RUNTIME_IMAGE with a HEALTHCHECK"
fi
port=$(free_port)
cat > "$tmp/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
EOF
"$REGISTRY_BIN" serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
registry_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 200 ]; }
poll 20 registry_up || { cat "$tmp/registry.log" >&2; die "the registry did not answer on 127.0.0.1:$port"; }
reg=127.0.0.1:$port
base=$reg/runtime-shim/python:3.11
fn_image=$reg/runtime-shim/swarm-fn:3.11
say "registry on $reg (pid $registry_pid); pushing $base"
t=$SECONDS
images+=("$base")
docker tag "$RUNTIME_IMAGE" "$base"
docker push -q "$base" >"$tmp/push.log" 2>&1 || { cat "$tmp/push.log" >&2; die "docker push $base failed"; }
say "pushed in $((SECONDS - t)) s"
t=$SECONDS

# The function image: the function's files in /usr/code, FROM the pushed image (tests/swarm/Dockerfile says
# why not the tarball).
mkdir -p "$tmp/fn/code"
cp "$here/function/index.py" "$tmp/fn/code/"
images+=("$fn_image")
docker build -q --build-arg "BASE_IMAGE=$base" -f "$here/Dockerfile" -t "$fn_image" "$tmp/fn" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; die "building the function image failed"; }
docker push -q "$fn_image" >"$tmp/push.log" 2>&1 || { cat "$tmp/push.log" >&2; die "docker push $fn_image failed"; }

# HAProxy: the host's binary and the libraries it links (glibc and libm are the image's own, the same Debian
# bookworm), bind-mounted into a container of the pushed runtime image: no image to build.
cp "$HAPROXY" "$tmp/haproxy/haproxy"
ldd "$HAPROXY" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  case ${lib##*/} in libc.so.*|libm.so.*|ld-linux*) ;; *) cp -L "$lib" "$tmp/haproxy/lib/" ;; esac
done
chmod -R a+rX "$tmp/haproxy"
lb_run=(--no-healthcheck --entrypoint /opt/haproxy/haproxy -e LD_LIBRARY_PATH=/opt/haproxy/lib -v "$tmp/haproxy:/opt/haproxy:ro")
# (Its output captured first: `| grep -q` would end the pipe early, and pipefail then fails on the SIGPIPE.)
lb_version=$(docker run --rm "${lb_run[@]}" "$base" -v 2>&1) || true
[[ $lb_version == "HAProxy version"* ]] || die "haproxy does not run in a container of $base: $lb_version"
say "function image $fn_image built and pushed in $((SECONDS - t)) s"

# ---- 3. the network and the service ----
docker network create --driver overlay --attachable "$net" >/dev/null || die "creating the overlay network failed"
# Every start and end of a task container, with its exit code (tasks of removed slots vanish from
# `docker service ps`).
docker events --filter type=container --filter event=start --filter event=kill --filter event=die --filter "label=com.docker.swarm.service.name=$svc" \
  --format '{{json .}}' >"$tmp/containers.jsonl" 2>/dev/null &
events_pid=$!
say "service $svc: 3 replicas of $fn_image on $net"
docker service create --detach --quiet --name "$svc" --network "$net" --replicas 3 --endpoint-mode dnsrr \
  --env "APPWRITE_INTERNAL_RUNTIME_KEY=$KEY" --env APPWRITE_ENTRYPOINT_NAME=index.py --env "SHIM_DRAIN_DELAY=$DRAIN" \
  --stop-grace-period 15s --update-order start-first --update-delay 1s --update-parallelism 1 \
  --update-failure-action pause --restart-condition any --restart-delay 1s \
  --health-interval 1s --health-timeout 10s --health-retries 3 --health-start-period 60s \
  --mount "type=bind,source=$tmp/exec,target=/mnt/swarm" \
  "$fn_image" >/dev/null || die "docker service create failed"

# running_healthy N: the service has N replicas running and every one of their containers is healthy.
running_healthy() {
  local want=$1 ids health
  [ "$(docker service ls --filter "name=$svc" --format '{{.Replicas}}')" = "$want/$want" ] || return 1
  ids=$(docker ps -q --filter "label=com.docker.swarm.service.name=$svc")
  [ "$(echo "$ids" | grep -c .)" = "$want" ] || return 1
  health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids | sort -u)
  [ "$health" = healthy ]
}
if ! poll 90 running_healthy 3; then
  docker service ps --no-trunc "$svc" >&2
  die "the service did not reach 3/3 running and healthy within 90 s"
fi

# ---- 4. HAProxy, in a container on the overlay network ----
sed "s/@SERVICE@/$svc/g" "$here/haproxy.cfg" > "$tmp/lb/haproxy.cfg"
errorfile() { # STATUS REASON KIND TEXT
  printf 'HTTP/1.1 %s %s\r\ncontent-type: application/json\r\ncache-control: no-cache\r\nconnection: close\r\nx-lb-error: %s\r\n\r\n{"lb":"%s"}\n' \
    "$1" "$2" "$3" "$4" > "$tmp/lb/$1.http"
}
errorfile 502 'Bad Gateway' backend-connection 'the connection to the replica broke before it answered'
errorfile 503 'Service Unavailable' no-server 'no replica is up'
errorfile 504 'Gateway Timeout' timeout 'the replica did not answer in time'
chmod 644 "$tmp/lb/"*
docker run -d --name "$lbc" --network "$net" -p 127.0.0.1::8080 -v "$tmp/lb:/etc/swarm-lb:ro" -v "$tmp/lb-run:/run/swarm-lb" \
  "${lb_run[@]}" "$base" \
  -db -f /etc/swarm-lb/haproxy.cfg >/dev/null ||
  die "starting the HAProxy container failed"
published=$(docker port "$lbc" 8080/tcp)
lb_port=$(echo "$published" | head -n 1 | sed 's/.*://')
[ -n "$lb_port" ] || die "the HAProxy container has no published port"
[ "$(echo "$published" | sed 's/:[0-9]*$//' | sort -u)" = 127.0.0.1 ] || die "HAProxy's port is published on more than 127.0.0.1: $published"
lb_url=http://127.0.0.1:$lb_port/

# Through HAProxy, until all 3 replicas have answered (bounded): the design works before the load starts.
# answer_all N: requests through HAProxy until N replicas have answered (a few rounds of N at most).
answer_all() {
  python3 - "$lb_url" "$KEY" "$1" <<'PY'
import json, sys, urllib.request, uuid
want = int(sys.argv[3])
hosts = set()
for i in range(4 * want):
    rid = f"probe-{uuid.uuid4().hex[:12]}"
    req = urllib.request.Request(sys.argv[1], data=json.dumps({"payload": rid}).encode(), method="POST",
                                 headers={"content-type": "application/json", "x-internal-challenge": sys.argv[2],
                                          "x-request-id": rid})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            hosts.add(json.load(r)["host"])
    except Exception:
        pass
sys.exit(0 if len(hosts) == want else 1)
PY
}
passed=0 failed=0
result() { if [ "$1" = ok ]; then passed=$((passed + 1)); echo "ok   $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi; }
if poll 30 answer_all 3; then
  result ok "3/3 replicas running and healthy, and all 3 answer through HAProxy on 127.0.0.1:$lb_port (tasks.$svc)"
else
  docker logs "$lbc" 2>&1 | tail -n 20 >&2
  result fail "all 3 replicas answer through HAProxy on 127.0.0.1:$lb_port within 30 s"
  die "HAProxy does not reach the replicas"
fi
say "setup done in $((SECONDS - started_all)) s"

# ---- 5. the load, with the update, the kill and the scaling ----
: > "$tmp/events"
at() { awk -v s="$SECONDS_OF_LOAD" -v x="$1" 'BEGIN { print s * x / 60 }'; }
t0=$EPOCHREALTIME
timeout $((SECONDS_OF_LOAD + 60)) python3 "$here/load.py" "$lb_url" "$KEY" "$SECONDS_OF_LOAD" "$CONCURRENCY" \
  $((SECONDS_OF_LOAD * 1000)) "$tmp/results.jsonl" &
load_pid=$!
sleep_until() { # OFFSET: sleep until t0 + OFFSET seconds
  local left
  left=$(awk -v t0="$t0" -v off="$1" -v now="$EPOCHREALTIME" 'BEGIN { l = t0 + off - now; printf "%.3f", (l > 0 ? l : 0) }')
  sleep "$left"
}
now_rel() { awk -v t0="$t0" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f", now - t0 }'; }

sleep_until "$(at 10)"
say "+$(now_rel) s: start-first rolling update (docker service update --force)"
docker service update --detach --quiet --force "$svc" >/dev/null || echo "docker service update failed" >&2

sleep_until "$(at 25)"
victim=$(docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$svc" --filter health=healthy | head -n 1)
[ -n "$victim" ] || victim=$(docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$svc" | head -n 1)
victim_host=$(docker inspect -f '{{.Config.Hostname}}' "$victim")
victim_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$victim")
{ echo "killed_id $victim"; echo "killed_host $victim_host"; echo "killed_ip $victim_ip"; echo "kill_rel $(now_rel)"
  echo "kill_before $EPOCHREALTIME"; } >> "$tmp/events"
say "+$(now_rel) s: docker kill --signal KILL $victim_host ($victim_ip)"
docker kill --signal KILL "$victim" >/dev/null || echo "docker kill failed" >&2
echo "kill_after $EPOCHREALTIME" >> "$tmp/events"

sleep_until "$(at 35)"
say "+$(now_rel) s: scale 3 -> 5"
docker service scale --detach "$svc=5" >/dev/null 2>&1 || echo "docker service scale $svc=5 failed" >&2
sleep_until "$(at 45)"
# The 5 must be up before 3 go: a task stopped in its first moments, while launch.sh is PID 1 (sh, no trap:
# PID 1 ignores signals it has no handler for) and has not exec'd the shim yet, loses the SIGTERM and is
# SIGKILLed after the grace period (137). On a loaded machine new tasks start slowly; this run tests
# stopping serving replicas (tests/swarm/Dockerfile).
poll 40 running_healthy 5 || echo "scale-up not 5/5 running and healthy after 40 s more: scaling down anyway" >&2
say "+$(now_rel) s: scale 5 -> 2"
docker service scale --detach "$svc=2" >/dev/null 2>&1 || echo "docker service scale $svc=2 failed" >&2

load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=''
say "+$(now_rel) s: the load stopped (exit $load_rc)"
if [ "$load_rc" = 0 ]; then result ok "the load stopped by itself after $SECONDS_OF_LOAD s"
else result fail "the load ended with exit code $load_rc (124: killed by the time bound)"; fi

# ---- 6. the end state and the checks ----
if poll 120 running_healthy 2; then
  result ok "the service ends 2/2 running and healthy"
  # Both were started during the run: HAProxy found them through tasks.<service>.
  if poll 20 answer_all 2; then result ok "both final replicas answer through HAProxy"
  else result fail "the 2 final replicas do not both answer through HAProxy"; fi
else result fail "the service is not 2/2 running and healthy within 120 s: $(docker service ls --filter "name=$svc" --format '{{.Replicas}}')"; fi
# Every container Swarm stopped has ended (scale-down stops take up to the drain plus the in-flight work).
stopped_all() { [ "$(docker ps -q --filter "label=com.docker.swarm.service.name=$svc" | grep -c .)" = 2 ]; }
poll 30 stopped_all || echo "containers still stopping: $(docker ps --filter "label=com.docker.swarm.service.name=$svc" --format '{{.Names}} {{.Status}}')" >&2
# The update is done when every running task carries the service's ForceUpdate counter (a later scale may
# reset UpdateStatus, so that alone cannot tell).
force=$(docker service inspect -f '{{.Spec.TaskTemplate.ForceUpdate}}' "$svc")
stale_tasks() { docker service ps -q --filter desired-state=running "$svc" | xargs -r docker inspect -f '{{.Spec.ForceUpdate}}' | grep -vcx "$force"; }
poll 60 eval '[ "$(stale_tasks)" = 0 ]' || true
if [ "$force" -ge 1 ] && [ "$(stale_tasks)" = 0 ]; then result ok "the rolling update reached every running task (ForceUpdate $force)"
else result fail "running tasks not updated: $(stale_tasks) (service ForceUpdate $force)"; fi
image_used=$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$svc")
case $image_used in
  "$fn_image@sha256:"*) result ok "the service runs $fn_image, resolved in the run's registry (${image_used#*@})" ;;
  *) result fail "the service's image is '$image_used', not $fn_image@sha256:… from the run's registry" ;;
esac

sleep 1 # the last die events
kill "$events_pid" 2>/dev/null || true
events_pid=''
# The request log, from HAProxy's ring buffer through its CLI socket.
python3 - "$tmp/lb-run/admin.sock" > "$tmp/haproxy.log" <<'PY' || echo "could not read HAProxy's request log" >&2
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"show events requests\n")
while True:
    data = s.recv(65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
PY
docker logs "$lbc" > "$tmp/haproxy-messages.log" 2>&1 || true
echo "tasks (docker service ps --no-trunc):"
docker service ps --no-trunc --format '  {{.Name}} {{.Image}} desired={{.DesiredState}} {{.CurrentState}} {{.Error}}' "$svc" |
  sed "s#$reg/runtime-shim/##" || true
docker ps -aq --filter "label=com.docker.swarm.service.name=$svc" |
  xargs -r docker inspect -f '  container {{.Config.Hostname}} {{.State.Status}} exit {{.State.ExitCode}}' 2>/dev/null || true
python3 "$here/check.py" "$tmp" "$CONCURRENCY" "$DRAIN" > "$tmp/check.out" || { cat "$tmp/check.out"; result fail "check.py failed"; }
grep -v -e '^ok ' -e '^FAIL ' "$tmp/check.out" || true
while read -r word rest; do
  case $word in ok) result ok "$rest" ;; FAIL) result fail "$rest" ;; esac
done < "$tmp/check.out"
echo "wall time: $((SECONDS - started_all)) s (load $SECONDS_OF_LOAD s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
