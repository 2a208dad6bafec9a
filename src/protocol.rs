//! The adapter protocol's framing (see `docs/adapter-protocol.md`): encoding requests, reading replies.
//!
//! A frame is an ASCII header line whose last token is the body length, then that many raw bytes. Reading
//! is bounded everywhere: a header past [`MAX_HEADER`] or a body past the reply limit is an error, never an
//! allocation. This module knows nothing about processes or time; the pool drives it.

use std::fmt;
use std::io;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// The protocol version of the v1 contract.
pub const VERSION: u32 = 1;
/// The protocol version of the request model shared by the v5 contract and those after it.
pub const VERSION_2: u32 = 2;
/// Longest header line, `\n` included.
pub const MAX_HEADER: usize = 256;
/// Longest stderr line logged as one event; longer lines are logged in pieces.
pub const MAX_LOG_LINE: usize = 16 * 1024;

/// How request bodies are encoded, as the adapter chose in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Kv,
}

/// One execution of the v1 contract, validated: what an adapter is asked to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub path: String,
    pub file: String,
    /// Every value is a JSON string (checked when decoding the executor's body).
    pub env: Map<String, Value>,
    pub payload: String,
    /// Every value is a JSON string.
    pub headers: Map<String, Value>,
    pub timeout: Duration,
}

/// One execution of the HTTP request model (the v5 contract, protocol version 2): what `context.req` shows,
/// with every rule of the contract that needs no language already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpExecution {
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    pub query_string: String,
    /// In order of first appearance; a repeated key keeps its last value.
    pub query: Vec<(String, String)>,
    pub url: String,
    /// Lower-cased names, unique, in order of first appearance.
    pub headers: Vec<(String, String)>,
    pub json_body: bool,
    pub body: bytes::Bytes,
    pub timeout: Duration,
    /// Whether the execution's log lines are collected (they are dropped when logging is disabled).
    pub collect_logs: bool,
}

/// What the pool runs: one execution of either request model.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    V1(Execution),
    Http(HttpExecution),
    /// The open-runtimes v2 contract: v1's fields (`env` is v2's `variables`), over protocol version 2 so the
    /// function's console output comes back as `LOG` lines; `path` and `file` are the configured ones.
    V2(Execution),
}

impl Work {
    pub fn timeout(&self) -> Duration {
        match self {
            Work::V1(e) | Work::V2(e) => e.timeout,
            Work::Http(e) => e.timeout,
        }
    }

    /// The protocol version an adapter must speak to run it.
    pub fn version(&self) -> u32 {
        match self {
            Work::V1(_) => VERSION,
            Work::Http(_) | Work::V2(_) => VERSION_2,
        }
    }
}

/// A request frame, as header, metadata and raw body, so the parts are written in one `writev` without
/// another copy of the body.
pub struct EncodedRequest {
    pub header: Vec<u8>,
    pub body: Vec<u8>,
    pub raw: bytes::Bytes,
}

#[derive(Serialize)]
struct JsonRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variables: Option<&'a Map<String, Value>>,
    payload: &'a str,
    headers: &'a Map<String, Value>,
    timeout_ms: u64,
    deadline_ms: u64,
}

/// The fields of a v1-model execution in `encoding`: v1's (`path`, `file`, `env`, …) or, for the v2 contract,
/// the same without `path` and `file` and with `env` named `variables`.
fn encode_fields(encoding: Encoding, exec: &Execution, deadline_ms: u64, v2: bool) -> Vec<u8> {
    let timeout_ms = exec.timeout.as_millis() as u64;
    match encoding {
        Encoding::Json => serde_json::to_vec(&JsonRequest {
            path: (!v2).then_some(exec.path.as_str()),
            file: (!v2).then_some(exec.file.as_str()),
            env: (!v2).then_some(&exec.env),
            variables: v2.then_some(&exec.env),
            payload: &exec.payload,
            headers: &exec.headers,
            timeout_ms,
            deadline_ms,
        })
        .expect("maps of strings always serialize"),
        Encoding::Kv => {
            let mut out = Vec::with_capacity(exec.payload.len() + 256);
            if !v2 {
                kv_record(&mut out, "path", "", exec.path.as_bytes());
                kv_record(&mut out, "file", "", exec.file.as_bytes());
            }
            kv_record(&mut out, "payload", "", exec.payload.as_bytes());
            kv_number(&mut out, "timeout_ms", timeout_ms);
            kv_number(&mut out, "deadline_ms", deadline_ms);
            let env_tag = if v2 { "variable" } else { "env" };
            for (k, v) in &exec.env {
                kv_record(
                    &mut out,
                    env_tag,
                    k,
                    v.as_str().unwrap_or_default().as_bytes(),
                );
            }
            for (k, v) in &exec.headers {
                kv_record(
                    &mut out,
                    "header",
                    k,
                    v.as_str().unwrap_or_default().as_bytes(),
                );
            }
            out
        }
    }
}

