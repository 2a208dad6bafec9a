# The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).
# Bash has no values for responses or JSON: a reply is the last res_* call, JSON is text built by hand.

# JSON of a variable: its value as a JSON string, or null when it is not set.
json_or_null() { if [[ -v $1 ]]; then json_string "${!1}"; else printf null; fi; }
# JSON of a request header: its value as a JSON string, or null when it was not sent.
header_or_null() { if [[ -n ${REQ_HEADERS[$1]+set} ]]; then json_string "${REQ_HEADERS[$1]}"; else printf null; fi; }

plaintextResponse() { res_text 'Hello World 👋'; }
jsonResponse() { res_json '{"json":true,"message":"Developers are awesome."}'; }
customCharsetResponse() { res_header content-type 'text/plain; charset=iso-8859-1' && res_text 'ÅÆ' 200; }
uppercaseCharsetResponse() { res_header content-type 'TEXT/PLAIN' && res_text 'ÅÆ' 200; }
multipartResponse() {
  res_header content-type 'multipart/form-data; boundary=12345'
  res_text $'--12345\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--12345--' 200
}
redirectResponse() { res_redirect 'https://github.com/'; }
emptyResponse() { res_empty; }
# Bash has no response values: a reply helper replies. "Making a response and not returning it" is a reply
# that is taken back: res_none leaves the execution with no reply, as if the function returned nothing.
noResponse() {
  res_text 'This should be ignored, as it is not returned.'
  res_none
}
doubleResponse() {
  res_text 'This should be ignored.'
  res_text 'This should be returned.'
}
headersResponse() {
  res_header first-header first-value
  res_header second-header "${REQ_HEADERS[x-open-runtimes-custom-in-header]-missing}"
  res_header cookie "${REQ_HEADERS[cookie]-missing}"
  res_header x-open-runtimes-custom-out-header third-value
  res_header Mixed-Case-Header mixed
  res_text OK 200
}
statusResponse() { res_text FAIL 404; }
setCookie() {
  res_header set-cookie 'cookie=value; path=/'
  res_header set-cookie 'cookie2=value2'
  res_text OK 200
}
binaryResponse() { printf '\x00\x0a\xff\x80\x00' | res_binary; }
binaryResponseLarge() {
  local piece i
  piece=$(mktemp)
  for ((i = 0; i < 256; i++)); do printf "\\x$(printf %02x "$i")"; done >"$piece"
  for ((i = 0; i < 12; i++)); do cat "$piece" "$piece" >"$piece.2" && mv "$piece.2" "$piece"; done # 1 MiB
  for ((i = 0; i < 17; i++)); do cat "$piece"; done | res_binary                                  # 17 MiB
  rm -f "$piece"
}
requestMethod() { res_text "$REQ_METHOD"; }
requestUrl() {
  res_json "{\"url\":$(json_string "$REQ_URL"),\"scheme\":$(json_string "$REQ_SCHEME"),\"host\":$(json_string "$REQ_HOST"),\"port\":$REQ_PORT,\"path\":$(json_string "$REQ_PATH"),\"queryString\":$(json_string "$REQ_QUERY_STRING"),\"query\":$(json_object REQ_QUERY)}"
}
requestHeaders() { res_json "$(json_object REQ_HEADERS)"; }
requestBodyText() { res_text "$(req_body_text)"; }
requestBodyRaw() { res_text "$(req_body_raw)"; }
requestBodyJson() { res_json "$(req_body_json)"; }
requestBody() {
  if ((REQ_JSON_BODY)); then
    res_json "{\"body\":$(req_body)}"
  else
    res_json "{\"body\":$(json_string "$(req_body)")}"
  fi
}
requestBodyBinary() { res_binary "$REQ_BODY_FILE"; }
requestBodyLength() { res_json "{\"length\":$REQ_BODY_LENGTH}"; }
envVars() {
  local shim_vars
  shim_vars=$(compgen -e | grep -c '^SHIM_') || :
  res_json "{\"var\":$(json_or_null CUSTOM_ENV_VAR),\"emptyVar\":$(json_or_null NOT_DEFINED_VAR),\"secret\":$(json_or_null OPEN_RUNTIMES_SECRET),\"shimVars\":$shim_vars}"
}
logs() {
  log 'Debug log'
  error 'Error log'
  echo 'Native log'
  log 42
  log 4.2
  log true
  log '{"objectKey":"objectValue"}'
  log '["arrayValue"]'
  log Log1 Log2 3 '{"a":1}'
  error Error1 '["e"]'
  res_text ''
}
longLogs() {
  local a b
  printf -v a '%9000s' '' && a=${a// /A}
  printf -v b '%9000s' '' && b=${b// /B}
  log "$a"
  error "$b"
  res_text OK
}
nativeLogs() {
  echo 'Native log 1'
  echo 'Native log 2'
  res_text OK
}
multilineLog() {
  log $'line one\nline two'
  res_text OK
}
throwException() { throw 'Code exception occurred'; }
timeout() {
  log 'Timeout start.'
  sleep 3
  echo done >"${REQ_HEADERS[x-marker]}"
  res_text 'Successful response.'
}
concurrent() {
  log "concurrent ${REQ_HEADERS[x-index]}"
  sleep 0.3
  res_text "${REQ_HEADERS[x-index]}"
}
deprecatedSend() { res_send "$(req_body_raw)"; }
deprecatedSendUntyped() { res_send 50; }
# A bash string cannot hold a NUL byte: the bytes are sent with res_binary, as res_send would send them.
deprecatedSendBytes() { res_header content-type image/png && printf '\x89\x50\x4e\x47\x00\xff' | res_binary - 200; }
enforcedHeaders() {
  res_json "{\"x-custom\":$(header_or_null x-custom),\"x-custom-uppercase\":$(header_or_null x-custom-uppercase),\"x-open-runtimes-custom\":$(header_or_null x-open-runtimes-custom)}"
}
errorTest() {
  log 'Before error...'
  throw 'Error!'
}
spreadOperatorLogs() {
  log 'engine:' 'open-runtimes'
  error 'engine:' 'open-runtimes'
  res_text OK
}
requestBodyTextAuto() { res_text "$(req_body)"; }

main() {
  local action=${REQ_HEADERS[x-action]-}
  case $action in
    plaintextResponse | jsonResponse | customCharsetResponse | uppercaseCharsetResponse | multipartResponse | \
      redirectResponse | emptyResponse | noResponse | doubleResponse | headersResponse | statusResponse | \
      setCookie | binaryResponse | binaryResponseLarge | requestMethod | requestUrl | requestHeaders | \
      requestBodyText | requestBodyRaw | requestBodyJson | requestBody | requestBodyBinary | requestBodyLength | \
      envVars | logs | longLogs | nativeLogs | multilineLog | throwException | timeout | concurrent | \
      deprecatedSend | deprecatedSendUntyped | deprecatedSendBytes | enforcedHeaders | errorTest | \
      spreadOperatorLogs | requestBodyTextAuto)
      "$action"
      ;;
    *) throw "Unknown action $action" ;;
  esac
}
