#!/usr/bin/env php
<?php
// runtime-shim adapter for PHP 7.4+: serves the function a user's file returns, `function ($req, $res)` over
// adapter protocol 1 (the v1 contract), or open-runtimes' `function ($context)` over adapter protocol 2 (the v5
// contract) when SHIM_PROTOCOL is 2. The wire format is docs/adapter-protocol.md. Standard library only
// (proc_open, json; pcntl if present).

if (($argv[1] ?? '') !== '--worker') {
    // The protocol owns fds 0 and 1, but PHP has no dup2, and closing fd 1 would break its STDOUT constant. So the
    // adapter starts itself again with the protocol on fds 3 and 4, fd 1 on stderr and fd 0 on /dev/null: all
    // that user code, extensions and child processes print goes to stderr. With pcntl, sh moves the fds and
    // execs PHP in this same process; without it (the official images), this process waits for the worker.
    if (function_exists('pcntl_exec')) {
        @pcntl_exec('/bin/sh', ['-c', 'exec "$0" "$1" --worker 3<&0 4>&1 </dev/null >&2', PHP_BINARY, __FILE__]);
    }
    $spec = [0 => ['file', '/dev/null', 'r'], 1 => STDERR, 2 => STDERR, 3 => STDIN, 4 => STDOUT];
    $worker = proc_open([PHP_BINARY, __FILE__, '--worker'], $spec, $pipes);
    if (!is_resource($worker)) {
        fwrite(STDERR, "php adapter: could not start the worker process\n");
        exit(2);
    }
    fclose(STDIN);
    fclose(STDOUT); // the worker alone holds the protocol pipes: its exit is an EOF for the shim
    $status = proc_close($worker);
    exit($status >= 0 && $status < 256 ? $status : 1);
}

const HEADER_MAX = 256;
ini_set('display_errors', 'stderr'); // warnings are logs
if (ini_get('error_log') === '') ini_set('log_errors', '0'); // else each would be on stderr twice
$protoIn = fopen('php://fd/3', 'rb');
$protoOut = fopen('php://fd/4', 'wb');

function fatal(string $message): void
{
    fwrite(STDERR, "php adapter: $message\n");
    exit(2);
}

// One frame: the header line with the parts' total length, then the parts. A frame is written by this process
// only: a child the function forked (pcntl_fork) shares the pipe, and a frame of its own would corrupt it.
function write_frame(string $head, string ...$parts): void
{
    global $protoOut;
    static $pid = null;
    $pid = $pid ?? getmypid();
    if (getmypid() !== $pid) return;
    $length = 0;
    foreach ($parts as $part) $length += strlen($part);
    array_unshift($parts, "$head $length\n");
    foreach ($parts as $data) {
        for ($at = 0, $size = strlen($data); $at < $size; $at += $n) { // fwrite may be partial
            $n = fwrite($protoOut, $at === 0 && $size <= 1 << 20 ? $data : substr($data, $at, 1 << 20));
            if (!$n) fatal('could not write a reply');
        }
    }
    fflush($protoOut);
}

function read_header(): array
{
    global $protoIn;
    $line = fgets($protoIn, HEADER_MAX + 1);
    if ($line === false) exit(0); // EOF between frames: the shim is done with us
    if (substr($line, -1) !== "\n") fatal(strlen($line) >= HEADER_MAX ? 'a request header is too long' : 'input ended inside a request header');
    $t = explode(' ', substr($line, 0, -1));
    if (count($t) < 3 || $t[0] !== 'REQ' || !preg_match('/^[A-Za-z0-9._-]{1,64}$/', $t[1]) || !preg_match('/^(0|[1-9][0-9]*)$/', end($t))) {
        fatal('bad request header: ' . json_encode($line));
    }
    return $t;
}

function read_exactly(int $length): string
{
    global $protoIn;
    $data = $length > 0 ? stream_get_contents($protoIn, $length) : '';
    if ($data === false || strlen($data) !== $length) fatal('input ended inside a request body');
    return $data;
}

// Protocol 1: `REQ <id> <N>` and the request's JSON.
function read_frame(): array
{
    $t = read_header();
    return [$t[1], read_exactly((int) end($t))];
}

