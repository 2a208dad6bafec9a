//! `runtime-shim conformance`: the standard cases (`conformance/cases.json`, built into the binary) run against
//! any adapter, through a real shim started as a child process — the same black box the executor sees.
//!
//! This command runs on its own, without the server's runtime or reaper, so it starts and waits for its one
//! child with `std::process` directly.

pub mod client;
pub mod v5;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::adapters;

/// The cases, as data.
pub const CASES: &str = include_str!("../../conformance/cases.json");

#[derive(Deserialize)]
struct Suite {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    concurrent: usize,
    steps: Vec<Step>,
}

#[derive(Deserialize, Clone)]
struct Step {
    file: String,
    #[serde(default)]
    request: Map<String, Value>,
    expect: Expect,
}

#[derive(Deserialize, Clone)]
struct Expect {
    status: u16,
    #[serde(rename = "type")]
    content_type: Option<String>,
    error: Option<String>,
    json: Option<Value>,
    text: Option<String>,
    #[serde(default)]
    message_contains: Vec<String>,
    #[serde(default)]
    logs: Vec<String>,
    within_ms: Option<u64>,
}

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// A bundled adapter's name or an adapter executable's path (as `SHIM_ADAPTER`).
    pub adapter: String,
    /// The folder with the language's case functions; defaults to the shipped `conformance/<adapter>/`.
    pub functions: Option<PathBuf>,
    /// `SHIM_INTERPRETER` for the shim under test.
    pub interpreter: Option<String>,
    /// Print a JSON report instead of the table.
    pub json: bool,
    /// Which executor contract's cases to run.
    pub protocol: crate::contract::Contract,
}

/// `conformance --all`: every bundled adapter whose interpreter is installed, one after the other; with
/// `require_all`, a missing interpreter is a failure instead of a skip. Returns whether all ran and passed.
pub fn run_all(require_all: bool, protocol: crate::contract::Contract) -> bool {
    let started = Instant::now();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for bundled in adapters::BUNDLED {
        if protocol == crate::contract::Contract::V5
            && adapters::find_shipped("conformance/v5", bundled.name).is_none()
        {
            println!(
                "SKIP {}: it has no v5 case functions (conformance/v5/{}/)\n",
                bundled.name, bundled.name
            );
            skipped += 1;
            continue;
        }
        if !adapters::on_path(bundled.interpreter) {
            let verdict = if require_all { "FAIL" } else { "SKIP" };
            println!(
                "{verdict} {}: its interpreter {} is not on PATH (scripts/install-interpreters.sh installs it)\n",
                bundled.name, bundled.interpreter
            );
            if require_all {
                failed += 1;
            } else {
                skipped += 1;
            }
            continue;
        }
        let options = Options {
            adapter: bundled.name.to_string(),
            functions: None,
            interpreter: None,
            json: false,
            protocol,
        };
        let one = Instant::now();
        match run(&options) {
            Ok(outcomes) => {
                print!("{}", table(bundled.name, &outcomes));
                if outcomes.iter().all(|o| o.failure.is_none()) {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("FAIL {}: {e}", bundled.name);
                failed += 1;
            }
        }
        println!(
            "({} in {:.1} s)\n",
            bundled.name,
            one.elapsed().as_secs_f64()
        );
    }
    println!(
        "every bundled adapter: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("conformance: {passed} passed, {failed} failed, {skipped} skipped");
    failed == 0
}

/// How the shim under test is told what to run: `native:<lib.so>` is a shared library of the native ABI
/// (`SHIM_NATIVE_LIB`), anything else an adapter (`SHIM_ADAPTER`).
fn adapter_variable(adapter: &str) -> (&'static str, &str) {
    match adapter.strip_prefix("native:") {
        Some(lib) => ("SHIM_NATIVE_LIB", lib),
        None => ("SHIM_ADAPTER", adapter),
    }
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub failure: Option<String>,
    pub millis: u128,
}

/// Runs every case; `Err` when the kit could not run at all (no functions folder, shim did not start).
pub fn run(options: &Options) -> Result<Vec<Outcome>, String> {
    if options.protocol == crate::contract::Contract::V5 {
        return v5::run(options);
    }
    let suite: Suite = serde_json::from_str(CASES).map_err(|e| format!("cases.json: {e}"))?;
    let functions = functions_folder(options, "conformance")?;
    let ext = extension_of_seed(&functions)?;
    let token = format!("tok{}", crate::config::random_hex(6));
    let key = crate::config::random_hex(16);
    let env = [
        ("APPWRITE_INTERNAL_RUNTIME_KEY", key.as_str()),
        adapter_variable(&options.adapter),
        ("SHIM_CODE_PATH", &functions.to_string_lossy()),
        ("SHIM_WORKERS", "1"),
        ("SHIM_MAX_TIMEOUT", "60"),
    ];
    let shim = ShimUnderTest::start(options, &env, key.clone())?;

    let mut outcomes = Vec::new();
    for case in &suite.cases {
        let started = Instant::now();
        let failure = if case.concurrent > 0 {
            run_concurrent(&shim, case, &ext, &token)
        } else {
            first_failing_step(&case.steps, |step| {
                shim.check(&expand_step(step, &ext, &token, 0)).err()
            })
        };
        outcomes.push(Outcome {
            name: case.name.clone(),
            failure,
            millis: started.elapsed().as_millis(),
        });
    }
    drop(shim);
    Ok(outcomes)
}

fn run_concurrent(shim: &ShimUnderTest, case: &Case, ext: &str, token: &str) -> Option<String> {
    let step = case.steps.first()?;
    in_copies(case.concurrent, |i| {
        shim.check(&expand_step(step, ext, token, i)).err()
    })
}

/// Runs `check` for copies `0..n` at once, one thread each; the first copy's failure (by number), if any.
pub(crate) fn in_copies(
    n: usize,
    check: impl Fn(usize) -> Option<String> + Sync,
) -> Option<String> {
    let check = &check;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || check(i))).collect();
        handles.into_iter().enumerate().find_map(|(i, h)| {
            h.join()
                .unwrap_or_else(|_| Some("a copy panicked".into()))
                .map(|e| format!("copy {i}: {e}"))
        })
    })
}

