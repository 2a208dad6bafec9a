//! The v1 contract (the seed's, 2021): `POST` with `x-internal-challenge` and a JSON body of `path`, `file`,
//! `env`, `payload`, `headers` and `timeout`; the reply is exactly what the function sent, as text or JSON.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response};
use serde_json::{Map, Value};

use crate::auth;
use crate::config::Config;
use crate::error::ShimError;
use crate::handler::read_body;
use crate::pool::Reply;
use crate::protocol::Execution;

/// Steps 2–5 of the pipeline, which need no worker: the key (before anything of the body is read), the
/// method, the bounded body within the read timeout, and decoding. Generic over the body so the fuzz targets
/// drive exactly this code.
pub async fn admit<B: crate::handler::RequestBody>(
    config: &Config,
    req: Request<B>,
) -> Result<Execution, ShimError> {
    if !auth::one_header_matches(req.headers(), auth::KEY_HEADER, config.key.expose()) {
        return Err(ShimError::Unauthorized);
    }
    if req.method() != Method::POST {
        return Err(ShimError::MethodNotAllowed("POST"));
    }
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, config.max_body, config.read_timeout).await?;
    decode(&body, config)
}

/// Decodes the executor's body into an [`Execution`]; every error names the field.
pub fn decode(body: &[u8], config: &Config) -> Result<Execution, ShimError> {
    // The common case straight into its fields; anything unusual (not an object, a wrong type, a duplicate
    // or unknown field, bad JSON) is decoded again the slow way, which says exactly what is wrong (and
    // bounds the nesting of unknown fields too).
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if object
        && let Ok(fields) = serde_json::from_slice::<Fields<'_>>(body)
        && let Some(exec) = fields.execution(config)
    {
        return Ok(exec);
    }
    decode_value(body, config)
}

/// The v1 body's fields, borrowed from it where no escape is in the way. `null` is absent, as in
/// [`decode_value`]; an unknown field sends the body the slow way.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow, default)]
    path: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    file: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    env: Option<Map<String, Value>>,
    #[serde(borrow, default)]
    payload: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    timeout: Option<f64>,
}

impl Fields<'_> {
    /// The execution, the same as [`decode_value`] makes of the same body; `None` when a value is not one
    /// the contract allows (the slow way then says which).
    fn execution(self, config: &Config) -> Option<Execution> {
        let strings = |m: &Option<Map<String, Value>>| {
            m.as_ref().is_none_or(|m| m.values().all(Value::is_string))
        };
        if !strings(&self.env) || !strings(&self.headers) {
            return None;
        }
        let timeout = match self.timeout {
            None => config.default_timeout,
            Some(secs) if secs > 0.0 && secs.is_finite() => capped(secs, config),
            Some(_) => return None,
        };
        Some(Execution {
            path: match self.path {
                Some(p) if !p.is_empty() => p.into_owned(),
                _ => config.code_path.clone(),
            },
            file: match self.file {
                Some(f) if !f.is_empty() => f.into_owned(),
                _ => config.entrypoint.clone().unwrap_or_default(),
            },
            env: self.env.unwrap_or_default(),
            payload: self.payload.map(|p| p.into_owned()).unwrap_or_default(),
            headers: self.headers.unwrap_or_default(),
            timeout,
        })
    }
}

/// A request's timeout: past the cap (or past what a Duration holds) the cap applies; under a millisecond
/// (the protocol's unit, and what a Duration may round to zero) a millisecond does.
fn capped(secs: f64, config: &Config) -> Duration {
    Duration::try_from_secs_f64(secs)
        .unwrap_or(config.max_timeout)
        .max(Duration::from_millis(1))
        .min(config.max_timeout)
}

