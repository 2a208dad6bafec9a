//! A small blocking HTTP/1.1 client: one request per connection (`Connection: close`), raw bytes in, status,
//! headers and body out. Enough to drive the shim from the conformance kit and the integration tests, and raw
//! enough to send malformed requests on purpose.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Response {
    /// 0 when the server closed the connection without a parsable response.
    pub status: u16,
    /// Lower-cased names; of a repeated header, the last value.
    pub headers: HashMap<String, String>,
    /// Every header line in order, names lower-cased (repeated headers stay repeated).
    pub lines: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn parse(raw: &[u8]) -> Response {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Response {
                status: 0,
                headers: HashMap::new(),
                lines: Vec::new(),
                body: raw.to_vec(),
            };
        };
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let lines: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let headers = lines.iter().cloned().collect();
        Response {
            status,
            headers,
            lines,
            body: raw[split + 4..].to_vec(),
        }
    }
}

/// Sends `request` as is and reads until the server closes the connection. `read_timeout` bounds every
/// read and every write (a server that stops reading a large body without closing cannot hang the caller).
pub fn raw(addr: SocketAddr, request: &[u8], read_timeout: Duration) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, read_timeout)?;
    stream.set_read_timeout(Some(read_timeout))?;
    stream.set_write_timeout(Some(read_timeout))?;
    // The server may answer and close before reading everything (a 413 or 401); a failed write is fine then.
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A reset after the response arrived (the server closed with unread input) still leaves the response.
        Err(_) if !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(Response::parse(&raw))
}

/// `POST /` with a body and extra headers.
pub fn post(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body: &[u8],
    read_timeout: Duration,
) -> std::io::Result<Response> {
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: shim\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes, read_timeout)
}

/// Any method and target, with headers (a `Host` is added unless given) and a body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    read_timeout: Duration,
) -> std::io::Result<Response> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str("Host: localhost:3000\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes, read_timeout)
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str, read_timeout: Duration) -> std::io::Result<Response> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: shim\r\nConnection: close\r\n\r\n");
    raw(addr, req.as_bytes(), read_timeout)
}
