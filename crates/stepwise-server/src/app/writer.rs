//! The one writer: a thread that owns the ledger and group-commits whatever appends are
//! waiting, answering each request once its events are durable and folded.

use super::Live;
use crate::error::ApiError;
use crate::metrics::Metrics;
use std::sync::Arc;
use stepwise::evidence::{Event, FieldError};
use stepwise::ledger::{Ledger, LedgerError, MAX_BATCH, Origin};
use stepwise::store::{Store, StoreError, StoredCheckpoint};
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
    reply: oneshot::Sender<Result<Written, ApiError>>,
}

/// The handle requests use to append.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `ledger`. It ends when every handle is dropped, after
    /// answering every job it took.
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
    pub async fn append(&self, events: Vec<Event>, origin: Origin) -> Result<Written, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                events,
                origin,
                reply,
            })
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the writer stopped before answering"))?
    }
}

/// Takes jobs as they come; each commit carries every job waiting at that moment (up to the
/// ledger's batch limit, and of one origin: history is never mixed with live evidence), so
/// concurrent callers share one transaction and one fsync.
fn write_loop<S: Store>(
    mut ledger: Ledger<S>,
    reopen: impl Fn() -> Result<Ledger<S>, LedgerError>,
    mut rx: mpsc::Receiver<Job>,
    live: &Live,
    metrics: &Metrics,
) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(job) => job,
                None => return,
            },
        };
        let mut total = first.events.len();
        let origin = first.origin;
        let mut jobs = vec![first];
        while let Ok(job) = rx.try_recv() {
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
                // Only a lost connection can leave a commit's fate unknown; say so. A damaged
                // store is no reason to retry (500); anything else is (503).
                let lost = matches!(e, LedgerError::Store(StoreError::Database(_)));
                let answer = || match &e {
                    LedgerError::Store(StoreError::Corrupt(what)) => {
                        ApiError::from(StoreError::Corrupt(what.clone()))
                    }
                    _ if lost => ApiError::unavailable(format!(
                        "the store failed during the commit ({e}); the events may not have been \
                         recorded: retry (a promise id refused as already used means it was)"
                    )),
                    _ => ApiError::unavailable(format!("nothing was recorded: {e}")),
                };
                for reply in replies {
                    let _ = reply.send(Err(answer()));
                }
                if lost {
                    match reopen() {
                        Ok(fresh) => ledger = fresh,
                        Err(e) => tracing::error!("reopening the store failed (will retry): {e}"),
                    }
                }
            }
        }
    }
}
