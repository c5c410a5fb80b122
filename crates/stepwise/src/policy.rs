//! The operator's policy file, `stepwise.toml`.
//!
//! Parsing is strict: an unknown key or an out-of-range value is refused with a message naming
//! the key, because a typo in a trust policy must never silently fall back to a default. This
//! module only parses and checks; it reads no files itself.

use crate::evidence::Id;
use crate::ledger::LedgerConfig;
use crate::model::params::{ModelParams, parse_duration};
use serde::Deserialize;

/// The policy written by `stepwise init`, with every setting documented.
pub const DEFAULT_POLICY: &str = r#"# stepwise policy.
#
# Every key is optional; an unknown key is an error, so typos never pass silently.

[ledger]
# Principals allowed to record `key` events for other principals, for example an identity
# service that registers agents' public keys. Everyone may always record their own first key.
operators = []

# The trust model. Every formula is in docs/MODEL.md; the values below are the defaults.
[model]
# Prior weight W of subjective logic: evidence needed to be half sure (b+d = u at r+s = W).
prior_weight = 2.0
# Base rate a: the expected trust, without evidence, of a principal of average network rank.
base_rate = 0.5
# Base rate of a principal nobody in the network trusts yet: a little trust to begin with (P2).
newcomer_base_rate = 0.2
# A broken promise counts this many times a kept one of the same stake (P4). At least 2.
betrayal_weight = 3.0
# Evidence weight of a promise is 1 + log2(1 + stake / stake_unit) (P1).
stake_unit = 1.0
# Evidence halves in weight after these durations (s, m, h, d or w). Negative evidence is
# remembered longer than positive (P4): half_life_negative must be at least half_life_positive.
half_life_positive = "180d"
half_life_negative = "720d"
# Longest vouch chain that carries trust, and the evidence a full vouch amounts to (P7).
vouch_depth = 3
vouch_strength = 8.0
# Negative evidence per unit of report severity, and the most one reporter can add about one
# subject (P8).
report_weight = 2.0
report_cap = 4.0
# Pseudo-count smoothing each rater's share of negative verdicts (P8: vindictive raters weigh less).
vindictive_prior = 5.0
# Network rank (EigenTrust): pre-trusted principals (none: everyone), damping, convergence.
seeds = []
alpha = 0.15
epsilon = 1e-10
max_iterations = 1000
"#;

/// The parsed policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Ledger settings.
    pub ledger: LedgerConfig,
    /// Trust model settings.
    pub model: ModelParams,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    ledger: RawLedger,
    #[serde(default)]
    model: RawModel,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawModel {
    prior_weight: Option<f64>,
    base_rate: Option<f64>,
    newcomer_base_rate: Option<f64>,
    betrayal_weight: Option<f64>,
    stake_unit: Option<f64>,
    half_life_positive: Option<String>,
    half_life_negative: Option<String>,
    vouch_depth: Option<u32>,
    vouch_strength: Option<f64>,
    report_weight: Option<f64>,
    report_cap: Option<f64>,
    vindictive_prior: Option<f64>,
    seeds: Option<Vec<String>>,
    alpha: Option<f64>,
    epsilon: Option<f64>,
    max_iterations: Option<u32>,
}

impl RawModel {
    fn into_params(self) -> Result<ModelParams, PolicyError> {
        let mut p = ModelParams::default();
        let duration = |key: &str, text: Option<String>, default: i64| match text {
            None => Ok(default),
            Some(t) => parse_duration(&t).map_err(|e| PolicyError(format!("model.{key}: {e}"))),
        };
        p.half_life_positive = duration(
            "half_life_positive",
            self.half_life_positive,
            p.half_life_positive,
        )?;
        p.half_life_negative = duration(
            "half_life_negative",
            self.half_life_negative,
            p.half_life_negative,
        )?;
        p.prior_weight = self.prior_weight.unwrap_or(p.prior_weight);
        p.base_rate = self.base_rate.unwrap_or(p.base_rate);
        p.newcomer_base_rate = self.newcomer_base_rate.unwrap_or(p.newcomer_base_rate);
        p.betrayal_weight = self.betrayal_weight.unwrap_or(p.betrayal_weight);
        p.stake_unit = self.stake_unit.unwrap_or(p.stake_unit);
        p.vouch_depth = self.vouch_depth.unwrap_or(p.vouch_depth);
        p.vouch_strength = self.vouch_strength.unwrap_or(p.vouch_strength);
        p.report_weight = self.report_weight.unwrap_or(p.report_weight);
        p.report_cap = self.report_cap.unwrap_or(p.report_cap);
        p.vindictive_prior = self.vindictive_prior.unwrap_or(p.vindictive_prior);
        p.rank.alpha = self.alpha.unwrap_or(p.rank.alpha);
        p.rank.epsilon = self.epsilon.unwrap_or(p.rank.epsilon);
        p.rank.max_iterations = self.max_iterations.unwrap_or(p.rank.max_iterations);
        p.seeds = self
            .seeds
            .unwrap_or_default()
            .iter()
            .map(|s| Id::parse("model.seeds", s).map_err(|e| PolicyError(e.to_string())))
            .collect::<Result<_, _>>()?;
        p.check().map_err(PolicyError)?;
        Ok(p)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    #[serde(default)]
    operators: Vec<String>,
}

impl Policy {
    /// Parses and checks policy text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        let operators = raw
            .ledger
            .operators
            .iter()
            .map(|s| Id::parse("ledger.operators", s).map_err(|e| PolicyError(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ledger: LedgerConfig { operators },
            model: raw.model.into_params()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_parses() {
        assert_eq!(Policy::from_toml(DEFAULT_POLICY), Ok(Policy::default()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Policy::from_toml("[ledger]\noperater = []\n").expect_err("typo");
        assert!(err.0.contains("operater"), "{err}");
        let err = Policy::from_toml("[ledgr]\n").expect_err("typo");
        assert!(err.0.contains("ledgr"), "{err}");
        let err = Policy::from_toml("[ledger]\noperators = [\"has space\"]\n").expect_err("bad id");
        assert!(err.0.contains("ledger.operators"), "{err}");
        let ok = Policy::from_toml("[ledger]\noperators = [\"svc:identity\"]\n").expect("valid");
        assert_eq!(ok.ledger.operators[0].as_str(), "svc:identity");
    }

    #[test]
    fn model_settings_are_range_checked_by_name() {
        let cases = [
            ("[model]\nbetrayal_weight = 1.0\n", "model.betrayal_weight"),
            ("[model]\nbase_rate = 1.5\n", "model.base_rate"),
            (
                "[model]\nhalf_life_positive = \"ten days\"\n",
                "model.half_life_positive",
            ),
            (
                "[model]\nhalf_life_negative = \"1d\"\n",
                "model.half_life_negative",
            ),
            ("[model]\nalpha = 0.0\n", "model.alpha"),
            ("[model]\nvouch_depth = 9\n", "model.vouch_depth"),
            ("[model]\nseeds = [\"two words\"]\n", "model.seeds"),
            ("[model]\nbeta = 1\n", "beta"),
        ];
        for (text, key) in cases {
            let err = Policy::from_toml(text).expect_err(text);
            assert!(err.0.contains(key), "{text}: {err}");
        }
        let p = Policy::from_toml("[model]\nhalf_life_positive = \"30d\"\nseeds = [\"user:1\"]\n")
            .expect("valid");
        assert_eq!(
            p.model.half_life_positive,
            30 * crate::model::params::DAY_MICROS
        );
        assert_eq!(p.model.seeds[0].as_str(), "user:1");
    }
}
