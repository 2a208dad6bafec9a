//! Property checks over arbitrary bytes, for coverage-guided fuzzing (`fuzz/`) and for replaying its seeds and
//! regressions under `cargo test` (`tests/fuzz_seeds.rs`). It lives beside the targets, outside the product crate:
//! the targets and `tests/fuzz_seeds.rs` each compile it in with `#[path]`, over `runtime_shim`'s public API.
//!
//! Each check takes any bytes and panics when a property fails; a check that returns found nothing wrong.
//!
//! - [`check_executor_request`]: the bytes are what the executor sends on one connection, served by hyper with
//!   the server's HTTP/1.1 settings and a service that runs [`handler::admit`] (no worker pool). Checks which
//!   error each request gets, that every response on the wire is ours or hyper's own bare error, that every
//!   error of ours has the documented schema, and the invariants of every admitted [`Execution`].
//! - [`check_decode`]: the bytes are a request body for [`handler::decode`], checked against an independent
//!   reading of the README's request table.
//! - [`check_adapter_stream`]: the bytes are an adapter's stdout for [`FrameReader`] and its stderr for
//!   [`protocol::read_log_line`], checked frame by frame against an independent reading of
//!   `docs/adapter-protocol.md`, with the reads' allocations bounded by the limits.
//!
//! The first byte of an executor or adapter input is a mode byte that chooses how the rest is delivered (in
//! one piece or in small reads, with or without the peer closing) and, for adapters, the body limit. The
//! configuration is small ([`MAX_BODY`], [`READ_TIMEOUT`]) so that inputs reach the limits.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame as BodyFrame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};
use tokio::runtime::Runtime;
use tokio::time::Instant;

use runtime_shim::auth::KEY_HEADER;
use runtime_shim::config::{Config, KeyPolicy, Overrides};
use runtime_shim::error::{ERROR_KIND_HEADER, ShimError};
use runtime_shim::handler;
use runtime_shim::protocol::{
    self, BodyType, Encoding, Execution, Frame, FrameReader, MAX_HEADER, MAX_LOG_LINE,
    ProtocolError,
};

/// The key the checks' configuration expects in `x-internal-challenge`.
pub const KEY: &str = "fuzz-key";
/// The body limit of the checks' configuration (`SHIM_MAX_BODY`): small, so that inputs reach it.
pub const MAX_BODY: usize = 1024;
/// The read timeout of the checks' configuration (`SHIM_READ_TIMEOUT`).
pub const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// The default entry file of the checks' configuration.
pub const ENTRYPOINT: &str = "index.py";

/// The buffer [`FrameReader`] reads stdout through; the only allocation a frame read may make beyond the body.
const FRAME_READER_BUFFER: usize = 64 * 1024;
/// The buffer the pool reads stderr through.
const LOG_READER_BUFFER: usize = 16 * 1024;
/// Largest single allocation serving one connection may make: hyper's read buffer (about 400 KiB at most) and
/// the responses, never anything sized by a length the client declared.
const CONNECTION_ALLOCATION_BOUND: usize = 1024 * 1024;

