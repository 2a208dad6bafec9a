use std::io::Write;
use std::os::unix::io::FromRawFd;
use std::process::Command;

use runtime::{Request, Response};

pub fn main(req: Request, res: &mut Response) {
    let p = &req.payload;
    println!("noisy-stdout {p}");
    eprintln!("noisy-stderr {p}");
    // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
    Command::new("sh")
        .args([
            "-c",
            "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2",
            "sh",
            p,
        ])
        .status()
        .expect("sh runs");
    // SAFETY: fd 1 stays open; ManuallyDrop keeps this File from closing it.
    let mut fd1 = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    fd1.write_all(format!("noisy-fd1 {p}\n").as_bytes())
        .expect("fd 1 writes");
    res.send(format!("quiet {p}"), 200);
}
