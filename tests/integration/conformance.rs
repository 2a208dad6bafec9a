//! `runtime-shim conformance`: passes for the bundled adapters, fails (with reasons) for a wrong one.

use crate::util::*;

fn kit(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["conformance"];
    all.extend_from_slice(args);
    let out = spawn_raw(&all, &[]).wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_kit_passes_for_python_and_node() {
    for lang in ["python", "node"] {
        let (code, out, err) = kit(&[lang]);
        assert_eq!(code, 0, "{lang}:\n{out}\n{err}");
        assert!(out.contains("17 passed, 0 failed"), "{out}");
        assert!(!out.contains("FAIL"), "{out}");
    }
}

#[test]
fn the_kit_fails_a_wrong_adapter_and_says_why() {
    // An adapter that echoes its request instead of running the function.
    let adapter = fixture_adapter();
    let functions = functions("python");
    let (code, out, _) = kit(&[&adapter, "--functions", &functions, "--json"]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON report");
    assert!(report["failed"].as_u64().unwrap() >= 10, "{report}");
    let seed = &report["cases"][0];
    assert_eq!(seed["passed"], false);
    assert!(
        seed["failure"].as_str().unwrap().contains("expected"),
        "{seed}"
    );
}

#[test]
fn the_kit_needs_functions_for_an_adapter_path() {
    let (code, _, err) = kit(&["/bin/cat"]);
    assert_eq!(code, 2);
    assert!(err.contains("--functions"), "{err}");
    let (code, _, err) = kit(&["cobol"]);
    assert_eq!(code, 2);
    assert!(err.contains("conformance/cobol"), "{err}");
}
