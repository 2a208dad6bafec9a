//! The shim as the `bootstrap` of an AWS Lambda custom runtime (`SHIM_PROTOCOL=lambda`). There is no server:
//! the shim long-polls the Runtime API (`$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next`) for an
//! event, runs it through the same pool and deadline as an HTTP execution, and posts the reply body to
//! `…/invocation/<id>/response` or the failure to `…/invocation/<id>/error`. An adapter that cannot start is
//! reported to `…/init/error`, and the shim exits 1.
//!
//! The function sees v5's `context` (adapter protocol 2): the event is `context.req.body` (`POST /`, JSON
//! content type), and the invocation's `lambda-runtime-*` headers (request id, function ARN, trace id,
//! deadline, client context, Cognito identity) are in `context.req.headers`. Only the returned body goes back;
//! the reply's status and headers have nowhere to go in Lambda. Logs — `context.log`, `context.error`, and what
//! the code prints — go to the shim's stdout and stderr, which Lambda sends to CloudWatch.
//!
//! The client is hyper's own `client::conn::http1` over a tokio `TcpStream`, one keep-alive connection to the
//! Runtime API, reopened when it drops: the API is plain HTTP/1.1 on the sandbox's loopback, so a pooled
//! client (hyper-util's `client-legacy`, with its connector and pool machinery) would add code and size for
//! nothing.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Write as _;

use crate::error::ShimError;
use crate::handler::{self, AppState, Trace};
use crate::pool::{Done, ExecLogs, Reply};
use crate::protocol::{HttpExecution, LogStream, Work};

/// Set by Lambda for the bootstrap: the Runtime API's `host:port`.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";
/// The Runtime API's version prefix.
const API_VERSION: &str = "/2018-06-01/runtime";

pub const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";
pub const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
pub const FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";
pub const TRACE_ID_HEADER: &str = "lambda-runtime-trace-id";
/// The invocation's headers of this prefix reach the function, in `context.req.headers`.
pub const FORWARDED_PREFIX: &str = "lambda-runtime-";
pub const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// Below this, `Lambda-Runtime-Deadline-Ms` cannot be a Unix time in milliseconds (it would be before 1973):
/// it is read as a duration. cargo-lambda's emulator sends a fixed `600000` (ten minutes from now); AWS sends
/// the deadline as Unix milliseconds.
const RELATIVE_DEADLINE_BELOW: u64 = 100_000_000_000;

/// Where the Runtime API is. AWS gives `host:port`; cargo-lambda's emulator gives a URL with a path prefix
/// (`http://127.0.0.1:9000/.rt`). Both are taken; https is not (the API is plain HTTP on loopback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApi {
    /// `host:port`, for the connection and the `Host` header.
    pub authority: String,
    /// A path before `/2018-06-01/runtime` (empty on AWS), without a trailing `/`.
    pub prefix: String,
}

