//! The worker pool: `workers` supervised adapter processes, lent to the executions that need them.
//!
//! An execution runs in its caller's own task: it checks out an idle adapter (or waits in line for one),
//! writes the request, reads the reply, and checks the adapter back in — no hop through another task, one
//! timer (its deadline) for the whole wait. Each slot has a supervisor task that owns its adapter's life: it
//! starts it (handshake within the startup timeout), hears when it exits, writes to stdout while idle, must be
//! reloaded or the pool stops, and replaces it whenever it times out, crashes, breaks the protocol, or its
//! caller goes away (an execution dropped mid-exchange hands its adapter back to be replaced). Admission is
//! one counter: at most `workers + queue` executions are in the pool (running or waiting); past that `run`
//! answers `Busy` at once. A request that passes its deadline gets its error at the deadline and the
//! adapter's whole process group is killed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::error::ShimError;
use crate::process::{self, ExitWatch};
use crate::protocol::{
    self, BodyType, Encoding, Frame, FrameReader, LineSplitter, LogStream, ProtocolError, Work,
};

/// What a function replied.
#[derive(Debug)]
pub enum Reply {
    /// Protocol version 1: the body and how the function sent it.
    V1 {
        status: u16,
        body_type: BodyType,
        body: Vec<u8>,
    },
    /// Protocol version 2: status, the function's headers as it gave them, and the raw body.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

/// The log lines of one execution of the HTTP request model, as the function produced them.
#[derive(Debug, Default)]
pub struct ExecLogs {
    /// `context.log` / `context.error` lines, in order.
    pub lines: Vec<(LogStream, Vec<u8>)>,
    /// What the code printed natively (stdout, stderr, children), line by line.
    pub native: Vec<Vec<u8>>,
    /// Bytes of lines not kept, past the limit of what one execution may log.
    pub dropped: usize,
    kept: usize,
}

impl ExecLogs {
    fn push(&mut self, stream: Option<LogStream>, line: &[u8], limit: usize) {
        if self.kept + line.len() > limit {
            self.dropped += line.len();
            return;
        }
        self.kept += line.len();
        match stream {
            Some(stream) => self.lines.push((stream, line.to_vec())),
            None => self.native.push(line.to_vec()),
        }
    }
}

/// A job's result, with the pid of the adapter that ran it (for the request log) and, for the HTTP request
/// model when its logs are collected, what it logged.
#[derive(Debug)]
pub struct Done {
    pub result: Result<Reply, ShimError>,
    pub pid: Option<i32>,
    pub logs: Option<ExecLogs>,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub spec: process::Spec,
    pub name: String,
    pub workers: usize,
    pub queue: usize,
    pub startup_timeout: Duration,
    pub kill_grace: Duration,
    pub max_reply: usize,
    /// The executor contract, for messages.
    pub contract: &'static str,
    /// The protocol version adapters must announce (1 for the v1 contract, 2 for the HTTP request model).
    pub version: u32,
    /// Where each slot's processes are held (one per worker; a slot without one has the session and sweep).
    pub jails: Vec<Arc<process::Jail>>,
}

struct Shared {
    config: PoolConfig,
    ready: AtomicUsize,
    admitted: AtomicUsize,
    /// How the first adapter start of any slot went (for [`Pool::first_start`]).
    first_start: watch::Sender<FirstStart>,
    /// Bumped by [`Pool::reload`]: every adapter started before it is replaced once it is idle.
    generation: watch::Sender<u64>,
    /// Set when the pool stops.
    stop: watch::Sender<bool>,
    state: Mutex<State>,
}

/// The pool's adapters between executions, and the executions waiting for one.
struct State {
    /// Idle adapters, the one used last at the end (taken first: its caches are warm).
    idle: Vec<Worker>,
    /// Executions waiting for an adapter, oldest first: each gets one, or why none will come.
    waiters: VecDeque<oneshot::Sender<Result<Worker, String>>>,
    /// Per slot: its supervisor's waker, woken when its idle adapter writes to stdout.
    watchers: Vec<Option<Waker>>,
    /// Why the last adapter start failed, until one succeeds.
    start_error: Option<String>,
    /// The pool is stopping: it lends no more adapters.
    closed: bool,
}

/// The outcome of the pool's first adapter start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum FirstStart {
    #[default]
    Pending,
    Ready,
    Failed(String),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn started(&self, outcome: FirstStart) {
        self.first_start.send_if_modified(|first| {
            let pending = *first == FirstStart::Pending;
            if pending {
                *first = outcome;
            }
            pending
        });
    }

