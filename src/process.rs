//! The one place that touches child processes, signals and process groups.
//!
//! Every child is started here, as the leader of its own process group, with no-new-privs and a parent-death
//! signal. One reaper collects every exit (`waitpid(-1)` on SIGCHLD), so it works the same whether the shim is
//! PID 1 in a container or a child subreaper on a host: exits of our adapters are handed to whoever waits for
//! them, and orphans that were re-parented to us are reaped so no zombie stays. Because of this, nothing
//! else in the program may wait for children (no `std::process::Child::wait`, no `tokio::process`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "was killed by signal {s} ({})", sig.as_str()),
                Err(_) => write!(f, "was killed by signal {s}"),
            },
        }
    }
}

/// Exits waited for, by pid. Spawning holds the lock so the reaper cannot reap a child before it is listed.
fn registry() -> &'static Mutex<HashMap<i32, oneshot::Sender<Exit>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<i32, oneshot::Sender<Exit>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Becomes a child subreaper (so orphans of our adapters come back to us, as they would to PID 1) and
/// starts the reaper. Call once, inside the runtime, before spawning anything.
pub fn start_reaper() -> io::Result<()> {
    // Not fatal: without it, orphans go to the real init instead of us; adapters still get reaped.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "cannot become a child subreaper");
    }
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    tokio::spawn(async move {
        loop {
            reap();
            if sigchld.recv().await.is_none() {
                return;
            }
        }
    });
    Ok(())
}

/// Collects every exited child; signals coalesce, so this loops until none is left.
fn reap() {
    let mut waiting = registry().lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (pid, exit) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig as i32)),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "waitpid failed");
                return;
            }
        };
        match waiting.remove(&pid.as_raw()) {
            Some(tx) => {
                let _ = tx.send(exit);
            }
            None => tracing::debug!(pid = pid.as_raw(), %exit, "reaped an orphaned process"),
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables removed from the inherited environment.
    pub remove_env: Vec<String>,
    pub add_env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Run as this user and group (needs root); `None` keeps the shim's own.
    pub user: Option<Credentials>,
    /// Resource limits set in the child before it starts.
    pub limits: Vec<(Resource, u64)>,
}

/// Who an adapter runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
}

pub use nix::sys::resource::Resource;

/// A running child: the leader of its own process group, with its three pipes.
pub struct Child {
    pub pid: i32,
    pub stdin: pipe::Sender,
    pub stdout: pipe::Receiver,
    pub stderr: pipe::Receiver,
    pub exit: ExitWatch,
}

/// A child's exit, to be awaited as often as needed (a bare oneshot may be polled only until it completes).
pub struct ExitWatch {
    rx: oneshot::Receiver<Exit>,
    done: Option<Option<Exit>>,
}

impl ExitWatch {
    /// Waits for the exit; `None` if the reaper could not report it. Cancel-safe.
    pub async fn wait(&mut self) -> Option<Exit> {
        if let Some(done) = self.done {
            return done;
        }
        let exit = (&mut self.rx).await.ok();
        self.done = Some(exit);
        exit
    }

    /// Waits at most `limit` for the exit; `None` if it did not come (or could not be reported). Cancel-safe.
    pub async fn wait_for(&mut self, limit: Duration) -> Option<Exit> {
        tokio::time::timeout(limit, self.wait())
            .await
            .ok()
            .flatten()
    }
}

