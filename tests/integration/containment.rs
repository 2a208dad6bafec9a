//! Functions that work against the shim on purpose (`tests/fixtures/adapters/escape.py`): processes meant to
//! outlive their execution, descriptors the shim inherited, and connections enough to exhaust its descriptors.
//! Every attack runs, the shim kills its adapter at the deadline, then every process the attack recorded must
//! be dead within a bound and the next request served. `docs/reliability.md` ("Containment") lists the
//! classes with the mechanism that stops each.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use crate::util::*;

/// How long killed processes may take to be gone (a member holding hundreds of MiB takes a while).
const GONE: Duration = Duration::from_secs(10);

fn escape_adapter() -> String {
    repo()
        .join("tests/fixtures/adapters/escape.py")
        .to_string_lossy()
        .into_owned()
}

/// A file every uid may append to (adapters may run as a uid of their own).
fn shared_file(name: &str) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    path
}

/// True while `pid` is one of this attack's processes and alive: not dead, and not a zombie unless one of its
/// threads still lives (a main thread that called pthread_exit reads as `Z`).
fn attack_alive(pid: i32, marker: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    // Read through a live thread: a main thread that has exited has no memory left to show an environment.
    tasks.flatten().any(|t| {
        let live = std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with(['Z', 'X'])))
            .unwrap_or(false);
        let environ = std::fs::read(t.path().join("environ")).unwrap_or_default();
        live && String::from_utf8_lossy(&environ).contains(marker)
    })
}

/// A process as a failure message shows it: pid, state, parent, owner, cgroup.
fn describe(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or("?")
            .trim()
            .to_string()
    };
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let cgroup = cgroup.lines().find(|l| l.starts_with("0::")).unwrap_or("?");
    format!(
        "{pid} ({}, ppid {}, uid {}, {cgroup})",
        field("State:"),
        field("PPid:"),
        field("Uid:")
    )
}

struct Attack {
    shim: Shim,
    pids: PathBuf,
    adapters: PathBuf,
}

impl Attack {
    fn new(mode: &str, env: &[(&str, &str)]) -> Attack {
        let pids = shared_file("attack-pids");
        let adapters = shared_file("adapters");
        let adapter = escape_adapter();
        let (p, a) = (
            pids.to_string_lossy().into_owned(),
            adapters.to_string_lossy().into_owned(),
        );
        let mut all = vec![
            ("SHIM_ADAPTER", adapter.as_str()),
            ("FIXTURE_MODE", mode),
            ("FIXTURE_PIDFILE", p.as_str()),
            ("FIXTURE_ADAPTERS", a.as_str()),
            ("SHIM_KILL_GRACE", "0.2"),
        ];
        all.extend_from_slice(env);
        let shim = Shim::start(&all).ready();
        Attack {
            shim,
            pids,
            adapters,
        }
    }

    /// Every adapter is started with the pid file's path in its environment, and so is all it starts.
    fn marker(&self) -> String {
        format!("FIXTURE_PIDFILE={}", self.pids.display())
    }

