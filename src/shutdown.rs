//! Shutdown signals: the first SIGTERM or SIGINT starts a graceful stop; a second one ends the process at once.

use tokio::signal::unix::{SignalKind, signal};

/// Completes on the first SIGTERM or SIGINT. Handlers are installed when this is called, which matters as
/// PID 1: without a handler the kernel ignores SIGTERM for init.
pub fn on_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // `runtime-shim launch` execs the server with both blocked, so that one sent before now is not lost: with
    // the handlers in place, a pending one is delivered here.
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
        Some(&crate::launch::stop_signals()),
        None,
    )?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name}: shutting down gracefully (again to stop at once)");
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::warn!("second signal: stopping now");
            std::process::exit(130);
        });
    })
}
