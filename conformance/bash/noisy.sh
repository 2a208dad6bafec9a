main() {
  local p=$REQ_PAYLOAD
  echo "noisy-stdout $p"
  echo "noisy-stderr $p" >&2
  # The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
  sh -c 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2' sh "$p"
  printf 'noisy-fd1 %s\n' "$p" >&1
  res_send "quiet $p"
}