/// Encodes `REQ <id> <N>\n<body>`. `deadline_ms` is wall-clock milliseconds since the Unix epoch.
pub fn encode_request(
    encoding: Encoding,
    id: &str,
    exec: &Execution,
    deadline_ms: u64,
) -> EncodedRequest {
    let body = encode_fields(encoding, exec, deadline_ms, false);
    EncodedRequest {
        header: frame_header(id, &[body.len()]),
        body,
        raw: bytes::Bytes::new(),
    }
}

#[derive(Serialize)]
struct JsonMeta<'a> {
    method: &'a str,
    scheme: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
    query_string: &'a str,
    query: PairsAsObject<'a>,
    url: &'a str,
    headers: PairsAsObject<'a>,
    json_body: bool,
    timeout_ms: u64,
    deadline_ms: u64,
}

/// Serializes unique `(name, value)` pairs as a JSON object, in order.
struct PairsAsObject<'a>(&'a [(String, String)]);

impl Serialize for PairsAsObject<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Encodes `REQ <id> <M> <N>\n<metadata><raw body>` (protocol version 2).
pub fn encode_http_request(
    encoding: Encoding,
    id: &str,
    exec: &HttpExecution,
    deadline_ms: u64,
) -> EncodedRequest {
    let timeout_ms = exec.timeout.as_millis() as u64;
    let meta = match encoding {
        Encoding::Json => serde_json::to_vec(&JsonMeta {
            method: &exec.method,
            scheme: &exec.scheme,
            host: &exec.host,
            port: exec.port,
            path: &exec.path,
            query_string: &exec.query_string,
            query: PairsAsObject(&exec.query),
            url: &exec.url,
            headers: PairsAsObject(&exec.headers),
            json_body: exec.json_body,
            timeout_ms,
            deadline_ms,
        })
        .expect("strings always serialize"),
        Encoding::Kv => {
            let mut out = Vec::with_capacity(512);
            let port = exec.port.to_string();
            let (timeout, deadline) = (timeout_ms.to_string(), deadline_ms.to_string());
            for (tag, value) in [
                ("method", exec.method.as_str()),
                ("scheme", &exec.scheme),
                ("host", &exec.host),
                ("port", &port),
                ("path", &exec.path),
                ("query_string", &exec.query_string),
                ("url", &exec.url),
                ("json_body", if exec.json_body { "1" } else { "0" }),
                ("timeout_ms", &timeout),
                ("deadline_ms", &deadline),
            ] {
                kv_record(&mut out, tag, "", value.as_bytes());
            }
            for (k, v) in &exec.headers {
                kv_record(&mut out, "header", k, v.as_bytes());
            }
            for (k, v) in &exec.query {
                kv_record(&mut out, "query", k, v.as_bytes());
            }
            out
        }
    };
    let total = meta.len() + exec.body.len();
    EncodedRequest {
        header: frame_header(id, &[meta.len(), total]),
        body: meta,
        raw: exec.body.clone(),
    }
}

/// Encodes a v2-contract execution as `REQ <id> <M> <M>\n<metadata>` (protocol version 2, no raw body): JSON
/// `{"variables", "payload", "headers", "timeout_ms", "deadline_ms"}`, or the records `payload`, `timeout_ms`,
/// `deadline_ms`, then `variable` and `header` ones.
pub fn encode_v2_request(
    encoding: Encoding,
    id: &str,
    exec: &Execution,
    deadline_ms: u64,
) -> EncodedRequest {
    let meta = encode_fields(encoding, exec, deadline_ms, true);
    EncodedRequest {
        header: frame_header(id, &[meta.len(), meta.len()]),
        body: meta,
        raw: bytes::Bytes::new(),
    }
}

