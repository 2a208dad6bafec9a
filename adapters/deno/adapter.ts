#!/usr/bin/env -S deno run --allow-all
// runtime-shim adapter for Deno 2: serves a user's `export default async function (req, res)` over adapter
// protocol 1 (the v1 contract), or open-runtimes' v5 `export default async (context) => …` over protocol 2 when
// SHIM_PROTOCOL is 2. The wire format is docs/adapter-protocol.md. Run it as `deno run -A adapter.ts`; no imports.

const PROTOCOL = Deno.env.get('SHIM_PROTOCOL') === '2' ? 2 : 1;

const HEADER_MAX = 256;
const SELF = import.meta.url;

function fatal(message: string): never {
  console.error(`deno adapter: ${message}`);
  Deno.exit(2);
}

// The protocol owns fds 0 and 1. Deno has no dup2 and its Deno.stdout.close() leaves fd 1 open, so libc's own
// dup/dup2 (FFI, part of --allow-all) keep private copies and point fd 1 at stderr and fd 0 at /dev/null. Deno also
// holds copies of its own (behind Deno.stdout and 'inherit' for children): any other descriptor on the protocol
// pipes is pointed at stderr or /dev/null too. Then console.log, Deno.stdout, native code and child processes all
// write to stderr. Deno cannot wrap a raw fd: the private copies are reopened through /proc as Deno files
// (close-on-exec) and closed, so no child process inherits a descriptor of the protocol.
function moveProtocolFds(): [Deno.FsFile, Deno.FsFile] {
  let libc;
  for (const name of ['libc.so.6', '/lib/ld-musl-x86_64.so.1', '/lib/ld-musl-aarch64.so.1']) { // glibc, musl
    try {
      libc = Deno.dlopen(name, {
        dup: { parameters: ['i32'], result: 'i32' },
        dup2: { parameters: ['i32', 'i32'], result: 'i32' },
        dup3: { parameters: ['i32', 'i32', 'i32'], result: 'i32' },
        close: { parameters: ['i32'], result: 'i32' },
        open: { parameters: ['buffer', 'i32'], result: 'i32' },
      });
      break;
    } catch { /* the next name */ }
  }
  if (!libc) fatal('cannot load libc through FFI: run the adapter with `deno run -A` (older Deno: add --unstable-ffi)');
  const { dup, dup2, dup3, close, open } = libc.symbols;
  const target = (fd: number | string) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return null;
    }
  };
  const [stdin, stdout] = [target(0), target(1)];
  const out = dup(1), inp = dup(0), nul = open(new TextEncoder().encode('/dev/null\0'), 0 /* O_RDONLY */);
  if (out < 0 || inp < 0 || nul < 0 || dup2(2, 1) !== 1 || dup2(nul, 0) !== 0) fatal('could not move the protocol off fds 0 and 1');
  for (const { name } of [...Deno.readDirSync('/proc/self/fd')]) {
    const fd = Number(name);
    if (fd <= 2 || fd === out || fd === inp || fd === nul) continue;
    const t = target(fd);
    if (t !== null && t === stdout) dup3(2, fd, 0o2000000 /* O_CLOEXEC, as Deno had it */);
    else if (t !== null && t === stdin) dup3(nul, fd, 0o2000000);
  }
  const files: [Deno.FsFile, Deno.FsFile] = [Deno.openSync(`/proc/self/fd/${inp}`, { read: true }), Deno.openSync(`/proc/self/fd/${out}`, { write: true, append: true })];
  [out, inp, nul].forEach((fd) => close(fd)); // no descriptor of the protocol is inherited by child processes
  libc.close();
  return files;
}
const [protoIn, protoOut] = moveProtocolFds();

function writeAll(data: Uint8Array) {
  for (let at = 0; at < data.length;) at += protoOut.writeSync(data.subarray(at)); // may be partial
}

// A frame; protocol 2's RES carries `meta` (M bytes, the reply's headers) before the body.
function writeFrame(head: string, body: Uint8Array = new Uint8Array(), meta: Uint8Array = new Uint8Array()) {
  const headBytes = new TextEncoder().encode(`${head} ${meta.length + body.length}\n`);
  if (body.length > 65536) { // a large body is written as it is, not copied behind its header
    const start = new Uint8Array(headBytes.length + meta.length);
    start.set(headBytes);
    start.set(meta, headBytes.length);
    writeAll(start);
    writeAll(body);
    return;
  }
  const data = new Uint8Array(headBytes.length + meta.length + body.length);
  data.set(headBytes);
  data.set(meta, headBytes.length);
  data.set(body, headBytes.length + meta.length);
  writeAll(data);
}

