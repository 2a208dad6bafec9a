//! The seed test function as a native library, in Rust:
//!   cargo build --release   →   target/release/libseed_native.so
//!   SHIM_NATIVE_LIB=$PWD/target/release/libseed_native.so APPWRITE_INTERNAL_RUNTIME_KEY=secret runtime-shim

use runtime_shim_native::{export, Request, Response};

fn handle(req: &Request, res: &mut Response) {
    if req.payload == "panic" {
        panic!("asked to panic");
    }
    let env1 = req.env.get("ENV1").map_or("null".to_string(), |v| quote(v));
    res.json(
        format!(r#"{{"normal":"Hello World!","env1":{env1},"payload":{}}}"#, quote(&req.payload)),
        200,
    );
}

/// A JSON string literal (std only: no serde needed for a reply this small).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

export!(handle);
