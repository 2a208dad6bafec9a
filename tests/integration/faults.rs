//! Misbehaving adapters (`tests/fixtures/adapters/misbehave.py`): every failure is a 500 in the schema for
//! that request only, within its timeout plus a small margin, with no process left behind, and the next request
//! is served by a fresh adapter.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::*;

const MARGIN: Duration = Duration::from_millis(750);

struct Case {
    shim: Shim,
    pidfile: PathBuf,
}

impl Case {
    /// A shim serving `mode`, ready.
    fn new(mode: &str, env: &[(&str, &str)]) -> Case {
        let (shim, pidfile) = Case::launch(mode, env);
        Case {
            shim: shim.ready(),
            pidfile,
        }
    }

    /// A shim serving `mode`, not waited for.
    fn starting(mode: &str, env: &[(&str, &str)]) -> Case {
        let (shim, pidfile) = Case::launch(mode, env);
        Case { shim, pidfile }
    }

    fn launch(mode: &str, env: &[(&str, &str)]) -> (Shim, PathBuf) {
        let pidfile = temp_path("pids");
        let p = pidfile.to_string_lossy().into_owned();
        let mut all = vec![("FIXTURE_PIDFILE", p.as_str())];
        all.extend_from_slice(env);
        (Shim::fixture(mode, &all), pidfile)
    }

    fn post(&self, payload: &str, timeout: f64) -> Resp {
        self.shim
            .post(&json!({"payload": payload, "timeout": timeout}))
    }

    /// Sends a request with `timeout` seconds and checks the error, its timing, and the aftermath: every process
    /// of the failed adapter gone, and a fresh adapter serving. Returns the message.
    fn expect(&self, timeout: f64, code: u16, kind: &str, message: &str) -> String {
        self.expect_with("x", timeout, code, kind, message)
    }

    /// [`Case::expect`] with a payload.
    fn expect_with(
        &self,
        payload: &str,
        timeout: f64,
        code: u16,
        kind: &str,
        message: &str,
    ) -> String {
        let before = pids_in(&self.pidfile);
        let started = Instant::now();
        let m = self.post(payload, timeout).error(code, kind);
        let took = started.elapsed();
        assert!(m.contains(message), "{m:?} lacks {message:?}");
        assert!(
            took < Duration::from_secs_f64(timeout) + MARGIN,
            "answered after {took:?}"
        );
        if kind == "timeout" {
            assert!(took >= Duration::from_secs_f64(timeout), "early: {took:?}");
        }
        // Every process of the failed adapter is gone, grandchildren included.
        wait_all_dead(&before);
        self.recovers();
        m
    }

    /// Waits for a ready adapter, checks that it serves, and that no process the fixture recorded survives but
    /// that fresh adapter. Returns its pid.
    fn recovers(&self) -> i32 {
        let shim = &self.shim;
        wait_for(Duration::from_secs(15), "a ready adapter", || {
            (shim.get("/_/ready").status == 200).then_some(())
        });
        let r = self.post("well", 10.0);
        assert_eq!(r.status, 200, "the next request is served: {}", r.text());
        let v = r.json();
        assert_eq!(v["payload"], "well");
        let fresh = v["pid"].as_i64().expect("the adapter's pid") as i32;
        let others: Vec<i32> = pids_in(&self.pidfile)
            .into_iter()
            .filter(|p| *p != fresh)
            .collect();
        wait_all_dead(&others);
        fresh
    }