fn kv_record(out: &mut Vec<u8>, tag: &str, key: &str, value: &[u8]) {
    out.reserve(tag.len() + 24 + key.len() + value.len());
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    push_decimal(out, key.len() as u64);
    out.push(b' ');
    push_decimal(out, value.len() as u64);
    out.push(b'\n');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(value);
}

/// A `kv` record whose value is a number.
fn kv_number(out: &mut Vec<u8>, tag: &str, value: u64) {
    let mut digits = Vec::with_capacity(20);
    push_decimal(&mut digits, value);
    kv_record(out, tag, "", &digits);
}

/// Appends `n` in decimal (what `format!` would write, without its machinery: this is on every request).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `REQ <id> <n>…\n`: a request frame's header line.
fn frame_header(id: &str, lengths: &[usize]) -> Vec<u8> {
    let mut line = Vec::with_capacity(8 + id.len() + 21 * lengths.len());
    line.extend_from_slice(b"REQ ");
    line.extend_from_slice(id.as_bytes());
    for &n in lengths {
        line.push(b' ');
        push_decimal(&mut line, n as u64);
    }
    line.push(b'\n');
    line
}

/// Decodes the headers of a version-2 `RES`: a JSON array of `[name, value]` pairs, or `header` records.
pub fn decode_reply_headers(
    encoding: Encoding,
    meta: &[u8],
) -> Result<Vec<(String, String)>, String> {
    match encoding {
        Encoding::Json => {
            if meta.is_empty() {
                return Ok(Vec::new());
            }
            let pairs: Vec<(String, String)> = serde_json::from_slice(meta).map_err(|e| {
                format!("the reply's headers are not a JSON array of [name, value] strings: {e}")
            })?;
            Ok(pairs)
        }
        Encoding::Kv => {
            let mut pairs = Vec::new();
            let mut rest = meta;
            while !rest.is_empty() {
                let nl = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .ok_or("a header record of the reply has no newline")?;
                let head = std::str::from_utf8(&rest[..nl]).map_err(|_| "a bad header record")?;
                let fields: Vec<&str> = head.split(' ').collect();
                let [tag, k, v] = fields.as_slice() else {
                    return Err(format!(
                        "a bad header record of the reply: {}",
                        quote(&rest[..nl])
                    ));
                };
                let (k, v): (usize, usize) = match (k.parse(), v.parse()) {
                    (Ok(k), Ok(v)) => (k, v),
                    _ => {
                        return Err(format!(
                            "a bad header record of the reply: {}",
                            quote(&rest[..nl])
                        ));
                    }
                };
                let data = &rest[nl + 1..];
                if data.len() < k + v {
                    return Err("a header record of the reply runs past its end".into());
                }
                if *tag == "header" {
                    pairs.push((
                        String::from_utf8_lossy(&data[..k]).into_owned(),
                        String::from_utf8_lossy(&data[k..k + v]).into_owned(),
                    ));
                }
                rest = &data[k + v..];
            }
            Ok(pairs)
        }
    }
}

/// What the function's reply body is: it decides the Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Text,
    Json,
}

impl BodyType {
    pub fn content_type(self) -> &'static str {
        match self {
            BodyType::Text => "text/plain; charset=utf-8",
            BodyType::Json => "application/json",
        }
    }
}

/// A frame an adapter writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Ready {
        version: u32,
        encoding: Encoding,
        info: String,
    },
    Reply {
        id: String,
        status: u16,
        body_type: BodyType,
        body: Vec<u8>,
    },
    Error {
        id: String,
        code: u16,
        message: String,
    },
    /// Version 2: the function returned a response; `head` is its headers in the adapter's encoding.
    Response {
        id: String,
        status: u16,
        head: Vec<u8>,
        body: Vec<u8>,
    },
    /// Version 2: the function returned nothing.
    NoResponse { id: String },
    /// Version 2: one `context.log` / `context.error` line.
    Log {
        id: String,
        stream: LogStream,
        line: Vec<u8>,
    },
}

