//! One execution must not break the next on the same adapter (`tests/fixtures/isolation/<lang>/`): an error
//! raised after the reply, a child that forks and returns through the adapter, a working directory or an
//! environment a function changes, and lines printed after the reply. Every test runs a misbehaving execution
//! and then the next one on the same adapter (one worker), under the v1 contract and the v5 contract, in every
//! bundled adapter where the class applies. `docs/reliability.md` ("Containment") says what stops each class,
//! and why a class does not apply to some languages.

use std::time::Duration;

use runtime_shim::conformance::client;
use serde_json::{Value, json};

use crate::util::*;

const SECRET: &str = "isolation-secret";

/// A bundled adapter: its name for SHIM_ADAPTER, the interpreter it needs, its fixture folder, its extension.
#[derive(Clone, Copy)]
struct Lang {
    name: &'static str,
    program: &'static str,
    dir: &'static str,
    ext: &'static str,
}

const fn lang(
    name: &'static str,
    program: &'static str,
    dir: &'static str,
    ext: &'static str,
) -> Lang {
    Lang {
        name,
        program,
        dir,
        ext,
    }
}

const PYTHON: Lang = lang("python", "python3", "python", "py");
const NODE: Lang = lang("node", "node", "node", "js");
const BUN: Lang = lang("bun", "bun", "node", "js");
const DENO: Lang = lang("deno", "deno", "deno", "ts");
const PHP: Lang = lang("php", "php", "php", "php");
const RUBY: Lang = lang("ruby", "ruby", "ruby", "rb");
const PERL: Lang = lang("perl", "perl", "perl", "pl");
const BASH: Lang = lang("bash", "bash", "bash", "sh");

#[derive(Clone, Copy, Debug, PartialEq)]
enum Contract {
    V1,
    V5,
}

const BOTH: [Contract; 2] = [Contract::V1, Contract::V5];

/// Is the language's interpreter on PATH? Absent, its cases are skipped, with the reason printed (never in CI).
fn present(lang: Lang) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join(lang.program).is_file())
    });
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{} is not installed, and CI must run every language",
            lang.program
        );
        eprintln!("skipping {}: {} is not on PATH", lang.name, lang.program);
    }
    found
}

/// One adapter, one worker, serving the language's fixture under `contract`.
struct Under {
    shim: Shim,
    lang: Lang,
    contract: Contract,
}

impl Under {
    fn start(lang: Lang, contract: Contract) -> Under {
        let code = repo()
            .join("tests/fixtures/isolation")
            .join(lang.dir)
            .to_string_lossy()
            .into_owned();
        let entry = format!("v5.{}", lang.ext);
        let mut env = vec![
            ("SHIM_ADAPTER", lang.name),
            ("SHIM_CODE_PATH", code.as_str()),
            ("SHIM_KILL_GRACE", "0.2"),
        ];
        if contract == Contract::V5 {
            env.extend([
                ("SHIM_PROTOCOL", "v5"),
                ("OPEN_RUNTIMES_ENTRYPOINT", entry.as_str()),
                ("OPEN_RUNTIMES_SECRET", SECRET),
            ]);
        }
        Under {
            shim: Shim::start(&env).ready(),
            lang,
            contract,
        }
    }

    fn what(&self) -> String {
        format!("{} under {:?}", self.lang.name, self.contract)
    }

    /// Runs the fixture with `mode`; the status, the body, and the execution's log event (its id and pid).
    fn call(&self, mode: &str) -> (u16, String, Value) {
        let before = self.executions().len();
        let (status, body) = match self.contract {
            Contract::V1 => {
                let r = self.shim.post(&json!({"file": format!("v1.{}", self.lang.ext), "payload": mode, "timeout": 5}));
                (r.status, r.text())
            }
            Contract::V5 => {
                let headers = [
                    ("x-open-runtimes-secret", SECRET),
                    ("x-open-runtimes-logging", "disabled"),
                    ("x-open-runtimes-timeout", "5"),
                    ("x-mode", mode),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()));
                let r = client::request(
                    self.shim.addr,
                    "POST",
                    "/",
                    &headers,
                    b"",
                    Duration::from_secs(30),
                )
                .expect("request");
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            }
        };
        let event = wait_for(Duration::from_secs(10), "the execution's log line", || {
            self.executions().get(before).cloned()
        });
        (status, body, event)
    }

    /// Runs `mode` and asserts it succeeded with `want`; its execution's log event.
    fn ok(&self, mode: &str, want: &str) -> Value {
        let (status, body, event) = self.call(mode);
        assert_eq!(
            (status, body.as_str()),
            (200, want),
            "{}: {mode}",
            self.what()
        );
        event
    }

    fn executions(&self) -> Vec<Value> {
        self.shim
            .log_events()
            .into_iter()
            .filter(|e| e["message"] == "execution")
            .collect()
    }
}

