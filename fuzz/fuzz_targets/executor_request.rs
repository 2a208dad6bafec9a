//! Raw HTTP/1.1 bytes from the executor, through hyper and `handler::admit`; see
//! `fuzzing::check_executor_request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
// The property models live beside the targets, not in the product crate; each target uses part of them.
#[allow(dead_code)]
#[path = "../fuzzing.rs"]
mod fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

thread_local! {
    /// Built once; its clock is paused and jumps ahead whenever every task waits, so timeouts are instant.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
}

fuzz_target!(|data: &[u8]| {
    RUNTIME.with(|runtime| fuzzing::check_executor_request_on(runtime, data));
});
