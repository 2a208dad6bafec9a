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

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::error::ShimError;
use crate::process::{self, ExitWatch};
use crate::protocol::{self, BodyType, Encoding, Execution, Frame, FrameReader, ProtocolError};

/// What a function replied.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body_type: BodyType,
    pub body: Vec<u8>,
}

/// A job's result, with the pid of the adapter that ran it (for the request log).
#[derive(Debug)]
pub struct Done {
    pub result: Result<Reply, ShimError>,
    pub pid: Option<i32>,
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
}

struct Shared {
    config: PoolConfig,
    ready: AtomicUsize,
    admitted: AtomicUsize,
}

/// One execution on its way through the pool.
struct Job {
    id: String,
    exec: Execution,
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

    /// Queues an execution. `Busy` when the pool already holds `workers + queue` jobs.
    pub fn submit(
        &self,
        id: String,
        exec: Execution,
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
            exec,
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
    /// The request id its log lines are tagged with.
    current: Arc<Mutex<Arc<str>>>,
}

async fn run_slot(
    index: usize,
    shared: Arc<Shared>,
    jobs: async_channel::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let start_error = match start(config).await {
            Ok(mut worker) => {
                shared.ready.fetch_add(1, Ordering::AcqRel);
                let verdict = serve(&mut worker, &jobs, &mut stop, &mut failures).await;
                shared.ready.fetch_sub(1, Ordering::AcqRel);
                let how = match &verdict {
                    Verdict::Stop => {
                        // Ask nicely first: an adapter exits on EOF.
                        drop(worker.stdin);
                        if worker.exit.wait_for(config.kill_grace).await.is_none() {
                            debug!(worker = index, pid = worker.pid, "adapter ignored EOF");
                        }
                        process::terminate_group(worker.pid, &mut worker.exit, config.kill_grace)
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
                process::terminate_group(worker.pid, &mut worker.exit, config.kill_grace).await;
                how
            }
            Err(why) => {
                failures += 1;
                error!(worker = index, adapter = %config.name, "the adapter failed to start: {why}");
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
async fn start(config: &PoolConfig) -> Result<Worker, String> {
    let child = process::spawn(&config.spec)
        .map_err(|e| format!("cannot run {}: {e}", config.spec.program.to_string_lossy()))?;
    let current: Arc<Mutex<Arc<str>>> = Arc::new(Mutex::new(Arc::from("-")));
    tokio::spawn(pump_logs(child.stderr, child.pid, current.clone()));
    let mut frames = FrameReader::new(child.stdout, config.max_reply);
    let mut exit = child.exit;
    let handshake = tokio::select! {
        biased;
        frame = tokio::time::timeout(config.startup_timeout, frames.read_frame()) => match frame {
            Err(_) => Err(format!(
                "no READY within the startup timeout of {} s",
                crate::error::format_seconds(config.startup_timeout)
            )),
            Ok(Ok(Frame::Ready { version, encoding, info })) if version == protocol::VERSION => {
                Ok((encoding, info))
            }
            Ok(Ok(Frame::Ready { version, .. })) => Err(format!(
                "it speaks protocol version {version}; this shim speaks {}",
                protocol::VERSION
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
            Ok(Worker {
                pid: child.pid,
                stdin: child.stdin,
                frames,
                exit,
                encoding,
                current,
            })
        }
        Err(why) => {
            process::terminate_group(child.pid, &mut exit, Duration::from_millis(100)).await;
            Err(why)
        }
    }
}

/// Serves jobs until the adapter must go.
async fn serve(
    worker: &mut Worker,
    jobs: &async_channel::Receiver<Job>,
    stop: &mut watch::Receiver<bool>,
    failures: &mut u32,
) -> Verdict {
    loop {
        let job = tokio::select! {
            biased;
            _ = stopped(stop) => return Verdict::Stop,
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
        match run(worker, job, stop).await {
            None => *failures = 0,
            Some(verdict) => return verdict,
        }
    }
}

/// Runs one job on `worker`. `None` when the adapter can take the next one.
async fn run(worker: &mut Worker, job: Job, stop: &mut watch::Receiver<bool>) -> Option<Verdict> {
    if job.reply.is_closed() {
        return None; // its caller left while it waited
    }
    let pid = Some(worker.pid);
    let answer = |job: Job, result| {
        let _ = job.reply.send(Done { result, pid });
    };
    if Instant::now() >= job.deadline {
        let timeout = job.exec.timeout;
        answer(job, Err(ShimError::TimedOut(timeout)));
        return None;
    }
    *worker.current.lock().unwrap_or_else(|e| e.into_inner()) = Arc::from(job.id.as_str());
    let request = protocol::encode_request(worker.encoding, &job.id, &job.exec, job.deadline_ms);
    let Worker {
        stdin,
        frames,
        exit,
        ..
    } = worker;
    let exchange = async {
        // Header and body in one writev, so the adapter wakes once per request, not once per part.
        let mut frame = bytes::Buf::chain(&request.header[..], &request.body[..]);
        stdin
            .write_all_buf(&mut frame)
            .await
            .map_err(Failure::Write)?;
        frames.read_frame().await.map_err(Failure::Read)
    };
    tokio::pin!(exchange);
    let mut reply = job.reply;
    let outcome = tokio::select! {
        biased;
        frame = &mut exchange => frame,
        how = exit.wait() => {
            // It may have replied just before it went: take a reply already in the pipe.
            match tokio::time::timeout(Duration::from_millis(100), &mut exchange).await {
                Ok(Ok(frame)) => Ok(frame),
                _ => {
                    let why = match how {
                        Some(how) => format!("the adapter {how} during the request"),
                        None => "the adapter ended during the request".into(),
                    };
                    let _ = reply.send(Done { result: Err(ShimError::Adapter(why.clone())), pid });
                    return Some(Verdict::Broken(why));
                }
            }
        }
        _ = tokio::time::sleep_until(job.deadline) => {
            let _ = reply.send(Done { result: Err(ShimError::TimedOut(job.exec.timeout)), pid });
            return Some(Verdict::Recycle("its request timed out"));
        }
        _ = reply.closed() => return Some(Verdict::Recycle("its caller went away")),
        // Shutdown's grace period is over and this request is still running.
        _ = stopped(stop) => {
            let _ = reply.send(Done { result: Err(ShimError::ShuttingDown), pid });
            return Some(Verdict::Stop);
        }
    };
    let (result, verdict) = match outcome {
        Ok(Frame::Reply {
            id,
            status,
            body_type,
            body,
        }) if id == job.id => {
            if (200..=599).contains(&status) {
                let reply = Reply {
                    status,
                    body_type,
                    body,
                };
                (Ok(reply), None)
            } else {
                let why = format!(
                    "the function replied with status {status}; a status must be from 200 to 599"
                );
                (Err(ShimError::FunctionFailed(why)), None)
            }
        }
        Ok(Frame::Error { id, code, message }) if id == job.id && (code == 404 || code == 500) => {
            let error = if code == 404 {
                ShimError::NotFound(message)
            } else {
                ShimError::FunctionFailed(message)
            };
            (Err(error), None)
        }
        Ok(frame) => {
            let why = format!(
                "the adapter broke the protocol: expected RES or ERR (code 404 or 500) for \
                 request {}, got {}",
                job.id,
                describe(&frame)
            );
            (
                Err(ShimError::Adapter(why.clone())),
                Some(Verdict::Broken(why)),
            )
        }
        // Its stdout ended or its stdin broke: most often because it died; say how, if it did.
        Err(
            e @ (Failure::Write(_)
            | Failure::Read(
                ProtocolError::Eof | ProtocolError::Truncated | ProtocolError::Io(_),
            )),
        ) => {
            let why = match exit.wait_for(EXIT_SETTLE).await {
                Some(how) => format!("the adapter {how} during the request"),
                None => match e {
                    Failure::Write(e) => {
                        format!(
                            "talking to the adapter failed: writing the request to its stdin: {e}"
                        )
                    }
                    Failure::Read(e @ ProtocolError::Io(_)) => {
                        format!("talking to the adapter failed: {e}")
                    }
                    Failure::Read(e) => format!("the adapter broke the protocol: {e}"),
                },
            };
            (
                Err(ShimError::Adapter(why.clone())),
                Some(Verdict::Broken(why)),
            )
        }
        Err(Failure::Read(e)) => {
            let why = format!("the adapter broke the protocol: {e}");
            (
                Err(ShimError::Adapter(why.clone())),
                Some(Verdict::Broken(why)),
            )
        }
    };
    let _ = reply.send(Done { result, pid });
    verdict
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
        Frame::Reply { id, .. } => format!("RES for request {id}"),
        Frame::Error { id, code, .. } => format!("ERR {code} for request {id}"),
    }
}

/// Logs an adapter's stderr (where it also sends the user's stdout) line by line, tagged with the request.
async fn pump_logs(stderr: pipe::Receiver, pid: i32, current: Arc<Mutex<Arc<str>>>) {
    let mut reader = BufReader::with_capacity(16 * 1024, stderr);
    loop {
        match protocol::read_log_line(&mut reader).await {
            Ok(Some(line)) => {
                let req = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                info!(target: "function", req = %req, pid, "{}", String::from_utf8_lossy(&line));
            }
            Ok(None) => return,
            Err(e) => {
                debug!(pid, error = %e, "reading adapter stderr failed");
                return;
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