// Reading: a header line of at most HEADER_MAX bytes, then a body read straight into a buffer of its size.
let pending = new Uint8Array(0);
async function readFrame(): Promise<[string, Uint8Array, string[]]> {
  let nl;
  while ((nl = pending.indexOf(10)) < 0) {
    if (pending.length >= HEADER_MAX) fatal(`a request header is longer than ${HEADER_MAX} bytes`);
    const chunk = new Uint8Array(65536);
    const n = await protoIn.read(chunk);
    if (n === null) {
      if (pending.length) fatal('input ended inside a request header');
      Deno.exit(0); // EOF between frames: the shim is done with us
    }
    const grown = new Uint8Array(pending.length + n);
    grown.set(pending);
    grown.set(chunk.subarray(0, n), pending.length);
    pending = grown;
  }
  if (nl >= HEADER_MAX) fatal(`a request header is longer than ${HEADER_MAX} bytes`);
  const line = new TextDecoder('latin1').decode(pending.subarray(0, nl));
  const t = line.split(' ');
  if (t[0] !== 'REQ' || t.length < 3 || !/^[A-Za-z0-9._-]{1,64}$/.test(t[1]) || !/^(0|[1-9][0-9]*)$/.test(t[t.length - 1])) {
    fatal(`bad request header: ${JSON.stringify(line)}`);
  }
  const body = new Uint8Array(Number(t[t.length - 1]));
  let filled = Math.min(body.length, pending.length - nl - 1);
  body.set(pending.subarray(nl + 1, nl + 1 + filled));
  pending = pending.slice(nl + 1 + filled); // empty: the shim sends nothing more before our reply
  while (filled < body.length) {
    const n = await protoIn.read(body.subarray(filled));
    if (n === null) fatal('input ended inside a request body');
    filled += n;
  }
  return [t[1], body, t];
}

class NotFound extends Error {} // the entry file or its function is missing: a 404

export class Request {
  env: Record<string, string>;
  payload: string;
  headers: Record<string, string>;
  constructor(msg: Record<string, any>) {
    this.env = msg.env ?? {};
    this.payload = typeof msg.payload === 'string' ? msg.payload : '';
    this.headers = msg.headers ?? {};
  }
}

export class Response {
  reply?: { status: number; type: 'text' | 'json'; body: Uint8Array };
  send(text: string | Uint8Array, status = 200) {
    if (typeof text === 'string') text = new TextEncoder().encode(text);
    else if (!(text instanceof Uint8Array)) throw new TypeError(`res.send() takes a string or a Uint8Array, not ${typeof text}`);
    this.#set(status, 'text', text);
  }
  json(value: unknown, status = 200) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`res.json() got a value with no JSON form (${typeof value})`);
    this.#set(status, 'json', new TextEncoder().encode(text));
  }
  #set(status: number, type: 'text' | 'json', body: Uint8Array) {
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`status must be an integer from 200 to 599, not ${String(status)}`);
    }
    this.reply = { status, type, body }; // the last call wins
  }
}

type Fn = (req: Request, res: Response) => unknown;
const functions = new Map<string, Fn>(); // absolute path of the entry file -> its function; loaded once

function isFile(full: string) {
  try {
    return Deno.statSync(full).isFile;
  } catch {
    return false;
  }
}

async function load(dir: string, file: string): Promise<Fn> {
  if (!file) throw new NotFound(`no entry file was named for ${dir}: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME`);
  const full = file.startsWith('/') ? file : `${dir.replace(/\/+$/, '')}/${file}`;
  if (functions.has(full)) return functions.get(full)!;
  if (!isFile(full)) throw new NotFound(`entry file ${full} does not exist: expected a module with export default function (req, res)`);
  const url = new URL('file:///');
  url.pathname = full;
  const mod = await import(url.href); // a throw here is a 500
  const fn = [mod.default, mod.main].find((f) => typeof f === 'function');
  if (!fn) throw new NotFound(`${full} exports no function: expected export default async function (req, res) { … }`);
  functions.set(full, fn);
  return fn;
}

