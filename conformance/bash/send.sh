main() {
  res_send "héllo wörld ✓ $REQ_PAYLOAD" 201
}
