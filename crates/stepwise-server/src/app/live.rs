//! The live trust state: a view of the log that only ever moves forward, by folding entries
//! read back from the store (or just committed by this process), and the follower thread that
//! keeps it current when other processes append.

use super::Pool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use stepwise::evidence::Time;
use stepwise::ladder::LadderState;
use stepwise::ledger::{Appended, decode_entry};
use stepwise::store::{Store, StoreError, StoredCheckpoint};

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
