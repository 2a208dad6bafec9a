//! Replays every input under `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` through the property
//! checks the fuzz targets run (`fuzz/fuzzing.rs`), so the seeds and every crash ever found are checked by
//! plain `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

// The property models the fuzz targets run (`fuzz/fuzzing.rs`), compiled into this test, not the product.
#[path = "../fuzz/fuzzing.rs"]
mod fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the folder does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every seed and regression of `target`; fails naming every input that failed.
fn replay(target: &str, check: fn(&[u8])) {
    let seeds = inputs("seeds", target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/seeds/{target}");
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).expect("a readable input");
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} input(s) failed (the panics are printed above):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

#[test]
fn executor_request() {
    replay("executor_request", fuzzing::check_executor_request);
}

#[test]
fn decode() {
    replay("decode", fuzzing::check_decode);
}

#[test]
fn adapter_stream() {
    replay("adapter_stream", fuzzing::check_adapter_stream);
}
