# res_json takes JSON text: bash has no data structures to encode.
main() {
  res_json "{\"nested\":{\"list\":[1,2.5,\"three\",true,null],\"unicode\":\"✓\"},\"payload\":$(json_string "$REQ_PAYLOAD")}" 202
}