function describe(err: unknown): string {
  // The stack is the language's own report; the adapter's frames below the user's only hide it.
  if (err instanceof Error && typeof err.stack === 'string') return err.stack.split('\n').filter((l) => !l.includes(SELF)).join('\n');
  return typeof err === 'object' && err !== null ? Deno.inspect(err) : String(err);
}

async function handle(id: string, body: Uint8Array): Promise<[string, Uint8Array]> {
  const text = (s: string) => new TextEncoder().encode(s);
  try {
    const msg = JSON.parse(new TextDecoder().decode(body));
    const dir = msg.path || Deno.env.get('SHIM_CODE_PATH') || '/usr/code';
    const fn = await load(dir, msg.file || '');
    const res = new Response();
    await fn(new Request(msg), res);
    if (!res.reply) return [`ERR ${id} 500`, text(`the function in ${dir}/${msg.file} returned without calling res.send() or res.json()`)];
    return [`RES ${id} ${res.reply.status} ${res.reply.type}`, res.reply.body];
  } catch (err) {
    if (err instanceof NotFound) return [`ERR ${id} 404`, text(err.message)];
    return [`ERR ${id} 500`, text(describe(err))];
  }
}

// ---- Protocol 2: open-runtimes' v5 `context` API ----------------------------------------------------------------
// The shim has computed everything `context.req` shows and applies the contract's rules to the reply (header names
// and filtering, content-type and charset, log truncation, log files): here the function is loaded, given a
// context, and its bytes moved.

class LoadFailure extends Error {} // the entry file is missing or exports no function: a 503, no stack

// The request's metadata as the shim sends it (docs/adapter-protocol.md, "Version 2").
type Metadata = {
  method: string;
  scheme: string;
  host: string;
  port: number;
  path: string;
  query_string: string;
  query?: Record<string, string>;
  url: string;
  headers?: Record<string, string>;
  json_body?: boolean;
};

export class ContextRequest {
  bodyBinary: Uint8Array; // the request body exactly as the executor sent it
  headers: Record<string, string>;
  method: string;
  scheme: string;
  host: string;
  port: number;
  path: string;
  queryString: string;
  query: Record<string, string>;
  url: string;
  #jsonBody: boolean;
  constructor(meta: Metadata, raw: Uint8Array) {
    this.bodyBinary = raw;
    this.headers = meta.headers ?? {};
    this.method = meta.method;
    this.scheme = meta.scheme;
    this.host = meta.host;
    this.port = meta.port;
    this.path = meta.path;
    this.queryString = meta.query_string;
    this.query = meta.query ?? {};
    this.url = meta.url;
    this.#jsonBody = meta.json_body === true;
  }
  get bodyText(): string {
    return new TextDecoder().decode(this.bodyBinary); // invalid UTF-8 becomes U+FFFD
  }
  get bodyRaw(): string {
    return this.bodyText; // deprecated: the text
  }
  get bodyJson(): unknown {
    return JSON.parse(this.bodyText); // whatever the content type; throws on invalid (or empty) JSON
  }
  get body(): unknown {
    if (!this.#jsonBody) return this.bodyText;
    return this.bodyBinary.length === 0 ? {} : this.bodyJson;
  }
}

export type ContextResponseValue = { body: Uint8Array; statusCode: number; headers: Record<string, unknown> };
type Body = string | Uint8Array | ArrayBufferView | ArrayBuffer;

function bytesOf(body: Body, call: string): Uint8Array {
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError(`${call} takes a string or bytes (Uint8Array), not ${body === null ? 'null' : typeof body}`);
}

function checkStatus(statusCode: number) {
  // Checked in the helper, so that a bad status is a 500 whose stack points at the user's call.
  if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 599) {
    throw new RangeError(`status must be an integer from 200 to 599, not ${String(statusCode)}`);
  }
}

// A header the helper sets replaces any the function gave under that name, in any case.
function withHeader(headers: Record<string, unknown>, name: string, value: string) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() !== name) out[k] = v;
  out[name] = value;
  return out;
}

