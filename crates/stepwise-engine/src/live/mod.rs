//! The live trust state: a view of the log that only ever moves forward, by folding entries
//! read back from the store (or just committed by this process); the follower thread that
//! keeps it current when other processes append; and the ranker thread that keeps its network
//! rank fresh, so that no request ever computes it.

pub mod board;
pub mod marks;

use crate::Pool;
use crate::metrics::Metrics;
use board::{Journal, NEWS_BACKLOG, News, Table};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use stepwise::evidence::Event;
use stepwise::evidence::Time;
use stepwise::ladder::LadderState;
use stepwise::model::state::RankSnapshot;
use stepwise::policy::Policy;
use stepwise::policy::RankRefresh;
use stepwise_api::PrincipalStep;
use stepwise_store::names::Names;
use stepwise_store::replay::Prefix;
use stepwise_store::{Appended, decode_entry};
use stepwise_store::{Growth, Store, StoreError, StoredCheckpoint};

/// How many published ranks are kept for replays that name one (`rank_log_size`): a replay
/// with one of them gives the very bits answered; an older one is computed again (cold), equal
/// within the rank's ε.
pub const RETAINED_RANKS: usize = 4;

/// How many entries a catch-up decodes before folding them.
const CATCH_UP_CHUNK: u64 = if cfg!(test) { 64 } else { 8_192 };

/// The trust state as of the newest entry this process has read, with the newest checkpoint.
pub struct Live {
    state: RwLock<LadderState>,
    checkpoint: RwLock<StoredCheckpoint>,
    /// Held while folding, so two followers never fold the same entries.
    folding: Mutex<()>,
    /// The latest published ranks, newest last.
    retained: Mutex<VecDeque<RankSnapshot>>,
    /// Standing marks and recent steps, written with the state (lock order: state, then
    /// journal).
    journal: RwLock<Journal>,
    /// The principals table, replaced whole by the tabler thread.
    table: RwLock<Arc<Table>>,
    /// Announcements for the live stream.
    news: tokio::sync::broadcast::Sender<News>,
    /// The size of the newest checkpoint folded, for whoever waits for a size
    /// ([`Live::wait_for_size`]).
    size: tokio::sync::watch::Sender<u64>,
    /// The largest log size this process has seen the store hold (announced, read or written
    /// by it), and whether its follower's last read of the store failed: `/healthz`'s lag.
    store_size: AtomicU64,
    store_failing: AtomicBool,
    /// Ids ↔ the log's names, kept current with what other processes append and forget.
    names: Arc<Names>,
    /// The SHA-256 of the policy the state is folded under: once the log's last `policy`
    /// entry records another that folds differently (another process applied one), the live
    /// state is not what the log says and questions are answered by replays under the log's
    /// policy.
    policy: String,
    /// The policy itself (in ids), and what is known of other policies the log records: by
    /// SHA-256, whether the log folds alike under them ([`Policy::folds_as`]), so that a
    /// change of what changes no answer — a gate tool's pin — keeps the live state answering.
    policy_value: Policy,
    folds_alike: RwLock<HashMap<String, bool>>,
}

impl Live {
    /// A live state that starts from `state`, folded from the log up to `checkpoint`; its
    /// network rank is computed now, so that no request has to. Its journal holds only what
    /// is folded from now on, and its principals table is empty until one is published: see
    /// [`Live::started`] for a server's.
    pub fn new(
        mut state: LadderState,
        checkpoint: StoredCheckpoint,
        names: Arc<Names>,
        policy: (String, Policy),
    ) -> Self {
        let snapshot = state.trust().rank_job().snapshot();
        state.publish_rank(snapshot.clone());
        let (news, _) = tokio::sync::broadcast::channel(NEWS_BACKLOG);
        let size = tokio::sync::watch::Sender::new(checkpoint.size);
        Self {
            state: RwLock::new(state),
            checkpoint: RwLock::new(checkpoint),
            folding: Mutex::new(()),
            retained: Mutex::new(VecDeque::from([snapshot])),
            journal: RwLock::new(Journal::default()),
            table: RwLock::new(Arc::new(Table::default())),
            news,
            size,
            store_size: AtomicU64::new(0),
            store_failing: AtomicBool::new(false),
            names,
            policy: policy.0,
            policy_value: policy.1,
            folds_alike: RwLock::new(HashMap::new()),
        }
    }

