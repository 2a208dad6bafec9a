main() {
  sleep "${REQ_PAYLOAD:-30}"
  res_send woke
}