    /// An idle adapter, or a place in line for one; `Failed` while no adapter could start.
    fn check_out(&self) -> Result<CheckOut<'_>, ShimError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ShimError::NotReady);
        }
        if let Some(worker) = state.idle.pop() {
            return Ok(CheckOut::Now(worker));
        }
        if self.ready.load(Ordering::Acquire) == 0
            && let Some(why) = &state.start_error
        {
            return Ok(CheckOut::Failed(why.clone()));
        }
        let (handout, rx) = oneshot::channel();
        state.waiters.push_back(handout);
        Ok(CheckOut::Wait(Waiting {
            rx: Some(rx),
            shared: self,
        }))
    }

    /// An adapter is free: it goes to the oldest execution still waiting, or joins the idle ones. One of a
    /// stopping pool, or started before the function's files changed, goes back to its supervisor instead.
    fn check_in(&self, mut worker: Worker) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            return worker.retire(Verdict::Stop);
        }
        if worker.generation != *self.generation.borrow() {
            drop(state);
            return worker.retire(Verdict::Recycle("the function's files changed"));
        }
        while let Some(waiter) = state.waiters.pop_front() {
            match waiter.send(Ok(worker)) {
                Ok(()) => return,
                // That execution stopped waiting (it timed out, or its caller left).
                Err(Ok(back)) => worker = back,
                Err(Err(_)) => unreachable!("an adapter was sent"),
            }
        }
        // From now on, output on its stdout wakes its supervisor (and a reply read later wakes the execution
        // that reads it): no wakeup at all while it is quiet.
        if let Some(waker) = &state.watchers[worker.slot]
            && worker
                .frames
                .poll_output(&mut Context::from_waker(waker))
                .is_ready()
        {
            waker.wake_by_ref();
        }
        state.idle.push(worker);
    }

    /// Takes slot `index`'s adapter if it is idle.
    fn take_idle(&self, index: usize) -> Option<Worker> {
        let mut state = self.lock();
        let at = state.idle.iter().position(|w| w.slot == index)?;
        Some(state.idle.remove(at))
    }

    /// Ready when slot `index`'s idle adapter wrote to its stdout (or closed it): the adapter, taken, and why
    /// it must go.
    fn poll_chatter(&self, index: usize, cx: &mut Context<'_>) -> Poll<(Worker, String)> {
        let mut state = self.lock();
        match &mut state.watchers[index] {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        let Some(at) = state.idle.iter().position(|w| w.slot == index) else {
            return Poll::Pending;
        };
        let why = match state.idle[at].frames.poll_output(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(true)) => "it wrote to stdout while it had no request".into(),
            Poll::Ready(Ok(false)) => "it closed its stdout while idle".into(),
            Poll::Ready(Err(e)) => format!("reading its stdout failed: {e}"),
        };
        Poll::Ready((state.idle.remove(at), why))
    }

    /// No adapter could start and none is ready: every waiting execution learns why instead of waiting out
    /// its timeout.
    fn start_failed(&self, why: &str) {
        let mut state = self.lock();
        state.start_error = Some(why.to_string());
        if self.ready.load(Ordering::Acquire) == 0 {
            for waiter in state.waiters.drain(..) {
                let _ = waiter.send(Err(why.to_string()));
            }
        }
    }
}

enum CheckOut<'a> {
    Now(Worker),
    Wait(Waiting<'a>),
    Failed(String),
}

/// A place in line for an adapter. Dropped (its execution timed out or its caller left) with an adapter
/// already handed to it, it checks that adapter back in, so none is lost.
struct Waiting<'a> {
    rx: Option<oneshot::Receiver<Result<Worker, String>>>,
    shared: &'a Shared,
}

impl Waiting<'_> {
    /// The adapter; `Err(Some(why))` when none could start, `Err(None)` when the pool stopped.
    async fn wait(&mut self) -> Result<Worker, Option<String>> {
        let rx = self.rx.as_mut().expect("waited for once");
        let got = rx.await;
        self.rx = None;
        match got {
            Ok(Ok(worker)) => Ok(worker),
            Ok(Err(why)) => Err(Some(why)),
            Err(_) => Err(None),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(worker)) = rx.try_recv() {
                self.shared.check_in(worker);
            }
        }
    }
}

/// Holds one place in the pool until the execution is finished with (or dropped).
struct Admission<'a>(&'a Shared);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An adapter lent to one execution. Dropped before [`Lease::give_back`] (its caller went away mid-exchange,
/// so the stream may be mid-frame), the adapter goes back to its supervisor to be replaced.
struct Lease<'a> {
    worker: Option<Worker>,
    shared: &'a Shared,
}