    /// The function log lines (the fixture's stderr), in order.
    fn function_lines(&self) -> Vec<String> {
        function_lines(&self.shim)
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // The shim first (its adapters die with it), so that nothing starts and records a pid after this; then
        // whatever a failed test left behind, which is no longer the shim's to reap.
        let shim = self.shim.pid();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(shim),
            nix::sys::signal::Signal::SIGKILL,
        );
        let started = Instant::now();
        while alive(shim) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        kill_leftovers(&self.pidfile);
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

/// SIGKILLs every live process a fixture recorded that is still one of its own (not a recycled pid).
fn kill_leftovers(pidfile: &Path) {
    for pid in pids_in(pidfile) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if alive(pid) && (cmdline.contains("misbehave.py") || cmdline.starts_with("sleep\0")) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn function_lines(shim: &Shim) -> Vec<String> {
    shim.log_events()
        .iter()
        .filter(|e| e["target"] == "function")
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

/// How many bytes of `c` the function log lines made only of `c` carry in total.
fn logged_bytes_of(lines: &[String], c: char) -> usize {
    lines
        .iter()
        .filter(|l| !l.is_empty() && l.chars().all(|x| x == c))
        .map(String::len)
        .sum()
}

/// The reply `spam` modes and `spam.py` send: `payload|` repeated past 1 MiB.
fn spam_reply(payload: &str) -> Vec<u8> {
    let unit = format!("{payload}|");
    unit.repeat((1 << 20) / unit.len() + 1).into_bytes()
}

/// The parent pid and the process group of `pid`, from /proc.
fn ppid_and_pgid(pid: i32) -> Option<(i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace().skip(1);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

#[test]
fn a_slow_adapter_is_killed_at_the_deadline() {
    let case = Case::new("slow", &[]);
    case.expect(1.0, 500, "timeout", "execution timed out after 1 s");
    case.expect(0.5, 500, "timeout", "execution timed out after 0.5 s");
    // A fresh adapter took over after each timeout.
    wait_for(Duration::from_secs(5), "a third adapter", || {
        (pids_in(&case.pidfile).len() >= 3).then_some(())
    });
    case.shim.wait_log("replacement", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("replacing the adapter: its request timed out"))
    });
}

#[test]
fn an_adapter_ignoring_sigterm_is_killed_after_the_grace() {
    let case = Case::new("ignore-term", &[("SHIM_KILL_GRACE", "0.3")]);
    case.expect(0.5, 500, "timeout", "timed out");
    case.expect(0.5, 500, "timeout", "timed out");
}

#[test]
fn a_crash_mid_reply_is_500_for_that_request_only() {
    let case = Case::new("crash", &[]);
    case.expect(10.0, 500, "adapter-error", "exited with status 3");
    case.expect(10.0, 500, "adapter-error", "exited with status 3");
}

#[test]
fn garbage_on_stdout_is_a_protocol_error() {
    let case = Case::new("garbage", &[]);
    case.expect(10.0, 500, "adapter-error", "broke the protocol");
    case.expect(10.0, 500, "adapter-error", "hello world");
}

#[test]
fn an_oversized_frame_is_refused_without_reading_it() {
    let case = Case::new("oversized", &[("SHIM_MAX_REPLY", "1048576")]);
    case.expect(
        10.0,
        500,
        "adapter-error",
        "over the limit of 1048576 bytes",
    );
}

#[test]
fn an_endless_header_line_is_refused() {
    let case = Case::new("long-header", &[]);
    case.expect(10.0, 500, "adapter-error", "longer than 256 bytes");
}

#[test]
fn a_reply_to_another_request_is_a_protocol_error() {
    let case = Case::new("wrong-id", &[]);
    case.expect(10.0, 500, "adapter-error", "expected RES or ERR");
}

#[test]
fn a_grandchild_holding_stdout_does_not_hide_the_crash() {
    // The adapter forks a sleeper that keeps stdout and stderr open, then dies: no EOF ever comes, yet the
    // exit is noticed, the group (sleeper included) is killed, and the sleeper is reaped.
    let case = Case::new("grandchild", &[]);
    case.expect(10.0, 500, "adapter-error", "exited with status 4");
    case.expect(10.0, 500, "adapter-error", "exited with status 4");
    let shim = case.shim.pid();
    wait_for(Duration::from_secs(5), "no zombie children", || {
        (!children(shim).into_iter().any(zombie)).then_some(())
    });
}

#[test]
fn noisy_stderr_does_not_block_or_corrupt() {
    let case = Case::new("noisy", &[]);
    for _ in 0..2 {
        let r = case.shim.post(&json!({"payload": "after 4 MiB of log"}));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["payload"], "after 4 MiB of log");
    }
    let lines = case
        .shim
        .log_events()
        .iter()
        .filter(|e| e["target"] == "function")
        .count();
    assert!(lines >= 1024, "only {lines} log lines");
}

#[test]
fn chatter_while_idle_replaces_the_adapter() {
    let case = Case::new("idle-chatter", &[]);
    let first = pids_in(&case.pidfile);
    let r = case.shim.post(&json!({}));
    assert_eq!(r.text(), "ok");
    case.shim.wait_log("the idle chatter", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("wrote to stdout while it had no request"))
    });
    wait_all_dead(&first);
    let shim = &case.shim;
    wait_for(Duration::from_secs(5), "a fresh adapter", || {
        (shim.get("/_/ready").status == 200).then_some(())
    });
    assert_eq!(case.shim.post(&json!({})).text(), "ok");
}

