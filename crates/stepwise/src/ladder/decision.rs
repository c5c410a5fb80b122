//! Decisions: may this principal do this, at this stake, now — and if not, what is the next step?
//!
//! `LadderState::decide` reads in-memory state only and allocates nothing on the common path:
//! the verdict, level and limit are computed at once, while the reasons in words, the next-step
//! checklist and the cited log entries are built only when asked for.

use super::climb::{LadderState, Position};
use crate::evidence::{Id, Time};
use serde_json::{Value, json};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Denial {
    /// The stake is not a finite number ≥ 0.
    InvalidStake,
    /// No level grants the capability.
    UnknownCapability,
    /// Expected trust is below the floor: a negative record, not a newcomer.
    NegativeRecord {
        /// The figure.
        expected: f64,
        /// The floor.
        floor: f64,
    },
    /// The truster refuses principals below this level.
    BelowTrusterMinimum {
        /// The truster's minimum level.
        min_level: usize,
    },
    /// The capability is granted only from this level.
    CapabilityNeedsLevel {
        /// The lowest level granting it.
        needed: usize,
    },
    /// The stake exceeds the limit that applies.
    StakeAboveLimit,
    /// The truster's own view of the principal is below what it requires.
    TrusterWantsMore {
        /// Expected trust in the truster's view.
        expected: f64,
        /// What the truster requires.
        needed: f64,
    },
}

impl Denial {
    /// A stable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::InvalidStake => "invalid_stake",
            Denial::UnknownCapability => "unknown_capability",
            Denial::NegativeRecord { .. } => "negative_record",
            Denial::BelowTrusterMinimum { .. } => "below_truster_minimum",
            Denial::CapabilityNeedsLevel { .. } => "capability_needs_level",
            Denial::StakeAboveLimit => "stake_above_limit",
            Denial::TrusterWantsMore { .. } => "truster_requires_more_trust",
        }
    }
}

/// One reason, in words and as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Stable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// For programs.
    pub data: Value,
}

/// One requirement of the next level, with where the principal stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Stable name: `kept`, `min_expected`, `max_uncertainty`, `tenure_days`, `clean_days`,
    /// `cooldown_days_left`, `vouches`.
    pub name: &'static str,
    /// Where the principal stands (infinite when it never broke a promise, for `clean_days`).
    pub current: f64,
    /// What is needed.
    pub needed: f64,
    /// Whether it is met.
    pub met: bool,
    /// For people.
    pub message: String,
}

/// The next level and everything it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct NextStep {
    /// The next level's index.
    pub level: usize,
    /// Its name.
    pub name: String,
    /// What it would allow.
    pub max_stake: f64,
    /// Each requirement, met or not.
    pub requirements: Vec<Requirement>,
}

/// A decision, with its explanation available on demand.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    state: &'a LadderState,
    subject: Option<u32>,
    /// The principal asked about.
    pub subject_id: &'a Id,
    /// The capability asked for.
    pub capability: &'a str,
    /// The stake asked for.
    pub stake: f64,
    /// On whose behalf, if a truster asked.
    pub truster: Option<&'a Id>,
    /// The instant decided at.
    pub at: Time,
    /// The verdict.
    pub allowed: bool,
    /// The principal's level at `at`.
    pub level: usize,
    /// The largest stake allowed at this level for this truster.
    pub limit: f64,
    /// Expected trust used (the principal's standing).
    pub expected: f64,
    /// Uncertainty of that standing.
    pub uncertainty: f64,
    /// Why it was refused, if it was.
    pub denial: Option<Denial>,
    /// The lowest level granting the capability, if any does.
    pub needed_level: Option<usize>,
    position: Position,
}

