//! Decisions: may this principal do this, at this stake, now — and if not, what is the next step?
//!
//! `LadderState::decide` reads in-memory state only and allocates nothing on the common path:
//! the verdict, level and limit are computed at once, while the reasons in words, the next-step
//! checklist and the cited log entries are built only when asked for.

use super::budget::BudgetUse;
use super::climb::{LadderState, Position, Step};
use crate::evidence::{Id, Time};
use serde_json::Value;
use std::borrow::Cow;

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
    /// The stake is within the limit, but with what is already at stake in open promises it
    /// is not: the limit bounds what a principal may have at risk at once.
    ExposureAboveLimit,
    /// The stake is within the limit, but the level's budget over time is spent: with what
    /// the principal promised within the budget's window it would exceed it (figures in
    /// [`Decision::budget`]).
    BudgetExhausted,
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
            Denial::ExposureAboveLimit => "exposure_above_limit",
            Denial::BudgetExhausted => "budget_exhausted",
            Denial::TrusterWantsMore { .. } => "truster_requires_more_trust",
        }
    }
}

/// One reason behind a verdict, as data; [`Decision::describe`] puts it in words and
/// [`Decision::reason_data`] in JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The deciding reason of a refusal.
    Denied(Denial),
    /// The principal's level and standing.
    Level,
    /// The level grants the capability.
    CapabilityGranted,
    /// The stake is within the limit.
    StakeWithinLimit,
    /// A cool-down after a broken promise blocks promotion until this instant.
    Cooldown {
        /// When it ends.
        until: Time,
    },
}

impl Reason {
    /// A stable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Denied(d) => d.code(),
            Reason::Level => "level",
            Reason::CapabilityGranted => "capability_granted",
            Reason::StakeWithinLimit => "stake_within_limit",
            Reason::Cooldown { .. } => "cooldown",
        }
    }
}

/// The figures behind a [`Reason`], one shape per kind of reason. Each variant's fields are
/// declared in sorted order, so that serialised directly they read as the JSON object
/// [`Decision::reason_data`] builds (whose keys are sorted).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
// The variants and fields are the figures the reasons' words name (see `write_reason`).
#[allow(missing_docs)]
pub enum ReasonData<'a> {
    Stake {
        stake: String,
    },
    Capability {
        capability: &'a str,
    },
    Floor {
        expected: f64,
        floor: f64,
    },
    MinLevel {
        level: usize,
        min_level: usize,
    },
    NeededLevel {
        capability: &'a str,
        level: usize,
        needed_level: usize,
    },
    Limit {
        exposure: f64,
        level: usize,
        level_0_share: f64,
        limit: f64,
        stake: f64,
    },
    Needed {
        expected: f64,
        needed: f64,
    },
    Budget {
        calls: Option<u32>,
        calls_used: u32,
        per: String,
        stake: f64,
        stake_limit: Option<f64>,
        stake_used: f64,
    },
    Level {
        expected: f64,
        level: usize,
        uncertainty: f64,
    },
    Granted {
        capability: &'a str,
        from_level: Option<usize>,
    },
    Until {
        until: String,
    },
}

/// The reasons behind a verdict, the deciding one first; no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reasons {
    items: [Reason; 4],
    len: usize,
}

impl Reasons {
    fn push(&mut self, reason: Reason) {
        if self.len < self.items.len() {
            self.items[self.len] = reason;
            self.len += 1;
        }
    }

    /// The reasons, in order.
    pub fn as_slice(&self) -> &[Reason] {
        &self.items[..self.len]
    }
}

/// One requirement of the next level, with where the principal stands; its words come from
/// [`Decision::describe_requirement`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Requirement {
    /// Stable name: `kept`, `counterparties`, `min_expected`, `max_uncertainty`,
    /// `tenure_days`, `clean_days`, `cooldown_days_left`, `vouches`.
    pub name: &'static str,
    /// Where the principal stands (infinite when it never broke a promise, for `clean_days`).
    pub current: f64,
    /// What is needed.
    pub needed: f64,
    /// Whether it is met.
    pub met: bool,
}

const NO_REQUIREMENT: Requirement = Requirement {
    name: "",
    current: 0.0,
    needed: 0.0,
    met: true,
};

