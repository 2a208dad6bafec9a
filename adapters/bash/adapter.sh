#!/usr/bin/env bash
# runtime-shim adapter for bash 5: serves a user's `main` function over adapter protocol 1.
# The wire format is docs/adapter-protocol.md; requests come in the `kv` encoding (bash has no JSON parser).
# Needs only coreutils (head, tee, tail, cat, mktemp, mkfifo) besides bash.
#
# The user's file is sourced once, at the top level of this shell (its variables and `declare`s are globals). Each
# request runs `main` in a subshell: what it sets, `cd`s, `exit`s or traps ends with the request. It reads the
# request from REQ_PAYLOAD, REQ_ENV and REQ_HEADERS (associative arrays), REQ_PATH and REQ_FILE, and replies with
# res_send TEXT [STATUS] or res_json JSON_TEXT [STATUS]; the reply travels back through a file.

# The protocol owns fds 0 and 1: keep private copies, point fd 1 at stderr and fd 0 at /dev/null, so that nothing
# user code or a child process prints or reads can touch a frame. The subshell running `main` closes the copies.
exec {__shim_in}<&0 {__shim_out}>&1 </dev/null >&2
__shim_lc_all=${LC_ALL-} __shim_lc_all_set=${LC_ALL+set}
LC_ALL=C # byte semantics for ${#var}, read -N and the header regex; the user's locale is restored for main
__shim_self=${BASH_SOURCE[0]}
__shim_tmp=$(mktemp -d "${TMPDIR:-/tmp}/shim-bash.XXXXXX") || exit 2
trap 'rm -rf "$__shim_tmp"' EXIT
trap 'exit 143' TERM
mkfifo "$__shim_tmp/stderr.fifo" "$__shim_tmp/sleep.fifo" || exit 2
exec {__shim_sleep}<>"$__shim_tmp/sleep.fifo" # never written: `read -t` on it is a sub-second sleep

__shim_fatal() { printf 'bash adapter: %s\n' "$*" >&2; exit 2; }
# A frame whose body is the text $2 (LC_ALL=C: ${#2} is its length in bytes).
__shim_frame() { printf '%s %d\n%s' "$1" "${#2}" "$2" >&"$__shim_out" || __shim_fatal 'could not write a reply'; }

# ---- what the user's main can call -------------------------------------------------------------------------------
__shim_reply() { # TYPE BODY STATUS
  local LC_ALL=C
  if [[ ! $3 =~ ^[2-5][0-9][0-9]$ ]]; then
    printf 'res_send/res_json: status must be an integer from 200 to 599, not %s\n' "$3" >&2
    return 2
  fi
  printf '%s' "$2" >"$__shim_tmp/body" && printf '%s %s %s\n' "$3" "$1" "${#2}" >"$__shim_tmp/reply" # last one wins
}
res_send() { __shim_reply text "${1-}" "${2:-200}"; }
res_json() { __shim_reply json "${1-}" "${2:-200}"; }

# JSON string escaping. Bash's ${s//x/y} is quadratic on long strings: past 64 KiB, sed -z (GNU) does it.
__shim_sed='s/\\/\\\\/g; s/"/\\"/g; s/\n/\\n/g; s/\r/\\r/g; s/\t/\\t/g'
for ((__shim_i = 1; __shim_i < 32; __shim_i++)); do
  ((__shim_i == 9 || __shim_i == 10 || __shim_i == 13)) || __shim_sed+=$(printf '; s/\\x%02x/\\\\u%04x/g' "$__shim_i" "$__shim_i")
