//! Bad input from the executor side: each class is answered with the error schema (or a clean close where
//! HTTP itself is broken), and the next request on a fresh connection is served.
//!
//! "schema N kind" is `{"code":N,"message":…}` with status N, `Content-Type: application/json` and
//! `x-shim-error: kind`. "bare N" is the HTTP parser's own answer where there is no request to hand to the
//! shim: status N, empty body, `connection: close`, no `x-shim-error`, then the connection closes. "close" is
//! the connection closing without a byte. "served" is a 200 from the function, with what the function received
//! checked where it matters. `T` is `SHIM_READ_TIMEOUT` (1 s in those tests). Every class is followed by a
//! successful request on a fresh connection.
//!
//! | class | expected answer | test |
//! |---|---|---|
//! | invalid JSON (truncated) | schema 400 `bad-request`, "not valid JSON" | `json_bodies` |
//! | invalid JSON (trailing garbage after the object) | schema 400 `bad-request` | `json_bodies` |
//! | empty body | schema 400 `bad-request`, "empty" | `json_bodies` |
//! | whitespace-only body | schema 400 `bad-request`, "empty" | `json_bodies` |
//! | JSON array / string / number / null / true instead of an object | schema 400 `bad-request`, "must be a JSON object" | `json_bodies` |
//! | `env` as a list | schema 400 `bad-request`, names `env` | `json_bodies` |
//! | `env` value not a string | schema 400 `bad-request`, names `env.A` | `json_bodies` |
//! | `headers` as a string / with a non-string value | schema 400 `bad-request`, names `headers` / `headers.x` | `json_bodies` |
//! | `payload` as a number / an object | schema 400 `bad-request`, names `payload` | `json_bodies` |
//! | `path` / `file` not a string | schema 400 `bad-request`, names the field | `json_bodies` |
//! | `timeout` negative / zero / a string / a boolean | schema 400 `bad-request`, names `timeout` | `json_bodies` |
//! | `timeout` huge (1e300) | served; capped at `SHIM_MAX_TIMEOUT` | `json_bodies` |
//! | `timeout` beyond a double (1e400) | schema 400 `bad-request`, "number out of range" | `json_bodies` |
//! | `timeout` tiny (1e-9 s) | rounded up to 1 ms: served, or schema 500 `timeout` "after 0.001 s" | `json_bodies` |
//! | `null` fields | served with the defaults | `json_bodies` |
//! | unknown fields | served; ignored | `json_bodies` |
//! | field names differing in case (`Payload`) or by a trailing space (`payload `) | served; unknown, so ignored | `json_bodies` |
//! | duplicate JSON keys | served; the last one wins | `json_bodies` |
//! | deep nesting (past 128 levels, in any field) | schema 400 `bad-request`, "recursion limit" | `json_bodies` |
//! | deep nesting within the limit (100 levels, unknown field) | served | `json_bodies` |
//! | huge string within the body limit | served; arrives intact | `json_bodies` |
//! | body over the limit, with Content-Length | schema 413 `too-large` + `connection: close`, body unread | `json_bodies` |
//! | body over the limit, chunked | schema 413 `too-large` + `connection: close` | `json_bodies` |
//! | HTTP/1.0 keep-alive request whose reply closes (408 `body-timeout`) | `Connection: close` alone, then closed | `an_http10_keep_alive_request_whose_reply_closes_gets_exactly_close` |
//! | valid chunked body (1-byte chunks, chunk extension, trailer) | served | `json_bodies` |
//! | malformed chunked framing | schema 400 `bad-request` naming the chunk error, then close | `json_bodies` |
//! | Content-Length larger than the bytes sent, then half-close | schema 400 `bad-request` ("end of file before message length reached"), then close | `json_bodies` |
//! | raw 0xff bytes inside a JSON string | schema 400 `bad-request`, "not valid JSON" | `json_bodies` |
//! | UTF-8 byte-order mark before the JSON | schema 400 `bad-request` | `json_bodies` |
//! | lone surrogate escapes (`\ud800`, `\udc00`) | schema 400 `bad-request` | `json_bodies` |
//! | escaped surrogate pair (control) | served; the character arrives intact | `json_bodies` |
//! | `\u0000` in payload, env and headers | served; the NUL arrives intact | `json_bodies` |
//! | 10 000 env keys | served; all of them arrive | `json_bodies` |
//! | missing Content-Type | served (Content-Type is not checked) | `json_bodies` |
//! | other Content-Type (`text/plain`) | served | `json_bodies` |
//! | missing key / empty key | schema 401 `unauthorized`, body exactly `{"code":401,"message":"Unauthorized"}` | `http_requests` |
//! | key differing only in case | schema 401 `unauthorized` | `http_requests` |
//! | key with trailing space or tab / leading spaces | served: optional whitespace is not part of a header value | `http_requests` |
//! | key with a trailing 0xff byte | schema 401 `unauthorized` | `http_requests` |
//! | key with a raw NUL | bare 400 | `http_requests` |
//! | two key headers (even both right) | schema 401 `unauthorized` | `http_requests` |
//! | key header name in capitals | served (header names are case-insensitive) | `http_requests` |
//! | 0xff bytes in another header's value | served | `http_requests` |
//! | 0xff byte in a header name | bare 400 | `http_requests` |
//! | raw NUL in another header's value | bare 400 | `http_requests` |
//! | space before a header's colon | bare 400 | `http_requests` |
//! | obsolete line folding | bare 400 | `http_requests` |
//! | wrong method (GET, PUT, DELETE, PATCH, OPTIONS `*`, CONNECT) | schema 405 `method-not-allowed`, `Allow: POST` | `http_requests` |
//! | HEAD | 405 `method-not-allowed`, `Allow: POST`, no body | `http_requests` |
//! | lowercase `post` (another method) | schema 405 `method-not-allowed` | `http_requests` |
//! | very long path (60 000 bytes) | served | `http_requests` |
//! | path over 65 534 bytes | bare 414 | `http_requests` |
//! | `..` in the path, percent-encoded NUL, `*` | served (any path executes) | `http_requests` |
//! | absolute-form URI | served; its path counts (`http://h/_/health` → schema 405, `Allow: GET`) | `http_requests` |
//! | header flood (200 headers; the parser allows 100) | bare 431 | `http_requests` |
//! | long header value (100 000 bytes) | served | `http_requests` |
//! | header value past the parser's buffer (1 000 000 bytes) | bare 431 | `http_requests` |
//! | invalid Content-Length (`abc`, `-1`, `+2`) | bare 400 | `http_requests` |
//! | two different Content-Lengths | bare 400 | `http_requests` |
//! | both Transfer-Encoding and Content-Length | served per the chunked body, then close (RFC 9112 §6.3) | `http_requests`, `pipelined_requests_are_answered_in_order` |
//! | Transfer-Encoding other than chunked | bare 400 | `http_requests` |
//! | HTTP/1.0 | served, then close | `http_requests` |
//! | HTTP/1.0 with Transfer-Encoding | bare 400 | `http_requests` |
//! | no Host header | served | `http_requests` |
//! | bare LF line endings | served | `http_requests` |
//! | garbage request line (a TLS ClientHello) | bare 400 | `http_requests` |
//! | HTTP/0.9-style request line | bare 400 | `http_requests` |
//! | HTTP/2 connection preface | close | `http_requests` |
//! | connect and half-close at once | close | `http_requests` |
//! | Expect: 100-continue without the key | schema 401 `unauthorized`, no `100 Continue` | `http_requests` |
//! | Expect: 100-continue over the body limit | schema 413 `too-large`, no `100 Continue` | `http_requests` |
//! | Expect: 100-continue with the key | `100 Continue`, then served once the body is sent | `expect_100_continue_is_answered_after_the_key` |
//! | connect and send nothing | close after T | `slow_headers_are_dropped_after_the_read_timeout` |
//! | blank lines only | close after T | `slow_headers_are_dropped_after_the_read_timeout` |
//! | request line cut short, then nothing | close after T | `slow_headers_are_dropped_after_the_read_timeout` |
//! | slow-loris headers (a byte every 100 ms) | close after T; other clients served meanwhile | `slow_headers_are_dropped_after_the_read_timeout` |
//! | slow-loris body, Content-Length (a byte every 100 ms) | schema 408 `body-timeout` + `connection: close` after T, then close | `slow_bodies_get_408_and_close` |
//! | slow-loris body, chunked | schema 408 `body-timeout` + `connection: close` after T, then close | `slow_bodies_get_408_and_close` |
//! | headers, then no body at all | schema 408 `body-timeout` after T, then close | `slow_bodies_get_408_and_close` |
//! | wrong key, then no body at all | schema 401 `unauthorized` at once | `slow_bodies_get_408_and_close` |
//! | idle keep-alive connection | closed T after its last response; a request within T resets the clock | `idle_keep_alive_connections_close_after_the_read_timeout` |
//! | three requests in one write | answered in order, then close | `pipelined_requests_are_answered_in_order` |
//! | pipelined bad JSON, valid, wrong key, valid | 400, 200, 401, 200 in order | `pipelined_requests_are_answered_in_order` |
//! | pipelined 405, then valid | 405, 200 in order | `pipelined_requests_are_answered_in_order` |
//! | pipelined wrong key with an unread body, then valid | 401, then 200 (the small body is skipped) | `pipelined_requests_are_answered_in_order` |
//! | client disconnects mid-execution | adapter killed, reaped (no zombie) and replaced; next requests served | `clients_that_go_away_free_their_worker` |
//! | client disconnects while its request is queued | the request never reaches an adapter | `clients_that_go_away_free_their_worker` |
//! | client half-closes after a complete request | treated as gone: closed without an answer, adapter replaced | `clients_that_go_away_free_their_worker` |
//! | client disconnects mid-body | nothing runs; next request served | `clients_that_go_away_free_their_worker` |

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::*;