impl Lease<'_> {
    fn worker(&mut self) -> &mut Worker {
        self.worker.as_mut().expect("lent until given back")
    }

    /// `None`: the adapter can take the next execution; otherwise why it must go.
    fn give_back(mut self, verdict: Option<Verdict>) {
        let mut worker = self.worker.take().expect("lent until given back");
        match verdict {
            None => {
                worker.served = true;
                self.shared.check_in(worker);
            }
            Some(verdict) => worker.retire(verdict),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.retire(Verdict::Recycle("its caller went away"));
        }
    }
}

pub struct Pool {
    shared: Arc<Shared>,
    slots: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts every slot; adapters begin starting now, not on the first request.
    pub fn start(config: PoolConfig) -> Pool {
        let workers = config.workers;
        let shared = Arc::new(Shared {
            config,
            ready: AtomicUsize::new(0),
            admitted: AtomicUsize::new(0),
            first_start: watch::Sender::new(FirstStart::Pending),
            generation: watch::Sender::new(0),
            stop: watch::Sender::new(false),
            state: Mutex::new(State {
                idle: Vec::with_capacity(workers),
                waiters: VecDeque::new(),
                watchers: vec![None; workers],
                start_error: None,
                closed: false,
            }),
        });
        let slots = (0..workers)
            .map(|index| tokio::spawn(supervise(index, shared.clone())))
            .collect();
        Pool {
            shared,
            slots: Mutex::new(slots),
        }
    }

    /// Adapters that have finished their handshake and are alive.
    pub fn ready_workers(&self) -> usize {
        self.shared.ready.load(Ordering::Acquire)
    }

    pub fn workers(&self) -> usize {
        self.shared.config.workers
    }

    /// Replaces every adapter with a fresh one, each as soon as it has no request (never during one): the
    /// function's files changed (`dev --watch`).
    pub fn reload(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Waits for the first adapter start of the pool to finish (each start is bounded by the startup timeout):
    /// `Err` says why it failed. For a host that must report an init error before taking work (AWS Lambda).
    pub async fn first_start(&self) -> Result<(), String> {
        let mut first = self.shared.first_start.subscribe();
        let outcome = first
            .wait_for(|f| *f != FirstStart::Pending)
            .await
            .map(|f| f.clone())
            .map_err(|_| "the pool stopped".to_string())?;
        match outcome {
            FirstStart::Failed(why) => Err(why),
            _ => Ok(()),
        }
    }

    /// Runs an execution on an adapter, in the caller's task, by `deadline` (which counts from before it
    /// waited for one). `Busy` when the pool already holds `workers + queue` executions; `TimedOut` when the
    /// deadline passed before an adapter was free. Dropping the future abandons the execution: its adapter
    /// is replaced.
    pub async fn run(
        &self,
        id: &str,
        work: Work,
        deadline: Instant,
        deadline_ms: u64,
    ) -> Result<Done, ShimError> {
        let shared = &*self.shared;
        let capacity = shared.config.workers + shared.config.queue;
        if shared.admitted.fetch_add(1, Ordering::AcqRel) >= capacity {
            shared.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ShimError::Busy);
        }
        let _admission = Admission(shared);
        let timeout = work.timeout();
        let failed = |why: String| Done {
            result: Err(ShimError::Adapter(format!(
                "the adapter failed to start: {why}"
            ))),
            pid: None,
            logs: None,
        };
        // The one timer of the execution: first for its wait in line, then for its exchange.
        let deadline_timer = tokio::time::sleep_until(deadline);
        tokio::pin!(deadline_timer);
        let worker = loop {
            let worker = match shared.check_out()? {
                CheckOut::Now(worker) => worker,
                CheckOut::Failed(why) => return Ok(failed(why)),
                CheckOut::Wait(mut waiting) => tokio::select! {
                    biased;
                    got = waiting.wait() => match got {
                        Ok(worker) => worker,
                        Err(Some(why)) => return Ok(failed(why)),
                        Err(None) => return Err(ShimError::ShuttingDown),
                    },
                    _ = &mut deadline_timer => return Err(ShimError::TimedOut(timeout)),
                },
            };
            // Its supervisor may not have heard yet that the function changed.
            if worker.generation != *shared.generation.borrow() {
                worker.retire(Verdict::Recycle("the function's files changed"));
                continue;
            }
            break worker;
        };
        let mut lease = Lease {
            worker: Some(worker),
            shared,
        };
        let max_log = shared.config.max_reply;
        let (done, verdict) = execute(
            lease.worker(),
            id,
            work,
            deadline,
            deadline_ms,
            deadline_timer,
            max_log,
        )
        .await;
        lease.give_back(verdict);
        Ok(done)
    }