done
__shim_escape() { # TEXT -> __shim_json, a JSON string literal
  local LC_ALL=C s=$1 c i
  if ((${#s} > 65536)); then
    __shim_json=\"$(printf '%s' "$s" | sed -z "$__shim_sed")\"
    return
  fi
  s=${s//\\/\\\\} s=${s//\"/\\\"}
  if [[ $s == *[$'\001'-$'\037']* ]]; then
    s=${s//$'\n'/\\n} s=${s//$'\t'/\\t} s=${s//$'\r'/\\r}
    for ((i = 1; i < 32; i++)); do
      printf -v c "\\x$(printf %02x "$i")"
      [[ $s == *"$c"* ]] && s=${s//"$c"/$(printf '\\u%04x' "$i")}
    done
  fi
  __shim_json="\"$s\""
}
json_string() { __shim_escape "${1-}" && printf '%s' "$__shim_json"; } # TEXT -> "TEXT" as JSON
json_object() {                                                       # NAME of an associative array -> {"k":"v",...}
  local -n __shim_obj=$1
  local out='{' sep='' key
  for key in "${!__shim_obj[@]}"; do
    __shim_escape "$key" && out+=$sep$__shim_json: && __shim_escape "${__shim_obj[$key]}" && out+=$__shim_json sep=,
  done
  printf '%s}' "$out"
}

# The ERR trap (errtrace on) records where a command failed, for the 500 message: the stack, with source lines.
__shim_on_err() {
  local status=$? i n=${#FUNCNAME[@]} trace='' line
  ((n > 2)) || return "$status" # a failure at the subshell's top level is main's own status
  # A function failing because its last command did is the same failure, seen one frame up: keep the deeper one.
  [[ $BASH_COMMAND == "${__shim_err_cmd-}" && $status == "${__shim_err_status-}" && n -lt ${__shim_err_depth:-0} ]] && return "$status"
  __shim_err_cmd=$BASH_COMMAND __shim_err_status=$status __shim_err_depth=$n
  for ((i = 1; i < n - 1; i++)); do
    line=()
    [[ ${BASH_SOURCE[i]} == "$__shim_self" ]] || mapfile -t -s "$((BASH_LINENO[i - 1] - 1))" -n 1 line <"${BASH_SOURCE[i]}"
    trace+="    at ${FUNCNAME[i]} (${BASH_SOURCE[i]}:${BASH_LINENO[i - 1]})${line:+: ${line[0]#"${line[0]%%[![:blank:]]*}"}}"$'\n'
  done
  printf '%s' "$trace" >"$__shim_tmp/trace"
  return "$status"
}

# ---- the request: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>" ------------------------------------
__shim_parse() { # LENGTH; the body in $__shim_tmp/request -> REQ_*; fails on a record it cannot read
  local tag k v key val seen=0
  REQ_PATH='' REQ_FILE='' REQ_PAYLOAD='' REQ_TIMEOUT_MS='' REQ_DEADLINE_MS=''
  unset REQ_ENV REQ_HEADERS
  declare -gA REQ_ENV=() REQ_HEADERS=()
  while IFS=' ' read -r tag k v; do
    [[ $k =~ ^[0-9]+$ && $v =~ ^[0-9]+$ ]] || return 1
    ((seen += ${#tag} + ${#k} + ${#v} + 3 + k + v))
    key='' val=''
    ((k == 0)) || { IFS= read -r -N "$k" key && ((${#key} == k)); } || return 1
    ((v == 0)) || { IFS= read -r -N "$v" val && ((${#val} == v)); } || return 1
    case $tag in
      path) REQ_PATH=$val ;; file) REQ_FILE=$val ;; payload) REQ_PAYLOAD=$val ;;
      timeout_ms) REQ_TIMEOUT_MS=$val ;; deadline_ms) REQ_DEADLINE_MS=$val ;;
      env) [[ -z $key ]] || REQ_ENV[$key]=$val ;; header) [[ -z $key ]] || REQ_HEADERS[$key]=$val ;;
    esac
  done <"$__shim_tmp/request"
  # read skips NUL bytes without counting them: then the records do not add up to the body's length.
  ((seen == $1))
}

# ---- the loop: the first round preloads the image's entry file, if any; sourcing must happen at the top level ------
declare -A __shim_fns=() __shim_opts=() # entry file -> its functions / its shell options, as loading left them
__shim_live='' __shim_ready='' __shim_id=''
__shim_full=${SHIM_CODE_PATH:+${SHIM_ENTRYPOINT:+${SHIM_CODE_PATH%/}/$SHIM_ENTRYPOINT}}
[[ -f $__shim_full ]] || __shim_full=''
__shim_header='^REQ ([A-Za-z0-9._-]{1,64}) (.* )?(0|[1-9][0-9]*)$'
while :; do
  if [[ -z $__shim_full ]]; then
    [[ -n $__shim_ready ]] || { __shim_frame 'READY 1 kv' "bash $BASH_VERSION"; __shim_ready=1; }
    if ! IFS= read -r -n 256 -u "$__shim_in" __shim_line; then
      [[ -z $__shim_line ]] && exit 0 # EOF between frames: the shim is done with us
      __shim_fatal 'input ended inside a request header'
    fi
    ((${#__shim_line} < 256)) || __shim_fatal 'a request header is longer than 256 bytes'
    [[ $__shim_line =~ $__shim_header ]] || __shim_fatal "bad request header: $__shim_line"
    __shim_id=${BASH_REMATCH[1]}
    # GNU head -c never reads past the body (and the shim sends nothing more before our reply).
    head -c "${BASH_REMATCH[3]}" <&"$__shim_in" >"$__shim_tmp/request" || __shim_fatal 'could not read a request body'
    if ! __shim_parse "${BASH_REMATCH[3]}"; then
      __shim_frame "ERR $__shim_id 500" 'the request could not be read: bash variables cannot hold NUL bytes'
      continue
    fi
    __shim_dir=${REQ_PATH:-${SHIM_CODE_PATH:-/usr/code}}
    if [[ -z $REQ_FILE ]]; then
      __shim_frame "ERR $__shim_id 404" "no entry file was named for $__shim_dir: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME"
      continue
    fi
    [[ $REQ_FILE == /* ]] && __shim_full=$REQ_FILE || __shim_full=${__shim_dir%/}/$REQ_FILE
  fi

  if [[ -z ${__shim_fns[$__shim_full]+set} ]]; then # first use of this file: source it, here at the top level
    if [[ ! -f $__shim_full ]]; then
      [[ -z $__shim_id ]] || __shim_frame "ERR $__shim_id 404" "entry file $__shim_full does not exist: expected a bash file defining a function main"
      __shim_full='' && continue
    fi
    unset -f main
    { set +o && shopt -p; } >"$__shim_tmp/adapter-options"
    LC_ALL=$__shim_lc_all
    [[ -n $__shim_lc_all_set ]] || unset LC_ALL
    source "$__shim_full"
    __shim_status=$?
    { set +o && shopt -p; } >"$__shim_tmp/file-options"
    source "$__shim_tmp/adapter-options"
    LC_ALL=C
    if ! declare -F main >/dev/null; then # not cached: the next request sources it again
      [[ $__shim_status == 0 ]] && __shim_why='' || __shim_why=" (sourcing it returned status $__shim_status: see the logs)"
      [[ -z $__shim_id ]] || __shim_frame "ERR $__shim_id 404" "$__shim_full defines no function main$__shim_why"
      __shim_full='' && continue
    fi
    __shim_opts[$__shim_full]=$(<"$__shim_tmp/file-options")
    __shim_fns[$__shim_full]=''
    for __shim_fn in $(compgen -A function); do
      case $__shim_fn in
        __shim_* | res_send | res_json | json_string | json_object) ;;
        *) __shim_fns[$__shim_full]+=$(declare -f "$__shim_fn")$'\n' ;;
      esac
    done
    __shim_live=$__shim_full
  elif [[ $__shim_live != "$__shim_full" ]]; then # another file's functions are defined: bring back this one's
    eval "${__shim_fns[$__shim_full]}"
    __shim_live=$__shim_full
  fi
  [[ -n $__shim_id ]] || { __shim_full='' && continue; } # that was the preload

  rm -f "$__shim_tmp/reply" "$__shim_tmp/trace"
  : >"$__shim_tmp/stderr"
  # stderr is logged as it comes and also kept, for the message of a failed main.
  tee -a "$__shim_tmp/stderr" <"$__shim_tmp/stderr.fifo" >&2 &
  __shim_tee=$!
  (
    exec {__shim_in}<&- {__shim_out}>&- {__shim_sleep}<&-
    LC_ALL=$__shim_lc_all
    [[ -n $__shim_lc_all_set ]] || unset LC_ALL
    eval "${__shim_opts[$__shim_full]}" # set -e, pipefail, ... as the file left them
    set -o errtrace
    trap __shim_on_err ERR
    main
  ) 2>"$__shim_tmp/stderr.fifo"
  __shim_status=$?

  if [[ -f $__shim_tmp/reply ]]; then # the last res_send/res_json is the reply, whatever main's status
    read -r __shim_status __shim_type __shim_size <"$__shim_tmp/reply"
    printf 'RES %s %s %s %s\n' "$__shim_id" "$__shim_status" "$__shim_type" "$__shim_size" >&"$__shim_out" &&
      cat "$__shim_tmp/body" >&"$__shim_out" || __shim_fatal 'could not write a reply'
  elif ((__shim_status == 0)); then
    __shim_frame "ERR $__shim_id 500" "main in $__shim_full returned without calling res_send or res_json"
  else
    # Let tee log the last lines first (bounded: a background job main left behind may hold the pipe open).
    for ((__shim_i = 0; __shim_i < 100; __shim_i++)); do
      kill -0 "$__shim_tee" 2>/dev/null || break
      read -r -t 0.005 -u "$__shim_sleep" __shim_none || :
    done
    __shim_msg="main in $__shim_full failed with status $__shim_status"
    __shim_tail=$(tail -n 20 "$__shim_tmp/stderr")
    ((${#__shim_tail} <= 4096)) || __shim_tail=${__shim_tail:${#__shim_tail}-4096}
    [[ -z $__shim_tail ]] || __shim_msg+=$'\n'$__shim_tail
    [[ ! -s $__shim_tmp/trace ]] || __shim_msg+=$'\n'$(<"$__shim_tmp/trace")
    __shim_frame "ERR $__shim_id 500" "$__shim_msg"
  fi
  __shim_full='' __shim_id=''
done
