<?php
// File-level state lives as long as the adapter process: the file is loaded once.
$count = 0;

return function ($req, $res) use (&$count) {
    $count += 1;
    $res->json(['count' => $count]);
};
