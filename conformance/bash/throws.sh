# Under `set -e` a failing command is bash's throw: main stops there, and the adapter answers 500 with main's
# status, the last lines it wrote to stderr and where the command failed.
set -e

inner_helper() {
  echo "boom from user code" >&2
  return 1
}

main() {
  inner_helper
  res_send unreachable
}
