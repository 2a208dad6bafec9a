//! The open-runtimes v5 contract (Appwrite 1.7+, the open-runtimes executor): any method and path is an
//! execution with a raw body; `x-open-runtimes-*` headers carry the timeout, the secret and the logging
//! choice; the function's logs go to two files per execution; `/__opr/health` and `/__opr/timings` answer
//! without a secret. Every rule of the contract that needs no language is here, once: header filtering and
//! merging, URL parts, the reply's header rules, log truncation and files. Adapters only build `context`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::auth;
use crate::config::Config;
use crate::error::{ERROR_KIND_HEADER, ShimError};
use crate::handler::{self, AppState, Trace};
use crate::pool::{Done, ExecLogs, Reply};
use crate::protocol::{HttpExecution, LogStream, Work};

pub const TIMEOUT_HEADER: &str = "x-open-runtimes-timeout";
pub const SECRET_HEADER: &str = "x-open-runtimes-secret";
pub const LOGGING_HEADER: &str = "x-open-runtimes-logging";
pub const LOG_ID_HEADER: &str = "x-open-runtimes-log-id";
/// Headers of this prefix are the executor's: the function never sees them, and cannot send them.
pub const RESERVED_PREFIX: &str = "x-open-runtimes-";

/// What the executor's start script waits for on stdout.
pub const STARTED_LINE: &str = "HTTP server successfully started!";

/// A log line is cut at this many characters, and this is appended.
pub const MAX_LOG_CHARS: usize = 8000;
pub const TRUNCATED_SUFFIX: &str = "... Log truncated due to size limit (8000 characters)";
pub const NATIVE_LOGS_LINE: &str =
    "Native logs detected. Use context.log() or context.error() for better experience.";
pub const TIMED_OUT_LINE: &str = "Execution timed out.";

/// How long an execution's answer waits for its log files to be written; past it, the answer goes and the
/// writing goes on (a slow or hung disk never holds an execution).
const LOG_WRITE_LIMIT: Duration = Duration::from_secs(2);

/// The v5 pipeline: health and timings → timeout header → secret → logging → bounded body → execute →
/// the reply's rules, and the log files.
pub async fn pipeline<B>(
    state: &AppState,
    req: Request<B>,
    trace: &mut Trace,
) -> Result<Response<Full<Bytes>>, ShimError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let config = &state.config;
    // 1. The executor's and the operator's paths: no secret.
    match req.uri().path() {
        "/__opr/health" => return Ok(text(StatusCode::OK, Bytes::from_static(b"OK"))),
        "/__opr/timings" => return Ok(timings(&config.v5.telemetry_dir).await),
        _ => {}
    }
    if let Some(response) = handler::health(state, &req) {
        return response;
    }
    // 2–4. Timeout, secret, logging: the order of the reference servers.
    let timeout = timeout(req.headers(), config)?;
    check_secret(req.headers(), config)?;
    let log = LogTarget::choose(req.headers(), config)?;
    // 5. The body, bounded, then what `context.req` shows.
    let (parts, body) = req.into_parts();
    let body =
        handler::read_body(&parts.headers, body, config.max_body, config.read_timeout).await?;
    let exec = request(&parts, body, timeout, log.enabled(), config);
    // 6–7. Deadline and a worker.
    let Done { result, logs, .. } = match handler::execute(state, Work::Http(exec), trace).await {
        Ok(done) => done,
        // The worker did not answer by the deadline: the timeout, with its line in the errors log.
        Err(e @ ShimError::TimedOut(_)) => Done {
            result: Err(e),
            pid: None,
            logs: Some(ExecLogs::default()),
        },
        Err(e) => return Err(e),
    };
    // 8. The reply's rules; a reply HTTP cannot carry fails the execution.
    let result = result.and_then(reply);
    if let (Some(target), Some(logs)) = (log.files(&config.v5.logs_dir), logs) {
        let failure = result.as_ref().err().map(failure_line);
        write_logs(target, logs, failure).await;
    }
    let mut response = result.unwrap_or_else(|e| e.respond(config.contract));
    let id = HeaderValue::from_str(log.id()).expect("log ids are checked to be header-safe");
    response.headers_mut().insert(LOG_ID_HEADER, id);
    Ok(response)
}

