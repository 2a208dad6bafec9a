<?php
// The v5 image test's php function (tests/images/v5.sh): proves the build step ran (built.txt, written by the
// install command), that what it installed into vendor/ loads, and the v5 context API.
$dependency = require __DIR__ . '/vendor/v5dep.php';

return function ($context) use ($dependency) {
    $context->log('php function log', ['n' => 1]);
    $context->error('php function error line');
    echo "php native print\n";
    return $context->res->json([
        'runtime' => 'php',
        'method' => $context->req->method,
        'path' => $context->req->path,
        'query' => $context->req->query,
        'body' => $context->req->body,
        'built' => trim(file_get_contents(__DIR__ . '/built.txt')),
        'dependency' => $dependency,
    ], 201, ['x-v5-test' => 'yes']);
};
