//! `SHIM_PROTOCOL=v2` (open-runtimes v2) against the real binary, for the python and node adapters: the
//! envelope `{"response", "stdout", "stderr"}` with the function's status and its console output, the errors
//! of the reference servers (`500 {"stderr":"Unauthorized"}`, a throw's stack in `stderr`), and the next
//! request still served.

use serde_json::{Value, json};

use crate::util::*;

fn v2(adapter: &str, entry: &str, env: &[(&str, &str)]) -> Shim {
    let code = repo()
        .join("tests/fixtures/v2")
        .to_string_lossy()
        .into_owned();
    let mut all = vec![
        ("SHIM_PROTOCOL", "v2"),
        ("INTERNAL_RUNTIME_KEY", KEY),
        ("INTERNAL_RUNTIME_ENTRYPOINT", entry),
        ("SHIM_ADAPTER", adapter),
        ("SHIM_CODE_PATH", code.as_str()),
        ("SHIM_HOST", "127.0.0.1"),
        ("SHIM_PORT", "0"),
        ("SHIM_LOG_FORMAT", "json"),
        ("SHIM_WORKERS", "1"),
    ];
    all.extend_from_slice(env);
    Shim::launch(&[], &all).ready()
}

fn body(action: &str) -> Value {
    json!({"variables": {"A": "1"}, "payload": "p", "headers": {"x-action": action}})
}

const LANGS: [(&str, &str); 2] = [("python", "main.py"), ("node", "index.js")];

#[test]
fn replies_come_in_the_envelope_with_the_console_output() {
    for (adapter, entry) in LANGS {
        let shim = v2(adapter, entry, &[]);
        let r = shim.post(&body("json"));
        assert_eq!(r.status, 200, "{adapter}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"response": {"variables": {"A": "1"}, "payload": "p", "headers": {"x-action": "json"}},
                   "stdout": "", "stderr": ""}),
            "{adapter}"
        );
        let r = shim.post(&body("text"));
        assert_eq!(r.status, 201, "{adapter}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"response": "hello p", "stdout": "to stdout", "stderr": "to stderr"}),
            "{adapter}"
        );
        let r = shim.post(&body("none"));
        assert_eq!(r.status, 200, "{adapter}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"response": "OK", "stdout": "nothing sent", "stderr": ""}),
            "{adapter}"
        );
    }
}

#[test]
fn errors_are_the_reference_servers_and_the_next_request_is_served() {
    for (adapter, entry) in LANGS {
        // A limit long enough for the fresh adapter that follows the timeout to start on a loaded machine.
        let shim = v2(adapter, entry, &[("SHIM_DEFAULT_TIMEOUT", "3")]);
        for key in ["wrong", ""] {
            let r = shim.post_with(&[("x-internal-challenge", key)], b"{}");
            assert_eq!(r.status, 500);
            assert_eq!(r.body, br#"{"stderr":"Unauthorized"}"#);
        }
        let r = shim.post(&body("throw"));
        assert_eq!(r.status, 500, "{adapter}: {}", r.text());
        let v = r.json();
        assert_eq!(v["stdout"], "before", "{adapter}: {v}");
        let stderr = v["stderr"].as_str().unwrap();
        assert!(
            stderr.contains("v2 failure") && stderr.contains(entry),
            "{adapter}: {stderr}"
        );
        let r = shim.post_with(&[("x-internal-challenge", KEY)], b"{not json");
        assert_eq!(r.status, 400);
        assert!(
            r.json()["stderr"]
                .as_str()
                .unwrap()
                .contains("not valid JSON")
        );
        let r = shim.post(&body("slow"));
        assert_eq!(r.status, 500);
        assert!(
            r.json()["stderr"].as_str().unwrap().contains("timed out"),
            "{}",
            r.text()
        );
        let r = shim.post(&body("json"));
        assert_eq!(r.status, 200, "{adapter}: {}", r.text());
    }
}