// ---------------------------------------------------------------------------------------------------------
// Raw TCP helpers.

/// How long a single exchange may take before it counts as "no answer".
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// The read timeout the timing tests configure.
const T: Duration = Duration::from_secs(1);

/// How the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The server closed it (FIN).
    Closed,
    /// The server reset it (it closed with input left unread).
    Reset,
    /// Still open when we stopped waiting.
    Open,
}

/// Everything the server sent on one connection.
#[derive(Debug)]
struct Received {
    bytes: Vec<u8>,
    end: End,
    elapsed: Duration,
}

/// Reads until the server closes the connection or `limit` passes.
fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Received {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let end = loop {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break End::Open;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break End::Closed,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break End::Reset,
        }
    };
    Received {
        bytes,
        end,
        elapsed: start.elapsed(),
    }
}

/// Sends `request` (from a second thread, so a server that answers before reading everything cannot
/// deadlock us), optionally half-closes, and reads until the server closes or `limit` passes.
fn exchange(addr: SocketAddr, request: &[u8], half_close: bool, limit: Duration) -> Received {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_write_timeout(Some(limit)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            // The server may answer and close before reading it all (401, 413, 431): a failed write is fine.
            if writer.write_all(request).is_ok() && half_close {
                let _ = writer.shutdown(Shutdown::Write);
            }
        });
        let received = read_until_close(&mut stream, limit);
        // Unblocks the writer if the server neither reads nor closes.
        let _ = stream.shutdown(Shutdown::Both);
        received
    })
}

/// Writes `chunk` every `every` on a clone of `stream` until a write fails or `stop` is set.
fn trickle<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    stream: &TcpStream,
    chunk: &'static [u8],
    every: Duration,
    stop: &'s AtomicBool,
) {
    let mut writer = stream.try_clone().unwrap();
    s.spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if writer.write_all(chunk).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    });
}

/// One parsed HTTP response.
#[derive(Debug, Clone)]
struct Reply {
    version: String,
    status: u16,
    /// Lower-cased names, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn short(&self) -> String {
        let text = self.text();
        let cut: String = text.chars().take(300).collect();
        format!(
            "{} {} {:?} {cut:?}",
            self.version, self.status, self.headers
        )
    }

    /// The error schema: status = code, JSON content type, the kind header, `{code, message}` only.
    fn schema(&self, code: u16, kind: &str) -> Result<String, String> {
        let bad = |why: &str| Err(format!("{why}: {}", self.short()));
        if self.status != code {
            return bad(&format!("expected status {code}"));
        }
        if self.header("content-type") != Some("application/json") {
            return bad("expected Content-Type application/json");
        }
        if self.header("x-shim-error") != Some(kind) {
            return bad(&format!("expected x-shim-error: {kind}"));
        }
        let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(&self.body) else {
            return bad("the body is not a JSON object");
        };
        if v.len() != 2 || v.get("code") != Some(&json!(code)) {
            return bad("expected exactly {code, message}");
        }
        match v.get("message") {
            Some(Value::String(m)) => Ok(m.clone()),
            _ => bad("the message is not a string"),
        }
    }
}

/// Splits what a server sent into responses (each framed by its Content-Length; 1xx and replies to HEAD
/// have no body). `Err` when the bytes are not whole responses.
fn parse_replies(mut bytes: &[u8], head: bool) -> Result<Vec<Reply>, String> {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| {
                format!(
                    "an incomplete response: {:?}",
                    String::from_utf8_lossy(bytes)
                )
            })?;
        let text = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("a bad status line: {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length = if (100..200).contains(&status) || head {
            0
        } else {
            headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .ok_or_else(|| format!("no Content-Length: {text:?}"))?
        };
        let rest = &bytes[split + 4..];
        if rest.len() < length {
            return Err(format!("a body cut short: {text:?}"));
        }
        replies.push(Reply {
            version,
            status,
            headers,
            body: rest[..length].to_vec(),
        });
        bytes = &rest[length..];
    }
    Ok(replies)
}

/// `parts` joined.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn key_line() -> Vec<u8> {
    format!("x-internal-challenge: {KEY}\r\n").into_bytes()
}