    /// Stops lending adapters, tells the waiting executions, and ends every adapter (stdin closed, then TERM,
    /// grace, KILL to its group); one still running an execution ends when that execution sees the stop.
    pub async fn shutdown(&self) {
        {
            let mut state = self.shared.lock();
            state.closed = true;
            state.waiters.clear();
        }
        let _ = self.shared.stop.send(true);
        let slots = std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        for slot in slots {
            let _ = slot.await;
        }
    }
}

/// Why a slot stopped using its adapter.
enum Verdict {
    /// The pool is stopping.
    Stop,
    /// The adapter is fine but must go: its request timed out or its caller left. Replace it at once.
    Recycle(&'static str),
    /// The adapter failed (crash, EOF, protocol); counts towards backoff.
    Broken(String),
}

/// A live adapter that finished its handshake.
struct Worker {
    /// Its slot (and supervisor).
    slot: usize,
    pid: i32,
    stdin: pipe::Sender,
    frames: FrameReader<pipe::Receiver>,
    exit: ExitWatch,
    encoding: Encoding,
    /// The function's generation it loaded.
    generation: u64,
    /// It completed an execution (its supervisor's backoff starts over).
    served: bool,
    /// The pool's stop, for an execution running when it comes.
    stop: watch::Receiver<bool>,
    /// Its stderr, and whom its lines belong to.
    stderr: Arc<Stderr>,
    /// Its way back to its supervisor.
    home: mpsc::UnboundedSender<(Worker, Verdict)>,
}

impl Worker {
    /// Back to its supervisor, which ends it.
    fn retire(self, verdict: Verdict) {
        let home = self.home.clone();
        // Only when the supervisor is gone (the pool stopped), and then the adapter dies with the shim.
        let _ = home.send((self, verdict));
    }
}

/// The request id of lines printed between executions: `-`, made once (a clone is a reference count, not an
/// allocation on every execution).
fn no_request() -> Arc<str> {
    static NONE: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("-"));
    NONE.clone()
}

/// Whom an adapter's stderr lines belong to right now.
struct Current {
    /// The request id they are logged under.
    id: Arc<str>,
    /// While an execution's logs are collected: its native lines, and the limit of what it may log.
    native: Option<(ExecLogs, usize)>,
}

/// One slot: starts its adapter, lends it to the pool, takes it back when it must go, and starts another,
/// with backoff on repeated failures.
async fn supervise(index: usize, shared: Arc<Shared>) {
    let config = &shared.config;
    let jail = config
        .jails
        .get(index)
        .cloned()
        .unwrap_or_else(process::Jail::none);
    // The slot's cgroup (a few ms), while the shim already answers its health paths.
    let prepared = jail.clone();
    let _ = tokio::task::spawn_blocking(move || prepared.prepare()).await;
    let jail = &jail;
    let (home_tx, mut home) = mpsc::unbounded_channel();
    let mut stop = shared.stop.subscribe();
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        // The adapter loads the function as it is now: only a later change replaces it.
        let mut reload = shared.generation.subscribe();
        let generation = *reload.borrow_and_update();
        let start_error = match start(config, jail, index, generation, &home_tx, &stop).await {
            Ok(worker) => {
                let mut exit = worker.exit.clone();
                shared.ready.fetch_add(1, Ordering::AcqRel);
                shared.lock().start_error = None;
                shared.started(FirstStart::Ready);
                shared.check_in(worker);
                let (mut worker, verdict) =
                    watch(index, &shared, &mut home, &mut stop, &mut reload, &mut exit).await;
                shared.ready.fetch_sub(1, Ordering::AcqRel);
                if worker.served {
                    failures = 0;
                }
                match &verdict {
                    Verdict::Stop => {
                        // Ask nicely first: an adapter exits on EOF.
                        let Worker {
                            stdin,
                            mut exit,
                            pid,
                            ..
                        } = worker;
                        drop(stdin);
                        if exit.wait_for(config.kill_grace).await.is_none() {
                            debug!(worker = index, pid, "adapter ignored EOF");
                        }
                        process::terminate_group(pid, &mut exit, config.kill_grace, jail).await;
                        info!(worker = index, pid, "adapter stopped");
                        return;
                    }
                    Verdict::Recycle(why) => {
                        info!(
                            worker = index,
                            pid = worker.pid,
                            "replacing the adapter: {why}"
                        );
                    }
                    Verdict::Broken(why) => {
                        failures += 1;
                        warn!(
                            worker = index,
                            pid = worker.pid,
                            "replacing the adapter: {why}"
                        );
                    }
                }
                process::terminate_group(worker.pid, &mut worker.exit, config.kill_grace, jail)
                    .await;
                None
            }
            Err(why) => {
                failures += 1;
                error!(worker = index, adapter = %config.name, "the adapter failed to start: {why}");
                shared.started(FirstStart::Failed(why.clone()));
                shared.start_failed(&why);
                Some(why)
            }
        };
        // Backoff: a first crash is replaced at once; repeated failures wait 0.1 s, doubling to 5 s.
        let delay = match (failures, &start_error) {
            (0, _) | (1, None) => Duration::ZERO,
            (n, None) => backoff(n - 1),
            (n, Some(_)) => backoff(n),
        };
        if !delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopped(&mut stop) => return,
            }
        }
    }
}

