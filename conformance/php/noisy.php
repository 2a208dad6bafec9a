<?php
return function ($req, $res) {
    $p = $req->payload;
    echo "noisy-stdout $p\n";
    fwrite(STDERR, "noisy-stderr $p\n");
    // The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
    $child = proc_open(['sh', '-c', 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', $p], [], $pipes);
    if (proc_close($child) !== 0) throw new RuntimeException('sh failed');
    fwrite(STDOUT, "noisy-fd1 $p\n");
    $res->send("quiet $p");
};
