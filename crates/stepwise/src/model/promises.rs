//! The promises that await judgement: what a promisee's review queue lists, oldest first.

use super::state::TrustState;
use crate::evidence::{Id, Time};

/// A promise with no outcome yet, as its promisee's queue lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenPromiseRow {
    /// The promise's id.
    pub id: Id,
    /// Who made it.
    pub promisor: Id,
    /// Who judges it.
    pub promisee: Id,
    /// In what scope.
    pub scope: Id,
    /// At what stake.
    pub stake: f64,
    /// When it was made.
    pub made: Time,
    /// When it falls due.
    pub due: Time,
    /// Whether it is past due at the instant asked about: it already counts as broken until an
    /// outcome is recorded.
    pub overdue: bool,
    /// Its log index.
    pub index: u64,
    /// Who approved it, when an approval let it through (docs/MODEL.md "Approvals"): the
    /// approver answers for it once it is judged.
    pub approver: Option<Id>,
}

impl TrustState {
    /// The promises with no outcome yet (made to `promisee`, or to anyone), oldest first (in log
    /// order), from the first one after log index `after`; at most `limit`, and whether more
    /// follow. Overdue ones are marked as of `at`.
    pub fn awaiting_judgement(
        &self,
        promisee: Option<&Id>,
        after: Option<u64>,
        limit: usize,
        at: Time,
    ) -> (Vec<OpenPromiseRow>, bool) {
        let wanted = match promisee {
            Some(id) => match self.principal_index(id) {
                Some(i) => Some(i),
                None => return (Vec::new(), false),
            },
            None => None,
        };
        let mut open: Vec<(u32, usize)> = Vec::new();
        for (promisor, person) in self.people.iter().enumerate() {
            for (k, o) in person.open.iter().enumerate() {
                if wanted.is_none_or(|w| w == o.promisee) && after.is_none_or(|a| o.index > a) {
                    open.push((promisor as u32, k));
                }
            }
        }
        let index = |&(p, k): &(u32, usize)| self.people[p as usize].open[k].index;
        let more = open.len() > limit;
        if more {
            open.select_nth_unstable_by_key(limit, index);
            open.truncate(limit);
        }
        open.sort_unstable_by_key(index);
        let rows = open
            .into_iter()
            .filter_map(|(p, k)| self.open_row(p, k, at))
            .collect();
        (rows, more)
    }

    /// The promises past due at `at` with no outcome: how many, and the oldest `limit` of them
    /// (in log order).
    pub fn past_due(&self, at: Time, limit: usize) -> (usize, Vec<OpenPromiseRow>) {
        let at_micros = at.as_micros();
        let mut due: Vec<(u64, u32, usize)> = Vec::new();
        for (promisor, person) in self.people.iter().enumerate() {
            for (k, o) in person.open.iter().enumerate() {
                if o.due <= at_micros {
                    due.push((o.index, promisor as u32, k));
                }
            }
        }
        let count = due.len();
        if count > limit {
            due.select_nth_unstable(limit);
            due.truncate(limit);
        }
        due.sort_unstable();
        let rows = due
            .into_iter()
            .filter_map(|(_, p, k)| self.open_row(p, k, at))
            .collect();
        (count, rows)
    }

    /// The `k`th open promise of principal `p` as a row, overdue marked as of `at`.
    fn open_row(&self, p: u32, k: usize, at: Time) -> Option<OpenPromiseRow> {
        let o = &self.people[p as usize].open[k];
        Some(OpenPromiseRow {
            id: o.id.clone(),
            promisor: self.principal(p)?.clone(),
            promisee: self.principal(o.promisee)?.clone(),
            scope: self.scopes.ids.get(o.scope as usize)?.clone(),
            stake: o.stake,
            made: Time::from_micros(o.made)?,
            due: Time::from_micros(o.due)?,
            overdue: o.due <= at.as_micros(),
            index: o.index,
            approver: self
                .approver_of(&o.id)
                .and_then(|a| self.principal(a))
                .cloned(),
        })
    }
}
