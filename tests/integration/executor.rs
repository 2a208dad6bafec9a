//! The executor contract: auth, methods, bodies, decoding, health, the queue — each error in the schema, and
//! the next request still served.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

fn echo() -> Shim {
    Shim::fixture("echo", &[]).ready()
}

fn assert_served(shim: &Shim) {
    let r = shim.post(&json!({"payload": "still fine"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["payload"], "still fine");
}

#[test]
fn wrong_missing_or_empty_key_is_401_with_the_seed_body() {
    let shim = echo();
    for headers in [
        vec![("x-internal-challenge", "wrong")],
        vec![],
        vec![("x-internal-challenge", "")],
        vec![("x-internal-challenge", &KEY[..KEY.len() - 1])],
        vec![("X-Internal-Challenge", "TEST-KEY-0123456789")],
    ] {
        let r = shim.post_with(&headers, br#"{"payload":"x"}"#);
        assert_eq!(r.error(401, "unauthorized"), "Unauthorized");
        assert_eq!(r.body, br#"{"code":401,"message":"Unauthorized"}"#);
    }
    // The key is checked before the body: an unauthorized oversized or broken body is still just 401.
    let r = shim.post_with(&[], b"not json at all");
    assert_eq!(r.status, 401);
    assert_served(&shim);
    // The header name is case-insensitive, as in all HTTP.
    let r = shim.post_with(&[("X-INTERNAL-CHALLENGE", KEY)], b"{}");
    assert_eq!(r.status, 200);
    // Neither the key nor the header value that was tried is ever logged.
    let logs = shim.logs().join("\n");
    assert!(!logs.contains(KEY) && !logs.contains("wrong"), "{logs}");
}

#[test]
fn the_fallback_key_variable_works() {
    let adapter = fixture_adapter();
    let shim = Shim::launch(
        &[],
        &[
            ("INTERNAL_RUNTIME_KEY", "other-key"),
            ("SHIM_ADAPTER", &adapter),
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", "0"),
            ("SHIM_LOG_FORMAT", "json"),
            ("SHIM_WORKERS", "1"),
        ],
    )
    .ready();
    assert_eq!(shim.post(&json!({})).status, 401);
    let r = shim.post_with(&[("x-internal-challenge", "other-key")], b"{}");
    assert_eq!(r.status, 200);
}

#[test]
fn methods_other_than_post_are_405_after_auth() {
    let shim = echo();
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let r = shim.raw(
            format!(
                "{method} /anything HTTP/1.1\r\nHost: t\r\nx-internal-challenge: {KEY}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        );
        r.error(405, "method-not-allowed");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    // Without the key, a GET is 401: auth comes before the method.
    assert_eq!(shim.get("/").status, 401);
    assert_served(&shim);
}

#[test]
fn post_is_accepted_on_any_path() {
    let shim = echo();
    let body = br#"{"payload":"p"}"#;
    let r = shim.raw(
        &[
            format!(
                "POST /v1/some/path?x=1 HTTP/1.1\r\nHost: t\r\nx-internal-challenge: {KEY}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            body,
        ]
        .concat(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["payload"], "p");
}

#[test]
fn health_and_ready_need_no_key_and_tell_nothing_secret() {
    let shim = echo();
    let h = shim.get("/_/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let r = shim.get("/_/ready");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ready"], 1);
    assert!(!h.text().contains(KEY) && !r.text().contains(KEY));
    let post = shim.post_with(&[], b"{}");
    assert_eq!(post.status, 401, "POST / still needs the key");
    let r = shim.raw(
        b"POST /_/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    r.error(405, "method-not-allowed");
}

#[test]
fn bad_bodies_are_400_naming_the_field() {
    let shim = echo();
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"{\"payload\":", "not valid JSON"),
        (b"[1,2]", "JSON object"),
        (b"\"text\"", "JSON object"),
        (br#"{"env":["a"]}"#, "field `env`"),
        (br#"{"env":{"A":1}}"#, "field `env.A`"),
        (br#"{"headers":1}"#, "field `headers`"),
        (br#"{"payload":42}"#, "field `payload`"),
        (br#"{"path":[]}"#, "field `path`"),
        (br#"{"file":false}"#, "field `file`"),
        (br#"{"timeout":0}"#, "field `timeout`"),
        (br#"{"timeout":-5}"#, "field `timeout`"),
        (br#"{"timeout":"10"}"#, "field `timeout`"),
        (b"\xff\xfe{}", "not valid JSON"),
    ];
    for (body, expect) in cases {
        let r = shim.post_with(&[("x-internal-challenge", KEY)], body);
        let m = r.error(400, "bad-request");
        assert!(
            m.contains(expect),
            "{:?}: {m}",
            String::from_utf8_lossy(body)
        );
        assert_served(&shim);
    }
}

#[test]
fn unknown_fields_are_ignored_and_huge_timeouts_capped() {
    let shim = Shim::fixture("echo", &[("SHIM_MAX_TIMEOUT", "7")]).ready();
    let r = shim.post(&json!({"payload": "x", "somethingNew": {"a": 1}, "timeout": 1e12}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["timeout_ms"], 7000);
    let r = shim.post(&json!({}));
    assert_eq!(r.json()["timeout_ms"], 7000, "the default is capped too");
    assert_eq!(r.json()["path"], "/usr/code");
}

#[test]
fn bodies_over_the_limit_are_413_with_or_without_content_length() {
    let shim = Shim::fixture("echo", &[("SHIM_MAX_BODY", "1000")]).ready();
    let big = format!(r#"{{"payload":"{}"}}"#, "a".repeat(2000));
    let m = shim
        .post_with(&[("x-internal-challenge", KEY)], big.as_bytes())
        .error(413, "too-large");
    assert!(m.contains("1000 bytes"), "{m}");
    // Chunked, so the size is only known while reading.
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nx-internal-challenge: {KEY}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in big.as_bytes().chunks(300) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    shim.raw(&req).error(413, "too-large");
    // Exactly at the limit is fine.
    let fits = format!(r#"{{"payload":"{}"}}"#, "b".repeat(1000 - 14));
    assert_eq!(fits.len(), 1000);
    let r = shim.post_with(&[("x-internal-challenge", KEY)], fits.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_full_queue_is_503_at_once() {
    let seen = temp_path("requests");
    let seen_str = seen.to_string_lossy().into_owned();
    let shim = Shim::fixture(
        "slow",
        &[("SHIM_QUEUE", "0"), ("FIXTURE_REQFILE", &seen_str)],
    )
    .ready();
    std::thread::scope(|s| {
        let first = s.spawn(|| shim.post(&json!({"timeout": 2})));
        wait_for(
            Duration::from_secs(5),
            "the worker to take the first request",
            || std::fs::metadata(&seen).ok().filter(|m| m.len() > 0),
        );
        let started = Instant::now();
        shim.post(&json!({"timeout": 2})).error(503, "busy");
        assert!(started.elapsed() < Duration::from_secs(1));
        let m = first.join().unwrap().error(500, "timeout");
        assert!(m.contains("timed out after 2 s"), "{m}");
    });
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn concurrent_requests_each_see_only_their_own_env() {
    let shim = Shim::python(&[("SHIM_WORKERS", "2")]).ready();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let shim = &shim;
                s.spawn(move || {
                    let r = shim.post(&json!({
                        "file": "echo.py",
                        "env": {format!("ONLY_{i}"): format!("value-{i}")},
                        "payload": format!("p{i}"),
                        "headers": {"x-n": i.to_string()},
                    }));
                    assert_eq!(r.status, 200, "{}", r.text());
                    let v = r.json();
                    assert_eq!(v["env"], json!({format!("ONLY_{i}"): format!("value-{i}")}));
                    assert_eq!(v["payload"], format!("p{i}"));
                    assert_eq!(v["headers"]["x-n"], i.to_string());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn every_event_loop_setting_serves_and_times_out() {
    // SHIM_THREADS: the main thread alone, a pool of one, a pool of three.
    for threads in ["single", "1", "3"] {
        let shim = Shim::fixture("delay", &[("SHIM_THREADS", threads)]).ready();
        let r = shim.post(&json!({"payload": "0.01"}));
        assert_eq!(r.status, 200, "SHIM_THREADS={threads}: {}", r.text());
        let started = Instant::now();
        shim.post(&json!({"payload": "5", "timeout": 0.3}))
            .error(500, "timeout");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "SHIM_THREADS={threads}: {took:?}"
        );
        let r = shim.post(&json!({"payload": "0"}));
        assert_eq!(r.status, 200, "SHIM_THREADS={threads}: {}", r.text());
    }
}
