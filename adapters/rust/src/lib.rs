//! runtime-shim adapter library for Rust: `serve(main)` answers the shim's requests with your
//! `main(req, res)` over adapter protocol 1 (docs/adapter-protocol.md), persistently, one at a time.
//! Standard library only: requests come in the `kv` encoding, and `Json` / `json!` build replies.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Write as _};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::panic::{self, AssertUnwindSafe};

/// One execution's input. `path` and `file` are what the executor named: a compiled runtime serves the same
/// function for any, so only a router (like the conformance dispatcher) looks at them.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub env: HashMap<String, String>,
    pub payload: String,
    pub headers: HashMap<String, String>,
    pub path: String,
    pub file: String,
    pub timeout_ms: u64,
    pub deadline_ms: u64,
}

enum Reply {
    Body(u16, &'static str, Vec<u8>),
    NotFound(String),
}

/// The reply: the last `send` or `json` before `main` returns wins.
#[derive(Default)]
pub struct Response {
    reply: Option<Reply>,
}

impl Response {
    /// `text` as `text/plain; charset=utf-8`. A status outside 200–599 panics at your call.
    #[track_caller]
    pub fn send(&mut self, text: impl AsRef<[u8]>, status: u16) {
        self.reply = Some(Reply::Body(checked(status), "text", text.as_ref().to_vec()));
    }

    /// The JSON of `value` (a `json!` value, or anything `Into<Json>`) as `application/json`.
    #[track_caller]
    pub fn json(&mut self, value: impl Into<Json>, status: u16) {
        let mut out = String::new();
        value.into().write(&mut out);
        self.reply = Some(Reply::Body(checked(status), "json", out.into_bytes()));
    }

    /// Answers as the shim's "not found" (404), for a function that routes on `req.file`.
    pub fn not_found(&mut self, message: impl Into<String>) {
        self.reply = Some(Reply::NotFound(message.into()));
    }
}

#[track_caller]
fn checked(status: u16) -> u16 {
    assert!(
        (200..=599).contains(&status),
        "status must be from 200 to 599, not {status}"
    );
    status
}

/// A JSON value. `Raw` is JSON text you made yourself (say with `serde_json::to_string`).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
    Raw(String),
}

