//! Attack simulations: an agent-based market in which honest principals and attackers make and
//! keep or break promises, judged under stepwise's default policy and under two baselines in the
//! same run.
//!
//! It is for answering, with numbers anyone can reproduce, *how much can an attacker take, and
//! how much does it cost honest principals?* It must never touch disk, read the clock, use
//! randomness it cannot replay, or change the model or the ladder it judges: a scenario and a
//! seed determine every figure, and the three systems see the same world.
//!
//! # The world
//!
//! * **Time.** Round `r` is day `r` after 2026-01-01T00:00:00Z, so the ladder's tenure, clean
//!   period and cool-down (in days) bite as they would in production. Each round has two
//!   phases: at 01:00 the background events of the scenario (vouches, ratings, reports) and
//!   every request to act; at 13:00 the outcome of every promise made that morning, recorded by
//!   its promisee, each followed by the promisee's rating of the promisor (+1 kept, −1 broken).
//!   Events within a phase are one microsecond apart, in a fixed order. A promise is due one day
//!   after it is made, so none is ever left overdue. Honest newcomers' levels are read at 23:00.
//! * **Population.** [`HONEST`] honest principals, all newcomers at round 0, and [`CLIENTS`]
//!   clients, who are the promisees of every real promise and record outcomes and ratings.
//!   Attackers per scenario (below).
//! * **Requests.** Every round each honest principal asks to act once, at a stake drawn from
//!   [`STAKE_TIERS`] (5 with probability 0.6, 50 with 0.3, 500 with 0.1), for a client drawn
//!   uniformly (the stake it *wants*), and — if allowed — keeps the promise with probability
//!   [`HONEST_KEEP`] (0.99).
//! * **Honest principals know their limit, like attackers.** Every decision reports the limit
//!   that applied (a real client reads `limit` and `next_step`), so an honest principal that
//!   wants more than its limit asks for exactly its limit instead — it takes the smaller deal
//!   rather than none — and asks for what it wants when its limit is 0 (refused outright). The
//!   same rule holds under every system. Two measures follow: **friction**, the share of
//!   honest requests denied, and **shortfall**, the share of honest requests not served in full
//!   (denied, or asked below what was wanted): the business a cautious system costs honest
//!   principals, which friction alone would hide.
//!   The capability asked for is the one the default ladder requires for the stake:
//!   `propose` up to 10, `act:low` up to 100, `act:medium` up to 1,000, `act:high` above.
//!   A denied request makes no promise and no evidence.
//! * **The limit an agent reads** is what it may still take: stepwise's `limit` less what it
//!   already has at stake in open promises (`Decision::available`); the baselines bound each
//!   promise alone, so theirs is their cap.
//! * **Attackers know their limit** (every decision reports it): the worst case for a defender.
//!   To *climb* they ask for the largest stake tier within their limit and keep it (the fastest
//!   honest-looking way up the ladder: it meets each level's `kept_min_stake`). To *betray* they
//!   first ask for [`MAX_EXPOSURE`] and, if refused, for exactly their limit, and break the
//!   promise. Attackers' requests counted in [`SystemResult::attacker_requests`] are those to
//!   real clients; fake promises among colluders are not counted.
//! * **Randomness** is a splitmix64 hash of (seed, round, agent, purpose), not a stream, so a
//!   request denied under one system does not shift any later draw: the honest agents' demand
//!   and keep/break draws are identical under the three systems.
//!
//! # The scenarios
//!
//! | scenario | attackers |
//! |---|---|
//! | `honest` | none |
//! | `on-off` | 3 attackers alternate 10 rounds of climbing with 5 rounds of betraying at their limit |
//! | `slow-con` | 3 attackers climb until round ⌊3R/4⌋, then make one betrayal at their limit and leave |
//! | `whitewash` | 3 attackers climb until their limit reaches 1,000 (or 30 rounds pass), betray once, and re-enter the next round under a new identity |
//! | `sybil` | a ring of 10 fresh identities: the front and each of 9 supporters vouch for each other (round 0); every round each supporter rates the front +1 and the front rates each back; the front betrays a real client every round |
//! | `badmouth` | 3 attackers each file, every round, a report (severity 1) and a −1 rating against each of 5 honest victims (honest principals 0–4); they make no promises |
//! | `ballot-stuff` | 9 colluders; every round, after the requests to real clients, each is the promisee of a fake promise by the target (and colluders 1–8 of one by colluder 0, the accomplice), recorded kept and rated +1; the accomplice vouches for the target once its own limit reaches 1,000; the target climbs with real clients and betrays them whenever its limit is 10,000 (or, from round R/2 on, if it never got there, whenever it is at least 1,000) |
//! | `camouflage` | 3 attackers climb with most clients and, every 12th round, betray their one chosen victim client at their limit |
//! | `slice` | 3 attackers climb until their limit reaches 1,000 (or half the run passes); from then on, whenever their limit is back at the best it has ever been (and above the newcomer's 10), they betray ⌊[`SLICE`] · limit⌋ — just under half, one demotion step on the default ladder — the attack on a cool-down that scales with the stake |
//! | `exit-scam` | 3 attackers climb until their limit reaches 1,000 (or half the run passes); then, in one morning, each promises every client in turn as much as it is allowed (first [`MAX_EXPOSURE`], if refused what its limit leaves), breaks every promise and leaves — the attack on a limit that bounds each promise but not what is at risk at once |
//! | `promisee-ring` | a front and a ring of [`RING`] fresh identities nobody else deals with: every round, after the requests to real clients, the front promises each ring member in turn (starting one further along each round) as much as its limit leaves (the largest stake tier within it), and each records the promise kept and rates the front +1; the front deals with real clients only to betray them (the *ring front's rule*, below) |
//! | `old-ring` | the same, but the ring's members have dealt with each other since round 0 (each promises the next one every round, kept and rated +1), and the front appears at round ⌊R/2⌋: a ring with months of history behind it |
//! | `rating-ring` | a front deals with real clients, keeping its promises (the largest stake tier within its limit) and betraying one client at its limit every 10th round, while a ring of [`RING`] identities nobody else deals with rates it +1 every round (and each member rates the next +1) to cover the betrayals |
//! | `insider` | one real client (`client:0`, whose word counts like any client's) colludes: every round the front promises it as much as its limit leaves, and it records the promise kept and rates the front +1; the front deals with no one else except to betray other clients (the ring front's rule) |
//!
//! Approvals have a scenario of their own, `rubber-stamp` ([`approvals`]): only stepwise has
//! them, so it is judged alone, by how many broken approved promises it takes a rubber-stamp
//! approver to lose the power to approve, and whether an honest approver keeps it.
//!
//! **The ring front's rule** (`promisee-ring`, `old-ring`, `insider`): the front betrays one
//! real client (never the insider) at its limit whenever its limit is 1,000 or more (level 2 of
//! the default ladder, where the ring put it within ten days); once half of its time in
//! the market has passed without that, whenever its limit is above 0 — it takes what it can.
//! Its promises to the ring are fakes: evidence, not attacker requests or gain.
//!
//! # The systems
//!
//! * `stepwise`: [`LadderState`] with `ModelParams::default()` and `Ladder::default()` (or the
//!   settings given to [`run_with`]), fed every event; a request is allowed when
//!   `decide(subject, capability, stake, None, at)` allows it.
//! * `average`: the mean of the ratings a principal received. With at least one rating and a
//!   mean ≥ [`AVERAGE_THRESHOLD`] (0.8, i.e. at least 90 % positive), any stake up to
//!   [`MAX_EXPOSURE`] (10,000, the top of the default ladder) is allowed; otherwise (no rating
//!   yet, or below the threshold) only the newcomer allowance [`NEWCOMER_STAKE`] (10, stepwise's
//!   level 0 limit). No floor, no decay, no stake tiers: that is its weakness.
//! * `beta`: the beta reputation `(r + 1)/(r + s + 2)` of the ratings received (`r` the sum of
//!   positive values, `s` of negative ones, no forgetting), with the same rule and threshold
//!   [`BETA_THRESHOLD`] (0.8): three positive ratings and no negative open the full exposure.
//!
//! # The measures
//!
//! Per system: attacker gain (stake of attackers' promises to real clients that were allowed
//! and broken), honest gain (stake of honest promises allowed and kept), honest friction (share
//! of honest requests denied; also for the second half of the run alone, when the honest are
//! established), honest shortfall (share of honest requests not served in full; also for the
//! second half alone), the request counts, and for stepwise the median round at which an honest
//! newcomer first stood on each level, the honest principals' demotions, the share of honest
//! requests not served in full *after a fall* (while the principal stood below the highest
//! level it had reached: the cost of demotions, as against the cost of climbing) and the
//! highest level any attacker identity reached. [`Report::target`] checks issue 5's target:
//! stepwise's attacker gain at most 10 % of the average baseline's, with honest friction no
//! worse; it also says whether the shortfall is no worse.

