//! A trust state's copy and its equality: a copy starts without the rank it computed lazily,
//! and two states are equal when they hold the same evidence.

use super::TrustState;
use std::sync::OnceLock;

impl Clone for TrustState {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            principals: self.principals.clone(),
            scopes: self.scopes.clone(),
            people: self.people.clone(),
            pairs: self.pairs.clone(),
            pair_index: self.pair_index.clone(),
            hasher: self.hasher.clone(),
            cites: self.cites.clone(),
            cite_prev: self.cite_prev.clone(),
            reach: self.reach.clone(),
            promises: self.promises.clone(),
            approvals: self.approvals.clone(),
            verdicts_given: self.verdicts_given,
            negative_given: self.negative_given,
            log_size: self.log_size,
            policy: self.policy.clone(),
            history: self.history.clone(),
            latest: self.latest,
            published: self.published.clone(),
            lazy_rank: OnceLock::new(),
        }
    }
}

/// Two states are equal when they hold the same evidence (a rank, published or cached, is a
/// view of it, not state).
impl PartialEq for TrustState {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.principals == other.principals
            && self.scopes == other.scopes
            && self.people == other.people
            && self.pairs == other.pairs
            && self.cites == other.cites
            && self.cite_prev == other.cite_prev
            && self.reach == other.reach
            && self.promises == other.promises
            && self.approvals == other.approvals
            && self.verdicts_given == other.verdicts_given
            && self.negative_given == other.negative_given
            && self.log_size == other.log_size
            && self.policy == other.policy
            && self.history == other.history
            && self.latest == other.latest
    }
}
