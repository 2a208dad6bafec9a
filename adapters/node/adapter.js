#!/usr/bin/env node
// runtime-shim adapter for Node.js 18+ and Bun 1.x: serves a user's `(req, res)` function over adapter protocol 1
// (the v1 contract), or an open-runtimes v5 `(context)` function over protocol 2 when SHIM_PROTOCOL is 2.
// The wire format is docs/adapter-protocol.md; this file is one of its reference implementations.
// Standard library only, so it runs on any official node image with nothing installed.
'use strict';

const { AsyncLocalStorage } = require('async_hooks');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { pathToFileURL } = require('url');

const HEADER_MAX = 256;

function fatal(message) {
  fs.writeSync(2, `node adapter: ${message}\n`);
  process.exit(2);
}

// The protocol owns fds 0 and 1; this must run before anything creates process.stdout or process.stdin.
// Node has no dup2, but opening /proc/self/fd/N gives a new descriptor on the same pipe, and open() takes the
// lowest free number: close 1, open stderr, and it lands on 1. So console.log, native code and children with
// inherited stdio all write to stderr. 'a', not 'w': a stdout or stderr that is a regular file is not truncated.
let protoOut;
try {
  protoOut = fs.openSync('/proc/self/fd/1', 'a');
} catch (e) {
  fatal(`stdout must be a pipe that /proc/self/fd/1 can reopen (${e.message})`);
}
fs.closeSync(1);
if (fs.openSync('/proc/self/fd/2', 'a') !== 1) fatal('could not point fd 1 at stderr');
const protoIn = (() => {
  let fd;
  try {
    fd = fs.openSync('/proc/self/fd/0', 'r');
  } catch {
    return 0; // a socket cannot be reopened this way: keep reading fd 0, the user's code gets no /dev/null
  }
  fs.closeSync(0);
  if (fs.openSync('/dev/null', 'r') !== 0) fatal('could not point fd 0 at /dev/null');
  return fd;
})();

// Read once: in v5 mode the SHIM_* variables are removed from process.env before the user's code loads.
const PROTOCOL = process.env.SHIM_PROTOCOL === '2' ? 2 : 1;
// Under protocol 2 the v5 contract (and plain http) is a `(context)` function; v2 is open-runtimes v2's `(req, res)`.
const CONTRACT = process.env.SHIM_CONTRACT || 'v5';
if (PROTOCOL === 2 && !['v5', 'http', 'v2'].includes(CONTRACT)) {
  fatal(`protocol 2 presents the v5, http or v2 contract, not ${JSON.stringify(CONTRACT)}`);
}

const pause = new Int32Array(new SharedArrayBuffer(4));
// One frame: the header line (the parts' total length appended), then the parts. A small frame is copied into
// one buffer and written with one system call; a large body is written as it is, not copied behind its header.
const FRAME_COPY_MAX = 1 << 16;

function writeFrame(head, ...parts) {
  let length = 0;
  for (const part of parts) length += part.length;
  const line = `${head} ${length}\n`;
  if (length > FRAME_COPY_MAX) {
    writeAll(Buffer.from(line, 'latin1'));
    for (const part of parts) writeAll(part);
    return;
  }
  const frame = Buffer.allocUnsafe(line.length + length);
  let at = frame.write(line, 0, 'latin1');
  for (const part of parts) {
    frame.set(part, at);
    at += part.length;
  }
  writeAll(frame);
}

function writeAll(data) {
  for (let at = 0; at < data.length;) {
    try {
      at += fs.writeSync(protoOut, data, at); // may be partial
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1); // a non-blocking pipe is full: wait 1 ms for the shim to read
    }
  }
}

// ---- One execution must not reach into the next ---------------------------------------------------------------
// Each execution runs in an async context that carries its id, so a timer, a promise or a callback it leaves
// behind is known as its own when it runs later. What such leftovers print goes to the shim as LOG frames under
// their execution's id while another request is served (the shim logs them there, not under the request that
// happens to run), and to stderr, which is no request's, between requests. An exception or a rejection nobody
// handles fails the execution that raised it while it runs; after its reply it is logged, never fatal.
const origin = new AsyncLocalStorage();
let serving = null; // the id of the request being served, null between requests
let abort = null; // fails the execution being served

