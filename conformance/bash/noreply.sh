# What main prints is logged; only res_send or res_json replies.
main() {
  echo '{"this is": "not a reply"}'
}