/// Starts `spec` in a new process group, with no-new-privs, and SIGKILL if the shim dies.
pub fn spawn(spec: &Spec) -> io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in &spec.remove_env {
        cmd.env_remove(name);
    }
    cmd.envs(spec.add_env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let user = spec.user;
    let limits = spec.limits.clone();
    // SAFETY: the closure runs in the forked child before exec and only makes system calls (setrlimit,
    // setgroups, setgid, setuid, prctl), which are async-signal-safe; it allocates nothing and takes no lock
    // (`limits` was cloned before the fork and is only read).
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in &limits {
                nix::sys::resource::setrlimit(*resource, *value, *value)
                    .map_err(io::Error::from)?;
            }
            if let Some(c) = user {
                use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
                setgroups(&[]).map_err(io::Error::from)?;
                setgid(Gid::from_raw(c.gid)).map_err(io::Error::from)?;
                setuid(Uid::from_raw(c.uid)).map_err(io::Error::from)?;
            }
            nix::sys::prctl::set_no_new_privs().map_err(io::Error::from)?;
            // After the credential change, which clears it. It follows the thread that forked; our runtime's
            // worker threads live as long as the shim, so in practice it fires when the shim dies.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            Ok(())
        });
    }
    let (tx, rx) = oneshot::channel();
    let mut child = {
        let mut waiting = registry().lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        waiting.insert(child.id() as i32, tx);
        child
    };
    let pid = child.id() as i32;
    let take = |fd: Option<OwnedFd>| fd.expect("all three pipes were requested");
    let stdin = pipe::Sender::from_owned_fd(take(child.stdin.take().map(OwnedFd::from)))?;
    let stdout = pipe::Receiver::from_owned_fd(take(child.stdout.take().map(OwnedFd::from)))?;
    let stderr = pipe::Receiver::from_owned_fd(take(child.stderr.take().map(OwnedFd::from)))?;
    // `child` is dropped without waiting: the reaper owns its exit.
    Ok(Child {
        pid,
        stdin,
        stdout,
        stderr,
        exit: ExitWatch { rx, done: None },
    })
}

/// Sends `signal` to the whole process group led by `pid`; a group already gone is not an error.
pub fn signal_group(pid: i32, signal: Signal) {
    match killpg(Pid::from_raw(pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pid, error = %e, "cannot signal process group"),
    }
}

/// Ends a child's whole process group: SIGTERM, up to `grace` for the leader to exit, then SIGKILL to
/// whatever is left of the group. Returns how the leader ended (`None` if its exit was already taken).
pub async fn terminate_group(pid: i32, exit: &mut ExitWatch, grace: Duration) -> Option<Exit> {
    signal_group(pid, Signal::SIGTERM);
    let mut status = exit.wait_for(grace).await;
    // Even when the leader went quietly, members of its group (a function's background children) may not have.
    signal_group(pid, Signal::SIGKILL);
    if status.is_none() {
        status = exit.wait_for(Duration::from_secs(5)).await;
    }
    // Off the runtime's threads: it reads /proc and may pause between passes.
    let _ = tokio::task::spawn_blocking(move || sweep_orphans(pid)).await;
    status
}

/// Kills escaped orphans: processes re-parented to the shim (as subreaper or PID 1) that belong to no live
/// adapter's process group — a function's daemon that called `setsid` and outlived its parent. Run whenever an
/// adapter is ended, so nothing a function started outlives the adapter that started it, whichever group it
/// moved to. Orphans still in a live adapter's group are left to that adapter (they end with its group), and
/// members of `killed_group` (just sent SIGKILL, still dying) and zombies (waiting for the reaper) are not
/// counted.
pub fn sweep_orphans(killed_group: i32) {
    let me = std::process::id() as i32;
    // A killed orphan's own children come back to us in turn; a few passes end a small tree.
    for _ in 0..8 {
        // Holding the registry lock: no child is between fork and registration while we decide.
        let waiting = registry().lock().unwrap_or_else(|e| e.into_inner());
        let mut killed = 0;
        for Stat {
            pid,
            ppid,
            pgrp,
            state,
        } in processes()
        {
            if ppid != me
                || matches!(state, 'Z' | 'X')
                || pgrp == killed_group
                || waiting.contains_key(&pid)
                || waiting.contains_key(&pgrp)
            {
                continue;
            }
            match nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL) {
                Ok(()) => {
                    killed += 1;
                    tracing::info!(pid, "killed a process that left its adapter's group");
                }
                Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!(pid, error = %e, "cannot kill an escaped process"),
            }
        }
        drop(waiting);
        if killed == 0 {
            return;
        }
        // Give the kernel a moment to re-parent their children before looking again.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the sweep needs to know of a process.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    state: char,
}

/// Every process, from /proc; empty where /proc is absent.
fn processes() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    })
    .collect()
}