impl Json {
    #[track_caller]
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => write!(out, "{n}").unwrap(),
            Json::Float(f) if f.is_finite() => write!(out, "{f:?}").unwrap(),
            Json::Float(f) => panic!("{f} is not JSON"),
            Json::String(s) => quote(s, out),
            Json::Raw(text) => out.push_str(text),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    let mut run = 0; // the bytes since the last escape are copied at once
    for (i, b) in s.bytes().enumerate() {
        if b < 0x20 || b == b'"' || b == b'\\' {
            out.push_str(&s[run..i]);
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                _ => write!(out, "\\u{b:04x}").unwrap(),
            }
            run = i + 1;
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

macro_rules! from {
    ($($t:ty => $v:ident($conv:expr)),* $(,)?) => {$(
        impl From<$t> for Json {
            fn from(x: $t) -> Json {
                Json::$v($conv(x))
            }
        }
    )*};
}
from!(bool => Bool(|b| b), f32 => Float(f64::from), f64 => Float(|f| f), String => String(|s| s),
      &str => String(str::to_string), &String => String(String::clone));
macro_rules! from_int { ($($t:ty)*) => { $(from!($t => Int(i128::from));)* } }
from_int!(i8 i16 i32 i64 u8 u16 u32 u64);
from!(isize => Int(|n| n as i128), usize => Int(|n| n as i128));

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(x: Option<T>) -> Json {
        x.map_or(Json::Null, Into::into)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Json> + Clone> From<&[T]> for Json {
    fn from(items: &[T]) -> Json {
        Json::Array(items.iter().cloned().map(Into::into).collect())
    }
}
impl<V: Into<Json>> From<BTreeMap<String, V>> for Json {
    fn from(map: BTreeMap<String, V>) -> Json {
        Json::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}
impl<V: Into<Json>> From<HashMap<String, V>> for Json {
    fn from(map: HashMap<String, V>) -> Json {
        Json::from(map.into_iter().collect::<BTreeMap<_, _>>()) // keys sorted: the same reply every time
    }
}
impl<V: Into<Json> + Clone> From<&HashMap<String, V>> for Json {
    fn from(map: &HashMap<String, V>) -> Json {
        Json::from(map.clone())
    }
}

/// Builds a [`Json`] with JSON syntax: `json!({"a": [1, 2.5, "three", true, null], "b": req.payload})`.
/// Any other expression is converted with `Into<Json>`.
#[macro_export]
macro_rules! json {
    (null) => { $crate::Json::Null };
    ([]) => { $crate::Json::Array(Vec::new()) };
    ({}) => { $crate::Json::Object(Vec::new()) };
    ([ $($tt:tt)+ ]) => { $crate::Json::Array($crate::json!(@items [] [] $($tt)+)) };
    ({ $($tt:tt)+ }) => { $crate::Json::Object($crate::json!(@members [] () $($tt)+)) };
    // Array items: collect each item's tokens up to a comma.
    (@items [$($done:expr,)*] [$($item:tt)+] , $($rest:tt)*) => { $crate::json!(@items [$($done,)* $crate::json!($($item)+),] [] $($rest)*) };
    (@items [$($done:expr,)*] [$($item:tt)*] $next:tt $($rest:tt)*) => { $crate::json!(@items [$($done,)*] [$($item)* $next] $($rest)*) };
    (@items [$($done:expr,)*] [$($item:tt)+]) => { vec![$($done,)* $crate::json!($($item)+)] };
    (@items [$($done:expr,)*] []) => { vec![$($done,)*] };
    // Object members: a key (a string literal or variable), a colon, the value's tokens up to a comma.
    (@members [$($done:expr,)*] () $key:tt : $($rest:tt)*) => { $crate::json!(@member [$($done,)*] ($key) [] $($rest)*) };
    (@members [$($done:expr,)*] ()) => { vec![$($done,)*] };
    (@member [$($done:expr,)*] ($key:tt) [$($value:tt)+] , $($rest:tt)*) => { $crate::json!(@members [$($done,)* (String::from($key), $crate::json!($($value)+)),] () $($rest)*) };
    (@member [$($done:expr,)*] ($key:tt) [$($value:tt)*] $next:tt $($rest:tt)*) => { $crate::json!(@member [$($done,)*] ($key) [$($value)* $next] $($rest)*) };
    (@member [$($done:expr,)*] ($key:tt) [$($value:tt)+]) => { vec![$($done,)* (String::from($key), $crate::json!($($value)+))] };
    ($e:expr) => { $crate::Json::from($e) };
}

// ---- the protocol ----

const HEADER_MAX: usize = 256;

fn fatal(message: &str) -> ! {
    eprintln!("rust adapter: {message}");
    std::process::exit(2)
}

extern "C" {
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
}
const F_DUPFD_CLOEXEC: i32 = 1030;

/// Keeps private copies of fds 0 and 1 for the protocol (closed in child processes), then points fd 1 at
/// stderr and fd 0 at /dev/null: `println!`, C libraries and child processes can neither write nor read a frame.
fn take_protocol_fds() -> (File, File) {
    let null =
        File::open("/dev/null").unwrap_or_else(|e| fatal(&format!("cannot open /dev/null: {e}")));
    // SAFETY: plain descriptor calls; the new descriptors are owned by the Files made from them.
    unsafe {
        let (input, output) = (fcntl(0, F_DUPFD_CLOEXEC, 3), fcntl(1, F_DUPFD_CLOEXEC, 3));
        if input < 0 || output < 0 || dup2(2, 1) < 0 || dup2(null.as_raw_fd(), 0) < 0 {
            fatal("cannot move the protocol off fds 0 and 1");
        }
        (File::from_raw_fd(input), File::from_raw_fd(output))
    }
}

fn read_request(input: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut line = Vec::new();
    input
        .take(HEADER_MAX as u64)
        .read_until(b'\n', &mut line)
        .unwrap_or_else(|e| fatal(&e.to_string()));
    if line.is_empty() {
        return None; // EOF between frames: the shim is done with us
    }
    if line.pop() != Some(b'\n') {
        fatal(if line.len() + 1 >= HEADER_MAX {
            "a request header is longer than 256 bytes"
        } else {
            "input ended inside a request header"
        });
    }
    let line = String::from_utf8_lossy(&line);
    let tokens: Vec<&str> = line.split(' ').collect();
    let id_ok = |id: &str| {
        id.len() <= 64
            && !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let len_ok = |n: &str| {
        n == "0"
            || (!n.starts_with('0')
                && !n.is_empty()
                && n.len() < 16
                && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if tokens.len() < 3
        || tokens[0] != "REQ"
        || !id_ok(tokens[1])
        || !len_ok(tokens[tokens.len() - 1])
    {
        fatal(&format!("bad request header: {line:?}"));
    }
    let mut body = vec![0; tokens[tokens.len() - 1].parse().unwrap_or(0)];
    input
        .read_exact(&mut body)
        .unwrap_or_else(|_| fatal("input ended inside a request body"));
    Some((tokens[1].to_string(), body))
}

/// The `kv` encoding: records `<tag> <K> <V>\n<K bytes of key><V bytes of value>`.
fn decode(mut body: &[u8]) -> Request {
    let mut req = Request::default();
    while !body.is_empty() {
        let nl = body
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or_else(|| fatal("bad request record"));
        let head = String::from_utf8_lossy(&body[..nl]);
        let (tag, k, v) = match head.split(' ').collect::<Vec<_>>()[..] {
            [tag, k, v] => (tag.to_string(), k.parse::<usize>(), v.parse::<usize>()),
            _ => fatal("bad request record"),
        };
        let (Ok(k), Ok(v)) = (k, v) else {
            fatal("bad request record")
        };
        let rest = &body[nl + 1..];
        if rest.len() < k + v {
            fatal("a request record overruns the body");
        }
        let key = String::from_utf8_lossy(&rest[..k]).into_owned();
        let value = String::from_utf8_lossy(&rest[k..k + v]).into_owned();
        match tag.as_str() {
            "env" => drop(req.env.insert(key, value)),
            "header" => drop(req.headers.insert(key, value)),
            "payload" => req.payload = value,
            "path" => req.path = value,
            "file" => req.file = value,
            "timeout_ms" => req.timeout_ms = value.parse().unwrap_or(0),
            "deadline_ms" => req.deadline_ms = value.parse().unwrap_or(0),
            _ => {} // a later revision's field
        }
        body = &rest[k + v..];
    }
    req
}

/// What a function may return: nothing, or a `Result` whose `Err` is reported as `main` would report it.
pub trait Outcome {
    fn into_error(self) -> Option<String>;
}
impl Outcome for () {
    fn into_error(self) -> Option<String> {
        None
    }
}
impl<E: Debug> Outcome for Result<(), E> {
    fn into_error(self) -> Option<String> {
        self.err().map(|e| format!("Error: {e:?}"))
    }
}

thread_local! {
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The panic's message, where, and the stack from the panic down to the function (without std's and this
/// library's frames). File and line numbers need debug line tables, which the build script turns on.
fn describe_panic(info: &panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned());
    let place = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    let mut frames: Vec<String> = Vec::new(); // "name\n      at file:line"
    for line in trace.lines() {
        let is_frame = line
            .trim_start()
            .split_once(": ")
            .is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !is_frame => frame.push_str(&format!("\n      {}", line.trim())),
            _ => frames.push(
                line.trim_start()
                    .split_once(": ")
                    .map_or(line, |(_, name)| name)
                    .to_string(),
            ),
        }
    }
    let ours = |f: &String| {
        f.contains("__rust_try")
            || f.contains("catch_unwind")
            || f.contains("(runtime::Request, &mut runtime::Response)")
    };
    let end = frames.iter().position(ours).unwrap_or(frames.len());
    let panicking = |f: &String| {
        f.contains("rust_begin_unwind")
            || f.contains("core::panicking::")
            || f.contains("begin_panic")
    };
    let start = frames[..end]
        .iter()
        .rposition(panicking)
        .map_or(0, |i| i + 1);
    let user: Vec<String> = frames[start..end]
        .iter()
        .map(|f| format!("  {f}"))
        .collect();
    format!(
        "panicked at {place}:\n{}\nstack backtrace:\n{}",
        message.as_deref().unwrap_or("Box<dyn Any>"),
        user.join("\n")
    )
}

/// Serves `main` until the shim closes stdin. Call it from your program's `fn main`
/// (the runtime's build script generates that for you).
pub fn serve<F, O>(mut main: F) -> !
where
    F: FnMut(Request, &mut Response) -> O,
    O: Outcome,
{
    let (input, mut output) = take_protocol_fds();
    let mut input = BufReader::with_capacity(1 << 16, input);
    panic::set_hook(Box::new(|info| {
        let text = describe_panic(info);
        PANIC.with(|p| *p.borrow_mut() = Some(text));
    }));
    let info = format!(
        "rust {}",
        option_env!("RUNTIME_RUSTC_VERSION").unwrap_or("(rustc)")
    );
    write_frame(&mut output, "READY 1 kv", info.as_bytes());
    while let Some((id, body)) = read_request(&mut input) {
        let req = decode(&body);
        drop(body);
        let mut res = Response::default();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| main(req, &mut res).into_error()));
        let _ = std::io::stdout().flush(); // what the request printed is logged before its reply
        let (head, reply) = match (outcome, res.reply) {
            (Err(_), _) => (
                format!("ERR {id} 500"),
                PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_default()
                    .into_bytes(),
            ),
            (Ok(Some(error)), _) => (format!("ERR {id} 500"), error.into_bytes()),
            (Ok(None), Some(Reply::Body(status, kind, body))) => {
                (format!("RES {id} {status} {kind}"), body)
            }
            (Ok(None), Some(Reply::NotFound(message))) => {
                (format!("ERR {id} 404"), message.into_bytes())
            }
            (Ok(None), None) => (
                format!("ERR {id} 500"),
                b"main(req, res) returned without calling res.send() or res.json()".to_vec(),
            ),
        };
        write_frame(&mut output, &head, &reply);
    }
    std::process::exit(0)
}

fn write_frame(output: &mut File, head: &str, body: &[u8]) {
    let mut frame = Vec::with_capacity(head.len() + 24 + body.len());
    frame.extend_from_slice(format!("{head} {}\n", body.len()).as_bytes());
    frame.extend_from_slice(body);
    output
        .write_all(&frame)
        .unwrap_or_else(|e| fatal(&format!("cannot write to the shim: {e}")));
}
