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
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::model::{self, truncate_line};
use crate::auth;
use crate::config::Config;
use crate::error::ShimError;
use crate::handler::{self, Answer, AppState, RequestBody, Trace};
use crate::pool::{Done, ExecLogs};
use crate::protocol::{LogStream, Work};

pub const TIMEOUT_HEADER: &str = "x-open-runtimes-timeout";
pub const SECRET_HEADER: &str = "x-open-runtimes-secret";
pub const LOGGING_HEADER: &str = "x-open-runtimes-logging";
pub const LOG_ID_HEADER: &str = "x-open-runtimes-log-id";
/// Headers of this prefix are the executor's: the function never sees them, and cannot send them.
pub const RESERVED_PREFIX: &str = "x-open-runtimes-";

/// What the executor's start script waits for on stdout.
pub const STARTED_LINE: &str = "HTTP server successfully started!";

pub const NATIVE_LOGS_LINE: &str =
    "Native logs detected. Use context.log() or context.error() for better experience.";
pub const TIMED_OUT_LINE: &str = "Execution timed out.";

/// How long an execution's answer waits for its log files to be written; past it, the answer goes and the
/// writing goes on (a slow or hung disk never holds an execution).
const LOG_WRITE_LIMIT: Duration = Duration::from_secs(2);

/// The v5 pipeline: health and timings → timeout header → secret → logging → bounded body → execute →
/// the reply's rules, and the log files.
pub async fn pipeline<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    trace: &mut Trace,
) -> Answer {
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
    let exec = model::request(
        &parts,
        body,
        timeout,
        log.enabled(),
        Some(RESERVED_PREFIX),
        &config.v5.headers,
    );
    // 6–7. Deadline and a worker.
    let Done { result, logs, .. } = handler::execute_logged(state, Work::Http(exec), trace).await?;
    // 8. The reply's rules; a reply HTTP cannot carry fails the execution.
    let result = result.and_then(|r| model::reply(r, Some(RESERVED_PREFIX)));
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
    if auth::one_header_matches(headers, SECRET_HEADER, secret) {
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

/// The errors-log line of a failed execution.
fn failure_line(e: &ShimError) -> String {
    match e {
        ShimError::TimedOut(_) => TIMED_OUT_LINE.to_string(),
        other => other.message(),
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
