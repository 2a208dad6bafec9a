//! The native path: a function built as a shared library (`SHIM_NATIVE_LIB`, ABI in
//! `adapters/native/runtime_shim.h`), served by the shim binary itself re-executed as a worker
//! (`runtime-shim native-worker <lib>`). A library implements ABI version 1 (`rshim_handle`, the v1
//! contract, adapter protocol 1) or version 2 (`rshim_serve`, the v5 contract, adapter protocol 2).
//!
//! The worker is an ordinary adapter to the pool — same handshake, frames, timeouts and group kills — so a
//! segfault or an endless loop in the library costs one request and one worker, and the server never loads
//! user code. Between the shim and the worker the request travels in the `kv` encoding; into the library it
//! goes as C structs of byte strings: no JSON on the way.

use std::ffi::c_void;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use runtime_shim_native::abi;

/// The hidden subcommand that runs a worker.
pub const WORKER_COMMAND: &str = "native-worker";

/// What went wrong loading a library: the message names the library and, where it applies, the symbol.
pub fn load_error(lib: &str, e: impl std::fmt::Display) -> String {
    format!("native library {lib}: {e}")
}

/// A loaded, checked library.
struct Library {
    _lib: libloading::Library,
    entry: Entry,
}

/// The function, by the ABI version the library declares.
enum Entry {
    V1(abi::HandleFn),
    V2(abi::ServeFn),
}

fn load(path: &str) -> Result<Library, String> {
    if !Path::new(path).is_file() {
        return Err(load_error(path, "no such file"));
    }
    // SAFETY: loading runs the library's initializers, i.e. user code; that is why this happens only in the
    // isolated worker process, never in the server.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| load_error(path, e))?;
    // SAFETY: the symbols are declared with the ABI's C signatures (runtime_shim.h); a library exporting
    // something else under these names breaks its own contract.
    unsafe {
        let version: libloading::Symbol<abi::VersionFn> =
            lib.get(abi::VERSION_SYMBOL).map_err(|_| {
                load_error(
                    path,
                    "missing symbol rshim_abi_version (is it built against runtime_shim.h?)",
                )
            })?;
        let found = version();
        let entry = match found {
            abi::VERSION => Entry::V1(
                *lib.get::<abi::HandleFn>(abi::HANDLE_SYMBOL)
                    .map_err(|_| load_error(path, "missing symbol rshim_handle"))?,
            ),
            abi::VERSION_2 => Entry::V2(
                *lib.get::<abi::ServeFn>(abi::SERVE_SYMBOL)
                    .map_err(|_| load_error(path, "missing symbol rshim_serve (native ABI 2)"))?,
            ),
            _ => {
                return Err(load_error(
                    path,
                    format!(
                        "rshim_abi_version() is {found}; this shim speaks native ABI {} and {}",
                        abi::VERSION,
                        abi::VERSION_2
                    ),
                ));
            }
        };
        if let Ok(init) = lib.get::<abi::InitFn>(abi::INIT_SYMBOL) {
            let status = init();
            if status != 0 {
                return Err(load_error(path, format!("rshim_init() returned {status}")));
            }
        }
        Ok(Library { _lib: lib, entry })
    }
}

/// `runtime-shim native-worker --check <lib>`: load and check, print the verdict, exit 0 or 2.
pub fn check(path: &str) -> ExitCode {
    match load(path) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the library's check in a separate process before serving, so a bad library is a startup error
/// that names it — without the server loading user code.
pub fn preflight(exe: &Path, lib: &str) -> Result<(), String> {
    let out = std::process::Command::new(exe)
        .args([WORKER_COMMAND, "--check", lib])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the native check: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if said.is_empty() {
            load_error(lib, format!("loading it failed ({})", out.status))
        } else {
            said
        })
    }
}

/// A reply: status, `text` or `json`, body.
type Reply = (u16, &'static str, Vec<u8>);

/// One `kv` record: tag, key, value.
type Record<'a> = (&'a str, &'a [u8], &'a [u8]);