/// The next level and everything it takes; no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextStep {
    /// The next level's index.
    pub level: usize,
    /// What it would allow.
    pub max_stake: f64,
    items: [Requirement; 8],
    len: usize,
}

impl NextStep {
    /// Each requirement, met or not.
    pub fn requirements(&self) -> &[Requirement] {
        &self.items[..self.len]
    }
}

/// A principal's place on the ladder at an instant, and how it got there
/// ([`LadderState::explain`]).
#[derive(Debug)]
pub struct Explanation<'a> {
    /// Every promotion and demotion, oldest first, including what time alone has done.
    pub timeline: Vec<Step>,
    /// Where it stands: a decision at stake 0 on the lowest level's first capability, which
    /// carries the level, its limit now, what is at stake, the standing and the next step.
    pub standing: Decision<'a>,
}

impl Explanation<'_> {
    /// The policy's seeds, where network rank starts and whose reach decides whose word counts
    /// (none: every principal alike).
    pub fn seeds(&self) -> &[Id] {
        &self.standing.state.trust().params().seeds
    }
}

/// A decision, with its explanation available on demand.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub(super) state: &'a LadderState,
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
    /// The largest stake allowed at this level for this truster: the most the principal may
    /// have at risk at once, open promises included.
    pub limit: f64,
    /// What the principal already has at stake: its promises with no outcome that are not yet
    /// due at `at` (an overdue one already counts as broken); 0 when the ladder's
    /// `limit_exposure` is off.
    pub exposure: f64,
    /// The share of level 0's limit that promises broken at level 0 left while their cool-down
    /// runs (`ladder.bound_level_0_losses`), already applied to `limit`; 1 above level 0.
    pub level_0_share: f64,
    /// Expected trust used (the principal's standing).
    pub expected: f64,
    /// Uncertainty of that standing.
    pub uncertainty: f64,
    /// Why it was refused, if it was.
    pub denial: Option<Denial>,
    /// The lowest level granting the capability, if any does.
    pub needed_level: Option<usize>,
    /// The log size of the network rank the decision used, when it used one (a truster whose
    /// profile sets `min_expected`: its own view of the subject, base rate from the rank).
    pub rank_log_size: Option<u64>,
    /// The policy entry the decision was made under (`None`: the log records none).
    pub policy_entry: Option<u64>,
    /// What the request uses of its level's budget over time, when the level has one and the
    /// request puts something at stake.
    pub budget: Option<BudgetUse>,
    /// Read only by the explanation: a decision touches no more of it than it must.
    pub(super) position: Cow<'a, Position>,
}

impl LadderState {
    /// Explains `subject`'s place on the ladder at `at`: its timeline of promotions and
    /// demotions (with what time alone has done by then) and its standing, as a decision on the
    /// lowest level's first capability at stake 0 (level, limit, exposure, next step, evidence).
    pub fn explain<'a>(&'a self, subject: &'a Id, at: Time) -> Explanation<'a> {
        let mut timeline = self.timeline(subject).to_vec();
        self.position_at(self.trust().principal_index(subject), at, &mut timeline);
        let first = self
            .ladder()
            .capabilities_at(0)
            .first()
            .copied()
            .unwrap_or_default();
        Explanation {
            timeline,
            standing: self.decide(subject, first, 0.0, None, at),
        }
    }

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
        let now = self.now(s, at);
        let level = now.level;
        let (expected, uncertainty) = (now.standing.expected(), now.standing.uncertainty);
        let profile = truster.and_then(|t| ladder.profile(t));
        // Level 0 has no step down: while the cool-down of a betrayal there runs, each one took
        // half of the share it betrayed of what was left — never all of it, so an honest slip
        // never closes level 0, yet betrayals one after another take at most twice the limit.
        let level_0_share = if level == 0 && now.losses_until > at {
            now.level_0_share
        } else {
            1.0
        };
        let mut limit = ladder.levels()[level].max_stake * level_0_share;
        if let Some(p) = profile {
            limit = (limit * p.stake_factor).min(p.max_stake);
        }
        let exposure = match s {
            Some(s) if now.open && ladder.rules().limit_exposure => self.trust().exposure(s, at),
            _ => 0.0,
        };
        let needed_level = ladder.level_granting(capability);
        // A request that adds no risk spends nothing, as it adds no exposure.
        let budget = ladder.levels()[level]
            .budget
            .filter(|_| stake > 0.0)
            .map(|b| b.check(self.spent.of(s), stake, at));
        let floor = ladder.rules().floor_expected;
        let mut rank_log_size = None;
        let denial = if crate::evidence::check_stake("stake", stake).is_err() {
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
        } else if stake > 0.0 && stake + exposure > limit {
            // A request that adds no risk is never refused for what is already at risk (the
            // ledger records promises whether or not anyone asked first).
            Some(Denial::ExposureAboveLimit)
        } else if budget.is_some_and(|b| b.exhausted) {
            Some(Denial::BudgetExhausted)
        } else if let Some(p) = profile.filter(|p| p.min_expected > 0.0) {
            // The slow path, only for trusters who ask for it: their own view, vouches included.
            let report = self.trust().trust(subject, truster, None, at);
            rank_log_size = Some(report.rank_log_size);
            let own = report.opinion.expected();
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
            exposure,
            level_0_share,
            expected,
            uncertainty,
            denial,
            needed_level,
            rank_log_size,
            policy_entry: self.trust().policy_entry().map(|(index, _)| index),
            budget,
            position: now.position,
        }
    }
}

