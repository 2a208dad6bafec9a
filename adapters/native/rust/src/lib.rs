//! The runtime-shim native ABI (versions 1 and 2, `adapters/native/runtime_shim.h`), for Rust.
//!
//! The [`abi`] module is the C layout, shared with the shim itself, which loads the library. Function authors
//! use [`Request`], [`Response`] and [`export!`]:
//!
//! ```ignore
//! use runtime_shim_native::{export, Request, Response};
//!
//! fn handle(req: &Request, res: &mut Response) {
//!     res.send(format!("Hello {}", req.payload), 200);
//! }
//! export!(handle);
//! ```
//!
//! Build with `crate-type = ["cdylib"]`. A panic in `handle` is caught and becomes a 500 with its message.

use std::collections::HashMap;

/// The C layout of the ABI (version 2's structs too; the wrappers below are version 1's).
pub mod abi {
    use std::ffi::c_void;

    pub const VERSION: u32 = 1;
    pub const VERSION_SYMBOL: &[u8] = b"rshim_abi_version";
    pub const HANDLE_SYMBOL: &[u8] = b"rshim_handle";
    pub const INIT_SYMBOL: &[u8] = b"rshim_init";

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Bytes {
        pub ptr: *const u8,
        pub len: usize,
    }

    impl Bytes {
        pub fn of(s: &[u8]) -> Bytes {
            Bytes {
                ptr: s.as_ptr(),
                len: s.len(),
            }
        }

        /// # Safety
        /// `ptr` must point to `len` readable bytes (or be null with any `len`) for the lifetime chosen.
        pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
            if self.ptr.is_null() || self.len == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(self.ptr, self.len)
            }
        }
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Pair {
        pub name: Bytes,
        pub value: Bytes,
    }

    #[repr(C)]
    pub struct Request {
        pub path: Bytes,
        pub file: Bytes,
        pub payload: Bytes,
        pub env: *const Pair,
        pub env_len: usize,
        pub headers: *const Pair,
        pub headers_len: usize,
        pub timeout_ms: u64,
        pub deadline_ms: u64,
    }

    pub type SendFn = extern "C" fn(res: *mut Response, text: *const u8, len: usize, status: u16);
    pub type FailFn = extern "C" fn(res: *mut Response, message: *const u8, len: usize);

    #[repr(C)]
    pub struct Response {
        pub state: *mut c_void,
        pub send: SendFn,
        pub json: SendFn,
        pub fail: FailFn,
    }

    /// Version 2 (the v5 contract): `rshim_serve(const rshim_request_v2 *, rshim_response_v2 *)`.
    pub const VERSION_2: u32 = 2;
    pub const SERVE_SYMBOL: &[u8] = b"rshim_serve";
    pub const LOG: i32 = 0;
    pub const ERROR: i32 = 1;

    #[repr(C)]
    pub struct RequestV2 {
        pub version: u32,
        pub size: u32,
        pub method: Bytes,
        pub scheme: Bytes,
        pub host: Bytes,
        pub port: u32,
        pub path: Bytes,
        pub query_string: Bytes,
        pub url: Bytes,
        pub query: *const Pair,
        pub query_len: usize,
        pub headers: *const Pair,
        pub headers_len: usize,
        pub body: Bytes,
        pub json_body: u32,
        pub timeout_ms: u64,
        pub deadline_ms: u64,
        pub entrypoint: Bytes,
    }

    pub type StatusFn = extern "C" fn(res: *mut ResponseV2, status: u16);
    pub type HeaderFn = extern "C" fn(
        res: *mut ResponseV2,
        name: *const u8,
        name_len: usize,
        value: *const u8,
        value_len: usize,
    );
    pub type BytesFn = extern "C" fn(res: *mut ResponseV2, data: *const u8, len: usize);
    pub type LogFn = extern "C" fn(res: *mut ResponseV2, stream: i32, line: *const u8, len: usize);

    #[repr(C)]
    pub struct ResponseV2 {
        pub state: *mut c_void,
        pub set_status: StatusFn,
        pub add_header: HeaderFn,
        pub write_body: BytesFn,
        pub log: LogFn,
        pub fail: BytesFn,
        pub unavailable: BytesFn,
    }

    pub type ServeFn = unsafe extern "C" fn(req: *const RequestV2, res: *mut ResponseV2);

    pub type VersionFn = unsafe extern "C" fn() -> u32;
    pub type HandleFn = unsafe extern "C" fn(req: *const Request, res: *mut Response);
    pub type InitFn = unsafe extern "C" fn() -> i32;
}