// Protocol 2: `REQ <id> <M> <N>`, then M bytes of JSON metadata and N - M bytes of raw body.
function read_frame2(): array
{
    $t = read_header();
    if (count($t) !== 4 || !preg_match('/^(0|[1-9][0-9]*)$/', $t[2]) || (int) $t[2] > (int) $t[3]) {
        fatal('bad request header: ' . json_encode(implode(' ', $t)));
    }
    return [$t[1], read_exactly((int) $t[2]), read_exactly((int) $t[3] - (int) $t[2])];
}

final class NotFound extends Exception {} // the entry file or its function is missing: a 404

final class Request
{
    public array $env;
    public string $payload;
    public array $headers;

    public function __construct(array $msg)
    {
        $this->env = $msg['env'] ?? [];
        $this->payload = $msg['payload'] ?? '';
        $this->headers = $msg['headers'] ?? [];
    }
}

final class Response
{
    public ?array $reply = null; // [status, type, body] of the last send/json call

    public function send(string $text, int $status = 200): void
    {
        $this->set($status, 'text', $text);
    }

    public function json($value, int $status = 200): void
    {
        $flags = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR;
        $this->set($status, 'json', json_encode($value, $flags));
    }

    private function set(int $status, string $type, string $body): void
    {
        if ($status < 200 || $status > 599) throw new InvalidArgumentException("status must be from 200 to 599, not $status");
        $this->reply = [$status, $type, $body];
    }
}

$functions = []; // absolute path of the entry file -> the function it returned; each file is loaded once

function load_function(string $dir, string $file): callable
{
    global $functions;
    if ($file === '') {
        throw new NotFound("no entry file was named for $dir: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME");
    }
    $full = $file[0] === '/' ? $file : rtrim($dir, '/') . '/' . $file;
    $full = realpath($full) ?: $full;
    if (isset($functions[$full])) return $functions[$full];
    if (!is_file($full)) throw new NotFound("entry file $full does not exist: expected a file that returns function (\$req, \$res)");
    // In a scope of its own: the file sees none of the adapter's variables. A throw here is a 500, and nothing is
    // cached, so the next request retries.
    $fn = (static function () { return require func_get_arg(0); })($full);
    if (!is_callable($fn) || is_string($fn)) {
        throw new NotFound("$full returns no function: expected `return function (\$req, \$res) { ... };`");
    }
    return $functions[$full] = $fn;
}

function describe(Throwable $e): string
{
    // PHP's own report, without the adapter's stack frames (and the {main} script below them, which is the
    // adapter). The first line, the error and where it was thrown, always stays.
    $lines = array_filter(explode("\n", (string) $e), function ($l) {
        return !preg_match('/^#\d+ /', $l) || (strpos($l, __FILE__) === false && !preg_match('/^#\d+ \{main\}$/', $l));
    });
    return preg_replace('/\nStack trace:(?=\n\n|$)/', '', implode("\n", $lines));
}

$current = null;  // the request being served, for a fatal error that ends the process
$loading = false; // protocol 2: whether that fatal error came while loading the entry file (a 503)
register_shutdown_function(function () use (&$current, &$loading) {
    $e = error_get_last();
    if (!$e || !($e['type'] & (E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_PARSE | E_USER_ERROR))) return;
    $message = "PHP Fatal error: {$e['message']} in {$e['file']}:{$e['line']}";
    if (PROTOCOL !== 2) {
        if ($current !== null) write_frame("ERR $current 500", $message);
        return;
    }
    if ($current !== null) {
        write_frame("ERR $current " . ($loading ? 503 : 500), $message);
    } elseif ($loading) {
        // The entry file failed fatally (a `require` of a missing file, a redeclared function) while the adapter
        // loaded it before the handshake. This process cannot load PHP code any more, but it can still say why to
        // every request, rather than fail to start again and again.
        write_frame('READY 2 json', 'php ' . PHP_VERSION);
        while (true) {
            [$id] = read_frame2();
            write_frame("ERR $id 503", $message);
        }
    }
});

function handle(string $id, string $body): array
{
    try {
        $msg = json_decode($body, true, 512, JSON_THROW_ON_ERROR);
        $dir = ($msg['path'] ?? '') !== '' ? $msg['path'] : (getenv('SHIM_CODE_PATH') ?: '/usr/code');
        $fn = load_function($dir, $msg['file'] ?? '');
        $res = new Response();
        $fn(new Request($msg), $res);
        if ($res->reply === null) {
            return ["ERR $id 500", "the function in $dir/{$msg['file']} returned without calling \$res->send() or \$res->json()"];
        }
        [$status, $type, $data] = $res->reply;
        return ["RES $id $status $type", $data];
    } catch (NotFound $e) {
        return ["ERR $id 404", $e->getMessage()];
    } catch (Throwable $e) {
        return ["ERR $id 500", describe($e)];
    } finally {
        while (ob_get_level() > 0) ob_end_flush(); // what the function buffered is logged before its reply
    }
}

