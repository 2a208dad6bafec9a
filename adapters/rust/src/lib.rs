//! runtime-shim adapter library for Rust: `serve(main)` answers the shim's requests with your function,
//! persistently, one at a time: `main(req, res)` over adapter protocol 1 (the v1 contract), or
//! `main(context) -> Response` over protocol 2 (the v5 contract; docs/adapter-protocol.md).
//! Standard library only: requests come in the `kv` encoding, and `Json` / `json!` build and parse JSON.

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
    read_request_meta(input).map(|(id, _, body)| (id, body))
}

/// A request frame: its id, the `M` token of protocol 2 (the metadata's length; the body's for protocol 1)
/// and its body.
fn read_request_meta(input: &mut impl BufRead) -> Option<(String, usize, Vec<u8>)> {
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
    let n: usize = tokens[tokens.len() - 1].parse().unwrap_or(0);
    let m = match tokens.len() {
        4 if len_ok(tokens[2]) => tokens[2].parse().unwrap_or(usize::MAX),
        _ => n,
    };
    if m > n {
        fatal(&format!("bad request header: {line:?}"));
    }
    let mut body = vec![0; n];
    input
        .read_exact(&mut body)
        .unwrap_or_else(|_| fatal("input ended inside a request body"));
    Some((tokens[1].to_string(), m, body))
}

/// The `kv` encoding: records `<tag> <K> <V>\n<K bytes of key><V bytes of value>`.
fn records(mut body: &[u8]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
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
        out.push((tag, key, value));
        body = &rest[k + v..];
    }
    out
}

fn decode(body: &[u8]) -> Request {
    let mut req = Request::default();
    for (tag, key, value) in records(body) {
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
    }
    req
}