use std::fmt;
use std::str::FromStr;
use stepwise::evidence::{Body, Event, Id, OutcomeResult, Time};
use stepwise::ladder::{Ladder, LadderState};
use stepwise::model::params::{DAY_MICROS, ModelParams};

pub mod approvals;
mod strategies;
mod systems;
mod world;

pub use approvals::{
    RUBBER_STAMP, RubberStampRun, RubberStampSummary, rubber_stamp_over, run_rubber_stamp,
};

use strategies::*;
use systems::*;
use world::*;

pub(crate) use world::splitmix64;

/// The scenario names, as given to `stepwise simulate --scenario`.
pub const SCENARIOS: [&str; 14] = [
    "honest",
    "on-off",
    "slow-con",
    "whitewash",
    "sybil",
    "badmouth",
    "ballot-stuff",
    "camouflage",
    "slice",
    "exit-scam",
    "promisee-ring",
    "old-ring",
    "rating-ring",
    "insider",
];

/// Rounds (days) simulated unless told otherwise.
pub const DEFAULT_ROUNDS: u32 = 200;
/// Seed used unless told otherwise.
pub const DEFAULT_SEED: u64 = 1;
/// The most rounds a run simulates (a hundred years of days); larger requests are clamped.
pub const MAX_ROUNDS: u32 = 36_500;
/// Honest principals in every scenario.
pub const HONEST: usize = 20;
/// Clients: the promisees of every real promise.
pub const CLIENTS: usize = 10;
/// Members of the ring in `promisee-ring`, `old-ring` and `rating-ring`.
pub const RING: usize = 10;
/// Honest demand: (stake, probability) tiers.
pub const STAKE_TIERS: [(f64, f64); 3] = [(5.0, 0.6), (50.0, 0.3), (500.0, 0.1)];
/// Probability that an honest principal keeps an allowed promise.
pub const HONEST_KEEP: f64 = 0.99;
/// The largest stake anyone asks for, and the baselines' exposure cap.
pub const MAX_EXPOSURE: f64 = 10_000.0;
/// What the baselines allow a principal with no (or a poor) rating record.
pub const NEWCOMER_STAKE: f64 = 10.0;
/// The `average` baseline's threshold on the mean rating (in [−1, 1]).
pub const AVERAGE_THRESHOLD: f64 = 0.8;
/// The `beta` baseline's threshold on `(r + 1)/(r + s + 2)`.
pub const BETA_THRESHOLD: f64 = 0.8;
/// The share of its limit a `slice` attacker betrays: just under the default ladder's
/// `demotion_stake_fraction` (0.5), so that each betrayal costs one step, not two.
pub const SLICE: f64 = 0.49;
/// 2026-01-01T00:00:00Z, the instant round 0 starts, in microseconds since the epoch.
pub const START_MICROS: i64 = 1_767_225_600_000_000;

