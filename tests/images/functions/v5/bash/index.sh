# The v5 image test's bash function (tests/images/v5.sh): proves the build step ran (built.txt, written by the
# install command), that the file it installed into lib/ sources, and the v5 API (variables and res_* helpers).
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib/v5dep.sh" # made by the install command: V5DEP

main() {
  log 'bash function log' '{"n":1}'
  error 'bash function error line'
  echo 'bash native print'
  local built
  built=$(<"$here/built.txt")
  res_header x-v5-test yes
  res_json "{\"runtime\":\"bash\",\"method\":$(json_string "$REQ_METHOD"),\"path\":$(json_string "$REQ_PATH"),\"query\":$(json_object REQ_QUERY),\"body\":$(req_body),\"built\":$(json_string "$built"),\"dependency\":$(json_string "$V5DEP")}" 201
}