impl RuntimeApi {
    pub fn parse(value: &str) -> Result<RuntimeApi, String> {
        let value = value.trim();
        let rest = match value.split_once("://") {
            None => value,
            Some(("http", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "must be host:port or an http:// URL, not {scheme}://"
                ));
            }
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let port_ok = authority
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok || authority.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(
                "must be host:port (such as 127.0.0.1:9001) or an http:// URL with one".into(),
            );
        }
        Ok(RuntimeApi {
            authority: authority.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The request target of a Runtime API path (`/invocation/next`).
    fn target(&self, path: &str) -> String {
        format!("{}{API_VERSION}{path}", self.prefix)
    }
}

/// A Runtime API answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Result<Bytes, String>,
}

/// One keep-alive HTTP/1.1 connection to the Runtime API, opened on first use and again after it drops.
struct Client {
    api: RuntimeApi,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(&self.api.authority)
            .await
            .map_err(|e| {
                format!(
                    "cannot connect to the Runtime API at {}: {e}",
                    self.api.authority
                )
            })?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with the Runtime API failed: {e}"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "the Runtime API connection ended");
            }
        });
        Ok(sender)
    }

    /// Sends one request; a kept connection that turns out to be closed is reopened once. The body is read up
    /// to `limit` bytes (past it, the answer's `body` is the error).
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        limit: usize,
    ) -> Result<Answer, String> {
        let target = self.api.target(path);
        let mut last_error = String::new();
        for attempt in 0..2 {
            let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
            let mut sender = match self.sender.take().filter(|s| !s.is_closed()) {
                Some(s) => s,
                None => self.connect().await?,
            };
            let mut request = Request::builder()
                .method(method.clone())
                .uri(&target)
                .header(HOST, &self.api.authority)
                .body(Full::new(body.clone()))
                .map_err(|e| format!("cannot build the request for {target}: {e}"))?;
            for (name, value) in headers {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(request).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(response) => {
                    let (parts, incoming) = response.into_parts();
                    let body = Limited::new(incoming, limit)
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .map_err(
                            |e| match e.downcast_ref::<http_body_util::LengthLimitError>() {
                                Some(_) => format!("it is larger than the limit of {limit} bytes"),
                                None => format!("reading it failed: {e}"),
                            },
                        );
                    if body.is_ok() {
                        self.sender = Some(sender);
                    }
                    return Ok(Answer {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                    });
                }
                // A kept connection the API closed meanwhile: once more on a fresh one.
                Err(e) if reused && attempt == 0 => last_error = e.to_string(),
                Err(e) => return Err(format!("{method} {target} failed: {e}")),
            }
        }
        Err(format!("{method} {target} failed: {last_error}"))
    }

    /// Posts a reply or an error; a refusal (not 2xx) is the error.
    async fn post(
        &mut self,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<(), String> {
        let answer = self
            .send(Method::POST, path, headers, body, 64 * 1024)
            .await?;
        if answer.status.is_success() {
            return Ok(());
        }
        let said = answer.body.unwrap_or_default();
        Err(format!(
            "the Runtime API answered POST {path} with {}: {}",
            answer.status,
            String::from_utf8_lossy(&said[..said.len().min(500)])
        ))
    }
}

/// The poll loop, until `shutdown` completes (between invocations; one that is running finishes first, bounded
/// by its deadline). `Err` when the adapter could not start (after posting the init error) or the Runtime API
/// broke: Lambda then starts a fresh sandbox.
pub async fn run(state: Arc<AppState>, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let api = state
        .config
        .runtime_api
        .clone()
        .ok_or("the lambda contract needs AWS_LAMBDA_RUNTIME_API")?;
    let mut client = Client {
        api: api.clone(),
        sender: None,
    };
    tracing::info!(
        runtime_api = %api.authority,
        prefix = %api.prefix,
        adapter = %state.config.launch.name,
        entrypoint = state.config.entrypoint.as_deref().unwrap_or_default(),
        pid1 = crate::process::is_init(),
        "lambda: waiting for the adapter"
    );
    if let Err(why) = state.pool.first_start().await {
        let why = format!("the adapter failed to start: {why}");
        let (_, body) = error_body("Runtime.AdapterStartFailed", &why);
        let posted = client
            .post(
                "/init/error",
                &error_headers("Runtime.AdapterStartFailed"),
                body,
            )
            .await;
        state.pool.shutdown().await;
        return Err(match posted {
            Ok(()) => format!("{why} (reported to the Runtime API as an init error)"),
            Err(e) => format!("{why}; reporting it failed too: {e}"),
        });
    }
    tracing::info!("lambda: polling for invocations");
    tokio::pin!(shutdown);
    let result = loop {
        let next = tokio::select! {
            next = client.send(Method::GET, "/invocation/next", &[], Bytes::new(), state.config.max_body) => next,
            _ = &mut shutdown => break Ok(()),
        };
        let answer = match next {
            Ok(a) if a.status == StatusCode::OK => a,
            Ok(a) => {
                break Err(format!(
                    "the Runtime API answered GET /invocation/next with {}",
                    a.status
                ));
            }
            Err(e) => break Err(e),
        };
        if let Err(e) = invoke(&state, &mut client, answer).await {
            break Err(e);
        }
    };
    state.pool.shutdown().await;
    tracing::info!("stopped");
    result
}

