//! Configuration: read once, from an environment given as a trait object, into typed values.
//!
//! The process environment is only one [`Env`]; tests pass a map. Nothing here mutates the process's own
//! environment. A value that does not parse is an error naming the variable — never a silent fallback to
//! the default.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::adapters::{self, Launch};
use crate::contract::Contract;
use crate::process::{Credentials, Resource};

/// Where configuration values come from.
pub trait Env {
    /// The value of `name`; `Err` carries the variable's name when the value is not UTF-8.
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match std::env::var_os(name) {
            None => Ok(None),
            Some(v) => v
                .into_string()
                .map(Some)
                .map_err(|_| ConfigError::new(name, "is not valid UTF-8")),
        }
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get(name).cloned())
    }
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_string(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// The executor's key. Its `Debug` never shows the value, so it cannot reach a log by accident.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Key(value.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the shim needs to serve, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which executor contract is served (`SHIM_PROTOCOL`).
    pub contract: Contract,
    /// The executor's key: v1's `APPWRITE_INTERNAL_RUNTIME_KEY`, or v5's `OPEN_RUNTIMES_SECRET` (empty: no check).
    pub key: Key,
    /// Settings of the v5 contract (defaults under v1, where nothing reads them).
    pub v5: V5Settings,
    /// `dev --watch`: the folder whose changes replace the adapters.
    pub watch: Option<PathBuf>,
    /// The lambda contract's Runtime API (`AWS_LAMBDA_RUNTIME_API`); `None` under the other contracts.
    pub runtime_api: Option<crate::contract::lambda::RuntimeApi>,
    pub host: IpAddr,
    pub port: u16,
    pub launch: Launch,
    /// Default `path` of a request (`/usr/code`).
    pub code_path: String,
    /// Default `file` of a request (`APPWRITE_ENTRYPOINT_NAME`).
    pub entrypoint: Option<String>,
    pub workers: usize,
    pub queue: usize,
    /// Threads of the shim's own event loop (`SHIM_THREADS`); 0 (`single`) runs it on the main thread alone.
    pub threads: usize,
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    pub max_body: usize,
    pub max_reply: usize,
    pub startup_timeout: Duration,
    pub kill_grace: Duration,
    pub shutdown_grace: Duration,
    /// How long the shim keeps serving after SIGTERM, with `/_/ready` at 503, before it closes the listener
    /// (`SHIM_DRAIN_DELAY`), so a load balancer takes the replica out first.
    pub drain_delay: Duration,
    /// How long a client may take to send a request's headers, and then its body (`SHIM_READ_TIMEOUT`).
    pub read_timeout: Duration,
    /// Who adapters run as (`SHIM_USER`; by default `appwrite` when the shim is root and that user exists).
    pub user: Option<Credentials>,
    /// Resource limits of every adapter process.
    pub limits: Vec<(Resource, u64)>,
    /// `SHIM_UID_BASE`: each worker slot's adapters run as a uid of their own from this base, with this gid.
    pub worker_uids: Option<(u32, u32)>,
    /// `SHIM_CGROUP`: a cgroup v2 per worker slot when the shim's own is writable (`auto`), or never (`off`).
    pub cgroups: bool,
    /// `SHIM_MAX_CONNECTIONS`: open connections at most; `None`: fitted to the open-file limit at start.
    pub max_connections: Option<usize>,
    pub log: String,
    pub log_format: LogFormat,
}

/// What only the v5 contract reads.
#[derive(Debug, Clone, Default)]
pub struct V5Settings {
    /// `SHIM_LOGS_DIR`: where `<id>_logs.log` and `<id>_errors.log` go.
    pub logs_dir: PathBuf,
    /// `SHIM_TELEMETRY_DIR`: where `timings.txt` is read from.
    pub telemetry_dir: PathBuf,
    /// `OPEN_RUNTIMES_ENV=development`: the log id defaults to `dev`.
    pub development: bool,
    /// `OPEN_RUNTIMES_HEADERS`: merged over every request's headers (names lower-cased).
    pub headers: Vec<(String, String)>,
}

pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_CODE_PATH: &str = "/usr/code";
/// The v5 contract's code folder.
pub const V5_CODE_PATH: &str = "/usr/local/server/src/function";
pub const V5_LOGS_DIR: &str = "/mnt/logs";
/// The lambda contract's code folder when `LAMBDA_TASK_ROOT` is unset (AWS sets it to this).
pub const LAMBDA_CODE_PATH: &str = "/var/task";
pub const V5_TELEMETRY_DIR: &str = "/mnt/telemetry";
/// Plain HTTP's optional secret (`Authorization: Bearer …`); a `SHIM_` name, so adapters never see it.
pub const HTTP_SECRET_VAR: &str = "SHIM_SECRET";
/// The v5 contract's secret; the adapters never see it.
pub const V5_SECRET_VAR: &str = "OPEN_RUNTIMES_SECRET";
pub const DEFAULT_TIMEOUT_SECS: f64 = 900.0;
pub const DEFAULT_MAX_BODY: usize = 20 * 1024 * 1024;
pub const DEFAULT_MAX_REPLY: usize = 64 * 1024 * 1024;
/// Requests that may wait per worker when `SHIM_QUEUE` is unset.
pub const QUEUE_PER_WORKER: usize = 64;

/// Variables the adapters must never see: the key, and the shim's own settings.
pub const KEY_VARS: [&str; 2] = ["APPWRITE_INTERNAL_RUNTIME_KEY", "INTERNAL_RUNTIME_KEY"];

/// How the caller wants the key handled: `serve` requires one; `dev` makes one up when none is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    Required,
    GenerateIfMissing,
}

/// Settings the `dev` command decides instead of the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
    pub adapter: Option<String>,
    pub code_path: Option<String>,
    pub entrypoint: Option<String>,
    pub contract: Option<Contract>,
    pub logs_dir: Option<PathBuf>,
    pub development: bool,
    pub watch: Option<PathBuf>,
}

