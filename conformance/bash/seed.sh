main() {
  local env1=null
  [[ -v REQ_ENV[ENV1] ]] && env1=$(json_string "${REQ_ENV[ENV1]}")
  res_json "{\"normal\":\"Hello World!\",\"env1\":$env1,\"payload\":$(json_string "$REQ_PAYLOAD")}"
}
