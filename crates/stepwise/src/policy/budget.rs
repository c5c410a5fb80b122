//! Budgets over time as the policy writes them, on a level of the ladder or a tool of the gate:
//! `budget = { stake = 200, calls = 50, per = "1d" }`.

use super::PolicyError;
use crate::ladder::Budget;
use crate::model::params::parse_duration;
use serde::Deserialize;

/// A budget as the policy writes it: `{ stake = 200, calls = 50, per = "1d" }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    stake: Option<f64>,
    calls: Option<u32>,
    per: String,
}

impl RawBudget {
    /// Checks it; `key` names it in errors (`ladder.levels[1].budget`).
    pub(super) fn into_budget(self, key: &str) -> Result<Budget, PolicyError> {
        let per = parse_duration(&self.per).map_err(|e| PolicyError(format!("{key}.per: {e}")))?;
        if per <= 0 {
            return Err(PolicyError(format!("{key}.per: must be longer than 0")));
        }
        if let Some(stake) = self.stake {
            crate::evidence::check_stake(&format!("{key}.stake"), stake)
                .map_err(|e| PolicyError(format!("{}: {}", e.field, e.problem)))?;
        }
        if self.stake.is_none() && self.calls.is_none() {
            return Err(PolicyError(format!(
                "{key}: give `stake` (the most at stake per window), `calls` (the most calls \
                 per window) or both"
            )));
        }
        Ok(Budget {
            stake: self.stake,
            calls: self.calls,
            per,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    #[test]
    fn budgets_are_read_with_every_field_named() {
        let raw = |text: &str| toml::from_str::<RawBudget>(text).expect("toml");
        let b = raw("stake = 200\ncalls = 5\nper = \"1d\"")
            .into_budget("b")
            .expect("valid");
        assert_eq!((b.stake, b.calls, b.per), (Some(200.0), Some(5), 24 * H));
        for (text, needle) in [
            ("per = \"1d\"", "b: give `stake`"),
            ("stake = 1\nper = \"0s\"", "b.per: must be longer"),
            ("stake = 1\nper = \"soon\"", "b.per:"),
            ("stake = -1\nper = \"1d\"", "b.stake"),
        ] {
            let e = raw(text).into_budget("b").expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