function lateLines(of, text) {
  if (serving !== null && of !== serving) {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) writeFrame(`LOG ${of ?? '-'} log`, Buffer.from(line, 'utf8')); // '-': no execution's
  } else {
    fs.writeSync(2, text.endsWith('\n') ? text : `${text}\n`);
  }
}

for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    const of = origin.getStore();
    if (of === undefined || of === serving) return write(chunk, ...rest);
    lateLines(of, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = rest.find((arg) => typeof arg === 'function');
    if (done) process.nextTick(done);
    return true;
  };
}

// Bun's console writes natively, not through process.stdout: its methods are wrapped as well.
for (const name of ['log', 'info', 'debug', 'warn', 'error']) {
  const write = console[name].bind(console);
  console[name] = (...args) => {
    const of = origin.getStore();
    if (of === undefined || of === serving) return write(...args);
    lateLines(of, require('util').format(...args));
  };
}

function unhandled(what, err) {
  const of = origin.getStore();
  if (of !== undefined && of === serving && abort) return abort(err);
  lateLines(of, `${what} ${of === undefined ? 'outside any execution' : `of execution ${of}, after its reply`}: ${describe(err)}`);
}
process.on('uncaughtException', (err) => unhandled('uncaught exception', err));
process.on('unhandledRejection', (err) => unhandled('unhandled rejection', err));

// The execution's result, or its failure by an exception or rejection nobody handled.
function guarded(result) {
  return Promise.race([result, new Promise((_, reject) => { abort = reject; })]);
}

// The working directory and the environment every execution starts with: what the last one changed is undone.
const start = { dir: process.cwd(), names: new Set(), values: [] };
// Every read of node's process.env asks the C environment. Object.getOwnPropertyNames lists its names without
// also asking, name by name, whether each is enumerable (node makes every one so); Bun's is a plain object.
const envNames = process.versions.bun ? Object.keys : Object.getOwnPropertyNames;

function keepStart() {
  start.dir = process.cwd();
  start.names = new Set(Object.keys(process.env));
  start.values = [...start.names].map((name) => [name, process.env[name]]);
}

function restoreStart() {
  try {
    if (process.cwd() !== start.dir) process.chdir(start.dir);
  } catch {
    try { process.chdir(start.dir); } catch {} // its directory was removed: going back fails as well
  }
  const env = process.env;
  for (const name of envNames(env)) if (!start.names.has(name)) delete env[name];
  for (const [name, value] of start.values) if (env[name] !== value) env[name] = value;
}

class NotFound extends Error {} // the entry file or its function is missing: a 404

class Request {
  constructor(msg) {
    this.env = msg.env || {};
    this.payload = typeof msg.payload === 'string' ? msg.payload : '';
    this.headers = msg.headers || {};
  }
}

class Response {
  send(text, status = 200) {
    if (typeof text === 'string') text = Buffer.from(text, 'utf8');
    else if (text instanceof Uint8Array) text = Buffer.from(text);
    else throw new TypeError(`res.send() takes a string or a Buffer, not ${typeof text}`);
    this._set(status, 'text', text);
  }

  json(value, status = 200) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`res.json() got a value with no JSON form (${typeof value})`);
    this._set(status, 'json', Buffer.from(text, 'utf8'));
  }

  _set(status, type, body) {
    // Checked here so that a bad status is a 500 whose stack points at the user's call.
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`status must be an integer from 200 to 599, not ${String(status)}`);
    }
    this.reply = { status, type, body }; // the last call wins
  }
}

const functions = new Map(); // absolute path of the entry file -> its function; each file is loaded once
const byRequest = new Map(); // `${dir}\0${file}` -> its function, when they name an absolute path