/// Every (language, contract) a class applies to, with the interpreter present.
fn cases(langs: &[Lang]) -> Vec<(Lang, Contract)> {
    langs
        .iter()
        .filter(|l| present(**l))
        .flat_map(|l| BOTH.map(|c| (*l, c)))
        .collect()
}

/// Runs `test` for every case on its own thread (each has its own shim), so the module stays fast.
fn each(langs: &[Lang], test: fn(&Under)) {
    let handles: Vec<_> = cases(langs)
        .into_iter()
        .map(|(lang, contract)| {
            std::thread::Builder::new()
                .name(format!("{} under {contract:?}", lang.name))
                .spawn(move || {
                    let under = Under::start(lang, contract);
                    test(&under);
                })
                .expect("a thread")
        })
        .collect();
    let failed: Vec<_> = handles.into_iter().filter_map(|h| h.join().err()).collect();
    assert!(
        failed.is_empty(),
        "{} case(s) failed (see above)",
        failed.len()
    );
}

/// Class 10: the working directory and the process environment are back to their start state for the next
/// execution. Lua's standard library can change neither.
#[test]
fn directory_and_environment_are_restored_before_each_execution() {
    each(&[PYTHON, NODE, BUN, DENO, PHP, RUBY, PERL, BASH], |u| {
        let (_, first, _) = u.call("state");
        assert!(first.contains("mark=-"), "{}: {first}", u.what());
        for _ in 0..2 {
            let (status, again, _) = u.call("state");
            assert_eq!(
                (status, again.as_str()),
                (200, first.as_str()),
                "{}: the state carried over",
                u.what()
            );
        }
    });
}

/// Class 8: an error raised after the reply (an alarm left armed, a timer that throws, a rejection nobody
/// handles) does not fail the execution that runs next; the error is logged, never under that next execution.
#[test]
fn an_error_after_the_reply_does_not_fail_the_next_execution() {
    each(&[PYTHON, NODE, BUN, DENO, PHP, RUBY, PERL], |u| {
        let first = u.ok("late", "armed");
        let next = u.ok("sleep", "slept");
        assert_eq!(
            first["pid"],
            next["pid"],
            "{}: the adapter was replaced",
            u.what()
        );
        u.ok("ping", "pong");
        for event in u.shim.log_events() {
            let text = event["message"].as_str().unwrap_or_default();
            if text.contains("late failure") || text.contains("late rejection") {
                assert_ne!(
                    event["req"],
                    next["req"],
                    "{}: logged under the next execution: {event}",
                    u.what()
                );
            }
        }
    });
}

/// Class 8, the other way round: an exception nobody handles from the running execution's own timer fails that
/// execution at once (before, it ended the adapter), and the adapter goes on serving.
#[test]
fn an_unhandled_error_of_the_running_execution_fails_only_it() {
    each(&[NODE, BUN], |u| {
        let (status, body, failed) = u.call("throw-own");
        assert_eq!(status, 500, "{}: {body}", u.what());
        if u.contract == Contract::V1 {
            assert!(body.contains("own failure"), "{}: {body}", u.what());
        }
        let next = u.ok("ping", "pong");
        assert_eq!(
            failed["pid"],
            next["pid"],
            "{}: the adapter was replaced",
            u.what()
        );
    });
}

/// Class 9: a child that forks and returns through the adapter never writes a frame: the parent's reply is the
/// execution's, and the next execution gets its own.
#[test]
fn a_forked_child_returning_through_the_adapter_never_replies() {
    each(&[PYTHON, PHP, RUBY, PERL], |u| {
        let first = u.ok("fork", "parent");
        for _ in 0..3 {
            let next = u.ok("ping", "pong");
            assert_eq!(
                first["pid"],
                next["pid"],
                "{}: the adapter was replaced",
                u.what()
            );
        }
    });
}

/// Class 12: a line printed after the reply, while the next execution runs, is logged under the execution that
/// printed it or under none, never under the next one.
#[test]
fn a_line_printed_after_the_reply_is_not_the_next_executions() {
    each(&[PYTHON, NODE, BUN], |u| {
        let first = u.ok("print-late", "scheduled");
        let next = u.ok("sleep", "slept");
        let line = u.shim.wait_log("the late line", |e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("late line of print-late"))
        });
        assert_ne!(line["req"], next["req"], "{}: {line}", u.what());
        assert!(
            line["req"] == first["req"] || line["req"] == "-",
            "{}: {line} (the first execution was {})",
            u.what(),
            first["req"]
        );
    });
}
