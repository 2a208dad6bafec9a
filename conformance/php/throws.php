<?php
function inner_helper()
{
    throw new RuntimeException('boom from user code');
}

return function ($req, $res) {
    inner_helper();
    $res->send('unreachable');
};