/// Every `tag` record of a request, as the library's name/value pairs.
fn fields_pairs(fields: &[Record<'_>], tag: &str) -> Vec<abi::Pair> {
    fields
        .iter()
        .filter(|(t, _, _)| *t == tag)
        .map(|(_, k, v)| abi::Pair {
            name: abi::Bytes::of(k),
            value: abi::Bytes::of(v),
        })
        .collect()
}

/// The value of the first `tag` record, empty when there is none.
fn fields_scalar<'a>(fields: &[Record<'a>], tag: &str) -> &'a [u8] {
    fields
        .iter()
        .find(|(t, _, _)| *t == tag)
        .map_or(&[][..], |(_, _, v)| v)
}

/// The first `tag` record as a number, 0 when absent or not one.
fn fields_number(fields: &[Record<'_>], tag: &str) -> u64 {
    std::str::from_utf8(fields_scalar(fields, tag))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The reply the library's calls leave behind.
#[derive(Default)]
struct State {
    reply: Option<Reply>,
    failure: Option<Vec<u8>>,
}

fn state<'a>(res: *mut abi::Response) -> &'a mut State {
    // SAFETY: `res` is the response this module built for the current call; `state` points to its State,
    // which outlives the call.
    unsafe { &mut *((*res).state as *mut State) }
}

fn copy(ptr: *const u8, len: usize) -> Vec<u8> {
    // SAFETY: the ABI promises `len` readable bytes at `ptr` for the duration of the call.
    unsafe { abi::Bytes { ptr, len }.as_slice() }.to_vec()
}

extern "C" fn on_send(res: *mut abi::Response, text: *const u8, len: usize, status: u16) {
    let s = state(res);
    s.reply = Some((status, "text", copy(text, len)));
    s.failure = None;
}

extern "C" fn on_json(res: *mut abi::Response, json: *const u8, len: usize, status: u16) {
    let s = state(res);
    s.reply = Some((status, "json", copy(json, len)));
    s.failure = None;
}

extern "C" fn on_fail(res: *mut abi::Response, message: *const u8, len: usize) {
    let s = state(res);
    s.failure = Some(copy(message, len));
    s.reply = None;
}

/// The worker: protocol on private copies of fds 0 and 1, user output to stderr, one request at a time.
pub fn worker(path: &str) -> ExitCode {
    // First, so that nothing the library prints, even in its initializers, can reach a frame.
    let (proto_in, proto_out) = match take_protocol_fds() {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("native worker: cannot set up its descriptors: {e}");
            return ExitCode::from(2);
        }
    };
    let protocol_2 = std::env::var("SHIM_PROTOCOL").as_deref() == Ok("2");
    let entrypoint = std::env::var("SHIM_ENTRYPOINT").unwrap_or_default();
    if protocol_2 {
        // The function's variables are the process environment, less the shim's own settings.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SHIM_") {
                // SAFETY: the worker has started no thread yet; nothing reads the environment meanwhile.
                unsafe { std::env::remove_var(name) };
            }
        }
    }
    let library = match load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let version = match (&library.entry, protocol_2) {
        (Entry::V1(_), false) => 1,
        (Entry::V2(_), true) => 2,
        (Entry::V1(_), true) => {
            eprintln!(
                "native library {path} implements native ABI 1 (the v1 contract); the v5 contract needs ABI 2 (rshim_serve)"
            );
            return ExitCode::from(2);
        }
        (Entry::V2(_), false) => {
            eprintln!(
                "native library {path} implements native ABI 2 (the v5 contract); serve it with SHIM_PROTOCOL=v5"
            );
            return ExitCode::from(2);
        }
    };
    let mut input = BufReader::new(proto_in);
    let mut output = proto_out;
    let info = format!("native {path}");
    if write_frame(
        &mut output,
        &format!("READY {version} kv {}", info.len()),
        info.as_bytes(),
    )
    .is_err()
    {
        return ExitCode::from(2);
    }
    if let Entry::V2(serve) = library.entry {
        return worker_v2(serve, &entrypoint, &mut input, output);
    }
    let Entry::V1(handle) = library.entry else {
        unreachable!("v2 served above")
    };
    loop {
        let (id, body) = match read_request(&mut input) {
            Ok(Some((id, _, body))) => (id, body),
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("native worker: {e}");
                return ExitCode::from(2);
            }
        };
        let (head, reply) = match serve(handle, &body) {
            Ok(Some((status, kind, body))) => {
                (format!("RES {id} {status} {kind} {}", body.len()), body)
            }
            Ok(None) => {
                let m = b"rshim_handle returned without calling send, json or fail".to_vec();
                (format!("ERR {id} 500 {}", m.len()), m)
            }
            Err(message) => (format!("ERR {id} 500 {}", message.len()), message),
        };
        if write_frame(&mut output, &head, &reply).is_err() {
            return ExitCode::from(2);
        }
    }
}