// Protocol 2: open-runtimes' v5 API, `return function ($context) { ... };`. The shim has computed everything
// `$context->req` shows and applies the contract's rules to the reply (header names and filtering, content-type
// and charset, log truncation, log files); here the function is loaded, `$context` is built and bytes move. The
// class names are open-runtimes' own, so a function that type-hints `RuntimeContext $context` runs unchanged.

const LOG_LINE_MAX = 1 << 16; // bytes per LOG frame: far past the shim's 8000-character cut, far under its frame limit
const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION;

final class LoadFailed extends Exception {} // the entry file is missing, fails to load or returns no function: a 503

$serving = null; // protocol 2: the id of the request being served, null between requests

// JSON of a value for `json()` and log lines: compact, unicode and slashes unescaped, `2.0` kept. An empty PHP array
// is `{}`, as open-runtimes' PHP runtime writes it (an empty body, an empty query, `{}` sent in must come back as
// objects); a list is a list.
function v5_json($value, int $extra = JSON_THROW_ON_ERROR): string
{
    return json_encode(v5_objects($value), JSON_FLAGS | $extra);
}

function v5_objects($value)
{
    if (is_array($value)) {
        return $value === [] ? new stdClass() : array_map('v5_objects', $value);
    }
    if ($value instanceof stdClass) {
        return (object) array_map('v5_objects', get_object_vars($value));
    }
    return $value;
}

function v5_status($status): int
{
    // Checked in the helper, so that a bad status is a 500 whose trace points at the user's call.
    if (is_string($status) && preg_match('/^[1-9][0-9]{0,2}$/', $status)) $status = (int) $status;
    if (!is_int($status) || $status < 200 || $status > 599) {
        throw new InvalidArgumentException('statusCode must be an integer from 200 to 599, not ' . var_export($status, true));
    }
    return $status;
}

/** A response's headers, with `$name` => `$value` set over any spelling of that name. */
function v5_headers($headers, string $name = '', string $value = ''): array
{
    if (!is_array($headers)) throw new TypeError('headers must be an array, not ' . gettype($headers));
    if ($name !== '') {
        foreach (array_keys($headers) as $key) {
            if (strtolower((string) $key) === $name) unset($headers[$key]);
        }
        $headers[$name] = $value;
    }
    return $headers;
}

/** `$context->req`: the request as the shim computed it, and its raw body. */
final class RuntimeRequest
{
    public string $bodyBinary;
    public array $headers;
    public string $method;
    public string $scheme;
    public string $host;
    public int $port;
    public string $path;
    public string $queryString;
    public array $query;
    public string $url;
    private bool $jsonBody;

    public function __construct(array $meta, string $body)
    {
        $this->bodyBinary = $body;
        $this->headers = $meta['headers'] ?? [];
        $this->method = $meta['method'] ?? '';
        $this->scheme = $meta['scheme'] ?? '';
        $this->host = $meta['host'] ?? '';
        $this->port = (int) ($meta['port'] ?? 0);
        $this->path = $meta['path'] ?? '';
        $this->queryString = $meta['query_string'] ?? '';
        $this->query = $meta['query'] ?? [];
        $this->url = $meta['url'] ?? '';
        $this->jsonBody = !empty($meta['json_body']);
    }

    /** `bodyText`, `bodyRaw` (deprecated: the text), `bodyJson` and `body`, computed when read. */
    public function __get(string $name)
    {
        switch ($name) {
            case 'bodyText':
            case 'bodyRaw':
                return $this->bodyBinary; // PHP strings are bytes: the text is the body as it came
            case 'bodyJson':
                return $this->getBodyJson();
            case 'body':
                if (!$this->jsonBody) return $this->bodyBinary;
                return $this->bodyBinary === '' ? [] : $this->getBodyJson();
        }
        trigger_error('Undefined property: RuntimeRequest::$' . $name, E_USER_WARNING);
        return null;
    }

    public function __isset(string $name): bool
    {
        return in_array($name, ['bodyText', 'bodyRaw', 'bodyJson', 'body'], true);
    }

