# Throws while it is sourced: a 503 with the message and where it was thrown.
throw 'Load failure'
main() { res_text 'never defined'; }
