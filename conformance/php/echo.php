<?php
return function ($req, $res) {
    // (object): an empty PHP array is [] in JSON; the other adapters answer {} for an empty env.
    $res->json(['env' => (object) $req->env, 'payload' => $req->payload, 'headers' => (object) $req->headers]);
};
