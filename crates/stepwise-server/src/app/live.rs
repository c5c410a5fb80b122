//! The live trust state: a view of the log that only ever moves forward, by folding entries
//! read back from the store (or just committed by this process); the follower thread that
//! keeps it current when other processes append; and the ranker thread that keeps its network
//! rank fresh, so that no request ever computes it.

use super::Pool;
use crate::metrics::Metrics;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use stepwise::evidence::Time;
use stepwise::ladder::LadderState;
use stepwise::ledger::{Appended, decode_entry};
use stepwise::model::state::RankSnapshot;
use stepwise::policy::RankRefresh;
use stepwise::store::{Store, StoreError, StoredCheckpoint};

/// How many published ranks are kept for replays that name one (`rank_log_size`): a replay
/// with one of them gives the very bits answered; an older one is computed again (cold), equal
/// within the rank's ε.
pub const RETAINED_RANKS: usize = 4;

/// What an answer is asked to be the fold of: the first `log_size` entries (default: all), the
/// network rank of the first `rank_log_size` (default: the latest published), the instant `at`
/// (default: now).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    /// Log size.
    pub log_size: Option<u64>,
    /// Log size of the network rank.
    pub rank_log_size: Option<u64>,
    /// Instant.
    pub at: Option<Time>,
}

/// The trust state as of the newest entry this process has read, with the newest checkpoint.
pub struct Live {
    state: RwLock<LadderState>,
    checkpoint: RwLock<StoredCheckpoint>,
    /// Held while folding, so two followers never fold the same entries.
    folding: Mutex<()>,
    /// The latest published ranks, newest last.
    retained: Mutex<VecDeque<RankSnapshot>>,
}

impl Live {
    /// A live state that starts from `state`, folded from the log up to `checkpoint`; its
    /// network rank is computed now, so that no request has to.
    pub fn new(mut state: LadderState, checkpoint: StoredCheckpoint) -> Self {
        let snapshot = state.trust().rank_job().snapshot();
        state.publish_rank(snapshot.clone());
        Self {
            state: RwLock::new(state),
            checkpoint: RwLock::new(checkpoint),
            folding: Mutex::new(()),
            retained: Mutex::new(VecDeque::from([snapshot])),
        }
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

    /// Runs `f` on the live state when it is exactly the fold `ask` asks for, in one read lock:
    /// the same log size and rank log size (when given), and no folded event dated after `at`
    /// (when given; otherwise the instant is [`stepwise::model::state::TrustState::instant_for`]
    /// `now`). Otherwise gives `f` back, for a replay from the store.
    pub fn answer<R, F: FnOnce(&LadderState, Time) -> R>(
        &self,
        ask: Ask,
        now: Time,
        f: F,
    ) -> Result<R, F> {
        self.read(|state| {
            let trust = state.trust();
            if ask.log_size.is_some_and(|n| n != trust.log_size())
                || ask
                    .rank_log_size
                    .is_some_and(|k| k != trust.rank_log_size())
            {
                return Err(f);
            }
            match ask.at {
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

/// Keeps the live state's network rank fresh, as `refresh` says: once the log has grown, at
/// most every `refresh.interval_micros`, or at once when `refresh.events` entries have been
/// folded since the last rank. The rank is computed from a copy of the pairs' local trust taken
/// under a read lock, warm-started from the rank published before, and published under a write
/// lock that holds only a pointer swap. Stops when `stop` is set.
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
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let (log_size, rank_log_size) =
                    live.read(|s| (s.trust().log_size(), s.trust().rank_log_size()));
                let behind = log_size.saturating_sub(rank_log_size);
                if behind == 0 || (behind < refresh.events && last.elapsed() < interval) {
                    continue;
                }
                last = Instant::now();
                let job = live.read(|s| s.trust().rank_job());
                let snapshot = job.snapshot();
                metrics.rank_refresh(last.elapsed());
                live.publish_rank(snapshot);
            }
        })
}
