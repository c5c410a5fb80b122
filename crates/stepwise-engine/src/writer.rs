//! The one writer: a thread that owns the ledger and group-commits whatever appends are
//! waiting, answering each request once its events are durable and folded.

use crate::Error;
use crate::Live;
use crate::metrics::Metrics;
use std::sync::Arc;
use stepwise::evidence::{Event, FieldError};
use stepwise::ledger::Origin;
use stepwise_store::{Ledger, LedgerError, MAX_BATCH};
use stepwise_store::{Store, StoreError, StoredCheckpoint};
use tokio::sync::{mpsc, oneshot};

/// What the writer answers for one request's events.
pub struct Written {
    /// For each event, its index or why the ledger refused it.
    pub results: Vec<Result<u64, FieldError>>,
    /// The checkpoint signed for the commit.
    pub checkpoint: StoredCheckpoint,
}

struct Job {
    events: Vec<Event>,
    origin: Origin,
    reply: oneshot::Sender<Result<Written, Error>>,
}

/// What the writer's queue carries: appends, and at the end the word to stop.
enum Message {
    Append(Job),
    /// Answer every job taken before this, then stop.
    Stop,
}

/// The handle requests use to append.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Message>,
}

impl Writer {
    /// Starts the writer thread over `ledger`. It ends when every handle is dropped or
    /// [`Writer::close`] is called, after answering every job it took.
    pub fn spawn<S: Store + 'static>(
        ledger: Ledger<S>,
        reopen: impl Fn() -> Result<Ledger<S>, LedgerError> + Send + 'static,
        live: Arc<Live>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, rx) = mpsc::channel(1024);
        let handle = std::thread::Builder::new()
            .name("stepwise-writer".into())
            .spawn(move || write_loop(ledger, reopen, rx, &live, &metrics))?;
        Ok((Self { jobs }, handle))
    }

    /// Appends `events`, dated as `origin` says; answers once they are durable
    /// (group-committed with whatever other requests of the same origin are waiting) and folded
    /// into the live state.
    pub async fn append(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Message::Append(Job {
                events,
                origin,
                reply,
            }))
            .await
            .map_err(|_| shutting_down())?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`Writer::append`] for a caller outside the async runtime: blocks until answered.
    pub fn append_blocking(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Message::Append(Job {
                events,
                origin,
                reply,
            }))
            .map_err(|_| shutting_down())?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// Asks the writer to stop once it has answered every append sent before; appends sent
    /// after are refused as the engine shutting down. Waits (without the async runtime's
    /// blocking calls, which may not run inside it) while the queue is full.
    pub fn close(&self) {
        loop {
            match self.jobs.try_send(Message::Stop) {
                Err(mpsc::error::TrySendError::Full(_)) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                // Sent, or the writer is already gone and has nothing left to answer.
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    }
}

fn shutting_down() -> Error {
    Error::unavailable("the server is shutting down")
}

fn stopped() -> Error {
    Error::internal("the writer stopped before answering")
}

/// What a failed append is answered with. Only a lost connection can leave a commit's fate
/// unknown; say so. A damaged store is no reason to retry (500); anything else is (503).
pub(crate) fn append_failed(e: LedgerError) -> Error {
    match &e {
        LedgerError::Store(StoreError::Corrupt(what)) => {
            Error::from(StoreError::Corrupt(what.clone()))
        }
        LedgerError::Store(StoreError::Database(_)) => Error::unavailable(format!(
            "the store failed during the commit ({e}); the events may not have been \
             recorded: retry (a promise id refused as already used means it was)"
        )),
        _ => Error::unavailable(format!("nothing was recorded: {e}")),
    }
}

/// Takes jobs as they come; each commit carries every job waiting at that moment (up to the
/// ledger's batch limit, and of one origin: history is never mixed with live evidence), so
/// concurrent callers share one transaction and one fsync.
fn write_loop<S: Store>(
    mut ledger: Ledger<S>,
    reopen: impl Fn() -> Result<Ledger<S>, LedgerError>,
    mut rx: mpsc::Receiver<Message>,
    live: &Live,
    metrics: &Metrics,
) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(Message::Append(job)) => job,
                Some(Message::Stop) | None => return,
            },
        };
        let mut total = first.events.len();
        let origin = first.origin;
        let mut jobs = vec![first];
        let mut stopping = false;
        while let Ok(message) = rx.try_recv() {
            let Message::Append(job) = message else {
                stopping = true;
                break;
            };
            if total + job.events.len() > MAX_BATCH || job.origin != origin {
                carry = Some(job);
                break;
            }
            total += job.events.len();
            jobs.push(job);
        }
        let mut lengths = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut events = Vec::with_capacity(total);
        for job in jobs {
            lengths.push(job.events.len());
            replies.push(job.reply);
            events.extend(job.events);
        }
        let started = std::time::Instant::now();
        let outcome = ledger.append_as(events, origin);
        metrics.commit(replies.len(), total, started.elapsed());
        match outcome {
            Ok(appended) => {
                if let Some(behind) = appended.clock_behind {
                    metrics.clock_behind();
                    tracing::warn!(
                        "the clock reads {:.3} s earlier than the log's latest recorded time; \
                         stamped the commit with that time (the log's time never goes back)",
                        behind as f64 / 1e6
                    );
                }
                if let Err(e) = live.fold_committed(&appended, ledger.store()) {
                    tracing::error!("folding the new entries failed: {e}");
                }
                let mut results = appended.results.into_iter();
                for (len, reply) in lengths.into_iter().zip(replies) {
                    let _ = reply.send(Ok(Written {
                        results: results.by_ref().take(len).collect(),
                        checkpoint: appended.checkpoint.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!("append failed: {e}");
                let lost = matches!(e, LedgerError::Store(StoreError::Database(_)));
                let answer = append_failed(e);
                for reply in replies {
                    let _ = reply.send(Err(answer.clone()));
                }
                if lost {
                    match reopen() {
                        Ok(fresh) => ledger = fresh,
                        Err(e) => tracing::error!("reopening the store failed (will retry): {e}"),
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}
