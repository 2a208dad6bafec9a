//! runtime-shim: the web server inside every function-runtime container.
//!
//! # Layout
//!
//! - [`cli`] — the command line (`serve`, `dev`, `--help`, `--version`).
//! - [`config`] — configuration read once from an [`config::Env`] into typed values; bad values name their
//!   variable.
//! - [`adapters`] — which program is an adapter: bundled ones by name, anything else by path.
//! - [`server`] — the accept loop, the connection cap and graceful shutdown, on a listener the caller bound.
//! - [`handler`] — the request pipeline: health → auth → method → body → decode → deadline → invoke → encode;
//!   the steps every contract shares.
//! - [`contract`] — the executor contracts (`v1`, `v5`, `lambda`): each one's decode and encode, feeding one
//!   pool.
//! - [`auth`] — the constant-time key check.
//! - [`error`] — the one error enum, and the one place it becomes an HTTP response.
//! - [`protocol`] — framing of the adapter protocol (`docs/adapter-protocol.md`).
//! - [`pool`] — the supervised adapter processes, the queue, deadlines and respawn.
//! - [`process`] — the only code that spawns, signals and reaps processes, and contains what adapters start
//!   (sessions, a uid or cgroup per worker, the freeze-and-kill sweep).
//! - [`shutdown`] — SIGTERM / SIGINT.
//! - [`telemetry`] — logging.
//! - [`memory`] — malloc's thresholds, and trimming once quiet after large bodies.
//! - [`native`] — the native-library path: the worker role that loads `SHIM_NATIVE_LIB`.
//! - [`dev`] — `runtime-shim dev <folder>`.
//! - [`probe`] — `runtime-shim probe`: the health check for images without curl.
//! - [`catalogue`] — `runtime-shim runtimes`: the runtime images, from `runtimes/catalogue.json`.
//! - [`archive`] — `runtime-shim code extract|archive`: the function folder as a tar archive, for the v5
//!   images' build and start steps.
//! - [`launch`] — `runtime-shim launch`: the runtime images' entrypoint (extract the function, exec `serve`).
//! - [`conformance`] — `runtime-shim conformance <adapter>`: the standard cases against any adapter.

pub mod adapters;
pub mod archive;
pub mod auth;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod contract;
pub mod dev;
pub mod error;
pub mod handler;
pub mod launch;
pub mod memory;
pub mod native;
pub mod pool;
pub mod probe;
pub mod process;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod telemetry;

use std::sync::Arc;

use config::Config;
use handler::AppState;
use pool::{Pool, PoolConfig};
use tokio::net::TcpListener;

/// Everything `serve` and `dev` do once configured: start the reaper and the pool, then serve `listener`
/// until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = start(config).await?;
    if let Some(folder) = state.config.watch.clone() {
        tokio::spawn(dev::watch(folder, state.clone()));
    }
    let served = server::serve(listener, state, shutdown).await;
    // Every adapter is gone: whatever escaped them all goes too.
    let _ = tokio::task::spawn_blocking(process::sweep_orphans).await;
    served
}

/// The lambda contract: the same reaper, pool and execution path, fed by the Runtime API's poll loop instead
/// of a listener. `Err` (exit 1) when the adapter could not start (after reporting an init error) or the
/// Runtime API broke.
pub async fn run_lambda(config: Config, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let state = start(config).await?;
    let served = contract::lambda::run(state, shutdown)
        .await
        .map_err(std::io::Error::other);
    let _ = tokio::task::spawn_blocking(process::sweep_orphans).await;
    served
}

/// The reaper, a jail per worker slot (its cgroup made by the slot, before its first adapter), then the pool
/// as the configuration says: what every contract runs on.
async fn start(config: Config) -> std::io::Result<Arc<AppState>> {
    process::start_reaper()?;
    tokio::spawn(memory::trim_when_quiet());
    // A jail per worker slot: a uid of its own (SHIM_UID_BASE), a cgroup of its own (SHIM_CGROUP).
    let (uids, cgroups, workers) = (config.worker_uids, config.cgroups, config.workers);
    let make = move || {
        (0..workers)
            .map(|i| process::Jail::new(i, uids, cgroups).map(Arc::new))
            .collect::<std::io::Result<Vec<_>>>()
    };
    // Claiming uids blocks (lock files, a kill per uid); without them there is nothing to wait for.
    let jails = match uids {
        Some(_) => tokio::task::spawn_blocking(make)
            .await
            .map_err(std::io::Error::other)?,
        None => make(),
    }
    .map_err(|e| std::io::Error::new(e.kind(), format!("SHIM_UID_BASE: {e}")))?;
    let spec = process::Spec {
        program: config.launch.program.clone(),
        args: config.launch.args.clone(),
        remove_env: std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| config::is_scrubbed(k))
            .collect(),
        add_env: config.adapter_env(),
        cwd: config.adapter_cwd(),
        user: config.user,
        limits: config.limits.clone(),
    };
    let pool = Pool::start(PoolConfig {
        spec,
        name: config.launch.name.clone(),
        workers: config.workers,
        queue: config.queue,
        startup_timeout: config.startup_timeout,
        kill_grace: config.kill_grace,
        max_reply: config.max_reply,
        contract: config.contract.as_str(),
        version: config.contract.adapter_version(),
        jails,
    });
    Ok(Arc::new(AppState::new(config, pool)))
}
