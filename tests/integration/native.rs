//! The native path: shared libraries loaded by the shim's own worker role (`SHIM_NATIVE_LIB`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// Builds `tests/fixtures/native/misbehave.c` (or another C file) with `-D<flag>` into a temporary library.
fn c_library(source: &str, flag: Option<&str>) -> PathBuf {
    let out = temp_path(&format!("lib{}.so", flag.unwrap_or("plain").to_lowercase()));
    let mut cc = Command::new("cc");
    cc.args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(repo().join("adapters/native"))
        .arg("-o")
        .arg(&out)
        .arg(repo().join(source));
    if let Some(f) = flag {
        cc.arg(format!("-D{f}"));
    }
    let status = cc
        .status()
        .expect("a C compiler (cc) is needed for the native tests");
    assert!(status.success(), "cc failed for {source} {flag:?}");
    out
}

fn native(lib: &std::path::Path, env: &[(&str, &str)]) -> Shim {
    let lib = lib.to_string_lossy().into_owned();
    let mut all = vec![("SHIM_NATIVE_LIB", lib.as_str())];
    all.extend_from_slice(env);
    Shim::start(&all).ready()
}

fn seed_body() -> serde_json::Value {
    json!({"env": {"ENV1": "Hello World!"}, "payload": "Hello \"World\"! 2 ✓", "timeout": 60})
}

#[test]
fn the_c_example_serves_the_seed_function() {
    let lib = c_library("examples/native-c/seed.c", None);
    let shim = native(&lib, &[]);
    let r = shim.post(&seed_body());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"normal": "Hello World!", "env1": "Hello World!", "payload": "Hello \"World\"! 2 ✓"})
    );
    let r = shim.post(&json!({}));
    assert_eq!(r.json()["env1"], json!(null), "env does not leak");
}