/// Which file a `LOG` line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Log,
    Error,
}

/// Why reading a frame failed. Every variant but `Io` means the adapter broke the protocol.
#[derive(Debug)]
pub enum ProtocolError {
    /// End of stream before any byte of a frame.
    Eof,
    /// End of stream inside a frame.
    Truncated,
    HeaderTooLong,
    BadHeader(String),
    BodyTooLarge {
        len: u64,
        limit: usize,
    },
    Io(io::Error),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Eof => write!(f, "the adapter closed its stdout"),
            ProtocolError::Truncated => write!(f, "stdout ended in the middle of a frame"),
            ProtocolError::HeaderTooLong => {
                write!(f, "a frame header is longer than {MAX_HEADER} bytes")
            }
            ProtocolError::BadHeader(why) => write!(f, "{why}"),
            ProtocolError::BodyTooLarge { len, limit } => write!(
                f,
                "a frame body of {len} bytes is over the limit of {limit} bytes"
            ),
            ProtocolError::Io(e) => write!(f, "reading stdout failed: {e}"),
        }
    }
}

/// What a frame reader buffers: small, since every idle adapter holds one (it is most of an idle shim's heap).
const READ_BUFFER: usize = 16 * 1024;

/// Reads frames from an adapter's stdout, with a header limit and a body limit.
pub struct FrameReader<R> {
    inner: BufReader<R>,
    max_body: usize,
    version: u32,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, max_body: usize) -> Self {
        FrameReader {
            // Headers and small frames; a body bigger than this is read straight into its own buffer.
            inner: BufReader::with_capacity(READ_BUFFER, inner),
            max_body,
            version: VERSION,
        }
    }

    /// Reads the frames of another protocol version from now on (after a `READY` that announced it).
    pub fn set_version(&mut self, version: u32) {
        self.version = version;
    }

    /// Ready once stdout has bytes or reaches EOF, consuming nothing: `Ok(true)` when bytes wait. While it is
    /// pending, `cx`'s waker is the one woken when output comes, whoever polls the frames later for a reply
    /// taking it over; the pool registers an idle adapter's supervisor this way, to notice an adapter that
    /// writes while it has no request without a wakeup per execution.
    pub fn poll_output(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<bool>> {
        std::pin::Pin::new(&mut self.inner)
            .poll_fill_buf(cx)
            .map_ok(|buf| !buf.is_empty())
    }

    /// Waits until stdout has bytes or reaches EOF, consuming nothing: `Ok(true)` when bytes wait. Safe to
    /// cancel.
    pub async fn has_output(&mut self) -> io::Result<bool> {
        std::future::poll_fn(|cx| self.poll_output(cx)).await
    }

    /// Reads one whole frame. Not cancel-safe: a cancelled read leaves the stream mid-frame, so the caller
    /// must discard the adapter, which the pool always does.
    pub async fn read_frame(&mut self) -> Result<Frame, ProtocolError> {
        let line = self.read_header().await?;
        let (header, len) = parse_header(&line, self.version)?;
        if len > self.max_body as u64 {
            return Err(ProtocolError::BodyTooLarge {
                len,
                limit: self.max_body,
            });
        }
        // A version-2 reply is read as its two parts, so the body is never moved to drop the headers.
        let split = match header {
            Header::Response(_, _, meta) if meta > len => {
                return Err(bad(&line, "the headers' length is past the frame's length"));
            }
            Header::Response(_, _, meta) => meta as usize,
            _ => 0,
        };
        let mut head = vec![0u8; split];
        let mut body = vec![0u8; len as usize - split];
        for part in [&mut head, &mut body] {
            self.inner.read_exact(part).await.map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    ProtocolError::Truncated
                } else {
                    ProtocolError::Io(e)
                }
            })?;
        }
        header.into_frame(head, body)
    }

    async fn read_header(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let mut line = Vec::with_capacity(64);
        loop {
            let buf = self.inner.fill_buf().await.map_err(ProtocolError::Io)?;
            if buf.is_empty() {
                return Err(if line.is_empty() {
                    ProtocolError::Eof
                } else {
                    ProtocolError::Truncated
                });
            }
            let room = MAX_HEADER - line.len();
            if let Some(i) = buf.iter().take(room).position(|&b| b == b'\n') {
                line.extend_from_slice(&buf[..i]);
                self.inner.consume(i + 1);
                return Ok(line);
            }
            if buf.len() >= room {
                return Err(ProtocolError::HeaderTooLong);
            }
            let n = buf.len();
            line.extend_from_slice(buf);
            self.inner.consume(n);
        }
    }
}