/// The configuration every check runs with: key [`KEY`], body limit [`MAX_BODY`], read timeout
/// [`READ_TIMEOUT`], default timeout 30 s capped at 60 s, entry file [`ENTRYPOINT`] in `/usr/code`.
pub fn config() -> Config {
    let adapter = ["/bin/sh", "/usr/bin/sh"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .map(str::to_string)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "/bin/sh".into());
    let env: HashMap<String, String> = [
        ("APPWRITE_INTERNAL_RUNTIME_KEY", KEY),
        ("SHIM_ADAPTER", &adapter),
        ("APPWRITE_ENTRYPOINT_NAME", ENTRYPOINT),
        ("SHIM_CODE_PATH", "/usr/code"),
        ("SHIM_WORKERS", "1"),
        ("SHIM_DEFAULT_TIMEOUT", "30"),
        ("SHIM_MAX_TIMEOUT", "60"),
        ("SHIM_MAX_BODY", &MAX_BODY.to_string()),
        ("SHIM_READ_TIMEOUT", &READ_TIMEOUT.as_secs_f64().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_env(&env, KeyPolicy::Required, Overrides::default())
        .expect("the checks' configuration is valid");
    assert_eq!(config.read_timeout, READ_TIMEOUT);
    config
}

thread_local! {
    static CONFIG: Config = config();
    static REAL_TIME: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

// ---------------------------------------------------------------------------------------------------------
// Allocation tracking

thread_local! {
    /// While a [`largest_allocation`] scope is open on this thread: the largest allocation seen in it.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

/// A global allocator (the system's) that lets [`largest_allocation`] see the size of every allocation made
/// on the current thread. Install it in a fuzz target or test binary with `#[global_allocator]`; without it the
/// checks skip their allocation bounds.
pub struct TrackingAllocator;

fn note_allocation(size: usize) {
    // `try_with`: never panic inside the allocator, not even while the thread is being torn down.
    let _ = LARGEST.try_with(|largest| {
        if let Some(seen) = largest.get() {
            largest.set(Some(seen.max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping touches only a thread-local `Cell`,
// which neither allocates nor unwinds.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the size of the largest single allocation it made on this thread, or
/// `None` when [`TrackingAllocator`] is not the global allocator.
pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, Option<usize>) {
    let outer = LARGEST.replace(Some(0));
    drop(std::hint::black_box(Box::new(0u8)));
    let installed = LARGEST.get() != Some(0);
    LARGEST.set(Some(0));
    let result = catch_unwind(AssertUnwindSafe(f));
    let largest = LARGEST.replace(outer).unwrap_or(0);
    if let Some(outer) = outer {
        LARGEST.set(Some(outer.max(largest)));
    }
    match result {
        Ok(r) => (r, installed.then_some(largest)),
        Err(panic) => resume_unwind(panic),
    }
}

/// `f()`, asserting that no single allocation in it was larger than `bound` bytes.
fn bounded<R>(bound: usize, what: &str, f: impl FnOnce() -> R) -> R {
    let (r, largest) = largest_allocation(f);
    if let Some(largest) = largest {
        assert!(
            largest <= bound,
            "{what} made an allocation of {largest} bytes, over its bound of {bound}"
        );
    }
    r
}

// ---------------------------------------------------------------------------------------------------------
// Polling without a runtime

/// Runs a future that needs no runtime (in-memory readers) to completion, polling it in a loop.
fn run_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000_000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a read over an in-memory stream never finished");
}

// ---------------------------------------------------------------------------------------------------------
// The executor's request: hyper, admit, into_response

/// How the client side of a connection delivers the input.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    end: Ending,
    /// Write in pieces of this size, yielding between them, so hyper parses partial input.
    chunk: usize,
}

/// What the client does after its last byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Waits half the read timeout (so the server has answered what it could), then closes its write side.
    CloseLater,
    /// Closes its write side at once: hyper (not configured for half-closed connections) may then drop
    /// requests it has not answered yet.
    CloseAtOnce,
    /// Keeps the connection open: the server's timeouts end it.
    KeepOpen,
}

impl Delivery {
    /// Bits 0–1: ending (0 close later, 1 and 3 keep open, 2 close at once). Bits 2–4: piece size.
    fn from_mode(mode: u8) -> Self {
        const CHUNKS: [usize; 8] = [usize::MAX, 1, 2, 3, 5, 16, 64, 512];
        Delivery {
            end: match mode & 3 {
                0 => Ending::CloseLater,
                2 => Ending::CloseAtOnce,
                _ => Ending::KeepOpen,
            },
            chunk: CHUNKS[usize::from(mode >> 2) & 7],
        }
    }
}

/// What the body of one request looked like to `admit`.
#[derive(Debug, Default)]
struct BodySeen {
    polled: bool,
    data: Vec<u8>,
    ended: bool,
    error: Option<String>,
}

/// A body that records what passes through it.
struct Recorded<B> {
    inner: B,
    seen: Rc<RefCell<BodySeen>>,
}

impl<B> Body for Recorded<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let mut seen = this.seen.borrow_mut();
        seen.polled = true;
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    seen.data.extend_from_slice(data);
                }
            }
            Poll::Ready(Some(Err(e))) => seen.error = Some(e.to_string()),
            Poll::Ready(None) => seen.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One response the service gave hyper, and the request it answered.
#[derive(Debug)]
struct Served {
    method: Method,
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// Serves `data[1..]` as one connection's bytes and checks every property; `data[0]` is the mode byte (bits
/// 0–1, after the last byte: 0 wait half the read timeout, then close the write side; 1 or 3 keep the
/// connection open; 2 close at once; bits 2–4: deliver in pieces of 1, 2, 3, 5, 16, 64 or 512 bytes instead of
/// at once). Runs on a real-time runtime of this thread; [`check_executor_request_on`] takes another (the fuzz
/// target's has a paused clock, so timeouts cost no time).
pub fn check_executor_request(data: &[u8]) {
    REAL_TIME.with(|runtime| check_executor_request_on(runtime, data));
}

/// [`check_executor_request`] on `runtime`, which must be a current-thread runtime with time enabled.
pub fn check_executor_request_on(runtime: &Runtime, data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let delivery = Delivery::from_mode(mode);
    CONFIG.with(|config| {
        let bound = CONNECTION_ALLOCATION_BOUND + 32 * input.len();
        let (served, output) = bounded(bound, "serving a connection", || {
            runtime.block_on(exchange(config, delivery, input))
        });
        check_wire(&output, &served, delivery);
    });
}

/// Runs one connection: hyper with the server's settings, the client writing `input` and reading everything
/// the server writes until it closes. Returns what the service answered and the bytes on the wire.
async fn exchange(config: &Config, delivery: Delivery, input: &[u8]) -> (Vec<Served>, Vec<u8>) {
    let served: RefCell<Vec<Served>> = RefCell::new(Vec::new());
    let (client, server) = tokio::io::duplex(16 * 1024);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.read_timeout)
        .keep_alive(true);
    let service = service_fn(|req| {
        let served = &served;
        async move {
            let (record, response) = serve_one(config, delivery, req).await;
            served.borrow_mut().push(record);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = http.serve_connection(TokioIo::new(server), service);
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let write = async {
        for piece in input.chunks(delivery.chunk) {
            if to_server.write_all(piece).await.is_err() {
                return;
            }
            if piece.len() < input.len() {
                tokio::task::yield_now().await;
            }
        }
        if delivery.end == Ending::CloseLater {
            tokio::time::sleep(config.read_timeout / 2).await;
        }
        if delivery.end != Ending::KeepOpen {
            let _ = to_server.shutdown().await;
        }
    };
    let read = async {
        let mut output = Vec::new();
        let _ = from_server.read_to_end(&mut output).await;
        output
    };
    // Every way a connection can stall ends in one of hyper's or admit's read timeouts.
    let limit = config.read_timeout * 50;
    let (_, (), output) =
        tokio::time::timeout(limit, async { tokio::join!(connection, write, read) })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the connection was still open {} s after it started",
                    limit.as_secs_f64()
                )
            });
    (served.into_inner(), output)
}

/// The service: `admit`, then its result checked and turned into a response as the real server does.
async fn serve_one(
    config: &Config,
    delivery: Delivery,
    req: Request<Incoming>,
) -> (Served, Response<Full<Bytes>>) {
    let method = req.method().clone();
    let version = req.version();
    // Exactly one key header, with exactly the key.
    let keys: Vec<&[u8]> = req
        .headers()
        .get_all(KEY_HEADER)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let key_ok = keys == [KEY.as_bytes()];
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let seen = Rc::new(RefCell::new(BodySeen::default()));
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(
        parts,
        Recorded {
            inner: body,
            seen: seen.clone(),
        },
    );
    let started = Instant::now();
    let result = handler::admit(config, req).await;
    let elapsed = started.elapsed();
    let seen = seen.borrow();
    let facts = Facts {
        method: &method,
        key_ok,
        declared,
        seen: &seen,
        elapsed,
        delivery,
    };
    check_admission(config, &facts, &result);
    let response = match result {
        Ok(exec) => {
            check_execution(&exec, config);
            Response::new(Full::new(Bytes::from_static(b"admitted")))
        }
        Err(e) => e.into_response(),
    };
    let mut response = response;
    handler::fit_version(version, &mut response);
    let (parts, body) = response.into_parts();
    let body = full_bytes(body);
    let served = Served {
        method,
        status: parts.status.as_u16(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    if served.headers.contains_key(ERROR_KIND_HEADER) {
        check_error_response(served.status, &served.headers, &served.body);
    }
    (served, Response::from_parts(parts, Full::new(body)))
}

/// The bytes of a [`Full`] body.
fn full_bytes(body: Full<Bytes>) -> Bytes {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    match body.as_mut().poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        Poll::Ready(None) => Bytes::new(),
        Poll::Ready(Some(Err(never))) => match never {},
        Poll::Pending => unreachable!("a Full body is always ready"),
    }
}

/// What the service knew about a request, for judging `admit`'s answer.
struct Facts<'a> {
    method: &'a Method,
    key_ok: bool,
    declared: Option<u64>,
    seen: &'a BodySeen,
    elapsed: Duration,
    delivery: Delivery,
}

/// `admit`'s answer follows from the request: the key first (with no byte of the body read), then the method,
/// then the body limit (declared or actual), the read timeout, and otherwise exactly what `decode` says.
fn check_admission(config: &Config, facts: &Facts<'_>, result: &Result<Execution, ShimError>) {
    let seen = facts.seen;
    let limit = config.max_body;
    let over_limit = facts.declared.is_some_and(|n| n > limit as u64) || seen.data.len() > limit;
    let context = || {
        let answer: String = format!("{result:?}").chars().take(400).collect();
        format!(
            "method {}, key {}, content-length {:?}, body {} ({} bytes, ended {}, error {:?}), elapsed {:?}, \
             {:?}: {answer}",
            facts.method,
            if facts.key_ok { "right" } else { "wrong" },
            facts.declared,
            protocol::quote(&seen.data),
            seen.data.len(),
            seen.ended,
            seen.error,
            facts.elapsed,
            facts.delivery,
        )
    };
    match result {
        Err(ShimError::Unauthorized) => {
            assert!(!facts.key_ok, "the right key was refused; {}", context());
            assert!(
                !seen.polled,
                "the body was read before the key was checked; {}",
                context()
            );
        }
        _ if !facts.key_ok => panic!("a wrong or missing key was not refused; {}", context()),
        Err(ShimError::MethodNotAllowed(allowed)) => {
            assert_eq!(*allowed, "POST");
            assert!(
                facts.method != Method::POST,
                "POST was refused; {}",
                context()
            );
            assert!(
                !seen.polled,
                "the body was read before the method was checked; {}",
                context()
            );
        }
        _ if facts.method != Method::POST => {
            panic!("a method other than POST was not refused; {}", context())
        }
        Err(ShimError::TooLarge(n)) => {
            assert_eq!(*n, limit);
            assert!(
                over_limit,
                "a body within the limit was refused; {}",
                context()
            );
        }
        _ if over_limit => panic!("a body over the limit was not refused; {}", context()),
        Err(ShimError::BodyTimeout(t)) => {
            assert_eq!(*t, config.read_timeout);
            assert!(
                facts.elapsed >= config.read_timeout,
                "the body timed out early; {}",
                context()
            );
            assert!(
                !seen.ended && seen.error.is_none(),
                "a body that was complete timed out; {}",
                context()
            );
            assert!(
                facts.delivery.end != Ending::CloseAtOnce,
                "the body timed out although the client had closed; {}",
                context()
            );
        }
        Err(ShimError::BadRequest(m)) if m.starts_with("reading the body failed") => {
            assert!(
                seen.error.is_some(),
                "a body error was reported but none was seen; {}",
                context()
            );
        }
        result => {
            assert!(
                seen.ended && seen.error.is_none(),
                "an answer other than a body error or timeout before the body ended; {}",
                context()
            );
            let decoded = handler::decode(&seen.data, config);
            assert_eq!(result, &decoded, "admit and decode disagree; {}", context());
        }
    }
}

/// A response as hyper wrote it.
#[derive(Debug)]
struct Wire {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Wire {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// The bytes hyper wrote are our responses, in order, possibly followed by one bare error of hyper's for broken
/// HTTP (and then nothing); nothing follows a response that says `Connection: close`. While the client keeps
/// the connection open, none of our responses is lost.
fn check_wire(output: &[u8], served: &[Served], delivery: Delivery) {
    let mut rest = output;
    let mut ours = 0;
    let mut hypers_error: Option<u16> = None;
    let mut closed = false;
    while !rest.is_empty() {
        if let Some(status) = hypers_error {
            panic!(
                "bytes after hyper's own {status} response: {}",
                protocol::quote(rest)
            );
        }
        assert!(
            !closed,
            "bytes after a response with Connection: close: {}",
            protocol::quote(rest)
        );
        let head_request = served.get(ours).is_some_and(|s| s.method == Method::HEAD);
        let (wire, after) = parse_response(rest, head_request);
        rest = after;
        if wire.status == 100 {
            continue;
        }
        if let Some(s) = served.get(ours)
            && same_response(s, &wire)
        {
            if wire.header(ERROR_KIND_HEADER).is_some() && s.method != Method::HEAD {
                check_error_response(wire.status, &to_header_map(&wire), &wire.body);
            }
            ours += 1;
            closed = wire.header("connection") == Some(b"close");
            continue;
        }
        // Not ours: it must be hyper's answer to HTTP it could not parse.
        assert!(
            [400, 414, 431].contains(&wire.status)
                && wire.header(ERROR_KIND_HEADER).is_none()
                && wire.body.is_empty(),
            "a response that is neither ours nor hyper's bare error: {wire:?}; ours so far {ours}, \
             served {served:?}"
        );
        hypers_error = Some(wire.status);
    }
    if delivery.end == Ending::KeepOpen {
        assert_eq!(
            ours,
            served.len(),
            "responses were lost on an open connection: wrote {ours} of {served:?}"
        );
    }
}

/// Parses one response head and its body off `bytes`.
fn parse_response(bytes: &[u8], head_request: bool) -> (Wire, &[u8]) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "a response head without its end: {}",
                protocol::quote(bytes)
            )
        });
    let head = std::str::from_utf8(&bytes[..end]).unwrap_or_else(|_| {
        panic!(
            "a response head that is not UTF-8: {}",
            protocol::quote(bytes)
        )
    });
    let after = &bytes[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("a bad status line: {status_line:?}"));
    let headers: Vec<(String, Vec<u8>)> = lines
        .map(|line| {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("a bad header line: {line:?}"));
            (name.to_string(), value.as_bytes().to_vec())
        })
        .collect();
    let mut wire = Wire {
        status,
        headers,
        body: Vec::new(),
    };
    if status == 100 {
        assert!(
            wire.headers.is_empty(),
            "100 Continue with headers: {wire:?}"
        );
        return (wire, after);
    }
    assert!(
        wire.header("transfer-encoding").is_none(),
        "a chunked response: {wire:?}"
    );
    let length = wire
        .header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("a response without a content-length: {wire:?}"));
    let length = if head_request { 0 } else { length };
    assert!(
        after.len() >= length,
        "a response body cut short: {wire:?} wants {length} bytes, {} follow",
        after.len()
    );
    wire.body = after[..length].to_vec();
    (wire, &after[length..])
}

