<?php
return function ($req, $res) {
    usleep((int) ((float) ($req->payload ?: '30') * 1e6));
    $res->send('woke');
};
