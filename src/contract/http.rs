//! Plain HTTP functions, for platforms that route HTTP to a container and expect it to answer (Knative, Cloud
//! Run, Kubernetes, Fly, OpenFaaS's HTTP mode): v5's request model and `context` API, without an executor's
//! headers. The port is `PORT` when set; there is no secret unless `SHIM_SECRET` is set (then
//! `Authorization: Bearer <secret>`); timeouts come from configuration; the function's log lines are JSON lines
//! on stdout, each with the execution's id, which the reply carries as `x-shim-execution-id`.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::mpsc;

use hyper::Request;
use hyper::header::HeaderValue;
use serde_json::json;

use super::model::{self, truncate_line};
use crate::auth;
use crate::error::ShimError;
use crate::handler::{self, Answer, AppState, RequestBody, Trace};
use crate::pool::{Done, ExecLogs};
use crate::protocol::{LogStream, Work};

/// The reply header naming the execution, for finding its log lines.
pub const EXECUTION_ID_HEADER: &str = "x-shim-execution-id";

pub async fn pipeline<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    trace: &mut Trace,
) -> Answer {
    let config = &state.config;
    // 1. Probes: no secret.
    if let Some(response) = handler::health(state, &req) {
        return response;
    }
    // 2. The secret, when one is configured: exactly one `Authorization: Bearer <secret>`.
    let secret = config.key.expose();
    if !secret.is_empty() {
        let mut given = req.headers().get_all(hyper::header::AUTHORIZATION).iter();
        let token = match (given.next(), given.next()) {
            (Some(v), None) => v.as_bytes().strip_prefix(b"Bearer "),
            _ => None,
        };
        if !auth::key_matches(secret, token) {
            return Err(ShimError::Unauthorized);
        }
    }
    // 3. The body, bounded; then what `context.req` shows, every header as sent.
    let (parts, body) = req.into_parts();
    let body =
        handler::read_body(&parts.headers, body, config.max_body, config.read_timeout).await?;
    let exec = model::request(&parts, body, config.default_timeout, true, None, &[]);
    // 4. A worker, under the deadline.
    let Done { result, logs, .. } = handler::execute_logged(state, Work::Http(exec), trace).await?;
    let id = trace.id().unwrap_or_default().to_string();
    let result = result.and_then(|r| model::reply(r, None));
    if let Some(logs) = logs {
        log_lines(&id, &logs, result.as_ref().err());
    }
    let mut response = result.unwrap_or_else(|e| e.respond(config.contract));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(EXECUTION_ID_HEADER, v);
    }
    Ok(response)
}

/// One JSON line per log line on stdout: `{"execution": id, "stream": "log" | "error" | "native", "message": …}`,
/// and the failure, if any, as an `error` line.
fn log_lines(id: &str, logs: &ExecLogs, failure: Option<&ShimError>) {
    let mut out = String::new();
    let mut line = |stream: &str, message: &str| {
        out.push_str(&json!({"execution": id, "stream": stream, "message": message}).to_string());
        out.push('\n');
    };
    for (stream, text) in &logs.lines {
        let stream = match stream {
            LogStream::Log => "log",
            LogStream::Error => "error",
        };
        line(stream, &truncate_line(text));
    }
    for text in &logs.native {
        line("native", &truncate_line(text));
    }
    if logs.dropped > 0 {
        line(
            "error",
            &format!(
                "{} bytes of logs were dropped: one execution may log at most the reply limit.",
                logs.dropped
            ),
        );
    }
    if let Some(e) = failure {
        line("error", &e.message());
    }
    if !out.is_empty() {
        stdout_writer(out);
    }
}

/// Hands text to the one thread that writes stdout, so a slow reader of the container's output (a full
/// pipe) never holds an execution; when it is that far behind, the lines are counted and said to be lost.
fn stdout_writer(text: String) {
    static WRITER: OnceLock<mpsc::SyncSender<String>> = OnceLock::new();
    let tx = WRITER.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<String>(4096);
        std::thread::spawn(move || {
            for text in rx {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
        });
        tx
    });
    if tx.try_send(text).is_err() {
        tracing::warn!("stdout is not being read: an execution's log lines were dropped");
    }
}