impl Config {
    /// Reads the whole configuration from `env`. The first bad value is the error.
    pub fn from_env(
        env: &dyn Env,
        policy: KeyPolicy,
        overrides: Overrides,
    ) -> Result<Config, ConfigError> {
        let contract = match overrides.contract {
            Some(c) => c,
            None => parse_or(env, "SHIM_PROTOCOL", Contract::V1, |v| v.parse())?,
        };
        let key = match first_set(env, &KEY_VARS)? {
            // Lambda's Runtime API is the only caller, on the sandbox's loopback: no key.
            _ if contract == Contract::Lambda => Key::new(Vec::new()),
            // v5 has its own secret, and none is a valid choice; so has plain HTTP.
            _ if contract == Contract::V5 => Key::new(env.var(V5_SECRET_VAR)?.unwrap_or_default()),
            _ if contract == Contract::Http => {
                Key::new(env.var(HTTP_SECRET_VAR)?.unwrap_or_default())
            }
            Some(k) => Key::new(k),
            None if policy == KeyPolicy::GenerateIfMissing => Key::new(random_hex(16)),
            None => {
                return Err(ConfigError::new(
                    "APPWRITE_INTERNAL_RUNTIME_KEY",
                    "is not set (nor INTERNAL_RUNTIME_KEY): the shim refuses to serve without the \
                     executor's key; use `runtime-shim dev <folder>` for local development",
                ));
            }
        };

        let host = match overrides.host {
            Some(h) => h,
            None => parse_or(env, "SHIM_HOST", "0.0.0.0".parse().unwrap(), |v| {
                v.parse::<IpAddr>()
                    .map_err(|_| "must be an IP address such as 0.0.0.0 or 127.0.0.1".into())
            })?,
        };
        let port_number = |v: &str| {
            v.parse::<u16>()
                .map_err(|_| "must be a port number from 0 to 65535".to_string())
        };
        let port = match overrides.port {
            Some(p) => p,
            None => {
                // Knative and Cloud Run say the port in PORT; SHIM_PORT, when set, still wins.
                let default = match contract {
                    Contract::Http => parse_or(env, "PORT", DEFAULT_PORT, port_number)?,
                    _ => DEFAULT_PORT,
                };
                parse_or(env, "SHIM_PORT", default, port_number)?
            }
        };

        let entrypoint = match overrides.entrypoint {
            Some(e) => Some(e),
            None if contract == Contract::V5 => first_set(env, &["OPEN_RUNTIMES_ENTRYPOINT"])?,
            None if contract == Contract::Http => {
                first_set(env, &["SHIM_ENTRYPOINT", "OPEN_RUNTIMES_ENTRYPOINT"])?
            }
            None if contract == Contract::V2 => first_set(
                env,
                &[
                    "INTERNAL_RUNTIME_ENTRYPOINT",
                    "APPWRITE_ENTRYPOINT_NAME",
                    "ENTRYPOINT_NAME",
                ],
            )?,
            // The function's Handler setting names the entry file (`main.py`).
            None if contract == Contract::Lambda => {
                first_set(env, &["OPEN_RUNTIMES_ENTRYPOINT", "_HANDLER"])?
            }
            None => first_set(env, &["APPWRITE_ENTRYPOINT_NAME", "ENTRYPOINT_NAME"])?,
        };
        let code_path = match overrides.code_path {
            Some(p) => p,
            None => match env.var("SHIM_CODE_PATH")?.filter(|v| !v.is_empty()) {
                Some(p) => p,
                None => match contract {
                    Contract::V1 | Contract::V2 => DEFAULT_CODE_PATH.to_string(),
                    Contract::V5 | Contract::Http => V5_CODE_PATH.to_string(),
                    // Where Lambda unpacks the function's zip (it sets LAMBDA_TASK_ROOT to it).
                    Contract::Lambda => first_set(env, &["LAMBDA_TASK_ROOT"])?
                        .unwrap_or_else(|| LAMBDA_CODE_PATH.to_string()),
                },
            },
        };
        // Adapters run in the code folder: a relative path would be taken from there, not from here.
        let code_path = match std::path::Path::new(&code_path) {
            p if p.is_relative() => std::path::absolute(p)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(code_path),
            _ => code_path,
        };
        let runtime_api = match contract {
            Contract::Lambda => Some(
                env.var(crate::contract::lambda::RUNTIME_API_VAR)?
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(
                            crate::contract::lambda::RUNTIME_API_VAR,
                            "is not set: SHIM_PROTOCOL=lambda runs as the bootstrap of an AWS Lambda \
                             custom runtime, which sets it to the Runtime API's host:port",
                        )
                    })
                    .and_then(|v| {
                        crate::contract::lambda::RuntimeApi::parse(&v).map_err(|p| {
                            ConfigError::new(
                                crate::contract::lambda::RUNTIME_API_VAR,
                                format!("{p} (got {v:?})"),
                            )
                        })
                    })?,
            ),
            _ => None,
        };
        let v5 = V5Settings {
            logs_dir: match overrides.logs_dir {
                Some(d) => d,
                None => dir_or(env, "SHIM_LOGS_DIR", V5_LOGS_DIR)?,
            },
            telemetry_dir: dir_or(env, "SHIM_TELEMETRY_DIR", V5_TELEMETRY_DIR)?,
            development: overrides.development
                || env.var("OPEN_RUNTIMES_ENV")?.as_deref() == Some("development"),
            headers: parse_or(env, "OPEN_RUNTIMES_HEADERS", Vec::new(), extra_headers)?,
        };

        let native_lib = env.var("SHIM_NATIVE_LIB")?.filter(|v| !v.is_empty());
        let interpreter = env.var("SHIM_INTERPRETER")?.filter(|v| !v.is_empty());
        let adapter = match overrides.adapter {
            Some(a) => Some(a),
            None => env.var("SHIM_ADAPTER")?.filter(|v| !v.is_empty()),
        };
        let launch = match (native_lib, adapter) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "SHIM_NATIVE_LIB",
                    "and SHIM_ADAPTER are both set; set one of them",
                ));
            }
            (Some(lib), None) => native_launch(&lib, env)?,
            (None, adapter) => {
                let adapter = match adapter {
                    Some(a) => a,
                    None => entrypoint
                        .as_deref()
                        .and_then(adapters::for_entry_file)
                        .map(str::to_string)
                        .ok_or_else(|| {
                            ConfigError::new(
                                "SHIM_ADAPTER",
                                format!(
                                    "is not set and cannot be guessed from the entry file; set it to \
                                     one of {} or to the path of an adapter executable \
                                     (or SHIM_NATIVE_LIB to a shared library)",
                                    adapters::bundled_names().join(", ")
                                ),
                            )
                        })?,
                };
                let adapters_dir = env.var("SHIM_ADAPTERS_DIR")?.filter(|v| !v.is_empty());
                adapters::resolve(&adapter, interpreter.as_deref(), adapters_dir.as_deref())
                    .map_err(|problem| ConfigError::new("SHIM_ADAPTER", problem))?
            }
        };

        // A Lambda sandbox runs one invocation at a time: one adapter is all it can use.
        let cpus = match contract {
            Contract::Lambda => 1,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let workers = parse_or(env, "SHIM_WORKERS", cpus, |v| positive_int(v, 1024))?;
        let threads = parse_or(env, "SHIM_THREADS", 0, |v| match v {
            "single" => Ok(0),
            v => positive_int(v, 256).map_err(|e| format!("{e}, or `single`")),
        })?;
        let queue = parse_or(env, "SHIM_QUEUE", workers * QUEUE_PER_WORKER, |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n <= 1_000_000)
                .ok_or_else(|| "must be a whole number from 0 to 1000000".to_string())
        })?;

        let max_timeout = parse_or(
            env,
            "SHIM_MAX_TIMEOUT",
            Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            seconds,
        )?;
        let default_timeout = parse_or(
            env,
            "SHIM_DEFAULT_TIMEOUT",
            Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            seconds,
        )?
        .min(max_timeout);
        let max_body = parse_or(env, "SHIM_MAX_BODY", DEFAULT_MAX_BODY, |v| {
            positive_int(v, 1 << 32)
        })?;
        let max_reply = parse_or(env, "SHIM_MAX_REPLY", DEFAULT_MAX_REPLY, |v| {
            positive_int(v, 1 << 32)
        })?;
        let startup_timeout = parse_or(
            env,
            "SHIM_STARTUP_TIMEOUT",
            Duration::from_secs(10),
            seconds,
        )?;
        let kill_grace = parse_or(env, "SHIM_KILL_GRACE", Duration::from_millis(500), |v| {
            seconds_or_zero(v)
        })?;
        let shutdown_grace = parse_or(env, "SHIM_SHUTDOWN_GRACE", Duration::from_secs(8), |v| {
            seconds_or_zero(v)
        })?;

        let drain_delay = parse_or(env, "SHIM_DRAIN_DELAY", Duration::ZERO, |v| {
            seconds_or_zero(v)
        })?;

        let read_timeout = parse_or(env, "SHIM_READ_TIMEOUT", Duration::from_secs(30), seconds)?;

        let user = parse_user(env)?;
        let worker_uids = parse_worker_uids(env)?;
        let cgroups = parse_or(env, "SHIM_CGROUP", true, |v| match v {
            "auto" | "" => Ok(true),
            "off" => Ok(false),
            _ => Err("must be `auto` or `off`".into()),
        })?;
        let max_connections = parse_or(env, "SHIM_MAX_CONNECTIONS", None, |v| {
            positive_int(v, 1_000_000).map(Some)
        })?;
        let mut limits = Vec::new();
        for (name, resource) in [
            ("SHIM_LIMIT_MEMORY", Resource::RLIMIT_AS),
            ("SHIM_LIMIT_FILES", Resource::RLIMIT_NOFILE),
            ("SHIM_LIMIT_PROCESSES", Resource::RLIMIT_NPROC),
            ("SHIM_LIMIT_CPU", Resource::RLIMIT_CPU),
        ] {
            if let Some(v) = parse_or(env, name, None, |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| "must be a whole number greater than 0".to_string())
            })? {
                limits.push((resource, v));
            }
        }

        let log = env
            .var("SHIM_LOG")?
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "info".to_string());
        crate::telemetry::check_filter(&log)
            .map_err(|p| ConfigError::new("SHIM_LOG", format!("{p} (got {log:?})")))?;
        let log_format = parse_or(env, "SHIM_LOG_FORMAT", LogFormat::Pretty, |v| match v {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("must be `pretty` or `json`".into()),
        })?;

        Ok(Config {
            contract,
            key,
            v5,
            watch: overrides.watch,
            runtime_api,
            host,
            port,
            launch,
            code_path,
            entrypoint,
            workers,
            queue,
            threads,
            default_timeout,
            max_timeout,
            max_body,
            max_reply,
            startup_timeout,
            kill_grace,
            shutdown_grace,
            drain_delay,
            read_timeout,
            user,
            limits,
            worker_uids,
            cgroups,
            max_connections,
            log,
            log_format,
        })
    }

    /// The environment an adapter starts with, on top of the shim's own minus [`Config::scrubbed`].
    pub fn adapter_env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            (
                "SHIM_PROTOCOL".to_string(),
                self.contract.adapter_version().to_string(),
            ),
            // The function API: plain HTTP and Lambda present v5's `context`, so adapters know three.
            (
                "SHIM_CONTRACT".to_string(),
                match self.contract {
                    Contract::Http | Contract::Lambda => Contract::V5,
                    other => other,
                }
                .to_string(),
            ),
            ("SHIM_CODE_PATH".to_string(), self.code_path.clone()),
            ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
        ];
        if let Some(e) = &self.entrypoint {
            vars.push(("SHIM_ENTRYPOINT".to_string(), e.clone()));
        }
        vars
    }

    /// The working directory of adapters: the code folder, when it exists.
    pub fn adapter_cwd(&self) -> Option<PathBuf> {
        let p = PathBuf::from(&self.code_path);
        p.is_dir().then_some(p)
    }
}

