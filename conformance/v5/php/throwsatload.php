<?php
// Fails while it loads: a 503 with the error and its trace.
throw new Exception('Load failure');