const HOUR: i64 = DAY_MICROS / 24;
const MORNING: i64 = HOUR;
const AFTERNOON: i64 = 13 * HOUR;
const EVENING: i64 = 23 * HOUR;
/// The capabilities of the default ladder's levels that a stake at that level needs.
const ACT: [&str; 4] = ["propose", "act:low", "act:medium", "act:high"];

/// One attack scenario (or the honest control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Honest principals only: the control.
    Honest,
    /// Alternating blocks of kept and broken promises.
    OnOff,
    /// Many kept promises, then one large betrayal.
    SlowCon,
    /// Betray, then come back under a new identity.
    Whitewash,
    /// A ring of fake identities vouching for and rating each other.
    Sybil,
    /// Vindictive reports and ratings against honest principals.
    Badmouth,
    /// Colluders inflate one attacker with fake kept promises and ratings.
    BallotStuff,
    /// Honest with most clients, cheating a few.
    Camouflage,
    /// Many betrayals each just small enough to cost one step, whenever back at the top.
    Slice,
    /// Promises to every client at once, all broken: the exit scam.
    ExitScam,
    /// A ring of fresh identities records the front's fake promises kept.
    PromiseeRing,
    /// The same with a ring whose members dealt with each other for months first.
    OldRing,
    /// A ring of identities rates up a front that deals with real clients and betrays some.
    RatingRing,
    /// One real client records the front's fake promises kept.
    Insider,
}

