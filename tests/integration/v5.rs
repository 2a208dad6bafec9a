//! The v5 contract against the real binary, beyond the conformance cases: the conformance kit itself for
//! python and node, what the shim owes an operator (start line, health without a secret, configuration
//! errors), log files that cannot be written, log ids that would leave their folder, a version-1 adapter under
//! v5, and `dev --protocol v5`.

use std::path::Path;
use std::time::Duration;

use runtime_shim::conformance::client;

use crate::util::*;

const SECRET: &str = "v5-test-secret";

fn v5_functions(lang: &str) -> String {
    repo()
        .join("conformance/v5")
        .join(lang)
        .to_string_lossy()
        .into_owned()
}

/// A v5 shim serving `conformance/v5/python/main.py`, logs in `logs`, plus `env`.
fn python_v5(logs: &Path, env: &[(&str, &str)]) -> Shim {
    let code = v5_functions("python");
    let logs = logs.to_string_lossy().into_owned();
    let mut all = vec![
        ("SHIM_PROTOCOL", "v5"),
        ("SHIM_ADAPTER", "python"),
        ("SHIM_CODE_PATH", code.as_str()),
        ("OPEN_RUNTIMES_ENTRYPOINT", "main.py"),
        ("OPEN_RUNTIMES_SECRET", SECRET),
        ("SHIM_LOGS_DIR", logs.as_str()),
        ("SHIM_HOST", "127.0.0.1"),
        ("SHIM_PORT", "0"),
        ("SHIM_LOG_FORMAT", "json"),
        ("SHIM_WORKERS", "1"),
    ];
    all.extend_from_slice(env);
    Shim::launch(&[], &all).ready()
}

