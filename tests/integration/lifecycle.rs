//! Process duties: graceful SIGTERM, reaping orphans, the request log, and `dev`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// Starts a `delay` fixture request in the background and returns once the adapter has it.
fn sigterm_during_a_request(
    grace: &str,
    delay: &str,
) -> (Resp, Duration, std::process::ExitStatus, Vec<i32>) {
    let seen = temp_path("requests");
    let pids = temp_path("pids");
    let (seen_s, pids_s) = (
        seen.to_string_lossy().into_owned(),
        pids.to_string_lossy().into_owned(),
    );
    let mut shim = Shim::fixture(
        "delay",
        &[
            ("SHIM_WORKERS", "2"),
            ("SHIM_SHUTDOWN_GRACE", grace),
            ("FIXTURE_REQFILE", &seen_s),
            ("FIXTURE_PIDFILE", &pids_s),
        ],
    )
    .ready();
    let (reply, took) = std::thread::scope(|s| {
        let shim_ref = &shim;
        let running = s.spawn(move || shim_ref.post(&json!({"payload": delay, "timeout": 120})));
        wait_for(
            Duration::from_secs(5),
            "the adapter to take the request",
            || std::fs::metadata(&seen).ok().filter(|m| m.len() > 0),
        );
        let started = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(shim_ref.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        // New connections are refused once the listener is closed.
        wait_for(Duration::from_secs(5), "the listener to close", || {
            std::net::TcpStream::connect(shim_ref.addr)
                .is_err()
                .then_some(())
        });
        (running.join().unwrap(), started.elapsed())
    });
    let status = shim.wait_exit(Duration::from_secs(10));
    let adapters = pids_in(&pids);
    assert_eq!(adapters.len(), 2);
    wait_all_dead(&adapters);
    let _ = (std::fs::remove_file(&seen), std::fs::remove_file(&pids));
    shim.wait_log("the last log line", |e| e["message"] == "stopped");
    (reply, took, status, adapters)
}

#[test]
fn sigterm_finishes_in_flight_requests_then_stops_every_adapter() {
    let (reply, took, status, _) = sigterm_during_a_request("8", "1");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "woke");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(status.success(), "{status}");
}

#[test]
fn sigterm_past_the_grace_abandons_a_long_request() {
    let (reply, took, status, _) = sigterm_during_a_request("0.5", "60");
    reply.error(503, "shutting-down");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(status.success(), "{status}");
}

#[test]
fn orphans_are_reaped() {
    let dir = repo().join("tests/fixtures/python");
    let shim = Shim::start(&[
        ("SHIM_ADAPTER", "python"),
        ("SHIM_CODE_PATH", dir.to_str().unwrap()),
    ])
    .ready();
    for _ in 0..3 {
        assert_eq!(shim.post(&json!({"file": "orphan.py"})).text(), "orphaned");
    }
    // The orphaned sleepers were re-parented to the shim (a child subreaper) and must not stay zombies.
    wait_for(Duration::from_secs(5), "orphans to be reaped", || {
        let kids = children(shim.pid());
        (kids.len() == 1 && !kids.iter().any(|p| zombie(*p))).then_some(())
    });
}

