//! The worker pool: `workers` supervised adapter processes, fed from one queue.
//!
//! Each slot is a task that owns one adapter at a time: it starts it (handshake within the startup timeout),
//! serves jobs one by one, and replaces it whenever it times out, crashes, breaks the protocol, or its caller
//! goes away. Admission is one counter: at most `workers + queue` jobs are in the pool (running or waiting);
//! past that `submit` answers `Busy` at once. Time is the slot's job: a request that passes its deadline gets
//! its error at the deadline and the adapter's whole process group is killed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    fn started(&self, outcome: FirstStart) {
        self.first_start.send_if_modified(|first| {
            let pending = *first == FirstStart::Pending;
            if pending {
                *first = outcome;
            }
            pending
        });
    }
}

/// One execution on its way through the pool.
struct Job {
    id: String,
    work: Work,
    deadline: Instant,
    deadline_ms: u64,
    reply: oneshot::Sender<Done>,
    _admission: Admission,
}

/// Holds one place in the pool until the job is finished with (or dropped unserved).
struct Admission(Arc<Shared>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Pool {
    shared: Arc<Shared>,
    jobs: async_channel::Sender<Job>,
    stop: watch::Sender<bool>,
    slots: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts every slot; adapters begin starting now, not on the first request.
    pub fn start(config: PoolConfig) -> Pool {
        let shared = Arc::new(Shared {
            config,
            ready: AtomicUsize::new(0),
            admitted: AtomicUsize::new(0),
            first_start: watch::Sender::new(FirstStart::Pending),
            generation: watch::Sender::new(0),
        });
        let (jobs, queue) = async_channel::unbounded();
        let (stop, stopped) = watch::channel(false);
        let slots = (0..shared.config.workers)
            .map(|index| {
                tokio::spawn(run_slot(
                    index,
                    shared.clone(),
                    queue.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        Pool {
            shared,
            jobs,
            stop,
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

    /// Queues an execution. `Busy` when the pool already holds `workers + queue` jobs.
    pub fn submit(
        &self,
        id: String,
        work: Work,
        deadline: Instant,
        deadline_ms: u64,
    ) -> Result<oneshot::Receiver<Done>, ShimError> {
        let capacity = self.shared.config.workers + self.shared.config.queue;
        if self.shared.admitted.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ShimError::Busy);
        }
        let admission = Admission(self.shared.clone());
        let (reply, done) = oneshot::channel();
        let job = Job {
            id,
            work,
            deadline,
            deadline_ms,
            reply,
            _admission: admission,
        };
        self.jobs.try_send(job).map_err(|_| ShimError::NotReady)?;
        Ok(done)
    }

    /// Stops taking jobs, drops the queued ones, and ends every adapter (stdin closed, then TERM, grace,
    /// KILL to its group). Jobs still running are ended by their callers going away.
    pub async fn shutdown(&self) {
        self.jobs.close();
        let _ = self.stop.send(true);
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
    pid: i32,
    stdin: pipe::Sender,
    frames: FrameReader<pipe::Receiver>,
    exit: ExitWatch,
    encoding: Encoding,
    /// The execution its stderr lines belong to.
    current: Arc<Mutex<Current>>,
    /// Asks the stderr reader to take everything already in the pipe; it answers when it has.
    flush: mpsc::Sender<oneshot::Sender<()>>,
}

/// Whom an adapter's stderr lines belong to right now.
struct Current {
    /// The request id they are logged under.
    id: Arc<str>,
    /// While an execution's logs are collected: its native lines, and the limit of what it may log.
    native: Option<(ExecLogs, usize)>,
}

async fn run_slot(
    index: usize,
    shared: Arc<Shared>,
    jobs: async_channel::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let jail = config
        .jails
        .get(index)
        .cloned()
        .unwrap_or_else(process::Jail::none);
    let jail = &jail;
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let start_error = match start(config, jail).await {
            Ok(mut worker) => {
                // The adapter loaded the function as it is now: only a later change replaces it.
                let mut reload = shared.generation.subscribe();
                reload.borrow_and_update();
                shared.ready.fetch_add(1, Ordering::AcqRel);
                shared.started(FirstStart::Ready);
                let verdict = serve(
                    &mut worker,
                    &jobs,
                    &mut stop,
                    &mut reload,
                    &mut failures,
                    config.max_reply,
                )
                .await;
                shared.ready.fetch_sub(1, Ordering::AcqRel);
                let how = match &verdict {
                    Verdict::Stop => {
                        // Ask nicely first: an adapter exits on EOF.
                        drop(worker.stdin);
                        if worker.exit.wait_for(config.kill_grace).await.is_none() {
                            debug!(worker = index, pid = worker.pid, "adapter ignored EOF");
                        }
                        process::terminate_group(
                            worker.pid,
                            &mut worker.exit,
                            config.kill_grace,
                            jail,
                        )
                        .await;
                        info!(worker = index, pid = worker.pid, "adapter stopped");
                        return;
                    }
                    Verdict::Recycle(why) => {
                        info!(
                            worker = index,
                            pid = worker.pid,
                            "replacing the adapter: {why}"
                        );
                        None
                    }
                    Verdict::Broken(why) => {
                        failures += 1;
                        warn!(
                            worker = index,
                            pid = worker.pid,
                            "replacing the adapter: {why}"
                        );
                        None
                    }
                };
                process::terminate_group(worker.pid, &mut worker.exit, config.kill_grace, jail)
                    .await;
                how
            }
            Err(why) => {
                failures += 1;
                error!(worker = index, adapter = %config.name, "the adapter failed to start: {why}");
                shared.started(FirstStart::Failed(why.clone()));
                Some(why)
            }
        };
        // Backoff: a first crash is replaced at once; repeated failures wait 0.1 s, doubling to 5 s.
        let delay = match (failures, &start_error) {
            (0, _) | (1, None) => Duration::ZERO,
            (n, None) => backoff(n - 1),
            (n, Some(_)) => backoff(n),
        };
        let resume = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(resume) => break,
                _ = stopped(&mut stop) => return,
                // While no adapter at all is ready, waiting requests learn why instead of waiting out their
                // timeout.
                job = jobs.recv(), if start_error.is_some() && shared.ready.load(Ordering::Acquire) == 0 => {
                    let Ok(job) = job else { return };
                    let why = start_error.as_deref().unwrap_or_default();
                    let _ = job.reply.send(Done {
                        result: Err(ShimError::Adapter(format!("the adapter failed to start: {why}"))),
                        pid: None,
                        logs: None,
                    });
                }
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
async fn start(config: &PoolConfig, jail: &Arc<process::Jail>) -> Result<Worker, String> {
    let child = process::spawn(&config.spec, jail)
        .map_err(|e| format!("cannot run {}: {e}", config.spec.program.to_string_lossy()))?;
    let current = Arc::new(Mutex::new(Current {
        id: Arc::from("-"),
        native: None,
    }));
    let (flush, flushes) = mpsc::channel(1);
    tokio::spawn(pump_logs(child.stderr, child.pid, current.clone(), flushes));
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
                pid: child.pid,
                stdin: child.stdin,
                frames,
                exit,
                encoding,
                current,
                flush,
            })
        }
        Err(why) => {
            process::terminate_group(child.pid, &mut exit, Duration::from_millis(100), jail).await;
            Err(why)
        }
    }
}

/// Serves jobs until the adapter must go.
async fn serve(
    worker: &mut Worker,
    jobs: &async_channel::Receiver<Job>,
    stop: &mut watch::Receiver<bool>,
    reload: &mut watch::Receiver<u64>,
    failures: &mut u32,
    max_log: usize,
) -> Verdict {
    loop {
        let job = tokio::select! {
            biased;
            _ = stopped(stop) => return Verdict::Stop,
            Ok(()) = reload.changed() => return Verdict::Recycle("the function's files changed"),
            how = worker.exit.wait() => {
                return Verdict::Broken(match how {
                    Some(how) => format!("it {how} while idle"),
                    None => "it ended while idle".into(),
                });
            }
            output = worker.frames.has_output() => {
                return Verdict::Broken(match output {
                    Ok(true) => "it wrote to stdout while it had no request".into(),
                    Ok(false) => "it closed its stdout while idle".into(),
                    Err(e) => format!("reading its stdout failed: {e}"),
                });
            }
            job = jobs.recv() => job,
        };
        let Ok(job) = job else { return Verdict::Stop };
        match run(worker, job, stop, max_log).await {
            None => *failures = 0,
            Some(verdict) => return verdict,
        }
    }
}

/// Runs one job on `worker`. `None` when the adapter can take the next one.
async fn run(
    worker: &mut Worker,
    job: Job,
    stop: &mut watch::Receiver<bool>,
    max_log: usize,
) -> Option<Verdict> {
    if job.reply.is_closed() {
        return None; // its caller left while it waited
    }
    let pid = Some(worker.pid);
    let timeout = job.work.timeout();
    // Version-2 frames (RES with headers, NONE, ERR 503) are what this job may end with.
    let version2 = job.work.version() == protocol::VERSION_2;
    let collect = match &job.work {
        Work::Http(e) => e.collect_logs,
        Work::V2(_) => true,
        Work::V1(_) => false,
    };
    let logs = collect.then(ExecLogs::default);
    if Instant::now() >= job.deadline {
        let _ = job.reply.send(Done {
            result: Err(ShimError::TimedOut(timeout)),
            pid,
            logs,
        });
        return None;
    }
    // What the adapter printed while idle (a leftover of the last execution) is logged under no request, not
    // under this one.
    take_stderr(worker).await;
    {
        let mut current = worker.current.lock().unwrap_or_else(|e| e.into_inner());
        current.id = Arc::from(job.id.as_str());
        current.native = collect.then(|| (ExecLogs::default(), max_log));
    }
    let request = match &job.work {
        Work::V1(exec) => protocol::encode_request(worker.encoding, &job.id, exec, job.deadline_ms),
        Work::V2(exec) => {
            protocol::encode_v2_request(worker.encoding, &job.id, exec, job.deadline_ms)
        }
        Work::Http(exec) => {
            protocol::encode_http_request(worker.encoding, &job.id, exec, job.deadline_ms)
        }
    };
    drop(job.work);
    let mut logs = logs;
    let mut reply = job.reply;
    let outcome = {
        let Worker {
            stdin,
            frames,
            exit,
            ..
        } = &mut *worker;
        let exchange = exchange(stdin, frames, &request, &job.id, logs.as_mut(), max_log);
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
            _ = tokio::time::sleep_until(job.deadline) => Outcome::TimedOut,
            _ = reply.closed() => Outcome::CallerGone,
            // Shutdown's grace period is over and this request is still running.
            _ = stopped(stop) => Outcome::Stopped,
        }
    };
    // Everything the execution printed before its reply is in the stderr pipe by now: take it, so that no line
    // is lost or given to the next execution. What comes after the reply is no request's.
    take_stderr(worker).await;
    let native = {
        let mut current = worker.current.lock().unwrap_or_else(|e| e.into_inner());
        current.id = Arc::from("-");
        current.native.take()
    };
    if let (Some(logs), Some((native, _))) = (logs.as_mut(), native) {
        logs.native = native.native;
        logs.dropped += native.dropped;
    }
    let send = |reply: oneshot::Sender<Done>, result, logs| {
        let _ = reply.send(Done { result, pid, logs });
    };
    let frame = match outcome {
        Outcome::Frame(frame) => frame,
        Outcome::Exited(how) => {
            let why = match how {
                Some(how) => format!("the adapter {how} during the request"),
                None => "the adapter ended during the request".into(),
            };
            send(reply, Err(ShimError::Adapter(why.clone())), logs);
            return Some(Verdict::Broken(why));
        }
        Outcome::TimedOut => {
            send(reply, Err(ShimError::TimedOut(timeout)), logs);
            return Some(Verdict::Recycle("its request timed out"));
        }
        Outcome::CallerGone => return Some(Verdict::Recycle("its caller went away")),
        Outcome::Stopped => {
            send(reply, Err(ShimError::ShuttingDown), logs);
            return Some(Verdict::Stop);
        }
    };
    let (result, verdict) = judge(frame, &job.id, worker, version2).await;
    send(reply, result, logs);
    verdict
}

/// How the wait for a reply ended.
enum Outcome {
    Frame(Result<Frame, Failure>),
    Exited(Option<process::Exit>),
    TimedOut,
    CallerGone,
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

/// Has the stderr reader take every line already in the pipe, under the execution it belongs to now.
async fn take_stderr(worker: &Worker) {
    let (ack, acked) = oneshot::channel();
    if worker.flush.send(ack).await.is_ok() {
        // Bounded, so a stalled reader never holds a request; generous, so a loaded machine loses no line.
        let _ = tokio::time::timeout(Duration::from_secs(3), acked).await;
    }
}

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

/// Reads an adapter's stderr (where it also sends the user's stdout) line by line: each line is logged, tagged
/// with the request, or kept for the execution whose logs are being collected. On request it takes whatever is
/// in the pipe at once, so the pool can answer an execution with all that it printed.
async fn pump_logs(
    stderr: pipe::Receiver,
    pid: i32,
    current: Arc<Mutex<Current>>,
    mut flushes: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut splitter = LineSplitter::default();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut open = true;
    let mut emit = |line: &[u8]| {
        let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
        let req = current.id.clone();
        match current.native.as_mut() {
            Some((logs, limit)) => {
                let limit = *limit;
                logs.push(None, line, limit);
                debug!(target: "function", req = %req, pid, "{}", String::from_utf8_lossy(line));
            }
            None => info!(target: "function", req = %req, pid, "{}", String::from_utf8_lossy(line)),
        }
    };
    loop {
        tokio::select! {
            biased;
            ack = flushes.recv() => {
                let Some(ack) = ack else { return };
                // read(2) itself, not `try_read`: that answers WouldBlock from tokio's cached readiness, which
                // misses bytes written before the reply whose readiness event the reactor has not handled yet.
                while open {
                    match nix::unistd::read(&stderr, &mut chunk) {
                        Ok(0) => open = false,
                        Ok(n) => splitter.push(&chunk[..n], &mut emit),
                        Err(nix::errno::Errno::EAGAIN) => break,
                        Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => {
                            debug!(pid, error = %e, "reading adapter stderr failed");
                            open = false;
                        }
                    }
                }
                splitter.finish(&mut emit);
                let _ = ack.send(());
            }
            ready = stderr.readable(), if open => {
                if let Err(e) = ready {
                    debug!(pid, error = %e, "reading adapter stderr failed");
                    open = false;
                    continue;
                }
                match stderr.try_read(&mut chunk) {
                    Ok(0) => {
                        splitter.finish(&mut emit);
                        open = false;
                    }
                    Ok(n) => splitter.push(&chunk[..n], &mut emit),
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
                    Err(e) => {
                        debug!(pid, error = %e, "reading adapter stderr failed");
                        splitter.finish(&mut emit);
                        open = false;
                    }
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
