//! Budgets over time: how much a principal may put at stake, and how many times it may act, in
//! any window of a given length (`budget = { stake = 200, calls = 50, per = "1d" }` on a level
//! of the ladder or on a tool of the gate).
//!
//! A level's limit bounds what is at risk *at once*; a budget bounds the pace: a principal
//! whose promises are judged quickly could otherwise turn its limit over without end. The
//! window slides: a promise (or a call) counts for `per` after it was made, and the earliest
//! retry of a refused request is the instant enough of the window has freed up.

use crate::evidence::Time;

/// A budget over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// The most that may be put at stake within any window, if bounded.
    pub stake: Option<f64>,
    /// The most requests (promises, calls) within any window, if bounded.
    pub calls: Option<u32>,
    /// The window's length, in microseconds (> 0).
    pub per: i64,
}

/// What a request would use of a [`Budget`] at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BudgetUse {
    /// The budget.
    pub budget: Budget,
    /// What is at stake within the window before this request.
    pub stake_used: f64,
    /// How many requests the window holds before this one.
    pub calls_used: u32,
    /// Whether this request would exceed the budget.
    pub exhausted: bool,
    /// For an exhausted budget, the first instant at which enough of the window has freed up
    /// for the same request, if nothing new is spent; `None` when the request alone exceeds
    /// the budget (it never fits).
    pub retry_at: Option<Time>,
}

impl Budget {
    /// What a request at `stake` at instant `at` uses of this budget, given what was spent
    /// before: `(instant in microseconds, stake)` in ascending order of instant (older
    /// entries than the window are skipped).
    pub fn check(&self, spent: &[(i64, f64)], stake: f64, at: Time) -> BudgetUse {
        let now = at.as_micros();
        let start = now.saturating_sub(self.per);
        // The window is (now − per, now]: an entry counts for `per` after it was made.
        let window = &spent[spent.partition_point(|&(t, _)| t <= start)
            ..spent.partition_point(|&(t, _)| t <= now)];
        let stake_used: f64 = window.iter().map(|(_, s)| s).sum();
        let calls_used = u32::try_from(window.len()).unwrap_or(u32::MAX);
        let fits = |stake_used: f64, calls_used: u32| {
            self.stake.is_none_or(|limit| stake_used + stake <= limit)
                && self.calls.is_none_or(|limit| calls_used < limit)
        };
        let exhausted = !fits(stake_used, calls_used);
        let retry_at = if !exhausted || !fits(0.0, 0) {
            None
        } else {
            // Entries leave the window oldest first; the request fits once enough have left.
            let (mut stake_left, mut calls_left) = (stake_used, calls_used);
            window.iter().find_map(|&(t, s)| {
                stake_left -= s;
                calls_left -= 1;
                fits(stake_left.max(0.0), calls_left)
                    .then(|| Time::from_micros(t.saturating_add(self.per)))
                    .flatten()
            })
        };
        BudgetUse {
            budget: *self,
            stake_used,
            calls_used,
            exhausted,
            retry_at,
        }
    }

    /// Whether a request at `stake` could ever fit this budget (in an empty window).
    pub fn could_fit(&self, stake: f64) -> bool {
        self.stake.is_none_or(|limit| stake <= limit) && self.calls.is_none_or(|limit| limit > 0)
    }
}

/// Per principal, its promises that a budget can still count: (instant in microseconds,
/// stake), oldest first.
#[derive(Debug, Clone, Default)]
pub struct Spending(Vec<Vec<(i64, f64)>>);

impl Spending {
    /// Principal `p`'s promises, oldest first.
    pub fn of(&self, p: Option<u32>) -> &[(i64, f64)] {
        p.and_then(|p| self.0.get(p as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// Adds a promise of `p` at `at`, keeping what a window of `per` can still read (nothing
    /// when `per` is 0: no budget).
    pub fn record(&mut self, p: u32, at: i64, stake: f64, per: i64) {
        if per <= 0 {
            return;
        }
        if self.0.len() <= p as usize {
            self.0.resize(p as usize + 1, Vec::new());
        }
        record_spent(&mut self.0[p as usize], at, stake, per);
    }
}

/// Keeps `spent` (ascending by instant) as what a budget of window `per` can still read at
/// its newest entry and later, with `(at, stake)` added in its place.
pub fn record_spent(spent: &mut Vec<(i64, f64)>, at: i64, stake: f64, per: i64) {
    let place = spent.partition_point(|&(t, _)| t <= at);
    spent.insert(place, (at, stake));
    let newest = spent.last().map_or(at, |&(t, _)| t);
    let stale = spent.partition_point(|&(t, _)| t <= newest.saturating_sub(per));
    spent.drain(..stale);
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn at(hours: i64) -> Time {
        Time::from_micros(hours * H).expect("time")
    }

    #[test]
    fn a_budget_frees_up_as_its_window_slides() {
        let budget = Budget {
            stake: Some(10.0),
            calls: None,
            per: 24 * H,
        };
        let spent = [(H, 4.0), (2 * H, 3.0), (3 * H, 2.0)];
        let fits = budget.check(&spent, 1.0, at(4));
        assert!(!fits.exhausted);
        assert_eq!((fits.stake_used, fits.calls_used), (9.0, 3));
        let over = budget.check(&spent, 3.0, at(4));
        assert!(over.exhausted);
        // 9 + 3 > 10: once the first (4) leaves, 5 + 3 fits, at 1h + 24h.
        assert_eq!(over.retry_at, Some(at(25)));
        // At that instant it does fit.
        assert!(!budget.check(&spent, 3.0, at(25)).exhausted);
        assert!(
            budget
                .check(&spent, 3.0, Time::from_micros(25 * H - 1).expect("t"))
                .exhausted
        );
        // A stake above the whole budget never fits.
        let never = budget.check(&spent, 11.0, at(4));
        assert!(never.exhausted && never.retry_at.is_none() && !budget.could_fit(11.0));
    }

    #[test]
    fn a_budget_of_calls_counts_them() {
        let budget = Budget {
            stake: None,
            calls: Some(2),
            per: H,
        };
        let spent = [(0, 0.0), (H / 2, 0.0)];
        let over = budget.check(&spent, 0.0, Time::from_micros(H / 2 + 1).expect("t"));
        assert!(over.exhausted);
        assert_eq!(over.retry_at, Some(at(1)));
        assert!(!budget.check(&spent, 0.0, at(1)).exhausted);
        assert!(
            !Budget {
                calls: Some(0),
                ..budget
            }
            .could_fit(0.0)
        );
    }

    #[test]
    fn spent_keeps_only_what_a_window_can_read() {
        let mut spent = Vec::new();
        for (t, s) in [(7 * H, 1.0), (H, 2.0), (6 * H, 4.0), (30 * H, 3.0)] {
            record_spent(&mut spent, t, s, 24 * H);
        }
        // Kept in order; 1h and 6h are a day or more before 30h: gone; 7h is within a day.
        assert_eq!(spent, vec![(7 * H, 1.0), (30 * H, 3.0)]);
    }
}
