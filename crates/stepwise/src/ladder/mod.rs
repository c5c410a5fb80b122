//! The trust ladder: levels that unlock capabilities and stakes, climbed one step at a time.
//!
//! `Ladder` is the operator's configuration (levels, their entry requirements, demotion rules,
//! trusters' own profiles), checked when it is built so that nothing later has to doubt it.
//! `climb` folds the log into each principal's position on the ladder; `decision` answers "may
//! this principal do this, at this stake, now — and if not, what is the next step?"; `approval`
//! whether an approver may let a refused call through. Nothing here does I/O or reads the clock.

pub mod approval;
pub mod budget;
pub mod climb;
pub mod decision;
mod retry;
mod step;
mod words;

use crate::evidence::Id;
use std::collections::HashMap;

pub use approval::ApprovalRefusal;
pub use budget::{Budget, BudgetUse, Spending};
pub use climb::{Applied, LadderState, Position, Step, StepCause};
pub use decision::{
    Decision, Denial, Explanation, NextStep, Reason, ReasonData, Reasons, Requirement,
};

impl LadderState {
    /// Counts promise `event` by principal `p` toward the budgets of the ladder, if any level
    /// has one.
    fn spend(&mut self, p: u32, event: &crate::evidence::Event) {
        if let crate::evidence::Body::Promise { stake, .. } = event.body {
            let per = self.ladder().budget_window();
            self.spent.record(p, event.at.as_micros(), stake, per);
        }
    }
}

/// What it takes to enter a level (all must hold).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Requirements {
    /// Kept promises since reaching the level below…
    pub kept: u32,
    /// …each at a stake of at least this much ("at this level's stakes", P1).
    pub kept_min_stake: f64,
    /// Minimum expected trust.
    pub min_expected: f64,
    /// Maximum uncertainty (P6: higher levels demand more certainty).
    pub max_uncertainty: f64,
    /// Minimum time spent on the level below, in microseconds.
    pub min_tenure: i64,
    /// No broken (or overdue) promise within this long, in microseconds.
    pub clean_for: i64,
    /// Active vouches needed…
    pub vouches: u32,
    /// …from principals at or above this level (P7).
    pub vouchers_level: usize,
    /// Distinct promisees among those who judged the kept promises that count (whose word
    /// counts: reached from the seeds when seeds are named): a ring of one cannot lift anyone.
    pub min_counterparties: u32,
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Its name, for people.
    pub name: String,
    /// What it allows (each level also allows everything the levels below allow).
    pub capabilities: Vec<String>,
    /// The largest stake it may be trusted with.
    pub max_stake: f64,
    /// What it takes to enter it (level 0 has none: P2).
    pub requires: Requirements,
    /// How much its principals may put at stake, and how many promises they may make, in any
    /// window of time (none: only the limit on what is at risk at once applies).
    pub budget: Option<Budget>,
}

/// How trust is lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// A broken promise demotes one step, plus one per this fraction of the level's
    /// `max_stake` at stake (P4: larger betrayals fall further).
    pub demotion_stake_fraction: f64,
    /// No promotion for this long after a demotion for a broken promise, in microseconds.
    pub cooldown: i64,
    /// Scale what a broken promise costs beyond its demotion by its severity, the stake over
    /// the level's `max_stake` (at most 1): the cool-down lasts `severity · cooldown`, the
    /// promise spoils `severity · clean_for` of each level's clean period, and of the kept
    /// promises and tenure the level above asks for, `(1 − severity)` still count (at least one
    /// kept promise must be earned again). Off, every broken promise costs the full cool-down,
    /// clean period, kept count and tenure. The demotion itself (at least one step) never
    /// scales (P4).
    pub scale_by_stake: bool,
    /// A level's `max_stake` bounds what a principal has at risk at once: the stake asked
    /// plus its promises with no outcome that are not yet due. Off, it bounds each promise
    /// alone, and a principal may open any number of them (the exit scam).
    pub limit_exposure: bool,
    /// Level 0 has no step down: a broken promise there takes half of the share of level 0's
    /// limit it betrayed until its cool-down ends, and betrayals within a running cool-down
    /// compound. An honest slip never closes level 0 (a full-limit slip leaves half), yet
    /// betrayal after betrayal at the bottom takes at most twice the limit per cool-down, not
    /// the limit every day (P4, P5). Off, level 0's limit stays whole for anyone above the
    /// floor, however often it betrays.
    pub bound_level_0_losses: bool,
    /// Hysteresis: a principal is demoted only when its expected trust falls below the level's
    /// minimum by more than this (or its uncertainty rises above the maximum by more than this).
    pub margin: f64,
    /// Below this expected trust even level 0 is refused: a negative record, not a newcomer.
    pub floor_expected: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            demotion_stake_fraction: 0.5,
            cooldown: 30 * crate::model::params::DAY_MICROS,
            scale_by_stake: true,
            limit_exposure: true,
            bound_level_0_losses: true,
            margin: 0.05,
            floor_expected: 0.1,
        }
    }
}