/// The native path's worker: this program re-executed in its worker role.
///
/// A statically linked glibc program cannot host shared libraries that use thread-local storage (every Rust
/// library does: `__tls_get_addr` has no thread control block to work with), so the static release binary
/// hands the role to its dynamically linked twin, `runtime-shim-native`, shipped next to it (`make static`
/// builds both), or to `SHIM_NATIVE_WORKER`. A dynamically linked build is its own worker.
fn native_launch(lib: &str, env: &dyn Env) -> Result<Launch, ConfigError> {
    let path = std::path::Path::new(lib);
    if !path.is_file() {
        return Err(ConfigError::new(
            "SHIM_NATIVE_LIB",
            format!("names {lib:?}, which is not a file"),
        ));
    }
    let lib = path
        .canonicalize()
        .map_err(|e| ConfigError::new("SHIM_NATIVE_LIB", format!("names {lib:?}: {e}")))?;
    let worker = match env.var("SHIM_NATIVE_WORKER")?.filter(|v| !v.is_empty()) {
        Some(w) => {
            adapters::resolve(&w, None, None)
                .map_err(|p| ConfigError::new("SHIM_NATIVE_WORKER", p))?
                .program
        }
        None => {
            let exe = std::env::current_exe().map_err(|e| {
                ConfigError::new("SHIM_NATIVE_LIB", format!("cannot find this binary: {e}"))
            })?;
            if cfg!(target_feature = "crt-static") {
                let twin = exe.with_file_name(NATIVE_WORKER_BINARY);
                if adapters::resolve(&twin.to_string_lossy(), None, None).is_err() {
                    return Err(ConfigError::new(
                        "SHIM_NATIVE_LIB",
                        format!(
                            "needs {}: this runtime-shim is statically linked and cannot load shared \
                             libraries itself; put its dynamically linked twin there (`make static` \
                             builds both) or set SHIM_NATIVE_WORKER",
                            twin.display()
                        ),
                    ));
                }
                twin.into_os_string()
            } else {
                exe.into_os_string()
            }
        }
    };
    Ok(Launch {
        name: format!("native {}", lib.display()),
        program: worker,
        args: vec![crate::native::WORKER_COMMAND.into(), lib.into_os_string()],
    })
}

