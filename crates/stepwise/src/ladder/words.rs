//! Decisions in words: every reason behind a verdict and every requirement of the next step
//! as a sentence (what `stepwise decide` prints), built only when a caller asks for them.

use super::decision::{Decision, Denial, Reason, Requirement};
use crate::evidence::Id;
use std::fmt;

impl Decision<'_> {
    /// A reason in words.
    pub fn describe(&self, reason: &Reason) -> String {
        let mut text = String::new();
        // Writing to a `String` cannot fail.
        let _ = self.write_reason(reason, &mut text);
        text
    }

    /// A reason in words, written to `out` (what [`Decision::describe`] returns).
    pub fn write_reason(&self, reason: &Reason, out: &mut impl fmt::Write) -> fmt::Result {
        let ladder = self.state.ladder();
        let levels = ladder.levels();
        let name = |k: usize| levels[k].name.as_str();
        match *reason {
            Reason::Denied(Denial::InvalidStake) => {
                write!(out, "the stake {} is not a finite number ≥ 0", self.stake)
            }
            Reason::Denied(Denial::UnknownCapability) => write!(
                out,
                "no level grants {:?}; the ladder's capabilities are {}",
                self.capability,
                ladder.capabilities_at(levels.len() - 1).join(", ")
            ),
            Reason::Denied(Denial::NegativeRecord { expected, floor }) => write!(
                out,
                "expected trust {expected:.3} is below the floor {floor} that even level 0 requires: the record is negative"
            ),
            Reason::Denied(Denial::BelowTrusterMinimum { min_level }) => write!(
                out,
                "{} accepts only level {min_level} ({}) and above; {} is at level {} ({})",
                self.truster.map_or("the truster", Id::as_str),
                name(min_level),
                self.subject_id,
                self.level,
                name(self.level)
            ),
            Reason::Denied(Denial::CapabilityNeedsLevel { needed }) => write!(
                out,
                "{:?} needs level {needed} ({}); {} is at level {} ({}), {} step(s) below",
                self.capability,
                name(needed),
                self.subject_id,
                self.level,
                name(self.level),
                needed - self.level
            ),
            Reason::Denied(Denial::StakeAboveLimit) => {
                write!(
                    out,
                    "stake {} is above the limit {} of level {} ({})",
                    self.stake,
                    self.limit,
                    self.level,
                    name(self.level),
                )?;
                if self.level_0_share < 1.0 {
                    write!(
                        out,
                        ", cut to {:.1}% of level 0's by the promises it broke there while their cool-down runs (until {})",
                        100.0 * self.level_0_share,
                        self.position.losses_until
                    )?;
                }
                if self.truster.is_some_and(|t| ladder.profile(t).is_some()) {
                    out.write_str(" under the truster's own profile")?;
                }
                Ok(())
            }
            Reason::Denied(Denial::ExposureAboveLimit) => write!(
                out,
                "stake {} with {} already at stake in open promises would put {} at risk, above the limit {} of level {} ({}); at most {} more now",
                self.stake,
                self.exposure,
                self.stake + self.exposure,
                self.limit,
                self.level,
                name(self.level),
                self.available()
            ),
            Reason::Denied(Denial::BudgetExhausted) => {
                let used = self.budget.unwrap_or_default();
                let per = crate::model::params::format_duration(used.budget.per);
                write!(
                    out,
                    "the budget of level {} ({}) is spent: ",
                    self.level,
                    name(self.level)
                )?;
                match (used.budget.stake, used.budget.calls) {
                    (Some(limit), _) if used.stake_used + self.stake > limit => write!(
                        out,
                        "{} promised within the last {per}, with stake {} would be {}, above its {limit} per {per}",
                        used.stake_used,
                        self.stake,
                        used.stake_used + self.stake
                    )?,
                    (_, Some(limit)) => write!(
                        out,
                        "{} promises within the last {per}, at most {limit} per {per}",
                        used.calls_used
                    )?,
                    _ => {}
                }
                match used.retry_at {
                    Some(t) => write!(out, "; it frees up enough at {t}"),
                    None => write!(out, "; this stake alone is more than the budget"),
                }
            }
            Reason::Denied(Denial::TrusterWantsMore { expected, needed }) => write!(
                out,
                "{} requires expected trust {needed} in its own view; it is {expected:.3}",
                self.truster.map_or("the truster", Id::as_str)
            ),
            Reason::Level => write!(
                out,
                "{} is at level {} ({}) with expected trust {:.3} and uncertainty {:.3}",
                self.subject_id,
                self.level,
                name(self.level),
                self.expected,
                self.uncertainty
            ),
            Reason::CapabilityGranted => write!(
                out,
                "level {} ({}) grants {:?} (from level {})",
                self.level,
                name(self.level),
                self.capability,
                self.needed_level.unwrap_or(0)
            ),
            Reason::StakeWithinLimit if self.exposure > 0.0 => write!(
                out,
                "stake {} with {} already at stake in open promises is within the limit {}",
                self.stake, self.exposure, self.limit
            ),
            Reason::StakeWithinLimit => {
                write!(
                    out,
                    "stake {} is within the limit {}",
                    self.stake, self.limit
                )
            }
            Reason::Cooldown { until } => {
                write!(
                    out,
                    "a broken promise started a cool-down: no promotion before {until}"
                )
            }
        }
    }

    /// A requirement of the next step in words.
    pub fn describe_requirement(&self, r: &Requirement) -> String {
        let mut text = String::new();
        // Writing to a `String` cannot fail.
        let _ = self.write_requirement(r, &mut text);
        text
    }

    /// A requirement of the next step in words, written to `out` (what
    /// [`Decision::describe_requirement`] returns).
    pub fn write_requirement(&self, r: &Requirement, out: &mut impl fmt::Write) -> fmt::Result {
        let levels = self.state.ladder().levels();
        let Some(next) = levels.get(self.level + 1) else {
            return Ok(());
        };
        let req = &next.requires;
        match r.name {
            "kept" => {
                write!(
                    out,
                    "kept promises at stake ≥ {} since reaching level {}: {} of {}",
                    req.kept_min_stake, self.level, r.current, r.needed
                )?;
                match self.position.kept_not_counted {
                    0 => Ok(()),
                    1 => write!(
                        out,
                        " (1 more was judged by a principal no seed reaches: it does not count)"
                    ),
                    n => write!(
                        out,
                        " ({n} more were judged by principals no seed reaches: they do not count)"
                    ),
                }
            }
            "min_expected" => write!(out, "expected trust {:.3}, needs ≥ {}", r.current, r.needed),
            "max_uncertainty" => write!(out, "uncertainty {:.3}, needs ≤ {}", r.current, r.needed),
            "tenure_days" => write!(
                out,
                "{:.1} days at level {}, needs {:.1}",
                r.current, self.level, r.needed
            ),
            "clean_days" => match self.position.last_broken {
                Some(t) => write!(
                    out,
                    "last broken promise {:.1} days ago ({t}), needs {:.1}",
                    r.current, r.needed
                ),
                None => write!(
                    out,
                    "no broken promise ever (needs {:.1} days clean)",
                    r.needed
                ),
            },
            "cooldown_days_left" => {
                write!(
                    out,
                    "cool-down after a broken promise: {:.1} days left",
                    r.current
                )
            }
            "vouches" => write!(
                out,
                "vouches from principals at level {} ({}) or above: {} of {}",
                req.vouchers_level, levels[req.vouchers_level].name, r.current, r.needed
            ),
            "counterparties" => write!(
                out,
                "distinct promisees who judged those kept promises: {} of {}",
                r.current, r.needed
            ),
            other => out.write_str(other),
        }
    }
}