fn text(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `/__opr/timings`: `timings.txt` of the telemetry folder as it is (empty when there is none yet).
async fn timings(dir: &Path) -> Response<Full<Bytes>> {
    let path = dir.join("timings.txt");
    let body = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    text(StatusCode::OK, Bytes::from(body))
}

/// `x-open-runtimes-timeout`: digits only, greater than 0; absent or empty, the default. Capped by the maximum.
fn timeout(headers: &HeaderMap, config: &Config) -> Result<Duration, ShimError> {
    let mut values = headers.get_all(TIMEOUT_HEADER).iter();
    let (value, more) = match (values.next(), values.next()) {
        (None, _) => return Ok(config.default_timeout),
        (Some(v), more) => (v, more.is_some()),
    };
    if more {
        return Err(ShimError::BadTimeoutHeader);
    }
    if value.is_empty() {
        return Ok(config.default_timeout);
    }
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ShimError::BadTimeoutHeader);
    }
    // Past what a u64 holds is past the cap anyway.
    let secs = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if secs == 0 {
        return Err(ShimError::BadTimeoutHeader);
    }
    Ok(Duration::from_secs(secs.min(config.max_timeout.as_secs().max(1))).min(config.max_timeout))
}

/// `x-open-runtimes-secret`, when the container has a secret: exactly one header, equal in constant time.
fn check_secret(headers: &HeaderMap, config: &Config) -> Result<(), ShimError> {
    let secret = config.key.expose();
    if secret.is_empty() {
        return Ok(());
    }
    let mut given = headers.get_all(SECRET_HEADER).iter();
    let given = match (given.next(), given.next()) {
        (Some(v), None) => Some(v.as_bytes()),
        _ => None,
    };
    if auth::key_matches(secret, given) {
        Ok(())
    } else {
        Err(ShimError::Unauthorized)
    }
}

/// Where an execution's logs go: its id, and whether they are written.
enum LogTarget {
    Enabled(String),
    Disabled,
}

impl LogTarget {
    fn choose(headers: &HeaderMap, config: &Config) -> Result<LogTarget, ShimError> {
        // Enabled when the header is absent, empty or `enabled`; any other value disables logging.
        let logging = headers.get(LOGGING_HEADER).map(HeaderValue::as_bytes);
        if !matches!(logging, None | Some(b"" | b"enabled")) {
            return Ok(LogTarget::Disabled);
        }
        let given = headers
            .get(LOG_ID_HEADER)
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty());
        let id = match given {
            Some(id) => valid_log_id(id)?,
            None if config.v5.development => "dev".to_string(),
            None => fresh_log_id(),
        };
        Ok(LogTarget::Enabled(id))
    }

    fn enabled(&self) -> bool {
        matches!(self, LogTarget::Enabled(_))
    }

    /// The value of the reply's `x-open-runtimes-log-id`: empty when logging is disabled.
    fn id(&self) -> &str {
        match self {
            LogTarget::Enabled(id) => id,
            LogTarget::Disabled => "",
        }
    }

    fn files(&self, dir: &Path) -> Option<(PathBuf, PathBuf)> {
        match self {
            LogTarget::Enabled(id) => Some((
                dir.join(format!("{id}_logs.log")),
                dir.join(format!("{id}_errors.log")),
            )),
            LogTarget::Disabled => None,
        }
    }
}

/// A caller's log id names two files: letters, digits, `.`, `_` and `-`, not starting with a dot, at most
/// 128 characters — so it can never leave the logs folder.
fn valid_log_id(id: &[u8]) -> Result<String, ShimError> {
    let ok = id.len() <= 128
        && id[0] != b'.'
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b));
    if ok {
        Ok(String::from_utf8(id.to_vec()).expect("checked ASCII"))
    } else {
        Err(ShimError::BadRequest(format!(
            "Header \"{LOG_ID_HEADER}\" must be at most 128 letters, digits, '.', '_' or '-', not \
             starting with '.'"
        )))
    }
}

/// A fresh log id: 20 lower-case hex characters in the shape of the executor's own ids — Unix seconds (8),
/// milliseconds (5), then 7 random — so ids sort by time.
fn fresh_log_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut id = format!("{:08x}{:05x}", now.as_secs() as u32, now.subsec_millis());
    id.push_str(&crate::config::random_hex(4)[..7]);
    id
}

