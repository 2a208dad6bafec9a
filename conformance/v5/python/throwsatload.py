# Fails while it loads: a 503 with the error and its stack.
raise Exception("Load failure")
