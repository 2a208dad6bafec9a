//! Load soak: 64 keep-alive clients against the shim and the python adapter for a fixed time, with a mix of
//! functions that reply, throw, and time out (`tests/fixtures/soak/`). Every response is checked against what
//! its function must return, and the shim must end where it started: the same open descriptors and child
//! processes once the load stops, no zombie, and its memory bounded.
//!
//! `SHIM_SOAK_SECONDS` sets the duration (15 s by default); a longer run, with the figures shown:
//!
//! ```sh
//! SHIM_SOAK_SECONDS=600 cargo test --test soak -- --nocapture
//! ```
//!
//! The figures are printed as a table and as one JSON line (`{"soak":{…}}`).

#[allow(dead_code)]
#[path = "integration/util.rs"]
mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use util::*;

const CONCURRENCY: usize = 64;
const WORKERS: usize = 4;
/// The timeout of requests to `sleeps.py`, which sleeps far longer.
const SLEEP_TIMEOUT: &str = "0.25";
/// Replies and throws get all the time they need: waiting in the queue behind timeouts counts toward it.
const NORMAL_TIMEOUT: u64 = 60;
const WARM_UP: Duration = Duration::from_secs(2);
/// How far the shim's resident memory may grow between the two quiet points. Both are taken in the same
/// state (load stopped, every worker ready, no connection open) and after a warm-up under the same load, so
/// the allocator has already grown to the working set of 64 connections and 4 adapters; what remains is
/// fragmentation, a few hundred KiB whether the run lasts 15 s or 120 s. A leak of 2 KiB per request, or of
/// 16 KiB per replaced adapter, passes 4 MiB within the default run.
const RSS_GROWTH_LIMIT_KIB: u64 = 4 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Echo,
    Throw,
    Sleep,
}

/// The mix, by request: 80 % echo, 10 % throw, 10 % time out.
fn kind(n: u64) -> Kind {
    match n % 10 {
        3 => Kind::Throw,
        7 => Kind::Sleep,
        _ => Kind::Echo,
    }
}

/// Outcome counters of one or more clients.
#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    function_error: u64,
    timeout: u64,
    unexpected: u64,
    /// The first few unexpected outcomes, described.
    failures: Vec<String>,
    reconnects: u64,
    /// Latencies of the echo requests, µs.
    echo_us: Vec<u32>,
}