/// What `context.req` shows, computed from the request once.
fn request(
    parts: &hyper::http::request::Parts,
    body: Bytes,
    timeout: Duration,
    collect_logs: bool,
    config: &Config,
) -> HttpExecution {
    let mut headers: Vec<(String, String)> = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, joined)) => {
                joined.push_str(if name == "cookie" { "; " } else { ", " });
                joined.push_str(&value);
            }
            None => headers.push((name.to_string(), value.into_owned())),
        }
    }
    for (name, value) in &config.v5.headers {
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.clone_from(value),
            None => headers.push((name.clone(), value.clone())),
        }
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let scheme = header("x-forwarded-proto")
        .map(|p| p.split(',').next().unwrap_or_default().trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "http".to_string());
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port) = split_host(&header("host").unwrap_or_default(), default_port);
    let path = parts.uri.path().to_string();
    let query_string = parts.uri.query().unwrap_or_default().to_string();
    let query = parse_query(&query_string);
    let mut url = format!("{scheme}://{host}");
    if port != default_port {
        let _ = write!(url, ":{port}");
    }
    url.push_str(&path);
    if !query_string.is_empty() {
        url.push('?');
        url.push_str(&query_string);
    }
    let json_body = header("content-type").is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    HttpExecution {
        method: parts.method.as_str().to_string(),
        scheme,
        host,
        port,
        path,
        query_string,
        query,
        url,
        headers,
        json_body,
        body,
        timeout,
        collect_logs,
    }
}

/// `example.com:8080` → (`example.com`, 8080); `[::1]:3000` → (`[::1]`, 3000); no port (or one that does not
/// parse) → the scheme's default.
fn split_host(host: &str, default_port: u16) -> (String, u16) {
    let host = host.trim();
    let (name, port) = match host.rfind(':') {
        // An IPv6 literal's colons are inside its brackets.
        Some(i) if !host[i..].contains(']') => (&host[..i], host[i + 1..].parse().ok()),
        _ => (host, None),
    };
    (name.to_string(), port.unwrap_or(default_port))
}

/// `a=1&b&=x&c=d=e` → a: 1, b: "", c: d=e (empty keys skipped; a repeated key keeps its last value).
fn parse_query(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in query.split('&') {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        if key.is_empty() {
            continue;
        }
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => pairs.push((key.to_string(), value.to_string())),
        }
    }
    pairs
}

/// Headers the function cannot set: the executor's own, and those that frame the connection (hyper sets them
/// from the body it sends).
fn dropped_reply_header(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
        || matches!(
            name,
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "upgrade"
                | "te"
                | "trailer"
        )
}

/// The reply's rules: names lower-cased, reserved and framing headers dropped, `content-type` defaulted to
/// `text/plain`, lower-cased and given a UTF-8 charset unless multipart or it names one; every repeated
/// header kept. A header HTTP cannot carry fails the execution, saying which.
fn reply(reply: Reply) -> Result<Response<Full<Bytes>>, ShimError> {
    let Reply::Http {
        status,
        headers,
        body,
    } = reply
    else {
        return Err(ShimError::Adapter(
            "the adapter answered in protocol version 1 under the v5 contract".into(),
        ));
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).expect("the pool checked the status range");
    let out = response.headers_mut();
    let mut content_type = None;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if dropped_reply_header(&name) {
            continue;
        }
        if name == "content-type" {
            content_type = Some(value);
            continue;
        }
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ShimError::FunctionFailed(format!(
                "The response header name {name:?} is not a valid HTTP header name."
            ))
        })?;
        // Bytes past ASCII (obs-text) are allowed, as HTTP allows them; control characters are not.
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
            ShimError::FunctionFailed(format!(
                "The value of the response header \"{name}\" cannot be sent over HTTP (it holds a \
                 control character or a newline)."
            ))
        })?;
        out.append(header, value);
    }
    let content_type = content_type_with_charset(content_type.as_deref().unwrap_or("text/plain"));
    let value = HeaderValue::from_bytes(content_type.as_bytes()).map_err(|_| {
        ShimError::FunctionFailed(
            "The value of the response header \"content-type\" cannot be sent over HTTP (it holds a \
             control character or a newline)."
                .into(),
        )
    })?;
    out.insert(CONTENT_TYPE, value);
    out.remove(ERROR_KIND_HEADER);
    Ok(response)
}

/// `text/html` → `text/html; charset=utf-8`; multipart types and types naming a charset stay as they are.
pub fn content_type_with_charset(value: &str) -> String {
    let lower = value.trim().to_ascii_lowercase();
    if lower.starts_with("multipart/") || lower.contains("charset=") {
        lower
    } else {
        format!("{lower}; charset=utf-8")
    }
}