/// Calls the library for one request; `Err` carries a failure message.
fn serve(handle: abi::HandleFn, body: &[u8]) -> Result<Option<Reply>, Vec<u8>> {
    let fields = parse_kv(body).map_err(|e| e.into_bytes())?;
    let (pairs, scalar, number) = (
        |tag| fields_pairs(&fields, tag),
        |tag| fields_scalar(&fields, tag),
        |tag| fields_number(&fields, tag),
    );
    let (env, headers) = (pairs("env"), pairs("header"));
    let request = abi::Request {
        path: abi::Bytes::of(scalar("path")),
        file: abi::Bytes::of(scalar("file")),
        payload: abi::Bytes::of(scalar("payload")),
        env: env.as_ptr(),
        env_len: env.len(),
        headers: headers.as_ptr(),
        headers_len: headers.len(),
        timeout_ms: number("timeout_ms"),
        deadline_ms: number("deadline_ms"),
    };
    let mut state = State::default();
    let mut response = abi::Response {
        state: &mut state as *mut State as *mut c_void,
        send: on_send,
        json: on_json,
        fail: on_fail,
    };
    // SAFETY: `request` and everything it points to (`fields`, `env`, `headers`) and `response` with its
    // `state` live until after this call returns, as the ABI promises the library.
    unsafe { handle(&request, &mut response) };
    match state.failure {
        Some(message) => Err(message),
        None => Ok(state.reply),
    }
}

/// What the library's version-2 callbacks leave behind, and where its log lines go.
struct StateV2<'a> {
    id: &'a str,
    output: &'a mut File,
    status: Option<u16>,
    headers: Vec<u8>,
    body: Vec<u8>,
    failure: Option<(u16, Vec<u8>)>,
    broken: bool,
}

