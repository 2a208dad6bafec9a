//! The one place that touches child processes, signals, process groups, sessions, uids and cgroups.
//!
//! Every child is started here, as the leader of its own session (so of its own process group, and no other
//! adapter's group can be joined from it), inside its worker slot's [`Jail`], with no-new-privs and a
//! parent-death signal. Ending one ([`terminate_group`], [`contain`]) freezes, then kills, everything it
//! started, by the kernel's atomic kills where the jail has them (a uid of the slot's own, a cgroup v2 of its
//! own) and always by a sweep of /proc that follows sessions, groups and parent links until a pass finds
//! nothing alive. One reaper collects every exit (`waitpid(-1)` on SIGCHLD), so it works the same whether the shim is
//! PID 1 in a container or a child subreaper on a host: exits of our adapters are handed to whoever waits for
//! them, and orphans that were re-parented to us are reaped so no zombie stays. Because of this, nothing
//! else in the program may wait for children (no `std::process::Child::wait`, no `tokio::process`).

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsString};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::sync::watch;

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
fn registry() -> &'static Mutex<HashMap<i32, watch::Sender<Option<Exit>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<i32, watch::Sender<Option<Exit>>>>> = OnceLock::new();
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
                let _ = tx.send(Some(exit));
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

/// A running child: the leader of its own session and process group, with its three pipes.
pub struct Child {
    pub pid: i32,
    pub stdin: pipe::Sender,
    pub stdout: pipe::Receiver,
    pub stderr: pipe::Receiver,
    pub exit: ExitWatch,
}

/// A child's exit, to be awaited as often as needed, by as many as need it (clones watch the same exit).
#[derive(Clone)]
pub struct ExitWatch {
    rx: watch::Receiver<Option<Exit>>,
}

impl ExitWatch {
    /// Waits for the exit; `None` if the reaper could not report it. Cancel-safe.
    pub async fn wait(&mut self) -> Option<Exit> {
        let exit = match self.rx.wait_for(Option::is_some).await {
            Ok(exit) => *exit,
            Err(_) => None,
        };
        // The reaper dropped the sender without an exit: it may still have sent one before.
        exit.or(*self.rx.borrow())
    }

    /// Waits at most `limit` for the exit; `None` if it did not come (or could not be reported). Cancel-safe.
    pub async fn wait_for(&mut self, limit: Duration) -> Option<Exit> {
        tokio::time::timeout(limit, self.wait())
            .await
            .ok()
            .flatten()
    }
}

/// The open-file limit the shim started with, given back to adapters (the shim raises its own).
static INHERITED_NOFILE: OnceLock<(u64, u64)> = OnceLock::new();

/// Starts `spec` in a new session (so in a new process group, and no other adapter's group can be joined from
/// it), inside `jail`, with no-new-privs, and SIGKILL if the shim dies.
pub fn spawn(spec: &Spec, jail: &Jail) -> io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in &spec.remove_env {
        cmd.env_remove(name);
    }
    cmd.envs(spec.add_env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let user = jail.uid.map(|uid| Credentials { uid, gid: jail.gid });
    let user = user.or(spec.user);
    // (resource, soft, hard): configured limits are hard; an open-file limit not configured is the one the
    // shim was given, not the one it raised itself to.
    let mut limits: Vec<(Resource, u64, u64)> =
        spec.limits.iter().map(|&(r, v)| (r, v, v)).collect();
    if let Some(&(soft, hard)) = INHERITED_NOFILE.get()
        && !limits.iter().any(|(r, ..)| *r == Resource::RLIMIT_NOFILE)
    {
        limits.push((Resource::RLIMIT_NOFILE, soft.min(hard), hard));
    }
    let procs = jail.cgroup().map(|c| c.procs.clone());
    // SAFETY: the closure runs in the forked child before exec and only makes system calls (setsid, open and
    // write of a path prepared before the fork, setrlimit, setgroups, setgid, setuid, prctl), which are
    // async-signal-safe; it allocates nothing and takes no lock (`limits` and `procs` were built before the
    // fork and are only read).
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(io::Error::from)?;
            if let Some(procs) = &procs {
                // Into the slot's cgroup before anything of the adapter runs, so nothing it forks is outside.
                use nix::fcntl::{OFlag, open};
                let fd = open(
                    procs.as_c_str(),
                    OFlag::O_WRONLY,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(io::Error::from)?;
                nix::unistd::write(&fd, b"0").map_err(io::Error::from)?;
            }
            for &(resource, soft, hard) in &limits {
                nix::sys::resource::setrlimit(resource, soft, hard).map_err(io::Error::from)?;
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
    let (tx, rx) = watch::channel(None);
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
        exit: ExitWatch { rx },
    })
}

