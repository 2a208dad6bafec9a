//! One integration-test binary: every test drives the real `runtime-shim` executable.

mod badinput;
mod cli;
mod conformance;
mod containment;
mod executor;
mod faults;
mod http;
mod isolation;
mod lambda;
mod languages;
mod launch;
mod lifecycle;
mod native;
mod privilege;
mod util;
mod v2;
mod v5;