/// One execution's input.
pub struct Request {
    pub env: HashMap<String, String>,
    pub payload: String,
    pub headers: HashMap<String, String>,
    pub timeout_ms: u64,
    pub deadline_ms: u64,
}

impl Request {
    /// # Safety
    /// `raw` must be a valid request as the shim passes it.
    pub unsafe fn from_abi(raw: &abi::Request) -> Request {
        let text = |b: abi::Bytes| String::from_utf8_lossy(b.as_slice()).into_owned();
        let map = |pairs: *const abi::Pair, n: usize| -> HashMap<String, String> {
            if pairs.is_null() {
                return HashMap::new();
            }
            std::slice::from_raw_parts(pairs, n)
                .iter()
                .map(|p| (text(p.name), text(p.value)))
                .collect()
        };
        Request {
            env: map(raw.env, raw.env_len),
            payload: text(raw.payload),
            headers: map(raw.headers, raw.headers_len),
            timeout_ms: raw.timeout_ms,
            deadline_ms: raw.deadline_ms,
        }
    }
}

/// Where the reply goes.
pub struct Response {
    raw: *mut abi::Response,
}

impl Response {
    /// # Safety
    /// `raw` must be the response the shim passed to this call.
    pub unsafe fn from_abi(raw: *mut abi::Response) -> Response {
        Response { raw }
    }

    /// Replies with text (`text/plain; charset=utf-8`).
    pub fn send(&mut self, text: impl AsRef<[u8]>, status: u16) {
        let t = text.as_ref();
        // SAFETY: `raw` is the live response of this call (see `from_abi`).
        unsafe { ((*self.raw).send)(self.raw, t.as_ptr(), t.len(), status) }
    }

    /// Replies with JSON text you produced (`application/json`).
    pub fn json(&mut self, json: impl AsRef<str>, status: u16) {
        let j = json.as_ref();
        // SAFETY: as in `send`.
        unsafe { ((*self.raw).json)(self.raw, j.as_ptr(), j.len(), status) }
    }

    /// Fails the execution: a 500 with this message.
    pub fn fail(&mut self, message: impl AsRef<str>) {
        let m = message.as_ref();
        // SAFETY: as in `send`.
        unsafe { ((*self.raw).fail)(self.raw, m.as_ptr(), m.len()) }
    }
}

/// Turns a panic payload into its message.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the function panicked".to_string())
}

/// Exports `fn(&Request, &mut Response)` as the library's `rshim_handle`, with `rshim_abi_version`.
#[macro_export]
macro_rules! export {
    ($handler:path) => {
        #[no_mangle]
        pub extern "C" fn rshim_abi_version() -> u32 {
            $crate::abi::VERSION
        }

        /// # Safety
        /// Called by the shim with a valid request and response.
        #[no_mangle]
        pub unsafe extern "C" fn rshim_handle(
            req: *const $crate::abi::Request,
            res: *mut $crate::abi::Response,
        ) {
            let request = $crate::Request::from_abi(&*req);
            let mut response = $crate::Response::from_abi(res);
            // A panic must not unwind into the shim: it becomes the execution's error.
            let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
                $handler(&request, &mut response)
            }));
            if let Err(payload) = outcome {
                let mut response = $crate::Response::from_abi(res);
                response.fail(format!("panic: {}", $crate::panic_message(&*payload)));
            }
        }
    };
}