async function importModule(full) {
  const esm = () => import(pathToFileURL(full).href);
  if (full.endsWith('.mjs') || process.versions.bun) return esm(); // Bun imports CommonJS, ESM and TypeScript alike
  try {
    return require(full);
  } catch (e) {
    if (e && e.code === 'ERR_REQUIRE_ESM') return esm(); // a .js file in a "type": "module" package
    throw e;
  }
}

function entryOf(mod) {
  // module.exports = fn; exports.default = fn (TypeScript, Babel); export default fn; and import() of a
  // CommonJS file, whose default is module.exports again.
  for (let m = mod, depth = 0; m != null && depth < 3; m = m.default, depth++) {
    if (typeof m === 'function') return m;
  }
  return null;
}

function isFile(full) {
  try {
    return fs.statSync(full).isFile();
  } catch {
    return false;
  }
}

async function load(dir, file) {
  const key = `${dir}\0${file}`;
  const known = byRequest.get(key);
  if (known) return known;
  const fn = await loadFile(dir, file);
  if (path.isAbsolute(dir) || path.isAbsolute(file)) byRequest.set(key, fn); // resolved the same from any cwd
  return fn;
}

async function loadFile(dir, file) {
  if (!file) {
    throw new NotFound(`no entry file was named for ${dir}: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME`);
  }
  const full = path.resolve(dir, file);
  if (functions.has(full)) return functions.get(full);
  if (!isFile(full)) throw new NotFound(`entry file ${full} does not exist: expected a module exporting a function (req, res)`);
  const fn = entryOf(await importModule(full)); // a throw here is a 500, and nothing is cached: the next request retries
  if (!fn) throw new NotFound(`${full} exports no function: expected module.exports = async (req, res) => … or export default`);
  functions.set(full, fn);
  return fn;
}

function describe(err) {
  // The stack is the language's own report; our frames below the user's only hide it.
  if (err && typeof err.stack === 'string') {
    return err.stack.split('\n').filter((line) => !line.includes(__filename)).join('\n');
  }
  // Something not an Error was thrown: a string as is, an object as console.log would show it.
  return typeof err === 'object' && err !== null ? require('util').inspect(err) : String(err);
}

async function handle(id, body) {
  try {
    const msg = JSON.parse(body.toString('utf8'));
    const dir = msg.path || process.env.SHIM_CODE_PATH || '/usr/code';
    const fn = await load(dir, msg.file || '');
    const res = new Response();
    await guarded(fn(new Request(msg), res));
    if (!res.reply) {
      const message = `the function in ${path.resolve(dir, msg.file)} returned without calling res.send() or res.json()`;
      return [`ERR ${id} 500`, Buffer.from(message)];
    }
    return [`RES ${id} ${res.reply.status} ${res.reply.type}`, res.reply.body];
  } catch (err) {
    if (err instanceof NotFound) return [`ERR ${id} 404`, Buffer.from(err.message)];
    return [`ERR ${id} 500`, Buffer.from(describe(err))];
  }
}

// ---- Protocol 2: the open-runtimes v5 `context` API -------------------------------------------------------
// The shim has applied every rule that needs no language (headers, URL parts, reply headers, charset, log
// truncation and files, timeouts): here the function is loaded, given a context, and its bytes moved.

class LoadFailure extends Error {} // the entry file is missing or exports no function: a 503, no stack

class ContextRequest {
  constructor(meta, raw) {
    this.bodyBinary = raw; // a Buffer: the request body exactly as the executor sent it
    this.headers = meta.headers || {};
    this.method = meta.method;
    this.scheme = meta.scheme;
    this.host = meta.host;
    this.port = meta.port;
    this.path = meta.path;
    this.queryString = meta.query_string;
    this.query = meta.query || {};
    this.url = meta.url;
    Object.defineProperty(this, '_jsonBody', { value: meta.json_body === true });
  }

  get bodyText() {
    return this.bodyBinary.toString('utf8');
  }

  get bodyRaw() {
    return this.bodyText; // deprecated: the text
  }

  get bodyJson() {
    return JSON.parse(this.bodyText); // whatever the content type; throws on invalid (or empty) JSON
  }

  get body() {
    if (!this._jsonBody) return this.bodyText;
    return this.bodyBinary.length === 0 ? {} : this.bodyJson;
  }
}