/// `POST / HTTP/1.1` with the key, Content-Length, `Connection: close` and `extra` header lines.
fn post(extra: &[u8], body: &[u8]) -> Vec<u8> {
    request(b"POST / HTTP/1.1", &cat(&[&key_line(), extra]), body)
}

/// `line`, Host, `headers` (whole lines), Content-Length, `Connection: close`, then `body`.
fn request(line: &[u8], headers: &[u8], body: &[u8]) -> Vec<u8> {
    cat(&[
        line,
        b"\r\nHost: shim\r\nContent-Type: application/json\r\n",
        headers,
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
        body,
    ])
}

/// Like [`post`] but keeping the connection open (for pipelining and keep-alive).
fn post_keep_alive(extra: &[u8], body: &[u8]) -> Vec<u8> {
    cat(&[
        b"POST / HTTP/1.1\r\nHost: shim\r\n",
        &key_line(),
        extra,
        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
        body,
    ])
}

/// A chunked request with the key, without `Connection: close`, from the raw chunked `body`.
fn chunked(body: &[u8]) -> Vec<u8> {
    chunked_with(b"", body)
}

/// A chunked request with the key and `extra` header lines, from the raw chunked `body`.
fn chunked_with(extra: &[u8], body: &[u8]) -> Vec<u8> {
    cat(&[
        b"POST / HTTP/1.1\r\nHost: shim\r\n",
        &key_line(),
        extra,
        b"Transfer-Encoding: chunked\r\n\r\n",
        body,
    ])
}

/// `body` as chunks of `size` bytes, with the last chunk.
fn chunks(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A normal request on a fresh connection must be served.
fn served(addr: SocketAddr) -> Result<(), String> {
    let got = exchange(
        addr,
        &post(b"", br#"{"payload":"still fine"}"#),
        false,
        ANSWER_LIMIT,
    );
    let replies = parse_replies(&got.bytes, false)?;
    match replies.as_slice() {
        [r] if r.status == 200 && r.text().contains("still fine") => Ok(()),
        _ => Err(format!("the next request was not served: {replies:?}")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The table.

/// What a class must be answered with.
enum Expect {
    /// 200 from the function (the echo adapter replies with what it received, which `check` looks at).
    Served(fn(&Value) -> bool),
    /// Either of the two: for a race the test cannot decide (a deadline of a millisecond).
    ServedOrSchema(fn(&Value) -> bool, u16, &'static str, &'static str),
    /// The error schema with this status and kind, the message containing the text.
    Schema(u16, &'static str, &'static str),
    /// Like `Schema`, and the response says `connection: close` and the connection then closes although the
    /// request did not ask for it.
    SchemaThenClose(u16, &'static str, &'static str),
    /// The HTTP parser's bare answer, then close.
    Bare(u16),
    /// Closed without a byte.
    Close,
}

struct Case {
    class: &'static str,
    request: Vec<u8>,
    expect: Expect,
    half_close: bool,
}

fn case(class: &'static str, request: Vec<u8>, expect: Expect) -> Case {
    Case {
        class,
        request,
        expect,
        half_close: false,
    }
}

fn check(case: &Case, got: &Received) -> Result<(), String> {
    if got.end == End::Open {
        return Err(format!(
            "the connection was still open after {:?}; received {:?}",
            got.elapsed,
            String::from_utf8_lossy(&got.bytes)
        ));
    }
    if let Expect::Close = case.expect {
        return match got.bytes.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "expected a close without a byte, got {:?}",
                String::from_utf8_lossy(&got.bytes)
            )),
        };
    }
    let replies = parse_replies(&got.bytes, false)?;
    let [reply] = replies.as_slice() else {
        return Err(format!("expected one response, got {replies:?}"));
    };
    match case.expect {
        Expect::Served(ok) => expect_served(reply, ok)?,
        Expect::ServedOrSchema(ok, _, _, _) if reply.status == 200 => expect_served(reply, ok)?,
        Expect::ServedOrSchema(_, code, kind, text) => expect_schema(reply, code, kind, text)?,
        Expect::Schema(code, kind, text) | Expect::SchemaThenClose(code, kind, text) => {
            expect_schema(reply, code, kind, text)?;
            if matches!(case.expect, Expect::SchemaThenClose(..))
                && reply.header("connection") != Some("close")
            {
                return Err(format!("expected connection: close: {}", reply.short()));
            }
        }
        Expect::Bare(code) => {
            let bare = reply.status == code
                && reply.body.is_empty()
                && reply.header("content-length") == Some("0")
                && reply.header("connection") == Some("close")
                && reply.header("x-shim-error").is_none();
            if !bare {
                return Err(format!("expected a bare {code}: {}", reply.short()));
            }
        }
        Expect::Close => unreachable!(),
    }
    Ok(())
}

fn expect_served(reply: &Reply, ok: fn(&Value) -> bool) -> Result<(), String> {
    if reply.status != 200 || reply.header("x-shim-error").is_some() {
        return Err(format!("expected 200 from the function: {}", reply.short()));
    }
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("not JSON ({e}): {}", reply.short()))?;
    if !ok(&v) {
        return Err(format!(
            "the function received something else: {}",
            reply.short()
        ));
    }
    Ok(())
}

fn expect_schema(reply: &Reply, code: u16, kind: &str, text: &str) -> Result<(), String> {
    let message = reply.schema(code, kind)?;
    if !message.contains(text) {
        return Err(format!("the message {message:?} lacks {text:?}"));
    }
    if code == 401 && reply.body != br#"{"code":401,"message":"Unauthorized"}"# {
        return Err(format!(
            "not exactly the seed's 401 body: {}",
            reply.short()
        ));
    }
    Ok(())
}