fn call(shim: &Shim, action: &str, extra: &[(&str, &str)]) -> client::Response {
    let mut headers = vec![
        ("x-open-runtimes-secret".to_string(), SECRET.to_string()),
        ("x-action".to_string(), action.to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    client::request(
        shim.addr,
        "POST",
        "/",
        &headers,
        b"",
        Duration::from_secs(30),
    )
    .expect("request")
}

fn kit(args: &[&str]) -> (i32, String) {
    let mut all = vec!["conformance", "--protocol", "v5"];
    all.extend_from_slice(args);
    let out = spawn_raw(&all, &[]).wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_v5_kit_passes_for_python_and_node() {
    let cases: serde_json::Value =
        serde_json::from_str(runtime_shim::conformance::v5::CASES).unwrap();
    let n = cases["cases"].as_array().unwrap().len();
    for lang in ["python", "node"] {
        let (code, out) = kit(&[lang]);
        assert_eq!(code, 0, "{lang}:\n{out}");
        assert!(out.contains(&format!("{n} passed, 0 failed")), "{out}");
    }
}

#[test]
fn the_v5_kit_fails_a_function_that_does_the_wrong_thing() {
    // The v1 functions under v5: no main(context), so every execution case fails, with reasons.
    let (code, out) = kit(&["python", "--functions", &functions("python")]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("FAIL") || out.contains("main."), "{out}");
}

#[test]
fn v5_needs_no_v1_key_prints_the_start_line_and_answers_health_without_a_secret() {
    let logs = temp_path("v5-start");
    std::fs::create_dir_all(&logs).unwrap();
    let shim = python_v5(&logs, &[]);
    wait_for(Duration::from_secs(5), "the start line on stdout", || {
        shim.stdout()
            .contains("HTTP server successfully started!")
            .then_some(())
    });
    let r = shim.get("/__opr/health");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    let r = call(
        &shim,
        "plaintextResponse",
        &[("x-open-runtimes-log-id", "s1")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-open-runtimes-log-id"), Some("s1"));
    let _ = std::fs::remove_dir_all(&logs);
}

#[test]
fn log_files_that_cannot_be_written_never_fail_the_execution() {
    // A logs "folder" under a regular file (ENOTDIR), and files that are /dev/full (ENOSPC).
    let base = temp_path("v5-unwritable");
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let shim = python_v5(&file.join("logs"), &[]);
    let r = call(&shim, "logs", &[("x-open-runtimes-log-id", "nodir")]);
    assert_eq!(r.status, 200, "{}", r.text());
    shim.wait_log("a warning about the log file", |e| {
        e["message"] == "cannot write the execution's log file"
            && e["file"]
                .as_str()
                .is_some_and(|f| f.contains("nodir_logs.log"))
    });
    drop(shim);

    let logs = base.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for suffix in ["logs", "errors"] {
        std::os::unix::fs::symlink("/dev/full", logs.join(format!("full_{suffix}.log"))).unwrap();
    }
    let shim = python_v5(&logs, &[]);
    let r = call(&shim, "logs", &[("x-open-runtimes-log-id", "full")]);
    assert_eq!(r.status, 200, "{}", r.text());
    shim.wait_log("a warning about the full disk", |e| {
        e["message"] == "cannot write the execution's log file"
            && e["error"].as_str().is_some_and(|m| m.contains("No space"))
    });
    // And the next execution is served, with its own files.
    let r = call(&shim, "logs", &[("x-open-runtimes-log-id", "fine")]);
    assert_eq!(r.status, 200);
    let written = std::fs::read_to_string(logs.join("fine_logs.log")).unwrap();
    assert!(written.contains("Debug log"), "{written}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn log_ids_that_would_leave_the_logs_folder_are_refused() {
    let logs = temp_path("v5-ids");
    std::fs::create_dir_all(&logs).unwrap();
    let shim = python_v5(&logs, &[]);
    for bad in ["../escape", ".hidden", "a/b", "a b"] {
        let r = call(&shim, "logs", &[("x-open-runtimes-log-id", bad)]);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("x-open-runtimes-log-id"),
            "{v}"
        );
    }
    assert!(!logs.parent().unwrap().join("escape_logs.log").exists());
    let r = call(&shim, "plaintextResponse", &[]);
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(&logs);
}

#[test]
fn a_version_1_adapter_under_v5_fails_to_start_and_says_why() {
    let adapter = fixture_adapter();
    let shim = Shim::launch(
        &[],
        &[
            ("SHIM_PROTOCOL", "v5"),
            ("SHIM_ADAPTER", &adapter),
            ("FIXTURE_MODE", "echo"),
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", "0"),
            ("SHIM_LOG_FORMAT", "json"),
            ("SHIM_WORKERS", "1"),
        ],
    );
    shim.wait_log("the start failure", |e| {
        e["message"].as_str().is_some_and(|m| {
            m.contains("protocol version 1") && m.contains("the v5 contract needs version 2")
        })
    });
    assert_eq!(shim.get("/_/ready").status, 503);
    let r = client::request(shim.addr, "GET", "/", &[], b"", Duration::from_secs(10)).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-shim-error"), Some("adapter-error"));
}

#[test]
fn bad_v5_settings_are_configuration_errors_naming_the_variable() {
    for (name, value) in [
        ("OPEN_RUNTIMES_HEADERS", "{not json"),
        ("OPEN_RUNTIMES_HEADERS", "[1]"),
        ("SHIM_PROTOCOL", "v9"),
    ] {
        let out = spawn_raw(
            &["serve"],
            &[
                ("SHIM_PROTOCOL", "v5"),
                ("SHIM_ADAPTER", "python"),
                (name, value),
            ],
        )
        .wait_with_output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {err}");
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn dev_serves_a_v5_folder_with_the_dev_log_id() {
    let logs = temp_path("v5-dev");
    std::fs::create_dir_all(&logs).unwrap();
    let logs_s = logs.to_string_lossy().into_owned();
    let folder = v5_functions("python");
    let shim = Shim::launch(
        &[
            "dev",
            &folder,
            "--file",
            "main.py",
            "--protocol",
            "v5",
            "--port",
            "0",
        ],
        &[("SHIM_LOG_FORMAT", "json"), ("SHIM_LOGS_DIR", &logs_s)],
    )
    .ready();
    wait_for(Duration::from_secs(5), "the dev banner", || {
        let out = shim.stdout();
        (out.contains("v5 contract") && out.contains(&logs_s)).then_some(())
    });
    let r = client::request(
        shim.addr,
        "POST",
        "/",
        &[("x-action".into(), "logs".into())],
        b"",
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-open-runtimes-log-id"), Some("dev"));
    let written = std::fs::read_to_string(logs.join("dev_logs.log")).unwrap();
    assert!(written.contains("Debug log"), "{written}");
    let _ = std::fs::remove_dir_all(&logs);
}
