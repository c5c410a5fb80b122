//! Subjective-logic opinions (Jøsang): belief, disbelief and uncertainty from evidence.
//!
//! An opinion is how evidence is turned into a trust figure that also says how sure it is.
//! Positive evidence `r` and negative evidence `s`, with a prior weight `W`, give
//! `b = r/(r+s+W)`, `d = s/(r+s+W)`, `u = W/(r+s+W)` and expected trust `E = b + a·u` for a base
//! rate `a`. This module is pure arithmetic: no state, no clock, no I/O.

/// Evidence for and against, already weighted and decayed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evidence {
    /// Positive evidence `r` ≥ 0.
    pub positive: f64,
    /// Negative evidence `s` ≥ 0.
    pub negative: f64,
}

impl Evidence {
    /// Sums two bodies of evidence (cumulative fusion of independent sources).
    pub fn plus(self, other: Evidence) -> Evidence {
        Evidence {
            positive: self.positive + other.positive,
            negative: self.negative + other.negative,
        }
    }

    /// Scales both sides, e.g. by a source's credibility.
    pub fn scaled(self, factor: f64) -> Evidence {
        Evidence {
            positive: self.positive * factor,
            negative: self.negative * factor,
        }
    }
}

/// A binomial opinion about a principal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opinion {
    /// Belief `b`: the share of the opinion backed by positive evidence.
    pub belief: f64,
    /// Disbelief `d`: the share backed by negative evidence.
    pub disbelief: f64,
    /// Uncertainty `u`: the share not backed by evidence; `b + d + u = 1`.
    pub uncertainty: f64,
    /// Base rate `a`: the expectation without evidence.
    pub base_rate: f64,
}

impl Opinion {
    /// The opinion that `evidence` supports, with prior weight `prior_weight` (`W` > 0).
    pub fn from_evidence(evidence: Evidence, prior_weight: f64, base_rate: f64) -> Opinion {
        let r = evidence.positive.max(0.0);
        let s = evidence.negative.max(0.0);
        let total = r + s + prior_weight;
        Opinion {
            belief: r / total,
            disbelief: s / total,
            uncertainty: prior_weight / total,
            base_rate,
        }
    }

    /// Expected trust `E = b + a·u`, in [0, 1].
    pub fn expected(&self) -> f64 {
        self.belief + self.base_rate * self.uncertainty
    }

    /// Trust through a referrer: `self` is the opinion about the referrer, `about` the
    /// referrer's opinion about someone else. Belief and disbelief pass on only in proportion
    /// to belief in the referrer; the rest becomes uncertainty, so a referrer never passes on
    /// more trust than it has (Jøsang's uncertainty-favouring discount).
    pub fn discount(&self, about: &Opinion) -> Opinion {
        let belief = self.belief * about.belief;
        let disbelief = self.belief * about.disbelief;
        Opinion {
            belief,
            disbelief,
            uncertainty: 1.0 - belief - disbelief,
            base_rate: about.base_rate,
        }
    }

    /// The evidence this opinion amounts to under prior weight `prior_weight`.
    pub fn as_evidence(&self, prior_weight: f64) -> Evidence {
        if self.uncertainty <= f64::EPSILON {
            // Dogmatic opinions do not arise from finite evidence; cap rather than divide by 0.
            return Evidence {
                positive: self.belief * prior_weight / f64::EPSILON,
                negative: self.disbelief * prior_weight / f64::EPSILON,
            };
        }
        Evidence {
            positive: prior_weight * self.belief / self.uncertainty,
            negative: prior_weight * self.disbelief / self.uncertainty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_evidence_is_all_uncertainty_at_the_base_rate() {
        let o = Opinion::from_evidence(Evidence::default(), 2.0, 0.3);
        assert_eq!((o.belief, o.disbelief, o.uncertainty), (0.0, 0.0, 1.0));
        assert_eq!(o.expected(), 0.3);
    }

    #[test]
    fn evidence_moves_belief_and_shrinks_uncertainty() {
        let o = Opinion::from_evidence(
            Evidence {
                positive: 8.0,
                negative: 0.0,
            },
            2.0,
            0.5,
        );
        assert_eq!((o.belief, o.uncertainty), (0.8, 0.2));
        assert!((o.expected() - 0.9).abs() < 1e-12);
        let back = o.as_evidence(2.0);
        assert!((back.positive - 8.0).abs() < 1e-9 && back.negative.abs() < 1e-12);
    }

    #[test]
    fn discounting_never_passes_on_more_belief_than_the_referrer_has() {
        let referrer = Opinion::from_evidence(
            Evidence {
                positive: 2.0,
                negative: 1.0,
            },
            2.0,
            0.5,
        );
        let about = Opinion::from_evidence(
            Evidence {
                positive: 100.0,
                negative: 0.0,
            },
            2.0,
            0.5,
        );
        let through = referrer.discount(&about);
        assert!(through.belief <= referrer.belief);
        assert!(through.belief <= about.belief);
        assert!((through.belief + through.disbelief + through.uncertainty - 1.0).abs() < 1e-12);
    }
}
