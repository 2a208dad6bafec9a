//! The command line: `serve` (the default), `dev <folder>`, `conformance`, `runtimes`, `code`, `launch`, `--help`,
//! `--version`.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::contract::Contract;

pub const HELP: &str = "\
runtime-shim — the web server inside a function-runtime container.

Usage:
  runtime-shim [serve] [--host IP] [--port N]
      Serve the executor protocol on SHIM_HOST:SHIM_PORT (0.0.0.0:3000), handing each execution to a pool
      of persistent adapter processes. Configured by environment variables (see below); --host and --port
      override SHIM_HOST and SHIM_PORT. With SHIM_PROTOCOL=lambda: the bootstrap of an AWS Lambda custom
      runtime, polling AWS_LAMBDA_RUNTIME_API for events instead of serving HTTP.

  runtime-shim dev <folder> [--file NAME] [--host IP] [--port N] [--protocol v1|v2|v5|http] [--watch]
      Serve one function folder for local development, without Docker; with --watch, an edit of a file in
      the folder replaces the adapters (debounced), so the next request runs the new code: the adapter is picked from the
      entry file (index.py, main.py, index.js, …), the address is 127.0.0.1:3000 unless SHIM_HOST/SHIM_PORT
      say otherwise. v1 (the default, or SHIM_PROTOCOL): the key is APPWRITE_INTERNAL_RUNTIME_KEY or a random
      one. v5: development mode (log id `dev`), no secret unless OPEN_RUNTIMES_SECRET is set, log files in
      SHIM_LOGS_DIR or a temporary folder. Prints a curl line to try it.

  runtime-shim conformance <adapter> [--protocol v1|v5] [--functions DIR] [--interpreter CMD] [--json]
      Run the standard conformance cases of a contract against an adapter (a bundled name, the path of
      an executable, or native:<lib.so> for a library of the native ABI) through a real shim, with the
      language's case functions (conformance/<adapter>/, or conformance/v5/<adapter>/, by default). Prints a pass/fail table with each failure's reason; exits 1
      if any case fails.

  runtime-shim conformance --all [--require-all] [--protocol v1|v5]
      The same for every bundled adapter whose interpreter is on PATH (under v5: that has v5 case
      functions); the others are skipped with the reason (with --require-all they fail instead).

  runtime-shim probe [--host IP] [--port N] [--path /_/ready] [--timeout 2]
      A health check for images without curl (Docker HEALTHCHECK, Kubernetes exec probes): GET the path on
      the shim's address (the flags, else SHIM_HOST and SHIM_PORT; 0.0.0.0 is probed on 127.0.0.1). Exits
      0 on a 200 within the timeout (seconds), else 1 with one line saying what it got (never 2, which
      Docker reserves; a bad flag is 1 too).

  runtime-shim runtimes [--json]
      The catalogue of runtime images: name, version, build and run images, platforms, whether the image
      test passes here, image size.

  runtime-shim launch [COMMAND [ARG...]]
      The runtime images' entrypoint (their launch.sh is this one line). With no command: extract
      CODE_TARBALL (/tmp/code.tar.gz; gzip, zstd or plain tar, nothing leading outside) into CODE_DIR
      (/usr/code), or serve CODE_DIR as it is without one; set SHIM_CODE_PATH to it, SHIM_ADAPTER to its
      runtime when the build made one (and none is set), and the language's path to the dependencies the
      build installed there (PYTHONPATH, PERL5LIB, DENO_DIR, Bundler's); then exec serve in its place. A stop
      signal during the extraction ends it with status 0; one before the server is ready is kept for it.
      With a command: exec it (the build step), or the shim with those arguments if the first is a flag.

  runtime-shim code extract [--timings FILE] <archive> <folder>
      Extract a tar archive (gzip, zstd or plain, told by its first bytes) into folder, refusing entries
      and links that would lead outside it; keeps modes and times. --timings appends `extract=<seconds>`
      to FILE. The v5 images' start step (SHIM_PROTOCOL=v5; runtimes/README.md).

  runtime-shim code archive <folder> <archive>
      Write a tar.gz of folder's content (entries relative to it, dotfiles included) to archive, through
      a temporary file renamed into place. The v5 images' build step.

  runtime-shim --help | -h      This text.
  runtime-shim --version | -V   The version.

Environment (serve and dev):
  SHIM_PROTOCOL                  executor contract: v1, v2, v5, http or lambda [v1]
  APPWRITE_INTERNAL_RUNTIME_KEY  the executor's key (or INTERNAL_RUNTIME_KEY); required by serve under v1
  APPWRITE_ENTRYPOINT_NAME       entry file when a request names none (or ENTRYPOINT_NAME)
  SHIM_HOST, SHIM_PORT           listen address                     [0.0.0.0, 3000]
  SHIM_ADAPTER                   bundled adapter (python, node, php, ruby, perl, lua, bash, deno, bun)
                                 or path of an adapter executable
                                 [guessed from the entry file]
  SHIM_WORKERS                   adapter processes kept warm         [number of CPUs; lambda 1]
  SHIM_QUEUE                     requests that may wait for a worker [64 per worker]
  SHIM_THREADS                   threads of the shim's event loop (a pool), or single
                                 [single]
  SHIM_DEFAULT_TIMEOUT           seconds, when a request gives none  [900]
  SHIM_MAX_TIMEOUT               seconds, the cap on any timeout     [900]
  SHIM_MAX_BODY                  request body limit in bytes         [20971520]
  SHIM_MAX_REPLY                 adapter reply limit in bytes        [67108864]
  SHIM_STARTUP_TIMEOUT           seconds an adapter has to say READY [10]
  SHIM_KILL_GRACE                seconds between SIGTERM and SIGKILL [0.5]
  SHIM_READ_TIMEOUT              seconds to send the headers, then the body [30]
  SHIM_SHUTDOWN_GRACE            seconds in-flight requests get on shutdown [8]
  SHIM_DRAIN_DELAY               seconds to keep serving after SIGTERM, /_/ready at 503 [0]
  SHIM_USER                      user adapters run as (name, uid, uid:gid, root) [appwrite when root]
  SHIM_UID_BASE                  root: a uid of its own per worker, from this base [off]
  SHIM_CGROUP                    auto (a cgroup v2 per worker when writable) or off [auto]
  SHIM_MAX_CONNECTIONS           open connections at most [16384, fitted to the file limit]
  SHIM_LIMIT_MEMORY, SHIM_LIMIT_FILES, SHIM_LIMIT_PROCESSES, SHIM_LIMIT_CPU
                                 adapter rlimits: address space bytes, open files, processes, CPU s
  SHIM_CODE_PATH                 default code folder                 [/usr/code]
  SHIM_INTERPRETER               interpreter for a bundled adapter   [python3, node, php, …]
  SHIM_NATIVE_LIB                shared library exporting the native ABI (instead of SHIM_ADAPTER)
  SHIM_NATIVE_WORKER             the native path's worker program    [runtime-shim-native beside a static binary]
  SHIM_ADAPTERS_DIR              where bundled adapters live         [found next to the binary]
  lambda: AWS_LAMBDA_RUNTIME_API (host:port or http://host:port/prefix; required), _HANDLER (the entry
      file, unless OPEN_RUNTIMES_ENTRYPOINT), LAMBDA_TASK_ROOT (the code folder) [/var/task];
      no server: SHIM_HOST/SHIM_PORT are unused, SHIM_WORKERS defaults to 1
  v5: OPEN_RUNTIMES_SECRET (empty: no check), OPEN_RUNTIMES_ENTRYPOINT, OPEN_RUNTIMES_ENV,
      OPEN_RUNTIMES_HEADERS, SHIM_LOGS_DIR [/mnt/logs], SHIM_TELEMETRY_DIR [/mnt/telemetry];
      SHIM_CODE_PATH defaults to /usr/local/server/src/function
  http: PORT (when SHIM_PORT is unset), SHIM_SECRET (a bearer token; unset: none), SHIM_ENTRYPOINT
  SHIM_LOG                       log filter: info, debug, warn,function=info … [info]
  SHIM_LOG_FORMAT                pretty or json                      [pretty]

Exit status: 0 after a clean shutdown, 1 when serving failed, 2 for a usage or configuration error.
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve(Listen),
    Dev {
        folder: PathBuf,
        file: Option<String>,
        listen: Listen,
        protocol: Option<Contract>,
        watch: bool,
    },
    Conformance(crate::conformance::Options),
    /// `conformance --all [--require-all] [--protocol v5]`.
    ConformanceAll {
        require_all: bool,
        protocol: Contract,
    },
    /// The native path's worker role (not for people: the shim starts it).
    NativeWorker {
        lib: String,
        check: bool,
    },
    Runtimes {
        json: bool,
    },
    /// `code extract …` / `code archive …`: the v5 images' build and start steps.
    Code(crate::archive::Command),
    /// `launch [ARG...]`: the runtime images' entrypoint (extract the function, exec `serve`).
    Launch(Vec<OsString>),
    /// `probe [--host IP] [--port N] [--path P] [--timeout S]`: a health check that exits 0 or 1.
    Probe(crate::probe::Options),
    Help,
    Version,
}

