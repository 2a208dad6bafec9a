//! The python and node adapters with real user functions (`conformance/<lang>/`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::*;

/// (language, file extension, how the language starts the shim)
const LANGS: [(&str, &str); 2] = [("python", "py"), ("node", "js")];

fn shim(lang: &str) -> Shim {
    match lang {
        "python" => Shim::python(&[]),
        _ => Shim::node(&[]),
    }
    .ready()
}

fn call(shim: &Shim, file: &str, extra: Value) -> Resp {
    let mut body = json!({ "file": file });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    shim.post(&body)
}

#[test]
fn the_seed_function_in_every_language() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let r = call(
            &shim,
            &format!("seed.{ext}"),
            json!({"env": {"ENV1": "Hello World!"}, "payload": "Hello World! 2", "timeout": 60, "headers": {"test": "test1"}}),
        );
        assert_eq!(r.status, 200, "{lang}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-shim-error"), None);
        assert_eq!(
            r.json(),
            json!({"normal": "Hello World!", "env1": "Hello World!", "payload": "Hello World! 2"}),
            "{lang}"
        );
    }
}

#[test]
fn send_and_json_set_body_status_and_type_exactly() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let r = call(&shim, &format!("send.{ext}"), json!({"payload": "ünï ✓"}));
        assert_eq!(r.status, 201, "{lang}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.text(), "héllo wörld ✓ ünï ✓", "{lang}");
        let r = call(&shim, &format!("jsonreply.{ext}"), json!({"payload": "p"}));
        assert_eq!(r.status, 202, "{lang}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.json(),
            json!({"nested": {"list": [1, 2.5, "three", true, null], "unicode": "✓"}, "payload": "p"}),
            "{lang}: no wrapper around what the function sent"
        );
    }
}

#[test]
fn a_throw_is_500_with_message_and_stack() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let m = call(&shim, &format!("throws.{ext}"), json!({})).error(500, "function-error");
        assert!(m.contains("boom from user code"), "{lang}: {m}");
        let helper = if lang == "python" {
            "inner_helper"
        } else {
            "innerHelper"
        };
        assert!(m.contains(helper), "{lang}: no stack in {m}");
        assert!(m.contains(&format!("throws.{ext}")), "{lang}: {m}");
        let r = call(&shim, &format!("seed.{ext}"), json!({}));
        assert_eq!(r.status, 200);
    }
}

#[test]
fn missing_file_or_function_is_404_saying_what_was_expected() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let m = call(&shim, &format!("missing.{ext}"), json!({})).error(404, "not-found");
        assert!(m.contains(&format!("missing.{ext}")), "{lang}: {m}");
        let m = call(&shim, &format!("nomain.{ext}"), json!({})).error(404, "not-found");
        assert!(m.contains(&format!("nomain.{ext}")), "{lang}: {m}");
        let expected = if lang == "python" {
            "main(req, res)"
        } else {
            "module.exports"
        };
        assert!(m.contains(expected), "{lang}: {m}");
        // No file named and no APPWRITE_ENTRYPOINT_NAME.
        let m = shim.post(&json!({})).error(404, "not-found");
        assert!(m.contains("entry file"), "{lang}: {m}");
        assert_eq!(call(&shim, &format!("seed.{ext}"), json!({})).status, 200);
    }
}

#[test]
fn the_entrypoint_variable_names_the_default_file() {
    let shim = Shim::python(&[("APPWRITE_ENTRYPOINT_NAME", "seed.py")]).ready();
    let r = shim.post(&json!({"payload": "x"}));
    assert_eq!(r.json()["payload"], "x");
    let shim = Shim::node(&[("ENTRYPOINT_NAME", "seed.js")]).ready();
    let r = shim.post(&json!({"payload": "y"}));
    assert_eq!(r.json()["payload"], "y");
}

#[test]
fn printing_never_corrupts_the_reply_and_lands_in_the_log_tagged() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let token = format!("tok-{lang}");
        let r = call(&shim, &format!("noisy.{ext}"), json!({"payload": token}));
        assert_eq!(r.status, 200, "{lang}: {}", r.text());
        assert_eq!(r.text(), format!("quiet {token}"));
        let exec = shim.wait_log("the execution line", |e| e["message"] == "execution");
        let req = exec["req"].as_str().unwrap().to_string();
        for what in [
            "noisy-stdout",
            "noisy-stderr",
            "noisy-child",
            "noisy-child-err",
            "noisy-fd1",
        ] {
            let line = format!("{what} {token}");
            let event = shim.wait_log(&line, |e| e["message"] == line.as_str());
            assert_eq!(event["req"], req.as_str(), "{lang}: {event}");
            assert_eq!(event["target"], "function");
        }
        assert_eq!(call(&shim, &format!("seed.{ext}"), json!({})).status, 200);
    }
}

