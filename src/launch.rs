//! `runtime-shim launch [ARG...]`: the runtime images' entrypoint (SPEC §5's `launch.sh`, which is now one
//! line calling this). With no argument it extracts the built function, `$CODE_TARBALL` (`/tmp/code.tar.gz`),
//! into `$CODE_DIR` (`/usr/code`) — or serves `$CODE_DIR` as it is when there is no tarball — points the
//! language at the function's dependencies there, and execs `runtime-shim serve` in its own place. With
//! arguments it execs them instead (the executor's build step: `docker run IMAGE sh -c '…build.sh…'`), or
//! hands them to the shim when the first one is a flag (`docker run IMAGE --help`).
//!
//! As the entrypoint it is PID 1 from the container's first instant, and PID 1 gets no signal the kernel would
//! deliver with its default action: a `docker stop` during the extraction would be lost and end in SIGKILL ten
//! seconds later. So SIGTERM and SIGINT end the launch at once with exit status 0 while it extracts; then they
//! are blocked across the exec, so one that arrives before the server has its handlers waits, pending, and the
//! server's [`crate::shutdown::on_signal`] unblocks it into a graceful stop.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};

pub const DEFAULT_TARBALL: &str = "/tmp/code.tar.gz";
pub const DEFAULT_CODE_DIR: &str = "/usr/code";

/// What a launch does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Extract `tarball` (when it exists) into `folder`, then exec `runtime-shim serve` on it.
    Serve { tarball: PathBuf, folder: PathBuf },
    /// Exec the shim with these arguments (the first was a flag).
    Shim(Vec<OsString>),
    /// Exec this command.
    Run(Vec<OsString>),
}

/// The plan for `launch` with `args`, reading `CODE_TARBALL` and `CODE_DIR` through `env`.
pub fn plan(args: &[OsString], env: impl Fn(&str) -> Option<String>) -> Plan {
    match args.first() {
        None => Plan::Serve {
            tarball: env("CODE_TARBALL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_TARBALL.into())
                .into(),
            folder: env("CODE_DIR")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_CODE_DIR.into())
                .into(),
        },
        Some(first) if first.as_encoded_bytes().starts_with(b"-") => Plan::Shim(args.to_vec()),
        Some(_) => Plan::Run(args.to_vec()),
    }
}

/// The variables the server starts with, for the function in `folder`: `SHIM_CODE_PATH` (unless set), the
/// adapter (`SHIM_ADAPTER` as set; else `folder/runtime` when the build made one), and where the adapter's
/// language finds the dependencies the runtime's `build.sh` installed in `folder`.
pub fn environment(
    folder: &Path,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Vec<(String, String)> {
    let dir = folder.to_string_lossy().into_owned();
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let prepend = |name: &str, first: String, sep: char| match set(name) {
        Some(rest) => format!("{first}{sep}{rest}"),
        None => first,
    };
    let mut out = Vec::new();
    if set("SHIM_CODE_PATH").is_none() {
        out.push(("SHIM_CODE_PATH".to_string(), dir.clone()));
    }
    let adapter = match set("SHIM_ADAPTER") {
        Some(a) => a,
        None if exists(&folder.join("runtime")) => {
            let runtime = format!("{dir}/runtime");
            out.push(("SHIM_ADAPTER".to_string(), runtime.clone()));
            runtime
        }
        None => String::new(),
    };
    match adapter.as_str() {
        // build.sh: pip install --target .python_packages
        "python" => out.push((
            "PYTHONPATH".into(),
            prepend("PYTHONPATH", format!("{dir}/.python_packages"), ':'),
        )),
        // build.sh: cpanm --local-lib local
        "perl" => out.push((
            "PERL5LIB".into(),
            prepend("PERL5LIB", format!("{dir}/local/lib/perl5"), ':'),
        )),
        // build.sh: deno cache with DENO_DIR in the function's folder
        "deno" => out.push(("DENO_DIR".into(), format!("{dir}/.deno"))),
        // build.sh: bundle install into vendor/bundle, its config in .bundle; loaded before the adapter
        "ruby" => {
            out.push(("BUNDLE_APP_CONFIG".into(), format!("{dir}/.bundle")));
            if exists(&folder.join("Gemfile")) {
                out.push(("BUNDLE_GEMFILE".into(), format!("{dir}/Gemfile")));
                out.push((
                    "RUBYOPT".into(),
                    prepend("RUBYOPT", "-rbundler/setup".into(), ' '),
                ));
            }
        }
        _ => {}
    }
    out
}

/// Runs `launch`: only returns when it fails (or is stopped while extracting, with status 0).
pub fn main(args: &[OsString]) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    match plan(args, env) {
        Plan::Run(command) => {
            let err = Command::new(&command[0]).args(&command[1..]).exec();
            eprintln!("launch: cannot run {}: {err}", command[0].to_string_lossy());
            ExitCode::from(127)
        }
        Plan::Shim(args) => exec_shim(&args, &[]),
        Plan::Serve { tarball, folder } => {
            if let Err(e) = stop_on_signal() {
                eprintln!("launch: cannot install the signal handlers: {e}");
                return ExitCode::from(1);
            }
            if tarball.exists() {
                eprintln!(
                    "launch: extracting {} into {}",
                    tarball.display(),
                    folder.display()
                );
                if let Err(e) = crate::archive::extract(&tarball, &folder) {
                    eprintln!(
                        "launch: cannot extract {} into {}: {e}",
                        tarball.display(),
                        folder.display()
                    );
                    return ExitCode::from(1);
                }
            } else {
                eprintln!(
                    "launch: no {}, serving {} as it is",
                    tarball.display(),
                    folder.display()
                );
            }
            let vars = environment(&folder, env, |p| p.exists());
            exec_shim(&[OsString::from("serve")], &vars)
        }
    }
}

