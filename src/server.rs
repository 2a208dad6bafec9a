//! The accept loop: HTTP/1.1 connections on a listener the caller bound, until `shutdown` completes; then drain
//! (go on serving for `SHIM_DRAIN_DELAY` with `/_/ready` at 503, so a load balancer takes the replica out before
//! connections are refused), stop accepting, let in-flight requests finish within the grace period, and stop
//! the workers.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::handler::{self, AppState};

pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    // Set when the signal came: the end of the drain delay.
    let mut drain_end: Option<tokio::time::Instant> = None;
    loop {
        let drained = async {
            match drain_end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of descriptors and the like: pause instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(handler::handle(state, req).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown, if drain_end.is_none() => {
                let delay = state.config.drain_delay;
                if delay.is_zero() {
                    break;
                }
                state.start_draining();
                tracing::info!(
                    "draining: /_/ready answers 503 for {} s while executions are still served",
                    crate::error::format_seconds(delay)
                );
                drain_end = Some(tokio::time::Instant::now() + delay);
            }
            _ = drained => break,
        }
    }
    drop(listener);
    let grace = state.config.shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running after the shutdown grace of {} s are abandoned",
            crate::error::format_seconds(grace)
        );
    }
    state.pool.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
