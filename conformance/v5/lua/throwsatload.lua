-- Raises an error while it loads: a 503 with the error and its traceback.
error('Load failure')