/// The wire response carries everything the service answered.
fn same_response(served: &Served, wire: &Wire) -> bool {
    let body_ok = if served.method == Method::HEAD {
        wire.body.is_empty()
    } else {
        wire.body == served.body
    };
    served.status == wire.status
        && body_ok
        && served
            .headers
            .iter()
            .all(|(name, value)| wire.header(name.as_str()) == Some(value.as_bytes()))
        && (wire.header(ERROR_KIND_HEADER).is_some()
            == served.headers.contains_key(ERROR_KIND_HEADER))
}

fn to_header_map(wire: &Wire) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &wire.headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_bytes(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// The documented error schema: the body is exactly `{"code":<int>,"message":<string>}` with `code` equal to
/// the status, `Content-Type: application/json`, an `x-shim-error` header, `Allow: POST` on 405 and
/// `Connection: close` on 408.
fn check_error_response(status: u16, headers: &HeaderMap, body: &[u8]) {
    let value: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "an error body that is not JSON ({e}): {}",
            protocol::quote(body)
        )
    });
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("an error body without a string message: {value}"));
    let exact = format!(
        "{{\"code\":{status},\"message\":{}}}",
        Value::String(message.to_string())
    );
    assert_eq!(
        body,
        exact.as_bytes(),
        "the error body is not exactly {{\"code\":{status},\"message\":…}}"
    );
    assert!((400..=599).contains(&status), "error status {status}");
    assert!(!message.is_empty(), "an empty error message");
    assert_eq!(
        headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "error content type"
    );
    let kind = headers
        .get(ERROR_KIND_HEADER)
        .unwrap_or_else(|| panic!("an error without {ERROR_KIND_HEADER}"));
    assert!(
        !kind.is_empty()
            && kind
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_lowercase() || *b == b'-'),
        "an odd error kind {kind:?}"
    );
    if status == 405 {
        assert_eq!(
            headers.get(hyper::header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"POST"[..])
        );
    }
    if status == 408 {
        assert_eq!(
            headers.get(hyper::header::CONNECTION).map(|v| v.as_bytes()),
            Some(&b"close"[..])
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// decode and the Execution's invariants

/// Decodes `data` as the executor's request body and checks the answer against an independent reading of the
/// request table: defaults for absent, null or empty fields, every wrong type refused naming its field, the
/// timeout greater than 0 and capped; then the [`Execution`]'s invariants and the error's schema.
pub fn check_decode(data: &[u8]) {
    CONFIG.with(|config| {
        let result = handler::decode(data, config);
        match (&result, expected_decode(data, config)) {
            (Ok(exec), Ok(want)) => {
                check_execution(exec, config);
                assert_eq!(exec.path, want.path, "path");
                assert_eq!(exec.file, want.file, "file");
                assert_eq!(exec.env, want.env, "env");
                assert_eq!(exec.payload, want.payload, "payload");
                assert_eq!(exec.headers, want.headers, "headers");
                match want.timeout {
                    None => assert_eq!(exec.timeout, config.default_timeout, "default timeout"),
                    Some(secs) if secs >= config.max_timeout.as_secs_f64() => {
                        assert_eq!(
                            exec.timeout, config.max_timeout,
                            "capped timeout ({secs} s)"
                        )
                    }
                    Some(secs) if secs < SUB_MILLISECOND => assert!(
                        exec.timeout <= Duration::from_millis(1),
                        "timeout {secs} s decoded as {:?}",
                        exec.timeout
                    ),
                    Some(secs) => {
                        let got = exec.timeout.as_secs_f64();
                        assert!(
                            (got - secs).abs() <= 1e-9 + secs * 1e-12,
                            "timeout {secs} s decoded as {:?}",
                            exec.timeout
                        );
                    }
                }
            }
            // Below the protocol's millisecond a refusal is as right as rounding up (zero is not).
            (Err(ShimError::BadRequest(message)), Ok(want))
                if want.timeout.is_some_and(|s| s < SUB_MILLISECOND)
                    && message.contains("field `timeout`") => {}
            (Err(ShimError::BadRequest(message)), Err(named)) => {
                assert!(
                    named.iter().any(|n| message.contains(n.as_str())),
                    "the message {message:?} names none of {named:?}"
                );
            }
            (result, want) => panic!(
                "decode of {} gave {result:?}, expected {want:?}",
                protocol::quote(data)
            ),
        }
        if let Err(e) = result {
            let response = e.into_response();
            let (parts, body) = response.into_parts();
            check_error_response(parts.status.as_u16(), &parts.headers, &full_bytes(body));
        }
    });
}

/// Timeouts under a millisecond: `timeout_ms` cannot carry them, and a `Duration` may round them to zero.
const SUB_MILLISECOND: f64 = 1e-3;

/// What `decode` should produce, read from the README alone.
#[derive(Debug)]
struct Want {
    path: String,
    file: String,
    env: Map<String, Value>,
    payload: String,
    headers: Map<String, Value>,
    /// `None`: the default.
    timeout: Option<f64>,
}

/// `Err` holds what an error message may name (one of them).
fn expected_decode(body: &[u8], config: &Config) -> Result<Want, Vec<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec!["empty".into()]);
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(vec!["not valid JSON".into()]);
    };
    let Value::Object(fields) = value else {
        return Err(vec!["must be a JSON object".into()]);
    };
    let mut named = Vec::new();
    let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
    let mut string = |name: &str| match field(name) {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            named.push(format!("field `{name}`"));
            String::new()
        }
    };
    let path = Some(string("path"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| config.code_path.clone());
    let file = Some(string("file"))
        .filter(|f| !f.is_empty())
        .or_else(|| config.entrypoint.clone())
        .unwrap_or_default();
    let payload = string("payload");
    let mut map = |name: &str| match field(name) {
        None => Map::new(),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !v.is_string() {
                    named.push(format!("field `{name}.{k}`"));
                }
            }
            m.clone()
        }
        Some(_) => {
            named.push(format!("field `{name}`"));
            Map::new()
        }
    };
    let env = map("env");
    let headers = map("headers");
    let timeout = match field("timeout") {
        None => None,
        Some(v) => match v.as_f64() {
            Some(s) if s > 0.0 && s.is_finite() => Some(s),
            _ => {
                named.push("field `timeout`".into());
                None
            }
        },
    };
    if !named.is_empty() {
        return Err(named);
    }
    Ok(Want {
        path,
        file,
        env,
        payload,
        headers,
        timeout,
    })
}

