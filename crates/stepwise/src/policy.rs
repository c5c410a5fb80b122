//! The operator's policy file, `stepwise.toml`.
//!
//! Parsing is strict: an unknown key or an out-of-range value is refused with a message naming
//! the key, because a typo in a trust policy must never silently fall back to a default. This
//! module only parses and checks; it reads no files itself.

use crate::evidence::Id;
use crate::ladder::{Ladder, Level, Profile, Requirements, Rules};
use crate::ledger::{LedgerConfig, TimeWindow};
use crate::model::params::{ModelParams, parse_duration};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

mod budget;
mod gate;
mod log;
mod witness;
pub use gate::{CHECK_ATTEMPTS, CHECK_PLACEHOLDERS, GatePolicy, GateTool, StakeSource};
pub use log::LogPolicy;
pub use witness::WitnessSettings;

/// The policy written by `stepwise init`, with every setting documented.
pub const DEFAULT_POLICY: &str = r#"# stepwise policy.
#
# Every key is optional; an unknown key is an error, so typos never pass silently.

[ledger]
# Principals allowed to record `key` events for other principals, for example an identity
# service that registers agents' public keys. Everyone may always record their own first key.
operators = []

# Trusted time (P9): the log stamps every entry with the time it heard it (`recorded_at`, never
# decreasing). An event's own time `at` must lie within this window around that stamp, so nobody
# can backdate a long clean record. Older, dated evidence enters only as history imported on
# purpose by an operator (`stepwise import --history`), and is marked so in the log.
[time]
# Longest backdating accepted (s, m, h, d or w): late reports of what happened a while ago.
max_backdate = "24h"
# Furthest ahead accepted: clients whose clocks run a little fast.
max_ahead = "5m"

# Network rank is a view of the log, refreshed in the background by `stepwise serve` (a request
# never computes it); every answer that uses it says the log size it was computed at
# (`rank_log_size`).
[network]
# The rank is refreshed at most this often (s, m, h, d or w; fractions allowed: "0.5s")...
refresh_interval = "1s"
# ...unless this many entries have been appended since the last refresh: then at once. Either
# way it rests four times its last computation's time in between (at most a fifth of a core).
refresh_events = 10000
# Seeds: the principals the operator trusts from the start (EigenTrust's pre-trusted peers,
# written by `stepwise init --seed ID`). The rank starts from them and flows along trust, so a
# principal no seed reaches earns none. With none named the rank starts from every principal
# alike, and identities that trust only each other earn rank like anyone else.
seeds = []

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
# The most evidence one rater's ratings (each sign apart) can add about one subject, however
# often it rates (P8: one rater is one voice).
rating_cap = 4.0
# Pseudo-count smoothing a rater's negative verdicts against those its peers' judgement of the
# same subjects predicted (P8: raters who pan whom everyone else praises weigh less).
vindictive_prior = 5.0
# Approvals (a call the ladder refused "not yet", let through by an approver): an approver whose
# approval record (E of its approved promises kept and broken, at base rate 0.5) is below
# approval_floor (in [0, 0.5)) may not approve; a broken approved promise also counts
# approval_liability (in [0, 1]) of its weight against the approver's standing.
approval_floor = 0.4
approval_liability = 0.5
# Network rank (EigenTrust): damping and convergence (its seeds are under [network]).
alpha = 0.15
epsilon = 1e-10
max_iterations = 1000

