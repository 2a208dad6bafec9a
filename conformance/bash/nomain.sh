# Sources fine, but the entry function has the wrong name: the adapter answers 404.
handler() {
  res_send "never called"
}