/// The dynamically linked build that serves the native path next to a static binary.
pub const NATIVE_WORKER_BINARY: &str = "runtime-shim-native";

/// The default unprivileged user of images (SPEC §5).
pub const DEFAULT_USER: &str = "appwrite";

/// `SHIM_USER`: a name from /etc/passwd, a uid, or `uid:gid`; `root` keeps root. Unset: `appwrite` when the
/// shim runs as root and that user exists, else the shim's own user. Switching needs root.
fn parse_user(env: &dyn Env) -> Result<Option<Credentials>, ConfigError> {
    let me = nix::unistd::geteuid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let Some(value) = env.var("SHIM_USER")?.filter(|v| !v.is_empty()) else {
        return Ok(if me.is_root() {
            lookup_user(&passwd, DEFAULT_USER)
        } else {
            None
        });
    };
    if value == "root" {
        return Ok(None);
    }
    let creds = lookup_user(&passwd, &value).ok_or_else(|| {
        ConfigError::new(
            "SHIM_USER",
            format!(
                "names {value:?}, which is no user in /etc/passwd (give a name, a uid or uid:gid)"
            ),
        )
    })?;
    if creds.uid == me.as_raw() {
        return Ok(None);
    }
    if !me.is_root() {
        return Err(ConfigError::new(
            "SHIM_USER",
            format!("is {value:?}, but only root can start adapters as another user"),
        ));
    }
    Ok(Some(creds))
}

