#!/bin/sh
# v5 start step (SPEC §6 "Files"): extracts the build step's $MOUNT_DIR/code.tar.gz into the function folder
# ($SHIM_CODE_PATH), recording `extract=<seconds>` in $SHIM_TELEMETRY_DIR/timings.txt, takes the entry file
# the build recorded in .open-runtimes, then runs the start command from $SERVER_DIR — with bash when the
# image has it: bash execs a command that is the whole script, so the shim that helpers/server.sh execs is
# PID 1 (it reaps orphans and turns `docker stop` into a clean exit); dash would stay as its parent.
#   /usr/local/server/helpers/start.sh "<start command>"       e.g. "bash helpers/server.sh"
# For tests on a host, override: MOUNT_DIR (/mnt/code), SHIM_CODE_PATH (/usr/local/server/src/function),
# SHIM_TELEMETRY_DIR (/mnt/telemetry), SERVER_DIR (/usr/local/server), SHIM.
set -eu
MOUNT_DIR=${MOUNT_DIR:-/mnt/code}
SERVER_DIR=${SERVER_DIR:-/usr/local/server}
FUNCTION_DIR=${SHIM_CODE_PATH:-$SERVER_DIR/src/function}
TIMINGS=${SHIM_TELEMETRY_DIR:-/mnt/telemetry}/timings.txt
SHIM=${SHIM:-/opt/runtime-shim/runtime-shim}
[ -x "$SHIM" ] || SHIM=$(command -v runtime-shim || echo "$SHIM")
die() { echo "start: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "takes one argument, the start command (quote it), e.g. \"bash helpers/server.sh\""
[ -f "$MOUNT_DIR/code.tar.gz" ] || die "no $MOUNT_DIR/code.tar.gz: run the build step (helpers/build.sh) and mount its folder at $MOUNT_DIR"
"$SHIM" code extract --timings "$TIMINGS" "$MOUNT_DIR/code.tar.gz" "$FUNCTION_DIR" ||
  die "cannot extract $MOUNT_DIR/code.tar.gz into $FUNCTION_DIR"
# The entry file the code was built for wins over the image's default.
entry=$(sed -n 's/^OPEN_RUNTIMES_ENTRYPOINT=//p' "$FUNCTION_DIR/.open-runtimes" 2>/dev/null | tail -n 1)
[ -z "$entry" ] || export OPEN_RUNTIMES_ENTRYPOINT="$entry"
cd "$SERVER_DIR" || die "no folder $SERVER_DIR"
if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; else exec sh -c "$1"; fi