/// `--host` / `--port` given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listen {
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let args: Vec<OsString> = args.into_iter().collect();
    if args
        .first()
        .is_some_and(|a| a == crate::native::WORKER_COMMAND)
    {
        return match &args[1..] {
            [flag, lib] if flag == "--check" => Ok(Command::NativeWorker {
                lib: lib.to_string_lossy().into_owned(),
                check: true,
            }),
            [lib] => Ok(Command::NativeWorker {
                lib: lib.to_string_lossy().into_owned(),
                check: false,
            }),
            _ => Err("native-worker takes [--check] <library>".into()),
        };
    }
    if args.first().is_some_and(|a| a == "launch") {
        return Ok(Command::Launch(args[1..].to_vec()));
    }
    if args.first().is_some_and(|a| a == "code") {
        return crate::archive::parse(&args[1..]).map(Command::Code);
    }
    let mut parser = lexopt::Parser::from_args(args);
    let mut command: Option<String> = None;
    let mut folder: Option<PathBuf> = None;
    let mut file = None;
    let mut listen = Listen::default();
    let mut functions: Option<PathBuf> = None;
    let mut interpreter: Option<String> = None;
    let mut json = false;
    let mut all = false;
    let mut require_all = false;
    let mut protocol: Option<Contract> = None;
    let mut watch = false;
    let mut probe = crate::probe::Options::default();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("host") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                listen.host = Some(
                    v.string()
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("--host must be an IP address such as 127.0.0.1")?,
                );
            }
            Long("port") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                listen.port = Some(
                    v.string()
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("--port must be a port number from 0 to 65535")?,
                );
            }
            Long("file") if command.as_deref() == Some("dev") => {
                file = Some(
                    parser
                        .value()
                        .map_err(|e| e.to_string())?
                        .string()
                        .map_err(|_| "--file must be UTF-8")?,
                );
            }
            Long("functions") if command.as_deref() == Some("conformance") => {
                functions = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?));
            }
            Long("interpreter") if command.as_deref() == Some("conformance") => {
                interpreter = Some(
                    parser
                        .value()
                        .map_err(|e| e.to_string())?
                        .string()
                        .map_err(|_| "--interpreter must be UTF-8")?,
                );
            }
            Long("path") if command.as_deref() == Some("probe") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                probe.path = v
                    .string()
                    .ok()
                    .filter(|p| {
                        p.starts_with('/')
                            && !p
                                .bytes()
                                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                    })
                    .ok_or("--path must start with / and hold no spaces")?;
            }
            Long("timeout") if command.as_deref() == Some("probe") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                probe.timeout = v
                    .string()
                    .ok()
                    .and_then(|s| crate::config::seconds(s.trim()).ok())
                    .ok_or("--timeout must be a number of seconds from 0.001 to 86400")?;
            }
            Long("json") if matches!(command.as_deref(), Some("conformance" | "runtimes")) => {
                json = true
            }
            Long("all") if command.as_deref() == Some("conformance") => all = true,
            Long("watch") if command.as_deref() == Some("dev") => watch = true,
            Long("protocol") if matches!(command.as_deref(), Some("conformance" | "dev")) => {
                let v = parser.value().map_err(|e| e.to_string())?;
                protocol = Some(
                    v.string()
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .filter(|c| *c != Contract::Lambda)
                        .ok_or("--protocol must be v1, v2, v5 or http")?,
                );
            }
            Long("require-all") if command.as_deref() == Some("conformance") => {
                all = true;
                require_all = true;
            }
            Value(v) if command.is_none() => {
                let name = v.string().map_err(|_| "unknown command")?;
                match name.as_str() {
                    "serve" | "dev" | "conformance" | "runtimes" | "probe" => command = Some(name),
                    "help" => return Ok(Command::Help),
                    other => {
                        return Err(format!(
                            "unknown command {other:?}; try runtime-shim --help"
                        ));
                    }
                }
            }
            Value(v)
                if matches!(command.as_deref(), Some("dev" | "conformance"))
                    && folder.is_none() =>
            {
                folder = Some(PathBuf::from(v));
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    match command.as_deref() {
        None | Some("serve") => Ok(Command::Serve(listen)),
        Some("runtimes") => Ok(Command::Runtimes { json }),
        Some("probe") => Ok(Command::Probe(crate::probe::Options {
            host: listen.host,
            port: listen.port,
            ..probe
        })),
        Some("conformance") if all => Ok(Command::ConformanceAll {
            require_all,
            protocol: protocol.unwrap_or_default(),
        }),
        Some("conformance") => Ok(Command::Conformance(crate::conformance::Options {
            adapter: folder
                .ok_or("conformance needs an adapter: runtime-shim conformance <name or path>")?
                .to_string_lossy()
                .into_owned(),
            functions,
            interpreter,
            json,
            protocol: protocol.unwrap_or_default(),
        })),
        Some(_) => Ok(Command::Dev {
            folder: folder.ok_or("dev needs a folder: runtime-shim dev <folder>")?,
            file,
            listen,
            protocol,
            watch,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands() {
        assert_eq!(p(&[]), Ok(Command::Serve(Listen::default())));
        assert_eq!(p(&["--help"]), Ok(Command::Help));
        assert_eq!(p(&["-V"]), Ok(Command::Version));
        assert_eq!(
            p(&["serve", "--port", "8080"]),
            Ok(Command::Serve(Listen {
                host: None,
                port: Some(8080)
            }))
        );
        assert_eq!(
            p(&["dev", "examples/python", "--file", "main.py"]),
            Ok(Command::Dev {
                folder: "examples/python".into(),
                file: Some("main.py".into()),
                listen: Listen::default(),
                protocol: None,
                watch: false,
            })
        );
        assert!(p(&["dev"]).unwrap_err().contains("needs a folder"));
        assert!(p(&["start"]).unwrap_err().contains("unknown command"));
        assert_eq!(p(&["launch"]), Ok(Command::Launch(vec![])));
        assert_eq!(
            p(&["launch", "--help"]),
            Ok(Command::Launch(vec!["--help".into()]))
        );
        assert!(p(&["--port", "x"]).unwrap_err().contains("--port"));
        assert!(p(&["serve", "--file", "x"]).is_err());
        match p(&["conformance", "ruby", "--functions", "f", "--json"]) {
            Ok(Command::Conformance(o)) => {
                assert_eq!(o.adapter, "ruby");
                assert_eq!(o.functions, Some(PathBuf::from("f")));
                assert!(o.json);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p(&["probe", "--port", "8080", "--timeout", "0.5"]),
            Ok(Command::Probe(crate::probe::Options {
                port: Some(8080),
                timeout: std::time::Duration::from_millis(500),
                ..Default::default()
            }))
        );
        assert!(p(&["probe", "--path", "x"]).unwrap_err().contains("--path"));
        assert!(p(&["probe", "--timeout", "0"]).is_err());
        assert!(p(&["serve", "--timeout", "1"]).is_err());
        assert!(
            p(&["conformance"])
                .unwrap_err()
                .contains("needs an adapter")
        );
    }
}