/// Waits until slot `index`'s adapter must go, and has it back: handed back by an execution (with why), or
/// taken from the idle ones when it exits, chatters on stdout, must be reloaded or the pool stops. An event
/// while it is lent out is left to the execution that has it (which sees the exit or the stop itself, or
/// gives it back to be replaced).
async fn watch(
    index: usize,
    shared: &Shared,
    home: &mut mpsc::UnboundedReceiver<(Worker, Verdict)>,
    stop: &mut watch::Receiver<bool>,
    reload: &mut watch::Receiver<u64>,
    exit: &mut ExitWatch,
) -> (Worker, Verdict) {
    let (mut stopping, mut exited) = (false, false);
    loop {
        tokio::select! {
            biased;
            Some(back) = home.recv() => return back,
            _ = stopped(stop), if !stopping => {
                stopping = true;
                if let Some(worker) = shared.take_idle(index) {
                    return (worker, Verdict::Stop);
                }
            }
            how = exit.wait(), if !exited => {
                exited = true;
                if let Some(worker) = shared.take_idle(index) {
                    return (worker, Verdict::Broken(match how {
                        Some(how) => format!("it {how} while idle"),
                        None => "it ended while idle".into(),
                    }));
                }
            }
            Ok(()) = reload.changed() => {
                if let Some(worker) = shared.take_idle(index) {
                    return (worker, Verdict::Recycle("the function's files changed"));
                }
            }
            (worker, why) = std::future::poll_fn(|cx| shared.poll_chatter(index, cx)) => {
                return (worker, Verdict::Broken(why));
            }
        }
    }
}

/// Completes once the pool is stopping (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100)
        .saturating_mul(1 << failures.saturating_sub(1).min(6))
        .min(Duration::from_secs(5))
}

/// Starts an adapter and waits for its `READY`.
async fn start(
    config: &PoolConfig,
    jail: &Arc<process::Jail>,
    slot: usize,
    generation: u64,
    home: &mpsc::UnboundedSender<(Worker, Verdict)>,
    stop: &watch::Receiver<bool>,
) -> Result<Worker, String> {
    let child = process::spawn(&config.spec, jail)
        .map_err(|e| format!("cannot run {}: {e}", config.spec.program.to_string_lossy()))?;
    let stderr = Arc::new(Stderr::new(child.stderr, child.pid));
    tokio::spawn(pump_logs(stderr.clone()));
    let mut frames = FrameReader::new(child.stdout, config.max_reply);
    let mut exit = child.exit;
    let handshake = tokio::select! {
        biased;
        frame = tokio::time::timeout(config.startup_timeout, frames.read_frame()) => match frame {
            Err(_) => Err(format!(
                "no READY within the startup timeout of {} s",
                crate::error::format_seconds(config.startup_timeout)
            )),
            Ok(Ok(Frame::Ready { version, encoding, info })) if version == config.version => {
                Ok((encoding, info))
            }
            Ok(Ok(Frame::Ready { version, .. })) if config.version == protocol::VERSION => Err(format!(
                "it speaks protocol version {version}; this shim speaks {}",
                protocol::VERSION
            )),
            Ok(Ok(Frame::Ready { version, .. })) => Err(format!(
                "it speaks protocol version {version}; the {} contract needs version {}",
                config.contract, config.version
            )),
            Ok(Ok(other)) => Err(format!("it sent {} before READY", describe(&other))),
            // Bounded: an adapter may close its stdout and live on.
            Ok(Err(ProtocolError::Eof)) => Err(match exit.wait_for(EXIT_SETTLE).await {
                Some(how) => format!("it {how} before READY"),
                None => "it closed its stdout before READY".to_string(),
            }),
            Ok(Err(e)) => Err(match exit.wait_for(EXIT_SETTLE).await {
                Some(how) => format!("bad handshake: {e}; it {how}"),
                None => format!("bad handshake: {e}"),
            }),
        },
        how = exit.wait() => Err(match how {
            Some(how) => format!("it {how} before READY"),
            None => "it ended before READY".to_string(),
        }),
    };
    match handshake {
        Ok((encoding, info)) => {
            info!(pid = child.pid, encoding = ?encoding, "adapter ready: {info}");
            frames.set_version(config.version);
            Ok(Worker {
                slot,
                pid: child.pid,
                stdin: child.stdin,
                frames,
                exit,
                encoding,
                generation,
                served: false,
                stop: stop.clone(),
                stderr,
                home: home.clone(),
            })
        }
        Err(why) => {
            process::terminate_group(child.pid, &mut exit, Duration::from_millis(100), jail).await;
            Err(why)
        }
    }
}

