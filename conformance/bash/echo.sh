main() {
  res_json "{\"env\":$(json_object REQ_ENV),\"payload\":$(json_string "$REQ_PAYLOAD"),\"headers\":$(json_object REQ_HEADERS)}"
}