    public function getBodyText(): string
    {
        return $this->bodyBinary;
    }

    /** Parsed on every call (objects as arrays), whatever the content type; invalid JSON throws. */
    public function getBodyJson()
    {
        try {
            return json_decode($this->bodyBinary, true, 512, JSON_THROW_ON_ERROR);
        } catch (JsonException $e) {
            throw new JsonException('the request body is not valid JSON: ' . $e->getMessage(), $e->getCode());
        }
    }
}

/** `$context->res`: each helper returns a response, an array as in open-runtimes; only what the function returns is the reply. */
final class RuntimeResponse
{
    public function text(string $body, $statusCode = 200, $headers = []): array
    {
        return ['body' => $body, 'statusCode' => v5_status($statusCode), 'headers' => v5_headers($headers)];
    }

    public function binary(string $bytes, $statusCode = 200, $headers = []): array
    {
        return $this->text($bytes, $statusCode, $headers);
    }

    public function send($body, $statusCode = 200, $headers = []): array // deprecated: the body as text
    {
        return $this->text((string) $body, $statusCode, $headers);
    }

    public function json($value, $statusCode = 200, $headers = []): array
    {
        return ['body' => v5_json($value), 'statusCode' => v5_status($statusCode),
            'headers' => v5_headers($headers, 'content-type', 'application/json')];
    }

    public function empty(): array
    {
        return $this->text('', 204);
    }

    public function redirect(string $url, $statusCode = 301, $headers = []): array
    {
        return ['body' => '', 'statusCode' => v5_status($statusCode), 'headers' => v5_headers($headers, 'location', $url)];
    }
}

final class RuntimeContext
{
    public RuntimeRequest $req;
    public RuntimeResponse $res;
    private string $id;

    public function __construct(string $id, array $meta, string $body)
    {
        $this->req = new RuntimeRequest($meta, $body);
        $this->res = new RuntimeResponse();
        $this->id = $id;
    }

    public function log(...$messages): void
    {
        write_log($this->id, 'log', $messages);
    }

    public function error(...$messages): void
    {
        write_log($this->id, 'error', $messages);
    }
}