/// [`decode`] through a JSON value, field by field: every error names the field.
fn decode_value(body: &[u8], config: &Config) -> Result<Execution, ShimError> {
    let bad = |m: String| ShimError::BadRequest(m);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("the body is empty; expected a JSON object".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(bad(format!(
            "the body must be a JSON object, not {}",
            type_name(&value)
        )));
    };
    let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_null());

    let path = optional_string(take("path"), "path")?
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| config.code_path.clone());
    let file = optional_string(take("file"), "file")?
        .filter(|f| !f.is_empty())
        .or_else(|| config.entrypoint.clone())
        .unwrap_or_default();
    let env = string_map(take("env"), "env")?;
    let payload = optional_string(take("payload"), "payload")?.unwrap_or_default();
    let headers = string_map(take("headers"), "headers")?;
    let timeout = match take("timeout") {
        None => config.default_timeout,
        Some(v) => {
            let secs = v
                .as_f64()
                .filter(|s| *s > 0.0 && s.is_finite())
                .ok_or_else(|| {
                    bad(format!(
                        "field `timeout` must be a number of seconds greater than 0, not {}",
                        describe(&v)
                    ))
                })?;
            capped(secs, config)
        }
    };
    Ok(Execution {
        path,
        file,
        env,
        payload,
        headers,
        timeout,
    })
}

pub(crate) fn optional_string(
    value: Option<Value>,
    field: &str,
) -> Result<Option<String>, ShimError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ShimError::BadRequest(format!(
            "field `{field}` must be a string, not {}",
            type_name(&other)
        ))),
    }
}