    /// An engine's live state: this one (started from a state with nothing folded, of the
    /// policy's model and ladder, and folded through the journal since) with the rest of
    /// `store` folded in, so that it holds every event; its network rank and (with `table`)
    /// its principals table as of `now` computed before any request.
    pub fn started(self, store: &dyn Store, now: Time, table: bool) -> Result<Self, StoreError> {
        let live = self;
        live.catch_up(store)?;
        let job = live.read(|s| s.trust().rank_job());
        let ranking_since = Instant::now();
        tracing::info!(
            "start-up: {} entries folded; ranking {} principals",
            live.read(|s| s.trust().log_size()),
            live.read(|s| s.trust().principals())
        );
        if !table {
            live.publish_rank(job.snapshot());
            return Ok(live);
        }
        // The table's rows but the rank are computed while the rank is, on the other core.
        let (snapshot, unranked) = std::thread::scope(|scope| {
            let ranking = std::thread::Builder::new()
                .name("stepwise-rank".into())
                .spawn_scoped(scope, || job.snapshot());
            match ranking {
                Ok(ranking) => {
                    let unranked = Table::unranked(&live, now);
                    let snapshot = ranking
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (snapshot, unranked)
                }
                // No thread to be had: one after the other, as a job of the same state.
                Err(_) => (
                    live.read(|s| s.trust().rank_job()).snapshot(),
                    Table::unranked(&live, now),
                ),
            }
        });
        live.publish_rank(snapshot);
        live.publish_table(unranked.ranked(&live));
        tracing::info!(
            "start-up: the rank and the principals table computed in {:.1} s",
            ranking_since.elapsed().as_secs_f64()
        );
        Ok(live)
    }

    /// Publishes `snapshot` as the rank answers use (unless a newer one is), and keeps it for
    /// replays that name it.
    pub fn publish_rank(&self, snapshot: RankSnapshot) {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .publish_rank(snapshot.clone());
        let mut retained = self
            .retained
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if retained.len() >= RETAINED_RANKS {
            retained.pop_front();
        }
        retained.push_back(snapshot);
    }