function bytesOf(body, call) {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError(`${call} takes a string or bytes (Buffer, Uint8Array), not ${body === null ? 'null' : typeof body}`);
}

function checkStatus(statusCode) {
  // Checked in the helper too, so that a bad status is a 500 whose stack points at the user's call.
  if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 599) {
    throw new RangeError(`status must be an integer from 200 to 599, not ${String(statusCode)}`);
  }
}

// A header the helper sets replaces any the function gave under that name, in any case.
function withHeader(headers, name, value) {
  const out = {};
  for (const [k, v] of Object.entries(headers || {})) if (k.toLowerCase() !== name) out[k] = v;
  out[name] = value;
  return out;
}

// Each helper returns a response, open-runtimes' plain { body, statusCode, headers }; only the one the function
// returns is the reply, so a function may also adjust it before returning it.
class ContextResponse {
  text(body, statusCode = 200, headers = {}) {
    checkStatus(statusCode);
    return { body: bytesOf(body, 'res.text()'), statusCode, headers: { ...headers } };
  }

  binary(bytes, statusCode = 200, headers = {}) {
    checkStatus(statusCode);
    return { body: bytesOf(bytes, 'res.binary()'), statusCode, headers: { ...headers } };
  }

  json(obj, statusCode = 200, headers = {}) {
    const text = JSON.stringify(obj);
    if (text === undefined) throw new TypeError(`res.json() got a value with no JSON form (${typeof obj})`);
    return this.text(text, statusCode, withHeader(headers, 'content-type', 'application/json'));
  }

  empty() {
    return this.text('', 204, {});
  }

  redirect(url, statusCode = 301, headers = {}) {
    return this.text('', statusCode, withHeader(headers, 'location', String(url)));
  }

  send(body, statusCode = 200, headers = {}) {
    return { body: bytesOf(body, 'res.send()'), statusCode, headers: { ...headers } }; // deprecated: as text
  }
}

// A string as the shim can read it back: a lone surrogate becomes U+FFFD, as it would in the body's UTF-8.
const wellFormed = String.prototype.toWellFormed
  ? (s) => String(s).toWellFormed()
  : (s) => Buffer.from(String(s), 'utf8').toString('utf8');