fn record(out: &mut Vec<u8>, tag: &str, key: &str, value: &[u8]) {
    out.extend_from_slice(format!("{tag} {} {}\n", key.len(), value.len()).as_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(value);
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
            || f.contains("(&mut runtime::Context)")
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

/// Serves `main` until the shim closes stdin: a v1 `main(req: Request, res: &mut Response)` or a v5
/// `main(context: &mut Context) -> Response` (or `Option<Response>`, `Result<…, E>`). Call it from your
/// program's `fn main` (the runtime's build script generates that for you).
pub fn serve<M>(main: impl Function<M>) -> ! {
    main.serve_forever()
}

/// A function [`serve`] can serve; `M` tells the two APIs apart (you never name it).
pub trait Function<M> {
    fn serve_forever(self) -> !;
}

/// Marks a v1 function, `main(req, res)`.
pub struct V1<O>(std::marker::PhantomData<O>);
/// Marks a v5 function, `main(context)`.
pub struct V5<O>(std::marker::PhantomData<O>);

impl<F, O> Function<V1<O>> for F
where
    F: FnMut(Request, &mut Response) -> O,
    O: Outcome,
{
    fn serve_forever(self) -> ! {
        serve_v1(self)
    }
}

impl<F, O> Function<V5<O>> for F
where
    F: FnMut(&mut Context) -> O,
    O: Returned,
{
    fn serve_forever(self) -> ! {
        serve_v5(self)
    }
}

fn start(version: u8) -> (BufReader<File>, File) {
    let expected = if std::env::var("SHIM_PROTOCOL").as_deref() == Ok("2") {
        2
    } else {
        1
    };
    if expected != version {
        fatal(&if version == 2 {
            "this function is written for the v5 context API (main(context)); the shim expects adapter protocol 1: serve it with SHIM_PROTOCOL=v5".to_string()
        } else {
            format!("this function is written for the v1 API (main(req, res)); the shim expects adapter protocol {expected}: serve it with the v1 contract")
        });
    }
    let (input, mut output) = take_protocol_fds();
    let input = BufReader::with_capacity(1 << 16, input);
    panic::set_hook(Box::new(|info| {
        let text = describe_panic(info);
        PANIC.with(|p| *p.borrow_mut() = Some(text));
    }));
    let info = format!(
        "rust {}",
        option_env!("RUNTIME_RUSTC_VERSION").unwrap_or("(rustc)")
    );
    write_frame(&mut output, &format!("READY {version} kv"), info.as_bytes());
    (input, output)
}

fn serve_v1<F, O>(mut main: F) -> !
where
    F: FnMut(Request, &mut Response) -> O,
    O: Outcome,
{
    let (mut input, mut output) = start(1);
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

// ---- the v5 contract: main(context) over adapter protocol 2 ----

/// What `main(context)` is given: the request, the reply's builders, and the execution's log.
pub struct Context {
    pub req: RuntimeRequest,
    pub res: RuntimeResponse,
    id: String,
}

/// `context.req`: the HTTP request as the shim computed it (names lower-cased, `x-open-runtimes-*` removed).
#[derive(Debug, Default, Clone)]
pub struct RuntimeRequest {
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    pub query_string: String,
    pub query: HashMap<String, String>,
    pub url: String,
    pub headers: HashMap<String, String>,
    pub timeout_ms: u64,
    pub deadline_ms: u64,
    json_body: bool,
    body: Vec<u8>,
}

impl RuntimeRequest {
    /// The body's bytes, as sent.
    pub fn body_binary(&self) -> &[u8] {
        &self.body
    }
    /// The body as text (bytes that are not UTF-8 replaced by U+FFFD).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The same as [`body_text`](Self::body_text).
    pub fn body_raw(&self) -> String {
        self.body_text()
    }
    /// The body parsed as JSON, whatever its content-type; an error says why it is not JSON.
    pub fn body_json(&self) -> Result<Json, JsonError> {
        Json::parse(&self.body_text())
    }
    /// The parsed JSON when the content-type is `application/json` (`{}` for an empty body), else the text.
    pub fn body(&self) -> Result<Json, JsonError> {
        match (self.json_body, self.body.is_empty()) {
            (true, true) => Ok(Json::Object(Vec::new())),
            (true, false) => self.body_json(),
            (false, _) => Ok(Json::String(self.body_text())),
        }
    }
}

/// `context.res`: makes the [`RuntimeOutput`] that `main` returns.
#[derive(Debug, Default, Clone, Copy)]
pub struct RuntimeResponse;

/// A reply: status 200 and no headers until [`status`](Self::status) and [`header`](Self::header) say so.
#[derive(Debug, Clone)]
pub struct RuntimeOutput {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RuntimeResponse {
    fn output(body: Vec<u8>) -> RuntimeOutput {
        RuntimeOutput {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }
    /// Text (the shim's default content-type, `text/plain; charset=utf-8`, unless a header says otherwise).
    pub fn text(&self, body: impl Into<String>) -> RuntimeOutput {
        Self::output(body.into().into_bytes())
    }
    /// Bytes as they are.
    pub fn binary(&self, body: impl Into<Vec<u8>>) -> RuntimeOutput {
        Self::output(body.into())
    }
    /// Text or bytes (the older name of `text` and `binary`).
    pub fn send(&self, body: impl AsRef<[u8]>) -> RuntimeOutput {
        Self::output(body.as_ref().to_vec())
    }
    /// Compact JSON, as `application/json`.
    #[track_caller]
    pub fn json(&self, value: impl Into<Json>) -> RuntimeOutput {
        let mut out = String::new();
        value.into().write(&mut out);
        let mut output = Self::output(out.into_bytes());
        output
            .headers
            .push(("content-type".into(), "application/json".into()));
        output
    }
    /// 204 and no body.
    pub fn empty(&self) -> RuntimeOutput {
        Self::output(Vec::new()).status(204)
    }
    /// 301 to `url`.
    pub fn redirect(&self, url: impl Into<String>) -> RuntimeOutput {
        Self::output(Vec::new()).status(301).header("location", url)
    }
}

impl RuntimeOutput {
    /// The HTTP status, 200–599 (another value panics at your call).
    #[track_caller]
    pub fn status(mut self, status: u16) -> RuntimeOutput {
        self.status = checked(status);
        self
    }
    /// Adds a header; call it again with the same name for several values (`set-cookie`). A `content-type`
    /// replaces the one `json` set.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> RuntimeOutput {
        let name = name.into();
        if name.eq_ignore_ascii_case("content-type") {
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((name, value.into()));
        self
    }
}

/// An error that makes the execution 503 (its message in the errors log) rather than 500: the function
/// cannot serve at all, as when an interpreted entry file fails to load.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Unavailable {}

/// What `main(context)` may return: a reply, `None` (no reply: a 500 saying the return is missing), or a
/// `Result` whose `Err` is a 500 with `Error: {e:?}` ([`Unavailable`]: a 503).
pub trait Returned {
    fn into_reply(self) -> Result<Option<RuntimeOutput>, (u16, String)>;
}
impl Returned for RuntimeOutput {
    fn into_reply(self) -> Result<Option<RuntimeOutput>, (u16, String)> {
        Ok(Some(self))
    }
}
impl Returned for Option<RuntimeOutput> {
    fn into_reply(self) -> Result<Option<RuntimeOutput>, (u16, String)> {
        Ok(self)
    }
}
impl<R: Returned, E: Debug + 'static> Returned for Result<R, E> {
    fn into_reply(self) -> Result<Option<RuntimeOutput>, (u16, String)> {
        match self {
            Ok(r) => r.into_reply(),
            Err(e) => {
                let any: &dyn std::any::Any = &e;
                let unavailable = any
                    .downcast_ref::<Unavailable>()
                    .or_else(|| {
                        any.downcast_ref::<Box<dyn std::error::Error>>()
                            .and_then(|b| b.downcast_ref::<Unavailable>())
                    })
                    .or_else(|| {
                        any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
                            .and_then(|b| b.downcast_ref::<Unavailable>())
                    });
                match unavailable {
                    Some(u) => Err((503, u.0.clone())),
                    None => Err((500, format!("Error: {e:?}"))),
                }
            }
        }
    }
}

/// The arguments of one `context.log` / `context.error` call: a value, or a tuple of up to six.
pub trait LogArgs {
    fn line(self) -> String;
}
fn log_piece(value: Json, out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
    match value {
        Json::String(s) => out.push_str(&s),
        Json::Float(f) if !f.is_finite() => write!(out, "{f}").unwrap(),
        other => other.write(out),
    }
}
impl<T: Into<Json>> LogArgs for T {
    fn line(self) -> String {
        let mut out = String::new();
        log_piece(self.into(), &mut out);
        out
    }
}
macro_rules! log_tuple {
    ($($t:ident)+) => {
        impl<$($t: Into<Json>),+> LogArgs for ($($t,)+) {
            #[allow(non_snake_case)]
            fn line(self) -> String {
                let ($($t,)+) = self;
                let mut out = String::new();
                $(log_piece($t.into(), &mut out);)+
                out
            }
        }
    };
}
log_tuple!(A B);
log_tuple!(A B C);
log_tuple!(A B C D);
log_tuple!(A B C D E);
log_tuple!(A B C D E F);

/// The shim's end of the protocol, for `context.log` while a request runs.
static PROTOCOL_OUT: std::sync::OnceLock<File> = std::sync::OnceLock::new();
/// The entry file the shim named (`SHIM_ENTRYPOINT`, from `OPEN_RUNTIMES_ENTRYPOINT`).
static ENTRYPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The entry file the runtime was started with (`OPEN_RUNTIMES_ENTRYPOINT`, as the shim gave it). A compiled
/// runtime serves the one function it was built from, so only a router (like the conformance dispatcher)
/// looks at it.
pub fn entrypoint() -> &'static str {
    ENTRYPOINT.get().map_or("", String::as_str)
}

impl Context {
    /// One line of the execution's logs: strings as they are, other values as compact JSON, joined by a
    /// space (`context.log(("total:", 3))`).
    pub fn log(&self, args: impl LogArgs) {
        self.write_log("log", args.line());
    }
    /// One line of the execution's errors log, formatted as [`log`](Self::log).
    pub fn error(&self, args: impl LogArgs) {
        self.write_log("error", args.line());
    }
    fn write_log(&self, stream: &str, line: String) {
        if let Some(mut out) = PROTOCOL_OUT.get() {
            let _ = std::io::stdout().flush(); // native output printed before stays before
            let mut frame = format!("LOG {} {stream} {}\n", self.id, line.len()).into_bytes();
            frame.extend_from_slice(line.as_bytes());
            out.write_all(&frame)
                .unwrap_or_else(|e| fatal(&format!("cannot write to the shim: {e}")));
        }
    }
}

fn decode_v5(meta: &[u8], body: Vec<u8>) -> RuntimeRequest {
    let mut req = RuntimeRequest {
        body,
        ..RuntimeRequest::default()
    };
    for (tag, key, value) in records(meta) {
        match tag.as_str() {
            "method" => req.method = value,
            "scheme" => req.scheme = value,
            "host" => req.host = value,
            "port" => req.port = value.parse().unwrap_or(0),
            "path" => req.path = value,
            "query_string" => req.query_string = value,
            "url" => req.url = value,
            "json_body" => req.json_body = value == "1",
            "timeout_ms" => req.timeout_ms = value.parse().unwrap_or(0),
            "deadline_ms" => req.deadline_ms = value.parse().unwrap_or(0),
            "header" => drop(req.headers.insert(key, value)),
            "query" => drop(req.query.insert(key, value)),
            _ => {}
        }
    }
    req
}

fn serve_v5<F, O>(mut main: F) -> !
where
    F: FnMut(&mut Context) -> O,
    O: Returned,
{
    let (mut input, output) = start(2);
    let _ = ENTRYPOINT.set(std::env::var("SHIM_ENTRYPOINT").unwrap_or_default());
    // The function's variables are the process environment, less the shim's own settings.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SHIM_") {
            std::env::remove_var(name);
        }
    }
    let output = PROTOCOL_OUT.get_or_init(|| output);
    while let Some((id, m, mut body)) = read_request_meta(&mut input) {
        let raw = body.split_off(m);
        let mut context = Context {
            req: decode_v5(&body, raw),
            res: RuntimeResponse,
            id: id.clone(),
        };
        drop(body);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| main(&mut context).into_reply()));
        drop(context);
        let _ = std::io::stdout().flush(); // what the request printed is logged before its reply
        let mut out = output;
        let mut frame = Vec::new();
        match outcome {
            Err(_) => {
                let text = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
                frame.extend_from_slice(format!("ERR {id} 500 {}\n", text.len()).as_bytes());
                frame.extend_from_slice(text.as_bytes());
            }
            Ok(Err((code, text))) => {
                frame.extend_from_slice(format!("ERR {id} {code} {}\n", text.len()).as_bytes());
                frame.extend_from_slice(text.as_bytes());
            }
            Ok(Ok(None)) => frame.extend_from_slice(format!("NONE {id} 0\n").as_bytes()),
            Ok(Ok(Some(reply))) => {
                let mut headers = Vec::new();
                for (name, value) in &reply.headers {
                    record(&mut headers, "header", name, value.as_bytes());
                }
                let n = headers.len() + reply.body.len();
                frame.reserve(n + 64);
                let head = format!("RES {id} {} {} {n}\n", reply.status, headers.len());
                frame.extend_from_slice(head.as_bytes());
                frame.extend_from_slice(&headers);
                frame.extend_from_slice(&reply.body);
            }
        }
        out.write_all(&frame)
            .unwrap_or_else(|e| fatal(&format!("cannot write to the shim: {e}")));
    }
    std::process::exit(0)
}