    /// The published rank of log size `log_size`, if it is still kept.
    pub fn retained_rank(&self, log_size: u64) -> Option<RankSnapshot> {
        self.retained
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|r| r.log_size == log_size)
            .cloned()
    }

    /// Runs `f` on the live state when it is exactly the fold `prefix` asks for, in one read
    /// lock: the same log size and rank log size (when given), and no folded event dated after
    /// `until` (when given; otherwise the instant is
    /// [`stepwise::model::state::TrustState::instant_for`] `now`). Otherwise gives `f` back, for
    /// a replay from the store.
    pub fn answer<R, F: FnOnce(&LadderState, Time) -> R>(
        &self,
        prefix: Prefix,
        now: Time,
        f: F,
    ) -> Result<R, F> {
        self.read(|state| {
            let trust = state.trust();
            if prefix.log_size.is_some_and(|n| n != trust.log_size())
                || prefix
                    .rank_log_size
                    .is_some_and(|k| k != trust.rank_log_size())
                || trust
                    .policy_entry()
                    .is_some_and(|(_, sha256)| !self.folds_alike(sha256))
            {
                return Err(f);
            }
            match prefix.until {
                None => Ok(f(state, trust.instant_for(now))),
                Some(at) if trust.latest_event().is_none_or(|latest| latest <= at) => {
                    Ok(f(state, at))
                }
                Some(_) => Err(f),
            }
        })
    }

    /// Whether the log folds alike under the policy `sha256` as under this state's own.
    fn folds_alike(&self, sha256: &str) -> bool {
        sha256 == self.policy
            || (self.folds_alike.read())
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(sha256)
                .copied()
                .unwrap_or(false)
    }

    /// Learns, from the texts `store` keeps, whether the policies `events` record fold alike
    /// (once per policy), before they are folded: the state never holds a policy entry this
    /// process has not judged.
    fn learn_policies<'e>(
        &self,
        store: &dyn Store,
        events: impl Iterator<Item = &'e Event>,
    ) -> Result<(), StoreError> {
        for event in events {
            let stepwise::evidence::Body::Policy { sha256 } = &event.body else {
                continue;
            };
            let known = (self.folds_alike.read())
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(sha256);
            if *sha256 == self.policy || known {
                continue;
            }
            let alike = store.policy_text(sha256)?.is_some_and(|text| {
                Policy::from_toml(&text).is_ok_and(|p| p.folds_as(&self.policy_value))
            });
            (self.folds_alike.write())
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(sha256.clone(), alike);
        }
        Ok(())
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
                self.learn_policies(store, appended.events.iter())?;
                self.fold(recorded);
                self.set_checkpoint(appended.checkpoint.clone());
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
        // A chunk at a time, so that a long log (a server starting) is never all decoded at
        // once; each chunk's fold leaves the state at a prefix of the log.
        let read = |send: &mut dyn FnMut(Vec<(u64, Event)>)| -> Result<(), StoreError> {
            let mut start = from;
            while start < to {
                let end = to.min(start + CATCH_UP_CHUNK);
                let mut events = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
                store.scan(start, end, &mut |entry| {
                    events.push((entry.index, decode_entry(&entry)?));
                    Ok(())
                })?;
                self.learn(store, &events)?;
                send(events);
                start = end;
            }
            Ok(())
        };
        let fold = |events: Vec<(u64, Event)>| self.fold(events.iter().map(|(i, e)| (*i, e)));
        if to - from <= CATCH_UP_CHUNK {
            read(&mut |events| fold(events))?;
        } else {
            // A long catch-up folds each chunk on a thread of its own while the next is read
            // and decoded: it takes the longer of the two rather than their sum.
            std::thread::scope(|scope| {
                let (chunks, folded) = std::sync::mpsc::sync_channel(1);
                let folder = std::thread::Builder::new()
                    .name("stepwise-fold".into())
                    .spawn_scoped(scope, move || folded.into_iter().for_each(fold));
                let Ok(folder) = folder else {
                    return read(&mut |events| fold(events));
                };
                let read = read(&mut |events| {
                    // The folder ends only when this sender is dropped, or by a panic that
                    // the join below raises here.
                    let _ = chunks.send(events);
                });
                drop(chunks);
                if let Err(panic) = folder.join() {
                    std::panic::resume_unwind(panic);
                }
                read
            })?;
        }
        self.set_checkpoint(checkpoint);
        Ok(to)
    }

    /// Folds `events`, decoded by the ledger's replay at start-up (in log order, right after
    /// what the state holds), as [`Live::catch_up`] folds what it reads; the checkpoint is set
    /// once the replay is over ([`Live::folded_through`]).
    pub(crate) fn fold_replayed(
        &self,
        store: &dyn Store,
        events: &[(u64, Event)],
    ) -> Result<(), StoreError> {
        let _folding = self
            .folding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.learn(store, events)?;
        self.fold(events.iter().map(|(index, event)| (*index, event)));
        Ok(())
    }

    /// What the names and the policies known learn from `events`, before they are folded.
    fn learn(&self, store: &dyn Store, events: &[(u64, Event)]) -> Result<(), StoreError> {
        for (index, event) in events {
            self.names.observe(store, *index, event)?;
        }
        self.learn_policies(store, events.iter().map(|(_, e)| e))
    }

    /// Notes that the state holds the log up to `checkpoint`: what the ledger replayed at
    /// start-up, every entry of it handed to [`Live::fold_replayed`].
    pub(crate) fn folded_through(&self, checkpoint: StoredCheckpoint) {
        debug_assert_eq!(self.read(|s| s.trust().log_size()), checkpoint.size);
        self.set_checkpoint(checkpoint);
    }

    /// Folds `events` (in log order, right after what the state holds) into the state and the
    /// journal, announcing the steps they cause to whoever listens.
    fn fold<'e>(&self, events: impl Iterator<Item = (u64, &'e Event)>) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut journal = self
            .journal
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let listening = self.news.receiver_count() > 0;
        for (index, event) in events {
            let applied = state.apply(index, event);
            let noted = journal.note(&state, event.at, applied);
            if listening {
                for (s, steps) in noted {
                    let principal = state.trust().principal(s);
                    for step in steps {
                        if let Some(id) = principal {
                            let step = PrincipalStep::new(state.ladder(), id, step);
                            let _ = self.news.send(News::Step(Arc::new(step)));
                        }
                    }
                }
            }
        }
    }

    /// Ids ↔ the log's names, kept current by this state's fold.
    pub fn names(&self) -> &Arc<Names> {
        &self.names
    }

    /// Takes `checkpoint` as the newest, and announces the log's growth.
    fn set_checkpoint(&self, checkpoint: StoredCheckpoint) {
        let log_size = checkpoint.size;
        let news = News::Log {
            log_size,
            root: stepwise_api::hex(&checkpoint.root),
        };
        *self
            .checkpoint
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = checkpoint;
        self.saw_store_size(log_size);
        self.size.send_if_modified(|size| {
            let grew = log_size > *size;
            *size = (*size).max(log_size);
            grew
        });
        // Nobody listening is not an error.
        let _ = self.news.send(news);
    }

    /// Notes that the store holds `size` entries at least.
    fn saw_store_size(&self, size: u64) {
        self.store_size.fetch_max(size, Ordering::Relaxed);
    }

    /// The largest log size seen in the store, and whether the last read of it failed.
    pub fn store_seen(&self) -> (u64, bool) {
        (
            self.store_size.load(Ordering::Relaxed),
            self.store_failing.load(Ordering::Relaxed),
        )
    }

    /// Waits until the state has folded a log of `size` entries at least, or `within` has
    /// passed; the size folded then.
    pub async fn wait_for_size(&self, size: u64, within: Duration) -> u64 {
        let mut folded = self.size.subscribe();
        // The sender lives as long as `self`: the wait ends by the size or the time.
        let _ = tokio::time::timeout(within, folded.wait_for(|&n| n >= size)).await;
        *folded.borrow()
    }

    /// Runs `f` on the state and the journal together (read locks, in the fold's order).
    pub fn read_journal<R>(&self, f: impl FnOnce(&LadderState, &Journal) -> R) -> R {
        self.read(|state| {
            let journal = self
                .journal
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(state, &journal)
        })
    }

    /// The principals table as last computed.
    pub fn table(&self) -> Arc<Table> {
        Arc::clone(
            &self
                .table
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Replaces the principals table.
    pub fn publish_table(&self, table: Table) {
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }

    /// Listens to the live stream's announcements from now on.
    pub fn listen(&self) -> tokio::sync::broadcast::Receiver<News> {
        self.news.subscribe()
    }
}

/// How long the follower waits for an announcement at a time, so that it sees `stop` soon.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Keeps the live state current with what other processes append: on a store that announces
/// appends (PostgreSQL's `LISTEN`/`NOTIFY`) it folds each as soon as it is announced, and reads
/// the store every `interval` all the same, in case an announcement was lost; on one that does
/// not, it reads the store every `interval`, or at once when unparked ([`Engine::caught_up`]
/// does, for a question that waits).
/// A handle that fails is replaced by a new one from `pool` (a lost connection). Stops when
/// `stop` is set.
///
/// [`Engine::caught_up`]: crate::Engine::caught_up
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
            let mut polled = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let Some(s) = store.as_mut() else {
                    std::thread::park_timeout(interval);
                    match pool.open() {
                        Ok(s) => store = Some(s),
                        Err(e) => {
                            live.store_failing.store(true, Ordering::Relaxed);
                            tracing::warn!("following the log failed (will retry): {e}");
                        }
                    }
                    continue;
                };
                let due = match s.wait_for_append(interval.min(WAIT_SLICE)) {
                    Ok(Growth::Announced(size)) => {
                        size.inspect(|&n| live.saw_store_size(n));
                        size.is_none_or(|n| n > live.read(|s| s.trust().log_size()))
                    }
                    Ok(Growth::Quiet) => polled.elapsed() >= interval,
                    Ok(Growth::Unannounced) => {
                        // Parked rather than asleep, so that stopping (which unparks) need not
                        // wait out the interval.
                        std::thread::park_timeout(interval);
                        true
                    }
                    Err(e) => {
                        tracing::warn!("waiting for the log to grow failed (will retry): {e}");
                        live.store_failing.store(true, Ordering::Relaxed);
                        store = None;
                        continue;
                    }
                };
                if !due || stop.load(Ordering::Relaxed) {
                    continue;
                }
                polled = Instant::now();
                let caught_up = live.catch_up(&**s);
                live.store_failing
                    .store(caught_up.is_err(), Ordering::Relaxed);
                if let Err(e) = caught_up {
                    tracing::warn!("following the log failed (will retry): {e}");
                    store = None;
                }
            }
        })
}

