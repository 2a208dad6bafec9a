<?php
return function ($req, $res) {
    $res->json(['nested' => ['list' => [1, 2.5, 'three', true, null], 'unicode' => '✓'], 'payload' => $req->payload], 202);
};