/// Runs one invocation and posts its outcome.
async fn invoke(state: &AppState, client: &mut Client, next: Answer) -> Result<(), String> {
    let started = std::time::Instant::now();
    let request_id = next
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
        .map(str::to_string)
        .ok_or("the Runtime API sent an event without a usable Lambda-Runtime-Aws-Request-Id")?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let deadline = next
        .headers
        .get(DEADLINE_HEADER)
        .and_then(|v| v.to_str().ok());
    let timeout = timeout(
        deadline,
        now_ms,
        state.config.default_timeout,
        state.config.max_timeout,
    );
    let mut trace = Trace::default();
    let outcome = match next.body {
        Err(e) => Err(ShimError::BadRequest(format!(
            "the event could not be read: {e}"
        ))),
        Ok(event) => {
            let work = Work::Http(execution(&next.headers, event, timeout));
            match handler::execute(state, work, &mut trace).await {
                Ok(Done { result, logs, .. }) => {
                    if let Some(logs) = logs {
                        emit(&logs);
                    }
                    result
                }
                Err(e) => Err(e),
            }
        }
    };
    let (posted, error) = match outcome.and_then(reply) {
        Ok((content_type, body)) => {
            let headers: Vec<(HeaderName, HeaderValue)> = content_type
                .and_then(|t| HeaderValue::from_str(&t).ok())
                .map(|v| (CONTENT_TYPE, v))
                .into_iter()
                .collect();
            let path = format!("/invocation/{request_id}/response");
            (client.post(&path, &headers, body).await, None)
        }
        Err(e) => {
            let error_type = error_type(&e);
            let (_, body) = error_body(&error_type, &e.message());
            let path = format!("/invocation/{request_id}/error");
            let posted = client.post(&path, &error_headers(&error_type), body).await;
            (posted, Some(e.kind()))
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        req = %trace.id().unwrap_or("-"),
        request_id = %request_id,
        duration_ms = format_args!("{ms:.2}"),
        pid = trace.pid(),
        error,
        "invocation"
    );
    // A refused reply (too large, or the invocation already over) is logged; the sandbox goes on.
    if let Err(e) = posted {
        tracing::warn!(request_id = %request_id, "{e}");
    }
    Ok(())
}

/// The invocation as an HTTP execution: `POST /`, the event as a JSON body, the `lambda-runtime-*` headers.
fn execution(headers: &HeaderMap, event: Bytes, timeout: Duration) -> HttpExecution {
    let mut forwarded = vec![("content-type".to_string(), "application/json".to_string())];
    for (name, value) in headers {
        if name.as_str().starts_with(FORWARDED_PREFIX)
            && !forwarded.iter().any(|(n, _)| n == name.as_str())
        {
            forwarded.push((
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    HttpExecution {
        method: "POST".into(),
        scheme: "http".into(),
        host: "localhost".into(),
        port: 80,
        path: "/".into(),
        query_string: String::new(),
        query: Vec::new(),
        url: "http://localhost/".into(),
        headers: forwarded,
        json_body: true,
        body: event,
        timeout,
        collect_logs: true,
    }
}

/// The execution's time limit: until `Lambda-Runtime-Deadline-Ms` (Unix milliseconds; a small value is a
/// duration, as cargo-lambda sends), else the default; capped by the maximum; a deadline already past leaves
/// one millisecond, so the execution times out at once.
fn timeout(deadline: Option<&str>, now_ms: u64, default: Duration, max: Duration) -> Duration {
    let left = match deadline.and_then(|d| d.trim().parse::<u64>().ok()) {
        None => default,
        Some(ms) if ms < RELATIVE_DEADLINE_BELOW => Duration::from_millis(ms),
        Some(ms) => Duration::from_millis(ms.saturating_sub(now_ms)),
    };
    left.min(max).max(Duration::from_millis(1))
}

/// What is posted to `…/response`: the function's body, with its content type.
fn reply(reply: Reply) -> Result<(Option<String>, Bytes), ShimError> {
    match reply {
        Reply::Http { headers, body, .. } => {
            let content_type = headers
                .into_iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v);
            Ok((content_type, Bytes::from(body)))
        }
        Reply::V1 { .. } => Err(ShimError::Adapter(
            "the adapter answered in protocol version 1 under the lambda contract".into(),
        )),
    }
}

/// The function's log lines, where Lambda collects them: `context.log` and native output on stdout,
/// `context.error` on stderr.
fn emit(logs: &ExecLogs) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for (stream, line) in &logs.lines {
        let file = match stream {
            LogStream::Log => &mut out,
            LogStream::Error => &mut err,
        };
        file.extend_from_slice(line);
        file.push(b'\n');
    }
    for line in &logs.native {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    if logs.dropped > 0 {
        let _ = writeln!(
            err,
            "{} bytes of logs were dropped: one execution may log at most the reply limit.",
            logs.dropped
        );
    }
    if !out.is_empty() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
    }
    if !err.is_empty() {
        let _ = std::io::stderr().lock().write_all(&err);
    }
}

/// The `errorType` of a failed invocation: the exception's type for a throw (`ValueError`), Lambda's own
/// name for a timeout (`Sandbox.Timedout`), `Runtime.<Kind>` for what the shim saw (`Runtime.AdapterError`).
fn error_type(e: &ShimError) -> String {
    match e {
        ShimError::FunctionFailed(message) => thrown(message).0,
        ShimError::TimedOut(_) => "Sandbox.Timedout".into(),
        other => {
            let mut name = String::from("Runtime.");
            for word in other.kind().split('-') {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    name.extend(first.to_uppercase());
                    name.push_str(chars.as_str());
                }
            }
            name
        }
    }
}

/// The error's type and message from a language's error text: python's traceback ends with
/// `ValueError: boom`; node, ruby, php and the rest start with `Error: boom` or `RuntimeError: boom`.
fn thrown(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let headline = match lines.first() {
        None => return ("Error".into(), String::new()),
        Some(first) if first.starts_with("Traceback (most recent call last)") => {
            lines.last().copied().unwrap_or(first)
        }
        Some(first) => first,
    }
    .trim();
    let type_name = |t: &str| {
        !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.$:".contains(&b))
            && t.rsplit(['.', ':'])
                .next()
                .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_uppercase()))
    };
    match headline.split_once(": ") {
        Some((t, message)) if type_name(t) => (t.to_string(), message.to_string()),
        _ if type_name(headline) => (headline.to_string(), String::new()),
        _ => ("Error".into(), headline.to_string()),
    }
}