function log_piece($value): string
{
    if (is_string($value)) return $value;
    // Every other value as compact JSON (42, true, null, {"a":1}); what JSON cannot show (NAN, a resource) as PHP prints it.
    $json = v5_json($value, JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
    return json_last_error() === JSON_ERROR_NONE ? $json : print_r($value, true);
}

function write_log(string $id, string $stream, array $messages): void
{
    global $serving;
    $line = substr(implode(' ', array_map('log_piece', $messages)), 0, LOG_LINE_MAX);
    if ($id === $serving) {
        write_frame("LOG $id $stream", $line);
    } else {
        // Its execution has ended (a destructor or a shutdown function that outlived it): a LOG frame would carry a
        // stale id, so the line is native output instead.
        fwrite(STDERR, "$line\n");
    }
}

$functions2 = []; // protocol 2: the entry file's function, once it loaded

function load_context_main(string $dir, string $entry): callable
{
    global $functions2, $loading;
    $full = rtrim($dir, '/') . '/' . $entry;
    if (isset($functions2[$full])) return $functions2[$full];
    if ($entry === '' || !is_file($full)) throw new LoadFailed("Failed to load entrypoint, file $entry does not exist.");
    $loading = true;
    try {
        // In a scope of its own: the file sees none of the adapter's variables. Nothing is cached on a failure, so a
        // later request loads the file again.
        $fn = (static function () { return require func_get_arg(0); })($full);
    } catch (Throwable $e) {
        throw new LoadFailed(describe($e));
    } finally {
        $loading = false;
    }
    if (!is_callable($fn) || is_string($fn)) {
        throw new LoadFailed("Function signature invalid. Did you forget to export a 'main' function?");
    }
    return $functions2[$full] = $fn;
}

function encode_reply(string $id, $out): array
{
    if ($out === null) return ["NONE $id", '', ''];
    if (!is_array($out)) {
        throw new TypeError('the function returned ' . gettype($out) . ', not a response: return $context->res->text(), '
            . '->json(), ->binary(), ->redirect() or ->empty()');
    }
    $body = $out['body'] ?? '';
    if (!is_string($body)) {
        if (!is_scalar($body)) throw new TypeError("the response's body must be a string, not " . gettype($body));
        $body = (string) $body;
    }
    $status = v5_status($out['statusCode'] ?? 200);
    $pairs = [];
    foreach (v5_headers($out['headers'] ?? []) as $name => $value) {
        foreach (is_array($value) ? $value : [$value] as $one) { // a list of values: the header repeats
            $pairs[] = [(string) $name, is_bool($one) ? ($one ? 'true' : 'false') : (string) $one];
        }
    }
    $meta = json_encode($pairs, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    return ["RES $id $status " . strlen($meta), $meta, $body];
}

function handle2(string $id, string $meta, string $raw, string $dir, string $entry): array
{
    global $loading;
    try {
        $fn = load_context_main($dir, $entry);
        $out = $fn(new RuntimeContext($id, json_decode($meta, true, 512, JSON_THROW_ON_ERROR), $raw));
        return encode_reply($id, $out);
    } catch (LoadFailed $e) {
        return ["ERR $id 503", '', $e->getMessage()];
    } catch (Throwable $e) {
        return ["ERR $id 500", '', describe($e)];
    } finally {
        while (ob_get_level() > 0) ob_end_flush(); // what the function buffered is logged before its reply
    }
}

function serve2(): void
{
    global $current, $serving, $loading;
    $contract = getenv('SHIM_CONTRACT') ?: 'v5';
    if ($contract !== 'v5' && $contract !== 'http') fatal("protocol 2 presents the v5 context API, not the $contract contract");
    $dir = getenv('SHIM_CODE_PATH') ?: '/usr/local/server/src/function';
    $entry = (string) getenv('SHIM_ENTRYPOINT');
    // The function's variables are the process environment; the adapter's settings are not among them.
    foreach (array_keys(getenv()) as $name) {
        if (strncmp($name, 'SHIM_', 5) === 0) {
            putenv($name);
            unset($_ENV[$name], $_SERVER[$name]);
        }
    }
    try {
        load_context_main($dir, $entry);
    } catch (Throwable $e) {
        // reported to every request until one loads it
    }
    keep_start_state();
    write_frame('READY 2 json', 'php ' . PHP_VERSION);
    while (true) {
        [$current, $meta, $raw] = read_frame2();
        restore_start_state();
        $serving = $current; // from here until the reply, $context->log writes LOG frames with this id
        [$head, $replyMeta, $body] = handle2($current, $meta, $raw, $dir, $entry);
        end_execution();
        unset($meta, $raw);
        $serving = null; // a log call from now on has no request: it goes to stderr
        write_frame($head, $replyMeta, $body);
        $current = null;
    }
}

// One execution must not reach into the next: each starts in the working directory and with the environment the
// adapter had when it became ready, an alarm (pcntl_alarm) one left armed is disarmed before its reply, and a child
// it forked that returns through the adapter exits there instead of serving.
define('ADAPTER_PID', getmypid());

function keep_start_state(): void
{
    $GLOBALS['__shim_start'] = [getcwd(), getenv(), $_ENV];
}

function restore_start_state(): void
{
    [$dir, $env, $superglobal] = $GLOBALS['__shim_start'];
    if ($dir !== false && getcwd() !== $dir) @chdir($dir);
    $now = getenv();
    if ($now !== $env) {
        foreach ($now as $name => $value) {
            if (!array_key_exists($name, $env)) putenv((string) $name);
        }
        foreach ($env as $name => $value) {
            if (($now[$name] ?? null) !== $value) putenv("$name=$value");
        }
    }
    $_ENV = $superglobal;
}

function end_execution(): void
{
    if (function_exists('pcntl_alarm')) pcntl_alarm(0);
    if (getmypid() !== ADAPTER_PID) exit(0); // a child the function forked, returning through the adapter
}

define('PROTOCOL', getenv('SHIM_PROTOCOL') === '2' ? 2 : 1);
if (PROTOCOL === 2) serve2();

$dir = getenv('SHIM_CODE_PATH');
$entry = getenv('SHIM_ENTRYPOINT');
if ($dir && $entry && is_file("$dir/$entry")) {
    try {
        load_function($dir, $entry);
    } catch (Throwable $e) {
        // reported, with its trace, to the first request that needs this file
    }
}
keep_start_state();
write_frame('READY 1 json', 'php ' . PHP_VERSION);
while (true) {
    [$current, $body] = read_frame();
    restore_start_state();
    [$head, $reply] = handle($current, $body);
    end_execution();
    write_frame($head, $reply);
    $current = null;
}
