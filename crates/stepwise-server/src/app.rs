//! The server's shared state: the writer that group-commits appends, the live trust state that
//! follows the log, and a pool of store handles for reads.
//!
//! The log is the truth; the live state is a view that only ever moves forward by folding
//! entries read back from the store, whoever wrote them (this process, another server on the
//! same PostgreSQL database, or the `stepwise` command on the same SQLite file).

use crate::auth::KeyCache;
use crate::error::ApiError;
use crate::limits::{Limits, RateLimiter};
use crate::metrics::Metrics;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use stepwise::evidence::{Event, FieldError, Time};
use stepwise::ladder::LadderState;
use stepwise::ledger::{Appended, Ledger, LedgerError, MAX_BATCH, Origin, decode_entry};
use stepwise::policy::Policy;
use stepwise::store::{Store, StoreError, StoredCheckpoint};
use tokio::sync::{mpsc, oneshot};

/// Opens a new handle on the store (a connection).
pub type Opener = Box<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync>;

/// Store handles for reads, opened on demand and reused; at most [`POOL_SIZE`] in use at once
/// (a database has a connection limit; callers beyond it wait their turn).
pub struct Pool {
    open: Opener,
    idle: Mutex<Vec<Box<dyn Store>>>,
    permits: tokio::sync::Semaphore,
}

/// Most store handles a server process uses for reads at once.
pub const POOL_SIZE: usize = 16;

impl Pool {
    /// A pool over `open`.
    pub fn new(open: Opener) -> Self {
        Self {
            open,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(POOL_SIZE),
        }
    }

    /// A new handle of its own (not from the pool), for a thread that keeps one.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        (self.open)()
    }

    /// Runs `f` with a store handle on a blocking thread. A handle that failed is dropped, not
    /// reused (its connection may be broken).
    pub async fn with<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Store) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = pool.idle.lock().map(|mut v| v.pop()).ok().flatten();
            let mut store = match idle {
                Some(s) => s,
                None => (pool.open)()?,
            };
            let result = f(&mut *store);
            if result.is_ok()
                && let Ok(mut idle) = pool.idle.lock()
            {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| ApiError::internal(format!("a read task failed: {e}")))?
    }
}

/// The trust state as of the newest entry this process has read, with the newest checkpoint.
pub struct Live {
    state: RwLock<LadderState>,
    checkpoint: RwLock<StoredCheckpoint>,
    /// Held while folding, so two followers never fold the same entries.
    folding: Mutex<()>,
}

impl Live {
    /// A live state that starts from `state`, folded from the log up to `checkpoint`.
    pub fn new(state: LadderState, checkpoint: StoredCheckpoint) -> Self {
        Self {
            state: RwLock::new(state),
            checkpoint: RwLock::new(checkpoint),
            folding: Mutex::new(()),
        }
    }

    /// Runs `f` on the live state when it is exactly the fold that `log_size` and `at` ask
    /// for, in one read lock: the same log size (when given), and no folded event dated after
    /// `at` (when given; otherwise the instant is [`stepwise::model::state::TrustState::instant_for`]
    /// `now`). Otherwise gives `f` back, for a replay from the store.
    pub fn answer<R, F: FnOnce(&LadderState, Time) -> R>(
        &self,
        log_size: Option<u64>,
        at: Option<Time>,
        now: Time,
        f: F,
    ) -> Result<R, F> {
        self.read(|state| {
            let trust = state.trust();
            if log_size.is_some_and(|n| n != trust.log_size()) {
                return Err(f);
            }
            match at {
                None => Ok(f(state, trust.instant_for(now))),
                Some(at) if trust.latest_event().is_none_or(|latest| latest <= at) => {
                    Ok(f(state, at))
                }
                Some(_) => Err(f),
            }
        })
    }

    /// Runs `f` on the current state (a read lock: many readers at once).
    pub fn read<R>(&self, f: impl FnOnce(&LadderState) -> R) -> R {
        let guard = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// The newest checkpoint read.
    pub fn checkpoint(&self) -> StoredCheckpoint {
        self.checkpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Folds the events this process just committed, as the ledger returned them, when they
    /// come right after what the state holds (no other writer slipped in between); otherwise
    /// reads the log back from `store`. Either way the state ends at the store's log.
    pub fn fold_committed(
        &self,
        appended: &Appended,
        store: &dyn Store,
    ) -> Result<u64, StoreError> {
        let mut recorded = appended
            .results
            .iter()
            .zip(&appended.events)
            .filter_map(|(r, e)| r.as_ref().ok().map(|&i| (i, e)))
            .peekable();
        {
            let _folding = self
                .folding
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let from = self.read(|s| s.trust().log_size());
            if recorded.peek().is_some_and(|&(first, _)| first == from) {
                let mut state = self
                    .state
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (index, event) in recorded {
                    state.apply(index, event);
                }
                drop(state);
                *self
                    .checkpoint
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    appended.checkpoint.clone();
                return Ok(appended.checkpoint.size);
            }
        }
        self.catch_up(store)
    }

    /// Folds every entry the store has beyond what the state holds; returns the new log size.
    /// Entries are decoded before the write lock is taken, so readers wait only for the fold.
    pub fn catch_up(&self, store: &dyn Store) -> Result<u64, StoreError> {
        let _folding = self
            .folding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from = self.read(|s| s.trust().log_size());
        let Some(checkpoint) = store.latest_checkpoint()? else {
            return Ok(from);
        };
        let to = checkpoint.size;
        if to <= from {
            return Ok(from);
        }
        let mut events = Vec::with_capacity(usize::try_from(to - from).unwrap_or(0));
        store.scan(from, to, &mut |entry| {
            events.push((entry.index, decode_entry(&entry)?));
            Ok(())
        })?;
        {
            let mut state = self
                .state
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (index, event) in &events {
                state.apply(*index, event);
            }
        }
        *self
            .checkpoint
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = checkpoint;
        Ok(to)
    }
}

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

/// Re-reads the store every `interval` so entries written by other processes reach the live
/// state; stops when `stop` is set.
/// A handle that fails is replaced by a new one from `pool` (a lost connection).
pub fn spawn_follower(
    store: Box<dyn Store>,
    pool: Arc<Pool>,
    live: Arc<Live>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stepwise-follower".into())
        .spawn(move || {
            let mut store = Some(store);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                let result = match &store {
                    Some(s) => live.catch_up(&**s).map(drop),
                    None => pool.open().map(|s| store = Some(s)),
                };
                if let Err(e) = result {
                    tracing::warn!("following the log failed (will retry): {e}");
                    store = None;
                }
            }
        })
}

/// Everything a request handler can reach.
pub struct App {
    /// The operator's policy (ladder, model, ledger rules).
    pub policy: Policy,
    /// The policy file's text, as served.
    pub policy_text: String,
    /// The log's verifier key, in signed-note form.
    pub verifier_key: String,
    /// Appends.
    pub writer: Writer,
    /// The live trust state.
    pub live: Arc<Live>,
    /// Store handles for reads.
    pub pool: Arc<Pool>,
    /// API keys seen recently.
    pub keys: KeyCache,
    /// Per-key request budgets.
    pub limiter: RateLimiter,
    /// Request and commit figures.
    pub metrics: Arc<Metrics>,
    /// Size limits and timeouts.
    pub limits: Limits,
    /// Bounds how many past-instant replays (`at` in the past) run at once.
    pub replays: tokio::sync::Semaphore,
}
