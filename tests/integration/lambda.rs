//! `SHIM_PROTOCOL=lambda`: the shim as the bootstrap of an AWS Lambda custom runtime, tested against a real
//! Runtime API that runs offline — cargo-lambda's emulator (`pip install cargo-lambda`, installed by
//! scripts/install-test-deps.sh). `cargo lambda watch --only-lambda-apis` serves the Runtime API without
//! building or starting a function; it still runs `cargo metadata`, so it runs in a throwaway Cargo project
//! (nothing is built). The shim is started as Lambda would start `bootstrap`, with the variables the emulator
//! prints, and `cargo lambda invoke` invokes through the emulator.
//!
//! Skipped, with the reason, when cargo-lambda is not installed — except in CI (`CI=true`), where it must run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

/// The cargo-lambda binary on PATH, or `None` (and the test is skipped) outside CI.
fn cargo_lambda() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("cargo-lambda"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "cargo-lambda is not on PATH; CI needs it (scripts/install-test-deps.sh installs it)"
        );
        println!(
            "skipped: cargo-lambda is not on PATH (pip install cargo-lambda, or scripts/install-test-deps.sh)"
        );
    }
    found
}

/// cargo-lambda's Runtime API emulator on a loopback port, and what it says the function must be given.
struct Emulator {
    child: Child,
    bin: PathBuf,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    /// `KEY=VALUE` pairs it prints under "you MUST set these variables".
    env: Vec<(String, String)>,
    _project: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes ANSI colour sequences, should the emulator add them.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Emulator {
    fn start(bin: &Path) -> Emulator {
        let project = TempDir(temp_path("cargo-lambda-project"));
        std::fs::create_dir_all(project.0.join("src")).unwrap();
        std::fs::write(
            project.0.join("Cargo.toml"),
            "[package]\nname = \"shim-bootstrap\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        )
        .unwrap();
        std::fs::write(project.0.join("src/main.rs"), "fn main() {}\n").unwrap();
        // A port that was free a moment ago; if another process takes it first, try another.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(bin)
                .args([
                    "lambda",
                    "watch",
                    "-v",
                    "--only-lambda-apis",
                    "-A",
                    "127.0.0.1",
                ])
                .args(["-P", &port.to_string()])
                .current_dir(&project.0)
                .env("CARGO_LAMBDA_COLOR", "never")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start cargo-lambda watch");
            let lines = Arc::new(Mutex::new(Vec::new()));
            for stream in [
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Box::new(child.stderr.take().unwrap()),
            ] {
                let sink = lines.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        sink.lock().unwrap().push(plain(&line));
                    }
                });
            }
            let started = wait_for(Duration::from_secs(60), "the emulator to start", || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                lines
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains("starting Runtime server"))
                    .then_some(true)
            });
            if !started {
                println!("cargo-lambda watch exited: {:#?}", lines.lock().unwrap());
                continue;
            }
            let env = lines
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| {
                    let (key, value) =
                        l.trim().trim_start_matches("INFO").trim().split_once('=')?;
                    let var = key.starts_with("AWS_LAMBDA_")
                        && key.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                    var.then(|| (key.to_string(), value.to_string()))
                })
                .collect::<Vec<_>>();
            assert!(
                env.iter().any(|(k, _)| k == "AWS_LAMBDA_RUNTIME_API"),
                "the emulator names its Runtime API: {:#?}",
                lines.lock().unwrap()
            );
            return Emulator {
                child,
                bin: bin.to_path_buf(),
                port,
                lines,
                env,
                _project: project,
            };
        }
        panic!("cargo-lambda watch did not start");
    }

    /// Starts `cargo lambda invoke` with `event`; [`Invoke::wait`] gives its exit code and output.
    fn invoke(&self, event: &str) -> Invoke {
        let child = Command::new(&self.bin)
            .args([
                "lambda",
                "invoke",
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .args(["--data-ascii", event, "-o", "json"])
            .env("CARGO_LAMBDA_COLOR", "never")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cargo-lambda invoke");
        Invoke(Some(child))
    }

    /// Waits until the emulator has logged `what` at least `count` times.
    fn wait_line(&self, what: &str, count: usize) {
        wait_for(Duration::from_secs(10), what, || {
            (self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(what))
                .count()
                >= count)
                .then_some(())
        });
    }

    /// The shim as Lambda starts `bootstrap`: the emulator's variables, `_HANDLER`, the task root.
    fn bootstrap(&self, extra: &[(&str, &str)]) -> Shim {
        let task = repo().join("tests/fixtures/lambda");
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend([
            ("SHIM_PROTOCOL", "lambda"),
            ("SHIM_LOG_FORMAT", "json"),
            ("_HANDLER", "main.py"),
            ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ]);
        env.extend_from_slice(extra);
        Shim::spawn_logged(&[], &env)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Invoke(Option<Child>);

impl Invoke {
    /// Exit code, stdout and stderr, within a bounded wait.
    fn wait(mut self) -> (i32, String, String) {
        let mut child = self.0.take().unwrap();
        let status = wait_for(Duration::from_secs(30), "cargo lambda invoke", || {
            child.try_wait().unwrap()
        });
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read;
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code().unwrap_or(-1), out, plain(&err))
    }
}

impl Drop for Invoke {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn lambda_invocations_replies_errors_and_timeouts_through_cargo_lambda() {
    let Some(bin) = cargo_lambda() else { return };
    let emulator = Emulator::start(&bin);
    // The emulator's deadline is a fixed ten minutes: the cap makes the timeout case short.
    let mut shim = emulator.bootstrap(&[("SHIM_MAX_TIMEOUT", "4")]);
    shim.wait_log("the poll loop", |e| {
        e["message"] == "lambda: polling for invocations"
    });

    // A reply: the event, the request id and the other lambda-runtime-* headers, Lambda's variables.
    let (code, out, err) = emulator.invoke(r#"{"hello":"lambda"}"#).wait();
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["event"], serde_json::json!({"hello": "lambda"}));
    let id = v["id"].as_str().expect("the request id").to_string();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(v["headers"]["lambda-runtime-aws-request-id"], id.as_str());
    assert!(v["headers"]["lambda-runtime-trace-id"].is_string(), "{v}");
    assert!(
        v["headers"]["lambda-runtime-invoked-function-arn"].is_string(),
        "{v}"
    );
    assert_eq!(v["env"]["_HANDLER"], "main.py");
    let api = &emulator
        .env
        .iter()
        .find(|(k, _)| k == "AWS_LAMBDA_RUNTIME_API")
        .unwrap()
        .1;
    assert_eq!(v["env"]["AWS_LAMBDA_RUNTIME_API"], api.as_str());
    assert_eq!(v["env"]["AWS_LAMBDA_FUNCTION_NAME"], "_");
    assert_eq!(
        v["shim_env"],
        serde_json::json!([]),
        "no shim settings leak"
    );
    // Its logs: context.log and print, on the shim's stdout for CloudWatch.
    wait_for(Duration::from_secs(5), "the function's log lines", || {
        let out = shim.stdout();
        (out.contains(&format!("invoked {id}\n")) && out.contains("a native line\n")).then_some(())
    });
    let line = shim.wait_log("the invocation line", |e| e["message"] == "invocation");
    assert_eq!(line["request_id"], id.as_str());

    // A throw: /error with the exception's type and message, and its traceback as the stack.
    let (code, out, err) = emulator
        .invoke(r#"{"action":"throw","message":"bad input"}"#)
        .wait();
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("ValueError") && err.contains("bad input"),
        "{err}"
    );

    // Past the deadline: the adapter is killed, /error says Sandbox.Timedout, a fresh adapter serves on.
    let (code, out, err) = emulator.invoke(r#"{"action":"sleep","seconds":60}"#).wait();
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("Sandbox.Timedout") && err.contains("timed out after 4 s"),
        "{err}"
    );
    let (code, out, err) = emulator.invoke(r#"[1,2]"#).wait();
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["event"], serde_json::json!([1, 2]));

    // The shim logs an invocation after posting its answer, which the invoker may see first.
    let invocations: Vec<Value> =
        wait_for(Duration::from_secs(10), "four invocation lines", || {
            let lines: Vec<Value> = shim
                .log_events()
                .into_iter()
                .filter(|e| e["message"] == "invocation")
                .collect();
            (lines.len() >= 4).then_some(lines)
        });
    assert_eq!(invocations.len(), 4, "{invocations:#?}");
    assert_eq!(invocations[1]["error"], "function-error");
    assert_eq!(invocations[2]["error"], "timeout");

    // SIGTERM between invocations: a clean stop.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = shim.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn lambda_an_adapter_that_cannot_start_is_an_init_error_and_exit_1() {
    let Some(bin) = cargo_lambda() else { return };
    let emulator = Emulator::start(&bin);
    // The emulator hands an init error to the invocation waiting for the function: have one waiting.
    let waiting = emulator.invoke(r#"{"never":"served"}"#);
    emulator.wait_line("invocation received", 1);
    let adapter = fixture_adapter();
    let mut shim = emulator.bootstrap(&[
        ("SHIM_ADAPTER", &adapter),
        ("FIXTURE_MODE", "exit-at-start"),
    ]);
    let status = shim.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(1), "{:#?}", shim.logs());
    assert!(
        shim.logs()
            .iter()
            .any(|l| l.contains("reported to the Runtime API as an init error")),
        "{:#?}",
        shim.logs()
    );
    let (_, out, err) = waiting.wait();
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(v["errorType"], "Runtime.AdapterStartFailed");
    assert!(
        v["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("exited with status 1 before READY")),
        "{v}"
    );
}

#[test]
fn lambda_without_a_runtime_api_is_a_configuration_error() {
    let task = repo().join("tests/fixtures/lambda");
    let child = spawn_raw(
        &[],
        &[
            ("SHIM_PROTOCOL", "lambda"),
            ("_HANDLER", "main.py"),
            ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ],
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AWS_LAMBDA_RUNTIME_API"), "{err}");
}