/// A parsed header line, waiting for its body.
enum Header<'a> {
    Ready(u32, Encoding),
    Reply(&'a str, u16, BodyType),
    Error(&'a str, u16),
    Response(&'a str, u16, u64),
    NoResponse(&'a str),
    Log(&'a str, LogStream),
}

impl Header<'_> {
    fn into_frame(self, head: Vec<u8>, body: Vec<u8>) -> Result<Frame, ProtocolError> {
        Ok(match self {
            Header::Ready(version, encoding) => Frame::Ready {
                version,
                encoding,
                info: String::from_utf8_lossy(&body).into_owned(),
            },
            Header::Reply(id, status, body_type) => Frame::Reply {
                id: id.to_string(),
                status,
                body_type,
                body,
            },
            Header::Error(id, code) => Frame::Error {
                id: id.to_string(),
                code,
                message: String::from_utf8_lossy(&body).into_owned(),
            },
            Header::Response(id, status, _) => Frame::Response {
                id: id.to_string(),
                status,
                head,
                body,
            },
            Header::NoResponse(id) => Frame::NoResponse { id: id.to_string() },
            Header::Log(id, stream) => Frame::Log {
                id: id.to_string(),
                stream,
                line: body,
            },
        })
    }
}

fn bad(line: &[u8], why: &str) -> ProtocolError {
    ProtocolError::BadHeader(format!("{why}: {}", quote(line)))
}

/// Parses a header line (without its `\n`) into its kind and body length; `version` decides the shape of `RES`
/// and whether the version-2 kinds exist.
fn parse_header(line: &[u8], version: u32) -> Result<(Header<'_>, u64), ProtocolError> {
    let text = std::str::from_utf8(line)
        .ok()
        .filter(|t| t.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .ok_or_else(|| bad(line, "expected a frame header, got non-ASCII bytes"))?;
    let tokens: Vec<&str> = text.split(' ').collect();
    let number = |s: &str| -> Result<u64, ProtocolError> {
        let canonical = !s.is_empty()
            && s.len() <= 19
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if canonical {
            Ok(s.parse().expect("checked digits"))
        } else {
            Err(bad(line, "expected a decimal number in the frame header"))
        }
    };
    let status = |s: &str| -> Result<u16, ProtocolError> {
        number(s)?
            .try_into()
            .map_err(|_| bad(line, "status out of range"))
    };
    let header = match tokens.as_slice() {
        ["READY", version, encoding, _] => {
            let encoding = match *encoding {
                "json" => Encoding::Json,
                "kv" => Encoding::Kv,
                _ => return Err(bad(line, "unknown request encoding in READY")),
            };
            let version = number(version)?
                .try_into()
                .map_err(|_| bad(line, "version out of range"))?;
            Header::Ready(version, encoding)
        }
        ["RES", id, code, meta, _] if version >= VERSION_2 => {
            Header::Response(valid_id(id, line)?, status(code)?, number(meta)?)
        }
        ["NONE", id, _] if version >= VERSION_2 => Header::NoResponse(valid_id(id, line)?),
        // Under version 1 too: a line of an execution that is over, printed while another runs, is logged under
        // the execution that printed it.
        ["LOG", id, stream, _] => {
            let stream = match *stream {
                "log" => LogStream::Log,
                "error" => LogStream::Error,
                _ => return Err(bad(line, "unknown log stream (expected log or error)")),
            };
            Header::Log(valid_id(id, line)?, stream)
        }
        ["RES", id, code, kind, _] => {
            let body_type = match *kind {
                "text" => BodyType::Text,
                "json" => BodyType::Json,
                _ => return Err(bad(line, "unknown reply type (expected text or json)")),
            };
            Header::Reply(valid_id(id, line)?, status(code)?, body_type)
        }
        ["ERR", id, code, _] => Header::Error(valid_id(id, line)?, status(code)?),
        [kind, ..] if ["READY", "RES", "ERR", "LOG"].contains(kind) => {
            return Err(bad(line, "wrong number of fields in frame header"));
        }
        [kind, ..] if version >= VERSION_2 && kind == &"NONE" => {
            return Err(bad(line, "wrong number of fields in frame header"));
        }
        _ if version >= VERSION_2 => {
            return Err(bad(
                line,
                "expected a frame header (READY, RES, ERR, NONE or LOG)",
            ));
        }
        _ => {
            return Err(bad(
                line,
                "expected a frame header (READY, RES, ERR or LOG)",
            ));
        }
    };
    let len = number(tokens.last().expect("a matched header has tokens"))?;
    Ok((header, len))
}

fn valid_id<'a>(id: &'a str, line: &[u8]) -> Result<&'a str, ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(bad(line, "invalid request id in frame header"))
    }
}

/// The start of some bytes, printable, for error messages.
pub fn quote(bytes: &[u8]) -> String {
    const SHOWN: usize = 60;
    let mut s: String = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)])
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    if bytes.len() > SHOWN {
        s.push('…');
    }
    format!("\"{s}\"")
}