#[test]
fn one_log_line_per_execution_with_id_status_duration_and_pid() {
    let shim = Shim::python(&[]).ready();
    let r = shim.post(&json!({"file": "seed.py"}));
    assert_eq!(r.status, 200);
    let worker = children(shim.pid())[0];
    let e = shim.wait_log("the execution line", |e| e["message"] == "execution");
    assert_eq!(e["status"], 200);
    assert_eq!(e["pid"], worker);
    assert!(e["req"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        e["duration_ms"]
            .as_str()
            .is_some_and(|d| d.parse::<f64>().is_ok())
    );
    assert_eq!(e["level"], "INFO");
    shim.post(&json!({"file": "throws.py"}));
    let e = shim.wait_log("the failed execution", |e| {
        e["message"] == "execution" && e["status"] == 500
    });
    assert_eq!(e["error"], "function-error");
}

#[test]
fn dev_serves_a_folder_and_prints_a_working_curl_line() {
    for (lang, message) in [
        ("python", "Hello from Python!"),
        ("node", "Hello from Node!"),
    ] {
        let folder = repo().join("examples").join(lang);
        let shim = Shim::launch(
            &["dev", folder.to_str().unwrap(), "--port", "0"],
            &[("SHIM_LOG_FORMAT", "json"), ("SHIM_WORKERS", "1")],
        )
        .ready();
        let out = wait_for(Duration::from_secs(5), "the curl line", || {
            let out = shim.stdout();
            out.contains("curl").then_some(out)
        });
        assert!(out.contains(&format!("http://{}/", shim.addr)), "{out}");
        assert_eq!(
            shim.addr.ip().to_string(),
            "127.0.0.1",
            "dev binds loopback"
        );
        let key = out
            .split("x-internal-challenge: ")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("the key in the curl line");
        let r = shim.post_with(
            &[("x-internal-challenge", key)],
            br#"{"payload":"Hello World! 2","env":{"ENV1":"Hello World!"}}"#,
        );
        assert_eq!(r.status, 200, "{lang}: {}", r.text());
        let v = r.json();
        assert_eq!(v["message"], message);
        assert_eq!(v["payload"], "Hello World! 2");
        assert_eq!(v["env1"], "Hello World!");
        assert_eq!(shim.post(&json!({})).status, 401, "dev still checks a key");
    }
}

#[test]
fn adapters_run_as_the_configured_user_with_limits() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: switching users needs root (CI runs as root)");
        return;
    }
    let dir = repo().join("tests/fixtures/python");
    // /usr/bin/python3: a pyenv shim under /root is not reachable by nobody.
    let shim = Shim::start(&[
        ("SHIM_ADAPTER", "python"),
        ("SHIM_INTERPRETER", "/usr/bin/python3"),
        ("SHIM_CODE_PATH", dir.to_str().unwrap()),
        ("SHIM_USER", "nobody"),
        ("SHIM_LIMIT_FILES", "64"),
        ("SHIM_LIMIT_MEMORY", "536870912"),
    ])
    .ready();
    let v = shim.post(&json!({"file": "whoami.py"})).json();
    assert_eq!(v["uid"], 65534, "{v}");
    assert_eq!(v["groups"], json!([]), "no supplementary groups: {v}");
    assert_eq!(v["nofile"], 64);
    assert_eq!(v["key_in_env"], false);
    let m = shim
        .post(&json!({"file": "whoami.py", "payload": "hog"}))
        .error(500, "function-error");
    assert!(m.contains("MemoryError"), "{m}");
    assert_eq!(
        shim.post(&json!({"file": "whoami.py"})).json()["uid"],
        65534
    );
}

#[test]
fn sigterm_drains_for_the_delay_then_closes_the_listener_and_exits_0() {
    let mut shim = Shim::python(&[("SHIM_DRAIN_DELAY", "1.5")]).ready();
    let signalled = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // During the delay: not ready, so a load balancer takes the replica out, but executions are served.
    let r = wait_for(Duration::from_secs(2), "/_/ready to say draining", || {
        let r = shim.get("/_/ready");
        (r.status == 503).then_some(r)
    });
    r.error(503, "draining");
    assert_eq!(shim.get("/_/health").status, 200);
    let r = shim.post(&json!({"file": "seed.py", "payload": "during the drain"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["payload"], "during the drain");
    assert!(
        signalled.elapsed() < Duration::from_millis(1400),
        "the checks ran within the delay"
    );
    // After it: the listener is closed, the shim stops cleanly.
    wait_for(Duration::from_secs(5), "the listener to close", || {
        std::net::TcpStream::connect(shim.addr)
            .is_err()
            .then_some(())
    });
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        signalled.elapsed()
    );
    let status = shim.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    shim.wait_log("the draining line", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("draining"))
    });
}
