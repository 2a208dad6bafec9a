//! The v5 image test's rust function (tests/images/v5.sh): proves the install command ran in the build folder
//! before the compile (v5dep.rs, which it writes, is a module of this crate) and the v5 context API.
use runtime::{json, Context, RuntimeOutput};
use std::error::Error;

mod v5dep; // v5dep.rs, made by the install command

pub fn main(context: &mut Context) -> Result<RuntimeOutput, Box<dyn Error>> {
    context.log(("rust function log", json!({"n": 1})));
    context.error("rust function error line");
    println!("rust native print");
    let req = &context.req;
    let reply = json!({
        "runtime": "rust",
        "method": &req.method,
        "path": &req.path,
        "query": &req.query,
        "body": req.body()?,
        "built": v5dep::BUILT,
        "dependency": v5dep::DEPENDENCY,
    });
    Ok(context.res.json(reply).status(201).header("x-v5-test", "yes"))
}
