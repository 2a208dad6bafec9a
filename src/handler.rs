//! The request pipeline, in order: health paths → auth → method → bounded body → decode → deadline →
//! invoke a worker → encode the reply. Each step may answer early with a [`ShimError`]; errors become responses
//! only in [`ShimError::respond`]. What differs between executor contracts (their paths, headers, bodies and
//! replies) is in [`crate::contract`]; the steps they share are here.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, Version};
use tokio::time::Instant;

use crate::config::Config;
use crate::contract::{Contract, http, v1, v2, v5};
use crate::error::ShimError;
use crate::pool::{Done, Pool};
use crate::protocol::Work;

pub use crate::contract::v1::{admit, decode};

/// A request body any contract's pipeline accepts: hyper's own, or a test's.
pub trait RequestBody: Body<Error: std::error::Error + Send + Sync + 'static> {}
impl<B: Body<Error: std::error::Error + Send + Sync + 'static>> RequestBody for B {}

/// What a contract's pipeline answers: the reply, or an error [`ShimError::respond`] turns into one.
pub type Answer = Result<Response<Full<Bytes>>, ShimError>;

/// What every request handler shares.
pub struct AppState {
    pub config: Config,
    pub pool: Pool,
    ids: Ids,
    /// Set on SIGTERM: `/_/ready` answers 503 while executions are still served.
    draining: AtomicBool,
}

impl AppState {
    pub fn new(config: Config, pool: Pool) -> Self {
        AppState {
            config,
            pool,
            ids: Ids::new(),
            draining: AtomicBool::new(false),
        }
    }

    /// From now on `/_/ready` answers 503 (`draining`), so a load balancer stops sending work here.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// Execution ids: 32 hex characters no one can guess from the ones before (a keyed SipHash of a counter, its
/// 128-bit key drawn from the kernel once per process), so code cannot forge a frame for another execution.
struct Ids {
    next: AtomicU64,
    keys: std::collections::hash_map::RandomState,
}

impl Ids {
    fn new() -> Self {
        Ids {
            next: AtomicU64::new(0),
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let half = |salt: u64| {
            let mut h = self.keys.build_hasher();
            h.write_u64(n);
            h.write_u64(salt);
            h.finish()
        };
        // 32 lower-case hex digits, written by hand: this is on every request.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(32);
        for word in [half(0), half(1)] {
            for shift in (0..16).rev() {
                id.push(HEX[(word >> (shift * 4)) as usize & 15] as char);
            }
        }
        id
    }
}

/// Facts for the request's log line.
#[derive(Default)]
pub struct Trace {
    id: Option<String>,
    pid: Option<i32>,
}

impl Trace {
    /// The execution id, once a worker was asked.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The adapter that ran it.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }
}

pub async fn handle(state: &AppState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let declared = req.body().size_hint().upper().unwrap_or(0) as usize;
    let version = req.version();
    let method = req.method().clone();
    // For the log line: a clone of the URI shares its bytes (no copy of the path per request).
    let uri = req.uri().clone();
    let path = uri.path();
    let mut trace = Trace::default();
    let contract = state.config.contract;
    let response = match contract {
        Contract::V1 => v1_pipeline(state, req, &mut trace).await,
        Contract::V5 => v5::pipeline(state, req, &mut trace).await,
        Contract::Http => http::pipeline(state, req, &mut trace).await,
        Contract::V2 => v2::pipeline(state, req, &mut trace).await,
        // Lambda mode runs no server (`contract::lambda::run`); should one be wired, it serves only health.
        Contract::Lambda => health(state, &req).unwrap_or(Err(ShimError::NotFoundPath)),
    }
    .unwrap_or_else(|e| e.respond(contract));
    let mut response = response;
    fit_version(version, &mut response);
    crate::memory::moved(declared.max(response.body().size_hint().lower() as usize));
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = response
        .headers()
        .get(crate::error::ERROR_KIND_HEADER)
        .and_then(|v| v.to_str().ok());
    match &trace.id {
        Some(id) => tracing::info!(
            req = %id, status, duration_ms = format_args!("{ms:.2}"), pid = trace.pid, error, "execution"
        ),
        None if path.starts_with("/_/") || path.starts_with("/__opr/") => {
            tracing::debug!(%method, %path, status, "health")
        }
        None => tracing::info!(%method, %path, status, error, "refused"),
    }
    response
}

async fn v1_pipeline(
    state: &AppState,
    req: Request<Incoming>,
    trace: &mut Trace,
) -> Result<Response<Full<Bytes>>, ShimError> {
    // 1. Health paths: no key, nothing secret.
    if let Some(response) = health(state, &req) {
        return response;
    }
    // 2–5. Key, method, body, decode.
    let exec = v1::admit(&state.config, req).await?;
    // 6–7. Deadline and invoke.
    let Done { result, .. } = execute(state, Work::V1(exec), trace).await?;
    // 8. Encode exactly what the function sent.
    Ok(v1::encode(result?))
}

/// The last step for a request of HTTP `version`: hyper adds `keep-alive` to the Connection header of an
/// HTTP/1.1 reply to an HTTP/1.0 keep-alive request, even of one that says `close` ("close, keep-alive"); a
/// reply that closes is sent as HTTP/1.0 then, which hyper closes after without touching the header.
pub fn fit_version<B>(version: Version, response: &mut Response<B>) {
    if version == Version::HTTP_10 && closes(response) {
        *response.version_mut() = Version::HTTP_10;
    }
}

/// The reply says `Connection: close`.
fn closes<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("close"))
}

