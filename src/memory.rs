//! Memory given back: glibc's malloc keeps freed memory for reuse, and after one big block is freed it raises
//! its own thresholds so that later big blocks come from its heaps — which it then keeps. An execution that
//! moved a 20 MB reply would leave the shim at tens of MiB for good. Fixed thresholds make every big block
//! its own mapping, unmapped when freed, and the heaps are trimmed once the shim has been idle a moment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Blocks from this size up are mapped on their own and unmapped when freed.
const MMAP_THRESHOLD: i32 = 256 * 1024;
/// Free memory past this at the top of a heap is given back at once.
const TRIM_THRESHOLD: i32 = 1024 * 1024;
/// At most this many malloc arenas (each keeps its own free memory); the shim's threads share them.
const ARENA_MAX: i32 = 2;
/// A body or reply at least this big asks for a trim once the shim is quiet.
pub const LARGE: usize = 1024 * 1024;
/// How long after the last large body the trim waits.
const QUIET: Duration = Duration::from_millis(500);

/// Sets malloc's thresholds; call once at start, before any thread.
pub fn tune() {
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        nix::libc::mallopt(nix::libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, ARENA_MAX);
    }
}

static LARGE_SEEN: AtomicBool = AtomicBool::new(false);
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// A body of `len` bytes went through: when it is large, the heaps are trimmed once the shim is quiet.
pub fn moved(len: usize) {
    if len >= LARGE && !LARGE_SEEN.swap(true, Ordering::AcqRel) {
        WAKE.notify_one();
    }
}

/// The trimmer: sleeps until a large body went through, waits for a quiet moment, and gives free memory
/// back to the kernel (`malloc_trim`, which also releases free pages inside the heaps). Costs nothing while
/// no large body comes.
pub async fn trim_when_quiet() {
    loop {
        WAKE.notified().await;
        // Quiet: no further large body for QUIET.
        loop {
            LARGE_SEEN.store(false, Ordering::Release);
            tokio::time::sleep(QUIET).await;
            if !LARGE_SEEN.load(Ordering::Acquire) {
                break;
            }
        }
        // SAFETY: malloc_trim is thread-safe; 0 keeps no padding.
        unsafe { nix::libc::malloc_trim(0) };
    }
}
