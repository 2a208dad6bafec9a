//! An adapter's stdout (frames) and stderr (log lines); see `runtime_shim::fuzzing::check_adapter_stream`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_shim::fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

fuzz_target!(|data: &[u8]| fuzzing::check_adapter_stream(data));