/// What the shim does to itself at start, before anything else: every descriptor it inherited beyond 0–2 is
/// marked close-on-exec (so no adapter can read it), and its soft open-file limit is raised to the hard one
/// (adapters get the inherited soft limit back). Returns the open-file limit now in force.
pub fn prepare_self() -> u64 {
    // SAFETY: close_range only sets a flag on descriptors; nothing is closed under anyone's feet.
    let ranged = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if !ranged {
        // Kernels before 5.11: one by one.
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .filter(|fd| *fd > 2)
                    .collect()
            })
            .unwrap_or_default();
        for fd in fds {
            // SAFETY: F_SETFD on a number that may or may not be open; an error (EBADF) is harmless.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    use nix::sys::resource::{getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let _ = INHERITED_NOFILE.set((soft, hard));
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// The soft open-file limit in force.
pub fn file_limit() -> u64 {
    nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Sends `signal` to the whole process group led by `pid`; a group already gone is not an error.
pub fn signal_group(pid: i32, signal: Signal) {
    match killpg(Pid::from_raw(pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pid, error = %e, "cannot signal process group"),
    }
}

/// Ends a child and everything it started: SIGTERM to its group and to the leader itself, up to `grace` for
/// the leader to exit, then [`contain`]: everything of the slot is frozen and killed, with the kernel's
/// atomic kills where `jail` has them. Returns how the leader ended (`None` if its exit was already taken).
pub async fn terminate_group(
    pid: i32,
    exit: &mut ExitWatch,
    grace: Duration,
    jail: &Arc<Jail>,
) -> Option<Exit> {
    signal_group(pid, Signal::SIGTERM);
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
    let mut status = exit.wait_for(grace).await;
    // Even when the leader went quietly, what it started may not have. Off the runtime's threads: it reads
    // /proc and pauses between passes.
    let jail = jail.clone();
    let _ = tokio::task::spawn_blocking(move || contain(Some(pid), &jail)).await;
    if status.is_none() {
        status = exit.wait_for(Duration::from_secs(5)).await;
    }
    status
}

/// Where one worker slot's processes are held, beyond the session each adapter leads. Either part is the
/// kernel's: a kill of every process of a uid (`kill(-1)` from that uid) and `cgroup.kill` are atomic with
/// respect to fork, so nothing can outrun them.
#[derive(Debug, Default)]
pub struct Jail {
    /// A uid of the slot's own (`SHIM_UID_BASE`); its adapters run as it.
    pub uid: Option<u32>,
    gid: u32,
    /// Holds the uid: other shims on the machine skip a locked uid.
    _uid_lock: Option<nix::fcntl::Flock<std::fs::File>>,
    /// The slot, and whether it is to have a cgroup of its own.
    index: usize,
    wants_cgroup: bool,
    /// Made by [`Jail::prepare`], off the start path.
    cgroup: OnceLock<Option<Cgroup>>,
}

#[derive(Debug)]
struct Cgroup {
    dir: PathBuf,
    procs: CString,
}

/// Where dedicated uids are claimed: one lock file per uid, held for the shim's life.
const UID_LOCKS: &str = "/run/runtime-shim/uids";
/// How many uids from the base a slot may look at.
const UID_SPAN: u32 = 65_536;

impl Jail {
    /// No jail: the session and the sweep alone.
    pub fn none() -> Arc<Jail> {
        Arc::new(Jail::default())
    }

    /// Sets up slot `index`: a uid of its own from `uids` (`(base, gid)`; needs root) now; a cgroup v2 of its
    /// own when `cgroups` and the shim's cgroup is writable, later, in [`Jail::prepare`] (a few ms: entering
    /// a cgroup is slow, and the shim serves its health paths meanwhile).
    pub fn new(index: usize, uids: Option<(u32, u32)>, cgroups: bool) -> io::Result<Jail> {
        let mut jail = Jail::default();
        jail.index = index;
        jail.wants_cgroup = cgroups;
        if let Some((base, gid)) = uids {
            let (uid, lock) = claim_uid(base)?;
            // A uid nobody holds may still have processes of a shim that was killed: start clean.
            kill_uid(uid);
            jail.uid = Some(uid);
            jail.gid = gid;
            jail._uid_lock = Some(lock);
        }
        Ok(jail)
    }

    /// Makes the slot's cgroup, if it is to have one, before its first adapter starts; logs what holds the
    /// slot. Blocks briefly (a helper process); call off the runtime's threads, after [`start_reaper`]. Once
    /// is enough: later calls do nothing.
    pub fn prepare(&self) {
        let mut first = false;
        self.cgroup.get_or_init(|| {
            first = true;
            self.wants_cgroup.then(|| make_cgroup(self.index)).flatten()
        });
        if first {
            tracing::info!(
                worker = self.index,
                uid = self.uid,
                cgroup = self.cgroup().map(|c| c.dir.display().to_string()),
                "worker containment: {}",
                self.describe()
            );
        }
    }

    fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.get().and_then(Option::as_ref)
    }

    /// Which kernel mechanism holds this slot, for the log and the docs.
    pub fn describe(&self) -> &'static str {
        match (self.uid.is_some(), self.cgroup().is_some()) {
            (true, true) => "uid and cgroup",
            (true, false) => "uid",
            (false, true) => "cgroup",
            (false, false) => "session and sweep (best effort)",
        }
    }

    fn cgroup_members(&self) -> Option<HashSet<i32>> {
        let c = self.cgroup()?;
        let text = std::fs::read_to_string(c.dir.join("cgroup.procs")).ok()?;
        Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// The kernel's atomic kills, where this slot has them.
    fn kill_atomically(&self) {
        if let Some(c) = self.cgroup()
            && let Err(e) = std::fs::write(c.dir.join("cgroup.kill"), "1")
        {
            tracing::warn!(cgroup = %c.dir.display(), error = %e, "cgroup.kill failed");
        }
        if let Some(uid) = self.uid {
            kill_uid(uid);
        }
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        if let Some(c) = self.cgroup() {
            // Empty by now (its last adapter was contained); a cgroup still populated stays, and is harmless.
            let _ = std::fs::remove_dir(&c.dir);
        }
    }
}

/// A uid from `base` on that no user in /etc/passwd has, no process runs as, and no other shim holds.
fn claim_uid(base: u32) -> io::Result<(u32, nix::fcntl::Flock<std::fs::File>)> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(UID_LOCKS)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create {UID_LOCKS}: {e}")))?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let listed: HashSet<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let running: HashSet<u32> = pids()
        .filter_map(|pid| Some(std::fs::metadata(format!("/proc/{pid}")).ok()?.uid()))
        .collect();
    for uid in base..base.saturating_add(UID_SPAN) {
        if listed.contains(&uid) || running.contains(&uid) {
            continue;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{UID_LOCKS}/{uid}"))?;
        if let Ok(lock) = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        {
            return Ok((uid, lock));
        }
    }
    Err(io::Error::other(format!(
        "no free uid from {base} to {}",
        base.saturating_add(UID_SPAN - 1)
    )))
}

/// A cgroup v2 of slot `index`'s own, under the shim's, when that is writable and has `cgroup.kill` (Linux
/// 5.14); `None` otherwise (read-only /sys/fs/cgroup, as in a default Docker container; cgroup v1 only).
fn make_cgroup(index: usize) -> Option<Cgroup> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // `id parent major:minor root mountpoint options … - fstype source superoptions`
    let (root, mount) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut f = left.split_whitespace();
        let root = f.nth(3)?;
        let mount = f.next()?;
        Some((root.to_string(), mount.to_string()))
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = own.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let own = own.strip_prefix(root.trim_end_matches('/')).unwrap_or(own);
    let parent = PathBuf::from(mount).join(own.trim_start_matches('/'));
    if index == 0 {
        remove_stale_cgroups(&parent);
    }
    let dir = parent.join(format!("runtime-shim-{}-{index}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir)
        && e.kind() != io::ErrorKind::AlreadyExists
    {
        tracing::debug!(cgroup = %dir.display(), error = %e, "no cgroup of our own");
        return None;
    }
    if !dir.join("cgroup.kill").exists() {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    // Entering it must work too (delegation, the no-internal-processes rule): a helper tries.
    let procs = CString::new(
        dir.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .ok()?;
    let probe = procs.clone();
    let entered = run_helper(move || {
        use nix::fcntl::{OFlag, open};
        match open(
            probe.as_c_str(),
            OFlag::O_WRONLY,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) if nix::unistd::write(&fd, b"0").is_ok() => 0,
            _ => 1,
        }
    });
    if entered != Some(Exit::Code(0)) {
        let _ = std::fs::remove_dir(&dir);
        tracing::debug!(cgroup = %dir.display(), "cannot enter a cgroup of our own");
        return None;
    }
    Some(Cgroup { dir, procs })
}

/// Removes the empty cgroups of shims that are gone (a SIGKILLed shim cannot remove its own).
fn remove_stale_cgroups(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("runtime-shim-"))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Fails (EBUSY) while it holds a process: then it stays.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Kills every process of `uid` at once: a helper takes that uid and sends SIGKILL to -1, which the kernel
/// delivers to every process the sender may signal (exactly those of its uid, but itself) under one lock that
/// fork also takes, so no process of the uid can fork its way out of it.
fn kill_uid(uid: u32) {
    let done = run_helper(move || {
        // Raw system calls: only this (single-threaded) child changes credentials.
        // SAFETY: setresuid and kill are plain system calls, async-signal-safe.
        unsafe {
            if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
                return 1;
            }
            libc::kill(-1, libc::SIGKILL);
        }
        0
    });
    if done != Some(Exit::Code(0)) {
        tracing::warn!(uid, exit = ?done, "killing the processes of a worker uid failed");
    }
}

/// Runs `f` in a forked child that exits with what `f` returns; waits (blocking, up to 2 s) for the exit,
/// which the reaper reports. `f` runs in a copy of a multi-threaded process: it may only make
/// async-signal-safe calls.
fn run_helper(f: impl FnOnce() -> i32) -> Option<Exit> {
    let (tx, rx) = watch::channel(None);
    {
        let mut waiting = registry().lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the child only runs `f` (async-signal-safe calls, by this function's contract) and _exit; it
        // touches no lock, allocator or runtime state inherited from the parent's other threads.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                let code = f();
                // SAFETY: _exit skips every destructor and atexit handler of the copied process.
                unsafe { libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                waiting.insert(child.as_raw(), tx);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fork a helper");
                return None;
            }
        }
    }
    let until = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(exit) = *rx.borrow() {
            return Some(exit);
        }
        if rx.has_changed().is_err() || std::time::Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// How long [`contain`] keeps at it before it gives up (and says so).
const CONTAIN_LIMIT: Duration = Duration::from_secs(5);

/// Freezes, then kills, everything that belongs to the adapter `leader` (just ended, or `None` at the end):
/// its session and group, every descendant of those (even one whose parent is still dying), everything in
/// its jail (uid, cgroup, with the kernel's atomic kills first), and every escaped orphan (a process
/// re-parented to the shim that belongs to no live adapter's session). Each pass reads /proc; targets not yet
/// stopped get SIGSTOP (a stopped process cannot fork, and a fork under way when the signal arrives fails),
/// and only once a pass finds nothing that still moves is everything SIGKILLed. It goes on until a pass finds
/// nothing alive — a zombie main thread with a live thread counts as alive — for at most [`CONTAIN_LIMIT`].
pub fn contain(leader: Option<i32>, jail: &Jail) {
    let me = std::process::id() as i32;
    let started = std::time::Instant::now();
    jail.kill_atomically();
    // (pid, start time): a pid may be reused; what was signalled is the process that had it then.
    let mut stopped: HashSet<(i32, u64)> = HashSet::new();
    let mut killed: HashSet<(i32, u64)> = HashSet::new();
    let mut quiet = 0;
    let mut passes = 0u32;
    loop {
        passes += 1;
        let in_cgroup = jail.cgroup_members().unwrap_or_default();
        // Holding the registry lock: no child is between fork and registration, and no adapter is reaped
        // (so its pid not reused) while we decide and signal.
        let waiting = registry().lock().unwrap_or_else(|e| e.into_inner());
        let all = processes();
        let targets = select(leader, me, jail.uid, &in_cgroup, &waiting, &all);
        if targets.is_empty() {
            drop(waiting);
            if !in_cgroup.is_empty() && started.elapsed() < CONTAIN_LIMIT {
                // The cgroup says what is left, whatever /proc showed: a fork racing the last cgroup.kill
                // (its child not yet listed when the kill went through) is killed by the next.
                jail.kill_atomically();
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            quiet += 1;
            // Twice: a process that forks and exits in a loop may be between two pids when /proc is read.
            if quiet >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        quiet = 0;
        let moving: Vec<&Stat> = targets
            .iter()
            .copied()
            .filter(|p| !stopped.contains(&p.key()) && !killed.contains(&p.key()))
            .collect();
        // Freeze first, so that nothing forks while the tree is read again; past a second, kill as found.
        let freeze = !moving.is_empty() && started.elapsed() < Duration::from_secs(1);
        if freeze {
            for p in &moving {
                send(p.pid, Signal::SIGSTOP);
                stopped.insert(p.key());
            }
        }
        let mut fresh = 0;
        if !freeze {
            for p in &targets {
                if killed.insert(p.key()) {
                    send(p.pid, Signal::SIGKILL);
                    fresh += 1;
                }
            }
        }
        drop(waiting);
        if fresh > 0 {
            tracing::debug!(killed = fresh, "killed processes of an ended adapter");
            jail.kill_atomically();
        }
        if started.elapsed() > CONTAIN_LIMIT {
            tracing::warn!(
                left = targets.len(),
                passes,
                "processes of an ended adapter are still alive after {} s",
                CONTAIN_LIMIT.as_secs()
            );
            return;
        }
        // Give the kernel a moment to deliver, and dying processes to die (their children then show up).
        std::thread::sleep(Duration::from_millis(if freeze { 0 } else { 2 }));
    }
    if passes > 3 {
        tracing::debug!(passes, "contained");
    }
}

/// Kills escaped orphans (processes re-parented to the shim that belong to no live adapter's session) and
/// whatever they started. Run once more at shutdown, after every adapter is gone.
pub fn sweep_orphans() {
    contain(None, &Jail::default());
}

fn send(pid: i32, signal: Signal) {
    match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pid, error = %e, signal = signal.as_str(), "cannot signal"),
    }
}

/// The live processes [`contain`] must end, among `all`.
fn select<'a, T>(
    leader: Option<i32>,
    me: i32,
    uid: Option<u32>,
    in_cgroup: &HashSet<i32>,
    waiting: &HashMap<i32, T>,
    all: &'a [Stat],
) -> Vec<&'a Stat> {
    // Live adapters (and helpers) other than the one being ended are never targets, nor their sessions'
    // orphans: a session cannot be joined from outside, so a session id is proof of belonging.
    let other = |pid: i32| Some(pid) != leader && waiting.contains_key(&pid);
    let mut chosen: HashSet<i32> = HashSet::new();
    for p in all {
        if p.pid == me || other(p.pid) {
            continue;
        }
        let ours = leader.is_some_and(|l| p.pid == l || p.sid == l || p.pgrp == l)
            || in_cgroup.contains(&p.pid)
            || uid.is_some_and(|u| p.uid == Some(u));
        let escaped = p.ppid == me && !other(p.sid);
        if ours || escaped {
            chosen.insert(p.pid);
        }
    }
    // And every descendant of those, wherever it moved: a child whose parent is still dying has not come to
    // the shim yet.
    loop {
        let before = chosen.len();
        for p in all {
            if chosen.contains(&p.ppid) && p.pid != me && !other(p.pid) {
                chosen.insert(p.pid);
            }
        }
        if chosen.len() == before {
            break;
        }
    }
    all.iter()
        .filter(|p| chosen.contains(&p.pid) && p.alive())
        .collect()
}

/// What containment needs to know of a process.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    sid: i32,
    state: char,
    /// Since boot, in clock ticks: with the pid, it names one process.
    start: u64,
    /// Its owner (the /proc entry's), when asked for.
    uid: Option<u32>,
}

