//! For agents, and anyone who plans: whether a refused request could ever be allowed under this
//! policy ("never" or "not yet"), and when time alone will allow it.

use super::decision::{Decision, Denial};
use crate::evidence::Time;

impl Decision<'_> {
    /// For a refusal, whether any record could allow the same request under this policy:
    /// `false` — never — for a stake that is not a number ≥ 0, a capability no level grants, or
    /// a stake above the most the top of the ladder allows (for this truster); `true` — not yet
    /// — otherwise. `None` when the request is allowed.
    pub fn retryable(&self) -> Option<bool> {
        Some(match self.denial? {
            Denial::InvalidStake | Denial::UnknownCapability => false,
            // Time frees the window, or a level above with a larger budget (or none) fits.
            Denial::BudgetExhausted => {
                self.budget.is_some_and(|b| b.retry_at.is_some())
                    || self.state.ladder().levels()[self.level + 1..]
                        .iter()
                        .any(|l| l.budget.is_none_or(|b| b.could_fit(self.stake)))
            }
            _ => self.stake <= self.limit_at(self.state.ladder().levels().len() - 1),
        })
    }

    /// For a refusal that time alone will lift, the first instant at which the same request
    /// would be allowed if nothing new were recorded: the request needs the next level (or the
    /// end of level 0's bound on losses) and everything still missing is a matter of time —
    /// tenure on the current level, a clean period, a cool-down. `None` when the request is
    /// allowed, can never be, or needs evidence (kept promises, standing, vouches, outcomes of
    /// open promises). Standing fades with time too, so the instant is a plan, not a promise.
    pub fn earliest_retry(&self) -> Option<Time> {
        let denial = self.denial?;
        if denial == Denial::BudgetExhausted {
            return self.budget.and_then(|b| b.retry_at);
        }
        if matches!(
            denial,
            Denial::InvalidStake
                | Denial::UnknownCapability
                | Denial::NegativeRecord { .. }
                | Denial::TrusterWantsMore { .. }
        ) {
            return None;
        }
        let ladder = self.state.ladder();
        let min_level = self
            .truster
            .and_then(|t| ladder.profile(t))
            .map_or(0, |p| p.min_level);
        let at_least = self.needed_level?.max(min_level);
        let fits =
            |level: usize| level >= at_least && self.stake + self.exposure <= self.limit_at(level);
        if fits(self.level) {
            // Only level 0's bound on losses stands in the way, until its cool-down ends.
            return (self.level_0_share < 1.0).then_some(self.position.losses_until);
        }
        if !fits(self.level + 1) {
            return None; // more than one step up: kept promises at the next level's stakes first
        }
        let step = self.next_step()?;
        let req = &ladder.levels()[step.level].requires;
        let p = &self.position;
        let mut when = None;
        for r in step.requirements().iter().filter(|r| !r.met) {
            let instant = match r.name {
                "tenure_days" => Time::from_micros(
                    self.at
                        .as_micros()
                        .saturating_add(req.min_tenure - p.tenure(self.at)),
                ),
                "clean_days" => p.clean_from(req.clean_for),
                "cooldown_days_left" => Some(p.cooldown_until),
                _ => return None,
            };
            when = when.max(Some(instant.unwrap_or(Time::MAX)));
        }
        when
    }

    /// The limit at `level` for this decision's truster, level 0's bound on losses aside.
    fn limit_at(&self, level: usize) -> f64 {
        let ladder = self.state.ladder();
        let max = ladder.levels()[level].max_stake;
        match self.truster.and_then(|t| ladder.profile(t)) {
            Some(p) => (max * p.stake_factor).min(p.max_stake),
            None => max,
        }
    }
}