    /// Live processes of the attacks: everything with this test's marker in its environment (so also what
    /// recorded no pid, such as the hops of a hopper), but the shim and the adapters that attacked no one.
    fn survivors(&self) -> Vec<i32> {
        let marker = self.marker();
        let attackers = pids_in(&self.pids);
        let adapters = pids_in(&self.adapters);
        let shim = self.shim.pid();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|p| *p != shim && (attackers.contains(p) || !adapters.contains(p)))
            .filter(|p| attack_alive(*p, &marker))
            .collect()
    }

    fn ready_lines(&self) -> Vec<String> {
        self.shim
            .log_events()
            .iter()
            .filter(|e| e["target"] == "function")
            .filter_map(|e| e["message"].as_str().map(str::to_string))
            .filter(|m| m.starts_with("attack ready"))
            .collect()
    }

    /// One attack: the request times out, the attack was in place before that, every process it recorded is
    /// gone within [`GONE`], and a fresh adapter serves.
    fn run(&self, timeout: f64) -> String {
        let before = self.ready_lines().len();
        let started = Instant::now();
        self.shim
            .post(&json!({"payload": "attack", "timeout": timeout}))
            .error(500, "timeout");
        assert!(
            started.elapsed() < Duration::from_secs_f64(timeout) + Duration::from_secs(2),
            "answered after {:?}",
            started.elapsed()
        );
        let ready = wait_for(Duration::from_secs(5), "the attack in place", || {
            self.ready_lines().get(before).cloned()
        });
        let waited = Instant::now();
        // The fresh adapter has the marker too: it is told apart once it has recorded itself, before READY.
        self.wait_ready();
        while !self.survivors().is_empty() && waited.elapsed() < GONE {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left: Vec<String> = self.survivors().into_iter().map(describe).collect();
        assert!(
            left.is_empty(),
            "{ready}: {} process(es) outlived their execution: {left:?}",
            left.len()
        );
        self.recovers();
        ready
    }

    fn wait_ready(&self) {
        let shim = &self.shim;
        wait_for(Duration::from_secs(15), "every adapter ready", || {
            let r = shim.get("/_/ready");
            (r.status == 200 && r.json()["ready"] == r.json()["workers"]).then_some(())
        });
    }

    fn recovers(&self) {
        self.wait_ready();
        let r = self.shim.post(&json!({"payload": "well", "timeout": 10}));
        assert_eq!(r.status, 200, "the next request is served: {}", r.text());
        assert_eq!(r.json()["payload"], "well");
    }

    fn containment(&self) -> String {
        self.shim.wait_log("the containment line", |e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("worker containment"))
        })["message"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        let shim = self.shim.pid();
        let _ = kill(Pid::from_raw(shim), Signal::SIGKILL);
        // Whatever a failed test left behind (found by the marker in its environment): freeze, then kill,
        // until none is left.
        let marker = self.marker();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let found: Vec<i32> = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|p| *p != shim && attack_alive(*p, &marker))
                .collect();
            if found.is_empty() {
                break;
            }
            for signal in [Signal::SIGSTOP, Signal::SIGKILL] {
                for p in &found {
                    let _ = kill(Pid::from_raw(*p), signal);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&self.pids);
        let _ = std::fs::remove_file(&self.adapters);
    }
}

/// The best-effort mechanisms alone: sessions, freezing, and sweeping until a pass finds nothing.
const SWEEP_ONLY: (&str, &str) = ("SHIM_CGROUP", "off");

#[test]
fn an_adapter_joining_a_siblings_group_dies_with_its_execution() {
    let attack = Attack::new("join-sibling", &[SWEEP_ONLY, ("SHIM_WORKERS", "2")]);
    for _ in 0..2 {
        let ready = attack.run(1.0);
        // Every adapter leads its own session: a group of another session cannot be joined.
        assert!(!ready.contains(" joined"), "{ready}");
    }
}

#[test]
fn a_setsid_child_of_a_slow_dying_member_is_killed() {
    // 300 MiB, written: the member takes a while to free it once killed. The deadline leaves time to fill it
    // on a loaded machine.
    let attack = Attack::new("slow-death", &[SWEEP_ONLY, ("FIXTURE_MIB", "300")]);
    for _ in 0..2 {
        attack.run(5.0);
    }
}

#[test]
fn a_dozen_nested_setsid_levels_are_all_killed() {
    let attack = Attack::new("setsid-chain", &[SWEEP_ONLY]);
    for _ in 0..2 {
        attack.run(1.5);
        assert!(pids_in(&attack.pids).len() >= 13);
    }
}

#[test]
fn a_session_leader_whose_main_thread_exited_is_killed() {
    let attack = Attack::new("zombie-leader", &[SWEEP_ONLY]);
    for _ in 0..2 {
        attack.run(1.0);
    }
}

/// A uid no test machine gives anyone; each slot claims the first free one from it.
const UID_BASE: &str = "3100000000";

#[test]
fn a_fork_hopper_cannot_outrun_a_uid_of_its_own() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: a uid per worker needs root (CI runs as root)");
        return;
    }
    let attack = Attack::new("hopper", &[SWEEP_ONLY, ("SHIM_UID_BASE", UID_BASE)]);
    for _ in 0..6 {
        attack.run(0.5);
    }
    let how = attack.containment();
    assert!(how.contains(": uid"), "{how}");
}

#[test]
fn a_fork_hopper_cannot_outrun_a_cgroup_of_its_own() {
    let attack = Attack::new("hopper", &[("SHIM_CGROUP", "auto")]);
    let how = attack.containment();
    if !how.contains("cgroup") {
        println!("skipped: no writable cgroup v2 here ({how})");
        return;
    }
    for _ in 0..6 {
        attack.run(0.5);
    }
}