/// Steps 6 and 7, the same for every contract: the deadline counts from now, so time spent waiting for a
/// worker counts; a worker runs the execution, in this task. `Err` only when no worker could take it (busy,
/// shutting down) or none was free by the deadline.
pub async fn execute(state: &AppState, work: Work, trace: &mut Trace) -> Result<Done, ShimError> {
    let timeout = work.timeout();
    let deadline = Instant::now() + timeout;
    let deadline_ms = (SystemTime::now() + timeout)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let id = trace.id.insert(state.ids.next());
    let done = state.pool.run(id, work, deadline, deadline_ms).await?;
    trace.pid = done.pid;
    Ok(done)
}

/// [`execute`] for the contracts that report an execution's logs: when no worker was free by the deadline,
/// the timeout is the execution's result (with no log lines) rather than an early error.
pub async fn execute_logged(
    state: &AppState,
    work: Work,
    trace: &mut Trace,
) -> Result<Done, ShimError> {
    match execute(state, work, trace).await {
        Err(e @ ShimError::TimedOut(_)) => Ok(Done {
            result: Err(e),
            pid: None,
            logs: Some(crate::pool::ExecLogs::default()),
        }),
        other => other,
    }
}

/// The operator's health paths, the same under every contract: `GET /_/health` (the shim is up) and
/// `GET /_/ready` (an adapter is ready). `None` for any other path.
pub fn health<B>(
    state: &AppState,
    req: &Request<B>,
) -> Option<Result<Response<Full<Bytes>>, ShimError>> {
    let pool = match req.uri().path() {
        "/_/health" => None,
        "/_/ready" => Some(&state.pool),
        _ => return None,
    };
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return Some(Err(ShimError::MethodNotAllowed("GET")));
    }
    let body = match pool {
        None => serde_json::json!({ "status": "ok" }),
        Some(_) if state.draining() => return Some(Err(ShimError::Draining)),
        Some(pool) => {
            let ready = pool.ready_workers();
            if ready == 0 {
                return Some(Err(ShimError::NotReady));
            }
            serde_json::json!({ "status": "ready", "ready": ready, "workers": pool.workers() })
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Some(Ok(response))
}

/// Step 4 of the pipeline: the body, bounded by `limit` (413 past it, whatever a header declared) and read
/// within `timeout` (408 past it).
pub async fn read_body<B: RequestBody>(
    headers: &hyper::HeaderMap,
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ShimError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ShimError::TooLarge(limit));
    }
    let collect = Limited::new(body, limit).collect();
    let Ok(collected) = tokio::time::timeout(timeout, collect).await else {
        return Err(ShimError::BodyTimeout(timeout));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ShimError::TooLarge(limit)),
        // hyper closes the connection after a body it could not read.
        Err(e) => Err(ShimError::BadRequest(format!(
            "reading the body failed: {}",
            causes(&*e)
        ))),
    }
}

/// An error and its sources, outermost first: `error reading a body from connection: Invalid chunk size …`.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_differ() {
        let ids = Ids::new();
        let (a, b) = (ids.next(), ids.next());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert_ne!(a, b);
    }
}