/// An [`Execution`]'s invariants, and that both request encodings carry it faithfully within the protocol's
/// header limit.
fn check_execution(exec: &Execution, config: &Config) {
    assert!(
        exec.timeout > Duration::ZERO,
        "an execution with a zero timeout: {exec:?}"
    );
    assert!(
        exec.timeout <= config.max_timeout,
        "an execution's timeout over the cap: {exec:?}"
    );
    assert!(!exec.path.is_empty(), "an execution without a path");
    assert!(
        !exec.file.is_empty(),
        "an execution without a file although the image names one"
    );
    for (name, map) in [("env", &exec.env), ("headers", &exec.headers)] {
        assert!(
            map.values().all(Value::is_string),
            "{name} holds a value that is not a string: {exec:?}"
        );
    }

    let deadline_ms = 1_700_000_000_123;
    let timeout_ms = exec.timeout.as_millis() as u64;
    for encoding in [Encoding::Json, Encoding::Kv] {
        let request = protocol::encode_request(encoding, "1", exec, deadline_ms);
        assert_eq!(
            request.header,
            format!("REQ 1 {}\n", request.body.len()).into_bytes()
        );
        assert!(request.header.len() <= MAX_HEADER);
        match encoding {
            Encoding::Json => {
                let v: Value = serde_json::from_slice(&request.body).expect("a JSON request body");
                assert_eq!(v["path"], exec.path.as_str());
                assert_eq!(v["file"], exec.file.as_str());
                assert_eq!(v["payload"], exec.payload.as_str());
                assert_eq!(v["env"], Value::Object(exec.env.clone()));
                assert_eq!(v["headers"], Value::Object(exec.headers.clone()));
                assert_eq!(v["timeout_ms"], timeout_ms);
                assert_eq!(v["deadline_ms"], deadline_ms);
            }
            Encoding::Kv => {
                let records = parse_kv(&request.body);
                let mut want: Vec<(&str, &[u8], Vec<u8>)> = vec![
                    ("path", b"", exec.path.as_bytes().to_vec()),
                    ("file", b"", exec.file.as_bytes().to_vec()),
                    ("payload", b"", exec.payload.as_bytes().to_vec()),
                    ("timeout_ms", b"", timeout_ms.to_string().into_bytes()),
                    ("deadline_ms", b"", deadline_ms.to_string().into_bytes()),
                ];
                for (tag, map) in [("env", &exec.env), ("header", &exec.headers)] {
                    for (k, v) in map {
                        let v = v.as_str().unwrap_or_default().as_bytes().to_vec();
                        want.push((tag, k.as_bytes(), v));
                    }
                }
                let got: Vec<(&str, &[u8], Vec<u8>)> = records
                    .iter()
                    .map(|(t, k, v)| (t.as_str(), k.as_slice(), v.clone()))
                    .collect();
                assert_eq!(got, want, "kv records");
            }
        }
    }
}

