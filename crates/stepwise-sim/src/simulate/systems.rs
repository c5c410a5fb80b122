//! The systems under test: each only decides which requests are allowed — stepwise's ladder,
//! and the average-rating and beta-reputation baselines.

use super::*;

// ---------------------------------------------------------------------------------------------
// The systems: each only decides which requests are allowed.

pub(super) trait Gate {
    /// The system's name in reports.
    fn name(&self) -> &'static str;
    /// The largest stake `who` may take at `at` (0 when refused outright).
    fn limit(&self, who: &Id, at: Time) -> f64;
    /// Whether `who` may take `stake` at `at`.
    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool;
    /// Folds in an event.
    fn record(&mut self, event: &Event);
    /// The ladder level of `who` at `at`, for systems that have one.
    fn level(&self, _who: &Id, _at: Time) -> Option<usize> {
        None
    }
    /// How many levels the system has (1 for the baselines).
    fn levels(&self) -> usize {
        1
    }
    /// How many times `who` stepped down the ladder, for systems that have one.
    fn demotions(&self, _who: &Id) -> u64 {
        0
    }
}

pub(super) struct Stepwise {
    pub(super) state: LadderState,
    pub(super) next: u64,
}

impl Stepwise {
    pub(super) fn new(params: ModelParams, ladder: Ladder) -> Self {
        Self {
            state: LadderState::new(params, ladder),
            next: 0,
        }
    }

    /// The capability the ladder requires for `stake`: that of the lowest level whose limit
    /// covers it.
    pub(super) fn capability(&self, stake: f64) -> &'static str {
        let levels = self.state.ladder().levels();
        let k = levels
            .iter()
            .position(|l| stake <= l.max_stake)
            .unwrap_or(levels.len().saturating_sub(1));
        ACT[k.min(ACT.len() - 1)]
    }
}

impl Gate for Stepwise {
    fn name(&self) -> &'static str {
        "stepwise"
    }

    fn limit(&self, who: &Id, at: Time) -> f64 {
        let d = self.state.decide(who, ACT[0], 0.0, None, at);
        if d.allowed { d.available() } else { 0.0 }
    }

    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool {
        self.state
            .decide(who, self.capability(stake), stake, None, at)
            .allowed
    }

    fn record(&mut self, event: &Event) {
        self.state.apply(self.next, event);
        self.next += 1;
    }

    fn level(&self, who: &Id, at: Time) -> Option<usize> {
        Some(self.state.level_at(who, at))
    }

    fn levels(&self) -> usize {
        self.state.ladder().levels().len()
    }

    fn demotions(&self, who: &Id) -> u64 {
        self.state
            .timeline(who)
            .iter()
            .filter(|step| step.to < step.from)
            .count() as u64
    }
}

/// A rating-based baseline: `average` (mean rating) or `beta` ((r+1)/(r+s+2)).
pub(super) struct Baseline {
    pub(super) beta: bool,
    /// Per principal: sum of positive values, sum of |negative values|, number of ratings.
    pub(super) ratings: std::collections::HashMap<Id, (f64, f64, u64)>,
}

impl Baseline {
    pub(super) fn average() -> Self {
        Self {
            beta: false,
            ratings: Default::default(),
        }
    }

    pub(super) fn beta() -> Self {
        Self {
            beta: true,
            ratings: Default::default(),
        }
    }
}

impl Gate for Baseline {
    fn name(&self) -> &'static str {
        if self.beta { "beta" } else { "average" }
    }

    fn limit(&self, who: &Id, _at: Time) -> f64 {
        let (r, s, n) = self.ratings.get(who).copied().unwrap_or((0.0, 0.0, 0));
        let trusted = if self.beta {
            (r + 1.0) / (r + s + 2.0) >= BETA_THRESHOLD
        } else {
            n > 0 && (r - s) / n as f64 >= AVERAGE_THRESHOLD
        };
        if trusted {
            MAX_EXPOSURE
        } else {
            NEWCOMER_STAKE
        }
    }

    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool {
        stake <= self.limit(who, at)
    }

    fn record(&mut self, event: &Event) {
        if let Body::Rating { subject, value, .. } = &event.body {
            let entry = self.ratings.entry(subject.clone()).or_default();
            if *value >= 0.0 {
                entry.0 += value;
            } else {
                entry.1 -= value;
            }
            entry.2 += 1;
        }
    }
}