/// Runs one execution on `worker`, within `deadline_timer`: its result, and `None` when the adapter can take
/// the next one (or why it must go).
async fn execute(
    worker: &mut Worker,
    id: &str,
    work: Work,
    deadline: Instant,
    deadline_ms: u64,
    mut deadline_timer: std::pin::Pin<&mut tokio::time::Sleep>,
    max_log: usize,
) -> (Done, Option<Verdict>) {
    let pid = Some(worker.pid);
    let timeout = work.timeout();
    // Version-2 frames (RES with headers, NONE, ERR 503) are what this execution may end with.
    let version2 = work.version() == protocol::VERSION_2;
    let collect = match &work {
        Work::Http(e) => e.collect_logs,
        Work::V2(_) => true,
        Work::V1(_) => false,
    };
    let mut logs = collect.then(ExecLogs::default);
    if Instant::now() >= deadline {
        let result = Err(ShimError::TimedOut(timeout));
        return (Done { result, pid, logs }, None);
    }
    // What the adapter printed while idle (a leftover of the last execution) is logged under no request, not
    // under this one.
    worker.stderr.take(|current| {
        current.id = Arc::from(id);
        current.native = collect.then(|| (ExecLogs::default(), max_log));
    });
    let request = match &work {
        Work::V1(exec) => protocol::encode_request(worker.encoding, id, exec, deadline_ms),
        Work::V2(exec) => protocol::encode_v2_request(worker.encoding, id, exec, deadline_ms),
        Work::Http(exec) => protocol::encode_http_request(worker.encoding, id, exec, deadline_ms),
    };
    drop(work);
    let outcome = {
        let Worker {
            stdin,
            frames,
            exit,
            stop,
            ..
        } = &mut *worker;
        let exchange = exchange(stdin, frames, &request, id, logs.as_mut(), max_log);
        tokio::pin!(exchange);
        tokio::select! {
            biased;
            frame = &mut exchange => Outcome::Frame(frame),
            how = exit.wait() => {
                // It may have replied just before it went: take a reply already in the pipe.
                match tokio::time::timeout(Duration::from_millis(100), &mut exchange).await {
                    Ok(Ok(frame)) => Outcome::Frame(Ok(frame)),
                    _ => Outcome::Exited(how),
                }
            }
            _ = &mut deadline_timer => Outcome::TimedOut,
            // Shutdown's grace period is over and this request is still running.
            _ = stopped(stop) => Outcome::Stopped,
        }
    };
    drop(request);
    // Everything the execution printed before its reply is in the stderr pipe by now: take it, so that no line
    // is lost or given to the next execution. What comes after the reply is no request's.
    let native = worker.stderr.take(|current| {
        current.id = no_request();
        current.native.take()
    });
    if let (Some(logs), Some((native, _))) = (logs.as_mut(), native) {
        logs.native = native.native;
        logs.dropped += native.dropped;
    }
    let frame = match outcome {
        Outcome::Frame(frame) => frame,
        Outcome::Exited(how) => {
            let why = match how {
                Some(how) => format!("the adapter {how} during the request"),
                None => "the adapter ended during the request".into(),
            };
            let result = Err(ShimError::Adapter(why.clone()));
            return (Done { result, pid, logs }, Some(Verdict::Broken(why)));
        }
        Outcome::TimedOut => {
            let result = Err(ShimError::TimedOut(timeout));
            let verdict = Verdict::Recycle("its request timed out");
            return (Done { result, pid, logs }, Some(verdict));
        }
        Outcome::Stopped => {
            let result = Err(ShimError::ShuttingDown);
            return (Done { result, pid, logs }, Some(Verdict::Stop));
        }
    };
    let (result, verdict) = judge(frame, id, worker, version2).await;
    (Done { result, pid, logs }, verdict)
}