/// `{"errorMessage","errorType","stackTrace":[lines]}` for `…/error` and `…/init/error`.
fn error_body(error_type: &str, text: &str) -> (String, Bytes) {
    let message = if error_type.starts_with("Runtime.") || error_type.starts_with("Sandbox.") {
        text.lines().next().unwrap_or_default().to_string()
    } else {
        thrown(text).1
    };
    let body = serde_json::json!({
        "errorMessage": message,
        "errorType": error_type,
        "stackTrace": text.lines().collect::<Vec<_>>(),
    });
    (message, Bytes::from(body.to_string()))
}

fn error_headers(error_type: &str) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    if let Ok(v) = HeaderValue::from_str(error_type) {
        headers.push((HeaderName::from_static(ERROR_TYPE_HEADER), v));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_api_is_host_port_or_an_http_url() {
        let aws = RuntimeApi::parse("127.0.0.1:9001").unwrap();
        assert_eq!(aws.authority, "127.0.0.1:9001");
        assert_eq!(
            aws.target("/invocation/next"),
            "/2018-06-01/runtime/invocation/next"
        );
        let emulator = RuntimeApi::parse("http://127.0.0.1:9000/.rt/").unwrap();
        assert_eq!(emulator.authority, "127.0.0.1:9000");
        assert_eq!(
            emulator.target("/init/error"),
            "/.rt/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            RuntimeApi::parse("localhost:1").unwrap().authority,
            "localhost:1"
        );
        for bad in ["", "127.0.0.1", "https://x:1", "x:port", ":9001", "a b:1"] {
            assert!(RuntimeApi::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_deadline_is_unix_milliseconds_or_a_duration() {
        let (d, max) = (Duration::from_secs(900), Duration::from_secs(900));
        let now = 1_800_000_000_000;
        assert_eq!(
            timeout(Some("1800000003000"), now, d, max),
            Duration::from_secs(3)
        );
        assert_eq!(
            timeout(Some("600000"), now, d, max),
            Duration::from_secs(600)
        );
        assert_eq!(
            timeout(None, now, Duration::from_secs(7), max),
            Duration::from_secs(7)
        );
        assert_eq!(timeout(Some("x"), now, d, max), d);
        assert_eq!(
            timeout(Some("1700000000000"), now, d, max),
            Duration::from_millis(1),
            "already past"
        );
        assert_eq!(
            timeout(Some("600000"), now, d, Duration::from_secs(2)),
            Duration::from_secs(2),
            "capped"
        );
    }

    #[test]
    fn thrown_errors_give_their_type_and_message() {
        let python = "Traceback (most recent call last):\n  File \"main.py\", line 3, in main\n    raise \
                      ValueError('boom')\nValueError: boom\n";
        assert_eq!(thrown(python), ("ValueError".into(), "boom".into()));
        let node = "TypeError: x is not a function\n    at main (/var/task/index.js:2:3)";
        assert_eq!(
            thrown(node),
            ("TypeError".into(), "x is not a function".into())
        );
        assert_eq!(
            thrown("mod.CustomError: a: b"),
            ("mod.CustomError".into(), "a: b".into())
        );
        assert_eq!(thrown("KeyError"), ("KeyError".into(), String::new()));
        assert_eq!(
            thrown("something broke"),
            ("Error".into(), "something broke".into())
        );
        assert_eq!(
            thrown("oops: lower"),
            ("Error".into(), "oops: lower".into())
        );
        assert_eq!(thrown(""), ("Error".into(), String::new()));
    }

    #[test]
    fn errors_have_lambda_types_and_bodies() {
        assert_eq!(
            error_type(&ShimError::TimedOut(Duration::from_secs(1))),
            "Sandbox.Timedout"
        );
        assert_eq!(
            error_type(&ShimError::Adapter("x".into())),
            "Runtime.AdapterError"
        );
        assert_eq!(error_type(&ShimError::NoResponse), "Runtime.NoResponse");
        assert_eq!(
            error_type(&ShimError::FunctionFailed("RuntimeError: x".into())),
            "RuntimeError"
        );
        let (message, body) = error_body(
            "ValueError",
            "Traceback (most recent call last):\nValueError: boom",
        );
        assert_eq!(message, "boom");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorType"], "ValueError");
        assert_eq!(v["errorMessage"], "boom");
        assert_eq!(
            v["stackTrace"],
            serde_json::json!(["Traceback (most recent call last):", "ValueError: boom"])
        );
    }

    #[test]
    fn invocations_become_post_executions_with_the_lambda_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc"));
        headers.insert(TRACE_ID_HEADER, HeaderValue::from_static("Root=1"));
        headers.insert("vary", HeaderValue::from_static("origin"));
        let e = execution(&headers, Bytes::from_static(b"{}"), Duration::from_secs(1));
        assert_eq!(e.method, "POST");
        assert_eq!(e.path, "/");
        assert!(e.json_body);
        assert_eq!(
            e.headers,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                (REQUEST_ID_HEADER.to_string(), "abc".to_string()),
                (TRACE_ID_HEADER.to_string(), "Root=1".to_string()),
            ]
        );
    }
}
