//! The executor contracts: what the executor sends and gets back. Each contract's decode and encode lives in
//! its own module; all of them feed the same [`crate::protocol::Work`] to the same pool, and the contract is
//! chosen once, at start, from `SHIM_PROTOCOL`.
//!
//! - [`v1`] — the 2021 contract: `POST` with a JSON body, `x-internal-challenge`, replies as the function sent.
//! - [`v2`] — open-runtimes v2 (Appwrite 1.5–1.8 for older functions): `variables`, `payload`, `headers` in;
//!   the envelope `{"response", "stdout", "stderr"}` out.
//! - [`v5`] — open-runtimes v5 (Appwrite 1.7+): any method and path, raw bodies, `x-open-runtimes-*` headers,
//!   log files, `/__opr/health` and `/__opr/timings`.
//! - [`http`] — plain HTTP functions (Knative, Cloud Run, Kubernetes, Fly, OpenFaaS): v5's request model and
//!   `context` API without an executor's headers; logs as JSON lines on stdout.
//! - [`model`] — the HTTP request model and reply rules those share.
//! - [`lambda`] — the shim as the `bootstrap` of an AWS Lambda custom runtime: no server; it polls the Lambda
//!   Runtime API for events and posts back replies and errors.

pub mod http;
pub mod lambda;
pub mod model;
pub mod v1;
pub mod v2;
pub mod v5;

use std::fmt;
use std::str::FromStr;

/// Which executor contract the shim serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Contract {
    #[default]
    V1,
    V2,
    V5,
    Http,
    /// AWS Lambda's Runtime API (`SHIM_PROTOCOL=lambda`): the function sees v5's `context`.
    Lambda,
}

impl Contract {
    /// The adapter protocol version this contract's executions travel in.
    pub fn adapter_version(self) -> u32 {
        match self {
            Contract::V1 => crate::protocol::VERSION,
            Contract::V2 | Contract::V5 | Contract::Http | Contract::Lambda => {
                crate::protocol::VERSION_2
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V1 => "v1",
            Contract::V2 => "v2",
            Contract::V5 => "v5",
            Contract::Http => "http",
            Contract::Lambda => "lambda",
        }
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Contract {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(Contract::V1),
            "v2" => Ok(Contract::V2),
            "v5" => Ok(Contract::V5),
            "http" => Ok(Contract::Http),
            "lambda" => Ok(Contract::Lambda),
            _ => Err("must be v1, v2, v5, http or lambda".into()),
        }
    }
}