/// Reads a `kv` request body (`<tag> <K> <V>\n<key><value>`, numbers without sign or leading zeros) that must
/// fill the body exactly.
fn parse_kv(mut body: &[u8]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut records = Vec::new();
    while !body.is_empty() {
        let nl = body
            .iter()
            .position(|&b| b == b'\n')
            .expect("a kv record header ends in a newline");
        let header = std::str::from_utf8(&body[..nl]).expect("an ASCII kv record header");
        let [tag, k, v] = header.split(' ').collect::<Vec<_>>()[..] else {
            panic!("a kv record header of other than three fields: {header:?}");
        };
        let k = canonical_number(k).expect("a kv key length") as usize;
        let v = canonical_number(v).expect("a kv value length") as usize;
        let rest = &body[nl + 1..];
        assert!(rest.len() >= k + v, "a kv record past the end of the body");
        records.push((tag.to_string(), rest[..k].to_vec(), rest[k..k + v].to_vec()));
        body = &rest[k + v..];
    }
    records
}

/// A decimal number without sign or leading zeros, of at most 19 digits (so it fits a `u64`).
fn canonical_number(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().expect("checked digits"))
}

// ---------------------------------------------------------------------------------------------------------
// The adapter's stdout and stderr

/// How an adapter's output reaches the shim.
#[derive(Debug, Clone, Copy)]
struct StreamShape {
    max_body: usize,
    chunk: usize,
    /// Every read is first refused once (`Pending`), as a pipe with nothing in it would.
    pending: bool,
    /// The stream ends in a read error instead of EOF.
    fail_at_end: bool,
}

