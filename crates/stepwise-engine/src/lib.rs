//! stepwise's engine: the live trust state and everything that keeps it current, behind typed
//! questions that every door (the HTTP API, MCP on stdio and over HTTP, the gate, the command
//! line) asks in the same words.
//!
//! An [`Engine`] opens a data directory's store, folds the log into a [`Live`] state, and keeps
//! it current: appends go through one appender (a group-committing writer thread for a server,
//! or the caller's own thread for a single-client door such as the gate), a follower folds what
//! other processes append, a ranker keeps the network rank fresh and a tabler the principals
//! table. Questions ([`question`]) are checked once, here, with one message per mistake, and
//! answered from memory when the live state is the fold asked for, otherwise from a replay of
//! the stored prefix ([`Prefix`]). Answers are the wire views of `stepwise-api`, so every door
//! prints the same document; errors are [`Error`], a code of the one table with its message.
//!
//! Architecture Invariant: no door logic here — no HTTP, no MCP, no flags. The engine never
//! reads the clock on the decision path but through [`now`], once per question.

pub mod approvals;
mod error;
mod forget;
mod live;
pub mod metrics;
mod pool;
pub mod question;
pub mod reads;
mod receipt;
mod record;
pub mod telemetry;
mod writer;

pub use error::Error;
pub use live::{Live, RETAINED_RANKS, board, spawn_follower, spawn_ranker};
pub use metrics::Metrics;
pub use pool::{Opener, POOL_SIZE, Pool};
pub use record::{Recorded, Recorder, approval_refused, authorize};
pub use stepwise_api::Code;
pub use stepwise_store::names::Names;
pub use stepwise_store::replay::Prefix;
pub use writer::{Writer, Written};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwise::evidence::{Event, Time};
use stepwise::ladder::LadderState;
use stepwise::ledger::{Clock as _, Origin, SystemClock};
use stepwise::policy::Policy;
use stepwise_store::data_dir::{DataDir, DataDirError};
use stepwise_store::{Ledger, LedgerError, PostgresStore, SqliteStore, Store, StoreError};

/// The current instant, by the clock the ledger stamps entries with.
pub fn now() -> Time {
    SystemClock.now()
}

/// An engine over a fresh data directory `dir` for unit tests: no ranker, no principals table;
/// appends through the writer thread (`group_commit`) or on the caller's.
#[cfg(test)]
pub(crate) fn test_engine(dir: &std::path::Path, group_commit: bool) -> Engine {
    let options = Options {
        group_commit,
        ranker: false,
        tabler: false,
        ..Options::default()
    };
    Engine::open(&DataDir::new(dir), &options).expect("engine")
}

/// Where the log is kept and what the engine runs beside its state.
#[derive(Debug, Clone)]
pub struct Options {
    /// A `postgres://` URL: the log in PostgreSQL; `None`: the data directory's SQLite file.
    pub store: Option<String>,
    /// How often the follower folds what other processes appended.
    pub follow_interval: Duration,
    /// Appends on a writer thread that group-commits every request waiting (a server with many
    /// clients), or on the caller's own thread (one client: no thread hop on its path).
    pub group_commit: bool,
    /// Keep the network rank fresh in the background (a ranker thread).
    pub ranker: bool,
    /// Keep the principals table in the background (a tabler thread; the dashboard's reads).
    pub tabler: bool,
    /// How long a question that names a `min_log_size` this process has not folded yet waits
    /// for it ([`Engine::caught_up`]).
    pub catch_up_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: None,
            follow_interval: Duration::from_millis(250),
            group_commit: true,
            ranker: true,
            tabler: true,
            catch_up_wait: CATCH_UP_WAIT,
        }
    }
}

/// How long a question waits for its `min_log_size` by default.
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(2);

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be read or created.
    #[error(transparent)]
    Data(#[from] DataDirError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A thread could not be started.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The store option is not one this build knows.
    #[error("--store {0:?}: expected a postgres:// or postgresql:// URL")]
    StoreUrl(String),
}

/// How appends reach the ledger.
enum Appender {
    /// One writer thread, group-committing whatever requests wait.
    Group(Writer),
    /// The caller's thread, one commit at a time.
    Direct(Box<Mutex<Ledger<Box<dyn Store>>>>),
}

