# The file is sourced once per adapter process, but main runs in a subshell: a variable it sets is gone after
# the request. State that outlives a request lives outside the shell, here in a file made at load time.
COUNT_FILE=$(mktemp)
echo 0 >"$COUNT_FILE"

main() {
  local count=$(($(<"$COUNT_FILE") + 1))
  echo "$count" >"$COUNT_FILE"
  res_json "{\"count\":$count}"
}