fn state_v2<'a, 'b>(res: *mut abi::ResponseV2) -> &'a mut StateV2<'b> {
    // SAFETY: `res` is the response `worker_v2` built for the current call; `state` points to its StateV2,
    // which outlives the call.
    unsafe { &mut *((*res).state as *mut StateV2<'b>) }
}

extern "C" fn v2_status(res: *mut abi::ResponseV2, status: u16) {
    state_v2(res).status = Some(status);
}

extern "C" fn v2_header(
    res: *mut abi::ResponseV2,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
) {
    let (name, value) = (copy(name, name_len), copy(value, value_len));
    let s = state_v2(res);
    s.headers
        .extend_from_slice(format!("header {} {}\n", name.len(), value.len()).as_bytes());
    s.headers.extend_from_slice(&name);
    s.headers.extend_from_slice(&value);
}

extern "C" fn v2_body(res: *mut abi::ResponseV2, data: *const u8, len: usize) {
    let data = copy(data, len);
    state_v2(res).body.extend_from_slice(&data);
}

extern "C" fn v2_log(res: *mut abi::ResponseV2, stream: i32, line: *const u8, len: usize) {
    let line = copy(line, len);
    flush_c_stdio(); // native output printed before stays before
    let s = state_v2(res);
    let stream = if stream == abi::ERROR { "error" } else { "log" };
    let head = format!("LOG {} {stream} {}", s.id, line.len());
    if write_frame(s.output, &head, &line).is_err() {
        s.broken = true;
    }
}

extern "C" fn v2_fail(res: *mut abi::ResponseV2, message: *const u8, len: usize) {
    state_v2(res).failure = Some((500, copy(message, len)));
}

extern "C" fn v2_unavailable(res: *mut abi::ResponseV2, message: *const u8, len: usize) {
    state_v2(res).failure = Some((503, copy(message, len)));
}

unsafe extern "C" {
    fn fflush(stream: *mut c_void) -> i32;
}

/// Flushes C's stdio buffers (`printf` to a pipe is fully buffered), as a C runtime does before a reply.
fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes every open output stream; it takes no pointer of ours.
    unsafe { fflush(std::ptr::null_mut()) };
}

/// Serves a version-2 library over adapter protocol 2 until the shim closes stdin.
fn worker_v2(
    serve: abi::ServeFn,
    entrypoint: &str,
    input: &mut impl BufRead,
    mut output: File,
) -> ExitCode {
    loop {
        let (id, meta, body) = match read_request(input) {
            Ok(Some(r)) => r,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("native worker: {e}");
                return ExitCode::from(2);
            }
        };
        let fields = match parse_kv(&body[..meta]) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("native worker: {e}");
                return ExitCode::from(2);
            }
        };
        let (pairs, scalar, number) = (
            |tag| fields_pairs(&fields, tag),
            |tag| fields_scalar(&fields, tag),
            |tag| fields_number(&fields, tag),
        );
        let (query, headers) = (pairs("query"), pairs("header"));
        let request = abi::RequestV2 {
            version: abi::VERSION_2,
            size: std::mem::size_of::<abi::RequestV2>() as u32,
            method: abi::Bytes::of(scalar("method")),
            scheme: abi::Bytes::of(scalar("scheme")),
            host: abi::Bytes::of(scalar("host")),
            port: number("port") as u32,
            path: abi::Bytes::of(scalar("path")),
            query_string: abi::Bytes::of(scalar("query_string")),
            url: abi::Bytes::of(scalar("url")),
            query: query.as_ptr(),
            query_len: query.len(),
            headers: headers.as_ptr(),
            headers_len: headers.len(),
            body: abi::Bytes::of(&body[meta..]),
            json_body: u32::from(scalar("json_body") == b"1"),
            timeout_ms: number("timeout_ms"),
            deadline_ms: number("deadline_ms"),
            entrypoint: abi::Bytes::of(entrypoint.as_bytes()),
        };
        let mut state = StateV2 {
            id: &id,
            output: &mut output,
            status: None,
            headers: Vec::new(),
            body: Vec::new(),
            failure: None,
            broken: false,
        };
        let mut response = abi::ResponseV2 {
            state: &mut state as *mut StateV2 as *mut c_void,
            set_status: v2_status,
            add_header: v2_header,
            write_body: v2_body,
            log: v2_log,
            fail: v2_fail,
            unavailable: v2_unavailable,
        };
        // SAFETY: `request` and everything it points to (`body`, `fields`, `query`, `headers`, `entrypoint`) and
        // `response` with its `state` live until after this call returns, as the ABI promises the library.
        unsafe { serve(&request, &mut response) };
        flush_c_stdio(); // what the library printed is logged before its reply
        if state.broken {
            return ExitCode::from(2);
        }
        let (head, reply) = match (state.failure, state.status) {
            (Some((code, message)), _) => (format!("ERR {id} {code} {}", message.len()), message),
            (None, None) => (format!("NONE {id} 0"), Vec::new()),
            (None, Some(status)) => {
                let m = state.headers.len();
                let mut reply = state.headers;
                reply.extend_from_slice(&state.body);
                (format!("RES {id} {status} {m} {}", reply.len()), reply)
            }
        };
        if write_frame(&mut output, &head, &reply).is_err() {
            return ExitCode::from(2);
        }
    }
}