/// How the wait for a reply ended.
enum Outcome {
    Frame(Result<Frame, Failure>),
    Exited(Option<process::Exit>),
    TimedOut,
    Stopped,
}

/// Writes the request, then reads frames until the reply; `LOG` lines on the way are kept in `logs` (or
/// dropped when the execution's logs are not collected).
async fn exchange(
    stdin: &mut pipe::Sender,
    frames: &mut FrameReader<pipe::Receiver>,
    request: &protocol::EncodedRequest,
    id: &str,
    mut logs: Option<&mut ExecLogs>,
    max_log: usize,
) -> Result<Frame, Failure> {
    // Header, metadata and body in one writev, so the adapter wakes once per request, not once per part.
    let mut frame = bytes::Buf::chain(
        bytes::Buf::chain(&request.header[..], &request.body[..]),
        &request.raw[..],
    );
    stdin
        .write_all_buf(&mut frame)
        .await
        .map_err(Failure::Write)?;
    loop {
        match frames.read_frame().await.map_err(Failure::Read)? {
            Frame::Log {
                id: of,
                stream,
                line,
            } if of == id => {
                if let Some(logs) = logs.as_deref_mut() {
                    logs.push(Some(stream), &line, max_log);
                }
            }
            // A line of an execution that is over (a background logger of the function's): the frame is whole,
            // so the stream is still in step; the line is the shim's to log, not this execution's.
            Frame::Log { id: of, line, .. } => {
                warn!(req = %of, "a log line for an execution that is over: {}", String::from_utf8_lossy(&line));
            }
            other => return Ok(other),
        }
    }
}

/// Turns the frame that ended an exchange into the job's result, and says whether the adapter must go.
async fn judge(
    frame: Result<Frame, Failure>,
    id: &str,
    worker: &mut Worker,
    http: bool,
) -> (Result<Reply, ShimError>, Option<Verdict>) {
    let broken = |why: String| {
        (
            Err(ShimError::Adapter(why.clone())),
            Some(Verdict::Broken(why)),
        )
    };
    let bad_status = |status: u16| {
        let why =
            format!("the function replied with status {status}; a status must be from 200 to 599");
        (Err(ShimError::FunctionFailed(why)), None)
    };
    match frame {
        Ok(Frame::Reply {
            id: of,
            status,
            body_type,
            body,
        }) if of == id => {
            if (200..=599).contains(&status) {
                (
                    Ok(Reply::V1 {
                        status,
                        body_type,
                        body,
                    }),
                    None,
                )
            } else {
                bad_status(status)
            }
        }
        Ok(Frame::Response {
            id: of,
            status,
            head,
            body,
        }) if of == id => match protocol::decode_reply_headers(worker.encoding, &head) {
            Err(e) => broken(format!("the adapter broke the protocol: {e}")),
            Ok(_) if !(200..=599).contains(&status) => bad_status(status),
            Ok(headers) => (
                Ok(Reply::Http {
                    status,
                    headers,
                    body,
                }),
                None,
            ),
        },
        Ok(Frame::NoResponse { id: of }) if of == id => (Err(ShimError::NoResponse), None),
        Ok(Frame::Error {
            id: of,
            code,
            message,
        }) if of == id && (code == 500 || code == if http { 503 } else { 404 }) => {
            let error = match code {
                404 => ShimError::NotFound(message),
                503 => ShimError::EntrypointFailed(message),
                _ => ShimError::FunctionFailed(message),
            };
            (Err(error), None)
        }
        Ok(frame) => broken(format!(
            "the adapter broke the protocol: expected {} for request {id}, got {}",
            if http {
                "RES, NONE or ERR (code 500 or 503)"
            } else {
                "RES or ERR (code 404 or 500)"
            },
            describe(&frame)
        )),
        // Its stdout ended or its stdin broke: most often because it died; say how, if it did.
        Err(
            e @ (Failure::Write(_)
            | Failure::Read(
                ProtocolError::Eof | ProtocolError::Truncated | ProtocolError::Io(_),
            )),
        ) => broken(match worker.exit.wait_for(EXIT_SETTLE).await {
            Some(how) => format!("the adapter {how} during the request"),
            None => match e {
                Failure::Write(e) => {
                    format!("talking to the adapter failed: writing the request to its stdin: {e}")
                }
                Failure::Read(e @ ProtocolError::Io(_)) => {
                    format!("talking to the adapter failed: {e}")
                }
                Failure::Read(e) => format!("the adapter broke the protocol: {e}"),
            },
        }),
        Err(Failure::Read(e)) => broken(format!("the adapter broke the protocol: {e}")),
    }
}