/// Runs every case against `shim`, each followed by a normal request; fails listing every failing class.
fn run_table(shim: &Shim, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let got = exchange(shim.addr, &case.request, case.half_close, ANSWER_LIMIT);
        if let Err(why) = check(case, &got) {
            failures.push(format!("{}: {why}", case.class));
        }
        if let Err(why) = served(shim.addr) {
            failures.push(format!("{} (then): {why}", case.class));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} classes failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The echo adapter with a 1 MiB body limit.
fn echo_shim() -> Shim {
    Shim::fixture("echo", &[("SHIM_MAX_BODY", "1048576")]).ready()
}

const LIMIT: usize = 1_048_576;

#[test]
fn json_bodies() {
    use Expect::*;
    let shim = echo_shim();
    let bad =
        |class, body: &[u8], text| case(class, post(b"", body), Schema(400, "bad-request", text));
    let deep = |n: usize| {
        format!(
            r#"{{"payload":"d","extra":{}1{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let big_payload = "x".repeat(LIMIT - 100);
    let big = format!(r#"{{"payload":"{big_payload}"}}"#);
    let over = format!(r#"{{"payload":"{}"}}"#, "x".repeat(LIMIT + 1));
    let env: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("KEY_{i}"), json!(format!("v{i}"))))
        .collect();
    let many_env = json!({ "env": env, "payload": "many" }).to_string();

    let mut cases = vec![
        bad(
            "invalid JSON (truncated)",
            br#"{"payload":"#,
            "not valid JSON",
        ),
        bad(
            "invalid JSON (trailing garbage)",
            br#"{"payload":"x"} x"#,
            "not valid JSON",
        ),
        bad("empty body", b"", "empty"),
        bad("whitespace-only body", b" \r\n\t ", "empty"),
        bad(
            "JSON array",
            b"[1,2]",
            "must be a JSON object, not an array",
        ),
        bad(
            "JSON string",
            br#""text""#,
            "must be a JSON object, not a string",
        ),
        bad("JSON number", b"42", "must be a JSON object, not a number"),
        bad("JSON null", b"null", "must be a JSON object, not null"),
        bad("JSON true", b"true", "must be a JSON object, not a boolean"),
        bad(
            "env as a list",
            br#"{"env":["A=1"]}"#,
            "field `env` must be an object",
        ),
        bad(
            "env value not a string",
            br#"{"env":{"A":1}}"#,
            "field `env.A` must be a string",
        ),
        bad("env value null", br#"{"env":{"A":null}}"#, "field `env.A`"),
        bad(
            "headers as a string",
            br#"{"headers":"x: y"}"#,
            "field `headers`",
        ),
        bad(
            "headers value not a string",
            br#"{"headers":{"x":[1]}}"#,
            "field `headers.x`",
        ),
        bad(
            "payload as a number",
            br#"{"payload":42}"#,
            "field `payload` must be a string",
        ),
        bad(
            "payload as an object",
            br#"{"payload":{"a":1}}"#,
            "field `payload`",
        ),
        bad("path not a string", br#"{"path":1}"#, "field `path`"),
        bad(
            "file not a string",
            br#"{"file":["index.py"]}"#,
            "field `file`",
        ),
        bad("timeout negative", br#"{"timeout":-1}"#, "field `timeout`"),
        bad("timeout zero", br#"{"timeout":0}"#, "field `timeout`"),
        bad(
            "timeout a string",
            br#"{"timeout":"10"}"#,
            "field `timeout`",
        ),
        bad(
            "timeout a boolean",
            br#"{"timeout":true}"#,
            "field `timeout`",
        ),
        bad(
            "timeout beyond a double",
            br#"{"timeout":1e400}"#,
            "number out of range",
        ),
        case(
            "timeout huge",
            post(b"", br#"{"timeout":1e300}"#),
            Served(|v| v["timeout_ms"] == 900_000),
        ),
        case(
            "timeout tiny",
            post(b"", br#"{"timeout":1e-9}"#),
            // Rounded up to the protocol's millisecond: the adapter may just make it.
            ServedOrSchema(
                |v| v["timeout_ms"] == 1,
                500,
                "timeout",
                "execution timed out after 0.001 s",
            ),
        ),
        case(
            "null fields",
            post(
                b"",
                concat!(
                    r#"{"path":null,"file":null,"env":null,"#,
                    r#""payload":null,"headers":null,"timeout":null}"#
                )
                .as_bytes(),
            ),
            Served(|v| v["path"] == "/usr/code" && v["payload"] == "" && v["env"] == json!({})),
        ),
        case(
            "unknown fields",
            post(
                b"",
                br#"{"payload":"p","somethingNew":{"a":[1,2]},"version":2}"#,
            ),
            Served(|v| v["payload"] == "p" && v.get("somethingNew").is_none()),
        ),
        case(
            "field name differing in case",
            post(b"", br#"{"Payload":"p","ENV":{"A":1}}"#),
            Served(|v| v["payload"] == "" && v["env"] == json!({})),
        ),
        case(
            "field name with a trailing space",
            post(b"", br#"{"payload ":"p","timeout ":"x"}"#),
            Served(|v| v["payload"] == "" && v["timeout_ms"] == 900_000),
        ),
        case(
            "duplicate JSON keys",
            post(
                b"",
                br#"{"payload":"first","payload":"last","timeout":"x","timeout":5}"#,
            ),
            Served(|v| v["payload"] == "last" && v["timeout_ms"] == 5000),
        ),
        bad(
            "deep nesting (200 levels)",
            deep(200).as_bytes(),
            "recursion limit",
        ),
        bad(
            "deep nesting (100 000 levels)",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
            "recursion limit",
        ),
        case(
            "deep nesting within the limit",
            post(b"", deep(100).as_bytes()),
            Served(|v| v["payload"] == "d"),
        ),
        case(
            "huge string within the limit",
            post(b"", big.as_bytes()),
            Served(|v| {
                v["payload"]
                    .as_str()
                    .is_some_and(|p| p.len() == LIMIT - 100)
            }),
        ),
        case(
            "body over the limit with Content-Length",
            post_keep_alive(b"", over.as_bytes()),
            SchemaThenClose(413, "too-large", "limit of 1048576 bytes"),
        ),
        case(
            "body over the limit, chunked",
            chunked(&chunks(over.as_bytes(), 64 * 1024)),
            SchemaThenClose(413, "too-large", "limit of 1048576 bytes"),
        ),
        case(
            "valid chunked body",
            cat(&[
                &chunked_with(b"Connection: close\r\n", b""),
                b"1;ext=1\r\n{\r\n",
                &chunks(br#""payload":"chunked"}"#, 1)[..],
            ]),
            Served(|v| v["payload"] == "chunked"),
        ),
        case(
            "valid chunked body with a trailer",
            chunked_with(
                b"Connection: close\r\n",
                b"f\r\n{\"payload\":\"t\"}\r\n0\r\nx-trailer: 1\r\n\r\n",
            ),
            Served(|v| v["payload"] == "t"),
        ),
        case(
            "malformed chunked framing",
            chunked(b"zz\r\n{}\r\n0\r\n\r\n"),
            Schema(400, "bad-request", "Invalid chunk size"),
        ),
        Case {
            half_close: true,
            ..case(
                "Content-Length larger than the bytes sent, then half-close",
                cat(&[
                    b"POST / HTTP/1.1\r\nHost: shim\r\n",
                    &key_line(),
                    b"Content-Length: 100\r\n\r\n{\"payload\":",
                ]),
                Schema(
                    400,
                    "bad-request",
                    "end of file before message length reached",
                ),
            )
        },
        bad(
            "raw 0xff bytes in a JSON string",
            b"{\"payload\":\"a\xff\xfeb\"}",
            "not valid JSON",
        ),
        bad(
            "UTF-8 byte-order mark",
            b"\xef\xbb\xbf{\"payload\":\"x\"}",
            "not valid JSON",
        ),
        bad(
            "lone leading surrogate",
            br#"{"payload":"a\ud800b"}"#,
            "not valid JSON",
        ),
        bad(
            "lone trailing surrogate",
            br#"{"payload":"\udc00"}"#,
            "not valid JSON",
        ),
        case(
            "escaped surrogate pair",
            post(b"", br#"{"payload":"\ud83d\ude00"}"#),
            Served(|v| v["payload"] == "\u{1F600}"),
        ),
        case(
            "NUL escapes in payload, env and headers",
            post(
                b"",
                concat!(
                    r#"{"payload":"a\u0000b","env":{"A\u0000":"\u0000"},"#,
                    r#""headers":{"h":"x\u0000"}}"#
                )
                .as_bytes(),
            ),
            Served(|v| {
                v["payload"] == "a\0b"
                    && v["env"] == json!({"A\0": "\0"})
                    && v["headers"]["h"] == "x\0"
            }),
        ),
        case(
            "10 000 env keys",
            post(b"", many_env.as_bytes()),
            Served(|v| {
                v["payload"] == "many"
                    && v["env"].as_object().is_some_and(|e| e.len() == 10_000)
                    && v["env"]["KEY_9999"] == "v9999"
            }),
        ),
        case(
            "missing Content-Type",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: shim\r\n",
                &key_line(),
                b"Content-Length: 15\r\nConnection: close\r\n\r\n{\"payload\":\"n\"}",
            ]),
            Served(|v| v["payload"] == "n"),
        ),
        case(
            "other Content-Type",
            post(b"Content-Type: text/plain\r\n", br#"{"payload":"t"}"#),
            Served(|v| v["payload"] == "t"),
        ),
    ];
    for (class, body) in [("JSON array (empty)", &b"[]"[..]), ("JSON false", b"false")] {
        cases.push(bad(class, body, "must be a JSON object"));
    }
    run_table(&shim, cases);
}

#[test]
fn http_requests() {
    use Expect::*;
    let shim = echo_shim();
    let body: &[u8] = br#"{"payload":"http"}"#;
    let ok = || Served(|v| v["payload"] == "http");
    let unauthorized = || Schema(401, "unauthorized", "Unauthorized");
    let with_key = |key: &[u8]| request(b"POST / HTTP/1.1", key, body);
    let line = |l: &str| request(l.as_bytes(), &key_line(), body);
    let with_path = |path: &str| line(&format!("POST {path} HTTP/1.1"));
    let method = |m: &str| {
        cat(&[
            format!("{m} HTTP/1.1\r\nHost: shim\r\n").as_bytes(),
            &key_line(),
            b"Connection: close\r\n\r\n",
        ])
    };
    let not_allowed = || Schema(405, "method-not-allowed", "use POST");
    let flood: Vec<u8> = (0..200)
        .flat_map(|i| format!("x-h{i}: v\r\n").into_bytes())
        .collect();
    let long = |n: usize| cat(&[b"x-long: ", &vec![b'v'; n], b"\r\n"]);
    let key_then = |rest: &[u8]| cat(&[b"x-internal-challenge: ", KEY.as_bytes(), rest]);

    let cases = vec![
        case("missing key", with_key(b""), unauthorized()),
        case(
            "empty key",
            with_key(b"x-internal-challenge:\r\n"),
            unauthorized(),
        ),
        case(
            "key differing only in case",
            with_key(format!("x-internal-challenge: {}\r\n", KEY.to_uppercase()).as_bytes()),
            unauthorized(),
        ),
        case(
            "key with a trailing space",
            with_key(&key_then(b" \r\n")),
            ok(),
        ),
        case(
            "key with a trailing tab",
            with_key(&key_then(b"\t\r\n")),
            ok(),
        ),
        case(
            "key with leading spaces",
            with_key(format!("x-internal-challenge:    {KEY}\r\n").as_bytes()),
            ok(),
        ),
        case(
            "key with a trailing 0xff",
            with_key(&key_then(b"\xff\r\n")),
            unauthorized(),
        ),
        case(
            "key with a raw NUL",
            with_key(&key_then(b"\x00\r\n")),
            Bare(400),
        ),
        case(
            "two key headers (right, wrong)",
            with_key(&cat(&[&key_line(), b"x-internal-challenge: wrong\r\n"])),
            unauthorized(),
        ),
        case(
            "two key headers (both right)",
            with_key(&cat(&[&key_line(), &key_line()])),
            unauthorized(),
        ),
        case(
            "key header name in capitals",
            with_key(format!("X-INTERNAL-CHALLENGE: {KEY}\r\n").as_bytes()),
            ok(),
        ),
        case(
            "0xff bytes in another header's value",
            post(b"x-other: \xff\xfe\x80\r\n", body),
            ok(),
        ),
        case(
            "0xff byte in a header name",
            post(b"x-\xff: a\r\n", body),
            Bare(400),
        ),
        case(
            "raw NUL in another header's value",
            post(b"x-other: a\x00b\r\n", body),
            Bare(400),
        ),
        case(
            "space before a header's colon",
            with_key(format!("x-internal-challenge : {KEY}\r\n").as_bytes()),
            Bare(400),
        ),
        case(
            "obsolete line folding",
            post(b"x-a: b\r\n  c\r\n", body),
            Bare(400),
        ),
        case("GET", method("GET /"), not_allowed()),
        case("PUT", method("PUT /"), not_allowed()),
        case("DELETE", method("DELETE /"), not_allowed()),
        case("PATCH", method("PATCH /x"), not_allowed()),
        case("OPTIONS *", method("OPTIONS *"), not_allowed()),
        case("CONNECT", method("CONNECT example.com:443"), not_allowed()),
        case("lowercase post", line("post / HTTP/1.1"), not_allowed()),
        case(
            "very long path (60 000 bytes)",
            with_path(&format!("/{}", "a".repeat(60_000))),
            ok(),
        ),
        case(
            "path over 65 534 bytes",
            with_path(&format!("/{}", "a".repeat(70_000))),
            Bare(414),
        ),
        case("`..` in the path", with_path("/../../etc/passwd"), ok()),
        case("percent-encoded NUL in the path", with_path("/a%00b"), ok()),
        case("`*` as the path", with_path("*"), ok()),
        case(
            "absolute-form URI",
            with_path("http://example.com/run?x=1"),
            ok(),
        ),
        case(
            "absolute-form URI of a health path",
            with_path("http://example.com/_/health"),
            Schema(405, "method-not-allowed", "use GET"),
        ),
        case("header flood (200 headers)", post(&flood, body), Bare(431)),
        case(
            "long header value (100 000 bytes)",
            post(&long(100_000), body),
            ok(),
        ),
        // hyper checks its ~408 KiB head limit between reads, and one read may add up to that much again: only
        // past twice the limit is the answer certain to be 431 whatever the read sizes.
        case(
            "header value past the parser's buffer (1 000 000 bytes)",
            post(&long(1_000_000), body),
            Bare(431),
        ),
        case(
            "Content-Length not a number",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Content-Length: abc\r\n\r\n{}",
            ]),
            Bare(400),
        ),
        case(
            "Content-Length negative",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Content-Length: -1\r\n\r\n{}",
            ]),
            Bare(400),
        ),
        case(
            "Content-Length with a plus sign",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Content-Length: +2\r\n\r\n{}",
            ]),
            Bare(400),
        ),
        case(
            "two different Content-Lengths",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            ]),
            Bare(400),
        ),
        case(
            "both Transfer-Encoding and Content-Length",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Content-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n",
                &chunks(body, 7),
            ]),
            ok(),
        ),
        case(
            "Transfer-Encoding other than chunked",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Transfer-Encoding: gzip\r\n\r\n{}",
            ]),
            Bare(400),
        ),
        case(
            "HTTP/1.0",
            cat(&[
                b"POST / HTTP/1.0\r\n",
                &key_line(),
                format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                body,
            ]),
            ok(),
        ),
        case(
            "HTTP/1.0 with Transfer-Encoding",
            cat(&[
                b"POST / HTTP/1.0\r\n",
                &key_line(),
                b"Transfer-Encoding: chunked\r\n\r\n",
                &chunks(body, 5),
            ]),
            Bare(400),
        ),
        case(
            "no Host header",
            cat(&[
                b"POST / HTTP/1.1\r\n",
                &key_line(),
                format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
                body,
            ]),
            ok(),
        ),
        case(
            "bare LF line endings",
            cat(&[
                b"POST / HTTP/1.1\nHost: s\n",
                format!("x-internal-challenge: {KEY}\n").as_bytes(),
                format!("Content-Length: {}\nConnection: close\n\n", body.len()).as_bytes(),
                body,
            ]),
            ok(),
        ),
        case(
            "garbage request line (a TLS ClientHello)",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
            Bare(400),
        ),
        case(
            "HTTP/0.9-style request line",
            b"POST /\r\n\r\n".to_vec(),
            Bare(400),
        ),
        case(
            "HTTP/2 connection preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec(),
            Close,
        ),
        Case {
            half_close: true,
            ..case("connect and half-close at once", Vec::new(), Close)
        },
        case(
            "Expect: 100-continue without the key",
            request(b"POST / HTTP/1.1", b"Expect: 100-continue\r\n", body),
            unauthorized(),
        ),
        case(
            "Expect: 100-continue over the body limit",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                format!(
                    "Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                    LIMIT + 1
                )
                .as_bytes(),
            ]),
            SchemaThenClose(413, "too-large", "limit of 1048576 bytes"),
        ),
    ];
    run_table(&shim, cases);

    // HEAD: 405 with the schema's headers, and no body as HEAD requires.
    let got = exchange(shim.addr, &method("HEAD /"), false, ANSWER_LIMIT);
    let replies = parse_replies(&got.bytes, true).unwrap();
    let [r] = replies.as_slice() else {
        panic!("HEAD: {replies:?}")
    };
    assert_eq!(
        (r.status, r.header("x-shim-error"), r.header("allow")),
        (405, Some("method-not-allowed"), Some("POST")),
        "HEAD: {}",
        r.short()
    );
    assert!(r.body.is_empty());
    served(shim.addr).unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// Stateful classes.