impl LadderState {
    /// Decides whether `subject` may use `capability` at `stake` at instant `at`, on behalf of
    /// `truster` (whose profile may only make the answer stricter: P10).
    pub fn decide<'a>(
        &'a self,
        subject: &'a Id,
        capability: &'a str,
        stake: f64,
        truster: Option<&'a Id>,
        at: Time,
    ) -> Decision<'a> {
        let ladder = self.ladder();
        let s = self.trust().principal_index(subject);
        let position = self.position_at(s, at, &mut Vec::new());
        let level = position.level;
        let (expected, uncertainty) = match s {
            Some(s) => {
                let o = self.trust().standing(s, at);
                (o.expected(), o.uncertainty)
            }
            None => (self.trust().params().base_rate, 1.0),
        };
        let profile = truster.and_then(|t| ladder.profile(t));
        let mut limit = ladder.levels()[level].max_stake;
        if let Some(p) = profile {
            limit = (limit * p.stake_factor).min(p.max_stake);
        }
        let needed_level = ladder.level_granting(capability);
        let floor = ladder.rules().floor_expected;
        let denial = if !(stake.is_finite() && stake >= 0.0) {
            Some(Denial::InvalidStake)
        } else if needed_level.is_none() {
            Some(Denial::UnknownCapability)
        } else if expected < floor {
            Some(Denial::NegativeRecord { expected, floor })
        } else if let Some(p) = profile.filter(|p| level < p.min_level) {
            Some(Denial::BelowTrusterMinimum {
                min_level: p.min_level,
            })
        } else if let Some(needed) = needed_level.filter(|n| *n > level) {
            Some(Denial::CapabilityNeedsLevel { needed })
        } else if stake > limit {
            Some(Denial::StakeAboveLimit)
        } else if let Some(p) = profile.filter(|p| p.min_expected > 0.0) {
            // The slow path, only for trusters who ask for it: their own view, vouches included.
            let own = self
                .trust()
                .trust(subject, truster, None, at)
                .opinion
                .expected();
            (own < p.min_expected).then_some(Denial::TrusterWantsMore {
                expected: own,
                needed: p.min_expected,
            })
        } else {
            None
        };
        Decision {
            state: self,
            subject: s,
            subject_id: subject,
            capability,
            stake,
            truster,
            at,
            allowed: denial.is_none(),
            level,
            limit,
            expected,
            uncertainty,
            denial,
            needed_level,
            position,
        }
    }
}

fn days(micros: i64) -> f64 {
    micros as f64 / crate::model::params::DAY_MICROS as f64
}

