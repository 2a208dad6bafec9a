# Fails while it loads: a 503 with the error and its backtrace.
raise 'Load failure'
