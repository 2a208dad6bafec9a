#!/usr/bin/env php
<?php
// runtime-shim adapter for PHP 7.4+: serves the function a user's file returns over adapter protocol 1.
// The wire format is docs/adapter-protocol.md. Standard library only (proc_open, json).

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
$protoIn = fopen('php://fd/3', 'rb');
$protoOut = fopen('php://fd/4', 'wb');

function fatal(string $message): void
{
    fwrite(STDERR, "php adapter: $message\n");
    exit(2);
}

function write_frame(string $head, string $body = ''): void
{
    global $protoOut;
    $data = $head . ' ' . strlen($body) . "\n" . $body;
    while ($data !== '') { // fwrite may be partial
        $n = fwrite($protoOut, $data);
        if (!$n) fatal('could not write a reply');
        $data = (string) substr($data, $n);
    }
    fflush($protoOut);
}

function read_frame(): array
{
    global $protoIn;
    $line = fgets($protoIn, HEADER_MAX + 1);
    if ($line === false) exit(0); // EOF between frames: the shim is done with us
    if (substr($line, -1) !== "\n") fatal(strlen($line) >= HEADER_MAX ? 'a request header is too long' : 'input ended inside a request header');
    $t = explode(' ', substr($line, 0, -1));
    if (count($t) < 3 || $t[0] !== 'REQ' || !preg_match('/^[A-Za-z0-9._-]{1,64}$/', $t[1]) || !preg_match('/^(0|[1-9][0-9]*)$/', end($t))) {
        fatal('bad request header: ' . json_encode($line));
    }
    $length = (int) end($t);
    $body = $length > 0 ? stream_get_contents($protoIn, $length) : '';
    if ($body === false || strlen($body) !== $length) fatal('input ended inside a request body');
    return [$t[1], $body];
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
    // PHP's own report, without the adapter's frames (and the {main} script below them, which is the adapter).
    $lines = array_filter(explode("\n", (string) $e), fn ($l) => strpos($l, __FILE__) === false && !preg_match('/^#\d+ \{main\}$/', $l));
    return implode("\n", $lines);
}

$current = null; // the request being served, for a fatal error that ends the process
register_shutdown_function(function () use (&$current) {
    $e = error_get_last();
    if ($current !== null && $e && ($e['type'] & (E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_PARSE | E_USER_ERROR))) {
        write_frame("ERR $current 500", "PHP Fatal error: {$e['message']} in {$e['file']}:{$e['line']}");
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

$dir = getenv('SHIM_CODE_PATH');
$entry = getenv('SHIM_ENTRYPOINT');
if ($dir && $entry && is_file("$dir/$entry")) {
    try {
        load_function($dir, $entry);
    } catch (Throwable $e) {
        // reported, with its trace, to the first request that needs this file
    }
}
write_frame('READY 1 json', 'php ' . PHP_VERSION);
while (true) {
    [$current, $body] = read_frame();
    [$head, $reply] = handle($current, $body);
    write_frame($head, $reply);
    $current = null;
}
