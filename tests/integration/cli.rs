//! The command line: help, version, and configuration errors that name their variable.

use std::time::Duration;

use crate::util::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let child = spawn_raw(args, env);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_describes_every_command_and_setting() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for word in [
        "serve",
        "dev <folder>",
        "--version",
        "APPWRITE_INTERNAL_RUNTIME_KEY",
        "SHIM_ADAPTER",
        "SHIM_WORKERS",
        "SHIM_QUEUE",
        "SHIM_THREADS",
        "SHIM_MAX_BODY",
        "SHIM_LOG_FORMAT",
        "Exit status",
    ] {
        assert!(out.contains(word), "--help lacks {word}");
    }
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!("runtime-shim {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_key_refuses_to_start() {
    let (code, _, err) = run(&[], &[("SHIM_ADAPTER", "python")]);
    assert_eq!(code, 2);
    assert!(err.contains("APPWRITE_INTERNAL_RUNTIME_KEY"), "{err}");
    assert!(err.contains("dev"), "{err}");
}

#[test]
fn bad_values_are_errors_naming_the_variable() {
    for (var, value) in [
        ("SHIM_PORT", "99999"),
        ("SHIM_WORKERS", "zero"),
        ("SHIM_QUEUE", "-3"),
        ("SHIM_THREADS", "0"),
        ("SHIM_THREADS", "many"),
        ("SHIM_MAX_BODY", "20MB"),
        ("SHIM_DEFAULT_TIMEOUT", "-1"),
        ("SHIM_LOG_FORMAT", "yaml"),
        ("SHIM_ADAPTER", "cobol"),
    ] {
        let (code, _, err) = run(
            &[],
            &[
                ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
                ("SHIM_ADAPTER", "python"),
                (var, value),
            ],
        );
        assert_eq!(code, 2, "{var}={value}: {err}");
        assert!(err.contains(var) && err.contains(value), "{err}");
    }
}

#[test]
fn unknown_commands_and_busy_ports_fail_clearly() {
    let (code, _, err) = run(&["lunch"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown command"), "{err}");
    let shim = Shim::fixture("echo", &[]);
    let port = shim.addr.port().to_string();
    let adapter = fixture_adapter();
    let (code, _, err) = run(
        &[],
        &[
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_ADAPTER", &adapter),
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", &port),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot listen on 127.0.0.1"), "{err}");
}

#[test]
fn logs_are_pretty_text_by_default() {
    use std::io::{BufRead, BufReader};
    let adapter = fixture_adapter();
    let mut child = spawn_raw(
        &[],
        &[
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_ADAPTER", &adapter),
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", "0"),
            ("SHIM_WORKERS", "1"),
        ],
    );
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = wait_for(Duration::from_secs(10), "the listening line", || {
        lines
            .next()
            .and_then(Result::ok)
            .filter(|l| l.contains("listening"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains("INFO") && line.contains("addr=127.0.0.1:"),
        "{line}"
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&line).is_err(),
        "{line}"
    );
}

#[test]
fn probe_exits_0_on_a_ready_shim_and_1_with_one_line_otherwise() {
    let shim = Shim::fixture("echo", &[]).ready();
    let port = shim.addr.port().to_string();
    let (code, out, _) = run(&["probe", "--port", &port], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.trim(),
        format!("http://127.0.0.1:{port}/_/ready: 200 ready")
    );
    // SHIM_HOST=0.0.0.0 and SHIM_PORT, as the container has them: probed on loopback.
    let (code, _, _) = run(
        &["probe"],
        &[("SHIM_HOST", "0.0.0.0"), ("SHIM_PORT", &port)],
    );
    assert_eq!(code, 0);
    let (code, out, _) = run(&["probe", "--port", &port, "--path", "/_/health"], &[]);
    assert_eq!(code, 0, "{out}");
    drop(shim);

    // Nothing listening.
    let (code, out, _) = run(&["probe", "--port", &port], &[]);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("cannot connect"), "{out}");

    // Up, but no adapter ready: the shim's 503 and its kind.
    let not_ready = Shim::fixture("silent", &[("SHIM_STARTUP_TIMEOUT", "60")]);
    let port = not_ready.addr.port().to_string();
    let (code, out, _) = run(&["probe", "--port", &port], &[]);
    assert_eq!(code, 1);
    assert!(out.trim().ends_with("answered 503 (not-ready)"), "{out}");

    // Accepts and never answers: the timeout bounds the whole exchange.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    let (code, out, _) = run(&["probe", "--port", &port, "--timeout", "0.3"], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("no answer within 0.3 s"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Usage errors are 1 too: Docker reserves 2.
    let (code, out, _) = run(&["probe", "--port", "x"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--port"), "{out}");
}

#[test]
fn dev_watch_serves_an_edit_on_a_later_request() {
    use runtime_shim::conformance::client;
    let folder = temp_path("dev-watch");
    std::fs::create_dir_all(&folder).unwrap();
    let write = |text: &str| {
        std::fs::write(
            folder.join("main.py"),
            format!("def main(context):\n    return context.res.text({text:?})\n"),
        )
        .unwrap()
    };
    write("before");
    let folder_s = folder.to_string_lossy().into_owned();
    let shim = Shim::launch(
        &[
            "dev",
            &folder_s,
            "--protocol",
            "v5",
            "--watch",
            "--port",
            "0",
        ],
        &[("SHIM_LOG_FORMAT", "json"), ("SHIM_WORKERS", "2")],
    )
    .ready();
    let get = || {
        client::request(shim.addr, "GET", "/", &[], b"", Duration::from_secs(10))
            .unwrap()
            .text()
    };
    assert_eq!(get(), "before");
    write("after");
    wait_for(Duration::from_secs(15), "the edit to be served", || {
        (get() == "after").then_some(())
    });
    // Every adapter was replaced, not just one: a second request agrees.
    wait_for(
        Duration::from_secs(5),
        "both workers to serve the edit",
        || (get() == "after" && get() == "after").then_some(()),
    );
    shim.wait_log("the reload line", |e| {
        e["message"] == "the function's files changed: reloading the adapters"
    });
    let _ = std::fs::remove_dir_all(&folder);
}
