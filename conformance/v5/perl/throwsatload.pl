# Dies while it compiles: a 503 with the error.
die "Load failure";
