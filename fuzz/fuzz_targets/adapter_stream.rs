//! An adapter's stdout (frames) and stderr (log lines); see `fuzzing::check_adapter_stream`.
#![no_main]

use libfuzzer_sys::fuzz_target;
// The property models live beside the targets, not in the product crate; each target uses part of them.
#[allow(dead_code)]
#[path = "../fuzzing.rs"]
mod fuzzing;

#[global_allocator]
static ALLOCATOR: fuzzing::TrackingAllocator = fuzzing::TrackingAllocator;

fuzz_target!(|data: &[u8]| fuzzing::check_adapter_stream(data));