/// A truster's own, stricter, risk settings (P10). Every field can only tighten.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Accept only this fraction of each level's `max_stake`, in (0, 1].
    pub stake_factor: f64,
    /// Never accept a stake above this.
    pub max_stake: f64,
    /// Refuse principals below this level.
    pub min_level: usize,
    /// Require at least this expected trust in the truster's own view.
    pub min_expected: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            stake_factor: 1.0,
            max_stake: f64::INFINITY,
            min_level: 0,
            min_expected: 0.0,
        }
    }
}

/// The operator's ladder, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    levels: Vec<Level>,
    rules: Rules,
    profiles: HashMap<Id, Profile>,
    /// The lowest level granting each capability, looked up on every decision: hashed with
    /// foldhash, several times faster than std's SipHash on names this short.
    grants: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl Ladder {
    /// Checks and builds a ladder. Errors name the offending key as written in
    /// `stepwise.toml` (`ladder.levels[2].max_stake`, …).
    pub fn new(
        levels: Vec<Level>,
        rules: Rules,
        profiles: HashMap<Id, Profile>,
    ) -> Result<Self, String> {
        if levels.is_empty() {
            return Err("ladder.levels: at least one level (level 0) is needed".into());
        }
        if levels.len() > 64 {
            return Err("ladder.levels: at most 64 levels".into());
        }
        let mut grants = HashMap::default();
        for (k, level) in levels.iter().enumerate() {
            let key = |field: &str| format!("ladder.levels[{k}].{field}");
            if level.name.trim().is_empty() {
                return Err(format!("{}: must not be empty", key("name")));
            }
            if levels[..k].iter().any(|l| l.name == level.name) {
                return Err(format!(
                    "{}: {:?} names two levels",
                    key("name"),
                    level.name
                ));
            }
            if !(level.max_stake.is_finite() && level.max_stake >= 0.0) {
                return Err(format!(
                    "{} = {} must be a finite number ≥ 0",
                    key("max_stake"),
                    level.max_stake
                ));
            }
            let r = &level.requires;
            if k == 0 {
                if *r != Requirements::default() {
                    return Err(
                        "ladder.levels[0]: level 0 has no entry requirements: everyone starts there (P2)".into(),
                    );
                }
            } else {
                let below = &levels[k - 1];
                if level.max_stake < below.max_stake {
                    return Err(format!(
                        "{} = {} must not be below the level under it ({})",
                        key("max_stake"),
                        level.max_stake,
                        below.max_stake
                    ));
                }
                for (field, value) in [
                    ("min_expected", r.min_expected),
                    ("max_uncertainty", r.max_uncertainty),
                ] {
                    if !(0.0..=1.0).contains(&value) {
                        return Err(format!("{} = {value} must be in [0, 1]", key(field)));
                    }
                }
                if !(r.kept_min_stake.is_finite()
                    && r.kept_min_stake >= 0.0
                    && r.kept_min_stake <= level.max_stake)
                {
                    return Err(format!(
                        "{} = {} must be in [0, max_stake = {}]",
                        key("kept_min_stake"),
                        r.kept_min_stake,
                        level.max_stake
                    ));
                }
                if r.min_tenure < 0 || r.clean_for < 0 {
                    return Err(format!(
                        "{}: durations must not be negative",
                        key("min_tenure/clean_for")
                    ));
                }
                if r.vouches > 0 && r.vouchers_level >= levels.len() {
                    return Err(format!(
                        "{} = {} is not a level (0 to {})",
                        key("vouchers_level"),
                        r.vouchers_level,
                        levels.len() - 1
                    ));
                }
            }
            for capability in &level.capabilities {
                Id::parse(&key("capabilities"), capability).map_err(|e| e.to_string())?;
                grants.entry(capability.clone()).or_insert(k);
            }
        }
        let rule = |name: &str, value: f64, ok: bool, want: &str| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(format!("ladder.{name} = {value} must be {want}"))
            }
        };
        rule(
            "demotion_stake_fraction",
            rules.demotion_stake_fraction,
            rules.demotion_stake_fraction > 0.0,
            "> 0",
        )?;
        rule(
            "margin",
            rules.margin,
            (0.0..0.5).contains(&rules.margin),
            "in [0, 0.5)",
        )?;
        rule(
            "floor_expected",
            rules.floor_expected,
            (0.0..1.0).contains(&rules.floor_expected),
            "in [0, 1)",
        )?;
        if rules.cooldown < 0 {
            return Err("ladder.cooldown must not be negative".into());
        }
        for (truster, p) in &profiles {
            let key = |field: &str| format!("trusters.{:?}.{field}", truster.as_str());
            if !(p.stake_factor > 0.0 && p.stake_factor <= 1.0) {
                return Err(format!(
                    "{} = {} must be in (0, 1]: a truster can only lower its exposure",
                    key("stake_factor"),
                    p.stake_factor
                ));
            }
            if p.max_stake.is_nan() || p.max_stake < 0.0 {
                return Err(format!(
                    "{} = {} must be ≥ 0",
                    key("max_stake"),
                    p.max_stake
                ));
            }
            if p.min_level >= levels.len() {
                return Err(format!(
                    "{} = {} is not a level (0 to {})",
                    key("min_level"),
                    p.min_level,
                    levels.len() - 1
                ));
            }
            if !(0.0..=1.0).contains(&p.min_expected) {
                return Err(format!(
                    "{} = {} must be in [0, 1]",
                    key("min_expected"),
                    p.min_expected
                ));
            }
        }
        Ok(Self {
            levels,
            rules,
            profiles,
            grants,
        })
    }

    /// The same levels and truster profiles under other rules, checked as [`Ladder::new`]
    /// checks them: the way to measure one rule against the rest of a ladder.
    pub fn with_rules(&self, rules: Rules) -> Result<Self, String> {
        Self::new(self.levels.clone(), rules, self.profiles.clone())
    }

    /// The same ladder with every truster profile keyed by `rename(truster)` (the log's name
    /// for it: see `Policy::renamed`).
    pub fn renamed(&self, rename: &dyn Fn(&Id) -> Id) -> Self {
        Self {
            profiles: self
                .profiles
                .iter()
                .map(|(truster, p)| (rename(truster), p.clone()))
                .collect(),
            ..self.clone()
        }
    }

    /// The levels, from 0 upwards.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The demotion rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// A truster's own profile, if it has one.
    pub fn profile(&self, truster: &Id) -> Option<&Profile> {
        self.profiles.get(truster)
    }

    /// Every truster profile.
    pub fn profiles(&self) -> &HashMap<Id, Profile> {
        &self.profiles
    }

    /// The longest window of any level's budget, in microseconds (0: no level has a budget):
    /// how far back the ladder's state must remember each principal's promises.
    pub fn budget_window(&self) -> i64 {
        self.levels
            .iter()
            .filter_map(|l| l.budget.map(|b| b.per))
            .max()
            .unwrap_or(0)
    }

    /// The lowest level that grants `capability`.
    pub fn level_granting(&self, capability: &str) -> Option<usize> {
        self.grants.get(capability).copied()
    }

    /// Every capability level `k` allows (its own and all below), in order of first grant.
    pub fn capabilities_at(&self, k: usize) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for level in self.levels.iter().take(k + 1) {
            for c in &level.capabilities {
                if !out.contains(&c.as_str()) {
                    out.push(c);
                }
            }
        }
        out
    }
}