#[test]
fn the_rust_example_serves_the_seed_function_and_panics_are_500() {
    let target = repo().join("target/native-example");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(repo().join("examples/native-rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
    let shim = native(&target.join("debug/libseed_native.so"), &[]);
    let r = shim.post(&seed_body());
    assert_eq!(
        r.json(),
        json!({"normal": "Hello World!", "env1": "Hello World!", "payload": "Hello \"World\"! 2 ✓"})
    );
    let m = shim
        .post(&json!({"payload": "panic"}))
        .error(500, "function-error");
    assert!(m.contains("asked to panic"), "{m}");
    assert_eq!(shim.post(&json!({"payload": "ok"})).json()["payload"], "ok");
}

#[test]
fn a_segfault_costs_one_request_and_one_worker() {
    let lib = c_library("tests/fixtures/native/misbehave.c", Some("SEGV"));
    let shim = native(&lib, &[]);
    let before = children(shim.pid());
    let m = shim
        .post(&json!({"payload": "crash"}))
        .error(500, "adapter-error");
    assert!(m.contains("signal 11 (SIGSEGV)"), "{m}");
    wait_all_dead(&before);
    assert_eq!(shim.post(&json!({"payload": "fine"})).text(), "fine");
}

#[test]
fn an_endless_loop_is_killed_at_the_deadline() {
    let lib = c_library("tests/fixtures/native/misbehave.c", Some("SPIN"));
    let shim = native(&lib, &[]);
    for _ in 0..2 {
        let before = children(shim.pid());
        let started = Instant::now();
        let m = shim.post(&json!({"timeout": 1})).error(500, "timeout");
        assert_eq!(m, "execution timed out after 1 s");
        assert!(started.elapsed() < Duration::from_millis(1750));
        wait_all_dead(&before);
    }
}

#[test]
fn a_failure_is_500_with_its_message() {
    let lib = c_library("tests/fixtures/native/misbehave.c", Some("FAIL"));
    let shim = native(&lib, &[]);
    let m = shim.post(&json!({})).error(500, "function-error");
    assert_eq!(m, "native failure: boom");
}

#[test]
fn native_output_goes_to_the_log_never_the_reply() {
    let lib = c_library("tests/fixtures/native/misbehave.c", Some("NOISY"));
    let shim = native(&lib, &[]);
    let r = shim.post(&json!({"payload": "n1"}));
    assert_eq!(r.text(), "n1");
    for line in ["native-printf n1", "native-stderr n1", "native-child"] {
        let e = shim.wait_log(line, |e| e["message"] == line);
        assert_eq!(e["target"], "function");
    }
}

#[test]
fn bad_libraries_are_startup_errors_naming_library_and_symbol() {
    let nohandle = c_library("tests/fixtures/native/misbehave.c", Some("NOHANDLE"));
    let oldabi = c_library("tests/fixtures/native/misbehave.c", Some("OLDABI"));
    let not_a_library = repo().join("README.md");
    for (lib, expect) in [
        (&nohandle, "missing symbol rshim_handle".to_string()),
        (&oldabi, "rshim_abi_version() is 99".to_string()),
        (&not_a_library, "README.md".to_string()),
        (&PathBuf::from("/no/such/lib.so"), "not a file".to_string()),
    ] {
        let lib = lib.to_string_lossy().into_owned();
        let out = spawn_raw(
            &[],
            &[
                ("APPWRITE_INTERNAL_RUNTIME_KEY", "k"),
                ("SHIM_NATIVE_LIB", &lib),
                ("SHIM_PORT", "0"),
            ],
        )
        .wait_with_output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{lib}: {err}");
        assert!(
            err.contains("SHIM_NATIVE_LIB") && err.contains(&expect),
            "{err}"
        );
        if !lib.starts_with("/no/") {
            assert!(err.contains(&lib), "names the library: {err}");
        }
    }
}

/// Builds every C file of `folder` into one temporary library.
fn c_library_of(folder: &str, name: &str) -> PathBuf {
    let out = temp_path(&format!("lib{name}.so"));
    let mut sources: Vec<PathBuf> = std::fs::read_dir(repo().join(folder))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(repo().join("adapters/native"))
        .arg("-o")
        .arg(&out)
        .args(&sources)
        .status()
        .expect("a C compiler (cc) is needed for the native tests");
    assert!(status.success(), "cc failed for {folder}");
    out
}

#[test]
fn abi_2_passes_the_v5_kit_through_the_native_worker() {
    let lib = c_library_of("conformance/v5/native", "v5native");
    let cases: serde_json::Value =
        serde_json::from_str(runtime_shim::conformance::v5::CASES).unwrap();
    let n = cases["cases"].as_array().unwrap().len();
    let adapter = format!("native:{}", lib.display());
    let functions = repo().join("conformance/v5/native");
    let out = spawn_raw(
        &[
            "conformance",
            &adapter,
            "--protocol",
            "v5",
            "--functions",
            &functions.to_string_lossy(),
        ],
        &[],
    )
    .wait_with_output()
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains(&format!("{n} passed, 0 failed")), "{said}");
}

#[test]
fn a_library_of_the_other_abi_version_says_which_contract_it_needs() {
    let v1 = c_library("examples/native-c/seed.c", None);
    let v2 = c_library_of("conformance/v5/native", "v5mismatch");
    for (lib, protocol, expect) in [
        (&v1, "v5", "implements native ABI 1"),
        (&v2, "v1", "implements native ABI 2"),
    ] {
        let lib = lib.to_string_lossy().into_owned();
        let shim = Shim::start(&[
            ("SHIM_PROTOCOL", protocol),
            ("SHIM_NATIVE_LIB", &lib),
            ("OPEN_RUNTIMES_ENTRYPOINT", "main.c"),
        ]);
        wait_for(Duration::from_secs(10), expect, || {
            shim.logs().iter().any(|l| l.contains(expect)).then_some(())
        });
        assert_eq!(shim.get("/_/ready").status, 503, "never ready");
    }
}
