//! Every error the shim answers with, and the one place that turns it into an HTTP response.
//!
//! The body is always `{"code":…,"message":…}` with the HTTP status equal to `code`, and the response carries
//! [`ERROR_KIND_HEADER`] so a machine can tell the shim's own errors from a function's reply.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{CONTENT_TYPE, HeaderValue};

use crate::contract::Contract;

/// Names the kind of a shim-generated error (`timeout`, `unauthorized`, …).
pub const ERROR_KIND_HEADER: &str = "x-shim-error";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimError {
    Unauthorized,
    /// The entry file is missing or defines no function (the adapter says which).
    NotFound(String),
    /// The function threw; the message carries the language's error and stack.
    FunctionFailed(String),
    /// The function returned no response (the HTTP request model).
    NoResponse,
    /// The entry file is missing, failed to load or exports no function (the HTTP request model: 503).
    EntrypointFailed(String),
    TimedOut(Duration),
    /// The adapter crashed, broke the protocol, or could not start.
    Adapter(String),
    BadRequest(String),
    /// The body is over the limit; the rest of it is left unread and the connection is closed after.
    TooLarge(usize),
    /// The client did not send the whole body within the read timeout; the connection is closed after.
    BodyTimeout(Duration),
    MethodNotAllowed(&'static str),
    /// v5: `x-open-runtimes-timeout` is not an integer greater than 0.
    BadTimeoutHeader,
    Busy,
    NotReady,
    /// `/_/ready` after SIGTERM, during `SHIM_DRAIN_DELAY`: executions are still served.
    Draining,
    ShuttingDown,
    NotFoundPath,
}

impl ShimError {
    pub fn code(&self) -> u16 {
        match self {
            ShimError::Unauthorized => 401,
            ShimError::NotFound(_) | ShimError::NotFoundPath => 404,
            ShimError::FunctionFailed(_)
            | ShimError::NoResponse
            | ShimError::TimedOut(_)
            | ShimError::Adapter(_) => 500,
            ShimError::EntrypointFailed(_) => 503,
            ShimError::BadRequest(_) => 400,
            // v5 answers a bad timeout header, like a wrong secret, with 500 (its reference servers do).
            ShimError::BadTimeoutHeader => 500,
            ShimError::TooLarge(_) => 413,
            ShimError::BodyTimeout(_) => 408,
            ShimError::MethodNotAllowed(_) => 405,
            ShimError::Busy
            | ShimError::NotReady
            | ShimError::Draining
            | ShimError::ShuttingDown => 503,
        }
    }

    /// The value of [`ERROR_KIND_HEADER`].
    pub fn kind(&self) -> &'static str {
        match self {
            ShimError::Unauthorized => "unauthorized",
            ShimError::NotFound(_) => "not-found",
            ShimError::NotFoundPath => "no-such-path",
            ShimError::FunctionFailed(_) => "function-error",
            ShimError::NoResponse => "no-response",
            ShimError::EntrypointFailed(_) => "entrypoint-failed",
            ShimError::TimedOut(_) => "timeout",
            ShimError::Adapter(_) => "adapter-error",
            ShimError::BadRequest(_) => "bad-request",
            ShimError::BadTimeoutHeader => "bad-timeout",
            ShimError::TooLarge(_) => "too-large",
            ShimError::BodyTimeout(_) => "body-timeout",
            ShimError::MethodNotAllowed(_) => "method-not-allowed",
            ShimError::Busy => "busy",
            ShimError::NotReady => "not-ready",
            ShimError::Draining => "draining",
            ShimError::ShuttingDown => "shutting-down",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ShimError::Unauthorized => "Unauthorized".into(),
            ShimError::NotFound(m)
            | ShimError::FunctionFailed(m)
            | ShimError::EntrypointFailed(m)
            | ShimError::BadRequest(m) => m.clone(),
            ShimError::NoResponse => "Return statement missing. return context.res.empty() if no \
                                      response is expected."
                .into(),
            ShimError::NotFoundPath => "no such path: the shim serves POST on any path, and \
                                        GET /_/health and GET /_/ready"
                .into(),
            ShimError::TimedOut(t) => {
                format!("execution timed out after {} s", format_seconds(*t))
            }
            ShimError::Adapter(m) => m.clone(),
            ShimError::TooLarge(limit) => {
                format!("request body is larger than the limit of {limit} bytes")
            }
            ShimError::BodyTimeout(t) => format!(
                "the request body was not received within {} s",
                format_seconds(*t)
            ),
            ShimError::MethodNotAllowed(allowed) => {
                format!("method not allowed; use {allowed}")
            }
            ShimError::BadTimeoutHeader => {
                "Header \"x-open-runtimes-timeout\" must be an integer greater than 0.".into()
            }
            ShimError::Busy => "all workers are busy and the queue is full; retry later".into(),
            ShimError::NotReady => "no adapter is ready yet".into(),
            ShimError::Draining => {
                "the shim is draining before it stops; executions are still served".into()
            }
            ShimError::ShuttingDown => "the shim is shutting down".into(),
        }
    }

    /// The v1 contract's response; see [`ShimError::respond`].
    pub fn into_response(self) -> Response<Full<Bytes>> {
        self.respond(Contract::V1)
    }

    /// The one place a shim error becomes a response, in the shape of the contract being served.
    ///
    /// v1: always the schema `{"code":…,"message":…}` as JSON. v5: what its reference servers answer where
    /// they define it — a text body for a wrong secret or a bad timeout header, and an empty body for anything
    /// that went wrong with the execution itself (the reason is in the execution's errors log) — and the v1
    /// schema for what they leave undefined (413, 408, 503 busy, …).
    pub fn respond(self, contract: Contract) -> Response<Full<Bytes>> {
        let code = match (contract, &self) {
            (Contract::V5 | Contract::V2, ShimError::Unauthorized) => 500,
            _ => self.code(),
        };
        let (body, content_type) = match (contract, &self) {
            (Contract::V5, ShimError::Unauthorized) => (
                Bytes::from_static(V5_UNAUTHORIZED.as_bytes()),
                "text/plain; charset=utf-8",
            ),
            // v2 answers every error as its envelope's `stderr`.
            (Contract::V2, _) => {
                let body = serde_json::json!({ "stderr": self.message() });
                (Bytes::from(body.to_string()), "application/json")
            }
            (Contract::V5, ShimError::BadTimeoutHeader) => {
                (Bytes::from(self.message()), "text/plain; charset=utf-8")
            }
            (
                Contract::V5,
                ShimError::FunctionFailed(_)
                | ShimError::NoResponse
                | ShimError::EntrypointFailed(_)
                | ShimError::TimedOut(_)
                | ShimError::Adapter(_)
                | ShimError::NotFound(_),
            ) => (Bytes::new(), "text/plain; charset=utf-8"),
            // Plain HTTP serves the public: what went wrong inside the function (its stack, its files) is in
            // the log under the execution's id, not in the reply.
            (
                Contract::Http,
                ShimError::FunctionFailed(_)
                | ShimError::NoResponse
                | ShimError::EntrypointFailed(_)
                | ShimError::Adapter(_),
            ) => {
                let body = serde_json::json!({
                    "code": code,
                    "message": "the function failed; its error is in the log under the execution id \
                                (x-shim-execution-id)",
                });
                (Bytes::from(body.to_string()), "application/json")
            }
            _ => {
                let body = serde_json::json!({ "code": code, "message": self.message() });
                (Bytes::from(body.to_string()), "application/json")
            }
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() =
            hyper::StatusCode::from_u16(code).expect("every code above is a valid status");
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(ERROR_KIND_HEADER, HeaderValue::from_static(self.kind()));
        match self {
            ShimError::MethodNotAllowed(allowed) => {
                headers.insert(hyper::header::ALLOW, HeaderValue::from_static(allowed));
            }
            // The rest of the body is unread or may still be on its way: the connection cannot carry another
            // request, and the client is told so (after a 413 hyper would otherwise keep the connection only if
            // the rest of the body happened to be buffered already, and close it without notice if not).
            ShimError::BodyTimeout(_) | ShimError::TooLarge(_) => {
                headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            }
            ShimError::Unauthorized if contract == Contract::Http => {
                headers.insert(
                    hyper::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer"),
                );
            }
            _ => {}
        }
        response
    }
}

/// v5's answer to a missing or wrong `x-open-runtimes-secret`.
pub const V5_UNAUTHORIZED: &str =
    "Unauthorized. Provide correct \"x-open-runtimes-secret\" header.";

/// `1`, `0.5`, `2.25`: seconds without trailing zeros.
pub fn format_seconds(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn errors_follow_the_schema() {
        let r = ShimError::TimedOut(Duration::from_millis(1500)).into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()[ERROR_KIND_HEADER], "timeout");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            br#"{"code":500,"message":"execution timed out after 1.5 s"}"#
        );
    }

    #[tokio::test]
    async fn unauthorized_is_exactly_the_seed_body() {
        let r = ShimError::Unauthorized.into_response();
        assert_eq!(r.status(), 401);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"code":401,"message":"Unauthorized"}"#);
    }

    #[test]
    fn errors_that_leave_the_body_unread_close_the_connection() {
        use hyper::header::CONNECTION;
        for e in [
            ShimError::TooLarge(10),
            ShimError::BodyTimeout(Duration::from_secs(1)),
        ] {
            let r = e.clone().into_response();
            assert_eq!(r.headers()[CONNECTION], "close", "{e:?}");
        }
        let r = ShimError::BadRequest("x".into()).into_response();
        assert!(r.headers().get(CONNECTION).is_none());
    }

    #[test]
    fn seconds_are_short() {
        assert_eq!(format_seconds(Duration::from_secs(900)), "900");
        assert_eq!(format_seconds(Duration::from_millis(250)), "0.25");
    }
}