impl Default for Ladder {
    /// The ladder written by `stepwise init` (`policy::DEFAULT_POLICY` spells out the same).
    fn default() -> Self {
        let day = crate::model::params::DAY_MICROS;
        let caps = |list: &[&str]| list.iter().map(|c| (*c).to_owned()).collect();
        let levels = vec![
            Level {
                name: "newcomer".into(),
                capabilities: caps(&["read", "propose"]),
                max_stake: 10.0,
                requires: Requirements::default(),
                budget: None,
            },
            Level {
                name: "contributor".into(),
                capabilities: caps(&["act:low"]),
                max_stake: 100.0,
                requires: Requirements {
                    kept: 3,
                    kept_min_stake: 5.0,
                    min_expected: 0.6,
                    max_uncertainty: 0.5,
                    min_tenure: day,
                    clean_for: 7 * day,
                    vouches: 0,
                    vouchers_level: 0,
                    min_counterparties: 2,
                },
                budget: None,
            },
            Level {
                name: "trusted".into(),
                capabilities: caps(&["act:medium"]),
                max_stake: 1_000.0,
                requires: Requirements {
                    kept: 10,
                    kept_min_stake: 50.0,
                    min_expected: 0.75,
                    max_uncertainty: 0.2,
                    min_tenure: 7 * day,
                    clean_for: 30 * day,
                    vouches: 0,
                    vouchers_level: 0,
                    min_counterparties: 3,
                },
                budget: None,
            },
            Level {
                name: "steward".into(),
                capabilities: caps(&["act:high", "vouch"]),
                max_stake: 10_000.0,
                requires: Requirements {
                    kept: 20,
                    kept_min_stake: 500.0,
                    min_expected: 0.85,
                    max_uncertainty: 0.1,
                    min_tenure: 30 * day,
                    clean_for: 90 * day,
                    vouches: 1,
                    vouchers_level: 2,
                    min_counterparties: 5,
                },
                budget: None,
            },
        ];
        match Ladder::new(levels, Rules::default(), HashMap::new()) {
            Ok(ladder) => ladder,
            // The default is checked by a test; an empty-but-valid ladder is the safe fallback.
            Err(_) => Ladder {
                levels: vec![Level {
                    name: "newcomer".into(),
                    capabilities: Vec::new(),
                    max_stake: 0.0,
                    requires: Requirements::default(),
                    budget: None,
                }],
                rules: Rules::default(),
                profiles: HashMap::new(),
                grants: HashMap::default(),
            },
        }
    }
}
