//! Replay: a stored log folded into a trust or ladder state. The one place where the model meets
//! the store, so that `model` and `ladder` never touch storage.

use super::decode_entry;
use crate::evidence::{Event, Time};
use crate::ladder::{Ladder, LadderState};
use crate::model::params::ModelParams;
use crate::model::state::TrustState;
use crate::store::{Store, StoreError};

/// Which entries of a stored log a replay folds: the first `log_size` (all when `None`), and of
/// those only the ones whose event time is at or before `until` (all when `None`). An answer
/// computed from a prefix is exact: entries appended later, whatever their `at`, never reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix {
    /// How many entries, from the first.
    pub log_size: Option<u64>,
    /// The instant: events dated after it are left out.
    pub until: Option<Time>,
}

impl Prefix {
    /// The whole log.
    pub const ALL: Prefix = Prefix {
        log_size: None,
        until: None,
    };

    /// The whole log up to instant `until`.
    pub fn until(until: Time) -> Self {
        Self {
            log_size: None,
            until: Some(until),
        }
    }
}

/// Decodes every stored entry that `prefix` selects and hands it to `apply` in log order;
/// returns the log size folded (the prefix's, or the store's when it holds fewer entries). A
/// stored entry that does not decode is an error: the log is damaged (`stepwise log verify`
/// says where).
pub fn fold_log<S: Store + ?Sized>(
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
        if until.is_none_or(|t| event.at <= t) {
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

impl TrustState {
    /// Folds a stored log into a new state: the entries `prefix` selects (all, by default).
    /// `progress` hears the number of entries read now and then.
    pub fn replay<S: Store + ?Sized>(
        store: &S,
        params: ModelParams,
        prefix: Prefix,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Self, StoreError> {
        let mut state = Self::new(params);
        let size = fold_log(store, prefix, progress, &mut |index, event| {
            state.apply(index, event)
        })?;
        state.set_log_size(size);
        Ok(state)
    }
}

impl LadderState {
    /// Folds the entries of a stored log that `prefix` selects into a new state (see
    /// [`TrustState::replay`]).
    pub fn replay<S: Store + ?Sized>(
        store: &S,
        params: ModelParams,
        ladder: Ladder,
        prefix: Prefix,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Self, StoreError> {
        let mut state = Self::new(params, ladder);
        let size = fold_log(store, prefix, progress, &mut |index, event| {
            state.apply(index, event)
        })?;
        state.set_log_size(size);
        Ok(state)
    }
}
