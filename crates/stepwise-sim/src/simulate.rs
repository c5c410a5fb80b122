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

/// The scenario names, as given to `stepwise simulate --scenario`.
pub const SCENARIOS: [&str; 10] = [
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
}

impl Scenario {
    /// Every scenario, in the order of [`SCENARIOS`].
    pub const ALL: [Scenario; 10] = [
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

// ---------------------------------------------------------------------------------------------
// Randomness: a hash of (seed, round, agent, purpose), so draws never depend on what came before.

/// One step of splitmix64: a well-mixed 64-bit hash of `x` (also the eval's seeded shuffle).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn draw(seed: u64, round: u32, agent: u64, purpose: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ u64::from(round)) ^ agent) ^ purpose)
}

/// A draw in [0, 1).
fn unit(seed: u64, round: u32, agent: u64, purpose: u64) -> f64 {
    (draw(seed, round, agent, purpose) >> 11) as f64 / (1u64 << 53) as f64
}

const DRAW_STAKE: u64 = 1;
const DRAW_CLIENT: u64 = 2;
const DRAW_KEEP: u64 = 3;

// ---------------------------------------------------------------------------------------------
// The systems: each only decides which requests are allowed.

trait Gate {
    /// The system's name in reports.
    fn name(&self) -> &'static str;
    /// The largest stake `who` may take at `at` (0 when refused outright).
    fn limit(&self, who: &Id, at: Time) -> f64;
    /// Whether `who` may take `stake` at `at`.
    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool;
    /// Folds in an event.
    fn record(&mut self, event: &Event);
    /// The ladder level of `who` at `at`, for systems that have one.
    fn level(&self, _who: &Id, _at: Time) -> Option<usize> {
        None
    }
    /// How many levels the system has (1 for the baselines).
    fn levels(&self) -> usize {
        1
    }
    /// How many times `who` stepped down the ladder, for systems that have one.
    fn demotions(&self, _who: &Id) -> u64 {
        0
    }
}

struct Stepwise {
    state: LadderState,
    next: u64,
}

impl Stepwise {
    fn new(params: ModelParams, ladder: Ladder) -> Self {
        Self {
            state: LadderState::new(params, ladder),
            next: 0,
        }
    }

    /// The capability the ladder requires for `stake`: that of the lowest level whose limit
    /// covers it.
    fn capability(&self, stake: f64) -> &'static str {
        let levels = self.state.ladder().levels();
        let k = levels
            .iter()
            .position(|l| stake <= l.max_stake)
            .unwrap_or(levels.len().saturating_sub(1));
        ACT[k.min(ACT.len() - 1)]
    }
}

impl Gate for Stepwise {
    fn name(&self) -> &'static str {
        "stepwise"
    }

    fn limit(&self, who: &Id, at: Time) -> f64 {
        let d = self.state.decide(who, ACT[0], 0.0, None, at);
        if d.allowed { d.available() } else { 0.0 }
    }

    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool {
        self.state
            .decide(who, self.capability(stake), stake, None, at)
            .allowed
    }

    fn record(&mut self, event: &Event) {
        self.state.apply(self.next, event);
        self.next += 1;
    }

    fn level(&self, who: &Id, at: Time) -> Option<usize> {
        Some(self.state.level_at(who, at))
    }

    fn levels(&self) -> usize {
        self.state.ladder().levels().len()
    }

    fn demotions(&self, who: &Id) -> u64 {
        self.state
            .timeline(who)
            .iter()
            .filter(|step| step.to < step.from)
            .count() as u64
    }
}

/// A rating-based baseline: `average` (mean rating) or `beta` ((r+1)/(r+s+2)).
struct Baseline {
    beta: bool,
    /// Per principal: sum of positive values, sum of |negative values|, number of ratings.
    ratings: std::collections::HashMap<Id, (f64, f64, u64)>,
}

impl Baseline {
    fn average() -> Self {
        Self {
            beta: false,
            ratings: Default::default(),
        }
    }

    fn beta() -> Self {
        Self {
            beta: true,
            ratings: Default::default(),
        }
    }
}