impl Scenario {
    /// Every scenario, in the order of [`SCENARIOS`].
    pub const ALL: [Scenario; 14] = [
        Scenario::Honest,
        Scenario::OnOff,
        Scenario::SlowCon,
        Scenario::Whitewash,
        Scenario::Sybil,
        Scenario::Badmouth,
        Scenario::BallotStuff,
        Scenario::Camouflage,
        Scenario::Slice,
        Scenario::ExitScam,
        Scenario::PromiseeRing,
        Scenario::OldRing,
        Scenario::RatingRing,
        Scenario::Insider,
    ];

    /// Its name, as in [`SCENARIOS`].
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Honest => "honest",
            Scenario::OnOff => "on-off",
            Scenario::SlowCon => "slow-con",
            Scenario::Whitewash => "whitewash",
            Scenario::Sybil => "sybil",
            Scenario::Badmouth => "badmouth",
            Scenario::BallotStuff => "ballot-stuff",
            Scenario::Camouflage => "camouflage",
            Scenario::Slice => "slice",
            Scenario::ExitScam => "exit-scam",
            Scenario::PromiseeRing => "promisee-ring",
            Scenario::OldRing => "old-ring",
            Scenario::RatingRing => "rating-ring",
            Scenario::Insider => "insider",
        }
    }

    /// One line for people.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Honest => "honest principals only (the control)",
            Scenario::OnOff => "attackers alternate 10 rounds of kept promises with 5 of betrayals",
            Scenario::SlowCon => {
                "attackers keep promises for 3/4 of the run, then betray once, big"
            }
            Scenario::Whitewash => "attackers betray, then return under a new identity",
            Scenario::Sybil => {
                "a ring of fake identities vouches for and rates up a front that betrays"
            }
            Scenario::Badmouth => "attackers file false reports and -1 ratings against honest ones",
            Scenario::BallotStuff => {
                "colluders record fake kept promises to inflate one attacker, who betrays"
            }
            Scenario::Camouflage => "attackers keep promises with most clients and betray a few",
            Scenario::Slice => {
                "attackers betray just under half their limit whenever back at their best level"
            }
            Scenario::ExitScam => {
                "attackers climb, then promise every client at once, break every promise and leave"
            }
            Scenario::PromiseeRing => {
                "a ring of fresh identities records a front's fake promises kept; it betrays clients"
            }
            Scenario::OldRing => {
                "the same ring, after 100 days of dealing with each other; the front comes later"
            }
            Scenario::RatingRing => {
                "a ring rates up a front that keeps promises to clients and betrays every 10th day"
            }
            Scenario::Insider => {
                "one real client records a front's fake promises kept; it betrays other clients"
            }
        }
    }

    /// Whether attackers take part (every scenario but `honest`).
    pub fn is_attack(self) -> bool {
        self != Scenario::Honest
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`SCENARIOS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario {name:?}; the scenarios are: {}", SCENARIOS.join(", "))]
pub struct UnknownScenario {
    /// The name given.
    pub name: String,
}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownScenario { name: s.to_owned() })
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which scenario.
    pub scenario: Scenario,
    /// The seed of every random draw.
    pub seed: u64,
    /// Rounds (days) to simulate, at most [`MAX_ROUNDS`] (more are clamped).
    pub rounds: u32,
}

impl Config {
    /// `scenario` with the default seed and rounds.
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            seed: DEFAULT_SEED,
            rounds: DEFAULT_ROUNDS,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(Scenario::Honest)
    }
}

/// The figures of one system in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemResult {
    /// `stepwise`, `average` or `beta`.
    pub system: &'static str,
    /// Stake of attackers' promises to real clients that were allowed and then broken.
    pub attacker_gain: f64,
    /// Stake of honest principals' promises that were allowed and kept.
    pub honest_gain: f64,
    /// Share of honest requests denied (0 when there were none).
    pub honest_friction: f64,
    /// Requests by attackers to real clients (fake promises among colluders excluded).
    pub attacker_requests: u64,
    /// How many of those were allowed.
    pub attacker_allowed: u64,
    /// Requests by honest principals.
    pub honest_requests: u64,
    /// How many of those were allowed.
    pub honest_allowed: u64,
    /// Allowed attacker promises that were broken.
    pub attacker_betrayals: u64,
    /// Allowed honest promises that were kept.
    pub honest_kept: u64,
    /// Share of honest requests denied in the second half of the run (established principals).
    pub honest_friction_late: f64,
    /// Share of honest requests not served in full: denied, or asked below the stake wanted
    /// because the limit was lower.
    pub honest_shortfall: f64,
    /// The same share in the second half of the run.
    pub honest_shortfall_late: f64,
    /// Stepwise only (0 for baselines): the share of honest requests not served in full while
    /// the principal stood below the highest level it had reached — the cost of demotions.
    pub honest_shortfall_after_fall: f64,
    /// Stepwise only (0 for baselines): demotions of honest principals (each one a broken
    /// promise or a fall in standing; recorded ones, as of their last event).
    pub honest_demotions: u64,
    /// Stepwise only (empty for baselines): for each level, the median round at which an honest
    /// newcomer first stood on it (read at the end of the round), `None` if half of them never did.
    pub rounds_to_level: Vec<Option<u32>>,
    /// Stepwise only: the highest level any attacker identity stood on, read when it acts and
    /// at the end of each round (`None` for baselines or without attackers).
    pub attacker_top_level: Option<usize>,
}

impl SystemResult {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "system": self.system,
            "attacker_gain": self.attacker_gain,
            "honest_gain": self.honest_gain,
            "honest_friction": self.honest_friction,
            "attacker_requests": self.attacker_requests,
            "attacker_allowed": self.attacker_allowed,
            "honest_requests": self.honest_requests,
            "honest_allowed": self.honest_allowed,
            "attacker_betrayals": self.attacker_betrayals,
            "honest_kept": self.honest_kept,
            "honest_friction_late": self.honest_friction_late,
            "honest_shortfall": self.honest_shortfall,
            "honest_shortfall_late": self.honest_shortfall_late,
            "honest_shortfall_after_fall": self.honest_shortfall_after_fall,
            "honest_demotions": self.honest_demotions,
            "rounds_to_level": self.rounds_to_level,
            "attacker_top_level": self.attacker_top_level,
        })
    }
}

/// How stepwise fared against the `average` baseline in an attack scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetCheck {
    /// Stepwise's attacker gain over the average baseline's (`None` when the latter is 0).
    pub gain_ratio: Option<f64>,
    /// Stepwise's attacker gain is at most 10 % of the average baseline's.
    pub gain_ok: bool,
    /// Stepwise's honest friction is no worse than the average baseline's.
    pub friction_ok: bool,
    /// Stepwise's honest shortfall is no worse than the average baseline's (not part of the
    /// target; the stricter reading of friction).
    pub shortfall_ok: bool,
}

/// The result of one run: every system, same world.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The seed.
    pub seed: u64,
    /// Rounds simulated.
    pub rounds: u32,
    /// `stepwise`, `average`, `beta`, in that order.
    pub results: Vec<SystemResult>,
}

impl Report {
    /// The result of one system, by name.
    pub fn system(&self, name: &str) -> Option<&SystemResult> {
        self.results.iter().find(|r| r.system == name)
    }

    /// The target of issue 5 in an attack scenario: stepwise's attacker gain at most 10 % of
    /// the average baseline's, with honest friction no worse. `None` for the honest scenario.
    pub fn target(&self) -> Option<TargetCheck> {
        if self.scenario == Scenario::Honest.name() {
            return None;
        }
        let stepwise = self.system("stepwise")?;
        let average = self.system("average")?;
        let gain_ratio =
            (average.attacker_gain > 0.0).then(|| stepwise.attacker_gain / average.attacker_gain);
        Some(TargetCheck {
            gain_ratio,
            gain_ok: stepwise.attacker_gain <= 0.1 * average.attacker_gain,
            friction_ok: stepwise.honest_friction <= average.honest_friction,
            shortfall_ok: stepwise.honest_shortfall <= average.honest_shortfall,
        })
    }

    /// `{"scenario", "seed", "rounds", "results": [{"system", "attacker_gain", "honest_gain",
    /// "honest_friction", …}], "target", "settings"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let target = self.target().map(|t| {
            serde_json::json!({
                "gain_ratio": t.gain_ratio,
                "gain_ok": t.gain_ok,
                "friction_ok": t.friction_ok,
                "shortfall_ok": t.shortfall_ok,
            })
        });
        serde_json::json!({
            "scenario": self.scenario,
            "seed": self.seed,
            "rounds": self.rounds,
            "results": self.results.iter().map(SystemResult::to_json).collect::<Vec<_>>(),
            "target": target,
            "settings": {
                "honest": HONEST,
                "clients": CLIENTS,
                "stake_tiers": STAKE_TIERS.iter().map(|(s, p)| serde_json::json!({"stake": s, "p": p})).collect::<Vec<_>>(),
                "honest_keep": HONEST_KEEP,
                "max_exposure": MAX_EXPOSURE,
                "newcomer_stake": NEWCOMER_STAKE,
                "average_threshold": AVERAGE_THRESHOLD,
                "beta_threshold": BETA_THRESHOLD,
            },
        })
    }
}