/// The first step whose `check` fails, named by its number when the case has more than one.
pub(crate) fn first_failing_step<S>(
    steps: &[S],
    check: impl Fn(&S) -> Option<String>,
) -> Option<String> {
    steps.iter().enumerate().find_map(|(n, step)| {
        check(step).map(|e| {
            if steps.len() > 1 {
                format!("step {}: {e}", n + 1)
            } else {
                e
            }
        })
    })
}

/// The language's case functions: `--functions`, or the shipped `<folder>/<adapter>/`, as an absolute path.
fn functions_folder(options: &Options, folder: &str) -> Result<PathBuf, String> {
    let functions = match &options.functions {
        Some(f) => f.clone(),
        None if !options.adapter.contains('/') => adapters::find_shipped(folder, &options.adapter)
            .ok_or_else(|| {
                format!(
                    "no {folder}/{}/ folder found; give one with --functions",
                    options.adapter
                )
            })?,
        None => return Err("an adapter given by path needs --functions <folder>".into()),
    };
    functions
        .canonicalize()
        .map_err(|e| format!("cannot open {}: {e}", functions.display()))
}

/// The extension the language's files use, from its `seed.*`.
fn extension_of_seed(dir: &Path) -> Result<String, String> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_prefix("seed.").map(str::to_string)
        })
        .ok_or_else(|| format!("{} has no seed.* file", dir.display()))
}

fn expand_step(step: &Step, ext: &str, token: &str, i: usize) -> Step {
    let vars = |s: &str| {
        s.replace("{ext}", ext)
            .replace("{token}", token)
            .replace("{i}", &i.to_string())
    };
    let mut request = expand(&Value::Object(step.request.clone()), &vars);
    request["file"] = Value::String(format!("{}.{ext}", step.file));
    let e = &step.expect;
    Step {
        file: step.file.clone(),
        request: request.as_object().cloned().unwrap_or_default(),
        expect: Expect {
            status: e.status,
            content_type: e.content_type.clone(),
            error: e.error.clone(),
            json: e.json.as_ref().map(|j| expand(j, &vars)),
            text: e.text.as_deref().map(vars),
            message_contains: e.message_contains.iter().map(|m| vars(m)).collect(),
            logs: e.logs.iter().map(|l| vars(l)).collect(),
            within_ms: e.within_ms,
        },
    }
}

