//! The accept loop: HTTP/1.1 connections on a listener the caller bound, until `shutdown` completes; then drain
//! (go on serving for `SHIM_DRAIN_DELAY` with `/_/ready` at 503, so a load balancer takes the replica out before
//! connections are refused), stop accepting, let in-flight requests finish within the grace period, and stop
//! the workers.
//!
//! Connections are capped (`SHIM_MAX_CONNECTIONS`, by default fitted to the open-file limit), so the shim
//! never runs out of descriptors for its adapters or a new connection. At the cap, the connection that has
//! been idle longest (between requests, or never sent one) is closed to make room, the way a busy nginx
//! reuses its idle keep-alive connections; when none is idle the new connection waits for one to end (each
//! idle or slow connection ends within `SHIM_READ_TIMEOUT`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

use crate::handler::{self, AppState};

/// Descriptors kept free of connections, for adapters' pipes, log files and the like: this many, plus
/// [`RESERVE_PER_WORKER`] per worker.
pub const RESERVED_FILES: u64 = 64;
pub const RESERVE_PER_WORKER: u64 = 8;
/// The most connections by default, whatever the open-file limit.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 16_384;

/// `SHIM_MAX_CONNECTIONS` when unset: [`DEFAULT_MAX_CONNECTIONS`], or fewer to leave [`RESERVED_FILES`] plus
/// [`RESERVE_PER_WORKER`] per worker of the open-file limit; at least 16.
pub fn default_max_connections(file_limit: u64, workers: usize) -> usize {
    let reserve = RESERVED_FILES + RESERVE_PER_WORKER * workers as u64;
    file_limit
        .saturating_sub(reserve)
        .clamp(16, DEFAULT_MAX_CONNECTIONS) as usize
}

pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.read_timeout)
        .keep_alive(true);
    let max = state.config.max_connections.unwrap_or_else(|| {
        default_max_connections(crate::process::file_limit(), state.config.workers)
    });
    tracing::debug!(max_connections = max, "connection cap");
    let permits = Arc::new(Semaphore::new(max));
    let idle = Arc::new(Idle::default());
    let (stop, stopped) = watch::channel(false);
    // The signal, then the drain delay, during which connections are still accepted and served.
    let stopping = async {
        shutdown.await;
        let delay = state.config.drain_delay;
        if !delay.is_zero() {
            state.start_draining();
            tracing::info!(
                "draining: /_/ready answers 503 for {} s while executions are still served",
                crate::error::format_seconds(delay)
            );
            tokio::time::sleep(delay).await;
        }
    };
    tokio::pin!(stopping);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors and the like (the cap should prevent it): pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopping => break,
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !idle.evict_oldest() {
                    tracing::debug!(
                        "at the connection cap with none idle: the new connection waits"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    _ = &mut stopping => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = idle.register();
        let service = {
            // What each request needs, behind one Arc: one reference count per request.
            let ctx = Arc::new((state.clone(), idle.clone(), conn.clone()));
            service_fn(move |req| {
                let ctx = ctx.clone();
                async move {
                    let (state, idle, conn) = &*ctx;
                    let busy = idle.busy(conn);
                    let response = handler::handle(state, req).await;
                    drop(busy);
                    Ok::<_, std::convert::Infallible>(response)
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let (idle, mut stopped) = (idle.clone(), stopped.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = conn.evict.notified() => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
                _ = async { stopped.wait_for(|s| *s).await.is_ok() } => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            idle.forget(&conn);
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let grace = state.config.shutdown_grace;
    // Every connection holds a permit until it ends.
    if tokio::time::timeout(grace, permits.acquire_many(max as u32))
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

/// One connection, as the cap sees it. A request marks it busy and, when done, idle since a tick of the
/// shared clock: two atomic operations per request, no lock. Only at the cap (rare) are the connections
/// scanned for the one idle longest.
struct Conn {
    id: u64,
    /// Asks the connection to close once its current exchange (if any) is done.
    evict: Notify,
    /// Requests in flight.
    busy: AtomicUsize,
    /// The clock's tick when it last became idle (or was opened).
    idle_since: AtomicU64,
    /// It was asked to close already.
    asked: AtomicBool,
}

/// The open connections.
#[derive(Default)]
struct Idle {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    clock: AtomicU64,
}

/// Marks a connection busy while a request of it runs.
struct Busy<'a> {
    idle: &'a Idle,
    conn: &'a Conn,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let tick = self.idle.clock.fetch_add(1, Ordering::Relaxed);
        self.conn.idle_since.store(tick, Ordering::Relaxed);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Idle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection: idle until its first request.
    fn register(&self) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            evict: Notify::new(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
            asked: AtomicBool::new(false),
        });
        self.lock().insert(conn.id, conn.clone());
        conn
    }

    fn busy<'a>(&'a self, conn: &'a Conn) -> Busy<'a> {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy { idle: self, conn }
    }

    fn forget(&self, conn: &Conn) {
        self.lock().remove(&conn.id);
    }

    /// Asks the connection idle longest to close; false when none is idle (or each idle one was asked).
    fn evict_oldest(&self) -> bool {
        let conns = self.lock();
        let oldest = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0 && !c.asked.load(Ordering::Acquire))
            .min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        let Some(conn) = oldest else {
            return false;
        };
        conn.asked.store(true, Ordering::Release);
        conn.evict.notify_one();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_fits_the_file_limit() {
        assert_eq!(default_max_connections(1024, 2), 1024 - 64 - 16);
        assert_eq!(default_max_connections(1 << 20, 2), 16_384);
        assert_eq!(default_max_connections(50, 4), 16);
    }

    #[test]
    fn the_oldest_idle_connection_is_evicted_and_busy_ones_never() {
        let idle = Arc::new(Idle::default());
        let a = idle.register();
        let b = idle.register();
        let busy_a = idle.busy(&a);
        assert!(idle.evict_oldest(), "b is idle");
        assert!(!idle.evict_oldest(), "a is busy, b already asked");
        drop(busy_a);
        assert!(idle.evict_oldest(), "a is idle again");
        idle.forget(&a);
        idle.forget(&b);
        assert!(!idle.evict_oldest());
    }
}