impl Gate for Baseline {
    fn name(&self) -> &'static str {
        if self.beta { "beta" } else { "average" }
    }

    fn limit(&self, who: &Id, _at: Time) -> f64 {
        let (r, s, n) = self.ratings.get(who).copied().unwrap_or((0.0, 0.0, 0));
        let trusted = if self.beta {
            (r + 1.0) / (r + s + 2.0) >= BETA_THRESHOLD
        } else {
            n > 0 && (r - s) / n as f64 >= AVERAGE_THRESHOLD
        };
        if trusted {
            MAX_EXPOSURE
        } else {
            NEWCOMER_STAKE
        }
    }

    fn allows(&self, who: &Id, stake: f64, at: Time) -> bool {
        stake <= self.limit(who, at)
    }

    fn record(&mut self, event: &Event) {
        if let Body::Rating { subject, value, .. } = &event.body {
            let entry = self.ratings.entry(subject.clone()).or_default();
            if *value >= 0.0 {
                entry.0 += value;
            } else {
                entry.1 -= value;
            }
            entry.2 += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The world.

fn id(text: &str) -> Id {
    // Every id here is generated from a fixed prefix and numbers: printable ASCII, short.
    Id::parse("id", text).expect("generated ids are valid")
}

fn time(micros: i64) -> Time {
    Time::from_micros(micros).unwrap_or(Time::MAX)
}

/// The largest honest stake tier within `limit`, if any.
fn climb_stake(limit: f64) -> Option<f64> {
    STAKE_TIERS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| *s <= limit)
        .reduce(f64::max)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    OnOff,
    SlowCon,
    Whitewash,
    SybilFront,
    SybilSupporter,
    Badmouther,
    BallotTarget,
    Accomplice,
    Colluder,
    Camouflage,
    Slicer,
    ExitScam,
}

impl Role {
    fn prefix(self) -> &'static str {
        match self {
            Role::OnOff => "on-off",
            Role::SlowCon => "slow-con",
            Role::Whitewash => "whitewash",
            Role::SybilFront => "sybil-front",
            Role::SybilSupporter => "sybil",
            Role::Badmouther => "badmouth",
            Role::BallotTarget => "ballot-target",
            Role::Accomplice => "accomplice",
            Role::Colluder => "colluder",
            Role::Camouflage => "camouflage",
            Role::Slicer => "slice",
            Role::ExitScam => "exit-scam",
        }
    }
}

struct Attacker {
    role: Role,
    /// Its number among attackers (for random draws and staggering).
    n: usize,
    generation: u32,
    id: Id,
    /// The round its current identity appeared.
    born: u32,
    /// Whether it left the market (slow-con and exit-scam after their betrayal).
    gone: bool,
    /// Whether it re-enters under a new identity at the end of this round (whitewash).
    rejoin: bool,
    /// Whether it has vouched (accomplice).
    vouched: bool,
    /// The largest limit it has ever had (ballot target).
    best_limit: f64,
}

impl Attacker {
    fn new(role: Role, n: usize) -> Self {
        Self {
            role,
            n,
            generation: 0,
            id: id(&format!("{}:{n}", role.prefix())),
            born: 0,
            gone: false,
            rejoin: false,
            vouched: false,
            best_limit: 0.0,
        }
    }

    fn slot(&self) -> u64 {
        1_000 + self.n as u64
    }
}

/// What an attacker does with real clients this round.
enum Move {
    Idle,
    Climb,
    Betray,
    /// Betray every client at once: one promise to each, as large as allowed.
    Scam,
}

/// A promise to make: who promises whom, at what stake, and how it will end.
struct Deal {
    promisor: Id,
    promisee: Id,
    stake: f64,
    kept: bool,
    party: Party,
}