/// Keeps the live state's network rank fresh, as `refresh` says: once the log has grown, at
/// most every `refresh.interval_micros`, or at once when `refresh.events` entries have been
/// folded since the last rank — but never sooner than its `Rest` allows, so that a rank that
/// takes seconds (10^7 events and more) leaves the cores to the questions. The rank is computed
/// from a copy of the pairs' local trust taken under a read lock, warm-started from the rank
/// published before, and published under a write lock that holds only a pointer swap. Stops
/// when `stop` is set.
pub fn spawn_ranker(
    live: Arc<Live>,
    refresh: RankRefresh,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = Duration::from_micros(u64::try_from(refresh.interval_micros).unwrap_or(0));
    let tick = interval.clamp(Duration::from_millis(1), Duration::from_millis(10));
    std::thread::Builder::new()
        .name("stepwise-ranker".into())
        .spawn(move || {
            let mut last = Instant::now();
            let mut rest = Rest::new(Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let (log_size, rank_log_size) =
                    live.read(|s| (s.trust().log_size(), s.trust().rank_log_size()));
                let behind = log_size.saturating_sub(rank_log_size);
                if behind == 0
                    || (behind < refresh.events && last.elapsed() < interval)
                    || !rest.over()
                {
                    continue;
                }
                last = Instant::now();
                let job = live.read(|s| s.trust().rank_job());
                let snapshot = job.snapshot();
                metrics.rank_refresh(last.elapsed());
                live.publish_rank(snapshot);
                rest.took(last);
            }
        })
}

