//! Test-only entry file: one runtime stands for the three entry files the v5 kit starts the shim with. It
//! serves main.rs, emulates the load failures of noexport.rs and throwsatload.rs as an interpreted adapter
//! reports them (503, the reason in the errors log), and answers any other name as a file that does not
//! exist. A real runtime is built from one entry file and serves it.
use runtime::{Context, RuntimeOutput, Unavailable};
use std::error::Error;

#[allow(clippy::module_inception)]
mod main;
mod noexport;
mod throwsatload;

static LOADED: std::sync::Once = std::sync::Once::new();

pub fn main(context: &mut Context) -> Result<Option<RuntimeOutput>, Box<dyn Error>> {
    let entry = runtime::entrypoint();
    match entry {
        "main.rs" => main::main(context),
        "noexport.rs" => {
            LOADED.call_once(noexport::load);
            Err(Unavailable(
                "Function signature invalid. Did you forget to export a 'main' function?".into(),
            )
            .into())
        }
        "throwsatload.rs" => match throwsatload::load() {
            Err(e) => Err(Unavailable(e.to_string()).into()),
            Ok(()) => Err(Unavailable(
                "Function signature invalid. Did you forget to export a 'main' function?".into(),
            )
            .into()),
        },
        _ => Err(Unavailable(format!(
            "Failed to load entrypoint, file {entry} does not exist."
        ))
        .into()),
    }
}
