//! The open-runtimes v2 contract, still accepted by Appwrite 1.5–1.8 for older functions: `POST` with
//! `x-internal-challenge` against `INTERNAL_RUNTIME_KEY`, a JSON body `{"variables", "payload", "headers"}`, a
//! function `(req, res)` with `req.variables`, `req.payload`, `req.headers` and `res.send(text, status)` /
//! `res.json(value, status)`; the reply is always the envelope `{"response", "stdout", "stderr"}` with the
//! function's status, its console output captured into `stdout` and `stderr`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::v1::{optional_string, string_map, type_name};
use crate::auth;
use crate::config::Config;
use crate::error::{ERROR_KIND_HEADER, ShimError};
use crate::handler::{self, Answer, AppState, RequestBody, Trace};
use crate::pool::{Done, ExecLogs, Reply};
use crate::protocol::{Execution, LogStream, Work};

pub async fn pipeline<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    trace: &mut Trace,
) -> Answer {
    let config = &state.config;
    if let Some(response) = handler::health(state, &req) {
        return response;
    }
    // The key before any byte of the body; exactly one header counts, as in v1.
    if !auth::one_header_matches(req.headers(), auth::KEY_HEADER, config.key.expose()) {
        return Err(ShimError::Unauthorized);
    }
    let (parts, body) = req.into_parts();
    let body =
        handler::read_body(&parts.headers, body, config.max_body, config.read_timeout).await?;
    let exec = decode(&body, config)?;
    let Done { result, logs, .. } = handler::execute_logged(state, Work::V2(exec), trace).await?;
    Ok(envelope(result, &logs.unwrap_or_default()))
}

/// The body: an object whose `variables` and `headers` are objects of strings and whose `payload` is a string,
/// each optional; any other field is ignored. An empty body is `{}`.
pub fn decode(body: &[u8], config: &Config) -> Result<Execution, ShimError> {
    let bad = |m: String| ShimError::BadRequest(m);
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?
    };
    let Value::Object(mut fields) = value else {
        return Err(bad(format!(
            "the body must be a JSON object, not {}",
            type_name(&value)
        )));
    };
    let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_null());
    Ok(Execution {
        path: config.code_path.clone(),
        file: config.entrypoint.clone().unwrap_or_default(),
        env: string_map(take("variables"), "variables")?,
        payload: optional_string(take("payload"), "payload")?.unwrap_or_default(),
        headers: string_map(take("headers"), "headers")?,
        timeout: config.default_timeout,
    })
}

/// The envelope, whatever happened: the function's reply (parsed JSON when it called `json`), its console
/// output — `context.log`-style lines and native output in `stdout`, error lines in `stderr` — and, when it
/// failed, the reason appended to `stderr`. A function that sent nothing is `200 {"response": "OK"}`, as the
/// reference servers answer.
fn envelope(result: Result<Reply, ShimError>, logs: &ExecLogs) -> Response<Full<Bytes>> {
    let text = |line: &[u8]| String::from_utf8_lossy(line).into_owned();
    let mut stdout: Vec<String> = Vec::new();
    let mut stderr: Vec<String> = Vec::new();
    for (stream, line) in &logs.lines {
        match stream {
            LogStream::Log => stdout.push(text(line)),
            LogStream::Error => stderr.push(text(line)),
        }
    }
    stdout.extend(logs.native.iter().map(|l| text(l)));
    let (status, body, kind) = match result {
        Ok(Reply::Http {
            status,
            headers,
            body,
        }) => {
            let is_json = headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("content-type")
                    && v.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/json")
            });
            let response = match is_json {
                true => {
                    serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text(&body)))
                }
                false => Value::String(text(&body)),
            };
            let body = json!({"response": response, "stdout": stdout.join("\n"), "stderr": stderr.join("\n")});
            (status, body, None)
        }
        Ok(Reply::V1 { .. }) => unreachable!("the handshake checked that adapters speak version 2"),
        Err(ShimError::NoResponse) => (
            200,
            json!({"response": "OK", "stdout": stdout.join("\n"), "stderr": stderr.join("\n")}),
            None,
        ),
        Err(e) => {
            stderr.push(e.message());
            let body = json!({"stdout": stdout.join("\n"), "stderr": stderr.join("\n")});
            (e.code(), body, Some(e.kind()))
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(kind) = kind {
        headers.insert(ERROR_KIND_HEADER, HeaderValue::from_static(kind));
    }
    response
}