/// Reads log lines (an adapter's stderr): each call yields up to [`MAX_LOG_LINE`] bytes ending at a newline,
/// the newline removed; `None` at EOF.
pub async fn read_log_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        let room = MAX_LOG_LINE - line.len();
        let window = &buf[..buf.len().min(room)];
        if let Some(i) = window.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&window[..i]);
            reader.consume(i + 1);
            return Ok(Some(line));
        }
        let n = window.len();
        line.extend_from_slice(window);
        reader.consume(n);
        if line.len() >= MAX_LOG_LINE {
            return Ok(Some(line));
        }
    }
}

/// Splits an adapter's stderr into log lines, as [`read_log_line`] does, from bytes pushed as they arrive: a
/// line ends at a newline (removed) or after [`MAX_LOG_LINE`] bytes. Lets the reader take whatever is in the
/// pipe without waiting, which is how the shim collects an execution's output before it answers.
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; `emit` gets each completed line.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            let room = MAX_LOG_LINE - self.pending.len();
            let window = &data[..data.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.emit_with(&window[..i], emit);
                    data = &data[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(window);
                    data = &data[window.len()..];
                    if self.pending.len() >= MAX_LOG_LINE {
                        emit(&self.pending);
                        self.pending.clear();
                    }
                }
            }
        }
    }

    /// Emits a partial line, if any (end of stream, or the end of an execution's output).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.pending);
            self.pending.clear();
        }
    }

    fn emit_with(&mut self, tail: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.pending.is_empty() {
            emit(tail);
        } else {
            self.pending.extend_from_slice(tail);
            emit(&self.pending);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max_body: usize) -> Vec<Result<Frame, String>> {
        let mut reader = FrameReader::new(input, max_body);
        let mut out = vec![];
        loop {
            match reader.read_frame().await {
                Err(ProtocolError::Eof) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
                Ok(f) => out.push(Ok(f)),
            }
        }
    }

    #[tokio::test]
    async fn reads_a_conversation() {
        let input = b"READY 1 json 6\npy 3.1RES 7 201 text 4\nh\0\xffoERR 8 404 4\nnope";
        let frames = read_all(input, 1024).await;
        assert_eq!(
            frames,
            vec![
                Ok(Frame::Ready {
                    version: 1,
                    encoding: Encoding::Json,
                    info: "py 3.1".into()
                }),
                Ok(Frame::Reply {
                    id: "7".into(),
                    status: 201,
                    body_type: BodyType::Text,
                    body: b"h\0\xffo".to_vec()
                }),
                Ok(Frame::Error {
                    id: "8".into(),
                    code: 404,
                    message: "nope".into()
                }),
            ]
        );
    }

    #[tokio::test]
    async fn rejects_what_is_not_a_frame() {
        for (input, expect) in [
            (&b"hello world\n"[..], "expected a frame header"),
            (b"RES 1 200 html 0\n", "unknown reply type"),
            (b"RES 1 200 text\n", "wrong number of fields"),
            (b"RES 1 200 text 01\nx", "decimal number"),
            (b"RES 1 200 text -1\n", "decimal number"),
            (b"RES 1 99999 text 0\n", "status out of range"),
            (b"RES a/b 200 text 0\n", "invalid request id"),
            (b"RES 1  200 text 0\n", "wrong number of fields"),
            (b"READY 1 xml 0\n", "unknown request encoding"),
            // 2^32 + 1: cut to a u32 it would read as version 1.
            (b"READY 4294967297 json 0\n", "version out of range"),
            (b"RES 1 200 text 10\nshort", "middle of a frame"),
            (b"RES 1 200 te", "middle of a frame"),
            (b"RES 1 200 text 2000\n", "over the limit of 1024"),
            (b"\xe2\x9c\x93 1\n", "non-ASCII"),
        ] {
            let frames = read_all(input, 1024).await;
            match frames.last() {
                Some(Err(e)) => assert!(e.contains(expect), "{input:?}: {e}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn version_1_accepts_log_frames_but_not_the_other_version_2_frames() {
        let frames = read_all(b"READY 1 json 0\nLOG 5 log 3\nabcNONE 5 0\n", 1024).await;
        assert!(
            matches!(&frames[1], Ok(Frame::Log { id, line, .. }) if id == "5" && line == b"abc"),
            "{frames:?}"
        );
        assert!(
            matches!(&frames[2], Err(e) if e.contains("expected a frame header (READY, RES, ERR or LOG)"))
        );
    }

    #[tokio::test]
    async fn header_length_is_bounded() {
        let mut long = vec![b'x'; MAX_HEADER - 1];
        long.push(b'\n');
        // 255 bytes plus the newline fit; the content is still garbage.
        let frames = read_all(&long, 1024).await;
        assert!(matches!(&frames[0], Err(e) if e.contains("expected a frame header")));
        let endless = vec![b'x'; 10_000];
        let frames = read_all(&endless, 1024).await;
        assert!(matches!(&frames[0], Err(e) if e.contains("longer than 256")));
    }

    #[tokio::test]
    async fn log_lines_are_split_at_the_limit() {
        let mut input = vec![b'a'; MAX_LOG_LINE + 10];
        input.extend_from_slice(b"\nlast");
        let mut reader = BufReader::new(&input[..]);
        let first = read_log_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(first.len(), MAX_LOG_LINE);
        let second = read_log_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(second, vec![b'a'; 10]);
        let third = read_log_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(third, b"last");
        assert!(read_log_line(&mut reader).await.unwrap().is_none());
    }

    #[test]
    fn decimals_are_what_format_writes() {
        for n in [0, 7, 10, 99, 1_000, 1_764_000_000_123, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
        assert_eq!(frame_header("ab", &[3, 0]), b"REQ ab 3 0\n");
    }

    fn exec() -> Execution {
        let mut env = Map::new();
        env.insert("A".into(), Value::String("1".into()));
        let mut headers = Map::new();
        headers.insert("x-h".into(), Value::String("v é".into()));
        Execution {
            path: "/usr/code".into(),
            file: "index.py".into(),
            env,
            payload: "pay\nload".into(),
            headers,
            timeout: Duration::from_millis(1500),
        }
    }

    #[test]
    fn encodes_json_requests() {
        let r = encode_request(Encoding::Json, "42", &exec(), 99);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.header, format!("REQ 42 {}\n", r.body.len()).into_bytes());
        assert_eq!(body["payload"], "pay\nload");
        assert_eq!(body["env"]["A"], "1");
        assert_eq!(body["headers"]["x-h"], "v é");
        assert_eq!(body["timeout_ms"], 1500);
        assert_eq!(body["deadline_ms"], 99);
    }

    #[test]
    fn encodes_kv_requests() {
        let r = encode_request(Encoding::Kv, "1", &exec(), 7);
        let expected = "path 0 9\n/usr/codefile 0 8\nindex.pypayload 0 8\npay\nloadtimeout_ms 0 4\n1500\
                        deadline_ms 0 1\n7env 1 1\nA1header 3 4\nx-hv é";
        assert_eq!(String::from_utf8(r.body).unwrap(), expected);
    }
}
