//! Least privilege: adapters run with no-new-privs, as the configured user without capabilities, under the
//! configured rlimits; the key never reaches logs, error messages or the adapter's environment; a request's
//! env reaches neither the next request nor the shim's own environment.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

fn privileges(env: &[(&str, &str)]) -> Shim {
    let dir = repo().join("tests/fixtures/python");
    let dir = dir.to_str().unwrap();
    let mut all = vec![
        ("SHIM_ADAPTER", "python"),
        // /usr/bin/python3: a pyenv shim under /root is not reachable by another user.
        ("SHIM_INTERPRETER", "/usr/bin/python3"),
        ("SHIM_CODE_PATH", dir),
        ("APPWRITE_ENTRYPOINT_NAME", "privileges.py"),
    ];
    all.extend_from_slice(env);
    Shim::start(&all).ready()
}

#[test]
fn adapters_have_no_new_privs_and_every_configured_rlimit() {
    let shim = privileges(&[
        ("SHIM_LIMIT_MEMORY", "1073741824"),
        ("SHIM_LIMIT_FILES", "100"),
        ("SHIM_LIMIT_PROCESSES", "5000"),
        ("SHIM_LIMIT_CPU", "600"),
    ]);
    let v = shim.post(&json!({})).json();
    assert_eq!(v["no_new_privs"], "1", "{v}");
    assert_eq!(v["as"], 1073741824u64);
    assert_eq!(v["nofile"], 100);
    assert_eq!(v["nproc"], 5000);
    assert_eq!(v["cpu"], 600);
}

#[test]
fn as_another_user_adapters_hold_no_capabilities() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: switching users needs root (CI runs as root)");
        return;
    }
    let shim = privileges(&[("SHIM_USER", "nobody")]);
    let v = shim.post(&json!({})).json();
    assert_eq!(
        (v["uid"].as_u64(), v["euid"].as_u64()),
        (Some(65534), Some(65534))
    );
    assert_eq!(v["cap_eff"], "0000000000000000", "{v}");
    assert_eq!(v["no_new_privs"], "1");
}

#[test]
fn the_cpu_limit_stops_a_spinning_function_and_the_next_request_is_served() {
    let shim = privileges(&[("SHIM_LIMIT_CPU", "1")]);
    let m = shim
        .post(&json!({"payload": "spin", "timeout": 30}))
        .error(500, "adapter-error");
    // SIGXCPU at the soft limit (== the hard limit, so SIGKILL right after if it is caught).
    assert!(m.contains("SIGXCPU") || m.contains("SIGKILL"), "{m}");
    assert_eq!(shim.post(&json!({})).json()["cpu"], 1);
}

#[test]
fn the_key_never_reaches_logs_errors_or_the_adapter() {
    const WRONG: &str = "wrong-key-that-must-not-be-logged";
    let shim = privileges(&[("SHIM_LOG", "trace")]);
    let mut bodies = Vec::new();
    // Every path a key or a key attempt goes through: right, wrong, missing; errors of each kind.
    bodies.push(
        shim.post_with(&[("x-internal-challenge", WRONG)], b"{}")
            .text(),
    );
    bodies.push(shim.post_with(&[], b"{}").text());
    bodies.push(
        shim.post_with(&[("x-internal-challenge", KEY)], b"{")
            .text(),
    );
    bodies.push(shim.post(&json!({"file": "missing.py"})).text());
    bodies.push(
        shim.post(&json!({"payload": "spin", "timeout": 0.2}))
            .text(),
    );
    let v = shim
        .post(&json!({"headers": {"x-internal-challenge": "relayed"}}))
        .json();
    let env = v["env"].as_object().unwrap();
    assert!(env.keys().all(|k| !k.contains("RUNTIME_KEY")), "{env:?}");
    assert!(!v.to_string().contains(KEY), "the adapter saw the key");
    for body in &bodies {
        assert!(!body.contains(KEY) && !body.contains(WRONG), "{body}");
    }
    // Everything logged so far, at trace level.
    shim.wait_log("the timed-out request's line", |e| e["error"] == "timeout");
    let logs = shim.logs().join("\n");
    assert!(
        logs.len() > 1000,
        "trace logging was on: {} bytes",
        logs.len()
    );
    assert!(!logs.contains(KEY), "the key is in the log");
    assert!(!logs.contains(WRONG), "a key attempt is in the log");
}

#[test]
fn request_env_reaches_neither_the_next_request_nor_the_shims_own_env() {
    let shim = privileges(&[]);
    let v = shim
        .post(&json!({"env": {"REQUEST_ONLY": "first"}, "payload": "setenv"}))
        .json();
    assert_eq!(v["req_env"], json!({"REQUEST_ONLY": "first"}));
    assert_eq!(
        v["env"]["REQUEST_ONLY"],
        Value::Null,
        "request env is request.env, not os.environ"
    );
    let v = shim.post(&json!({"env": {"OTHER": "second"}})).json();
    assert_eq!(
        v["req_env"],
        json!({"OTHER": "second"}),
        "nothing of the first request"
    );
    let own = std::fs::read(format!("/proc/{}/environ", shim.pid())).unwrap();
    let own = String::from_utf8_lossy(&own);
    assert!(
        !own.contains("REQUEST_ONLY") && !own.contains("LEAK_PROBE"),
        "{own}"
    );
}

#[test]
fn adapters_die_with_the_shim_even_when_it_is_killed() {
    let pidfile = temp_path("pids");
    let p = pidfile.to_string_lossy().into_owned();
    let mut shim = Shim::fixture(
        "echo",
        &[("FIXTURE_PIDFILE", p.as_str()), ("SHIM_WORKERS", "2")],
    )
    .ready();
    let adapters = wait_for(Duration::from_secs(10), "both adapters' pids", || {
        let pids = pids_in(&pidfile);
        (pids.len() == 2).then_some(pids)
    });
    assert!(adapters.iter().all(|&pid| alive(pid)));
    // SIGKILL: the shim cleans up nothing; the parent-death signal does it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    shim.wait_exit(Duration::from_secs(5));
    wait_all_dead(&adapters);
    let _ = std::fs::remove_file(&pidfile);
}