/// A /proc/<pid>/stat line: `pid (comm) state ppid pgrp …`, where `comm` may itself hold spaces and
/// parentheses.
fn parse_stat(stat: &str) -> Option<Stat> {
    let pid = stat.split_once(' ')?.0.parse().ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat {
        pid,
        ppid,
        pgrp,
        state,
    })
}

/// Is this process PID 1 (as in a container)?
pub fn is_init() -> bool {
    std::process::id() == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn sh(script: &str) -> Spec {
        Spec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            remove_env: vec!["HOME".into()],
            add_env: vec![("X_ADDED".into(), "yes".into())],
            cwd: Some("/".into()),
            user: None,
            limits: vec![(Resource::RLIMIT_NOFILE, 100)],
        }
    }

    #[tokio::test]
    async fn spawns_with_pipes_env_and_own_group() {
        start_reaper().unwrap();
        let mut child = spawn(&sh(
            "read line; echo \"$line $X_ADDED ${HOME:-nohome} $(pwd)\"; \
             grep NoNewPrivs /proc/self/status >&2; ulimit -n >&2; exit 7",
        ))
        .unwrap();
        child.stdin.write_all(b"hi\n").await.unwrap();
        let mut out = String::new();
        child.stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hi yes nohome /\n");
        let mut err = String::new();
        child.stderr.read_to_string(&mut err).await.unwrap();
        assert!(err.contains("NoNewPrivs:\t1"), "{err}");
        assert!(err.ends_with("100\n"), "the file limit applies: {err}");
        assert_eq!(child.exit.wait().await, Some(Exit::Code(7)));
    }

    #[tokio::test]
    async fn terminate_kills_the_whole_group() {
        start_reaper().unwrap();
        // The leader ignores TERM; its background child would outlive it without the group kill.
        let mut child = spawn(&sh("trap '' TERM; sleep 60 & echo $!; wait")).unwrap();
        let mut buf = [0u8; 32];
        let n = child.stdout.read(&mut buf).await.unwrap();
        let grandchild: i32 = std::str::from_utf8(&buf[..n])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let exit = terminate_group(child.pid, &mut child.exit, Duration::from_millis(200)).await;
        assert_eq!(exit, Some(Exit::Signal(9)));
        assert_eq!(exit.unwrap().code(), 137);
        // The grandchild was re-parented to this (subreaper) process and reaped by the reaper.
        let gone = async {
            while std::path::Path::new(&format!("/proc/{grandchild}")).exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), gone)
            .await
            .expect("grandchild survived the group kill");
    }

    #[tokio::test]
    async fn terminate_kills_a_process_that_left_the_group() {
        start_reaper().unwrap();
        // `setsid` puts the sleeper in a session and group of its own: the group kill cannot reach it.
        let mut child = spawn(&sh("setsid sleep 60 & echo $!; wait")).unwrap();
        let mut buf = [0u8; 32];
        let n = child.stdout.read(&mut buf).await.unwrap();
        let escaped: i32 = std::str::from_utf8(&buf[..n])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = |pid: i32| async move {
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        // While its adapter lives, it is left alone.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(std::path::Path::new(&format!("/proc/{escaped}")).exists());
        terminate_group(child.pid, &mut child.exit, Duration::from_millis(200)).await;
        tokio::time::timeout(Duration::from_secs(5), gone(escaped))
            .await
            .expect("the escaped process outlived its adapter");
    }

    #[test]
    fn stat_lines_parse_past_odd_names() {
        let stat = |pid, ppid, pgrp, state| Stat {
            pid,
            ppid,
            pgrp,
            state,
        };
        assert_eq!(
            parse_stat("42 (a (b) c) S 7 42 42 0 -1 4194560"),
            Some(stat(42, 7, 42, 'S'))
        );
        assert_eq!(parse_stat("1 (init) Z 0 1 1"), Some(stat(1, 0, 1, 'Z')));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(Exit::Code(3).to_string(), "exited with status 3");
        assert_eq!(
            Exit::Signal(9).to_string(),
            "was killed by signal 9 (SIGKILL)"
        );
    }
}