#[test]
fn attacks_under_a_uid_of_their_own_are_contained_too() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: a uid per worker needs root (CI runs as root)");
        return;
    }
    for mode in ["setsid-chain", "zombie-leader"] {
        let attack = Attack::new(mode, &[SWEEP_ONLY, ("SHIM_UID_BASE", UID_BASE)]);
        attack.run(1.5);
    }
}

#[test]
fn an_attack_running_at_shutdown_dies_with_the_shim() {
    let mut attack = Attack::new(
        "setsid-chain",
        &[SWEEP_ONLY, ("SHIM_SHUTDOWN_GRACE", "0.5")],
    );
    std::thread::scope(|s| {
        let shim = &attack.shim;
        let request = s.spawn(move || shim.post(&json!({"payload": "attack", "timeout": 60})));
        wait_for(Duration::from_secs(5), "the attack in place", || {
            (!attack.ready_lines().is_empty()).then_some(())
        });
        kill(Pid::from_raw(shim.pid()), Signal::SIGTERM).unwrap();
        request.join().unwrap().error(503, "shutting-down");
    });
    let status = attack.shim.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let waited = Instant::now();
    while !attack.survivors().is_empty() && waited.elapsed() < GONE {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(attack.survivors(), Vec::<i32>::new(), "outlived the shim");
}

#[test]
fn descriptors_the_shim_inherited_are_not_readable_by_user_code() {
    let secret = temp_path("inherited-secret");
    std::fs::write(&secret, "not for functions").unwrap();
    let file = std::fs::File::open(&secret).unwrap();
    let adapter = escape_adapter();
    let shim = Shim::start_with(
        &[("SHIM_ADAPTER", adapter.as_str()), ("FIXTURE_MODE", "fds")],
        |cmd| {
            use std::os::fd::AsRawFd;
            let fd = file.as_raw_fd();
            // SAFETY: dup2 only, between fork and exec; it leaves fd 7 open without close-on-exec, as a
            // careless parent of the shim would.
            unsafe {
                cmd.pre_exec(move || {
                    if nix::libc::dup2(fd, 7) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
    )
    .ready();
    let v = shim.post(&json!({})).json();
    let fds = v["fds"].as_object().expect("the adapter's descriptors");
    let path = secret.to_string_lossy();
    assert!(
        fds.values().all(|target| target.as_str() != Some(&*path)),
        "user code can read an inherited descriptor: {fds:?}"
    );
    let _ = std::fs::remove_file(&secret);
}

/// Opens `n` keep-alive connections, each after one answered request, and keeps them open.
fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = TcpStream::connect(addr).expect("connect");
        c.write_all(b"GET /_/health HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        conns.push(c);
    }
    conns
}

fn raise_own_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
}

#[test]
fn eleven_hundred_idle_connections_under_a_1024_file_limit_do_not_stop_an_execution() {
    raise_own_file_limit();
    // (soft, hard): the common container default, and a hard limit no higher than the soft one.
    for (soft, hard) in [(1024u64, 4096u64), (1024, 1024)] {
        let adapter = escape_adapter();
        let env = [("SHIM_ADAPTER", adapter.as_str()), ("FIXTURE_MODE", "fds")];
        let shim = Shim::start_with(&env, |cmd| {
            // SAFETY: setrlimit only, between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        soft,
                        hard,
                    )
                    .map_err(std::io::Error::from)?;
                    Ok(())
                });
            }
        })
        .ready();
        let conns = idle_connections(shim.addr, 1100);
        // A normal execution on a fresh connection, served at once while the idle connections stay.
        let started = Instant::now();
        let r = runtime_shim::conformance::client::post(
            shim.addr,
            &[("x-internal-challenge", KEY)],
            br#"{"payload":"after 1100 idle connections"}"#,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("soft {soft}, hard {hard}: not served: {e}"));
        assert_eq!(r.status, 200, "{soft}/{hard}");
        assert!(started.elapsed() < Duration::from_secs(5), "{soft}/{hard}");
        let fds = std::fs::read_dir(format!("/proc/{}/fd", shim.pid()))
            .unwrap()
            .count() as u64;
        assert!(fds < hard, "{fds} descriptors open of {hard}");
        // Some of the first connections were closed to make room when the limit could not be raised; the
        // others were answered.
        let mut answered = 0;
        for mut c in conns.into_iter().rev().take(50) {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 12];
            if c.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200") {
                answered += 1;
            }
        }
        assert_eq!(answered, 50, "the newest connections were served");
    }
}