// Each helper returns a response, open-runtimes' plain { body, statusCode, headers }; only the one the function
// returns is the reply.
export class ContextResponse {
  text(body: string, statusCode = 200, headers: Record<string, unknown> = {}): ContextResponseValue {
    checkStatus(statusCode);
    return { body: bytesOf(body, 'res.text()'), statusCode, headers: { ...headers } };
  }
  binary(bytes: Body, statusCode = 200, headers: Record<string, unknown> = {}): ContextResponseValue {
    checkStatus(statusCode);
    return { body: bytesOf(bytes, 'res.binary()'), statusCode, headers: { ...headers } };
  }
  json(obj: unknown, statusCode = 200, headers: Record<string, unknown> = {}): ContextResponseValue {
    const text = JSON.stringify(obj);
    if (text === undefined) throw new TypeError(`res.json() got a value with no JSON form (${typeof obj})`);
    return this.text(text, statusCode, withHeader(headers, 'content-type', 'application/json'));
  }
  empty(): ContextResponseValue {
    return this.text('', 204, {});
  }
  redirect(url: string, statusCode = 301, headers: Record<string, unknown> = {}): ContextResponseValue {
    return this.text('', statusCode, withHeader(headers, 'location', String(url)));
  }
  send(body: Body, statusCode = 200, headers: Record<string, unknown> = {}): ContextResponseValue {
    checkStatus(statusCode);
    return { body: bytesOf(body, 'res.send()'), statusCode, headers: { ...headers } }; // deprecated: as given
  }
}

// A string as the shim can read it back: a lone surrogate becomes U+FFFD, as it would in UTF-8.
const wellFormed = (s: unknown) => new TextDecoder().decode(new TextEncoder().encode(String(s)));

// The RES frame's parts: the headers as a JSON array of [name, value] pairs (an array value is one pair per item:
// repeated set-cookie), then the body.
function replyOf(id: string, returned: unknown): [string, Uint8Array, Uint8Array] {
  const response = returned as Partial<ContextResponseValue>;
  if (typeof returned !== 'object' || typeof response.statusCode !== 'number') {
    throw new TypeError(`the function returned ${Deno.inspect(returned)}, not a response: return ` +
      'context.res.text(…), .json(…), .binary(…), .empty(), .redirect(…) or .send(…)');
  }
  checkStatus(response.statusCode);
  const body = bytesOf(response.body ?? '', 'the response body');
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([wellFormed(name), wellFormed(v)]);
  }
  const head = new TextEncoder().encode(JSON.stringify(pairs));
  return [`RES ${id} ${response.statusCode} ${head.length}`, body, head];
}

// One log line: strings as they are, other values as compact JSON (an Error as its stack, a value JSON cannot
// show as Deno prints it), joined by one space.
function logLine(args: unknown[]): string {
  return args.map((arg) => {
    if (typeof arg === 'string') return arg;
    if (arg instanceof Error) return describe(arg);
    if (typeof arg !== 'number' || Number.isFinite(arg)) {
      try {
        const text = JSON.stringify(arg);
        if (typeof text === 'string') return text;
      } catch { /* circular, a BigInt, a throwing toJSON */ }
    }
    return Deno.inspect(arg); // undefined, NaN, 10n, a function, a symbol, a circular object
  }).join(' ');
}

// A line over this many UTF-16 units is cut before it is sent: the shim keeps 8000 characters anyway.
const LOG_SEND_MAX = 1 << 16;
let serving: string | null = null; // the id of the request being served, null between requests

function contextOf(id: string, meta: Metadata, raw: Uint8Array) {
  const logger = (stream: string) => (...args: unknown[]) => {
    let line = logLine(args);
    if (line.length > LOG_SEND_MAX) line = line.slice(0, LOG_SEND_MAX);
    if (serving === id) {
      writeFrame(`LOG ${id} ${stream}`, new TextEncoder().encode(wellFormed(line)));
    } else {
      // Its execution has ended (a timer, an unawaited promise): a frame would carry a stale id, so the line is
      // native output instead.
      console.error(line);
    }
  };
  return { req: new ContextRequest(meta, raw), res: new ContextResponse(), log: logger('log'), error: logger('error') };
}

const v5 = { dir: '', entry: '', fn: null as null | ((context: unknown) => unknown), attempts: 0 };