/// The rest a view refreshed in the background takes between two computations: at least its
/// floor, and at least [`Rest::FACTOR`] times what the last computation took, so that at any
/// scale it keeps at most a fifth of one core.
pub(crate) struct Rest {
    floor: Duration,
    ended: Instant,
    at_least: Duration,
}

impl Rest {
    /// The last computation's time, times this, is the least rest after it.
    pub(crate) const FACTOR: u32 = 4;

    /// A rest of at least `floor`, the first counted from now.
    pub(crate) fn new(floor: Duration) -> Self {
        Self {
            floor,
            ended: Instant::now(),
            at_least: floor,
        }
    }

    /// Whether the rest is over: the next computation may start.
    pub(crate) fn over(&self) -> bool {
        self.ended.elapsed() >= self.at_least
    }

    /// A computation that began at `started` has just ended.
    pub(crate) fn took(&mut self, started: Instant) {
        self.ended = Instant::now();
        self.at_least = self
            .floor
            .max(self.ended.duration_since(started) * Self::FACTOR);
    }
}

#[cfg(test)]
mod tests {
    use crate::question::Decide;
    use crate::{Engine, Options, Prefix};
    use std::sync::Arc;
    use stepwise::evidence::{Body, Id};
    use stepwise_store::data_dir::DataDir;

