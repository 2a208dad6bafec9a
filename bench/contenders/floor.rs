//! The benchmark's floor: the shim's own HTTP stack with nothing behind it. The same crates at the same (locked)
//! versions, the same release profile, the same tokio runtime (the main thread alone, as `SHIM_THREADS` defaults
//! to) and the same HTTP/1 settings as `src/server.rs`
//! (`TokioTimer`, `header_read_timeout`, keep-alive, `TCP_NODELAY`); per request the same steps as the v1 contract —
//! the key in `x-internal-challenge` checked in constant time, the body read bounded and within the read timeout,
//! the JSON decoded into a value — and then the reply made in-process: the seed function's `{"normal":"Hello
//! World!","env1":…,"payload":…}` as `application/json`, or, when the body names the file `echo.js`, the payload
//! itself as `text/plain; charset=utf-8` (what `bench/contenders/echo.js` sends), or, for `generate`, that many
//! bytes. Whatever the shim spends above this row is its adapter round trip and its own bookkeeping.
//!
//! Built by `bench/run.sh` as the example `bench-floor`. Env: `PORT`, `KEY`, `MAX_BODY` (bytes, default the
//! shim's 20 MiB), `READ_TIMEOUT` (seconds, default the shim's 30).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;

struct State {
    key: Vec<u8>,
    max_body: usize,
    read_timeout: Duration,
}

#[derive(serde::Serialize)]
struct Seed<'a> {
    normal: &'a str,
    env1: Option<&'a str>,
    payload: &'a str,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("bench-floor: {name}={v:?} is not valid");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

fn main() {
    let port: u16 = env_or("PORT", 3000);
    let state = Arc::new(State {
        key: std::env::var("KEY").unwrap_or_default().into_bytes(),
        max_body: env_or("MAX_BODY", 20 * 1024 * 1024),
        read_timeout: Duration::from_secs_f64(env_or("READ_TIMEOUT", 30.0)),
    });
    // As src/main.rs builds it.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("the async runtime");
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(state.read_timeout)
            .keep_alive(true);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    if let Err(e) = result {
        eprintln!("bench-floor: {e}");
        std::process::exit(1);
    }
}

fn reply(status: u16, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn error(code: u16, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    reply(code, "application/json", Bytes::from(body))
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    // The shim's own check: exactly one header, compared in constant time.
    if !runtime_shim::auth::one_header_matches(
        req.headers(),
        runtime_shim::auth::KEY_HEADER,
        &state.key,
    ) {
        return error(401, "Unauthorized");
    }
    if req.method() != Method::POST {
        return error(405, "only POST");
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return error(413, "the body is too large");
    }
    let collect = Limited::new(body, state.max_body).collect();
    let body = match tokio::time::timeout(state.read_timeout, collect).await {
        Err(_) => return error(408, "the body did not arrive in time"),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return error(413, "the body is too large");
        }
        Ok(Err(e)) => return error(400, &format!("reading the body failed: {e}")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error(400, "the body must be a JSON object"),
        Err(e) => return error(400, &format!("the body is not valid JSON: {e}")),
    };
    let payload = value.get("payload").and_then(Value::as_str).unwrap_or("");
    match value.get("file").and_then(Value::as_str) {
        Some("echo.js") => reply(
            200,
            "text/plain; charset=utf-8",
            Bytes::copy_from_slice(payload.as_bytes()),
        ),
        Some("generate") => {
            let n: usize = payload.trim().parse().unwrap_or(0);
            reply(200, "text/plain; charset=utf-8", Bytes::from(vec![b'x'; n]))
        }
        _ => {
            let env1 = value
                .get("env")
                .and_then(|e| e.get("ENV1"))
                .and_then(Value::as_str);
            let seed = Seed {
                normal: "Hello World!",
                env1,
                payload,
            };
            let body = serde_json::to_vec(&seed).expect("serializable");
            reply(200, "application/json", Bytes::from(body))
        }
    }
}