/// Runs `config.scenario` under stepwise (default policy) and the two baselines, same world,
/// same seed.
pub fn run(config: &Config) -> Report {
    run_with(config, ModelParams::default(), Ladder::default())
}

/// Runs `config.scenario` under stepwise with the given model settings and ladder, and under
/// the two baselines, same world, same seed: the way to measure a policy change (an ablation).
/// The market still asks for the default ladder's capabilities (`propose`, `act:low`,
/// `act:medium`, `act:high`, by the lowest level whose limit covers the stake), so a ladder
/// that renames them refuses everything above level 0.
pub fn run_with(config: &Config, params: ModelParams, ladder: Ladder) -> Report {
    let config = Config {
        rounds: config.rounds.min(MAX_ROUNDS),
        ..config.clone()
    };
    let stepwise = Stepwise::new(params, ladder);
    let results = vec![
        World::new(&config).run(stepwise),
        World::new(&config).run(Baseline::average()),
        World::new(&config).run(Baseline::beta()),
    ];
    Report {
        scenario: config.scenario.name(),
        seed: config.seed,
        rounds: config.rounds,
        results,
    }
}

/// The lower median, `None` counting as never (larger than any round).
fn median(values: impl Iterator<Item = Option<u32>>) -> Option<u32> {
    let mut values: Vec<Option<u32>> = values.collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by_key(|v| v.unwrap_or(u32::MAX));
    values[(values.len() - 1) / 2]
}