pub(crate) fn string_map(
    value: Option<Value>,
    field: &str,
) -> Result<Map<String, Value>, ShimError> {
    match value {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => {
            if let Some((key, v)) = map.iter().find(|(_, v)| !v.is_string()) {
                return Err(ShimError::BadRequest(format!(
                    "field `{field}.{key}` must be a string, not {}",
                    type_name(v)
                )));
            }
            Ok(map)
        }
        Some(other) => Err(ShimError::BadRequest(format!(
            "field `{field}` must be an object of strings, not {}",
            type_name(&other)
        ))),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

/// The function's reply, exactly as it sent it.
pub fn encode(reply: Reply) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match reply {
        Reply::V1 {
            status,
            body_type,
            body,
        } => (status, body_type.content_type(), body),
        // A version-2 adapter never serves the v1 contract: the handshake checked the version.
        Reply::Http { status, body, .. } => (status, "application/octet-stream", body),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).expect("the pool checked the status range");
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyPolicy, Overrides};
    use std::collections::HashMap;

    fn config() -> Config {
        let env: HashMap<String, String> = [
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_ADAPTER", "/bin/cat"),
            ("APPWRITE_ENTRYPOINT_NAME", "index.py"),
            ("SHIM_DEFAULT_TIMEOUT", "30"),
            ("SHIM_MAX_TIMEOUT", "60"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_env(&env, KeyPolicy::Required, Overrides::default()).unwrap()
    }

    fn bad_request(body: &str) -> String {
        match decode(body.as_bytes(), &config()) {
            Err(ShimError::BadRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_absent_fields() {
        let e = decode(b"{}", &config()).unwrap();
        assert_eq!(e.path, "/usr/code");
        assert_eq!(e.file, "index.py");
        assert!(e.env.is_empty() && e.headers.is_empty());
        assert_eq!(e.payload, "");
        assert_eq!(e.timeout, Duration::from_secs(30));
        let e = decode(br#"{"path":null,"file":"","payload":null}"#, &config()).unwrap();
        assert_eq!(
            (e.path.as_str(), e.file.as_str()),
            ("/usr/code", "index.py")
        );
    }

    #[test]
    fn fields_are_taken_and_timeout_capped() {
        let e = decode(
            br#"{"path":"/p","file":"f.py","env":{"A":"1"},"payload":"x","headers":{"h":"v"},"timeout":0.25,"extra":[1]}"#,
            &config(),
        )
        .unwrap();
        assert_eq!((e.path.as_str(), e.file.as_str()), ("/p", "f.py"));
        assert_eq!(e.env["A"], "1");
        assert_eq!(e.headers["h"], "v");
        assert_eq!(e.timeout, Duration::from_millis(250));
        let e = decode(br#"{"timeout":1e300}"#, &config()).unwrap();
        assert_eq!(e.timeout, Duration::from_secs(60));
        for tiny in ["1e-10", "1e-45", "0.0004"] {
            let e = decode(format!(r#"{{"timeout":{tiny}}}"#).as_bytes(), &config()).unwrap();
            assert_eq!(e.timeout, Duration::from_millis(1), "{tiny}");
        }
    }

    #[tokio::test]
    async fn exactly_one_key_header_counts() {
        let request = |keys: &[&str]| {
            let mut r = Request::builder().method(Method::POST);
            for key in keys {
                r = r.header(auth::KEY_HEADER, *key);
            }
            r.body(Full::new(Bytes::from_static(b"{}"))).unwrap()
        };
        assert!(admit(&config(), request(&["k"])).await.is_ok());
        for keys in [
            &[][..],
            &["k", "k"],
            &["k", "x"],
            &["x", "k"],
            &["k "],
            &["K"],
        ] {
            let e = admit(&config(), request(keys)).await.unwrap_err();
            assert_eq!(e, ShimError::Unauthorized, "{keys:?}");
        }
    }

    #[test]
    fn the_quick_way_and_the_slow_way_agree() {
        for body in [
            "{}",
            r#"{"path":null,"file":"","payload":null,"env":null,"headers":null,"timeout":null}"#,
            r#"{"path":"/p","file":"f.py","env":{"A":"1","B":"two"},"payload":"x\n\u00e9\"","headers":{"h":"v"},"timeout":0.25}"#,
            r#"{"timeout":1e300}"#,
            r#"{"timeout":3}"#,
            r#"{"timeout":1e-10}"#,
            r#"{"env":{"A":"1","A":"2"}}"#,
            r#"{"path":"\/esc\/aped"}"#,
        ] {
            let quick = serde_json::from_slice::<Fields<'_>>(body.as_bytes())
                .ok()
                .and_then(|f| f.execution(&config()));
            let quick = quick.unwrap_or_else(|| panic!("{body}: not taken the quick way"));
            assert_eq!(
                quick,
                decode_value(body.as_bytes(), &config()).unwrap(),
                "{body}"
            );
        }
        // What the quick way leaves to the slow one, which says what is wrong (or takes the last duplicate).
        for body in [
            r#"{"path":"a","path":"b"}"#,
            r#"{"env":{"A":1}}"#,
            r#"{"timeout":0}"#,
        ] {
            let quick = serde_json::from_slice::<Fields<'_>>(body.as_bytes())
                .ok()
                .and_then(|f| f.execution(&config()));
            assert!(quick.is_none(), "{body}");
        }
        assert_eq!(
            decode(br#"{"path":"a","path":"b"}"#, &config())
                .unwrap()
                .path,
            "b"
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        assert!(bad_request("").contains("empty"));
        assert!(bad_request("{").contains("not valid JSON"));
        assert!(bad_request("[1]").contains("must be a JSON object, not an array"));
        assert!(bad_request(r#"{"env":[]}"#).contains("field `env` must be an object"));
        assert!(bad_request(r#"{"env":{"A":1}}"#).contains("field `env.A` must be a string"));
        assert!(bad_request(r#"{"headers":"x"}"#).contains("field `headers`"));
        assert!(bad_request(r#"{"payload":5}"#).contains("field `payload` must be a string"));
        assert!(bad_request(r#"{"path":true}"#).contains("field `path`"));
        assert!(bad_request(r#"{"file":{}}"#).contains("field `file`"));
        for t in ["0", "-1", "\"10\"", "true", "[]"] {
            let m = bad_request(&format!(r#"{{"timeout":{t}}}"#));
            assert!(m.contains("field `timeout`"), "{t}: {m}");
        }
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(bad_request(&deep).contains("not valid JSON"));
    }
}
