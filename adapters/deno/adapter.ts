#!/usr/bin/env -S deno run --allow-all
// runtime-shim adapter for Deno 2: serves a user's `export default async function (req, res)` over adapter
// protocol 1. The wire format is docs/adapter-protocol.md. Run it as `deno run -A adapter.ts`; no imports.

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

function writeFrame(head: string, body: Uint8Array = new Uint8Array()) {
  const headBytes = new TextEncoder().encode(`${head} ${body.length}\n`);
  const data = new Uint8Array(headBytes.length + body.length);
  data.set(headBytes);
  data.set(body, headBytes.length);
  for (let at = 0; at < data.length;) at += protoOut.writeSync(data.subarray(at)); // may be partial
}

// Reading: a header line of at most HEADER_MAX bytes, then a body read straight into a buffer of its size.
let pending = new Uint8Array(0);
async function readFrame(): Promise<[string, Uint8Array]> {
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
  return [t[1], body];
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

const dir = Deno.env.get('SHIM_CODE_PATH'), entry = Deno.env.get('SHIM_ENTRYPOINT');
if (dir && entry && isFile(`${dir}/${entry}`)) await load(dir, entry).catch(() => {}); // errors go to the first request
writeFrame('READY 1 json', new TextEncoder().encode(`deno ${Deno.version.deno}`));
while (true) {
  const [id, body] = await readFrame();
  writeFrame(...(await handle(id, body)));
}
