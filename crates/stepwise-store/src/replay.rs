//! Replay: a stored log folded into a trust or ladder state ([`trust_state`], [`ladder_state`]).
//! The one place where the model meets the store, so that `model` and `ladder` never touch
//! storage.

use crate::decode_entry;
use crate::{LogStore, StoreError};
use stepwise::evidence::{Event, Time};
use stepwise::ladder::{Ladder, LadderState};
use stepwise::model::params::ModelParams;
use stepwise::model::state::TrustState;

/// Which entries of a stored log a replay folds: the first `log_size` (all when `None`), and of
/// those only the ones whose event time is at or before `until` (all when `None`); and where its
/// network rank comes from: the fold of the first `rank_log_size` entries (of those up to
/// `until`), or, when `None`, the fold itself. An answer computed from a prefix is exact:
/// entries appended later, whatever their `at`, never reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix {
    /// How many entries, from the first.
    pub log_size: Option<u64>,
    /// The instant: events dated after it are left out.
    pub until: Option<Time>,
    /// The log size of the network rank (at most `log_size`).
    pub rank_log_size: Option<u64>,
}

impl Prefix {
    /// The whole log.
    pub const ALL: Prefix = Prefix {
        log_size: None,
        until: None,
        rank_log_size: None,
    };

    /// The whole log up to instant `until`.
    pub fn until(until: Time) -> Self {
        Self {
            until: Some(until),
            ..Self::ALL
        }
    }
}

/// Decodes every stored entry that `prefix` selects and hands it to `apply` in log order;
/// returns the log size folded (the prefix's, or the store's when it holds fewer entries). A
/// stored entry that does not decode is an error: the log is damaged (`stepwise log verify`
/// says where).
pub fn fold_log<S: LogStore + ?Sized>(
    store: &S,
    prefix: Prefix,
    progress: &mut dyn FnMut(u64),
    apply: &mut dyn FnMut(u64, &Event),
) -> Result<u64, StoreError> {
    let stored = store.size()?;
    let size = prefix.log_size.map_or(stored, |n| n.min(stored));
    let until = prefix.until;
    store.scan(0, size, &mut |entry| {
        let event = decode_entry(&entry)?;
        // A policy entry is no evidence dated in the world: the policy it records is in force
        // for the whole prefix, whatever instant the question is about.
        let policy = matches!(event.body, stepwise::evidence::Body::Policy { .. });
        if policy || until.is_none_or(|t| event.at <= t) {
            apply(entry.index, &event);
        }
        if entry.index % 65_536 == 65_535 {
            progress(entry.index + 1);
        }
        Ok(())
    })?;
    progress(size);
    Ok(size)
}

/// What a replay folds into: a trust state, or a ladder state around one.
trait Fold {
    fn apply(&mut self, index: u64, event: &Event);
    fn refresh_rank_as_of(&mut self, log_size: u64);
    fn set_log_size(&mut self, size: u64);
}

impl Fold for TrustState {
    fn apply(&mut self, index: u64, event: &Event) {
        TrustState::apply(self, index, event);
    }
    fn refresh_rank_as_of(&mut self, log_size: u64) {
        TrustState::refresh_rank_as_of(self, log_size);
    }
    fn set_log_size(&mut self, size: u64) {
        TrustState::set_log_size(self, size);
    }
}

impl Fold for LadderState {
    fn apply(&mut self, index: u64, event: &Event) {
        LadderState::apply(self, index, event);
    }
    fn refresh_rank_as_of(&mut self, log_size: u64) {
        LadderState::refresh_rank_as_of(self, log_size);
    }
    fn set_log_size(&mut self, size: u64) {
        LadderState::set_log_size(self, size);
    }
}

/// Folds the entries `prefix` selects into `state`, publishing the rank `prefix` asks for
/// (of the first `rank_log_size` entries) on the way.
fn replay_into<S: LogStore + ?Sized, T: Fold>(
    store: &S,
    mut state: T,
    prefix: Prefix,
    progress: &mut dyn FnMut(u64),
) -> Result<T, StoreError> {
    let mut rank_at = prefix.rank_log_size;
    let size = fold_log(store, prefix, progress, &mut |index, event| {
        if let Some(k) = rank_due(&mut rank_at, index) {
            state.refresh_rank_as_of(k);
        }
        state.apply(index, event);
    })?;
    if let Some(k) = rank_due(&mut rank_at, size) {
        state.refresh_rank_as_of(k);
    }
    state.set_log_size(size);
    Ok(state)
}

/// Folds a stored log into a new trust state: the entries `prefix` selects (all, by default).
/// `progress` hears the number of entries read now and then.
pub fn trust_state<S: LogStore + ?Sized>(
    store: &S,
    params: ModelParams,
    prefix: Prefix,
    progress: &mut dyn FnMut(u64),
) -> Result<TrustState, StoreError> {
    replay_into(store, TrustState::new(params), prefix, progress)
}

/// Folds the entries of a stored log that `prefix` selects into a new ladder state (see
/// [`trust_state`]).
pub fn ladder_state<S: LogStore + ?Sized>(
    store: &S,
    params: ModelParams,
    ladder: Ladder,
    prefix: Prefix,
    progress: &mut dyn FnMut(u64),
) -> Result<LadderState, StoreError> {
    replay_into(store, LadderState::new(params, ladder), prefix, progress)
}

/// Whether the rank asked for (as of log size `rank_at`) is due before the entry at `index` is
/// folded (or at the end, `index` the log size): then its log size, once.
fn rank_due(rank_at: &mut Option<u64>, index: u64) -> Option<u64> {
    let due = rank_at.filter(|&k| k <= index);
    if due.is_some() {
        *rank_at = None;
    }
    due
}