# The ladder (P1): levels from 0 upwards; each unlocks capabilities (on top of those below) and a
# largest stake. A principal climbs one step at a time; the requirements to enter a level count
# only evidence gathered since reaching the level below.
[ladder]
# A broken (or overdue) promise demotes one step, plus one per this fraction of the level's
# max_stake at stake; then no promotion during the cool-down (P4).
demotion_stake_fraction = 0.5
cooldown = "30d"
# Scale the cool-down, the clean period a broken promise spoils and the kept promises and
# tenure to earn again by its stake over the level's max_stake: a small slip at a high level
# still demotes a step, but costs a small share of the way back. false: every betrayal costs
# them in full.
scale_by_stake = true
# A level's max_stake bounds what a principal has at risk at once: the stake asked plus its
# promises with no outcome that are not yet due. false: it bounds each promise alone.
limit_exposure = true
# Level 0 has no step down: a broken promise there takes half of the share of level 0's limit it
# betrayed until its cool-down ends (betrayals within a cool-down compound), so that betrayal
# after betrayal at the bottom takes at most twice the limit per cool-down, not the limit every
# day. false: level 0's limit stays whole for anyone above the floor.
bound_level_0_losses = true
# Hysteresis: demote for a dip in standing only beyond this margin below a level's minimum.
margin = 0.05
# Below this expected trust even level 0 is refused: a negative record, not a newcomer (P2).
floor_expected = 0.1

[[ladder.levels]]
name = "newcomer"
capabilities = ["read", "propose"]
max_stake = 10

[[ladder.levels]]
name = "contributor"
capabilities = ["act:low"]
max_stake = 100
kept = 3                  # kept promises since reaching the level below...
kept_min_stake = 5        # ...each at a stake of at least this (this level's stakes)
min_expected = 0.6        # minimum expected trust
max_uncertainty = 0.5     # maximum uncertainty (P6)
min_tenure = "1d"         # time spent on the level below
clean_for = "7d"          # no broken or overdue promise within this long
min_counterparties = 2    # distinct promisees who judged those kept promises (whose word counts)

[[ladder.levels]]
name = "trusted"
capabilities = ["act:medium"]
max_stake = 1000
kept = 10
kept_min_stake = 50
min_expected = 0.75
max_uncertainty = 0.2
min_tenure = "7d"
clean_for = "30d"
min_counterparties = 3

[[ladder.levels]]
name = "steward"
capabilities = ["act:high", "vouch"]
max_stake = 10000
kept = 20
kept_min_stake = 500
min_expected = 0.85
max_uncertainty = 0.1
min_tenure = "30d"
clean_for = "90d"
min_counterparties = 5
vouches = 1               # active vouches needed...
vouchers_level = 2        # ...from principals at this level or above (P7)

# Trusters may be more cautious than this policy, never more lenient (P10). For example:
# [trusters."user:cautious"]
# stake_factor = 0.5      # accept only half of each level's max_stake
# max_stake = 200         # and never more than this
# min_level = 1           # refuse newcomers
# min_expected = 0.8      # require this expected trust in its own view

# `stepwise gate` puts an agent's MCP tools behind the ladder: a tool not named here is refused,
# a named one is called only when the ladder allows its capability at its stake, and every
# allowed call records a promise for its promisee to judge (docs/AGENTS.md). For example:
# [gate.tools."deploy"]
# capability = "act:high"  # a capability some level grants
# stake_arg = "amount"     # the stake: this argument of the call, or `stake = 500` for a fixed one
# promisee = "user:ann"    # who judges the result
# due = "24h"              # by when, after the call

# `stepwise serve` serves the log as C2SP tlog-tiles (checkpoint, hash tiles, entry bundles)
# under this path, to any API key (docs/API.md, "Reading the log as tiles").
[log]
tiles_prefix = "/tlog"
# true: anyone may read the tiles, with no key. Refused while format-1/2 entries of the log name
# principals in the clear, unless set to "despite_clear_names" (docs/PRIVACY.md).
public = false
"#;

/// The parsed policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Ledger settings.
    pub ledger: LedgerConfig,
    /// Trust model settings.
    pub model: ModelParams,
    /// The ladder and trusters' profiles.
    pub ladder: Ladder,
    /// How the server keeps the network rank fresh.
    pub network: RankRefresh,
    /// The tools `stepwise gate` lets through.
    pub gate: GatePolicy,
    /// How `stepwise serve` opens the log to readers.
    pub log: LogPolicy,
    /// The witnesses `stepwise serve` asks to cosign its checkpoints.
    pub witness: WitnessSettings,
}

