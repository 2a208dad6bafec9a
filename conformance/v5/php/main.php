<?php
// The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).

$actions = [
    'plaintextResponse' => fn ($context) => $context->res->text('Hello World 👋'),
    'jsonResponse' => fn ($context) => $context->res->json(['json' => true, 'message' => 'Developers are awesome.']),
    'customCharsetResponse' => fn ($context) => $context->res->text('ÅÆ', 200, ['content-type' => 'text/plain; charset=iso-8859-1']),
    'uppercaseCharsetResponse' => fn ($context) => $context->res->text('ÅÆ', 200, ['content-type' => 'TEXT/PLAIN']),
    'multipartResponse' => fn ($context) => $context->res->text(
        "--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--",
        200,
        ['content-type' => 'multipart/form-data; boundary=12345']
    ),
    'redirectResponse' => fn ($context) => $context->res->redirect('https://github.com/'),
    'emptyResponse' => fn ($context) => $context->res->empty(),
    'noResponse' => function ($context) {
        $context->res->text('This should be ignored, as it is not returned.');
    },
    'doubleResponse' => function ($context) {
        $context->res->text('This should be ignored.');
        return $context->res->text('This should be returned.');
    },
    'headersResponse' => fn ($context) => $context->res->text('OK', 200, [
        'first-header' => 'first-value',
        'second-header' => $context->req->headers['x-open-runtimes-custom-in-header'] ?? 'missing',
        'cookie' => $context->req->headers['cookie'] ?? 'missing',
        'x-open-runtimes-custom-out-header' => 'third-value',
        'Mixed-Case-Header' => 'mixed',
    ]),
    'statusResponse' => fn ($context) => $context->res->text('FAIL', 404),
    'setCookie' => fn ($context) => $context->res->text('OK', 200, ['set-cookie' => ['cookie=value; path=/', 'cookie2=value2']]),
    'binaryResponse' => fn ($context) => $context->res->binary("\x00\x0a\xff\x80\x00"),
    'binaryResponseLarge' => fn ($context) => $context->res->binary(str_repeat(implode('', array_map('chr', range(0, 255))), 17825792 / 256)),
    'requestMethod' => fn ($context) => $context->res->text($context->req->method),
    'requestUrl' => fn ($context) => $context->res->json([
        'url' => $context->req->url,
        'scheme' => $context->req->scheme,
        'host' => $context->req->host,
        'port' => $context->req->port,
        'path' => $context->req->path,
        'queryString' => $context->req->queryString,
        'query' => $context->req->query,
    ]),
    'requestHeaders' => fn ($context) => $context->res->json($context->req->headers),
    'requestBodyText' => fn ($context) => $context->res->text($context->req->bodyText),
    'requestBodyRaw' => fn ($context) => $context->res->text($context->req->bodyRaw),
    'requestBodyJson' => fn ($context) => $context->res->json($context->req->bodyJson),
    'requestBody' => fn ($context) => $context->res->json(['body' => $context->req->body]),
    'requestBodyBinary' => fn ($context) => $context->res->binary($context->req->bodyBinary),
    'requestBodyLength' => fn ($context) => $context->res->json(['length' => strlen($context->req->bodyBinary)]),
    'envVars' => fn ($context) => $context->res->json([
        'var' => getenv('CUSTOM_ENV_VAR') === false ? null : getenv('CUSTOM_ENV_VAR'),
        'emptyVar' => getenv('NOT_DEFINED_VAR') === false ? null : getenv('NOT_DEFINED_VAR'),
        'secret' => getenv('OPEN_RUNTIMES_SECRET') === false ? null : getenv('OPEN_RUNTIMES_SECRET'),
        'shimVars' => count(array_filter(array_keys(getenv()), fn ($name) => strncmp($name, 'SHIM_', 5) === 0)),
    ]),
    'logs' => function ($context) {
        $context->log('Debug log');
        $context->error('Error log');
        echo "Native log\n";
        $context->log(42);
        $context->log(4.2);
        $context->log(true);
        $context->log(['objectKey' => 'objectValue']);
        $context->log(['arrayValue']);
        $context->log('Log1', 'Log2', 3, ['a' => 1]);
        $context->error('Error1', ['e']);
        return $context->res->text('');
    },
    'longLogs' => function ($context) {
        $context->log(str_repeat('A', 9000));
        $context->error(str_repeat('B', 9000));
        return $context->res->text('OK');
    },
    'nativeLogs' => function ($context) {
        echo "Native log 1\n";
        echo "Native log 2\n";
        return $context->res->text('OK');
    },
    'multilineLog' => function ($context) {
        $context->log("line one\nline two");
        return $context->res->text('OK');
    },
    'throwException' => function ($context) {
        throw new Exception('Code exception occurred');
    },
    'timeout' => function ($context) {
        $context->log('Timeout start.');
        sleep(3); // PHP has no non-blocking sleep in its standard library
        file_put_contents($context->req->headers['x-marker'], 'done');
        return $context->res->text('Successful response.');
    },
    'concurrent' => function ($context) {
        $index = $context->req->headers['x-index'];
        $context->log('concurrent ' . $index);
        usleep(300000);
        return $context->res->text($index);
    },
    'deprecatedSend' => fn ($context) => $context->res->send($context->req->bodyRaw),
    'deprecatedSendUntyped' => fn ($context) => $context->res->send('50'),
    'deprecatedSendBytes' => fn ($context) => $context->res->send("\x89\x50\x4e\x47\x00\xff", 200, ['content-type' => 'image/png']),
    'enforcedHeaders' => fn ($context) => $context->res->json([
        'x-custom' => $context->req->headers['x-custom'] ?? null,
        'x-custom-uppercase' => $context->req->headers['x-custom-uppercase'] ?? null,
        'x-open-runtimes-custom' => $context->req->headers['x-open-runtimes-custom'] ?? null,
    ]),
    'errorTest' => function ($context) {
        $context->log('Before error...');
        throw new Exception('Error!');
    },
    'spreadOperatorLogs' => function ($context) {
        $context->log('engine:', 'open-runtimes');
        $context->error('engine:', 'open-runtimes');
        return $context->res->text('OK');
    },
    'requestBodyTextAuto' => fn ($context) => $context->res->text($context->req->body),
];

return function ($context) use ($actions) {
    $action = $context->req->headers['x-action'] ?? '';
    if (!isset($actions[$action])) {
        throw new Exception("Unknown action $action");
    }
    return $actions[$action]($context);
};