/// `SHIM_UID_BASE`: a number turns on a uid of its own per worker slot, the first free one from it (not in
/// /etc/passwd, no process running as it, not held by another shim), in the group of the default user
/// (`appwrite`) or `nogroup` (65534). Needs root, and excludes `SHIM_USER` (a shared user).
fn parse_worker_uids(env: &dyn Env) -> Result<Option<(u32, u32)>, ConfigError> {
    const NAME: &str = "SHIM_UID_BASE";
    let Some(base) = parse_or(env, NAME, None, |v| {
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<u32>()
            .ok()
            .filter(|n| (1000..=4_000_000_000).contains(n))
            .map(Some)
            .ok_or_else(|| "must be a uid from 1000 to 4000000000".to_string())
    })?
    else {
        return Ok(None);
    };
    if env.var("SHIM_USER")?.is_some_and(|v| !v.is_empty()) {
        return Err(ConfigError::new(
            NAME,
            "and SHIM_USER are both set; a uid per worker replaces the shared SHIM_USER, set one of them",
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(ConfigError::new(
            NAME,
            "is set, but only root can start adapters under a uid of their own",
        ));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let gid = lookup_user(&passwd, DEFAULT_USER).map_or(65534, |c| c.gid);
    Ok(Some((base, gid)))
}

/// Finds a user in passwd text by name or uid; `uid:gid` needs no entry.
fn lookup_user(passwd: &str, value: &str) -> Option<Credentials> {
    if let Some((uid, gid)) = value.split_once(':') {
        return Some(Credentials {
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        });
    }
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let (uid, gid) = (fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?);
        (fields[0] == value || fields[2] == value).then_some(Credentials { uid, gid })
    })
}

/// True for variables that must not be passed on to adapters.
pub fn is_scrubbed(name: &str) -> bool {
    KEY_VARS.contains(&name) || name == V5_SECRET_VAR || name.starts_with("SHIM_")
}

/// A folder setting: any non-empty path.
fn dir_or(env: &dyn Env, name: &str, default: &str) -> Result<PathBuf, ConfigError> {
    Ok(PathBuf::from(
        env.var(name)?
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string()),
    ))
}

/// `OPEN_RUNTIMES_HEADERS`: a JSON object; names lower-cased, strings as they are, other values as their JSON
/// text (`{"x-n": 1}` gives `1`), null values skipped.
fn extra_headers(v: &str) -> Result<Vec<(String, String)>, String> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let parsed: serde_json::Value = serde_json::from_str(v)
        .map_err(|e| format!("must be a JSON object of header names and values: {e}"))?;
    let serde_json::Value::Object(map) = parsed else {
        return Err("must be a JSON object of header names and values".into());
    };
    let mut headers: Vec<(String, String)> = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        let name = name.to_ascii_lowercase();
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
    }
    Ok(headers)
}