fn days(micros: i64) -> f64 {
    micros as f64 / crate::model::params::DAY_MICROS as f64
}

impl Decision<'_> {
    /// The largest stake that would be allowed now: the limit less what is already at stake.
    pub fn available(&self) -> f64 {
        (self.limit - self.exposure).max(0.0)
    }

    /// The level's name.
    pub fn level_name(&self) -> &str {
        &self.state.ladder().levels()[self.level].name
    }

    /// The largest stake of the principal's level (before any truster's profile or the
    /// level-0 bound: see `limit` for what applies now).
    pub fn max_stake(&self) -> f64 {
        self.state.ladder().levels()[self.level].max_stake
    }

    /// What the principal's level allows: its capabilities and those of every level below.
    pub fn capabilities(&self) -> Vec<&str> {
        self.state.ladder().capabilities_at(self.level)
    }

    /// Every reason behind the verdict, the deciding one first.
    pub fn reasons(&self) -> Reasons {
        let mut reasons = Reasons {
            items: [Reason::Level; 4],
            len: 0,
        };
        if let Some(denial) = self.denial {
            reasons.push(Reason::Denied(denial));
        }
        reasons.push(Reason::Level);
        if self.denial.is_none() {
            reasons.push(Reason::CapabilityGranted);
            reasons.push(Reason::StakeWithinLimit);
        }
        if self.position.cooldown_until > self.at {
            reasons.push(Reason::Cooldown {
                until: self.position.cooldown_until,
            });
        }
        reasons
    }

    /// A reason as JSON data.
    pub fn reason_data(&self, reason: &Reason) -> Value {
        serde_json::to_value(self.reason_fields(reason)).unwrap_or(Value::Null)
    }

    /// The figures behind a reason: serialised, the object [`Decision::reason_data`] holds,
    /// its keys in the same (sorted) order.
    pub fn reason_fields(&self, reason: &Reason) -> ReasonData<'_> {
        match *reason {
            Reason::Denied(Denial::InvalidStake) => ReasonData::Stake {
                stake: self.stake.to_string(),
            },
            Reason::Denied(Denial::UnknownCapability) => ReasonData::Capability {
                capability: self.capability,
            },
            Reason::Denied(Denial::NegativeRecord { expected, floor }) => {
                ReasonData::Floor { expected, floor }
            }
            Reason::Denied(Denial::BelowTrusterMinimum { min_level }) => ReasonData::MinLevel {
                level: self.level,
                min_level,
            },
            Reason::Denied(Denial::CapabilityNeedsLevel { needed }) => ReasonData::NeededLevel {
                capability: self.capability,
                level: self.level,
                needed_level: needed,
            },
            Reason::Denied(Denial::StakeAboveLimit | Denial::ExposureAboveLimit)
            | Reason::StakeWithinLimit => ReasonData::Limit {
                exposure: self.exposure,
                level: self.level,
                level_0_share: self.level_0_share,
                limit: self.limit,
                stake: self.stake,
            },
            Reason::Denied(Denial::TrusterWantsMore { expected, needed }) => {
                ReasonData::Needed { expected, needed }
            }
            Reason::Denied(Denial::BudgetExhausted) => {
                // Set whenever this denial is (see `decide`).
                let used = self.budget.unwrap_or_default();
                ReasonData::Budget {
                    calls: used.budget.calls,
                    calls_used: used.calls_used,
                    per: crate::model::params::format_duration(used.budget.per),
                    stake: self.stake,
                    stake_limit: used.budget.stake,
                    stake_used: used.stake_used,
                }
            }
            Reason::Level => ReasonData::Level {
                expected: self.expected,
                level: self.level,
                uncertainty: self.uncertainty,
            },
            Reason::CapabilityGranted => ReasonData::Granted {
                capability: self.capability,
                from_level: self.needed_level,
            },
            Reason::Cooldown { until } => ReasonData::Until {
                until: until.to_string(),
            },
        }
    }

    /// The name of level `k`.
    pub fn name_of(&self, k: usize) -> &str {
        &self.state.ladder().levels()[k].name
    }

    /// The next level and each of its requirements with the current and needed values; `None`
    /// at the top of the ladder.
    pub fn next_step(&self) -> Option<NextStep> {
        let levels = self.state.ladder().levels();
        let next = levels.get(self.level + 1)?;
        let req = &next.requires;
        let p = &self.position;
        let at = self.at.as_micros();
        let mut step = NextStep {
            level: self.level + 1,
            max_stake: next.max_stake,
            items: [NO_REQUIREMENT; 8],
            len: 0,
        };
        let mut add = |name, current: f64, needed: f64, met: bool| {
            step.items[step.len] = Requirement {
                name,
                current,
                needed,
                met,
            };
            step.len += 1;
        };
        if req.kept > 0 {
            let (have, need) = (p.kept_toward_next, req.kept);
            add("kept", f64::from(have), f64::from(need), have >= need);
        }
        if req.min_counterparties > 0 {
            let (have, need) = (p.counterparties(), req.min_counterparties);
            add(
                "counterparties",
                f64::from(have),
                f64::from(need),
                have >= need,
            );
        }
        if req.min_expected > 0.0 {
            let e = self.expected;
            add("min_expected", e, req.min_expected, e >= req.min_expected);
        }
        if req.max_uncertainty < 1.0 {
            let u = self.uncertainty;
            add(
                "max_uncertainty",
                u,
                req.max_uncertainty,
                u <= req.max_uncertainty,
            );
        }
        if req.min_tenure > 0 {
            let (held, needed) = (days(p.tenure(self.at)), days(req.min_tenure));
            add("tenure_days", held, needed, held >= needed);
        }
        if req.clean_for > 0 {
            let clean = p
                .last_broken
                .map_or(f64::INFINITY, |t| days(at - t.as_micros()));
            // Counted from the last broken promise: the clean period it (or an earlier, more
            // severe one) still spoils, which is `clean_for` at full severity.
            let needed = match (p.last_broken, p.clean_from(req.clean_for)) {
                (Some(last), Some(from)) => days(from.as_micros() - last.as_micros()).max(0.0),
                (Some(_), None) => 0.0,
                (None, _) => days(req.clean_for),
            };
            add(
                "clean_days",
                clean,
                needed,
                p.is_clean(req.clean_for, self.at),
            );
        }
        if p.cooldown_until > self.at {
            add(
                "cooldown_days_left",
                days(p.cooldown_until.as_micros() - at),
                0.0,
                false,
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
            );
        }
        Some(step)
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
                .timeline_of(s)
                .iter()
                .filter_map(|step| step.cause.index()),
        );
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// Those of `evidence` that were imported as history: their dates are their data set's,
    /// not held to the log's time window, and an explanation says so.
    pub fn history(&self, evidence: &[u64]) -> Vec<u64> {
        self.state.trust().history_among(evidence)
    }
}