/// Execs this binary with `args` and `vars` added to the environment; SIGTERM and SIGINT stay blocked across
/// the exec (the server unblocks them once it handles them), so none is lost or kills it half-started.
fn exec_shim(args: &[OsString], vars: &[(String, String)]) -> ExitCode {
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("launch: cannot find the runtime-shim binary: {e}");
            return ExitCode::from(1);
        }
    };
    let mut command = Command::new(&program);
    command.args(args).envs(vars.iter().map(|(k, v)| (k, v)));
    // SAFETY: the closure runs in this process just before execve (std clears the signal mask first, so the
    // block has to come after that) and makes one async-signal-safe system call, allocating nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals()), None)
                .map_err(std::io::Error::from)
        });
    }
    let err = command.exec();
    eprintln!("launch: cannot run {}: {err}", program.display());
    ExitCode::from(1)
}

/// SIGTERM and SIGINT: the stop signals of `docker stop` and of a terminal.
pub fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

extern "C" fn stop_now(_: nix::libc::c_int) {
    // SAFETY: _exit is async-signal-safe; nothing extracted half-way matters to a container that is stopping.
    unsafe { nix::libc::_exit(0) }
}

/// While the launch extracts, a stop signal ends it at once, with status 0.
fn stop_on_signal() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(stop_now),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only calls _exit.
        unsafe { nix::sys::signal::sigaction(signal, &action) }?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn plans() {
        let none = |_: &str| None;
        assert_eq!(
            plan(&[], none),
            Plan::Serve {
                tarball: DEFAULT_TARBALL.into(),
                folder: DEFAULT_CODE_DIR.into()
            }
        );
        let env = |k: &str| match k {
            "CODE_TARBALL" => Some("/x/c.tgz".to_string()),
            "CODE_DIR" => Some("/x/code".to_string()),
            _ => None,
        };
        assert_eq!(
            plan(&[], env),
            Plan::Serve {
                tarball: "/x/c.tgz".into(),
                folder: "/x/code".into()
            }
        );
        assert_eq!(plan(&os(&["--help"]), none), Plan::Shim(os(&["--help"])));
        assert_eq!(
            plan(&os(&["sh", "-c", "x"]), none),
            Plan::Run(os(&["sh", "-c", "x"]))
        );
    }

    fn vars(
        adapter: Option<&str>,
        files: &[&str],
        given: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(a) = adapter {
            env.insert("SHIM_ADAPTER".into(), a.into());
        }
        environment(
            Path::new("/c"),
            |k| env.get(k).cloned(),
            |p| files.iter().any(|f| Path::new("/c").join(f) == p),
        )
        .into_iter()
        .collect()
    }

    #[test]
    fn each_language_finds_its_dependencies() {
        let v = vars(Some("python"), &[], &[("PYTHONPATH", "/lib")]);
        assert_eq!(v["PYTHONPATH"], "/c/.python_packages:/lib");
        assert_eq!(v["SHIM_CODE_PATH"], "/c");
        assert!(!v.contains_key("SHIM_ADAPTER"));
        assert_eq!(
            vars(Some("perl"), &[], &[])["PERL5LIB"],
            "/c/local/lib/perl5"
        );
        assert_eq!(vars(Some("deno"), &[], &[])["DENO_DIR"], "/c/.deno");
        let ruby = vars(Some("ruby"), &[], &[]);
        assert_eq!(ruby["BUNDLE_APP_CONFIG"], "/c/.bundle");
        assert!(!ruby.contains_key("RUBYOPT"));
        let ruby = vars(Some("ruby"), &["Gemfile"], &[("RUBYOPT", "-w")]);
        assert_eq!(ruby["RUBYOPT"], "-rbundler/setup -w");
        assert_eq!(ruby["BUNDLE_GEMFILE"], "/c/Gemfile");
        let node = vars(Some("node"), &[], &[("SHIM_CODE_PATH", "/elsewhere")]);
        assert!(node.is_empty(), "{node:?}");
    }

    #[test]
    fn a_built_runtime_is_the_adapter_unless_one_is_named() {
        assert_eq!(vars(None, &["runtime"], &[])["SHIM_ADAPTER"], "/c/runtime");
        assert!(!vars(None, &[], &[]).contains_key("SHIM_ADAPTER"));
        assert!(!vars(Some("/x/runtime"), &["runtime"], &[]).contains_key("SHIM_ADAPTER"));
    }
}