/// The engine: the policy, the live state and the threads that keep it current.
pub struct Engine {
    /// The policy as written, in ids (what doors read: the gate's tools, the ladder's levels).
    policy: Policy,
    /// The same policy in the log's names (pseudonyms): what the fold and replays use.
    fold_policy: Policy,
    /// Ids ↔ the log's names, for the doors.
    names: Arc<Names>,
    policy_text: String,
    /// Its SHA-256, as the log's `policy` entries record it.
    policy_sha256: String,
    /// The log's signing key: it signs receipts.
    signer: stepwise::ledger::note::LogSigner,
    verifier_key: String,
    appender: Appender,
    live: Arc<Live>,
    pool: Arc<Pool>,
    metrics: Arc<Metrics>,
    /// Bounds how many replays of an earlier prefix run at once.
    replays: tokio::sync::Semaphore,
    /// The latest checkpoint the witnesses' quorum cosigned.
    witnessed: receipt::Witnessed,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The follower thread, woken when a question waits for entries not folded yet.
    follower: std::thread::Thread,
    catch_up_wait: Duration,
    stop: Arc<AtomicBool>,
}

/// How often a long start-up says how far its fold has come.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How many entries the ledger's replay hands the live state's fold at a time, at start-up.
const REPLAYED_CHUNK: usize = if cfg!(test) { 64 } else { 8_192 };

/// Opens the ledger over a new store handle (again after a lost connection).
type LedgerOpener = Box<dyn Fn() -> Result<Ledger<Box<dyn Store>>, LedgerError> + Send>;