#[test]
fn the_kv_encoding_carries_every_field() {
    let shim = Shim::fixture("echo-kv", &[]).ready();
    let r = shim.post(&json!({
        "path": "/p", "file": "f", "payload": "multi\nline ✓",
        "env": {"A": "1", "B": "two words"}, "headers": {"h": "v"}, "timeout": 3
    }));
    let v = r.json();
    assert_eq!(v["payload"], "multi\nline ✓");
    assert_eq!(v["env"], json!({"A": "1", "B": "two words"}));
    assert_eq!(v["headers"], json!({"h": "v"}));
    assert_eq!(
        (v["path"].as_str(), v["file"].as_str()),
        (Some("/p"), Some("f"))
    );
    assert_eq!(v["timeout_ms"], "3000");
}

/// Startup failures: `/_/ready` stays 503 and waiting requests get 500 saying why, not a hang.
fn failing_start(mode: &str, env: &[(&str, &str)], why: &str) {
    let shim = Shim::fixture(mode, env);
    shim.get("/_/ready").error(503, "not-ready");
    let started = Instant::now();
    let m = shim
        .post(&json!({"timeout": 30}))
        .error(500, "adapter-error");
    assert!(
        m.contains("the adapter failed to start") && m.contains(why),
        "{m}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(shim.get("/_/health").status, 200, "the shim itself is up");
    shim.get("/_/ready").error(503, "not-ready");
}

#[test]
fn an_adapter_that_exits_at_start_is_retried_and_reported() {
    failing_start("exit-at-start", &[], "exited with status 1 before READY");
}

#[test]
fn a_bad_handshake_is_reported() {
    failing_start("bad-handshake", &[], "bad handshake");
}

#[test]
fn a_wrong_protocol_version_is_reported() {
    failing_start("wrong-version", &[], "protocol version 2");
}

#[test]
fn an_adapter_closing_its_stdout_before_ready_is_reported_at_once() {
    failing_start("close-stdout", &[], "it closed its stdout before READY");
}

#[test]
fn a_silent_adapter_hits_the_startup_timeout() {
    failing_start(
        "silent",
        &[("SHIM_STARTUP_TIMEOUT", "0.5")],
        "no READY within the startup timeout of 0.5 s",
    );
}

/// Sends `payload` with `timeout` on another thread while `during` runs; returns the response and its time.
fn during_request<T>(case: &Case, timeout: f64, during: impl FnOnce() -> T) -> (Resp, Duration, T) {
    std::thread::scope(|s| {
        let request = s.spawn(|| {
            let started = Instant::now();
            let r = case.post("x", timeout);
            (r, started.elapsed())
        });
        let seen = during();
        let (r, took) = request.join().expect("the request thread");
        (r, took, seen)
    })
}

/// Live processes whose process group is `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|p| alive(*p) && ppid_and_pgid(*p).is_some_and(|(_, g)| g == pgid))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_adapter_exiting_inside_its_handshake_is_reported_then_replaced() {
    for mode in ["exit-in-ready-header", "exit-in-ready-body"] {
        let gate = temp_path("gate");
        let g = gate.to_string_lossy().into_owned();
        let case = Case::starting(mode, &[("FIXTURE_GATE", g.as_str())]);
        let started = Instant::now();
        let m = case.post("x", 10.0).error(500, "adapter-error");
        assert!(started.elapsed() < Duration::from_secs(10), "{mode}");
        assert!(m.contains("the adapter failed to start"), "{mode}: {m}");
        // Either way, how it ended is said.
        assert!(
            m.contains("stdout ended in the middle of a frame; it exited with status 5")
                || m.contains("exited with status 5 before READY"),
            "{mode}: {m}"
        );
        case.shim.get("/_/ready").error(503, "not-ready");
        // Every adapter that tried has gone by itself.
        let tried = pids_in(&case.pidfile);
        assert!(!tried.is_empty(), "{mode}");
        wait_all_dead(&tried);
        // Once an adapter completes its handshake, the pool serves again.
        std::fs::write(&gate, "").unwrap();
        case.recovers();
        let _ = std::fs::remove_file(&gate);
    }
}