impl Policy {
    /// Whether a log folds alike under `self` and `other`: the same ledger rules, model and
    /// ladder. What else a policy holds — the gate's tools and their pins, how the rank is
    /// refreshed, how the log is opened and witnessed — changes no answer.
    pub fn folds_as(&self, other: &Policy) -> bool {
        self.ledger == other.ledger && self.model == other.model && self.ladder == other.ladder
    }
}

/// When the server refreshes the network rank (`[network]`): once the log has grown, at most
/// every `interval_micros`, or at once when `events` entries have been appended since. When
/// appends stop, the served rank catches up with the log within the interval plus one
/// computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankRefresh {
    /// Shortest time between two refreshes, in microseconds.
    pub interval_micros: i64,
    /// Entries appended since the last refresh that call for one at once.
    pub events: u64,
}

impl Default for RankRefresh {
    fn default() -> Self {
        Self {
            interval_micros: 1_000_000,
            events: 10_000,
        }
    }
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
    time: RawTime,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    model: RawModel,
    ladder: Option<RawLadder>,
    #[serde(default)]
    trusters: BTreeMap<String, RawProfile>,
    #[serde(default)]
    gate: gate::RawGate,
    #[serde(default)]
    log: log::RawLog,
    #[serde(default)]
    witness: witness::RawWitness,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLadder {
    demotion_stake_fraction: Option<f64>,
    cooldown: Option<String>,
    scale_by_stake: Option<bool>,
    limit_exposure: Option<bool>,
    bound_level_0_losses: Option<bool>,
    margin: Option<f64>,
    floor_expected: Option<f64>,
    levels: Vec<RawLevel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    name: String,
    #[serde(default)]
    capabilities: Vec<String>,
    max_stake: f64,
    kept: Option<u32>,
    kept_min_stake: Option<f64>,
    min_expected: Option<f64>,
    max_uncertainty: Option<f64>,
    min_tenure: Option<String>,
    clean_for: Option<String>,
    vouches: Option<u32>,
    vouchers_level: Option<usize>,
    min_counterparties: Option<u32>,
    budget: Option<budget::RawBudget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    stake_factor: Option<f64>,
    max_stake: Option<f64>,
    min_level: Option<usize>,
    min_expected: Option<f64>,
}

fn duration_of(key: &str, text: Option<&str>) -> Result<i64, PolicyError> {
    match text {
        None => Ok(0),
        Some(t) => parse_duration(t).map_err(|e| PolicyError(format!("{key}: {e}"))),
    }
}

impl RawLadder {
    fn into_ladder(self, trusters: BTreeMap<String, RawProfile>) -> Result<Ladder, PolicyError> {
        let defaults = Rules::default();
        let rules = Rules {
            demotion_stake_fraction: self
                .demotion_stake_fraction
                .unwrap_or(defaults.demotion_stake_fraction),
            cooldown: match self.cooldown {
                Some(t) => duration_of("ladder.cooldown", Some(&t))?,
                None => defaults.cooldown,
            },
            scale_by_stake: self.scale_by_stake.unwrap_or(defaults.scale_by_stake),
            limit_exposure: self.limit_exposure.unwrap_or(defaults.limit_exposure),
            bound_level_0_losses: self
                .bound_level_0_losses
                .unwrap_or(defaults.bound_level_0_losses),
            margin: self.margin.unwrap_or(defaults.margin),
            floor_expected: self.floor_expected.unwrap_or(defaults.floor_expected),
        };
        let levels = self
            .levels
            .into_iter()
            .enumerate()
            .map(|(k, l)| {
                let key = |f: &str| format!("ladder.levels[{k}].{f}");
                Ok(Level {
                    name: l.name,
                    capabilities: l.capabilities,
                    max_stake: l.max_stake,
                    requires: Requirements {
                        kept: l.kept.unwrap_or(0),
                        kept_min_stake: l.kept_min_stake.unwrap_or(0.0),
                        min_expected: l.min_expected.unwrap_or(0.0),
                        max_uncertainty: l.max_uncertainty.unwrap_or(if k == 0 {
                            0.0
                        } else {
                            1.0
                        }),
                        min_tenure: duration_of(&key("min_tenure"), l.min_tenure.as_deref())?,
                        clean_for: duration_of(&key("clean_for"), l.clean_for.as_deref())?,
                        vouches: l.vouches.unwrap_or(0),
                        vouchers_level: l.vouchers_level.unwrap_or(0),
                        min_counterparties: l.min_counterparties.unwrap_or(0),
                    },
                    budget: l
                        .budget
                        .map(|b| b.into_budget(&key("budget")))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ladder::new(levels, rules, profiles(trusters)?).map_err(PolicyError)
    }
}

fn profiles(trusters: BTreeMap<String, RawProfile>) -> Result<HashMap<Id, Profile>, PolicyError> {
    trusters
        .into_iter()
        .map(|(id, raw)| {
            let truster = Id::parse("trusters", &id).map_err(|e| PolicyError(e.to_string()))?;
            let d = Profile::default();
            Ok((
                truster,
                Profile {
                    stake_factor: raw.stake_factor.unwrap_or(d.stake_factor),
                    max_stake: raw.max_stake.unwrap_or(d.max_stake),
                    min_level: raw.min_level.unwrap_or(d.min_level),
                    min_expected: raw.min_expected.unwrap_or(d.min_expected),
                },
            ))
        })
        .collect()
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
    rating_cap: Option<f64>,
    vindictive_prior: Option<f64>,
    approval_floor: Option<f64>,
    approval_liability: Option<f64>,
    /// Read by [`Policy::from_toml`]: seeds are named under `[network]` now.
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
        p.rating_cap = self.rating_cap.unwrap_or(p.rating_cap);
        p.vindictive_prior = self.vindictive_prior.unwrap_or(p.vindictive_prior);
        p.approval_floor = self.approval_floor.unwrap_or(p.approval_floor);
        p.approval_liability = self.approval_liability.unwrap_or(p.approval_liability);
        p.rank.alpha = self.alpha.unwrap_or(p.rank.alpha);
        p.rank.epsilon = self.epsilon.unwrap_or(p.rank.epsilon);
        p.rank.max_iterations = self.max_iterations.unwrap_or(p.rank.max_iterations);
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTime {
    max_backdate: Option<String>,
    max_ahead: Option<String>,
}

impl RawTime {
    fn into_window(self) -> Result<TimeWindow, PolicyError> {
        let defaults = TimeWindow::default();
        Ok(TimeWindow {
            max_backdate: match self.max_backdate {
                Some(t) => duration_of("time.max_backdate", Some(&t))?,
                None => defaults.max_backdate,
            },
            max_ahead: match self.max_ahead {
                Some(t) => duration_of("time.max_ahead", Some(&t))?,
                None => defaults.max_ahead,
            },
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    refresh_interval: Option<String>,
    refresh_events: Option<u64>,
    seeds: Option<Vec<String>>,
}

impl RawNetwork {
    fn into_refresh(self) -> Result<RankRefresh, PolicyError> {
        let defaults = RankRefresh::default();
        let events = self.refresh_events.unwrap_or(defaults.events);
        if events == 0 {
            return Err(PolicyError(
                "network.refresh_events = 0: must be at least 1".into(),
            ));
        }
        Ok(RankRefresh {
            interval_micros: match self.refresh_interval {
                Some(t) => duration_of("network.refresh_interval", Some(&t))?,
                None => defaults.interval_micros,
            },
            events,
        })
    }
}

/// Principal ids from a policy list, each checked and named by `field` if it is not one.
fn seeds_of(field: &str, list: Option<&[String]>) -> Result<Vec<Id>, PolicyError> {
    list.unwrap_or_default()
        .iter()
        .map(|s| Id::parse(field, s).map_err(|e| PolicyError(e.to_string())))
        .collect()
}

/// The default policy with `seeds` named under `[network]`: what `stepwise init --seed` writes.
pub fn default_policy_with_seeds(seeds: &[Id]) -> String {
    let list: Vec<String> = seeds
        .iter()
        .map(|s| toml::Value::String(s.as_str().to_owned()).to_string())
        .collect();
    DEFAULT_POLICY.replacen(
        "\nseeds = []\n",
        &format!("\nseeds = [{}]\n", list.join(", ")),
        1,
    )
}

impl Policy {
    /// Parses and checks policy text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let mut raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        // Seeds were once named under [model]; a policy written then still loads.
        let seeds = match (raw.network.seeds.take(), raw.model.seeds.take()) {
            (Some(_), Some(_)) => {
                return Err(PolicyError(
                    "network.seeds: seeds are also named under [model] (their older place); \
                     keep one list, under [network]"
                        .into(),
                ));
            }
            (Some(list), None) => seeds_of("network.seeds", Some(&list))?,
            (None, list) => seeds_of("model.seeds", list.as_deref())?,
        };
        let operators = raw
            .ledger
            .operators
            .iter()
            .map(|s| Id::parse("ledger.operators", s).map_err(|e| PolicyError(e.to_string())))
            .collect::<Result<_, _>>()?;
        let ladder = match raw.ladder {
            Some(ladder) => ladder.into_ladder(raw.trusters)?,
            None => {
                let d = Ladder::default();
                Ladder::new(
                    d.levels().to_vec(),
                    d.rules().clone(),
                    profiles(raw.trusters)?,
                )
                .map_err(PolicyError)?
            }
        };
        let gate = raw.gate.into_gate(&ladder)?;
        Ok(Self {
            gate,
            log: raw.log.into_log()?,
            witness: raw.witness.into_settings()?,
            ledger: LedgerConfig {
                operators,
                window: raw.time.into_window()?,
            },
            model: ModelParams {
                seeds,
                ..raw.model.into_params()?
            },
            ladder,
            network: raw.network.into_refresh()?,
        })
    }

    /// Every principal the policy names: seeds, operators, trusters with a profile.
    pub fn principals(&self) -> Vec<&Id> {
        let mut ids: Vec<&Id> = self.model.seeds.iter().collect();
        ids.extend(&self.ledger.operators);
        ids.extend(self.ladder.profiles().keys());
        ids
    }

    /// The same policy with every principal it names renamed by `rename`: the names the log
    /// uses (pseudonyms in format 3), so that the fold, the registry and the ladder find them.
    pub fn renamed(&self, rename: &dyn Fn(&Id) -> Id) -> Self {
        let mut policy = self.clone();
        policy.model.seeds = self.model.seeds.iter().map(rename).collect();
        policy.ledger.operators = self.ledger.operators.iter().map(rename).collect();
        policy.ladder = self.ladder.renamed(rename);
        policy
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
    fn the_rank_refresh_is_read_and_checked_by_name() {
        let p = Policy::from_toml("[network]\nrefresh_interval = \"0.25s\"\nrefresh_events = 50\n")
            .expect("parses");
        assert_eq!(
            p.network,
            RankRefresh {
                interval_micros: 250_000,
                events: 50
            }
        );
        let defaults = Policy::from_toml(DEFAULT_POLICY).expect("parses");
        assert_eq!(defaults.network, RankRefresh::default());
        for (text, key) in [
            (
                "[network]\nrefresh_interval = \"soon\"\n",
                "network.refresh_interval",
            ),
            ("[network]\nrefresh_events = 0\n", "network.refresh_events"),
            ("[network]\nrefresh_every = 5\n", "refresh_every"),
        ] {
            let e = Policy::from_toml(text).expect_err(text).to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn the_time_window_is_read_and_checked_by_name() {
        let p = Policy::from_toml("[time]\nmax_backdate = \"2h\"\nmax_ahead = \"30s\"\n")
            .expect("valid");
        assert_eq!(p.ledger.window.max_backdate, 2 * 3_600_000_000);
        assert_eq!(p.ledger.window.max_ahead, 30_000_000);
        let defaults = Policy::from_toml("").expect("empty policy");
        assert_eq!(defaults.ledger.window, TimeWindow::default());
        for bad in [
            "[time]\nmax_backdate = \"-1h\"\n",
            "[time]\nmax_backdate = \"24\"\n",
            "[time]\nmax_behind = \"1h\"\n",
        ] {
            let err = Policy::from_toml(bad).expect_err(bad);
            assert!(
                err.0.contains("max_backdate") || err.0.contains("max_behind"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn ladder_settings_are_checked_by_name() {
        let level0 = "[[ladder.levels]]\nname = \"zero\"\nmax_stake = 10\n";
        let cases = [
            ("[ladder]\nlevels = []\n".to_owned(), "ladder.levels"),
            (format!("[ladder]\nmargin = 0.7\n{level0}"), "ladder.margin"),
            (
                format!("[ladder]\ncooldown = \"a month\"\n{level0}"),
                "ladder.cooldown",
            ),
            (format!("{level0}kept = 3\n"), "ladder.levels[0]"),
            (
                format!("{level0}[[ladder.levels]]\nname = \"one\"\nmax_stake = 5\n"),
                "ladder.levels[1].max_stake",
            ),
            (
                format!("{level0}[[ladder.levels]]\nname = \"zero\"\nmax_stake = 50\n"),
                "ladder.levels[1].name",
            ),
            (
                format!(
                    "{level0}[[ladder.levels]]\nname = \"one\"\nmax_stake = 50\nmin_expected = 1.5\n"
                ),
                "ladder.levels[1].min_expected",
            ),
            (
                format!(
                    "{level0}[[ladder.levels]]\nname = \"one\"\nmax_stake = 50\nkept_min_stake = 60\n"
                ),
                "ladder.levels[1].kept_min_stake",
            ),
            (
                format!(
                    "{level0}[[ladder.levels]]\nname = \"one\"\nmax_stake = 50\nclean_for = \"soon\"\n"
                ),
                "ladder.levels[1].clean_for",
            ),
            (
                format!(
                    "{level0}[[ladder.levels]]\nname = \"one\"\nmax_stake = 50\nvouches = 1\nvouchers_level = 5\n"
                ),
                "ladder.levels[1].vouchers_level",
            ),
            (
                format!("[ladder]\nscale_by_stake = \"yes\"\n{level0}"),
                "scale_by_stake",
            ),
            (format!("{level0}max_stak = 3\n"), "max_stak"),
            (
                format!("{level0}capabilities = [\"two words\"]\n"),
                "ladder.levels[0].capabilities",
            ),
            (
                "[trusters.\"user:x\"]\nstake_factor = 2.0\n".to_owned(),
                "stake_factor",
            ),
            (
                "[trusters.\"user:x\"]\nmin_level = 9\n".to_owned(),
                "min_level",
            ),
            (
                "[trusters.\"user:x\"]\nloosen = true\n".to_owned(),
                "loosen",
            ),
            (
                "[trusters.\"two words\"]\nmin_level = 1\n".to_owned(),
                "trusters",
            ),
        ];
        for (text, key) in cases {
            let err = Policy::from_toml(&text).expect_err(&text);
            assert!(err.0.contains(key), "{text}: {err}");
        }
        let p =
            Policy::from_toml("[trusters.\"user:cautious\"]\nstake_factor = 0.5\n").expect("valid");
        let id = Id::parse("t", "user:cautious").expect("id");
        assert_eq!(p.ladder.profile(&id).map(|p| p.stake_factor), Some(0.5));
        assert_eq!(p.ladder.levels().len(), 4);
    }

    #[test]
    fn a_level_s_budget_is_read_and_checked_by_name() {
        let level = |budget: &str| {
            format!("[[ladder.levels]]\nname = \"zero\"\nmax_stake = 10\nbudget = {budget}\n")
        };
        let p =
            Policy::from_toml(&level("{ stake = 50, calls = 20, per = \"1d\" }")).expect("valid");
        let b = p.ladder.levels()[0].budget.expect("a budget");
        assert_eq!(
            (b.stake, b.calls, b.per),
            (Some(50.0), Some(20), 86_400_000_000)
        );
        assert_eq!(p.ladder.budget_window(), 86_400_000_000);
        assert_eq!(Policy::default().ladder.budget_window(), 0);
        let e = Policy::from_toml(&level("{ per = \"1d\" }")).expect_err("empty");
        assert!(e.0.contains("ladder.levels[0].budget"), "{e}");
    }

    #[test]
    fn scaling_by_stake_is_on_by_default_and_can_be_turned_off() {
        assert!(Policy::default().ladder.rules().scale_by_stake);
        let p = Policy::from_toml("[ladder]\nscale_by_stake = false\n[[ladder.levels]]\nname = \"zero\"\nmax_stake = 10\n")
            .expect("valid");
        assert!(!p.ladder.rules().scale_by_stake);
    }

    #[test]
    fn the_exposure_limit_and_the_level_0_bound_are_on_by_default_and_can_be_turned_off() {
        let rules = Policy::default().ladder.rules().clone();
        assert!(rules.limit_exposure && rules.bound_level_0_losses);
        let p = Policy::from_toml("[ladder]\nlimit_exposure = false\nbound_level_0_losses = false\n[[ladder.levels]]\nname = \"zero\"\nmax_stake = 10\n")
            .expect("valid");
        assert!(!p.ladder.rules().limit_exposure && !p.ladder.rules().bound_level_0_losses);
        // The policy `stepwise init` writes spells out both, at their defaults.
        let written = Policy::from_toml(DEFAULT_POLICY).expect("valid");
        assert_eq!(written.ladder.rules(), &rules);
        assert!(DEFAULT_POLICY.contains("\nlimit_exposure = true"));
        assert!(DEFAULT_POLICY.contains("\nbound_level_0_losses = true"));
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
            ("[model]\nrating_cap = -1.0\n", "model.rating_cap"),
            ("[model]\napproval_floor = 0.5\n", "model.approval_floor"),
            (
                "[model]\napproval_liability = 1.5\n",
                "model.approval_liability",
            ),
            ("[model]\nrating_cap = nan\n", "model.rating_cap"),
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

    #[test]
    fn seeds_are_named_under_network_and_init_writes_them() {
        assert!(Policy::default().model.seeds.is_empty());
        let seeds = ["user:alice", "org:acme"].map(|s| Id::parse("t", s).expect("id"));
        let text = default_policy_with_seeds(&seeds);
        assert!(
            text.contains("\nseeds = [\"user:alice\", \"org:acme\"]\n"),
            "{text}"
        );
        let p = Policy::from_toml(&text).expect("valid");
        assert_eq!(p.model.seeds, seeds);
        assert_eq!(
            Policy {
                model: ModelParams::default(),
                ..p
            },
            Policy::default(),
            "nothing else differs from the default"
        );
        let levels = Policy::default().ladder.levels().to_vec();
        let counterparties: Vec<u32> = levels
            .iter()
            .map(|l| l.requires.min_counterparties)
            .collect();
        assert_eq!(
            counterparties,
            [0, 2, 3, 5],
            "the default ladder's distinct promisees"
        );
        let both = "[network]\nseeds = [\"a\"]\n[model]\nseeds = [\"b\"]\n";
        let err = Policy::from_toml(both).expect_err("named twice");
        assert!(
            err.0.contains("network.seeds") && err.0.contains("[model]"),
            "{err}"
        );
        let err = Policy::from_toml("[network]\nseeds = [\"two words\"]\n").expect_err("bad id");
        assert!(err.0.contains("network.seeds"), "{err}");
    }
}