// The RES frame's parts: the headers as a JSON array of [name, value] pairs (an array value is one pair per
// item: repeated set-cookie), then the body.
function replyOf(id, response) {
  if (typeof response !== 'object' || typeof response.statusCode !== 'number') {
    throw new TypeError(`the function returned ${require('util').inspect(response)}, not a response: return ` +
      'context.res.text(…), .json(…), .binary(…), .empty(), .redirect(…) or .send(…)');
  }
  checkStatus(response.statusCode);
  const body = bytesOf(response.body ?? '', 'the response body');
  const pairs = [];
  for (const [name, value] of Object.entries(response.headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([wellFormed(name), wellFormed(v)]);
  }
  const head = Buffer.from(JSON.stringify(pairs), 'utf8');
  return [`RES ${id} ${response.statusCode} ${head.length}`, head, body];
}

// One log line: strings as they are, other values as compact JSON (an Error as its stack, a value JSON cannot
// show as node prints it), joined by one space.
function logLine(args) {
  return args.map((arg) => {
    if (typeof arg === 'string') return arg;
    if (arg instanceof Error) return describe(arg);
    if (typeof arg !== 'number' || Number.isFinite(arg)) {
      try {
        const text = JSON.stringify(arg);
        if (typeof text === 'string') return text;
      } catch {} // circular, a BigInt, a throwing toJSON
    }
    return require('util').inspect(arg); // undefined, NaN, 10n, a function, a symbol, a circular object
  }).join(' ');
}

// A line over this many UTF-16 units is cut before it is sent: the shim keeps 8000 characters anyway, and a
// frame past its reply limit would cost the worker.
const LOG_SEND_MAX = 1 << 20;

function contextOf(id, meta, raw, live) {
  const logger = (stream) => (...args) => {
    let line = logLine(args);
    if (line.length > LOG_SEND_MAX) line = line.slice(0, LOG_SEND_MAX);
    if (live.open) {
      writeFrame(`LOG ${id} ${stream}`, Buffer.from(line, 'utf8'));
    } else {
      // The execution has been answered (a timer, an unawaited promise): logged as a leftover of it.
      lateLines(id, `context.${stream}() after its execution ended: ${line}`);
    }
  };
  return { req: new ContextRequest(meta, raw), res: new ContextResponse(), log: logger('log'), error: logger('error') };
}

const v5 = { dir: '', entry: '', fn: null };

async function loadV5() {
  if (v5.fn) return v5.fn;
  const full = path.resolve(v5.dir, v5.entry);
  if (!v5.entry) throw new LoadFailure('Failed to load entrypoint: no file was named (OPEN_RUNTIMES_ENTRYPOINT is empty).');
  if (!isFile(full)) throw new LoadFailure(`Failed to load entrypoint, file ${v5.entry} does not exist.`);
  const fn = entryOf(await importModule(full)); // a throw here is a 503 with its stack; nothing is cached
  if (!fn) throw new LoadFailure("Function signature invalid. Did you forget to export a 'main' function?");
  return (v5.fn = fn);
}

async function handleV5(id, body, meta) {
  let fn;
  try {
    fn = await loadV5();
  } catch (err) {
    return [`ERR ${id} 503`, Buffer.from(err instanceof LoadFailure ? err.message : describe(err))];
  }
  const live = { open: true };
  try {
    const response = await guarded(fn(contextOf(id, JSON.parse(body.toString('utf8', 0, meta)), body.subarray(meta), live)));
    live.open = false;
    if (response === undefined || response === null) return [`NONE ${id}`];
    return replyOf(id, response);
  } catch (err) {
    return [`ERR ${id} 500`, Buffer.from(describe(err))];
  } finally {
    live.open = false;
  }
}

// ---- Protocol 2, the v2 contract: `(req, res)` with req.variables, req.payload, req.headers -------------------
// What the function prints with console.log/info/debug becomes LOG lines of the execution (the reply's
// `stdout`), console.error/warn those of `stderr`; the shim builds the envelope.

const CONSOLE = ['log', 'info', 'debug', 'warn', 'error'];

async function handleV2(id, body) {
  let fn;
  try {
    fn = await load(v5.dir, v5.entry);
  } catch (err) {
    return [`ERR ${id} ${err instanceof NotFound ? 503 : 500}`, Buffer.from(err instanceof NotFound ? err.message : describe(err))];
  }
  const msg = JSON.parse(body.toString('utf8'));
  const req = { variables: msg.variables || {}, payload: typeof msg.payload === 'string' ? msg.payload : '', headers: msg.headers || {} };
  const res = new Response();
  const saved = CONSOLE.map((name) => console[name]);
  let open = true;
  for (const name of CONSOLE) {
    const stream = name === 'error' || name === 'warn' ? 'error' : 'log';
    console[name] = (...args) => {
      if (open) writeFrame(`LOG ${id} ${stream}`, Buffer.from(logLine(args), 'utf8'));
      else lateLines(id, logLine(args));
    };
  }
  try {
    await guarded(fn(req, res));
  } catch (err) {
    return [`ERR ${id} 500`, Buffer.from(describe(err))];
  } finally {
    open = false;
    CONSOLE.forEach((name, i) => { console[name] = saved[i]; });
  }
  if (!res.reply) return [`NONE ${id}`];
  const head = Buffer.from(res.reply.type === 'json' ? '[["content-type","application/json"]]' : '[]');
  return [`RES ${id} ${res.reply.status} ${head.length}`, head, res.reply.body];
}

// Frames arrive in arbitrary chunks. A header is collected up to its '\n'; a body is copied into a buffer of
// its announced size, so a large payload is not re-concatenated chunk by chunk.
let header = Buffer.alloc(0);
let pending = null; // { id, body, filled } while a body is incomplete
const queue = [];
let busy = false;
let ended = false;

const NUMBER = /^(0|[1-9][0-9]*)$/;

function startFrame(line) {
  const tokens = line.toString('latin1').slice(0, -1).split(' ');
  const length = tokens[tokens.length - 1];
  // Protocol 2: REQ <id> <M> <N>, the first M bytes of the body being the metadata.
  const meta = PROTOCOL === 2 && tokens.length === 4 && NUMBER.test(tokens[2]) ? Number(tokens[2]) : null;
  if (tokens[0] !== 'REQ' || tokens.length < 3 || !/^[A-Za-z0-9._-]{1,64}$/.test(tokens[1]) || !NUMBER.test(length) ||
      (PROTOCOL === 2 && (meta === null || meta > Number(length)))) {
    fatal(`bad request header: ${JSON.stringify(line.toString('latin1'))}`);
  }
  return { id: tokens[1], body: Buffer.allocUnsafe(Number(length)), filled: 0, meta };
}

function onData(chunk) {
  let at = 0;
  for (;;) {
    if (pending === null) {
      if (at === chunk.length) break;
      const nl = chunk.indexOf(10, at);
      const end = nl === -1 ? chunk.length : nl + 1;
      header = header.length === 0 ? chunk.subarray(at, end) : Buffer.concat([header, chunk.subarray(at, end)]);
      at = end;
      if (header.length > HEADER_MAX) fatal(`a request header is longer than ${HEADER_MAX} bytes`);
      if (nl === -1) break;
      pending = startFrame(header);
      header = Buffer.alloc(0);
    }
    const n = Math.min(pending.body.length - pending.filled, chunk.length - at);
    chunk.copy(pending.body, pending.filled, at, at + n);
    pending.filled += n;
    at += n;
    if (pending.filled < pending.body.length) break;
    queue.push(pending);
    pending = null;
  }
  drain();
}

async function drain() {
  if (busy) return; // one request at a time: the rest wait in the queue
  busy = true;
  while (queue.length) {
    const { id, body, meta } = queue.shift();
    restoreStart();
    serving = id;
    const handled = origin.run(id, () => PROTOCOL === 1 ? handle(id, body) : CONTRACT === 'v2' ? handleV2(id, body) : handleV5(id, body, meta));
    const reply = await handled;
    serving = abort = null;
    writeFrame(...reply);
  }
  busy = false;
  if (ended) finish();
}

function finish() {
  if (pending || header.length) fatal('input ended inside a frame');
  process.exit(0); // explicitly: timers or sockets the user's code left open must not keep us alive
}

function openInput(fd) {
  // A pipe read through libuv's event loop does not hold a threadpool thread while idle, as fs reads would.
  // Bun's net.Socket cannot read a pipe by fd, and a regular file (tests) has no pipe handle: both stream it.
  if (!process.versions.bun) {
    try {
      return new net.Socket({ fd, readable: true, writable: false });
    } catch {}
  }
  return fs.createReadStream(null, { fd });
}

(async () => {
  const { SHIM_CODE_PATH: dir, SHIM_ENTRYPOINT: entry } = process.env;
  if (PROTOCOL === 2) {
    // v5 functions read their variables from process.env, which must not show the shim's settings.
    for (const name of Object.keys(process.env)) if (name.startsWith('SHIM_')) delete process.env[name];
    Object.assign(v5, { dir: dir || '/usr/local/server/src/function', entry: entry || '' });
    const preload = CONTRACT === 'v2' ? () => load(v5.dir, v5.entry) : loadV5;
    await preload().catch(() => {}); // reported to each request until one loads it
  } else if (dir && entry && isFile(path.resolve(dir, entry))) {
    await load(dir, entry).catch(() => {}); // reported, with its stack, to the first request that needs it
  }
  keepStart();
  const runtime = process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`;
  writeFrame(`READY ${PROTOCOL} json`, Buffer.from(runtime));
  const input = openInput(protoIn);
  input.on('data', onData);
  input.on('end', () => {
    ended = true;
    if (!busy) finish();
  });
  input.on('error', (e) => fatal(`reading requests: ${e.message}`));
})();