impl Decision<'_> {
    /// The level's name.
    pub fn level_name(&self) -> &str {
        &self.state.ladder().levels()[self.level].name
    }

    /// Every reason behind the verdict, the deciding one first.
    pub fn reasons(&self) -> Vec<Reason> {
        let ladder = self.state.ladder();
        let levels = ladder.levels();
        let name = |k: usize| levels[k].name.as_str();
        let mut reasons = Vec::new();
        if let Some(denial) = self.denial {
            let (message, data) = match denial {
                Denial::InvalidStake => (
                    format!("the stake {} is not a finite number ≥ 0", self.stake),
                    json!({"stake": self.stake.to_string()}),
                ),
                Denial::UnknownCapability => (
                    format!(
                        "no level grants {:?}; the ladder's capabilities are {}",
                        self.capability,
                        ladder.capabilities_at(levels.len() - 1).join(", ")
                    ),
                    json!({"capability": self.capability}),
                ),
                Denial::NegativeRecord { expected, floor } => (
                    format!(
                        "expected trust {expected:.3} is below the floor {floor} that even level 0 requires: the record is negative"
                    ),
                    json!({"expected": expected, "floor": floor}),
                ),
                Denial::BelowTrusterMinimum { min_level } => (
                    format!(
                        "{} accepts only level {min_level} ({}) and above; {} is at level {} ({})",
                        self.truster.map_or("the truster", Id::as_str),
                        name(min_level),
                        self.subject_id,
                        self.level,
                        name(self.level)
                    ),
                    json!({"min_level": min_level, "level": self.level}),
                ),
                Denial::CapabilityNeedsLevel { needed } => (
                    format!(
                        "{:?} needs level {needed} ({}); {} is at level {} ({}), {} step(s) below",
                        self.capability,
                        name(needed),
                        self.subject_id,
                        self.level,
                        name(self.level),
                        needed - self.level
                    ),
                    json!({"capability": self.capability, "needed_level": needed, "level": self.level}),
                ),
                Denial::StakeAboveLimit => (
                    format!(
                        "stake {} is above the limit {} of level {} ({}){}",
                        self.stake,
                        self.limit,
                        self.level,
                        name(self.level),
                        if self.truster.is_some_and(|t| ladder.profile(t).is_some()) {
                            " under the truster's own profile"
                        } else {
                            ""
                        }
                    ),
                    json!({"stake": self.stake, "limit": self.limit, "level": self.level}),
                ),
                Denial::TrusterWantsMore { expected, needed } => (
                    format!(
                        "{} requires expected trust {needed} in its own view; it is {expected:.3}",
                        self.truster.map_or("the truster", Id::as_str)
                    ),
                    json!({"expected": expected, "needed": needed}),
                ),
            };
            reasons.push(Reason {
                code: denial.code(),
                message,
                data,
            });
        }
        reasons.push(Reason {
            code: "level",
            message: format!(
                "{} is at level {} ({}) with expected trust {:.3} and uncertainty {:.3}",
                self.subject_id,
                self.level,
                name(self.level),
                self.expected,
                self.uncertainty
            ),
            data: json!({"level": self.level, "expected": self.expected, "uncertainty": self.uncertainty}),
        });
        if self.denial.is_none() {
            reasons.push(Reason {
                code: "capability_granted",
                message: format!(
                    "level {} ({}) grants {:?} (from level {})",
                    self.level,
                    name(self.level),
                    self.capability,
                    self.needed_level.unwrap_or(0)
                ),
                data: json!({"capability": self.capability, "from_level": self.needed_level}),
            });
            reasons.push(Reason {
                code: "stake_within_limit",
                message: format!("stake {} is within the limit {}", self.stake, self.limit),
                data: json!({"stake": self.stake, "limit": self.limit}),
            });
        }
        if self.position.cooldown_until > self.at {
            reasons.push(Reason {
                code: "cooldown",
                message: format!(
                    "a broken promise started a cool-down: no promotion before {}",
                    self.position.cooldown_until
                ),
                data: json!({"until": self.position.cooldown_until.to_string()}),
            });
        }
        reasons
    }

    /// The next level and each of its requirements with the current and needed values; `None`
    /// at the top of the ladder.
    pub fn next_step(&self) -> Option<NextStep> {
        let levels = self.state.ladder().levels();
        let next = levels.get(self.level + 1)?;
        let req = &next.requires;
        let p = &self.position;
        let at = self.at.as_micros();
        let mut list = Vec::new();
        let mut add = |name, current: f64, needed: f64, met: bool, message: String| {
            list.push(Requirement {
                name,
                current,
                needed,
                met,
                message,
            })
        };
        if req.kept > 0 {
            add(
                "kept",
                f64::from(p.kept_toward_next),
                f64::from(req.kept),
                p.kept_toward_next >= req.kept,
                format!(
                    "kept promises at stake ≥ {} since reaching level {}: {} of {}",
                    req.kept_min_stake, self.level, p.kept_toward_next, req.kept
                ),
            );
        }
        if req.min_expected > 0.0 {
            add(
                "min_expected",
                self.expected,
                req.min_expected,
                self.expected >= req.min_expected,
                format!(
                    "expected trust {:.3}, needs ≥ {}",
                    self.expected, req.min_expected
                ),
            );
        }
        if req.max_uncertainty < 1.0 {
            add(
                "max_uncertainty",
                self.uncertainty,
                req.max_uncertainty,
                self.uncertainty <= req.max_uncertainty,
                format!(
                    "uncertainty {:.3}, needs ≤ {}",
                    self.uncertainty, req.max_uncertainty
                ),
            );
        }
        if req.min_tenure > 0 {
            let held = days(at - p.since.as_micros());
            let needed = days(req.min_tenure);
            add(
                "tenure_days",
                held,
                needed,
                held >= needed,
                format!("{held:.1} days at level {}, needs {needed:.1}", self.level),
            );
        }
        if req.clean_for > 0 {
            let clean = p
                .last_broken
                .map_or(f64::INFINITY, |t| days(at - t.as_micros()));
            let needed = days(req.clean_for);
            add(
                "clean_days",
                clean,
                needed,
                clean >= needed,
                match p.last_broken {
                    Some(t) => {
                        format!("last broken promise {clean:.1} days ago ({t}), needs {needed:.1}")
                    }
                    None => format!("no broken promise ever (needs {needed:.1} days clean)"),
                },
            );
        }
        if p.cooldown_until > self.at {
            let left = days(p.cooldown_until.as_micros() - at);
            add(
                "cooldown_days_left",
                left,
                0.0,
                false,
                format!("cool-down after a broken promise: {left:.1} days left"),
            );
        }
        if req.vouches > 0 {
            let have = self.subject.map_or(0, |s| {
                self.state.vouchers_at_or_above(s, req.vouchers_level)
            });
            add(
                "vouches",
                f64::from(have),
                f64::from(req.vouches),
                have >= req.vouches,
                format!(
                    "vouches from principals at level {} ({}) or above: {have} of {}",
                    req.vouchers_level, levels[req.vouchers_level].name, req.vouches
                ),
            );
        }
        Some(NextStep {
            level: self.level + 1,
            name: next.name.clone(),
            max_stake: next.max_stake,
            requirements: list,
        })
    }

    /// The log indexes behind the decision: the steps that brought the principal to its level,
    /// and the most recent evidence about it.
    pub fn evidence(&self) -> Vec<u64> {
        let Some(s) = self.subject else {
            return Vec::new();
        };
        let mut indexes = self.state.trust().cited(s, 32);
        indexes.extend(
            self.state
                .timeline(self.subject_id)
                .iter()
                .filter_map(|step| step.cause.index()),
        );
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }
}