impl Tally {
    fn total(&self) -> u64 {
        self.ok + self.function_error + self.timeout + self.unexpected
    }

    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.function_error += other.function_error;
        self.timeout += other.timeout;
        self.unexpected += other.unexpected;
        self.reconnects += other.reconnects;
        self.echo_us.extend(other.echo_us);
        for f in other.failures {
            if self.failures.len() < 10 {
                self.failures.push(f);
            }
        }
    }

    fn fail(&mut self, what: String) {
        self.unexpected += 1;
        if self.failures.len() < 10 {
            self.failures.push(what);
        }
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One keep-alive HTTP/1.1 connection, reopened when the server closes it.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    opened: u64,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: None,
            opened: 0,
        }
    }

    fn post(&mut self, body: &[u8]) -> io::Result<Response> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(NORMAL_TIMEOUT + 30)))?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::new(stream));
            self.opened += 1;
        }
        let result = self.exchange(body);
        let keep = matches!(&result, Ok(r) if r.header("connection") != Some("close"));
        if !keep {
            self.conn = None;
        }
        result
    }

    fn exchange(&mut self, body: &[u8]) -> io::Result<Response> {
        let conn = self.conn.as_mut().expect("connected");
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: shim\r\nContent-Type: application/json\r\n\
             x-internal-challenge: {KEY}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        conn.get_mut().write_all(&request)?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Err(io::Error::other("the connection ended inside the headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| io::Error::other("no content-length"))?;
        let mut body = vec![0; len];
        conn.read_exact(&mut body)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A small deterministic generator (xorshift64*), one per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A payload that starts with its request's token and then carries up to 2,000 characters of filler,
/// multi-byte UTF-8, quotes and newlines included.
fn payload(token: &str, rng: &mut Rng) -> String {
    const ALPHABET: [char; 12] = ['a', 'b', 'Z', '0', ' ', 'é', '✓', '"', '\\', '\n', '{', '|'];
    let len = (rng.next() % 2000) as usize;
    let mut p = format!("{token}|");
    p.extend((0..len).map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize]));
    p
}

/// Checks a response against what its function must return; `None` when it is right.
fn check(kind: Kind, token: &str, payload: &str, r: &Response) -> Option<String> {
    let error = r.header("x-shim-error");
    let message = || -> Option<String> {
        let v: Value = serde_json::from_slice(&r.body).ok()?;
        (v["code"] == r.status && v.as_object()?.len() == 2)
            .then(|| v["message"].as_str().map(str::to_string))?
    };
    let right = match kind {
        Kind::Echo => {
            r.status == 200
                && error.is_none()
                && r.header("content-type") == Some("text/plain; charset=utf-8")
                && r.body == payload.as_bytes()
        }
        Kind::Throw => {
            r.status == 500
                && error == Some("function-error")
                && message()
                    .is_some_and(|m| m.contains(&format!("RuntimeError: soak failure {token}")))
        }
        Kind::Sleep => {
            r.status == 500
                && error == Some("timeout")
                && message()
                    .is_some_and(|m| m == format!("execution timed out after {SLEEP_TIMEOUT} s"))
        }
    };
    (!right).then(|| {
        let body = String::from_utf8_lossy(&r.body);
        let cut: String = body.chars().take(200).collect();
        format!(
            "{kind:?} {token}: {} {:?} {cut:?}",
            r.status,
            error.unwrap_or("-")
        )
    })
}

/// One client: requests back to back on one keep-alive connection until `until`.
fn client(addr: SocketAddr, id: usize, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut http = Client::new(addr);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
    // Clients start at different places in the mix, so every mix of kinds runs at once.
    let mut n = id as u64;
    while Instant::now() < until {
        let kind = kind(n);
        let token = format!("c{id}-n{n}");
        n += 1;
        let payload = payload(&token, &mut rng);
        let (file, timeout) = match kind {
            Kind::Echo => ("echo.py", json!(NORMAL_TIMEOUT)),
            Kind::Throw => ("throws.py", json!(NORMAL_TIMEOUT)),
            Kind::Sleep => ("sleeps.py", json!(SLEEP_TIMEOUT.parse::<f64>().unwrap())),
        };
        let body = json!({"file": file, "payload": payload, "timeout": timeout}).to_string();
        let started = Instant::now();
        match http.post(body.as_bytes()) {
            Err(e) => tally.fail(format!("{kind:?} {token}: {e}")),
            Ok(r) => match check(kind, &token, &payload, &r) {
                Some(why) => tally.fail(why),
                None => match kind {
                    Kind::Echo => {
                        tally.ok += 1;
                        tally.echo_us.push(started.elapsed().as_micros() as u32);
                    }
                    Kind::Throw => tally.function_error += 1,
                    Kind::Sleep => tally.timeout += 1,
                },
            },
        }
    }
    tally.reconnects = http.opened.saturating_sub(1);
    tally
}

/// Runs `CONCURRENCY` clients for `duration`; their connections are closed when this returns.
fn load(addr: SocketAddr, duration: Duration) -> Tally {
    let until = Instant::now() + duration;
    let clients: Vec<_> = (0..CONCURRENCY)
        .map(|id| std::thread::spawn(move || client(addr, id, until)))
        .collect();
    let mut tally = Tally::default();
    for c in clients {
        tally.add(c.join().expect("a client thread"));
    }
    tally
}

/// What is measured of the shim at a quiet point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footprint {
    rss_kib: u64,
    fds: usize,
    children: usize,
    zombies: usize,
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("VmRSS of the shim")
}

fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the shim's fds")
        .count()
}

/// (children, zombies among them): processes whose parent is `pid`.
fn children_of(pid: i32) -> (usize, usize) {
    let mut kids = (0, 0);
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        if fields.next().and_then(|pp| pp.parse::<i32>().ok()) == Some(pid) {
            kids.0 += 1;
            if state == Some("Z") {
                kids.1 += 1;
            }
        }
    }
    kids
}

fn footprint(pid: i32) -> Footprint {
    let (children, zombies) = children_of(pid);
    Footprint {
        rss_kib: rss_kib(pid),
        fds: fds(pid),
        children,
        zombies,
    }
}

/// Every worker ready, per `/_/ready`.
fn all_ready(shim: &Shim) -> bool {
    let r = shim.get("/_/ready");
    r.status == 200 && r.json()["ready"] == WORKERS
}