/// A promise made this morning, waiting for its outcome this afternoon.
struct Pending {
    promise: Id,
    deal: Deal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Party {
    Honest,
    Attacker,
    /// A fake promise among colluders: evidence, but neither gain nor request.
    Fake,
}

#[derive(Default)]
struct Tally {
    attacker_gain: f64,
    honest_gain: f64,
    attacker_requests: u64,
    attacker_allowed: u64,
    honest_requests: u64,
    honest_allowed: u64,
    late_requests: u64,
    late_allowed: u64,
    short: u64,
    late_short: u64,
    short_after_fall: u64,
    attacker_betrayals: u64,
    honest_kept: u64,
}

/// Instants within a round: one microsecond apart, in the order asked for.
struct Clock {
    day: i64,
    seq: i64,
}

impl Clock {
    fn at(&mut self, phase: i64) -> Time {
        self.seq += 1;
        time(self.day + phase + self.seq)
    }
}

struct World {
    seed: u64,
    rounds: u32,
    honest: Vec<Id>,
    clients: Vec<Id>,
    attackers: Vec<Attacker>,
    victims: Vec<usize>,
    scope: Id,
    promises: u64,
}

impl World {
    fn new(config: &Config) -> Self {
        let make = |role: Role, count: usize, first: usize| -> Vec<Attacker> {
            (first..first + count)
                .map(|n| Attacker::new(role, n))
                .collect()
        };
        let attackers = match config.scenario {
            Scenario::Honest => Vec::new(),
            Scenario::OnOff => make(Role::OnOff, 3, 0),
            Scenario::SlowCon => make(Role::SlowCon, 3, 0),
            Scenario::Whitewash => make(Role::Whitewash, 3, 0),
            Scenario::Sybil => {
                let mut ring = make(Role::SybilFront, 1, 0);
                ring.extend(make(Role::SybilSupporter, 9, 1));
                ring
            }
            Scenario::Badmouth => make(Role::Badmouther, 3, 0),
            Scenario::BallotStuff => {
                let mut ring = make(Role::BallotTarget, 1, 0);
                ring.extend(make(Role::Accomplice, 1, 1));
                ring.extend(make(Role::Colluder, 8, 2));
                ring
            }
            Scenario::Camouflage => make(Role::Camouflage, 3, 0),
            Scenario::Slice => make(Role::Slicer, 3, 0),
            Scenario::ExitScam => make(Role::ExitScam, 3, 0),
        };
        Self {
            seed: config.seed,
            rounds: config.rounds,
            honest: (0..HONEST).map(|i| id(&format!("honest:{i}"))).collect(),
            clients: (0..CLIENTS).map(|i| id(&format!("client:{i}"))).collect(),
            attackers,
            victims: (0..5.min(HONEST)).collect(),
            scope: id("trade"),
            promises: 0,
        }
    }

    fn next_promise_id(&mut self) -> Id {
        self.promises += 1;
        id(&format!("p{}", self.promises))
    }

    /// Makes `deal` at `at`: records its promise, due a day later, under `gate`.
    fn make<G: Gate>(&mut self, gate: &mut G, at: Time, deal: Deal) -> Pending {
        let promise = self.next_promise_id();
        let due = time(at.as_micros().saturating_add(DAY_MICROS));
        gate.record(&Event {
            at,
            author: Some(deal.promisor.clone()),
            body: Body::Promise {
                id: promise.clone(),
                promisor: deal.promisor.clone(),
                promisee: deal.promisee.clone(),
                scope: self.scope.clone(),
                stake: deal.stake,
                due,
            },
            note: None,
            sig: None,
            stamp: None,
        });
        Pending { promise, deal }
    }

    fn rate(at: Time, rater: &Id, subject: &Id, value: f64) -> Event {
        Event {
            at,
            author: Some(rater.clone()),
            body: Body::Rating {
                rater: rater.clone(),
                subject: subject.clone(),
                value,
                scope: None,
            },
            note: None,
            sig: None,
            stamp: None,
        }
    }

    /// A client for attacker `a` in round `r`, avoiding its victim client (camouflage).
    fn client_for(&self, a: &Attacker, r: u32) -> usize {
        let pick = (draw(self.seed, r, a.slot(), DRAW_CLIENT) % CLIENTS as u64) as usize;
        if a.role == Role::Camouflage && pick == self.victim_client(a) {
            (pick + 1) % CLIENTS
        } else {
            pick
        }
    }

    fn victim_client(&self, a: &Attacker) -> usize {
        CLIENTS - 1 - a.n % CLIENTS
    }