impl StreamShape {
    /// Bits 0–2: body limit. Bits 3–5: read size. Bit 6: `Pending` before every read. Bit 7: error at the end.
    fn from_mode(mode: u8) -> Self {
        const LIMITS: [usize; 8] = [0, 1, 4, 16, 64, 256, 4096, 65536];
        const CHUNKS: [usize; 8] = [usize::MAX, 1, 2, 3, 7, 64, 255, 4096];
        StreamShape {
            max_body: LIMITS[usize::from(mode) & 7],
            chunk: CHUNKS[usize::from(mode >> 3) & 7],
            pending: mode & 0x40 != 0,
            fail_at_end: mode & 0x80 != 0,
        }
    }
}

/// An in-memory pipe: `data` in reads of at most `chunk` bytes.
struct Script<'a> {
    data: &'a [u8],
    shape: StreamShape,
    refuse_next: bool,
}

impl<'a> Script<'a> {
    fn new(data: &'a [u8], shape: StreamShape) -> Self {
        Script {
            data,
            shape,
            refuse_next: shape.pending,
        }
    }
}

impl AsyncRead for Script<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refuse_next {
            this.refuse_next = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.refuse_next = this.shape.pending;
        if this.data.is_empty() {
            return Poll::Ready(if this.shape.fail_at_end {
                Err(io::Error::other("the pipe broke"))
            } else {
                Ok(())
            });
        }
        let n = this.shape.chunk.min(this.data.len()).min(buf.remaining());
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Reads `data[1..]` as an adapter's stdout until the first error and as its stderr to the end; `data[0]` is
/// the mode byte (bits 0–2: body limit 0, 1, 4, 16, 64, 256, 4096 or 65536; bits 3–5: reads of at most 1, 2,
/// 3, 7, 64, 255 or 4096 bytes instead of all; bit 6: every read refused once first; bit 7: the stream ends in
/// an error instead of EOF). Every frame and the final error must be what `docs/adapter-protocol.md` says,
/// whatever the read sizes; no read may allocate more than the body limit or the reader's buffer.
pub fn check_adapter_stream(data: &[u8]) {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let shape = StreamShape::from_mode(mode);
    check_frames(stream, shape);
    check_log_lines(stream, shape);
}

/// How reading frames must end.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Eof,
    Truncated,
    HeaderTooLong,
    BadHeader(Vec<u8>),
    BodyTooLarge { len: u64, limit: usize },
    Io,
}

