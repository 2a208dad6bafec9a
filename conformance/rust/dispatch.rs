//! Test-only entry file: one runtime serves every case function, picked by the base name of the request's
//! file (seed.rs -> seed::main). The conformance kit names a file per case; a real runtime has one `main`.
use runtime::{Request, Response};

mod counter;
mod crash;
mod echo;
mod jsonreply;
mod noisy;
#[allow(dead_code)]
mod nomain;
mod noreply;
mod seed;
mod send;
mod slow;
mod throws;

pub fn main(req: Request, res: &mut Response) -> Result<(), std::io::Error> {
    let base = req.file.rsplit('/').next().unwrap_or_default();
    match base.split('.').next().unwrap_or_default() {
        "seed" => seed::main(req, res),
        "send" => send::main(req, res),
        "jsonreply" => return jsonreply::main(req, res),
        "echo" => echo::main(req, res),
        "throws" => throws::main(req, res),
        "noisy" => noisy::main(req, res),
        "slow" => slow::main(req, res),
        "noreply" => noreply::main(req, res),
        "crash" => crash::main(req, res),
        "counter" => counter::main(req, res),
        _ => res.not_found(format!(
            "{}/{}: this runtime has no function for that file",
            req.path, req.file
        )),
    }
    Ok(())
}