impl Engine {
    /// Opens the data directory `data` (created when new) and its store, folds the log, and
    /// starts the threads `options` asks for. Blocking work (the PostgreSQL client is
    /// blocking): call it off the async threads.
    pub fn open(data: &DataDir, options: &Options) -> Result<Self, OpenError> {
        if !data.is_initialized() {
            data.create(None)?;
        }
        let policy = data.policy()?;
        let policy_text = std::fs::read_to_string(data.policy_path()).unwrap_or_default();
        let signer = data.signer()?;
        let receipt_signer = signer.clone();
        let verifier_key = signer.verifier().encode();
        let opener: Opener = match &options.store {
            None => {
                let path = data.store_path();
                Box::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let url = url.clone();
                Box::new(move || Ok(Box::new(PostgresStore::connect(&url)?) as Box<dyn Store>))
            }
            Some(other) => return Err(OpenError::StoreUrl(other.clone())),
        };
        let pool = Arc::new(Pool::new(opener));
        let (names, fold_policy) = {
            let mut store = pool.open()?;
            let names = Arc::new(Names::open(&*store)?);
            let fold_policy = names.name_policy(&mut *store, &policy)?;
            (names, fold_policy)
        };
        let replaying_signer = signer.clone();
        let open_ledger: LedgerOpener = {
            let pool = Arc::clone(&pool);
            let config = fold_policy.ledger.clone();
            let names = Arc::clone(&names);
            Box::new(move || {
                Ledger::open_sealing(
                    pool.open()?,
                    signer.clone(),
                    config.clone(),
                    Arc::new(SystemClock),
                    Arc::clone(&names),
                )
            })
        };
        let policy_sha256 = stepwise_store::ledger::policy_sha256(&policy_text);
        let empty = || LadderState::new(fold_policy.model.clone(), fold_policy.ladder.clone());
        let live_policy = || (policy_sha256.clone(), policy.clone());
        // The live state folds the log on a thread of its own as the ledger replays it into
        // its registry, from the entries the replay decodes (the log is read once): start-up
        // costs the longer of the two rather than their sum. Not when a crash cut an erasure
        // short: that is finished before anything is folded.
        let erasing = !stepwise_store::forget::pending(&*pool.open()?, now())?.is_empty();
        let first = if erasing {
            None
        } else {
            pool.open()?.latest_checkpoint()?
        };
        let (mut ledger, early) = std::thread::scope(|scope| -> Result<_, OpenError> {
            let (chunks, replayed) = std::sync::mpsc::sync_channel::<Vec<(u64, Event)>>(2);
            let folding = first.map(|checkpoint| {
                scope.spawn(|| -> Result<Live, StoreError> {
                    let store = pool.open()?;
                    let size = checkpoint.size;
                    let live = Live::new(empty(), checkpoint, Arc::clone(&names), live_policy());
                    let started = std::time::Instant::now();
                    let mut said = started;
                    for events in replayed {
                        live.fold_replayed(&*store, &events)?;
                        if said.elapsed() >= PROGRESS_EVERY {
                            said = std::time::Instant::now();
                            let folded = events.last().map_or(0, |(index, _)| index + 1);
                            tracing::info!(
                                "start-up: {folded} of {size} entries folded ({:.0}%) in {:.0} s",
                                100.0 * folded as f64 / size.max(1) as f64,
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(live)
                })
            });
            let mut events = Vec::new();
            let ledger = Ledger::open_sealing_replaying(
                pool.open()?,
                replaying_signer,
                fold_policy.ledger.clone(),
                Arc::new(SystemClock),
                Arc::clone(&names),
                &mut |index, event| {
                    if folding.is_none() {
                        return;
                    }
                    events.push((index, event.clone()));
                    if events.len() == REPLAYED_CHUNK {
                        // A folder that stopped has its error to give at the join.
                        let _ = chunks.send(std::mem::take(&mut events));
                    }
                },
            );
            let _ = chunks.send(events);
            drop(chunks);
            let early = match folding.map(|thread| thread.join()) {
                None => None,
                Some(Ok(folded)) => Some(folded?),
                Some(Err(panic)) => std::panic::resume_unwind(panic),
            };
            Ok((ledger?, early))
        })?;
        // What the live state folded is what the ledger replayed: the log up to its checkpoint.
        if let Some(live) = &early {
            live.folded_through(ledger.checkpoint().clone());
        }
        forget::finish_at_open(&mut ledger, &names, &mut *pool.open()?)?;
        // The policy in force is in the log before anything is decided under it.
        ledger.record_policy(&policy_text)?;
        let live = early.unwrap_or_else(|| {
            let checkpoint = ledger.checkpoint().clone();
            Live::new(empty(), checkpoint, Arc::clone(&names), live_policy())
        });
        let live = Arc::new(live.started(ledger.store(), now(), options.tabler)?);
        let metrics = Arc::new(Metrics::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let appender = if options.group_commit {
            let folder_pool = Arc::clone(&pool);
            let (writer, thread) = Writer::spawn(
                ledger,
                open_ledger,
                move || folder_pool.open(),
                Arc::clone(&live),
                Arc::clone(&metrics),
            )?;
            threads.push(thread);
            Appender::Group(writer)
        } else {
            Appender::Direct(Box::new(Mutex::new(ledger)))
        };
        let follower_store = pool.open()?;
        live.catch_up(&*follower_store)?;
        let witnessed = receipt::Witnessed::new(follower_store.latest_witnessed()?);
        let follower = spawn_follower(
            follower_store,
            Arc::clone(&pool),
            Arc::clone(&live),
            options.follow_interval,
            Arc::clone(&stop),
        )?;
        let follower_thread = follower.thread().clone();
        threads.push(follower);
        if options.ranker {
            threads.push(spawn_ranker(
                Arc::clone(&live),
                fold_policy.network,
                Arc::clone(&metrics),
                Arc::clone(&stop),
            )?);
        }
        if options.tabler {
            threads.push(board::spawn_tabler(
                Arc::clone(&live),
                board::TABLE_INTERVAL,
                Arc::clone(&metrics),
                Arc::clone(&stop),
            )?);
        }
        Ok(Self {
            policy,
            fold_policy,
            names,
            policy_text,
            policy_sha256,
            signer: receipt_signer,
            verifier_key,
            appender,
            live,
            pool,
            metrics,
            replays: tokio::sync::Semaphore::new(2),
            witnessed,
            threads: Mutex::new(threads),
            follower: follower_thread,
            catch_up_wait: options.catch_up_wait,
            stop,
        })
    }

    /// The operator's policy (ladder, model, ledger rules, gate).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy in the log's names, as the fold and replays use it.
    pub fn fold_policy(&self) -> &Policy {
        &self.fold_policy
    }

    /// Ids ↔ the log's names: what a door translates questions and answers with.
    pub fn names(&self) -> &Arc<Names> {
        &self.names
    }

    /// The policy file's text, as served.
    pub fn policy_text(&self) -> &str {
        &self.policy_text
    }

    /// The log's verifier key, in signed-note form.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The live trust state.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// Store handles for reads.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Commit, rank and request figures.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Waits until the live state holds at least `min_log_size` entries, when a question
    /// names one ("read your writes": a client that recorded through another process asks for
    /// an answer that includes its write), for up to the engine's `catch_up_wait`; the
    /// follower is woken first, so that a store that does not announce appends is read at
    /// once. Fails with `log_behind` (503), naming the size folded, when the time runs out.
    pub async fn caught_up(&self, min_log_size: Option<u64>) -> Result<(), Error> {
        let Some(min) = min_log_size else {
            return Ok(());
        };
        if self.live.read(|s| s.trust().log_size()) >= min {
            return Ok(());
        }
        self.follower.unpark();
        let size = self.live.wait_for_size(min, self.catch_up_wait).await;
        if size >= min {
            return Ok(());
        }
        Err(Error::log_behind(size, min, self.catch_up_wait))
    }

    /// How far this process's live state is behind the store, without reading it: the size
    /// folded, the largest size seen in the store (announced, read or written here), and
    /// whether the follower's last read of the store failed.
    pub fn lag(&self) -> (u64, u64, bool) {
        let folded = self.live.read(|s| s.trust().log_size());
        let (seen, failing) = self.live.store_seen();
        (folded, seen.max(folded), failing)
    }

    /// Appends `events`, dated as `origin` says; answers once they are durable and folded into
    /// the live state. Each event's result is its index or why the ledger refused it, or, for
    /// an approval its approver may not give now, why it was not appended (`may_approve`).
    pub async fn append(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let screened = self.screen_approvals(events, origin);
        let nothing_left = screened.nothing_left();
        let record::Screened { events, refused } = screened;
        let written = match &self.appender {
            _ if nothing_left => None,
            Appender::Group(writer) => Some(writer.append(events, origin).await?),
            Appender::Direct(_) => Some(self.commit_here(events, origin)?),
        };
        Ok(refused.answer(written, || self.live.checkpoint()))
    }

    /// Appends `events` on the calling thread (an engine opened without group commit), or
    /// hands them to the writer and blocks until they are durable: for sync callers. As
    /// [`Engine::append`], an approval its approver may not give now is refused.
    pub fn append_here(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let screened = self.screen_approvals(events, origin);
        let nothing_left = screened.nothing_left();
        let record::Screened { events, refused } = screened;
        let written = match nothing_left {
            true => None,
            false => Some(self.commit_here(events, origin)?),
        };
        Ok(refused.answer(written, || self.live.checkpoint()))
    }

    /// Appends `events` through the writer or on the calling thread, as they are.
    fn commit_here(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        match &self.appender {
            Appender::Group(writer) => writer.append_blocking(events, origin),
            Appender::Direct(ledger) => {
                let mut ledger = ledger
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let appended = ledger
                    .append_as(events, origin)
                    .map_err(writer::append_failed)?;
                self.live.fold_committed(&appended, ledger.store())?;
                Ok(Written {
                    results: appended.results,
                    checkpoint: appended.checkpoint,
                })
            }
        }
    }

    /// Stops the threads: the writer once it has answered every append sent before, then the
    /// follower, ranker and tabler. Appends after it are refused (`unavailable`). Blocking: call
    /// it off the async threads.
    pub fn stop(&self) {
        if let Appender::Group(writer) = &self.appender {
            writer.close();
        }
        self.stop.store(true, Ordering::Relaxed);
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for thread in &threads {
            // A follower parked for its interval wakes now.
            thread.thread().unpark();
        }
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    /// An engine dropped without [`Engine::stop`] stops its threads all the same.
    fn drop(&mut self) {
        self.stop();
    }
}