fn check_frames(stream: &[u8], shape: StreamShape) {
    let (want_frames, want_end) = expected_frames(stream, shape);
    let bound = shape.max_body.max(FRAME_READER_BUFFER);
    let mut reader = bounded(bound, "FrameReader::new", || {
        FrameReader::new(Script::new(stream, shape), shape.max_body)
    });
    let mut got = Vec::new();
    let end = loop {
        if shape.pending && got.len() < 4 {
            // `has_output` consumes nothing: the next frame reads as if it had not been called.
            let remaining = stream.len() > consumed(&want_frames[..got.len()]);
            match run_ready(reader.has_output()) {
                Ok(has) => assert_eq!(has, remaining, "has_output"),
                Err(_) => assert!(!remaining && shape.fail_at_end, "has_output failed"),
            }
        }
        match bounded(bound, "read_frame", || run_ready(reader.read_frame())) {
            Ok(frame) => {
                if let Frame::Reply { body, .. } = &frame {
                    assert!(body.len() <= shape.max_body, "a body over the limit");
                }
                got.push(frame);
                assert!(
                    got.len() <= want_frames.len(),
                    "more frames than the stream holds: {got:?}"
                );
            }
            Err(e) => break e,
        }
    };
    let got_frames: Vec<&Frame> = got.iter().collect();
    let want: Vec<&Frame> = want_frames.iter().map(|(f, _)| f).collect();
    assert_eq!(
        got_frames,
        want,
        "frames of {} ({shape:?})",
        protocol::quote(stream)
    );
    let same_end = match (&end, &want_end) {
        (ProtocolError::Eof, End::Eof)
        | (ProtocolError::Truncated, End::Truncated)
        | (ProtocolError::HeaderTooLong, End::HeaderTooLong)
        | (ProtocolError::Io(_), End::Io) => true,
        (ProtocolError::BadHeader(why), End::BadHeader(line)) => {
            why.contains(&protocol::quote(line))
        }
        (
            ProtocolError::BodyTooLarge { len, limit },
            End::BodyTooLarge {
                len: want_len,
                limit: want_limit,
            },
        ) => len == want_len && limit == want_limit,
        _ => false,
    };
    assert!(
        same_end,
        "reading {} ({shape:?}) ended in {end:?}, expected {want_end:?}",
        protocol::quote(stream)
    );
    assert!(!end.to_string().is_empty());
    if matches!(end, ProtocolError::Eof) {
        assert!(
            matches!(run_ready(reader.read_frame()), Err(ProtocolError::Eof)),
            "EOF is not sticky"
        );
    }
}

/// Bytes taken by the frames before the next one.
fn consumed(frames: &[(Frame, usize)]) -> usize {
    frames.last().map_or(0, |(_, end)| *end)
}

