//! Misbehaving adapters (`tests/fixtures/adapters/misbehave.py`): every failure is a 500 in the schema for
//! that request only, within its timeout plus a small margin, with no process left behind, and the next request
//! is served by a fresh adapter.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

const MARGIN: Duration = Duration::from_millis(750);

struct Case {
    shim: Shim,
    pidfile: PathBuf,
}

impl Case {
    fn new(mode: &str, env: &[(&str, &str)]) -> Case {
        let pidfile = temp_path("pids");
        let p = pidfile.to_string_lossy().into_owned();
        let mut all = vec![("FIXTURE_PIDFILE", p.as_str())];
        all.extend_from_slice(env);
        Case {
            shim: Shim::fixture(mode, &all).ready(),
            pidfile,
        }
    }

    /// Sends a request with `timeout` seconds and checks the error, its timing, and the aftermath.
    fn expect(&self, timeout: f64, code: u16, kind: &str, message: &str) {
        let before = pids_in(&self.pidfile);
        let started = Instant::now();
        let m = self
            .shim
            .post(&json!({"payload": "x", "timeout": timeout}))
            .error(code, kind);
        let took = started.elapsed();
        assert!(m.contains(message), "{m:?} lacks {message:?}");
        assert!(
            took < Duration::from_secs_f64(timeout) + MARGIN,
            "answered after {took:?}"
        );
        // Every process of the failed adapter is gone, grandchildren included.
        wait_all_dead(&before);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pidfile);
    }
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
fn a_silent_adapter_hits_the_startup_timeout() {
    failing_start(
        "silent",
        &[("SHIM_STARTUP_TIMEOUT", "0.5")],
        "no READY within the startup timeout of 0.5 s",
    );
}
