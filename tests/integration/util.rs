//! The harness: starts the real `runtime-shim` binary on port 0 with a scrubbed environment, finds its address
//! in its JSON log, and talks plain HTTP/1.1 to it. Every wait is a bounded poll.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime_shim::conformance::client;
use serde_json::Value;

const READ_TIMEOUT: Duration = Duration::from_secs(60);

pub const KEY: &str = "test-key-0123456789";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_adapter() -> String {
    repo()
        .join("tests/fixtures/adapters/misbehave.py")
        .to_string_lossy()
        .into_owned()
}

pub fn functions(lang: &str) -> String {
    repo()
        .join("conformance")
        .join(lang)
        .to_string_lossy()
        .into_owned()
}

/// Polls `check` every 10 ms until it returns `Some`, or panics after `limit` with `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub struct Shim {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<String>>,
}

/// The binary under test: the one cargo built, or `SHIM_TEST_BIN` (the static release build, in CI).
pub fn binary() -> PathBuf {
    std::env::var_os("SHIM_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_runtime-shim")))
}

/// Starts the binary with `args` and exactly `env` (plus PATH and HOME, so interpreters are found).
pub fn spawn_raw(args: &[&str], env: &[(&str, &str)]) -> Child {
    spawn_raw_with(args, env, |_| {})
}

/// [`spawn_raw`], with `configure` given the command before it starts (descriptors, limits).
pub fn spawn_raw_with(
    args: &[&str],
    env: &[(&str, &str)],
    configure: impl FnOnce(&mut Command),
) -> Child {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in ["PATH", "HOME", "PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.envs(env.iter().copied());
    configure(&mut cmd);
    cmd.spawn().expect("start runtime-shim")
}

impl Shim {
    /// Serves with the test key on 127.0.0.1:0, JSON logs, one worker, plus `env` (which may override all).
    pub fn start(env: &[(&str, &str)]) -> Shim {
        Shim::start_with(env, |_| {})
    }

    pub fn python(file_env: &[(&str, &str)]) -> Shim {
        let code = functions("python");
        let mut env = vec![
            ("SHIM_ADAPTER", "python"),
            ("SHIM_CODE_PATH", code.as_str()),
        ];
        env.extend_from_slice(file_env);
        Shim::start(&env)
    }

    pub fn node(file_env: &[(&str, &str)]) -> Shim {
        let code = functions("node");
        let mut env = vec![("SHIM_ADAPTER", "node"), ("SHIM_CODE_PATH", code.as_str())];
        env.extend_from_slice(file_env);
        Shim::start(&env)
    }

    pub fn fixture(mode: &str, env: &[(&str, &str)]) -> Shim {
        let adapter = fixture_adapter();
        let mut all = vec![("SHIM_ADAPTER", adapter.as_str()), ("FIXTURE_MODE", mode)];
        all.extend_from_slice(env);
        Shim::start(&all)
    }

    pub fn launch(args: &[&str], env: &[(&str, &str)]) -> Shim {
        Shim::launch_with(args, env, |_| {})
    }

    /// [`Shim::start`], with `configure` given the command before it starts.
    pub fn start_with(env: &[(&str, &str)], configure: impl FnOnce(&mut Command)) -> Shim {
        let mut all = vec![
            ("APPWRITE_INTERNAL_RUNTIME_KEY", KEY),
            ("SHIM_HOST", "127.0.0.1"),
            ("SHIM_PORT", "0"),
            ("SHIM_LOG_FORMAT", "json"),
            ("SHIM_WORKERS", "1"),
        ];
        all.extend_from_slice(env);
        Shim::launch_with(&[], &all, configure)
    }

    /// [`Shim::launch`], with `configure` given the command before it starts.
    pub fn launch_with(
        args: &[&str],
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Shim {
        let mut shim = Shim::spawn_logged_with(args, env, configure);
        shim.addr = wait_for(Duration::from_secs(10), "the listening log line", || {
            if let Ok(Some(status)) = shim.child.try_wait() {
                panic!("runtime-shim exited with {status}: {:#?}", shim.logs());
            }
            shim.log_events()
                .iter()
                .find(|e| e["message"] == "listening")
                .and_then(|e| e["addr"].as_str()?.parse().ok())
        });
        shim
    }

    /// Starts the binary with its stdout and stderr collected, without waiting for it to listen (`addr` is
    /// 0.0.0.0:0): for modes that serve no HTTP, such as the lambda bootstrap.
    pub fn spawn_logged(args: &[&str], env: &[(&str, &str)]) -> Shim {
        Shim::spawn_logged_with(args, env, |_| {})
    }

    fn spawn_logged_with(
        args: &[&str],
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Shim {
        let mut child = spawn_raw_with(args, env, configure);
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let out = child.stdout.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Shim {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            logs,
            stdout,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until `/_/ready` says 200.
    pub fn ready(self) -> Shim {
        wait_for(Duration::from_secs(15), "/_/ready", || {
            (self.get("/_/ready").status == 200).then_some(())
        });
        self
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// The JSON log lines, parsed.
    pub fn log_events(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a log event matching `pred`.
    pub fn wait_log(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_for(Duration::from_secs(10), what, || {
            self.log_events().into_iter().find(|e| pred(e))
        })
    }

    pub fn get(&self, path: &str) -> Resp {
        Resp(client::get(self.addr, path, READ_TIMEOUT).expect("GET"))
    }

    /// POST / with the right key.
    pub fn post(&self, body: &Value) -> Resp {
        self.post_with(
            &[("x-internal-challenge", KEY)],
            body.to_string().as_bytes(),
        )
    }

    pub fn post_with(&self, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        Resp(client::post(self.addr, headers, body, READ_TIMEOUT).expect("POST"))
    }

    /// Sends raw bytes and reads the response until the server closes the connection.
    pub fn raw(&self, request: &[u8]) -> Resp {
        Resp(client::raw(self.addr, request, READ_TIMEOUT).expect("request"))
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_for(limit, "runtime-shim to exit", || {
            self.child.try_wait().unwrap()
        })
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, with the assertions tests make on it.
#[derive(Debug)]
pub struct Resp(pub client::Response);

impl std::ops::Deref for Resp {
    type Target = client::Response;
    fn deref(&self) -> &client::Response {
        &self.0
    }
}

impl Resp {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts the error schema: status = code, JSON content type, the kind header; returns the message.
    pub fn error(&self, code: u16, kind: &str) -> String {
        assert_eq!(self.status, code, "{self:?} / {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("x-shim-error"), Some(kind), "{}", self.text());
        let v = self.json();
        assert_eq!(v["code"], code);
        assert_eq!(
            v.as_object().unwrap().len(),
            2,
            "only code and message: {v}"
        );
        v["message"]
            .as_str()
            .expect("message is a string")
            .to_string()
    }
}

/// Pids listed in a fixture's pid file.
pub fn pids_in(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// True while a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until none of `pids` is alive.
pub fn wait_all_dead(pids: &[i32]) {
    wait_for(Duration::from_secs(10), "processes to end", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
}

/// A fresh temporary path for this test.
pub fn temp_path(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("shim-test-{}-{n}-{name}", std::process::id()))
}

/// The direct children of `pid` (all threads).
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = vec![];
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// Is `pid` a zombie?
pub fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('Z')))
        .unwrap_or(false)
}