/// The frames of `stream` and how reading them ends, from the protocol document: a header line of printable
/// ASCII tokens separated by single spaces, at most 256 bytes with its `\n`, the last token the body length
/// (decimal, no sign, no leading zeros); `READY <version> json|kv <N>`, `RES <id> <status> text|json <N>`,
/// `ERR <id> <code> <N>`; ids of 1–64 characters from `[A-Za-z0-9._-]`. Each frame comes with the offset
/// where it ends.
fn expected_frames(stream: &[u8], shape: StreamShape) -> (Vec<(Frame, usize)>, End) {
    let mut frames = Vec::new();
    let mut at = 0;
    let short = if shape.fail_at_end {
        End::Io
    } else {
        End::Truncated
    };
    loop {
        let rest = &stream[at..];
        if rest.is_empty() {
            return (frames, if shape.fail_at_end { End::Io } else { End::Eof });
        }
        let window = &rest[..rest.len().min(MAX_HEADER)];
        let Some(nl) = window.iter().position(|&b| b == b'\n') else {
            return (
                frames,
                if window.len() == MAX_HEADER {
                    End::HeaderTooLong
                } else {
                    short
                },
            );
        };
        let line = &rest[..nl];
        let Some((kind, len)) = expected_header(line) else {
            return (frames, End::BadHeader(line.to_vec()));
        };
        if len > shape.max_body as u64 {
            return (
                frames,
                End::BodyTooLarge {
                    len,
                    limit: shape.max_body,
                },
            );
        }
        let body_at = nl + 1;
        let len = len as usize;
        if rest.len() - body_at < len {
            return (frames, short);
        }
        let body = rest[body_at..body_at + len].to_vec();
        at += body_at + len;
        let frame = match kind {
            Kind::Ready(version, encoding) => Frame::Ready {
                version,
                encoding,
                info: String::from_utf8_lossy(&body).into_owned(),
            },
            Kind::Reply(id, status, body_type) => Frame::Reply {
                id,
                status,
                body_type,
                body,
            },
            Kind::Error(id, code) => Frame::Error {
                id,
                code,
                message: String::from_utf8_lossy(&body).into_owned(),
            },
        };
        frames.push((frame, at));
    }
}

enum Kind {
    Ready(u32, Encoding),
    Reply(String, u16, BodyType),
    Error(String, u16),
}

fn expected_header(line: &[u8]) -> Option<(Kind, u64)> {
    if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let tokens: Vec<&str> = text.split(' ').collect();
    let id = |s: &str| {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        ok.then(|| s.to_string())
    };
    let status = |s: &str| canonical_number(s).and_then(|n| u16::try_from(n).ok());
    let kind = match tokens[..] {
        ["READY", version, encoding, _] => Kind::Ready(
            canonical_number(version).and_then(|n| u32::try_from(n).ok())?,
            match encoding {
                "json" => Encoding::Json,
                "kv" => Encoding::Kv,
                _ => return None,
            },
        ),
        ["RES", i, s, t, _] => Kind::Reply(
            id(i)?,
            status(s)?,
            match t {
                "text" => BodyType::Text,
                "json" => BodyType::Json,
                _ => return None,
            },
        ),
        ["ERR", i, c, _] => Kind::Error(id(i)?, status(c)?),
        _ => return None,
    };
    Some((kind, canonical_number(tokens.last()?)?))
}

/// Stderr: each read yields the bytes up to the next newline within the next 16 KiB (the newline removed), or
/// 16 KiB when there is none, or what is left at EOF; read errors end it.
fn check_log_lines(stream: &[u8], shape: StreamShape) {
    let mut reader = BufReader::with_capacity(LOG_READER_BUFFER, Script::new(stream, shape));
    let bound = LOG_READER_BUFFER.max(2 * MAX_LOG_LINE);
    let mut at = 0;
    loop {
        let got = bounded(bound, "read_log_line", || {
            run_ready(protocol::read_log_line(&mut reader))
        });
        let rest = &stream[at..];
        let window = &rest[..rest.len().min(MAX_LOG_LINE)];
        let want = match window.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                at += nl + 1;
                Some(&window[..nl])
            }
            None if window.len() == MAX_LOG_LINE => {
                at += MAX_LOG_LINE;
                Some(window)
            }
            None if shape.fail_at_end => {
                assert!(got.is_err(), "a log read past a broken pipe: {got:?}");
                return;
            }
            None if window.is_empty() => None,
            None => {
                at += window.len();
                Some(window)
            }
        };
        let got = got.unwrap_or_else(|e| panic!("a log read failed: {e}"));
        if let Some(line) = &got {
            assert!(line.len() <= MAX_LOG_LINE, "a log line over the limit");
            assert!(!line.contains(&b'\n'), "a log line with a newline in it");
        }
        assert_eq!(
            got.as_deref(),
            want,
            "log line of {} at {at} ({shape:?})",
            protocol::quote(stream)
        );
        if got.is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_request_is_admitted() {
        let body = br#"{"payload":"hi","timeout":5}"#;
        let mut input = vec![0u8];
        input.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nhost: x\r\nx-internal-challenge: {KEY}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        input.extend_from_slice(body);
        check_executor_request(&input);
        check_decode(body);
    }

    #[test]
    fn frames_and_logs_follow_the_document() {
        let mut input = vec![0x07u8];
        input.extend_from_slice(b"READY 1 json 2\npyRES 1 200 text 2\nokERR 2 500 3\nbad");
        check_adapter_stream(&input);
        input[0] = 0xc9;
        check_adapter_stream(&input);
    }
}