#[test]
fn a_slow_function_times_out_on_time_and_its_process_is_gone() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let before = children(shim.pid());
        let started = Instant::now();
        let m = call(
            &shim,
            &format!("slow.{ext}"),
            json!({"payload": "30", "timeout": 1}),
        )
        .error(500, "timeout");
        let took = started.elapsed();
        assert_eq!(m, "execution timed out after 1 s", "{lang}");
        assert!(took >= Duration::from_secs(1), "{lang}: {took:?}");
        assert!(took < Duration::from_millis(1750), "{lang}: {took:?}");
        wait_all_dead(&before);
        let r = call(&shim, &format!("seed.{ext}"), json!({"payload": "after"}));
        assert_eq!(r.json()["payload"], "after", "{lang}");
    }
}

#[test]
fn returning_without_a_reply_is_500() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let m = call(&shim, &format!("noreply.{ext}"), json!({})).error(500, "function-error");
        assert!(m.contains("without calling"), "{lang}: {m}");
    }
}

#[test]
fn a_function_that_kills_its_adapter_is_500_and_the_next_is_served() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let m = call(&shim, &format!("crash.{ext}"), json!({})).error(500, "adapter-error");
        assert!(m.contains("exited with status 3"), "{lang}: {m}");
        let r = call(&shim, &format!("seed.{ext}"), json!({"payload": "alive"}));
        assert_eq!(r.json()["payload"], "alive", "{lang}");
    }
}

#[test]
fn the_module_is_loaded_once_and_env_does_not_leak() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let counts: Vec<i64> = (0..3)
            .map(|_| {
                call(&shim, &format!("counter.{ext}"), json!({})).json()["count"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(counts, vec![1, 2, 3], "{lang}");
        let r = call(
            &shim,
            &format!("echo.{ext}"),
            json!({"env": {"SECRET": "s1"}}),
        );
        assert_eq!(r.json()["env"], json!({"SECRET": "s1"}));
        let r = call(&shim, &format!("echo.{ext}"), json!({}));
        assert_eq!(
            r.json()["env"],
            json!({}),
            "{lang}: env leaked into the next request"
        );
        assert_eq!(r.json()["payload"], "");
        assert_eq!(r.json()["headers"], json!({}));
    }
}

#[test]
fn large_payloads_round_trip() {
    for (lang, ext) in LANGS {
        let shim = shim(lang);
        let payload: String = "0123456789abcdé✓".repeat(5 * 1024 * 1024 / 18);
        let r = call(&shim, &format!("echo.{ext}"), json!({"payload": payload}));
        assert_eq!(r.status, 200, "{lang}");
        assert_eq!(r.json()["payload"].as_str().unwrap(), payload, "{lang}");
    }
}

#[test]
fn node_loads_es_modules() {
    let shim = shim("node");
    let r = call(&shim, "esm.mjs", json!({"payload": "m"}));
    assert_eq!(r.json(), json!({"esm": true, "payload": "m"}));
}

#[test]
fn the_adapter_never_sees_the_key_or_the_shims_settings() {
    let dir = repo().join("tests/fixtures/python");
    let shim = Shim::start(&[
        ("SHIM_ADAPTER", "python"),
        ("SHIM_CODE_PATH", dir.to_str().unwrap()),
        ("INTERNAL_RUNTIME_KEY", "second-key-name"),
    ])
    .ready();
    let env = shim.post(&json!({"file": "environ.py"})).json();
    let env = env.as_object().unwrap();
    assert!(env.keys().all(|k| !k.contains("RUNTIME_KEY")), "{env:?}");
    assert!(!serde_json::to_string(env).unwrap().contains(KEY));
    assert!(!env.contains_key("SHIM_WORKERS") && !env.contains_key("SHIM_LOG_FORMAT"));
    assert_eq!(env["SHIM_PROTOCOL"], "1");
    assert_eq!(env["SHIM_CODE_PATH"], dir.to_str().unwrap());
}