/// The echo adapter with a 1 s read timeout.
fn short_read_timeout_shim() -> Shim {
    Shim::fixture("echo", &[("SHIM_READ_TIMEOUT", "1")]).ready()
}

/// Asserts the connection closed without a byte, about `T` after `since` (taken before the server's clock
/// started).
fn closed_after_t(got: &Received, since: Instant) -> Result<(), String> {
    if got.end == End::Open || !got.bytes.is_empty() {
        return Err(format!(
            "expected a close without a byte, got {:?} and {:?}",
            got.end,
            String::from_utf8_lossy(&got.bytes)
        ));
    }
    about_t(since)
}

/// `T` has passed since `since`, but not much more: the server neither gave up early nor waited far longer.
fn about_t(since: Instant) -> Result<(), String> {
    let elapsed = since.elapsed();
    if elapsed < T - Duration::from_millis(20) || elapsed > T + Duration::from_secs(3) {
        return Err(format!("took {elapsed:?}, expected about {T:?}"));
    }
    Ok(())
}

/// A named check that runs on its own thread.
type Scenario<'a> = Box<dyn FnOnce() -> Result<(), String> + Send + 'a>;

/// Runs the scenarios at once and fails listing each one that failed.
fn all_at_once(scenarios: Vec<(&str, Scenario<'_>)>) {
    let failures: Vec<String> = std::thread::scope(|s| {
        let running: Vec<_> = scenarios
            .into_iter()
            .map(|(name, run)| (name, s.spawn(run)))
            .collect();
        running
            .into_iter()
            .filter_map(|(name, h)| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(why)) => Some(format!("{name}: {why}")),
                Err(_) => Some(format!("{name}: panicked")),
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn slow_headers_are_dropped_after_the_read_timeout() {
    let shim = short_read_timeout_shim();
    let addr = shim.addr;
    let silent = |request: &'static [u8]| {
        move || {
            let since = Instant::now();
            let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            stream.write_all(request).map_err(|e| e.to_string())?;
            closed_after_t(&read_until_close(&mut stream, ANSWER_LIMIT), since)
        }
    };
    all_at_once(vec![
        ("connect and send nothing", Box::new(silent(b""))),
        ("blank lines only", Box::new(silent(b"\r\n\r\n\r\n"))),
        ("request line cut short", Box::new(silent(b"POST / HT"))),
        (
            "slow-loris headers",
            Box::new(move || {
                let since = Instant::now();
                let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
                stream
                    .write_all(b"POST / HTTP/1.1\r\nHost: shim\r\nx-slow: ")
                    .map_err(|e| e.to_string())?;
                let stop = AtomicBool::new(false);
                std::thread::scope(|s| {
                    trickle(s, &stream, b"a", Duration::from_millis(100), &stop);
                    let got = read_until_close(&mut stream, ANSWER_LIMIT);
                    stop.store(true, Ordering::Relaxed);
                    closed_after_t(&got, since)
                })
            }),
        ),
        (
            "a normal client meanwhile",
            Box::new(move || {
                // While the others hold their connections (half-way through their T), requests are served at
                // once.
                std::thread::sleep(T / 2);
                let start = Instant::now();
                served(addr)?;
                served(addr)?;
                match start.elapsed() < T / 4 {
                    true => Ok(()),
                    false => Err(format!("took {:?}", start.elapsed())),
                }
            }),
        ),
    ]);
    served(addr).unwrap();
}

#[test]
fn slow_bodies_get_408_and_close() {
    let shim = short_read_timeout_shim();
    let addr = shim.addr;
    // Sends `head` and `start`, trickles `drip` every 100 ms, and expects a 408 about T after the headers.
    let slow = move |head: Vec<u8>, start: &'static [u8], drip: Option<&'static [u8]>| {
        move || -> Result<(), String> {
            let since = Instant::now();
            let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            stream
                .write_all(&cat(&[&head, start]))
                .map_err(|e| e.to_string())?;
            let stop = AtomicBool::new(false);
            let got = std::thread::scope(|s| {
                if let Some(drip) = drip {
                    trickle(s, &stream, drip, Duration::from_millis(100), &stop);
                }
                let got = read_until_close(&mut stream, ANSWER_LIMIT);
                stop.store(true, Ordering::Relaxed);
                got
            });
            if got.end == End::Open {
                return Err(format!(
                    "still open: {:?}",
                    String::from_utf8_lossy(&got.bytes)
                ));
            }
            let replies = parse_replies(&got.bytes, false)?;
            let [reply] = replies.as_slice() else {
                return Err(format!("expected one response: {replies:?}"));
            };
            let message = reply.schema(408, "body-timeout")?;
            if message != "the request body was not received within 1 s" {
                return Err(format!("message: {message:?}"));
            }
            if reply.header("connection") != Some("close") {
                return Err(format!("no connection: close: {}", reply.short()));
            }
            about_t(since)
        }
    };
    let with_length = cat(&[
        b"POST / HTTP/1.1\r\nHost: shim\r\n",
        &key_line(),
        b"Content-Length: 100\r\n\r\n",
    ]);
    let with_chunks = chunked(b"");
    all_at_once(vec![
        (
            "slow-loris body, Content-Length",
            Box::new(slow(with_length.clone(), b"{\"payload\":\"", Some(b"a"))),
        ),
        (
            "slow-loris body, chunked",
            Box::new(slow(with_chunks, b"2\r\n{\"\r\n", Some(b"1\r\na\r\n"))),
        ),
        (
            "headers, then no body at all",
            Box::new(slow(with_length, b"", None)),
        ),
        (
            "wrong key, then no body at all",
            Box::new(move || {
                // The key is checked before the body is waited for.
                let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
                stream
                    .write_all(
                        concat!(
                            "POST / HTTP/1.1\r\nHost: s\r\n",
                            "x-internal-challenge: no\r\nContent-Length: 100\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .map_err(|e| e.to_string())?;
                let start = Instant::now();
                let mut first = [0u8; 12];
                stream.set_read_timeout(Some(ANSWER_LIMIT)).unwrap();
                stream.read_exact(&mut first).map_err(|e| e.to_string())?;
                match (&first, start.elapsed() < T / 2) {
                    (b"HTTP/1.1 401", true) => Ok(()),
                    _ => Err(format!(
                        "{:?} after {:?}",
                        String::from_utf8_lossy(&first),
                        start.elapsed()
                    )),
                }
            }),
        ),
    ]);
    served(addr).unwrap();
}

#[test]
fn idle_keep_alive_connections_close_after_the_read_timeout() {
    let shim = short_read_timeout_shim();
    let mut stream = TcpStream::connect(shim.addr).unwrap();
    // Reads one whole response off a kept-alive connection.
    let one_reply = |stream: &mut TcpStream, payload: &str| {
        stream
            .write_all(&post_keep_alive(
                b"",
                format!(r#"{{"payload":"{payload}"}}"#).as_bytes(),
            ))
            .unwrap();
        stream.set_read_timeout(Some(ANSWER_LIMIT)).unwrap();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(replies) = parse_replies(&bytes, false)
                && let [r] = replies.as_slice()
            {
                assert_eq!(r.status, 200, "{}", r.short());
                assert!(r.text().contains(payload), "{}", r.short());
                assert_eq!(r.header("connection"), None, "kept alive: {}", r.short());
                return;
            }
            let n = stream.read(&mut buf).expect("a response");
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&bytes));
            bytes.extend_from_slice(&buf[..n]);
        }
    };
    one_reply(&mut stream, "first");
    // A second request within T on the same connection is served: the clock starts again with each request.
    std::thread::sleep(T * 6 / 10);
    let since = Instant::now();
    one_reply(&mut stream, "second");
    let got = read_until_close(&mut stream, ANSWER_LIMIT);
    closed_after_t(&got, since).unwrap();
    served(shim.addr).unwrap();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let shim = echo_shim();
    let wrong_key = |body: &[u8]| {
        cat(&[
            b"POST / HTTP/1.1\r\nHost: s\r\nx-internal-challenge: wrong\r\n",
            format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
            body,
        ])
    };
    let p = |s: &str| format!(r#"{{"payload":"{s}"}}"#).into_bytes();
    // (class, one write, the status of each answer with its payload or error kind)
    type Pipeline<'a> = (&'a str, Vec<u8>, Vec<(u16, &'a str)>);
    let cases: Vec<Pipeline> = vec![
        (
            "three requests in one write",
            cat(&[
                &post_keep_alive(b"", &p("one")),
                &post_keep_alive(b"", &p("two")),
                &post(b"", &p("three")),
            ]),
            vec![(200, "one"), (200, "two"), (200, "three")],
        ),
        (
            "bad JSON, valid, wrong key",
            cat(&[
                &post_keep_alive(b"", br#"{"payload":"#),
                &post_keep_alive(b"", &p("two")),
                &wrong_key(b"{}"),
                &post(b"", &p("last")),
            ]),
            vec![
                (400, "bad-request"),
                (200, "two"),
                (401, "unauthorized"),
                (200, "last"),
            ],
        ),
        (
            "405, then valid",
            cat(&[
                b"GET / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"\r\n",
                &post(b"", &p("after")),
            ]),
            vec![(405, "method-not-allowed"), (200, "after")],
        ),
        (
            "wrong key with an unread body, then valid",
            cat(&[&wrong_key(&p("unread")), &post(b"", &p("next"))]),
            vec![(401, "unauthorized"), (200, "next")],
        ),
        (
            // RFC 9112 §6.3: the server must close the connection after such a request.
            "both Transfer-Encoding and Content-Length, then another",
            cat(&[
                b"POST / HTTP/1.1\r\nHost: s\r\n",
                &key_line(),
                b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                &chunks(&p("te"), 4),
                &post(b"", &p("smuggled")),
            ]),
            vec![(200, "te")],
        ),
    ];
    let mut failures = Vec::new();
    for (class, bytes, expected) in cases {
        let got = exchange(shim.addr, &bytes, false, ANSWER_LIMIT);
        let outcome = parse_replies(&got.bytes, false).and_then(|replies| {
            let seen: Vec<(u16, String)> = replies
                .iter()
                .map(|r| {
                    let tag = match r.header("x-shim-error") {
                        Some(kind) => kind.to_string(),
                        None => serde_json::from_slice::<Value>(&r.body)
                            .ok()
                            .and_then(|v| v["payload"].as_str().map(str::to_string))
                            .unwrap_or_else(|| r.text()),
                    };
                    (r.status, tag)
                })
                .collect();
            let want: Vec<(u16, String)> =
                expected.iter().map(|(s, t)| (*s, t.to_string())).collect();
            match (seen == want, got.end) {
                (true, End::Closed | End::Reset) => Ok(()),
                (true, End::Open) => Err("still open at the end".to_string()),
                (false, _) => Err(format!("answered {seen:?}, expected {want:?}")),
            }
        });
        if let Err(why) = outcome.and_then(|()| served(shim.addr)) {
            failures.push(format!("{class}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn expect_100_continue_is_answered_after_the_key() {
    let shim = echo_shim();
    let body = br#"{"payload":"continued"}"#;
    let mut stream = TcpStream::connect(shim.addr).unwrap();
    stream
        .write_all(&cat(&[
            b"POST / HTTP/1.1\r\nHost: s\r\n",
            &key_line(),
            format!(
                "Expect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        ]))
        .unwrap();
    // The body is only asked for once the key is checked.
    let mut interim = [0u8; 25];
    stream.set_read_timeout(Some(ANSWER_LIMIT)).unwrap();
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body).unwrap();
    let got = read_until_close(&mut stream, ANSWER_LIMIT);
    let replies = parse_replies(&got.bytes, false).unwrap();
    let [r] = replies.as_slice() else {
        panic!("{replies:?}")
    };
    assert_eq!(r.status, 200, "{}", r.short());
    assert!(r.text().contains("continued"), "{}", r.short());
    served(shim.addr).unwrap();
}

/// True once `pid` is gone entirely: exited and reaped (a zombie still has its /proc entry).
fn reaped(pid: i32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn clients_that_go_away_free_their_worker() {
    let pidfile = temp_path("pids");
    let reqfile = temp_path("requests");
    let (pids, reqs) = (
        pidfile.to_string_lossy().into_owned(),
        reqfile.to_string_lossy().into_owned(),
    );
    // One worker, one place in the queue; `payload` is how long the function sleeps.
    let shim = Shim::fixture(
        "delay",
        &[
            ("SHIM_QUEUE", "1"),
            ("FIXTURE_PIDFILE", &pids),
            ("FIXTURE_REQFILE", &reqs),
        ],
    )
    .ready();
    let sleep_for = |secs: &str| {
        post(
            b"",
            format!(r#"{{"payload":"{secs}","timeout":60}}"#).as_bytes(),
        )
    };
    let woke = |addr| -> Result<(), String> {
        let got = exchange(addr, &sleep_for("0"), false, ANSWER_LIMIT);
        match parse_replies(&got.bytes, false)?.as_slice() {
            [r] if r.status == 200 && r.text() == "woke" => Ok(()),
            other => Err(format!("not served: {other:?}")),
        }
    };
    let adapter_count = |n: usize| {
        wait_for(Duration::from_secs(10), "the adapter to start", || {
            let p = pids_in(&pidfile);
            (p.len() >= n).then(|| p[n - 1])
        })
    };
    let gone_and_replaced = |pid: i32, n: usize, what: &str| {
        wait_for(Duration::from_secs(10), what, || reaped(pid).then_some(()));
        let next = adapter_count(n);
        assert!(alive(next), "the replacement adapter {next} is not running");
        wait_for(Duration::from_secs(10), "no zombie child", || {
            children(shim.pid())
                .iter()
                .all(|c| !zombie(*c))
                .then_some(())
        });
    };

    // 1. Disconnect mid-execution, with another request queued behind it that also goes away.
    let first = adapter_count(1);
    assert!(
        children(shim.pid()).contains(&first),
        "the adapter {first} is the shim's own child, so the shim is the one to reap it"
    );
    let running = TcpStream::connect(shim.addr).unwrap();
    (&running).write_all(&sleep_for("30")).unwrap();
    wait_for(Duration::from_secs(10), "the function to start", || {
        (lines(&reqfile).len() == 1).then_some(())
    });
    let queued = TcpStream::connect(shim.addr).unwrap();
    (&queued).write_all(&sleep_for("30")).unwrap();
    // The queue is full once the queued request is admitted: a probe is then refused at once. A probe that is
    // admitted instead (it got there first) is queued, and goes away like the queued request.
    let mut probes = Vec::new();
    wait_for(
        Duration::from_secs(10),
        "the queued request to be admitted",
        || {
            let mut probe = TcpStream::connect(shim.addr).unwrap();
            probe.write_all(&sleep_for("30")).unwrap();
            let got = read_until_close(&mut probe, Duration::from_millis(300));
            probes.push(probe);
            parse_replies(&got.bytes, false)
                .ok()
                .filter(|r| r.len() == 1 && r[0].schema(503, "busy").is_ok())
        },
    );
    drop(queued);
    drop(probes);
    let left = Instant::now();
    drop(running);
    gone_and_replaced(first, 2, "the abandoned adapter to be killed and reaped");
    assert!(
        left.elapsed() < Duration::from_secs(5),
        "took {:?}",
        left.elapsed()
    );
    woke(shim.addr).unwrap();
    woke(shim.addr).unwrap();
    let seen = lines(&reqfile);
    assert_eq!(
        seen.len(),
        3,
        "only the abandoned request and the two served ones reached an adapter: {seen:?}"
    );
    shim.wait_log("the recycling log line", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("its caller went away"))
    });

    // 2. Half-close after a complete request: the caller counts as gone, as with most HTTP servers.
    let second = adapter_count(2);
    let mut half = TcpStream::connect(shim.addr).unwrap();
    half.write_all(&sleep_for("30")).unwrap();
    wait_for(Duration::from_secs(10), "the function to start", || {
        (lines(&reqfile).len() == 4).then_some(())
    });
    half.shutdown(Shutdown::Write).unwrap();
    let got = read_until_close(&mut half, ANSWER_LIMIT);
    assert!(
        got.end != End::Open && got.bytes.is_empty(),
        "half-close: {got:?}"
    );
    gone_and_replaced(
        second,
        3,
        "the half-closed request's adapter to be replaced",
    );
    woke(shim.addr).unwrap();

    // 3. Disconnect mid-body: nothing reaches an adapter.
    let before = lines(&reqfile).len();
    let cut = TcpStream::connect(shim.addr).unwrap();
    (&cut)
        .write_all(&cat(&[
            b"POST / HTTP/1.1\r\nHost: s\r\n",
            &key_line(),
            b"Content-Length: 100\r\n\r\n{\"payload\":",
        ]))
        .unwrap();
    drop(cut);
    woke(shim.addr).unwrap();
    assert_eq!(lines(&reqfile).len(), before + 1);
    assert_eq!(pids_in(&pidfile).len(), 3, "no adapter was replaced");

    let _ = std::fs::remove_file(&pidfile);
    let _ = std::fs::remove_file(&reqfile);
}

#[test]
fn an_http10_keep_alive_request_whose_reply_closes_gets_exactly_close() {
    // The body never comes in full: 408 `body-timeout`, which closes the connection. To an HTTP/1.0 client
    // that asked for keep-alive, the reply must say `close` alone, and the connection must then close.
    let shim = short_read_timeout_shim();
    let request = format!(
        "POST / HTTP/1.0\r\nHost: x\r\nx-internal-challenge: {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 3\r\nConnection: keep-alive\r\n\r\n{{}}"
    );
    let got = exchange(shim.addr, request.as_bytes(), false, ANSWER_LIMIT);
    let replies = parse_replies(&got.bytes, false).expect("a well-formed reply");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = &replies[0];
    assert_eq!(reply.status, 408, "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    assert!(
        matches!(got.end, End::Closed | End::Reset),
        "the connection stayed open"
    );
    served(shim.addr).unwrap();
}
