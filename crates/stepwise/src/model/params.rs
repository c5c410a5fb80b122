//! The trust model's settings: every constant of docs/MODEL.md, with its default and its range.
//!
//! Settings come from the `[model]` table of `stepwise.toml`; each is checked here so that the
//! model never runs on a value that breaks one of its laws (for example a betrayal weight below
//! 2, under which a broken promise could cost less than a kept one gains).

use super::rank::RankParams;
use crate::evidence::Id;

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// The trust model's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// Prior weight `W` of subjective logic: how much evidence it takes to be half sure.
    pub prior_weight: f64,
    /// Base rate `a` of a principal whose network rank is at least average.
    pub base_rate: f64,
    /// Base rate of a principal nobody in the network trusts yet (P2: a little trust).
    pub newcomer_base_rate: f64,
    /// Betrayal weight `λ`: a broken promise counts `λ` times a kept one (P4).
    pub betrayal_weight: f64,
    /// The stake unit in `w(stake) = 1 + log2(1 + stake / unit)`.
    pub stake_unit: f64,
    /// Half-life of positive evidence, in microseconds.
    pub half_life_positive: i64,
    /// Half-life of negative evidence, in microseconds (at least the positive one: P4).
    pub half_life_negative: i64,
    /// Longest vouch chain that carries trust (P7).
    pub vouch_depth: u32,
    /// Positive evidence a vouch of weight 1 amounts to, in the voucher's own view.
    pub vouch_strength: f64,
    /// Negative evidence a report of severity 1 amounts to, before credibility (P8).
    pub report_weight: f64,
    /// Most negative evidence one reporter's reports can add about one subject (P8).
    pub report_cap: f64,
    /// Most evidence one rater's ratings can add about one subject, for each sign (P8: a rater
    /// is one voice, however often it repeats itself).
    pub rating_cap: f64,
    /// Pseudo-count of the prior that smooths a rater's share of negative verdicts.
    pub vindictive_prior: f64,
    /// An approver whose approval record (docs/MODEL.md "Approvals") is below this may not
    /// approve; below ½, the record of an approver with no evidence, so that power lost comes
    /// back as the evidence fades.
    pub approval_floor: f64,
    /// The share of a broken approved promise's weight that also counts against the approver's
    /// standing, in the promisee's view (the approver lent trust it has: it answers for it).
    pub approval_liability: f64,
    /// Pre-trusted principals: the teleport set of network rank (Sybil resistance).
    pub seeds: Vec<Id>,
    /// Damping, convergence threshold and iteration limit of network rank.
    pub rank: RankParams,
}

impl Default for ModelParams {
    fn default() -> Self {
        Self {
            prior_weight: 2.0,
            base_rate: 0.5,
            newcomer_base_rate: 0.2,
            betrayal_weight: 3.0,
            stake_unit: 1.0,
            half_life_positive: 180 * DAY_MICROS,
            half_life_negative: 720 * DAY_MICROS,
            vouch_depth: 3,
            vouch_strength: 8.0,
            report_weight: 2.0,
            report_cap: 4.0,
            rating_cap: 4.0,
            vindictive_prior: 5.0,
            approval_floor: 0.4,
            approval_liability: 0.5,
            seeds: Vec::new(),
            rank: RankParams::default(),
        }
    }
}