    /// A refresher rests at least its floor, and at least four times what its last computation
    /// took: one that took 100 ms may not run again for 400 ms, whatever its floor.
    #[test]
    fn a_refresher_rests_four_times_its_last_computation() {
        use super::Rest;
        use std::time::{Duration, Instant};
        assert!(Rest::new(Duration::ZERO).over(), "no floor: at once");
        assert!(
            !Rest::new(Duration::from_secs(3600)).over(),
            "an hour's floor"
        );
        let mut rest = Rest::new(Duration::ZERO);
        let started = Instant::now()
            .checked_sub(Duration::from_millis(100))
            .expect("an instant 100 ms ago");
        rest.took(started);
        assert!(!rest.over(), "a 100 ms computation rests 400 ms");
        let mut rest = Rest::new(Duration::ZERO);
        rest.took(Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        assert!(rest.over(), "a computation of no time rests no time");
    }

    /// An engine with no background thread but the follower, which waits an hour.
    fn quiet() -> Options {
        Options {
            group_commit: false,
            ranker: false,
            tabler: false,
            follow_interval: std::time::Duration::from_secs(3600),
            ..Options::default()
        }
    }

    /// Events of a few principals: promises, their outcomes (by the promisee, as the ledger
    /// requires), ratings with notes, vouches; `k` from `from` on.
    fn story(from: usize, n: usize) -> Vec<stepwise::evidence::Event> {
        use stepwise::evidence::Event;
        let event = |k: usize| {
            let (a, b) = (k % 17, (k * 7 + 3) % 17);
            let (a, b) = (
                format!("user:{a}"),
                format!("user:{}", if a == b { 17 } else { b }),
            );
            let json = match k % 4 {
                0 => format!(
                    r#"{{"kind":"promise","at":"2026-11-01T00:00:00Z","id":"p{k}","promisor":"{a}","promisee":"{b}","scope":"work","stake":5,"due":"2026-11-02T00:00:00Z"}}"#
                ),
                1 => format!(
                    r#"{{"kind":"outcome","at":"2026-11-01T01:00:00Z","promise":"p{}","result":"{}"}}"#,
                    k - 1,
                    if k.is_multiple_of(3) {
                        "broken"
                    } else {
                        "kept"
                    }
                ),
                2 => format!(
                    r#"{{"kind":"rating","at":"2026-11-01T02:00:00Z","rater":"{a}","subject":"{b}","value":0.5,"note":"n{k}"}}"#
                ),
                _ => format!(
                    r#"{{"kind":"vouch","at":"2026-11-01T03:00:00Z","voucher":"{a}","subject":"{b}","weight":0.5}}"#
                ),
            };
            Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
        };
        (from..from + n)
            .map(|k| {
                let mut e = event(k);
                if k % 4 == 1 {
                    let Body::Promise { promisee, .. } = event(k - 1).body else {
                        unreachable!("k - 1 is a promise")
                    };
                    e.author = Some(promisee);
                }
                e
            })
            .collect()
    }

    /// A server starting on a long log folds the entries its ledger's replay decodes, many
    /// chunks of them, on a thread of its own; a catch-up of many chunks later folds each on a
    /// thread of its own while the next is read. Both end in the state a replay of the stored
    /// log gives, at the log's size.
    #[test]
    fn a_long_fold_ends_where_a_replay_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let data = DataDir::new(dir.path());
        let options = quiet();
        drop(Engine::open(&data, &options).expect("a new data directory"));
        let clock = Arc::new(stepwise::ledger::SystemClock);
        let mut ledger = data.open_ledger(clock).expect("ledger");
        let append = |ledger: &mut stepwise_store::Ledger<_>, from: usize| {
            for k in (from..from + 400).step_by(100) {
                let events = story(k, 100);
                let appended = (ledger.append_as(events, stepwise::ledger::Origin::History))
                    .expect("appended");
                assert!(
                    appended.results.iter().all(Result::is_ok),
                    "{:?}",
                    appended.results
                );
            }
        };
        append(&mut ledger, 0);
        let engine = Engine::open(
            &data,
            &Options {
                tabler: true,
                ..quiet()
            },
        )
        .expect("engine");
        let store = engine.pool().open().expect("store");
        let params = engine.live().read(|s| s.trust().params().clone());
        let replay = || {
            stepwise_store::replay::trust_state(&*store, params.clone(), Prefix::ALL, &mut |_| {})
                .expect("replay")
        };
        let size = ledger.size();
        assert!(size > 4 * super::CATCH_UP_CHUNK, "several chunks: {size}");
        assert_eq!(engine.live().read(|s| s.trust().log_size()), size);
        assert_eq!(engine.live().checkpoint().size, size);
        assert!(engine.live().read(|s| *s.trust() == replay()), "started");
        // The principals table, computed while the rank was, ranks each row by that rank.
        let table = engine.live().table();
        let scores = engine.live().read(|s| s.trust().ranking().scores.clone());
        assert_eq!(table.log_size, size);
        assert_eq!(table.rows.len(), scores.len());
        assert!(
            table
                .rows
                .iter()
                .zip(&scores)
                .all(|(row, &score)| row.rank == score)
        );
        assert!(scores.iter().any(|&score| score > 0.0));

        append(&mut ledger, 400);
        assert_eq!(
            engine.live().catch_up(&*store).expect("caught up"),
            ledger.size()
        );
        assert!(engine.live().read(|s| *s.trust() == replay()), "caught up");
    }