/// The errors-log line of a failed execution.
fn failure_line(e: &ShimError) -> String {
    match e {
        ShimError::TimedOut(_) => TIMED_OUT_LINE.to_string(),
        other => other.message(),
    }
}

/// One log line as the files hold it: cut at [`MAX_LOG_CHARS`] characters, with the suffix.
pub fn truncate_line(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(MAX_LOG_CHARS) {
        None => text.into_owned(),
        Some((cut, _)) => format!("{}{TRUNCATED_SUFFIX}", &text[..cut]),
    }
}

/// The two files' contents: the `context.log` lines, then (once) the native-logs notice and what the code
/// printed; the `context.error` lines, then the failure.
fn render(logs: &ExecLogs, failure: Option<String>) -> (String, String) {
    let (mut out, mut err) = (String::new(), String::new());
    for (stream, line) in &logs.lines {
        let file = match stream {
            LogStream::Log => &mut out,
            LogStream::Error => &mut err,
        };
        file.push_str(&truncate_line(line));
        file.push('\n');
    }
    if !logs.native.is_empty() {
        out.push_str(NATIVE_LOGS_LINE);
        out.push('\n');
        for line in &logs.native {
            out.push_str(&truncate_line(line));
            out.push('\n');
        }
    }
    if logs.dropped > 0 {
        let _ = writeln!(
            err,
            "{} bytes of logs were dropped: one execution may log at most the reply limit.",
            logs.dropped
        );
    }
    if let Some(failure) = failure {
        err.push_str(&failure);
        err.push('\n');
    }
    (out, err)
}

/// Appends the execution's two files (both created, even when empty, so the executor always finds them) on a
/// blocking thread, waiting at most [`LOG_WRITE_LIMIT`]. A failure (a full or read-only disk, a missing
/// folder) is logged by the shim; the execution answers all the same.
async fn write_logs(files: (PathBuf, PathBuf), logs: ExecLogs, failure: Option<String>) {
    let (out, err) = render(&logs, failure);
    let write = tokio::task::spawn_blocking(move || {
        for (path, text) in [(files.0, out), (files.1, err)] {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            if let Err(e) = written {
                tracing::warn!(file = %path.display(), error = %e, "cannot write the execution's log file");
            }
        }
    });
    if tokio::time::timeout(LOG_WRITE_LIMIT, write).await.is_err() {
        tracing::warn!(
            "writing the execution's log files takes longer than {} s; answering without waiting",
            crate::error::format_seconds(LOG_WRITE_LIMIT)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_with_default_ports() {
        assert_eq!(split_host("example.com", 80), ("example.com".into(), 80));
        assert_eq!(
            split_host("example.com:8080", 80),
            ("example.com".into(), 8080)
        );
        assert_eq!(split_host("[::1]:3000", 443), ("[::1]".into(), 3000));
        assert_eq!(split_host("[::1]", 443), ("[::1]".into(), 443));
        assert_eq!(split_host("", 80), ("".into(), 80));
    }

    #[test]
    fn query_strings_split_like_the_references() {
        let q = parse_query("a=1&b&=x&c=d=e&&a=2");
        let want: Vec<(String, String)> = [("a", "2"), ("b", ""), ("c", "d=e")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(q, want);
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn content_types_get_a_charset() {
        assert_eq!(
            content_type_with_charset("text/plain"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type_with_charset("Text/HTML"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type_with_charset("application/json; charset=ISO-8859-1"),
            "application/json; charset=iso-8859-1"
        );
        assert_eq!(
            content_type_with_charset("multipart/form-data; boundary=x"),
            "multipart/form-data; boundary=x"
        );
    }

    #[test]
    fn lines_are_cut_at_8000_characters() {
        let short = "é".repeat(MAX_LOG_CHARS);
        assert_eq!(truncate_line(short.as_bytes()), short);
        let long = "é".repeat(MAX_LOG_CHARS + 1);
        let cut = truncate_line(long.as_bytes());
        assert_eq!(
            cut,
            format!("{}{TRUNCATED_SUFFIX}", "é".repeat(MAX_LOG_CHARS))
        );
    }

    #[test]
    fn log_ids_cannot_leave_the_folder() {
        for bad in [&b"../x"[..], b".hidden", b"a/b", b"a b", &[b'a'; 129]] {
            assert!(valid_log_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(valid_log_id(b"abc-1_2.3").unwrap(), "abc-1_2.3");
        let id = fresh_log_id();
        assert_eq!(id.len(), 20);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