    /// What attacker `a` does with real clients this round, given its limit.
    fn decide_move(&self, a: &mut Attacker, r: u32, limit: f64) -> Move {
        a.best_limit = a.best_limit.max(limit);
        match a.role {
            Role::OnOff => {
                if r % 15 < 10 {
                    Move::Climb
                } else {
                    Move::Betray
                }
            }
            Role::SlowCon => {
                if a.gone {
                    Move::Idle
                } else if r >= self.rounds * 3 / 4 {
                    a.gone = true;
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Whitewash => {
                if limit >= 1_000.0 || r.saturating_sub(a.born) >= 30 || limit <= 0.0 {
                    a.rejoin = true;
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::ExitScam => {
                if a.gone {
                    Move::Idle
                } else if limit >= 1_000.0 || r >= self.rounds / 2 {
                    a.gone = true;
                    Move::Scam
                } else {
                    Move::Climb
                }
            }
            Role::SybilFront => Move::Betray,
            Role::BallotTarget => {
                let goal = if a.best_limit >= MAX_EXPOSURE || r < self.rounds / 2 {
                    MAX_EXPOSURE
                } else {
                    1_000.0
                };
                if limit >= goal {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Camouflage => {
                if (r + 4 * a.n as u32) % 12 == 11 {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Slicer => {
                // First up to a limit of 1,000 (or half the run), then betray whenever back at
                // the best limit it ever had.
                let ready = a.best_limit >= 1_000.0 || r >= self.rounds / 2;
                if ready && limit >= a.best_limit && limit > NEWCOMER_STAKE {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::SybilSupporter | Role::Badmouther | Role::Accomplice | Role::Colluder => {
                Move::Idle
            }
        }
    }

    fn run<G: Gate>(mut self, mut gate: G) -> SystemResult {
        let mut tally = Tally::default();
        let levels = gate.levels();
        let mut first_at: Vec<Vec<Option<u32>>> = vec![vec![None; levels]; self.honest.len()];
        let mut attacker_top: Option<usize> = None;
        // The highest level each honest principal has stood on (stepwise only).
        let mut honest_top: Vec<usize> = vec![0; self.honest.len()];
        let late = self.rounds / 2;
        for r in 0..self.rounds {
            let mut clock = Clock {
                day: START_MICROS + i64::from(r) * DAY_MICROS,
                seq: 0,
            };
            let mut pending: Vec<Pending> = Vec::new();
            self.background(&mut gate, &mut clock, r);

            // Honest requests.
            for (i, top) in honest_top.iter_mut().enumerate() {
                let u = unit(self.seed, r, i as u64, DRAW_STAKE);
                let mut want = STAKE_TIERS[STAKE_TIERS.len() - 1].0;
                let mut acc = 0.0;
                for (s, p) in STAKE_TIERS {
                    acc += p;
                    if u < acc {
                        want = s;
                        break;
                    }
                }
                let client = (draw(self.seed, r, i as u64, DRAW_CLIENT) % CLIENTS as u64) as usize;
                let kept = unit(self.seed, r, i as u64, DRAW_KEEP) < HONEST_KEEP;
                let at = clock.at(MORNING);
                let who = self.honest[i].clone();
                let limit = gate.limit(&who, at);
                let stake = if limit > 0.0 { want.min(limit) } else { want };
                let fallen = gate.level(&who, at).is_some_and(|level| {
                    *top = (*top).max(level);
                    level < *top
                });
                tally.honest_requests += 1;
                if r >= late {
                    tally.late_requests += 1;
                }
                let allowed = gate.allows(&who, stake, at);
                if !allowed || stake < want {
                    tally.short += 1;
                    tally.late_short += u64::from(r >= late);
                    tally.short_after_fall += u64::from(fallen);
                }
                if allowed {
                    tally.honest_allowed += 1;
                    if r >= late {
                        tally.late_allowed += 1;
                    }
                    let deal = Deal {
                        promisor: who,
                        promisee: self.clients[client].clone(),
                        stake,
                        kept,
                        party: Party::Honest,
                    };
                    pending.push(self.make(&mut gate, at, deal));
                }
            }

            // Attackers' requests to real clients.
            let mut attackers = std::mem::take(&mut self.attackers);
            for a in &mut attackers {
                let at = clock.at(MORNING);
                let limit = gate.limit(&a.id, at);
                if let Some(level) = gate.level(&a.id, at) {
                    attacker_top = Some(attacker_top.map_or(level, |t| t.max(level)));
                }
                let (kept, clients) = match self.decide_move(a, r, limit) {
                    Move::Idle => continue,
                    Move::Climb => (true, vec![self.client_for(a, r)]),
                    Move::Betray if a.role == Role::Camouflage => {
                        (false, vec![self.victim_client(a)])
                    }
                    Move::Betray => (
                        false,
                        vec![(draw(self.seed, r, a.slot(), DRAW_CLIENT) % CLIENTS as u64) as usize],
                    ),
                    Move::Scam => (false, (0..CLIENTS).collect()),
                };
                for (k, client) in clients.into_iter().enumerate() {
                    // Each further promise of an exit scam is asked a moment later, against
                    // the limit left after the ones already made.
                    let (at, limit) = if k == 0 {
                        (at, limit)
                    } else {
                        let at = clock.at(MORNING);
                        (at, gate.limit(&a.id, at))
                    };
                    let mut ask = |stake: f64| {
                        tally.attacker_requests += 1;
                        let allowed = gate.allows(&a.id, stake, at);
                        tally.attacker_allowed += u64::from(allowed);
                        allowed.then_some(stake)
                    };
                    let granted = if kept {
                        climb_stake(limit).and_then(&mut ask)
                    } else if a.role == Role::Slicer {
                        ask((SLICE * limit).floor())
                    } else {
                        // Ask for the most first; if refused, for exactly the limit.
                        ask(MAX_EXPOSURE).or_else(|| (limit > 0.0).then(|| ask(limit)).flatten())
                    };
                    if let Some(stake) = granted {
                        let deal = Deal {
                            promisor: a.id.clone(),
                            promisee: self.clients[client].clone(),
                            stake,
                            kept,
                            party: Party::Attacker,
                        };
                        pending.push(self.make(&mut gate, at, deal));
                    }
                }
            }
            self.attackers = attackers;
            self.stuff(&mut gate, &mut clock, &mut pending);

            // Outcomes and ratings, recorded by each promisee.
            for Pending { promise, deal: p } in pending {
                let at = clock.at(AFTERNOON);
                gate.record(&Event {
                    at,
                    author: Some(p.promisee.clone()),
                    body: Body::Outcome {
                        promise,
                        result: if p.kept {
                            OutcomeResult::Kept
                        } else {
                            OutcomeResult::Broken
                        },
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                });
                let at = clock.at(AFTERNOON);
                let value = if p.kept { 1.0 } else { -1.0 };
                gate.record(&Self::rate(at, &p.promisee, &p.promisor, value));
                match (p.party, p.kept) {
                    (Party::Honest, true) => {
                        tally.honest_gain += p.stake;
                        tally.honest_kept += 1;
                    }
                    (Party::Attacker, false) => {
                        tally.attacker_gain += p.stake;
                        tally.attacker_betrayals += 1;
                    }
                    _ => {}
                }
            }

            // Levels at the end of the round (stepwise only).
            let evening = clock.at(EVENING);
            for (i, who) in self.honest.iter().enumerate() {
                if let Some(level) = gate.level(who, evening) {
                    for slot in first_at[i].iter_mut().take(level + 1) {
                        slot.get_or_insert(r);
                    }
                }
            }
            for a in &mut self.attackers {
                if let Some(level) = gate.level(&a.id, evening) {
                    attacker_top = Some(attacker_top.map_or(level, |t| t.max(level)));
                }
                if a.rejoin {
                    a.rejoin = false;
                    a.generation += 1;
                    a.born = r + 1;
                    a.best_limit = 0.0;
                    a.id = id(&format!("{}:{}/{}", a.role.prefix(), a.n, a.generation));
                }
            }
        }
        let share_denied = |requests: u64, allowed: u64| {
            if requests == 0 {
                0.0
            } else {
                (requests - allowed) as f64 / requests as f64
            }
        };
        let stepwise = gate.name() == "stepwise";
        SystemResult {
            system: gate.name(),
            attacker_gain: tally.attacker_gain,
            honest_gain: tally.honest_gain,
            honest_friction: share_denied(tally.honest_requests, tally.honest_allowed),
            attacker_requests: tally.attacker_requests,
            attacker_allowed: tally.attacker_allowed,
            honest_requests: tally.honest_requests,
            honest_allowed: tally.honest_allowed,
            attacker_betrayals: tally.attacker_betrayals,
            honest_kept: tally.honest_kept,
            honest_friction_late: share_denied(tally.late_requests, tally.late_allowed),
            honest_shortfall: share_denied(
                tally.honest_requests,
                tally.honest_requests - tally.short,
            ),
            honest_shortfall_late: share_denied(
                tally.late_requests,
                tally.late_requests - tally.late_short,
            ),
            honest_shortfall_after_fall: share_denied(
                tally.honest_requests,
                tally.honest_requests - tally.short_after_fall,
            ),
            honest_demotions: self.honest.iter().map(|who| gate.demotions(who)).sum(),
            rounds_to_level: if stepwise {
                (0..levels)
                    .map(|k| median(first_at.iter().map(|f| f[k])))
                    .collect()
            } else {
                Vec::new()
            },
            attacker_top_level: if stepwise { attacker_top } else { None },
        }
    }

    /// The ids of the attackers playing `role`, in order.
    fn ids(&self, role: Role) -> Vec<Id> {
        self.attackers
            .iter()
            .filter(|a| a.role == role)
            .map(|a| a.id.clone())
            .collect()
    }

    /// The scenario's morning events before the requests to real clients: vouches, ratings
    /// and reports.
    fn background<G: Gate>(&mut self, gate: &mut G, clock: &mut Clock, r: u32) {
        let fronts = self.ids(Role::SybilFront);
        let supporters = self.ids(Role::SybilSupporter);
        for front in &fronts {
            for s in &supporters {
                if r == 0 {
                    for (voucher, subject) in [(s, front), (front, s)] {
                        gate.record(&Event {
                            at: clock.at(MORNING),
                            author: Some(voucher.clone()),
                            body: Body::Vouch {
                                voucher: voucher.clone(),
                                subject: subject.clone(),
                                scope: None,
                                weight: 1.0,
                            },
                            note: None,
                            sig: None,
                            stamp: None,
                        });
                    }
                }
                gate.record(&Self::rate(clock.at(MORNING), s, front, 1.0));
                gate.record(&Self::rate(clock.at(MORNING), front, s, 1.0));
            }
        }

        // Every badmouther reports and rates −1 every victim, every day.
        for who in &self.ids(Role::Badmouther) {
            for &victim in &self.victims {
                let victim = &self.honest[victim];
                gate.record(&Event {
                    at: clock.at(MORNING),
                    author: Some(who.clone()),
                    body: Body::Report {
                        reporter: who.clone(),
                        subject: victim.clone(),
                        scope: None,
                        severity: 1.0,
                        evidence: None,
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                });
                gate.record(&Self::rate(clock.at(MORNING), who, victim, -1.0));
            }
        }

        let targets = self.ids(Role::BallotTarget);
        for a in &mut self.attackers {
            if a.role != Role::Accomplice || a.vouched {
                continue;
            }
            let at = clock.at(MORNING);
            if gate.limit(&a.id, at) < 1_000.0 {
                continue;
            }
            for t in &targets {
                gate.record(&Event {
                    at,
                    author: Some(a.id.clone()),
                    body: Body::Vouch {
                        voucher: a.id.clone(),
                        subject: t.clone(),
                        scope: None,
                        weight: 1.0,
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                });
            }
            a.vouched = true;
        }
    }

    /// The fake promises of ballot-stuffing, made after the morning's requests to real clients
    /// (so that they use what is left of the limit, not what the attack needs), each kept and
    /// rated +1 in the afternoon.
    fn stuff<G: Gate>(&mut self, gate: &mut G, clock: &mut Clock, pending: &mut Vec<Pending>) {
        let targets = self.ids(Role::BallotTarget);
        let accomplices = self.ids(Role::Accomplice);
        let colluders = self.ids(Role::Colluder);
        // The target is stuffed by the accomplice and every colluder; the accomplice by every
        // colluder. Fake promises go through the system like any other.
        let mut stuffing: Vec<(Id, Id)> = Vec::new();
        for t in &targets {
            for c in accomplices.iter().chain(&colluders) {
                stuffing.push((t.clone(), c.clone()));
            }
        }
        for acc in &accomplices {
            for c in &colluders {
                stuffing.push((acc.clone(), c.clone()));
            }
        }
        for (promisor, promisee) in stuffing {
            let at = clock.at(MORNING);
            let Some(stake) = climb_stake(gate.limit(&promisor, at)) else {
                continue;
            };
            if gate.allows(&promisor, stake, at) {
                let deal = Deal {
                    promisor,
                    promisee,
                    stake,
                    kept: true,
                    party: Party::Fake,
                };
                pending.push(self.make(gate, at, deal));
            }
        }
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
