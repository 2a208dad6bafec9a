//! `SHIM_PROTOCOL=http` against the real binary, with the checks of Knative's runtime contract that apply to
//! a container: it listens on `PORT`; any method and path reach the function with every header; probes answer
//! without a secret; the platform's variables reach the function, the shim's own do not; logs are lines on
//! stdout; on SIGTERM requests in flight finish and the process exits 0.

use std::time::{Duration, Instant};

use runtime_shim::conformance::client;
use serde_json::Value;

use crate::util::*;

fn fixture() -> String {
    repo()
        .join("tests/fixtures/http")
        .to_string_lossy()
        .into_owned()
}

fn http_shim(env: &[(&str, &str)]) -> Shim {
    let code = fixture();
    let mut all = vec![
        ("SHIM_PROTOCOL", "http"),
        ("SHIM_ADAPTER", "python"),
        ("SHIM_CODE_PATH", code.as_str()),
        ("SHIM_ENTRYPOINT", "main.py"),
        ("SHIM_HOST", "127.0.0.1"),
        ("SHIM_PORT", "0"),
        ("SHIM_LOG_FORMAT", "json"),
        ("SHIM_WORKERS", "1"),
    ];
    for (k, v) in env {
        all.retain(|(name, _)| name != k);
        all.push((k, v));
    }
    Shim::launch(&[], &all).ready()
}

fn send(shim: &Shim, method: &str, target: &str, headers: &[(&str, &str)]) -> client::Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    client::request(
        shim.addr,
        method,
        target,
        &headers,
        b"body",
        Duration::from_secs(30),
    )
    .expect("request")
}

#[test]
fn it_listens_on_port_when_set() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port_s = port.to_string();
    // PORT decides when SHIM_PORT is not set.
    let code = fixture();
    let shim = Shim::launch(
        &[],
        &[
            ("SHIM_PROTOCOL", "http"),
            ("SHIM_ADAPTER", "python"),
            ("SHIM_CODE_PATH", &code),
            ("SHIM_ENTRYPOINT", "main.py"),
            ("SHIM_HOST", "127.0.0.1"),
            ("PORT", &port_s),
            ("SHIM_LOG_FORMAT", "json"),
            ("SHIM_WORKERS", "1"),
        ],
    )
    .ready();
    assert_eq!(shim.addr.port(), port);
    assert_eq!(send(&shim, "GET", "/", &[]).status, 200);
}

#[test]
fn any_method_and_path_reach_the_function_with_every_header() {
    let shim = http_shim(&[]);
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let r = send(
            &shim,
            method,
            "/a/b?x=1&y",
            &[
                ("x-open-runtimes-custom", "kept"),
                ("x-forwarded-proto", "https"),
                ("host", "fn.example.com"),
            ],
        );
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["method"], method);
        assert_eq!(v["path"], "/a/b");
        assert_eq!(v["query"], serde_json::json!({"x": "1", "y": ""}));
        assert_eq!(v["url"], "https://fn.example.com/a/b?x=1&y");
        assert_eq!(v["headers"]["x-open-runtimes-custom"], "kept");
        assert_eq!(v["body"], "body");
        assert!(
            r.header("x-shim-execution-id")
                .is_some_and(|id| id.len() == 32)
        );
    }
}

#[test]
fn a_configured_secret_is_a_bearer_token_and_probes_need_none() {
    let shim = http_shim(&[("SHIM_SECRET", "tok3n")]);
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("tok3n"),
        Some("Basic tok3n"),
    ] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let r = send(&shim, "GET", "/", &headers);
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.header("x-shim-error"), Some("unauthorized"));
    }
    let r = send(&shim, "GET", "/", &[("authorization", "Bearer tok3n")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(shim.get("/_/health").status, 200);
    assert_eq!(shim.get("/_/ready").status, 200);
}

#[test]
fn platform_variables_reach_the_function_and_the_shims_do_not() {
    let shim = http_shim(&[
        ("K_SERVICE", "svc"),
        ("K_REVISION", "svc-00001"),
        ("K_CONFIGURATION", "svc"),
        ("FLY_APP_NAME", "app"),
        ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ("SHIM_SECRET", "s"),
    ]);
    let r = send(
        &shim,
        "GET",
        "/",
        &[("x-action", "env"), ("authorization", "Bearer s")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["K_SERVICE"], "svc");
    assert_eq!(v["K_REVISION"], "svc-00001");
    assert_eq!(v["K_CONFIGURATION"], "svc");
    assert_eq!(v["FLY_APP_NAME"], "app");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_NAME"], "fn");
    assert_eq!(v["SHIM_SECRET"], Value::Null);
    assert_eq!(v["SHIM_PROTOCOL"], Value::Null);
}

/// The JSON lines of stdout that belong to `id`.
fn lines_of(shim: &Shim, id: &str) -> Vec<Value> {
    shim.stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["execution"] == id)
        .collect()
}

#[test]
fn logs_are_json_lines_on_stdout_under_the_execution_id() {
    let shim = http_shim(&[]);
    let r = send(&shim, "POST", "/", &[("x-action", "log")]);
    assert_eq!((r.status, r.text().as_str()), (200, "logged"));
    let id = r.header("x-shim-execution-id").unwrap().to_string();
    let lines = wait_for(Duration::from_secs(5), "three log lines", || {
        let l = lines_of(&shim, &id);
        (l.len() >= 3).then_some(l)
    });
    let shown: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap().into(),
                l["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("log".to_string(), r#"hello {"a":1}"#.to_string()),
            ("error".into(), "oops".into()),
            ("native".into(), "native line".into()),
        ]
    );
}

#[test]
fn a_failure_keeps_its_details_in_the_log_and_a_timeout_answers_at_the_deadline() {
    // A limit long enough for the fresh adapter that follows the timeout to start on a loaded machine.
    let shim = http_shim(&[("SHIM_DEFAULT_TIMEOUT", "3")]);
    let r = send(&shim, "POST", "/", &[("x-action", "throw")]);
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("an internal detail"), "{}", r.text());
    let id = r.header("x-shim-execution-id").unwrap().to_string();
    wait_for(Duration::from_secs(5), "the error line", || {
        lines_of(&shim, &id)
            .iter()
            .any(|l| {
                l["stream"] == "error"
                    && l["message"]
                        .as_str()
                        .unwrap()
                        .contains("an internal detail")
            })
            .then_some(())
    });
    let started = Instant::now();
    let r = send(&shim, "GET", "/?s=20", &[("x-action", "slow")]);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-shim-error"), Some("timeout"));
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(6)).contains(&started.elapsed()),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(send(&shim, "GET", "/", &[]).status, 200);
}

#[test]
fn on_sigterm_a_request_in_flight_finishes_and_the_process_exits_0() {
    let mut shim = http_shim(&[]);
    let addr = shim.addr;
    let marker = temp_path("http-running");
    let marker_s = marker.to_string_lossy().into_owned();
    let inflight = std::thread::spawn(move || {
        client::request(
            addr,
            "GET",
            "/?s=1",
            &[
                ("x-action".into(), "slow".into()),
                ("x-marker".into(), marker_s),
            ],
            b"",
            Duration::from_secs(30),
        )
        .unwrap()
    });
    // Once the function runs, ask the shim to stop.
    wait_for(Duration::from_secs(10), "the function to start", || {
        marker.exists().then_some(())
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let r = inflight.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slow done"));
    let status = shim.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}
