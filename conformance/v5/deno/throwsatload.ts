// Throws while it loads: a 503 with the error and its stack.
throw new Error('Load failure');
