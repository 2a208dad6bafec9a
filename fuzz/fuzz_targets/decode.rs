//! The executor's request body, straight into `handler::decode`; see `fuzzing::check_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
// The property models live beside the targets, not in the product crate; each target uses part of them.
#[allow(dead_code)]
#[path = "../fuzzing.rs"]
mod fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

fuzz_target!(|data: &[u8]| fuzzing::check_decode(data));
