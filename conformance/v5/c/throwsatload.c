/* Fails while it loads: its load step reports an error, a 503 with that error. */
const char *throwsatload_load(void) { return "Load failure"; }