impl ModelParams {
    /// Checks every setting; the error names the `[model]` key and the accepted range.
    pub fn check(&self) -> Result<(), String> {
        let range = |key: &str, value: f64, ok: bool, want: &str| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(format!("model.{key} = {value} must be {want}"))
            }
        };
        range(
            "prior_weight",
            self.prior_weight,
            self.prior_weight > 0.0,
            "> 0",
        )?;
        range(
            "base_rate",
            self.base_rate,
            self.base_rate > 0.0 && self.base_rate < 1.0,
            "in (0, 1)",
        )?;
        range(
            "newcomer_base_rate",
            self.newcomer_base_rate,
            (0.0..=self.base_rate).contains(&self.newcomer_base_rate),
            "in [0, base_rate]",
        )?;
        range(
            "betrayal_weight",
            self.betrayal_weight,
            self.betrayal_weight >= 2.0,
            "≥ 2 (a broken promise must weigh at least two kept ones)",
        )?;
        range("stake_unit", self.stake_unit, self.stake_unit > 0.0, "> 0")?;
        if self.half_life_positive <= 0 {
            return Err("model.half_life_positive must be longer than zero".into());
        }
        if self.half_life_negative < self.half_life_positive {
            return Err(
                "model.half_life_negative must be at least half_life_positive: betrayals are remembered longer than kindnesses"
                    .into(),
            );
        }
        if !(1..=6).contains(&self.vouch_depth) {
            return Err(format!(
                "model.vouch_depth = {} must be in 1..=6",
                self.vouch_depth
            ));
        }
        range(
            "vouch_strength",
            self.vouch_strength,
            self.vouch_strength >= 0.0,
            "≥ 0",
        )?;
        range(
            "report_weight",
            self.report_weight,
            self.report_weight >= 0.0,
            "≥ 0",
        )?;
        range("report_cap", self.report_cap, self.report_cap >= 0.0, "≥ 0")?;
        range("rating_cap", self.rating_cap, self.rating_cap >= 0.0, "≥ 0")?;
        range(
            "vindictive_prior",
            self.vindictive_prior,
            self.vindictive_prior > 0.0,
            "> 0",
        )?;
        range(
            "approval_floor",
            self.approval_floor,
            (0.0..0.5).contains(&self.approval_floor),
            "in [0, 0.5): below ½, the record of an approver with no evidence, so that a lost \
             power to approve comes back as betrayals fade",
        )?;
        range(
            "approval_liability",
            self.approval_liability,
            (0.0..=1.0).contains(&self.approval_liability),
            "in [0, 1]",
        )?;
        range(
            "alpha",
            self.rank.alpha,
            self.rank.alpha > 0.0 && self.rank.alpha <= 1.0,
            "in (0, 1]",
        )?;
        range("epsilon", self.rank.epsilon, self.rank.epsilon > 0.0, "> 0")?;
        if self.rank.max_iterations == 0 {
            return Err("model.max_iterations must be at least 1".into());
        }
        Ok(())
    }

    /// Evidence weight of a promise: `w(stake) = 1 + log2(1 + stake / unit)`, so that stakes
    /// count, but small promises cannot buy large trust by number alone (P1).
    pub fn stake_weight(&self, stake: f64) -> f64 {
        1.0 + (1.0 + stake.max(0.0) / self.stake_unit).log2()
    }
}

/// A duration in microseconds as [`parse_duration`] reads it: in the largest unit that
/// divides it (`1d`, `36h`, `90s`), else in seconds with a fraction.
pub fn format_duration(micros: i64) -> String {
    const UNITS: [(i64, &str); 5] = [
        (604_800_000_000, "w"),
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
    ];
    match UNITS
        .iter()
        .find(|(unit, _)| micros != 0 && micros % unit == 0)
    {
        Some((unit, name)) => format!("{}{name}", micros / unit),
        None => format!("{}s", micros as f64 / 1e6),
    }
}

/// Parses a duration such as `180d`, `12h`, `30m`, `45s` or `2w` into microseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit; write for example 180d, 12h, 30m"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let unit_micros = match unit {
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3_600e6,
        "d" => 86_400e6,
        "w" => 604_800e6,
        other => {
            return Err(format!(
                "{text:?} has unknown unit {other:?}; use s, m, h, d or w"
            ));
        }
    };
    let micros = value * unit_micros;
    if !micros.is_finite() || micros > 1e17 {
        return Err(format!("{text:?} is too long"));
    }
    Ok(micros as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks() {
        assert_eq!(ModelParams::default().check(), Ok(()));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("180d"), Ok(180 * DAY_MICROS));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000));
        assert!(parse_duration("180").is_err());
        assert!(parse_duration("3 fortnights").is_err());
    }

    #[test]
    fn a_betrayal_weight_below_two_is_refused() {
        let params = ModelParams {
            betrayal_weight: 1.5,
            ..ModelParams::default()
        };
        assert!(
            params
                .check()
                .expect_err("refused")
                .contains("betrayal_weight")
        );
    }
}