    /// Another process puts a policy in force: one that differs only in what changes no answer
    /// (a gate tool and its pin) leaves the live state answering; one that changes the model
    /// makes it stand aside, for replays under the log's policy.
    #[test]
    fn only_a_policy_that_folds_differently_stops_the_live_state_answering() {
        let dir = tempfile::tempdir().expect("dir");
        let data = DataDir::new(dir.path());
        let options = quiet();
        let engine = Engine::open(&data, &options).expect("engine");
        let bot = Id::parse("subject", "agent:bot").expect("id");
        let question = Decide::new(bot, "propose", 1.0, None, Prefix::ALL).expect("question");
        assert!(engine.decide_here(&question).is_some());
        let text = std::fs::read_to_string(data.policy_path()).expect("policy");
        let apply = |text: &str| {
            let clock = Arc::new(stepwise::ledger::SystemClock);
            let mut ledger = data.open_ledger(clock).expect("ledger");
            ledger
                .record_policy(text)
                .expect("recorded")
                .expect("a new entry");
            let store = engine.pool().open().expect("store");
            engine.live().catch_up(&*store).expect("caught up");
        };
        let pinned = format!(
            "{text}\n[gate.tools.\"echo\"]\ncapability = \"propose\"\nstake = 1\n\
             promisee = \"user:ann\"\ndue = \"1h\"\npin = \"{}\"\n",
            "ab".repeat(32)
        );
        apply(&pinned);
        assert!(
            engine.decide_here(&question).is_some(),
            "a pinned tool changes no answer: the live state still answers"
        );
        assert!(text.contains("base_rate = 0.5\n"));
        apply(&pinned.replace("base_rate = 0.5\n", "base_rate = 0.4\n"));
        assert!(
            engine.decide_here(&question).is_none(),
            "another base rate folds differently: the live state stands aside"
        );
    }
}
