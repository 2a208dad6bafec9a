//! `runtime-shim launch`: the runtime images' entrypoint, run on the host with CODE_TARBALL and CODE_DIR.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// A tarball of a python function whose `index.py` imports a module the build put in `.python_packages`.
fn python_tarball(name: &str) -> std::path::PathBuf {
    let src = temp_path(&format!("{name}-src"));
    std::fs::create_dir_all(src.join(".python_packages")).unwrap();
    std::fs::write(
        src.join(".python_packages/greeting.py"),
        "WORDS = 'from a dependency'\n",
    )
    .unwrap();
    std::fs::write(
        src.join("index.py"),
        "import greeting\n\ndef main(req, res):\n    res.json({'words': greeting.WORDS, 'payload': req.payload})\n",
    )
    .unwrap();
    let tarball = temp_path(&format!("{name}.tar.gz"));
    runtime_shim::archive::create(&src, &tarball).unwrap();
    tarball
}

fn launch_env<'a>(tarball: &'a str, dir: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("APPWRITE_INTERNAL_RUNTIME_KEY", KEY),
        ("SHIM_HOST", "127.0.0.1"),
        ("SHIM_PORT", "0"),
        ("SHIM_LOG_FORMAT", "json"),
        ("SHIM_WORKERS", "1"),
        ("SHIM_ADAPTER", "python"),
        ("APPWRITE_ENTRYPOINT_NAME", "index.py"),
        ("CODE_TARBALL", tarball),
        ("CODE_DIR", dir),
    ]
}

#[test]
fn launch_extracts_the_tarball_and_becomes_the_server() {
    let tarball = python_tarball("serve");
    let dir = temp_path("serve-code");
    let (t, d) = (tarball.to_string_lossy(), dir.to_string_lossy());
    let shim = Shim::launch(&["launch"], &launch_env(&t, &d));
    assert!(dir.join("index.py").is_file(), "extracted into CODE_DIR");
    // The process that listens is the one started: launch exec'd the server in its place.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", shim.pid())).unwrap();
    assert!(
        cmdline.split(|b| *b == 0).any(|a| a == b"serve"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let r = shim.post(&json!({"payload": "p"}));
    assert_eq!(r.status, 200, "{}", r.text());
    // PYTHONPATH has the function's .python_packages first.
    assert_eq!(
        r.json(),
        json!({"words": "from a dependency", "payload": "p"})
    );
}

#[test]
fn without_a_tarball_launch_serves_the_folder_as_it_is() {
    let dir = temp_path("as-is");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.py"),
        "def main(req, res):\n    res.send('as it is')\n",
    )
    .unwrap();
    let missing = temp_path("missing.tar.gz");
    let (t, d) = (missing.to_string_lossy(), dir.to_string_lossy());
    let shim = Shim::launch(&["launch"], &launch_env(&t, &d));
    let r = shim.post(&json!({}));
    assert_eq!(r.text(), "as it is");
    assert!(
        shim.logs()
            .iter()
            .any(|l| l.contains("no ") && l.contains("serving")),
        "{:#?}",
        shim.logs()
    );
}

#[test]
fn launch_runs_a_command_or_hands_flags_to_the_shim() {
    let out = Command::new(binary())
        .args(["launch", "sh", "-c", "echo built $0", "x"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "built x\n");
    let out = Command::new(binary())
        .args(["launch", "--version"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("runtime-shim "));
    let out = Command::new(binary())
        .args(["launch", "no-such-program-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn a_bad_tarball_fails_the_launch() {
    let tarball = temp_path("bad.tar.gz");
    std::fs::write(&tarball, b"\x1f\x8bnot really gzip").unwrap();
    let dir = temp_path("bad-code");
    let out = Command::new(binary())
        .arg("launch")
        .env("CODE_TARBALL", &tarball)
        .env("CODE_DIR", &dir)
        .env("APPWRITE_INTERNAL_RUNTIME_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot extract"));
}

/// A FIFO as the tarball: the extraction waits on it for as long as the test wants.
fn fifo(name: &str) -> std::path::PathBuf {
    let path = temp_path(name);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    path
}

fn sigterm(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn a_stop_during_the_extraction_ends_the_launch_at_once_with_status_0() {
    let tarball = fifo("stuck.tar.gz");
    let dir = temp_path("stuck-code");
    let (t, d) = (tarball.to_string_lossy(), dir.to_string_lossy());
    let mut shim = Shim::spawn_logged(&["launch"], &launch_env(&t, &d));
    wait_for(Duration::from_secs(10), "the extraction to start", || {
        shim.logs()
            .iter()
            .any(|l| l.contains("launch: extracting"))
            .then_some(())
    });
    // It is blocked opening the FIFO, as a slow extraction would be busy.
    std::thread::sleep(Duration::from_millis(100));
    let sent = Instant::now();
    sigterm(shim.pid());
    let status = shim.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}: {:#?}", shim.logs());
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
}

#[test]
fn a_stop_right_after_the_extraction_is_kept_for_the_server() {
    // However the signal falls — during the extraction, across the exec, before or after the server has its
    // handlers — the launch ends with status 0, never killed by a signal it had no handler for.
    let src = temp_path("quick-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("index.py"),
        "def main(req, res):\n    res.send('')\n",
    )
    .unwrap();
    let archive = temp_path("quick.tar.gz");
    runtime_shim::archive::create(&src, &archive).unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    for round in 0..8 {
        let tarball = fifo(&format!("quick-{round}.tar.gz"));
        let dir = temp_path(&format!("quick-code-{round}"));
        let (t, d) = (tarball.to_string_lossy(), dir.to_string_lossy());
        let mut shim = Shim::spawn_logged(&["launch"], &launch_env(&t, &d));
        wait_for(Duration::from_secs(10), "the extraction to start", || {
            shim.logs()
                .iter()
                .any(|l| l.contains("launch: extracting"))
                .then_some(())
        });
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(&tarball)
            .unwrap();
        w.write_all(&bytes).unwrap();
        drop(w);
        // From no pause to a few milliseconds: the exec and the server's first steps.
        std::thread::sleep(Duration::from_micros(round * 700));
        sigterm(shim.pid());
        let status = shim.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status.code(),
            Some(0),
            "round {round}: {status}: {:#?}",
            shim.logs()
        );
    }
    assert!(Path::new(&src).exists());
}