#[test]
fn part_of_a_reply_then_a_hang_times_out_and_the_group_is_killed() {
    for mode in ["partial-header", "partial-body"] {
        let case = Case::new(mode, &[]);
        case.expect(1.0, 500, "timeout", "execution timed out after 1 s");
        // The adapter, the sleeper it started in its group (both dead), and the fresh adapter.
        assert!(pids_in(&case.pidfile).len() >= 3, "{mode}");
    }
}

#[test]
fn the_reply_limit_is_exact() {
    let case = Case::new("sized", &[("SHIM_MAX_REPLY", "1048576")]);
    let r = case.post("1048576", 10.0);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body.len(), 1 << 20);
    // One byte more is refused without being read; the adapter blocked writing it is killed.
    case.expect_with(
        "1048577",
        10.0,
        500,
        "adapter-error",
        "a frame body of 1048577 bytes is over the limit of 1048576 bytes",
    );
}

#[test]
fn megabytes_on_stderr_and_the_redirected_stdout_leave_the_reply_intact() {
    let case = Case::new("spam", &[]);
    let adapter = case.recovers();
    for payload in ["intact ✓", "again"] {
        let r = case.post(payload, 30.0);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-shim-error"), None);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(
            r.body == spam_reply(payload),
            "the reply is not intact: {} bytes, starting {:?}",
            r.body.len(),
            String::from_utf8_lossy(&r.body[..r.body.len().min(80)])
        );
    }
    assert_eq!(case.recovers(), adapter, "one adapter served throughout");
    // Nothing was lost on the way to the log either: 3 MiB of 1 KiB lines on each of fd 1 and fd 2, a 1 MiB
    // line (logged in pieces) and 2 MiB from a child, per request.
    wait_for(Duration::from_secs(10), "all the output in the log", || {
        let lines = case.function_lines();
        let got = [
            logged_bytes_of(&lines, 's'),
            logged_bytes_of(&lines, 'L'),
            logged_bytes_of(&lines, 'c'),
        ];
        (got == [2 * 6 * 1024 * 1023, 2 << 20, 4 << 20]).then_some(())
    });
}

#[test]
fn a_python_function_printing_megabytes_gets_its_reply_intact() {
    let dir = repo().join("tests/fixtures/python");
    let shim = Shim::start(&[
        ("SHIM_ADAPTER", "python"),
        ("SHIM_CODE_PATH", dir.to_str().unwrap()),
    ])
    .ready();
    for payload in ["py ✓", "again"] {
        let r = shim.post(&json!({"file": "spam.py", "payload": payload}));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-shim-error"), None);
        assert!(
            r.body == spam_reply(payload),
            "the reply is not intact: {} bytes",
            r.body.len()
        );
    }
    // One adapter served both: nothing was taken for a protocol violation.
    let pids = wait_for(Duration::from_secs(5), "two execution lines", || {
        let pids: Vec<Value> = shim
            .log_events()
            .into_iter()
            .filter(|e| e["message"] == "execution")
            .map(|e| e["pid"].clone())
            .collect();
        (pids.len() == 2).then_some(pids)
    });
    assert_eq!(pids[0], pids[1]);
    // print, sys.stderr, os.write(1) and a child's stdout all reached the log, whole.
    wait_for(Duration::from_secs(10), "all the output in the log", || {
        let lines = function_lines(&shim);
        let got = [
            logged_bytes_of(&lines, 'p'),
            logged_bytes_of(&lines, 'e'),
            logged_bytes_of(&lines, 'w'),
            logged_bytes_of(&lines, 'k'),
        ];
        (got == [2 * 2048 * 1023, 2 * 1024 * 1023, 2 << 20, 2 << 20]).then_some(())
    });
}

#[test]
fn megabytes_of_log_on_the_protocol_stream_are_a_protocol_error() {
    let case = Case::new("spam-stdout", &[]);
    case.expect(10.0, 500, "adapter-error", "broke the protocol");
}

