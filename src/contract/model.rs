//! The HTTP request model that the v5 contract and those after it share: what `context.req` shows, computed
//! once from the HTTP request, and the rules that turn a function's reply into an HTTP response. Only the
//! executor's reserved header prefix and its enforced headers differ between contracts.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use crate::error::{ERROR_KIND_HEADER, ShimError};
use crate::pool::Reply;
use crate::protocol::HttpExecution;

/// A log line is cut at this many characters, and this is appended.
pub const MAX_LOG_CHARS: usize = 8000;
pub const TRUNCATED_SUFFIX: &str = "... Log truncated due to size limit (8000 characters)";

/// What `context.req` shows, computed from the request once: headers lower-cased, those of the `reserved`
/// prefix removed, repeated ones joined, then `enforced` merged over them; scheme, host, port, path, query
/// and URL; whether the body is JSON.
pub fn request(
    parts: &hyper::http::request::Parts,
    body: Bytes,
    timeout: Duration,
    collect_logs: bool,
    reserved: Option<&str>,
    enforced: &[(String, String)],
) -> HttpExecution {
    let mut headers: Vec<(String, String)> = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if reserved.is_some_and(|prefix| name.starts_with(prefix)) {
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
    for (name, value) in enforced {
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

/// Headers the function cannot set: the executor's own (the `reserved` prefix), and those that frame the
/// connection (hyper sets them from the body it sends).
fn dropped_reply_header(name: &str, reserved: Option<&str>) -> bool {
    reserved.is_some_and(|prefix| name.starts_with(prefix))
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
pub fn reply(reply: Reply, reserved: Option<&str>) -> Result<Response<Full<Bytes>>, ShimError> {
    let Reply::Http {
        status,
        headers,
        body,
    } = reply
    else {
        return Err(ShimError::Adapter(
            "the adapter answered in protocol version 1 where version 2 was expected".into(),
        ));
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).expect("the pool checked the status range");
    let out = response.headers_mut();
    let mut content_type = None;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if dropped_reply_header(&name, reserved) {
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

/// One log line as the files hold it: cut at [`MAX_LOG_CHARS`] characters, with the suffix.
pub fn truncate_line(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(MAX_LOG_CHARS) {
        None => text.into_owned(),
        Some((cut, _)) => format!("{}{TRUNCATED_SUFFIX}", &text[..cut]),
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
}