/// Polls (bounded) until the shim is quiet: every worker ready, one child per worker, no zombie, and the same
/// descriptor count on consecutive looks. `want`, when given, is the footprint to get back to.
fn settle(shim: &Shim, want: Option<Footprint>) -> Footprint {
    let pid = shim.pid();
    let limit = Duration::from_secs(15);
    let started = Instant::now();
    let mut last = footprint(pid);
    loop {
        let ready = all_ready(shim);
        std::thread::sleep(Duration::from_millis(50));
        let now = footprint(pid);
        let quiet = ready
            && now.children == WORKERS
            && now.zombies == 0
            && now.fds == last.fds
            && want.is_none_or(|w| now.fds == w.fds && now.children == w.children);
        if quiet || started.elapsed() > limit {
            return now;
        }
        last = now;
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[test]
fn soak() {
    let seconds: f64 = std::env::var("SHIM_SOAK_SECONDS")
        .ok()
        .map(|s| s.parse().expect("SHIM_SOAK_SECONDS is a number of seconds"))
        .unwrap_or(15.0);
    let code = repo().join("tests/fixtures/soak");
    let workers = WORKERS.to_string();
    let shim = Shim::python(&[
        ("SHIM_CODE_PATH", code.to_str().unwrap()),
        ("SHIM_WORKERS", workers.as_str()),
    ])
    .ready();
    wait_for(Duration::from_secs(15), "every worker ready", || {
        all_ready(&shim).then_some(())
    });

    // Warm-up: the same load, so that the allocator, the connection buffers and the adapters' modules reach
    // their working set before the first measurement.
    let warm = load(shim.addr, WARM_UP);
    let start = settle(&shim, None);

    let began = Instant::now();
    let mut tally = load(shim.addr, Duration::from_secs_f64(seconds));
    let took = began.elapsed();
    let end = settle(&shim, Some(start));
    let warm_requests = warm.total();
    tally.add(Tally {
        unexpected: warm.unexpected,
        failures: warm.failures,
        ..Tally::default()
    });

    let mut echo = std::mem::take(&mut tally.echo_us);
    echo.sort_unstable();
    let requests = tally.total();
    let rate = requests as f64 / took.as_secs_f64();
    println!(
        "\nsoak: {CONCURRENCY} keep-alive clients, python adapter, {WORKERS} workers, mix 80/10/10\n\
         | figure | start | end |\n|---|---|---|\n\
         | duration | | {:.1} s |\n\
         | requests | | {requests} ({rate:.0} req/s; warm-up {}) |\n\
         | 200 echo | | {} (p50 {:.1} ms, p99 {:.1} ms) |\n\
         | 500 function-error (expected) | | {} |\n\
         | 500 timeout (expected) | | {} |\n\
         | unexpected | | {} |\n\
         | reconnects | | {} |\n\
         | shim VmRSS | {} KiB | {} KiB |\n\
         | shim open fds | {} | {} |\n\
         | shim children | {} | {} |\n\
         | zombies | {} | {} |",
        took.as_secs_f64(),
        warm_requests,
        tally.ok,
        percentile(&echo, 0.5),
        percentile(&echo, 0.99),
        tally.function_error,
        tally.timeout,
        tally.unexpected,
        tally.reconnects,
        start.rss_kib,
        end.rss_kib,
        start.fds,
        end.fds,
        start.children,
        end.children,
        start.zombies,
        end.zombies,
    );
    println!(
        "{}",
        json!({"soak": {
            "seconds": (took.as_secs_f64() * 10.0).round() / 10.0,
            "concurrency": CONCURRENCY,
            "workers": WORKERS,
            "requests": requests,
            "req_per_s": rate.round(),
            "ok": tally.ok,
            "function_error": tally.function_error,
            "timeout": tally.timeout,
            "unexpected": tally.unexpected,
            "reconnects": tally.reconnects,
            "echo_p50_ms": percentile(&echo, 0.5),
            "echo_p99_ms": percentile(&echo, 0.99),
            "rss_kib": [start.rss_kib, end.rss_kib],
            "fds": [start.fds, end.fds],
            "children": [start.children, end.children],
            "zombies": [start.zombies, end.zombies],
        }})
    );

    assert!(
        tally.unexpected == 0,
        "{} unexpected outcomes, first: {:#?}",
        tally.unexpected,
        tally.failures
    );
    assert!(
        tally.ok > 0 && tally.function_error > 0 && tally.timeout > 0,
        "every kind ran"
    );
    assert_eq!(end.fds, start.fds, "open descriptors back to the start");
    assert_eq!(
        end.children, start.children,
        "child processes back to the start"
    );
    assert_eq!((start.zombies, end.zombies), (0, 0), "no zombie");
    assert!(
        end.rss_kib < start.rss_kib + RSS_GROWTH_LIMIT_KIB,
        "VmRSS grew from {} KiB to {} KiB",
        start.rss_kib,
        end.rss_kib
    );
}