/// Applies the placeholders to every string, `{"$repeat": [s, n]}` and `{"$concat": [a, b, …]}`.
fn expand(value: &Value, vars: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(vars(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| expand(v, vars)).collect()),
        Value::Object(map) => {
            if let Some(Value::Array(args)) = map.get("$repeat")
                && let [Value::String(s), Value::Number(n)] = args.as_slice()
            {
                return Value::String(vars(s).repeat(n.as_u64().unwrap_or(0) as usize));
            }
            if let Some(Value::Array(parts)) = map.get("$concat") {
                let joined = parts.iter().map(|p| match expand(p, vars) {
                    Value::String(s) => s,
                    other => other.to_string(),
                });
                return Value::String(joined.collect());
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (vars(k), expand(v, vars)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// A shim started for the kit, JSON logs collected.
struct ShimUnderTest {
    child: Child,
    addr: SocketAddr,
    key: String,
    logs: Arc<Mutex<Vec<Value>>>,
}

const STARTUP_LIMIT: Duration = Duration::from_secs(30);

impl ShimUnderTest {
    /// Starts `runtime-shim serve` on a loopback port with `env` on top of the caller's environment (less
    /// anything that would change the shim under test), and waits until an adapter is ready.
    fn start(
        options: &Options,
        env: &[(&str, &str)],
        key: String,
    ) -> Result<ShimUnderTest, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The caller's environment (interpreters, PATH) minus anything that would change the shim under test.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if crate::config::is_scrubbed(&name)
                || name.ends_with("ENTRYPOINT_NAME")
                || name.starts_with("OPEN_RUNTIMES_")
            {
                cmd.env_remove(&*name);
            }
        }
        if let Some(dir) = std::env::var_os("SHIM_ADAPTERS_DIR") {
            cmd.env("SHIM_ADAPTERS_DIR", dir);
        }
        cmd.envs([
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", "0"),
            ("SHIM_LOG_FORMAT", "json"),
            ("SHIM_LOG", "info"),
            ("SHIM_STARTUP_TIMEOUT", "20"),
        ]);
        cmd.envs(env.iter().copied());
        if let Some(i) = &options.interpreter {
            cmd.env("SHIM_INTERPRETER", i);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the shim under test: {e}"))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let raw_lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let stderr = child.stderr.take().expect("piped");
        let (sink, raw_sink) = (logs.clone(), raw_lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => sink.lock().unwrap_or_else(|e| e.into_inner()).push(v),
                    Err(_) => raw_sink
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line),
                }
            }
        });
        let mut shim = ShimUnderTest {
            child,
            addr: "127.0.0.1:0".parse().expect("literal"),
            key,
            logs,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = shim.child.try_wait() {
                let said = raw_lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .join("\n");
                return Err(format!("the shim under test exited ({status}): {said}"));
            }
            let listening = shim
                .events()
                .into_iter()
                .find(|e| e["message"] == "listening");
            if let Some(addr) = listening.and_then(|e| e["addr"].as_str()?.parse().ok()) {
                shim.addr = addr;
                break;
            }
            if started.elapsed() > STARTUP_LIMIT {
                return Err("the shim under test did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        loop {
            let ready = client::get(shim.addr, "/_/ready", Duration::from_secs(5));
            if ready.is_ok_and(|r| r.status == 200) {
                return Ok(shim);
            }
            if started.elapsed() > STARTUP_LIMIT {
                let why = shim
                    .events()
                    .into_iter()
                    .rev()
                    .find(|e| e["level"] == "ERROR")
                    .and_then(|e| e["message"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "no adapter became ready".into());
                return Err(format!(
                    "the adapter never became ready within {} s: {why}",
                    STARTUP_LIMIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn events(&self) -> Vec<Value> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends one step's request and checks everything it expects.
    fn check(&self, step: &Step) -> Result<(), String> {
        let body = Value::Object(step.request.clone()).to_string();
        let started = Instant::now();
        let r = client::post(
            self.addr,
            &[("x-internal-challenge", &self.key)],
            body.as_bytes(),
            Duration::from_secs(90),
        )
        .map_err(|e| format!("request failed: {e}"))?;
        let took = started.elapsed();
        let e = &step.expect;
        let shown = || {
            let t = r.text();
            let cut: String = t.chars().take(300).collect();
            if cut.len() < t.len() {
                format!("{cut}…")
            } else {
                cut
            }
        };
        if r.status != e.status {
            return Err(format!(
                "status {}, expected {}: {}",
                r.status,
                e.status,
                shown()
            ));
        }
        if let Some(t) = &e.content_type
            && r.header("content-type") != Some(t)
        {
            return Err(format!(
                "Content-Type {:?}, expected {t:?}",
                r.header("content-type")
            ));
        }
        if let Some(kind) = &e.error {
            if r.header(crate::error::ERROR_KIND_HEADER) != Some(kind) {
                return Err(format!(
                    "error kind {:?}, expected {kind:?}: {}",
                    r.header(crate::error::ERROR_KIND_HEADER),
                    shown()
                ));
            }
            let v: Value = serde_json::from_slice(&r.body)
                .map_err(|_| format!("error body is not JSON: {}", shown()))?;
            let message = v["message"].as_str().unwrap_or_default();
            if v["code"] != json!(e.status) || v.as_object().map_or(0, Map::len) != 2 {
                return Err(format!("error body is not {{code, message}}: {}", shown()));
            }
            if let Some(missing) = e
                .message_contains
                .iter()
                .find(|m| !message.contains(m.as_str()))
            {
                return Err(format!("message lacks {missing:?}: {}", shown()));
            }
        }
        if let Some(want) = &e.json {
            let got: Value = serde_json::from_slice(&r.body)
                .map_err(|_| format!("reply is not JSON: {}", shown()))?;
            if &got != want {
                return Err(format!("reply {}, expected {}", shown(), short(want)));
            }
        }
        if let Some(want) = &e.text
            && r.body != want.as_bytes()
        {
            return Err(format!("reply {:?}, expected {want:?}", shown()));
        }
        if let Some(limit) = e.within_ms
            && took > Duration::from_millis(limit)
        {
            return Err(format!(
                "answered after {} ms, limit {limit} ms",
                took.as_millis()
            ));
        }
        if !e.logs.is_empty() {
            self.check_logs(&e.logs)?;
        }
        Ok(())
    }

    /// Every line must be logged as the function's output, all under one request id that also has an
    /// execution line.
    fn check_logs(&self, lines: &[String]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let events = self.events();
            let found: Vec<Option<&Value>> = lines
                .iter()
                .map(|l| {
                    events
                        .iter()
                        .find(|e| e["target"] == "function" && e["message"] == l.as_str())
                })
                .collect();
            if found.iter().all(Option::is_some) {
                let reqs: Vec<&Value> = found.iter().flatten().map(|e| &e["req"]).collect();
                if reqs.iter().any(|r| *r != reqs[0]) {
                    return Err(format!("log lines carry different request ids: {reqs:?}"));
                }
                let executed = events
                    .iter()
                    .any(|e| e["message"] == "execution" && &e["req"] == reqs[0]);
                if executed {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let missing: Vec<&String> = lines
                    .iter()
                    .zip(&found)
                    .filter(|(_, f)| f.is_none())
                    .map(|(l, _)| l)
                    .collect();
                return Err(format!("not in the log as function output: {missing:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..s.floor_char_boundary(300)])
    } else {
        s
    }
}

impl Drop for ShimUnderTest {
    fn drop(&mut self) {
        // SIGTERM for a clean stop (adapters ended by the shim), then make sure.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The human report; its last line is `N passed, N failed`.
pub fn table(adapter: &str, outcomes: &[Outcome]) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("conformance: {adapter}\n");
    for o in outcomes {
        let pad = width - o.name.chars().count();
        match &o.failure {
            None => out.push_str(&format!(
                "  PASS  {}{}  {:>6} ms\n",
                o.name,
                " ".repeat(pad),
                o.millis
            )),
            Some(why) => out.push_str(&format!(
                "  FAIL  {}{}  {:>6} ms  {why}\n",
                o.name,
                " ".repeat(pad),
                o.millis
            )),
        }
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    out.push_str(&format!(
        "{} passed, {failed} failed\n",
        outcomes.len() - failed
    ));
    out
}

pub fn json_report(adapter: &str, outcomes: &[Outcome]) -> String {
    let cases: Vec<Value> = outcomes
        .iter()
        .map(|o| json!({"name": o.name, "passed": o.failure.is_none(), "failure": o.failure, "ms": o.millis as u64}))
        .collect();
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    json!({"adapter": adapter, "passed": outcomes.len() - failed, "failed": failed, "cases": cases})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cases_parse_and_expand() {
        let suite: Suite = serde_json::from_str(CASES).unwrap();
        assert!(suite.cases.len() >= 15);
        let big = suite
            .cases
            .iter()
            .find(|c| c.name.starts_with("5 MB"))
            .unwrap();
        let step = expand_step(&big.steps[0], "py", "t", 0);
        let payload = step.request["payload"].as_str().unwrap();
        assert!(payload.len() >= 5_000_000, "{}", payload.len());
        assert_eq!(step.request["file"], "echo.py");
        let conc = suite.cases.iter().find(|c| c.concurrent > 0).unwrap();
        let step = expand_step(&conc.steps[0], "rb", "t", 7);
        assert_eq!(step.request["env"]["N"], "7");
        assert_eq!(step.expect.json.unwrap()["payload"], "payload 7");
    }

    #[test]
    fn the_table_ends_with_the_counts() {
        let t = table(
            "x",
            &[
                Outcome {
                    name: "a".into(),
                    failure: None,
                    millis: 1,
                },
                Outcome {
                    name: "bb".into(),
                    failure: Some("why".into()),
                    millis: 2,
                },
            ],
        );
        assert!(t.ends_with("1 passed, 1 failed\n"), "{t}");
        assert!(t.contains("FAIL  bb") && t.contains("why"));
    }
}
