<?php
// Loads fine, prints natively while it loads, and returns no function: a 503.
echo "Hello World\n";