// ---- JSON text to a `Json` ----

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for JsonError {}

impl std::fmt::Display for Json {
    /// Compact JSON text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl Json {
    /// Parses JSON text (RFC 8259): objects keep their members' order, integers that fit are `Int`.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let value = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("unexpected text after the JSON value"));
        }
        Ok(value)
    }
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> JsonError {
        JsonError(format!("invalid JSON at byte {}: {what}", self.i))
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }
    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > 512 {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of the text")),
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.err("expected ':'"));
                    }
                    members.push((key, self.value(depth + 1)?));
                    self.ws();
                    if self.eat("}") {
                        return Ok(Json::Object(members));
                    }
                    if !self.eat(",") {
                        return Err(self.err("expected ',' or '}'"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(",") {
                        return Err(self.err("expected ',' or ']'"));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            Some(_) if self.eat("true") => Ok(Json::Bool(true)),
            Some(_) if self.eat("false") => Ok(Json::Bool(false)),
            Some(_) if self.eat("null") => Ok(Json::Null),
            Some(_) => self.number(),
        }
    }
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i - from
        };
        self.eat("-");
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(self.err("not a JSON value"));
        }
        let mut integer = true;
        if self.eat(".") {
            integer = false;
            if digits(self) == 0 {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if self.i < self.s.len() && (self.s[self.i] | 0x20) == b'e' {
            integer = false;
            self.i += 1;
            if !self.eat("+") {
                self.eat("-");
            }
            if digits(self) == 0 {
                return Err(self.err("expected digits in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        if integer {
            if let Ok(n) = text.parse::<i128>() {
                return Ok(Json::Int(n));
            }
        }
        text.parse::<f64>()
            .map(Json::Float)
            .map_err(|_| self.err("not a number"))
    }
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(h)
    }
    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match b {
                b'"' => {
                    return String::from_utf8(out).map_err(|_| self.err("a string is not UTF-8"))
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) && self.eat("\\u") {
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.err("a lone surrogate"));
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            char::from_u32(code).ok_or_else(|| self.err("a lone surrogate"))?
                        }
                        _ => return Err(self.err("bad escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.err("a control character in a string")),
                _ => out.push(b),
            }
        }
    }
}