/// `(tag, key, value)` records of a `kv` request body.
fn parse_kv(body: &[u8]) -> Result<Vec<Record<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("kv: a record header without newline")?;
        let header =
            std::str::from_utf8(&rest[..nl]).map_err(|_| "kv: a non-ASCII record header")?;
        let mut parts = header.split(' ');
        let (Some(tag), Some(k), Some(v), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("kv: bad record header {header:?}"));
        };
        let k: usize = k
            .parse()
            .map_err(|_| format!("kv: bad length in {header:?}"))?;
        let v: usize = v
            .parse()
            .map_err(|_| format!("kv: bad length in {header:?}"))?;
        let data = &rest[nl + 1..];
        if data.len() < k + v {
            return Err("kv: a record runs past the body".into());
        }
        out.push((tag, &data[..k], &data[k..k + v]));
        rest = &data[k + v..];
    }
    Ok(out)
}

/// A request frame: its id, the metadata's length (`M` of protocol 2; the whole body for protocol 1), its body.
fn read_request(input: &mut impl BufRead) -> Result<Option<(String, usize, Vec<u8>)>, String> {
    let mut line = Vec::new();
    let n = input
        .take(crate::protocol::MAX_HEADER as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err("a request header is too long or cut short".into());
    }
    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
    let parts: Vec<&str> = text.split(' ').collect();
    let (id, meta, len) = match parts.as_slice() {
        ["REQ", id, len] => (id, None, len),
        ["REQ", id, meta, len] => (id, Some(meta), len),
        _ => return Err(format!("bad request header {text:?}")),
    };
    let len: usize = len
        .parse()
        .map_err(|_| format!("bad request header {text:?}"))?;
    let meta: usize = match meta {
        None => len,
        Some(m) => m
            .parse()
            .ok()
            .filter(|m| *m <= len)
            .ok_or_else(|| format!("bad request header {text:?}"))?,
    };
    let mut body = vec![0u8; len];
    input
        .read_exact(&mut body)
        .map_err(|e| format!("reading a request body: {e}"))?;
    Ok(Some((id.to_string(), meta, body)))
}

fn write_frame(out: &mut File, head: &str, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(head.len() + 1 + body.len());
    frame.extend_from_slice(head.as_bytes());
    frame.push(b'\n');
    frame.extend_from_slice(body);
    out.write_all(&frame)?;
    out.flush()
}

/// Moves the protocol to private descriptors: fd 1 becomes stderr, fd 0 becomes /dev/null.
fn take_protocol_fds() -> std::io::Result<(File, File)> {
    use nix::unistd::{dup, dup2_stdin, dup2_stdout};
    let proto_in = dup(std::io::stdin())?;
    let proto_out = dup(std::io::stdout())?;
    dup2_stdout(std::io::stderr())?;
    dup2_stdin(File::open("/dev/null")?)?;
    Ok((File::from(proto_in), File::from(proto_out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_bodies_parse() {
        let body = b"path 0 2\n/pfile 0 0\npayload 0 3\na\nbenv 1 1\nAxheader 2 0\nh1";
        let fields = parse_kv(body).unwrap();
        assert_eq!(fields[0], ("path", &b""[..], &b"/p"[..]));
        assert_eq!(fields[2], ("payload", &b""[..], &b"a\nb"[..]));
        assert_eq!(fields[3], ("env", &b"A"[..], &b"x"[..]));
        assert_eq!(fields[4], ("header", &b"h1"[..], &b""[..]));
        assert!(parse_kv(b"path 0 9\nshort").is_err());
        assert!(parse_kv(b"path x 1\na").is_err());
    }
}
