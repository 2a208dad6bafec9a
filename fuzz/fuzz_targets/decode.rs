//! The executor's request body, straight into `handler::decode`; see `runtime_shim::fuzzing::check_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_shim::fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

fuzz_target!(|data: &[u8]| fuzzing::check_decode(data));