#[test]
fn two_hundred_children_die_with_their_adapter() {
    let case = Case::new("fork-many", &[]);
    let adapter = case.recovers();
    let (r, took, kids) = during_request(&case, 3.0, || {
        wait_for(Duration::from_secs(5), "200 children in the group", || {
            let kids: Vec<i32> = pids_in(&case.pidfile)
                .into_iter()
                .filter(|p| alive(*p) && ppid_and_pgid(*p) == Some((adapter, adapter)))
                .collect();
            (kids.len() == 200).then_some(kids)
        })
    });
    r.error(500, "timeout");
    assert!(took < Duration::from_secs(3) + MARGIN, "{took:?}");
    wait_all_dead(&kids);
    case.recovers();
    let shim = case.shim.pid();
    wait_for(Duration::from_secs(5), "no zombie children", || {
        (!children(shim).into_iter().any(zombie)).then_some(())
    });
}

#[test]
fn a_fork_bomb_is_stopped_by_the_process_limit() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: switching users needs root (CI runs as root)");
        return;
    }
    if !matches!(nix::unistd::User::from_name("nobody"), Ok(Some(_))) {
        println!("skipped: there is no user nobody");
        return;
    }
    const LIMIT: usize = 24;
    // PATH without /root: the fixture's `env python3` must find an interpreter nobody may run.
    let case = Case::new(
        "fork-bomb",
        &[
            ("SHIM_USER", "nobody"),
            ("SHIM_LIMIT_PROCESSES", "24"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ],
    );
    let adapter = case.recovers();
    let (r, took, (line, group)) = during_request(&case, 3.0, || {
        let line = wait_for(Duration::from_secs(5), "the bomb to hit the limit", || {
            function_lines(&case.shim)
                .into_iter()
                .find(|l| l.starts_with("fork-bomb stopped"))
        });
        (line, group_members(adapter))
    });
    assert!(line.contains("Resource temporarily unavailable"), "{line}");
    assert!(
        (2..=LIMIT).contains(&group.len()),
        "{} processes in the bomb's group",
        group.len()
    );
    r.error(500, "timeout");
    assert!(took < Duration::from_secs(3) + MARGIN, "{took:?}");
    wait_all_dead(&group);
    case.recovers();
}

#[test]
fn an_adapter_allocating_without_bound_is_stopped_by_the_memory_limit() {
    let case = Case::new("hog", &[("SHIM_LIMIT_MEMORY", "268435456")]);
    case.expect(10.0, 500, "adapter-error", "exited with status 1");
    wait_for(Duration::from_secs(5), "the MemoryError in the log", || {
        case.function_lines()
            .iter()
            .any(|l| l.contains("MemoryError"))
            .then_some(())
    });
}

#[test]
fn an_adapter_that_closed_its_stdin_costs_the_next_request_only() {
    let case = Case::new("close-stdin", &[]);
    let r = case.post("before", 10.0);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["payload"], "before");
    // The next request cannot be written: that request fails at once, a fresh adapter takes over.
    let m = case.expect(10.0, 500, "adapter-error", "talking to the adapter failed");
    assert!(
        m.contains("writing the request to its stdin") && m.contains("Broken pipe"),
        "{m}"
    );
}

#[test]
fn a_daemon_that_left_the_group_is_killed_too() {
    // `daemon`: the classic double fork, so the daemon's parent is gone and the shim inherited it.
    // `daemon-kept`: its parent stays in the adapter's group, and the daemon comes to the shim only when the
    // group is killed.
    for mode in ["daemon", "daemon-kept"] {
        let case = Case::new(mode, &[]);
        let adapter = case.recovers();
        let shim = case.shim.pid();
        let (r, took, daemon) = during_request(&case, 1.5, || {
            let daemon: i32 = wait_for(Duration::from_secs(5), "the daemon", || {
                function_lines(&case.shim).into_iter().find_map(|l| {
                    l.strip_prefix("daemon ")?
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()
                })
            });
            let (ppid, pgid) = ppid_and_pgid(daemon).expect("the daemon runs");
            assert_ne!(pgid, adapter, "{mode}: the daemon left the adapter's group");
            if mode == "daemon" {
                assert_eq!(ppid, shim, "the daemon was re-parented to the shim");
            }
            daemon
        });
        r.error(500, "timeout");
        assert!(
            took < Duration::from_secs_f64(1.5) + MARGIN,
            "{mode}: {took:?}"
        );
        wait_for(Duration::from_secs(10), "the daemon to be gone", || {
            (!alive(daemon)).then_some(())
        });
        case.recovers();
    }
}