async function loadV5() {
  if (v5.fn) return v5.fn;
  const full = v5.entry.startsWith('/') ? v5.entry : `${v5.dir.replace(/\/+$/, '')}/${v5.entry}`;
  if (!v5.entry || !isFile(full)) throw new LoadFailure(`Failed to load entrypoint, file ${v5.entry} does not exist.`);
  const url = new URL('file:///');
  url.pathname = full;
  // Deno keeps a module whose evaluation failed as failed: a retry imports it under another URL.
  if (v5.attempts++ > 0) url.search = `?shim-load=${v5.attempts}`;
  const mod = await import(url.href); // a throw here is a 503 with its stack; nothing is cached
  const fn = [mod.default, mod.main].find((f) => typeof f === 'function');
  if (!fn) throw new LoadFailure("Function signature invalid. Did you forget to export a 'main' function?");
  return (v5.fn = fn);
}

async function handleV5(id: string, body: Uint8Array, meta: number): Promise<[string, Uint8Array?, Uint8Array?]> {
  const text = (s: string) => new TextEncoder().encode(s);
  let fn;
  try {
    fn = await loadV5();
  } catch (err) {
    return [`ERR ${id} 503`, text(err instanceof LoadFailure ? err.message : describe(err))];
  }
  try {
    const metadata = JSON.parse(new TextDecoder().decode(body.subarray(0, meta)));
    const response = await fn(contextOf(id, metadata, body.subarray(meta)));
    if (response === undefined || response === null) return [`NONE ${id}`];
    return replyOf(id, response);
  } catch (err) {
    return [`ERR ${id} 500`, text(describe(err))];
  }
}

// ---- One execution must not reach into the next --------------------------------------------------------------
// An exception or a rejection nobody handles (a timer that throws after the reply) is logged, never fatal: while a
// request is served, as a LOG frame under no execution's id ("-"), which the shim logs as its own line rather
// than the running request's; between requests, on stderr. Each execution starts in the working directory and
// with the environment the adapter had when it became ready.
function unhandled(what: string, err: unknown) {
  const text = `${what}, not the running execution's: ${describe(err)}`;
  if (serving === null) return console.error(text);
  for (const line of text.split('\n')) writeFrame('LOG - error', new TextEncoder().encode(wellFormed(line)));
}
globalThis.addEventListener('error', (e) => {
  e.preventDefault();
  unhandled('an uncaught exception', e.error);
});
globalThis.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  unhandled('an unhandled rejection', e.reason);
});

const start = { dir: Deno.cwd(), env: {} as Record<string, string> };
function keepStart() {
  Object.assign(start, { dir: Deno.cwd(), env: Deno.env.toObject() });
}
function restoreStart() {
  try {
    if (Deno.cwd() !== start.dir) Deno.chdir(start.dir);
  } catch {
    try {
      Deno.chdir(start.dir);
    } catch { /* its directory was removed: going back fails as well */ }
  }
  const now = Deno.env.toObject();
  for (const name of Object.keys(now)) if (!(name in start.env)) Deno.env.delete(name);
  for (const [name, value] of Object.entries(start.env)) if (now[name] !== value) Deno.env.set(name, value);
}

const dir = Deno.env.get('SHIM_CODE_PATH'), entry = Deno.env.get('SHIM_ENTRYPOINT');
if (PROTOCOL === 2) {
  // v5 functions read their variables from Deno.env, which must not show the adapter's settings.
  for (const name of Object.keys(Deno.env.toObject())) if (name.startsWith('SHIM_')) Deno.env.delete(name);
  Object.assign(v5, { dir: dir || '/usr/local/server/src/function', entry: entry || '' });
  await loadV5().catch(() => {}); // a failure is reported to every request until one loads it
  keepStart();
  writeFrame('READY 2 json', new TextEncoder().encode(`deno ${Deno.version.deno}`));
  while (true) {
    const [id, body, t] = await readFrame();
    if (t.length !== 4 || !/^(0|[1-9][0-9]*)$/.test(t[2]) || Number(t[2]) > body.length) {
      fatal(`bad request header: ${JSON.stringify(t.join(' '))}`);
    }
    restoreStart();
    serving = id; // from here until the reply, context.log writes LOG frames with this id
    const reply = await handleV5(id, body, Number(t[2]));
    serving = null;
    writeFrame(...reply);
  }
}

if (dir && entry && isFile(`${dir}/${entry}`)) await load(dir, entry).catch(() => {}); // errors go to the first request
keepStart();
writeFrame('READY 1 json', new TextEncoder().encode(`deno ${Deno.version.deno}`));
while (true) {
  const [id, body] = await readFrame();
  restoreStart();
  serving = id;
  const reply = await handle(id, body);
  serving = null;
  writeFrame(...reply);
}