fn first_set(env: &dyn Env, names: &[&str]) -> Result<Option<String>, ConfigError> {
    for name in names {
        if let Some(v) = env.var(name)?.filter(|v| !v.is_empty()) {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn parse_or<T>(
    env: &dyn Env,
    name: &str,
    default: T,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match env.var(name)? {
        None => Ok(default),
        Some(v) => parse(v.trim()).map_err(|p| ConfigError::new(name, format!("{p} (got {v:?})"))),
    }
}

fn positive_int(v: &str, max: usize) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
}

/// Seconds as a positive number (fractions allowed), at most a day.
pub fn seconds(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        // From a millisecond: below it a Duration may round to zero.
        Ok(s) if s.is_finite() && (0.001..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("must be a number of seconds from 0.001 to 86400".into()),
    }
}

fn seconds_or_zero(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=3_600.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("must be a number of seconds from 0 to 3600".into()),
    }
}

/// `n` random bytes from the kernel, as hex (for the key `dev` makes up).
pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !filled {
        // /dev/urandom is always present on Linux; the clock is only a last resort for a dev key.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (std::process::id() as u8);
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "secret"),
            ("SHIM_ADAPTER", "/bin/cat"),
        ]
    }

    fn load(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs = base();
        pairs.extend_from_slice(extra);
        Config::from_env(&env(&pairs), KeyPolicy::Required, Overrides::default())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = load(&[]).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.host.to_string(), "0.0.0.0");
        assert_eq!(c.default_timeout, Duration::from_secs(900));
        assert_eq!(c.max_timeout, Duration::from_secs(900));
        assert_eq!(c.max_body, 20 * 1024 * 1024);
        assert_eq!(c.code_path, "/usr/code");
        assert_eq!(c.queue, c.workers * QUEUE_PER_WORKER);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.drain_delay, Duration::ZERO);
        let c = load(&[("SHIM_DRAIN_DELAY", "2.5")]).unwrap();
        assert_eq!(c.drain_delay, Duration::from_millis(2500));
    }

    #[test]
    fn missing_key_refuses_unless_dev() {
        let e = env(&[("SHIM_ADAPTER", "/bin/cat")]);
        let err = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap_err();
        assert_eq!(err.variable, "APPWRITE_INTERNAL_RUNTIME_KEY");
        let c = Config::from_env(&e, KeyPolicy::GenerateIfMissing, Overrides::default()).unwrap();
        assert_eq!(c.key.expose().len(), 32);
    }

    #[test]
    fn fallback_key_name_is_read() {
        let e = env(&[("INTERNAL_RUNTIME_KEY", "k2"), ("SHIM_ADAPTER", "/bin/cat")]);
        let c = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap();
        assert_eq!(c.key.expose(), b"k2");
        assert_eq!(format!("{:?}", c.key), "Key(<redacted>)");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("SHIM_PORT", "70000"),
            ("SHIM_PORT", "abc"),
            ("SHIM_HOST", "localhost:3"),
            ("SHIM_WORKERS", "0"),
            ("SHIM_WORKERS", "-1"),
            ("SHIM_QUEUE", "many"),
            ("SHIM_DEFAULT_TIMEOUT", "0"),
            ("SHIM_MAX_TIMEOUT", "nan"),
            ("SHIM_MAX_BODY", "1.5"),
            ("SHIM_LOG_FORMAT", "xml"),
            ("SHIM_LOG", "info,,=x"),
            ("SHIM_KILL_GRACE", "-1"),
            ("SHIM_DRAIN_DELAY", "soon"),
            ("SHIM_DRAIN_DELAY", "-2"),
            ("SHIM_CGROUP", "maybe"),
            ("SHIM_MAX_CONNECTIONS", "0"),
            ("SHIM_UID_BASE", "12"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{value}");
            assert!(err.to_string().contains(value), "{err}");
        }
    }

    #[test]
    fn default_timeout_is_capped_by_the_maximum() {
        let c = load(&[("SHIM_DEFAULT_TIMEOUT", "60"), ("SHIM_MAX_TIMEOUT", "2.5")]).unwrap();
        assert_eq!(c.max_timeout, Duration::from_millis(2500));
        assert_eq!(c.default_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn adapter_is_guessed_from_the_entry_file_or_refused() {
        let e = env(&[("APPWRITE_INTERNAL_RUNTIME_KEY", "k")]);
        let err = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap_err();
        assert_eq!(err.variable, "SHIM_ADAPTER");
        let e = env(&[
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_ADAPTER", "/no/such/adapter"),
        ]);
        let err = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap_err();
        assert_eq!(err.variable, "SHIM_ADAPTER");
        assert!(err.problem.contains("/no/such/adapter"));
    }

    #[test]
    fn native_lib_must_exist_and_excludes_an_adapter() {
        let err = load(&[("SHIM_NATIVE_LIB", "/x.so")]).unwrap_err();
        assert_eq!(err.variable, "SHIM_NATIVE_LIB");
        assert!(err.problem.contains("both set"), "{err}");
        let e = env(&[
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_NATIVE_LIB", "/no/such.so"),
        ]);
        let err = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap_err();
        assert!(err.problem.contains("not a file"), "{err}");
        let e = env(&[
            ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
            ("SHIM_NATIVE_LIB", "/bin/sh"),
        ]);
        let c = Config::from_env(&e, KeyPolicy::Required, Overrides::default()).unwrap();
        assert_eq!(c.launch.args[0], "native-worker");
    }

    #[test]
    fn users_are_found_by_name_uid_or_pair() {
        let passwd = "root:x:0:0::/root:/bin/sh\nappwrite:x:2001:2000::/home/appwrite:/bin/sh\n";
        let appwrite = Some(Credentials {
            uid: 2001,
            gid: 2000,
        });
        assert_eq!(lookup_user(passwd, "appwrite"), appwrite);
        assert_eq!(lookup_user(passwd, "2001"), appwrite);
        assert_eq!(
            lookup_user(passwd, "5:6"),
            Some(Credentials { uid: 5, gid: 6 })
        );
        assert_eq!(lookup_user(passwd, "nobody"), None);
        assert_eq!(lookup_user(passwd, "x:1"), None);
    }

    #[test]
    fn limits_and_user_are_checked() {
        let err = load(&[("SHIM_LIMIT_MEMORY", "lots")]).unwrap_err();
        assert_eq!(err.variable, "SHIM_LIMIT_MEMORY");
        let c = load(&[("SHIM_LIMIT_FILES", "64"), ("SHIM_LIMIT_CPU", "10")]).unwrap();
        assert_eq!(
            c.limits,
            vec![(Resource::RLIMIT_NOFILE, 64), (Resource::RLIMIT_CPU, 10)]
        );
        let err = load(&[("SHIM_USER", "no-such-user-here")]).unwrap_err();
        assert_eq!(err.variable, "SHIM_USER");
        assert_eq!(load(&[("SHIM_USER", "root")]).unwrap().user, None);
        let err = load(&[("SHIM_UID_BASE", "200000"), ("SHIM_USER", "root")]).unwrap_err();
        assert_eq!(err.variable, "SHIM_UID_BASE");
        assert!(err.problem.contains("SHIM_USER"), "{err}");
    }

    #[test]
    fn lambda_needs_its_runtime_api_and_takes_the_handler_as_entry_file() {
        let lambda = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("SHIM_PROTOCOL", "lambda")];
            pairs.extend_from_slice(extra);
            Config::from_env(&env(&pairs), KeyPolicy::Required, Overrides::default())
        };
        let err = lambda(&[("_HANDLER", "main.py")]).unwrap_err();
        assert_eq!(err.variable, "AWS_LAMBDA_RUNTIME_API");
        let c = lambda(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("_HANDLER", "main.py"),
            ("LAMBDA_TASK_ROOT", "/tmp/task"),
        ])
        .unwrap();
        assert_eq!(c.contract, Contract::Lambda);
        assert_eq!(c.entrypoint.as_deref(), Some("main.py"));
        assert_eq!(c.launch.name, "python");
        assert_eq!(c.code_path, "/tmp/task");
        assert_eq!(c.workers, 1);
        assert!(c.key.expose().is_empty(), "no key needed");
        assert_eq!(c.contract.adapter_version(), 2);
        let c = lambda(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("SHIM_ADAPTER", "/bin/cat"),
        ])
        .unwrap();
        assert_eq!(c.code_path, LAMBDA_CODE_PATH);
        let err = lambda(&[
            ("AWS_LAMBDA_RUNTIME_API", "https://x:1"),
            ("SHIM_ADAPTER", "/bin/cat"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "AWS_LAMBDA_RUNTIME_API");
    }

    #[test]
    fn scrubbed_names() {
        assert!(is_scrubbed("APPWRITE_INTERNAL_RUNTIME_KEY"));
        assert!(is_scrubbed("INTERNAL_RUNTIME_KEY"));
        assert!(is_scrubbed("SHIM_WORKERS"));
        assert!(!is_scrubbed("PATH"));
    }
}