impl Stat {
    fn key(&self) -> (i32, u64) {
        (self.pid, self.start)
    }

    /// Not dead: a zombie main thread whose process still has a live thread is alive (it can still fork).
    fn alive(&self) -> bool {
        match self.state {
            'X' | 'x' => false,
            'Z' => has_live_thread(self.pid),
            _ => true,
        }
    }
}

fn has_live_thread(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
            .is_some_and(|s| !matches!(s.state, 'Z' | 'X' | 'x'))
    })
}

fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// Every process, from /proc, with its owner; empty where /proc is absent.
fn processes() -> Vec<Stat> {
    use std::os::unix::fs::MetadataExt;
    pids()
        .filter_map(|pid| {
            let mut stat = parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
            stat.uid = std::fs::metadata(format!("/proc/{pid}"))
                .ok()
                .map(|m| m.uid());
            Some(stat)
        })
        .collect()
}

/// A /proc/<pid>/stat line: `pid (comm) state ppid pgrp session … starttime …`, where `comm` may itself hold
/// spaces and parentheses.
fn parse_stat(stat: &str) -> Option<Stat> {
    let pid = stat.split_once(' ')?.0.parse().ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Field 3 (state) is fields[0]; field 22 (starttime) is fields[19].
    Some(Stat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start: fields.get(19).and_then(|s| s.parse().ok()).unwrap_or(0),
        uid: None,
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
        let mut child = spawn(
            &sh(
                "read line; echo \"$line $X_ADDED ${HOME:-nohome} $(pwd)\"; \
             grep NoNewPrivs /proc/self/status >&2; ulimit -n >&2; exit 7",
            ),
            &Jail::default(),
        )
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
        let mut child = spawn(
            &sh("trap '' TERM; sleep 60 & echo $!; wait"),
            &Jail::default(),
        )
        .unwrap();
        let mut buf = [0u8; 32];
        let n = child.stdout.read(&mut buf).await.unwrap();
        let grandchild: i32 = std::str::from_utf8(&buf[..n])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let exit = terminate_group(
            child.pid,
            &mut child.exit,
            Duration::from_millis(200),
            &Jail::none(),
        )
        .await;
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
        let mut child = spawn(&sh("setsid sleep 60 & echo $!; wait"), &Jail::default()).unwrap();
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
        terminate_group(
            child.pid,
            &mut child.exit,
            Duration::from_millis(200),
            &Jail::none(),
        )
        .await;
        tokio::time::timeout(Duration::from_secs(5), gone(escaped))
            .await
            .expect("the escaped process outlived its adapter");
    }

    #[test]
    fn stat_lines_parse_past_odd_names() {
        let line = "42 (a (b) c) S 7 41 40 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 98765 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                pid: 42,
                ppid: 7,
                pgrp: 41,
                sid: 40,
                state: 'S',
                start: 98765,
                uid: None,
            })
        );
        let zombie = parse_stat("1 (init) Z 0 1 1").unwrap();
        assert_eq!((zombie.state, zombie.sid, zombie.start), ('Z', 1, 0));
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
