//! `runtime-shim probe`: a health check for images without curl (Docker `HEALTHCHECK`, Kubernetes exec
//! probes). One `GET` of `/_/ready` (or `--path`) on the shim's own address, with one short timeout for the
//! whole exchange; exit 0 on a 200, else 1 with one line saying what came back. Never 2: Docker reserves that
//! exit status, so even a bad flag is 1 here.
//!
//! A blocking std `TcpStream`, not the async stack: the probe runs once and exits, and must answer within its
//! timeout whatever the server does (accepts and never answers, answers slowly, closes).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::config::{self, ConfigError, Env};

/// What `probe` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
    pub path: String,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: None,
            port: None,
            path: DEFAULT_PATH.to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

pub const DEFAULT_PATH: &str = "/_/ready";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The address to probe: the flags, else `SHIM_HOST`/`SHIM_PORT` (as `serve` reads them), else
/// 0.0.0.0:3000; an unspecified host (0.0.0.0, ::) is probed on loopback.
pub fn target(options: &Options, env: &dyn Env) -> Result<SocketAddr, ConfigError> {
    let host = match options.host {
        Some(h) => h,
        None => match env.var("SHIM_HOST")?.filter(|v| !v.trim().is_empty()) {
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "SHIM_HOST",
                    format!("must be an IP address such as 0.0.0.0 or 127.0.0.1 (got {v:?})"),
                )
            })?,
        },
    };
    let port = match options.port {
        Some(p) => p,
        None => match env.var("SHIM_PORT")?.filter(|v| !v.trim().is_empty()) {
            None => config::DEFAULT_PORT,
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "SHIM_PORT",
                    format!("must be a port number from 0 to 65535 (got {v:?})"),
                )
            })?,
        },
    };
    let host = match host {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    Ok(SocketAddr::new(host, port))
}

/// Probes `addr`: `Ok` with the line to print on a 200, `Err` with the line saying what came instead.
pub fn check(addr: SocketAddr, path: &str, timeout: Duration) -> Result<String, String> {
    let url = format!("http://{addr}{path}");
    let started = Instant::now();
    let left = || {
        timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    let fail = |what: String| format!("{url}: {what}");
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::TimedOut {
            format!(
                "no connection within {} s",
                crate::error::format_seconds(timeout)
            )
        } else {
            format!("cannot connect: {e}")
        })
    })?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: runtime-shim-probe\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(left()))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .map_err(|e| fail(format!("sending the request failed: {e}")))?;
    // Enough for a status line and the headers of a health answer; a bigger one is not the shim's.
    let mut raw = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        stream
            .set_read_timeout(Some(left()))
            .map_err(|e| fail(e.to_string()))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if raw.is_empty() {
                    return Err(fail(format!(
                        "no answer within {} s",
                        crate::error::format_seconds(timeout)
                    )));
                }
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if raw.is_empty() => {
                return Err(fail(format!("reading the answer failed: {e}")));
            }
            Err(_) => break,
        }
        if raw.len() > 64 * 1024 || started.elapsed() >= timeout {
            break;
        }
    }
    describe(&raw)
        .map_err(fail)
        .map(|ok| format!("{url}: {ok}"))
}

/// Reads the status line (and the shim's error kind, when it gave one) of an HTTP answer.
fn describe(raw: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|code| code.parse::<u16>().ok());
    let Some(status) = status else {
        if raw.is_empty() {
            return Err("the connection closed without an answer".into());
        }
        let shown: String = status_line.chars().take(80).collect();
        return Err(format!("not an HTTP answer: {shown:?}"));
    };
    let kind = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| {
            name.trim()
                .eq_ignore_ascii_case(crate::error::ERROR_KIND_HEADER)
        })
        .map(|(_, v)| v.trim().to_string());
    let said = match kind {
        Some(kind) => format!("{status} ({kind})"),
        None => status.to_string(),
    };
    if status == 200 {
        Ok(format!("{said} ready"))
    } else {
        Err(format!("answered {said}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_target_follows_the_flags_then_the_environment_on_loopback() {
        let o = Options::default();
        assert_eq!(target(&o, &env(&[])).unwrap().to_string(), "127.0.0.1:3000");
        let e = env(&[("SHIM_HOST", "::"), ("SHIM_PORT", "8080")]);
        assert_eq!(target(&o, &e).unwrap().to_string(), "[::1]:8080");
        let e = env(&[("SHIM_HOST", "10.0.0.5"), ("SHIM_PORT", "8080")]);
        let flags = Options {
            port: Some(9),
            ..Options::default()
        };
        assert_eq!(target(&flags, &e).unwrap().to_string(), "10.0.0.5:9");
        let err = target(&o, &env(&[("SHIM_PORT", "x")])).unwrap_err();
        assert_eq!(err.variable, "SHIM_PORT");
    }

    #[test]
    fn answers_are_described_in_one_line() {
        assert_eq!(
            describe(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap(),
            "200 ready"
        );
        assert_eq!(
            describe(b"HTTP/1.1 503 Service Unavailable\r\nX-Shim-Error: draining\r\n\r\n")
                .unwrap_err(),
            "answered 503 (draining)"
        );
        assert!(describe(b"").unwrap_err().contains("closed"));
        assert!(
            describe(b"SSH-2.0-x\r\n")
                .unwrap_err()
                .contains("not an HTTP")
        );
    }
}
