<?php
return function ($req, $res) {
    $res->json(['normal' => 'Hello World!', 'env1' => $req->env['ENV1'] ?? null, 'payload' => $req->payload]);
};
