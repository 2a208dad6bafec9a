<?php
// Loads fine, but returns no function: the adapter answers 404.
function handler($req, $res)
{
    $res->send('never called');
}