/// How long a broken stream waits for the adapter's exit, to say how it ended.
const EXIT_SETTLE: Duration = Duration::from_millis(200);

/// How one request's exchange with an adapter failed.
enum Failure {
    /// Writing the request frame to its stdin.
    Write(std::io::Error),
    /// Reading the reply frame from its stdout.
    Read(ProtocolError),
}

fn describe(frame: &Frame) -> String {
    match frame {
        Frame::Ready { .. } => "READY".into(),
        Frame::Reply { id, .. } | Frame::Response { id, .. } => format!("RES for request {id}"),
        Frame::Error { id, code, .. } => format!("ERR {code} for request {id}"),
        Frame::NoResponse { id } => format!("NONE for request {id}"),
        Frame::Log { id, .. } => format!("LOG for request {id}"),
    }
}

/// An adapter's stderr (where it also sends the user's stdout), read line by line: each line is logged, tagged
/// with the request, or kept for the execution whose logs are being collected. A task reads it as it comes
/// ([`pump_logs`]); an execution takes whatever is already in the pipe itself ([`Stderr::take`]), under the
/// same lock, so lines stay in order and none is given to the wrong execution.
struct Stderr {
    pipe: pipe::Receiver,
    pid: i32,
    state: Mutex<StderrState>,
}

struct StderrState {
    current: Current,
    splitter: LineSplitter,
    chunk: Box<[u8]>,
    open: bool,
}

impl StderrState {
    fn push(&mut self, n: usize, pid: i32) {
        let StderrState {
            current,
            splitter,
            chunk,
            ..
        } = self;
        splitter.push(&chunk[..n], &mut |line| emit(current, pid, line));
    }

    fn finish(&mut self, pid: i32) {
        let StderrState {
            current, splitter, ..
        } = self;
        splitter.finish(&mut |line| emit(current, pid, line));
        self.open = false;
    }
}

fn emit(current: &mut Current, pid: i32, line: &[u8]) {
    match current.native.as_mut() {
        Some((logs, limit)) => {
            let limit = *limit;
            logs.push(None, line, limit);
            debug!(target: "function", req = %current.id, pid, "{}", String::from_utf8_lossy(line));
        }
        None => {
            info!(target: "function", req = %current.id, pid, "{}", String::from_utf8_lossy(line))
        }
    }
}

impl Stderr {
    fn new(pipe: pipe::Receiver, pid: i32) -> Self {
        Stderr {
            pipe,
            pid,
            state: Mutex::new(StderrState {
                current: Current {
                    id: no_request(),
                    native: None,
                },
                splitter: LineSplitter::default(),
                chunk: vec![0u8; 8 * 1024].into_boxed_slice(),
                open: true,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StderrState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every line already in the pipe, under the execution it belongs to now; then `then` changes whom
    /// the next lines belong to.
    fn take<T>(&self, then: impl FnOnce(&mut Current) -> T) -> T {
        let mut state = self.lock();
        // read(2) itself, not `try_read`: that answers WouldBlock from tokio's cached readiness, which misses
        // bytes written before the reply whose readiness event the reactor has not handled yet.
        while state.open {
            match nix::unistd::read(&self.pipe, &mut state.chunk) {
                Ok(0) => state.finish(self.pid),
                Ok(n) => state.push(n, self.pid),
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    debug!(pid = self.pid, error = %e, "reading adapter stderr failed");
                    state.finish(self.pid);
                }
            }
        }
        if state.open {
            let StderrState {
                current, splitter, ..
            } = &mut *state;
            splitter.finish(&mut |line| emit(current, self.pid, line));
        }
        then(&mut state.current)
    }
}

/// Reads an adapter's stderr as it comes, until it ends.
async fn pump_logs(stderr: Arc<Stderr>) {
    let pid = stderr.pid;
    loop {
        let ready = stderr.pipe.readable().await;
        let mut state = stderr.lock();
        if !state.open {
            return;
        }
        if let Err(e) = ready {
            debug!(pid, error = %e, "reading adapter stderr failed");
            return state.finish(pid);
        }
        loop {
            match stderr.pipe.try_read(&mut state.chunk) {
                Ok(0) => return state.finish(pid),
                Ok(n) => state.push(n, pid),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!(pid, error = %e, "reading adapter stderr failed");
                    return state.finish(pid);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(5));
    }
}
