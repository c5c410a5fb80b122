//! The views of the library's answers: decisions, explanations, trust figures, the ladder.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepwise::evidence::Id;
use stepwise::ladder::{Decision, Explanation, Step, StepCause};
use stepwise::model::params::DAY_MICROS;
use stepwise::model::state::TrustReport;
use utoipa::ToSchema;

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A finite figure, or `null` for an unbounded one (JSON has no infinity).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A level of the ladder, by index and name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelRef {
    /// Position on the ladder, 0 for newcomers.
    pub index: usize,
    /// The level's name.
    pub name: String,
}

/// One reason behind a verdict.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReasonView {
    /// Stable code for scripts (`stake_above_limit`, `capability_needs_level`, `level`, ...).
    pub code: String,
    /// The reason in words.
    pub message: String,
    /// The figures behind the reason.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// One requirement of the next level and where the principal stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequirementView {
    /// Stable name: `kept`, `counterparties`, `min_expected`, `max_uncertainty`,
    /// `tenure_days`, `clean_days`, `cooldown_days_left`, `vouches`.
    pub name: String,
    /// Where the principal stands; `null` when unbounded (a record that never broke a promise).
    pub current: Option<f64>,
    /// What is needed.
    pub needed: f64,
    /// Whether it is met.
    pub met: bool,
    /// The requirement in words.
    pub message: String,
}

/// The next level and everything it takes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NextStepView {
    /// The next level's index.
    pub level: usize,
    /// Its name.
    pub name: String,
    /// The largest stake it allows.
    pub max_stake: f64,
    /// Each requirement, met or not.
    pub requirements: Vec<RequirementView>,
}

/// A decision: the verdict, its reasons, the next step and the evidence behind it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionView {
    /// The verdict.
    pub allowed: bool,
    /// The principal asking to act.
    pub subject: String,
    /// What it asked to do.
    pub capability: String,
    /// At what stake.
    pub stake: f64,
    /// On whose behalf, if a truster asked.
    pub truster: Option<String>,
    /// The instant decided at (RFC 3339).
    pub at: String,
    /// The principal's level at that instant.
    pub level: LevelRef,
    /// The largest stake allowed at this level for this truster: the most it may have at risk
    /// at once, open promises included.
    pub limit: f64,
    /// What it already has at stake: its promises with no outcome that are not yet due.
    pub exposure: f64,
    /// For a refusal: `false` when no record could allow the request under this policy (never:
    /// a bad stake, a capability no level grants, a stake above the top of the ladder), `true`
    /// when one could (not yet); `null` when allowed.
    pub retryable: Option<bool>,
    /// For a refusal that time alone will lift (tenure, a clean period, a cool-down): the first
    /// instant (RFC 3339) at which the same request would be allowed if nothing new were
    /// recorded; `null` otherwise.
    pub earliest_retry: Option<String>,
    /// The reasons, the deciding one first.
    pub reasons: Vec<ReasonView>,
    /// What it takes to reach the next level; `null` at the top.
    pub next_step: Option<NextStepView>,
    /// Log indexes of the evidence behind the decision.
    pub evidence: Vec<u64>,
    /// Those of `evidence` imported as history by an operator: dated by their data set, not
    /// held to the log's time window.
    pub history: Vec<u64>,
    /// Log size the decision was computed at: with `at`, what replays it exactly.
    pub log_size: u64,
    /// The policy entry it was decided under: the log index of the last `policy` entry before
    /// `log_size`, whose policy a replay uses. `null`: the log records no policy up to
    /// `log_size` (a log begun before policy entries), and the policy file in force decided.
    pub policy_entry: Option<u64>,
    /// Log size of the network rank the decision used, present only when it used one (a
    /// truster whose profile sets `min_expected`); replay with it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_log_size: Option<u64>,
}

fn next_step(d: &Decision<'_>) -> Option<NextStepView> {
    d.next_step().map(|n| NextStepView {
        level: n.level,
        name: d.name_of(n.level).to_owned(),
        max_stake: n.max_stake,
        requirements: n
            .requirements()
            .iter()
            .map(|r| RequirementView {
                name: r.name.to_owned(),
                current: finite(r.current),
                needed: r.needed,
                met: r.met,
                message: d.describe_requirement(r),
            })
            .collect(),
    })
}

impl DecisionView {
    /// The view of `d`, computed at `log_size`.
    pub fn new(d: &Decision<'_>, log_size: u64) -> Self {
        let evidence = d.evidence();
        Self {
            allowed: d.allowed,
            subject: d.subject_id.to_string(),
            capability: d.capability.to_owned(),
            stake: d.stake,
            truster: d.truster.map(Id::to_string),
            at: d.at.to_string(),
            level: LevelRef {
                index: d.level,
                name: d.level_name().to_owned(),
            },
            limit: d.limit,
            exposure: d.exposure,
            retryable: d.retryable(),
            earliest_retry: d.earliest_retry().map(|t| t.to_string()),
            reasons: d
                .reasons()
                .as_slice()
                .iter()
                .map(|r| ReasonView {
                    code: r.code().to_owned(),
                    message: d.describe(r),
                    data: d.reason_data(r),
                })
                .collect(),
            next_step: next_step(d),
            history: d.history(&evidence),
            evidence,
            log_size,
            policy_entry: d.policy_entry,
            rank_log_size: d.rank_log_size,
        }
    }
}

/// A verdict without its explanation, for callers that act on the answer alone (a decision
/// asked with `"explain": false`): no words are built, so it is the fastest reply.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictView {
    /// The verdict.
    pub allowed: bool,
    /// The principal's level index at that instant.
    pub level: usize,
    /// The largest stake allowed at this level for this truster: the most it may have at risk
    /// at once, open promises included.
    pub limit: f64,
    /// What it already has at stake: its promises with no outcome that are not yet due.
    pub exposure: f64,
    /// For a refusal: `false` when no record could allow it (never), `true` when one could
    /// (not yet); `null` when allowed.
    pub retryable: Option<bool>,
    /// For a refusal that time alone will lift: the first instant (RFC 3339) at which it would
    /// be allowed if nothing new were recorded; `null` otherwise.
    pub earliest_retry: Option<String>,
    /// The reasons' stable codes, the deciding one first.
    pub reasons: Vec<&'static str>,
    /// Log size the decision was computed at.
    pub log_size: u64,
    /// The policy entry it was decided under: the log index of the last `policy` entry before
    /// `log_size`, whose policy a replay uses. `null`: the log records no policy up to
    /// `log_size` (a log begun before policy entries), and the policy file in force decided.
    pub policy_entry: Option<u64>,
    /// Log size of the network rank the decision used, present only when it used one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_log_size: Option<u64>,
}

impl VerdictView {
    /// The verdict of `d`, computed at `log_size`.
    pub fn new(d: &Decision<'_>, log_size: u64) -> Self {
        Self {
            allowed: d.allowed,
            level: d.level,
            limit: d.limit,
            exposure: d.exposure,
            retryable: d.retryable(),
            earliest_retry: d.earliest_retry().map(|t| t.to_string()),
            reasons: d.reasons().as_slice().iter().map(|r| r.code()).collect(),
            log_size,
            policy_entry: d.policy_entry,
            rank_log_size: d.rank_log_size,
        }
    }
}

/// Why a principal moved on the ladder.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CauseView {
    /// `promoted`, `broken_promise`, `overdue_promise` or `fell_below`.
    pub kind: String,
    /// The log entry behind the move; `null` when time alone moved it.
    pub index: Option<u64>,
    /// Stake of the promise, for `broken_promise` and `overdue_promise`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stake: Option<f64>,
    /// Expected trust, for `fell_below`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    /// Uncertainty, for `fell_below`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<f64>,
}

impl From<&StepCause> for CauseView {
    fn from(cause: &StepCause) -> Self {
        let plain = |kind: &str, index: Option<u64>| CauseView {
            kind: kind.to_owned(),
            index,
            stake: None,
            expected: None,
            uncertainty: None,
        };
        match *cause {
            StepCause::Promoted { index } => plain("promoted", index),
            StepCause::Broken { index, stake } => CauseView {
                stake: Some(stake),
                ..plain("broken_promise", Some(index))
            },
            StepCause::Overdue { index, stake } => CauseView {
                stake: Some(stake),
                ..plain("overdue_promise", Some(index))
            },
            StepCause::FellBelow {
                index,
                expected,
                uncertainty,
            } => CauseView {
                expected: Some(expected),
                uncertainty: Some(uncertainty),
                ..plain("fell_below", index)
            },
        }
    }
}

/// What follows when a policy names no seeds (`[network] seeds`), in words.
pub const NO_SEEDS: &str = "none named ([network] seeds in the policy): network rank \
starts from every principal alike, so identities that trust only each other earn rank, and the \
base rate that comes with it, like anyone else; name the principals trusted from the start with \
`stepwise init --seed ID` or under [network] seeds";

/// A cause in words.
pub fn cause_text(cause: &StepCause) -> String {
    match *cause {
        StepCause::Promoted { index: Some(i) } => format!("requirements met (entry {i})"),
        StepCause::Promoted { index: None } => "requirements met as time passed".into(),
        StepCause::Broken { index, stake } => {
            format!("broken promise of stake {stake} (entry {index})")
        }
        StepCause::Overdue { index, stake } => {
            format!("promise of stake {stake} left past due (entry {index})")
        }
        StepCause::FellBelow {
            index,
            expected,
            uncertainty,
        } => format!(
            "standing fell below the level (expected {expected:.3}, uncertainty {uncertainty:.3}){}",
            index.map_or(String::new(), |i| format!(" after entry {i}"))
        ),
    }
}

/// One promotion or demotion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepView {
    /// When (RFC 3339).
    pub at: String,
    /// Level before.
    pub from: usize,
    /// Level after.
    pub to: usize,
    /// Why.
    pub cause: CauseView,
}

impl From<&Step> for StepView {
    fn from(s: &Step) -> Self {
        Self {
            at: s.at.to_string(),
            from: s.from,
            to: s.to,
            cause: (&s.cause).into(),
        }
    }
}

/// A principal's place on the ladder and how it got there.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExplainView {
    /// The principal.
    pub subject: String,
    /// The instant (RFC 3339).
    pub at: String,
    /// Its level at that instant.
    pub level: LevelRef,
    /// The largest stake at that level.
    pub max_stake: f64,
    /// The largest stake it may have at risk at once now: `max_stake`, or less at level 0
    /// while the cool-down of a promise broken there runs.
    pub limit: f64,
    /// What it has at stake now: its promises with no outcome that are not yet due.
    pub exposure: f64,
    /// What the level allows.
    pub capabilities: Vec<String>,
    /// Expected trust (its standing).
    pub expected: f64,
    /// Uncertainty of that standing.
    pub uncertainty: f64,
    /// Every promotion and demotion, oldest first, including what time alone has done.
    pub timeline: Vec<StepView>,
    /// What it takes to reach the next level; `null` at the top.
    pub next_step: Option<NextStepView>,
    /// Log indexes of the evidence behind the standing.
    pub evidence: Vec<u64>,
    /// Those of `evidence` imported as history by an operator: dated by their data set, not
    /// held to the log's time window.
    pub history: Vec<u64>,
    /// Log size the answer was computed at: with `at`, what replays it exactly.
    pub log_size: u64,
    /// The policy entry it was decided under: the log index of the last `policy` entry before
    /// `log_size`, whose policy a replay uses. `null`: the log records no policy up to
    /// `log_size` (a log begun before policy entries), and the policy file in force decided.
    pub policy_entry: Option<u64>,
    /// The policy's seeds (`[network] seeds`), where network rank starts. Empty: none are
    /// named, so identities that trust only each other earn rank like anyone else.
    pub seeds: Vec<String>,
}

impl ExplainView {
    /// The view of `e`, asked about `subject` at `at`, computed at `log_size`.
    pub fn new(e: &Explanation<'_>, log_size: u64) -> Self {
        let d = &e.standing;
        let evidence = d.evidence();
        Self {
            subject: d.subject_id.to_string(),
            at: d.at.to_string(),
            level: LevelRef {
                index: d.level,
                name: d.level_name().to_owned(),
            },
            max_stake: d.max_stake(),
            limit: d.limit,
            exposure: d.exposure,
            capabilities: d.capabilities().into_iter().map(str::to_owned).collect(),
            expected: d.expected,
            uncertainty: d.uncertainty,
            timeline: e.timeline.iter().map(StepView::from).collect(),
            next_step: next_step(d),
            history: d.history(&evidence),
            evidence,
            log_size,
            policy_entry: d.policy_entry,
            seeds: e.seeds().iter().map(ToString::to_string).collect(),
        }
    }
}

/// Weighted, decayed evidence.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    /// Positive evidence, vouches included.
    pub positive: f64,
    /// Negative evidence, vouches included.
    pub negative: f64,
    /// The positive part that came through vouch chains.
    pub vouched_positive: f64,
    /// The negative part that came through vouch chains.
    pub vouched_negative: f64,
}

/// How many pieces of evidence of each kind were counted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CountsView {
    /// Promises kept.
    pub kept: u64,
    /// Promises broken.
    pub broken: u64,
    /// Promises partly kept.
    pub partial: u64,
    /// Promises left past due.
    pub overdue: u64,
    /// Positive ratings.
    pub ratings_positive: u64,
    /// Negative ratings.
    pub ratings_negative: u64,
    /// Reports.
    pub reports: u64,
    /// Vouches.
    pub vouches: u64,
}

/// A trust figure with everything needed to defend it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustView {
    /// The principal assessed.
    pub subject: String,
    /// Whose point of view (`null`: everyone's).
    pub truster: Option<String>,
    /// Which scope (`null`: all).
    pub scope: Option<String>,
    /// The instant (RFC 3339).
    pub at: String,
    /// Expected trust: belief + base rate × uncertainty.
    pub expected: f64,
    /// Belief.
    pub belief: f64,
    /// Disbelief.
    pub disbelief: f64,
    /// Uncertainty.
    pub uncertainty: f64,
    /// Base rate (prior).
    pub base_rate: f64,
    /// Network rank score (sums to 1 over all principals).
    pub rank: f64,
    /// The evidence behind the opinion.
    pub evidence: EvidenceView,
    /// Counts by kind.
    pub counts: CountsView,
    /// Log indexes of the evidence, most recent last (at most 1000).
    pub indexes: Vec<u64>,
    /// How many indexes there were in all.
    pub indexes_total: usize,
    /// Those of `indexes` imported as history by an operator: dated by their data set, not
    /// held to the log's time window.
    pub history: Vec<u64>,
    /// Log size the figure was computed at: with `at`, what replays it exactly.
    pub log_size: u64,
    /// The policy entry it was decided under: the log index of the last `policy` entry before
    /// `log_size`, whose policy a replay uses. `null`: the log records no policy up to
    /// `log_size` (a log begun before policy entries), and the policy file in force decided.
    pub policy_entry: Option<u64>,
    /// Log size of the network rank behind `rank` and `base_rate` (a view refreshed now and
    /// then, so it may be behind `log_size`); replay with it too.
    pub rank_log_size: u64,
}

impl TrustView {
    /// The view of `report`.
    pub fn new(
        report: &TrustReport,
        subject: &Id,
        truster: Option<&Id>,
        scope: Option<&Id>,
        at: stepwise::evidence::Time,
    ) -> Self {
        let o = &report.opinion;
        let c = &report.counts;
        Self {
            subject: subject.to_string(),
            truster: truster.map(Id::to_string),
            scope: scope.map(Id::to_string),
            at: at.to_string(),
            expected: o.expected(),
            belief: o.belief,
            disbelief: o.disbelief,
            uncertainty: o.uncertainty,
            base_rate: o.base_rate,
            rank: report.rank,
            evidence: EvidenceView {
                positive: report.evidence.positive,
                negative: report.evidence.negative,
                vouched_positive: report.vouched.positive,
                vouched_negative: report.vouched.negative,
            },
            counts: CountsView {
                kept: c.kept.into(),
                broken: c.broken.into(),
                partial: c.partial.into(),
                overdue: c.overdue.into(),
                ratings_positive: c.ratings_positive.into(),
                ratings_negative: c.ratings_negative.into(),
                reports: c.reports.into(),
                vouches: c.vouches.into(),
            },
            indexes: report.indexes.clone(),
            indexes_total: report.indexes_total,
            history: report.history.clone(),
            log_size: report.log_size,
            policy_entry: report.policy_entry,
            rank_log_size: report.rank_log_size,
        }
    }
}

/// One principal's network rank.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RankRow {
    /// The principal.
    pub principal: String,
    /// Its EigenTrust score (all scores sum to 1).
    pub score: f64,
}

/// What one level requires of a principal entering it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequiresView {
    /// Kept promises at the level's stakes since reaching the level below.
    pub kept: u32,
    /// Smallest stake a kept promise must have to count.
    pub kept_min_stake: f64,
    /// Smallest expected trust.
    pub min_expected: f64,
    /// Largest uncertainty.
    pub max_uncertainty: f64,
    /// Days at the level below.
    pub min_tenure_days: f64,
    /// Days without a broken promise.
    pub clean_for_days: f64,
    /// Vouches needed.
    pub vouches: u32,
    /// Smallest level of a voucher whose vouch counts.
    pub vouchers_level: usize,
    /// Distinct promisees (whose word counts) among those who judged the kept promises.
    pub min_counterparties: u32,
}

/// One level of the ladder.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelView {
    /// Position, 0 for newcomers.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Largest stake.
    pub max_stake: f64,
    /// Capabilities (cumulative).
    pub capabilities: Vec<String>,
    /// What it takes to enter; `null` for level 0, where everyone starts.
    pub requires: Option<RequiresView>,
}

/// The ladder's levels.
pub fn ladder_view(ladder: &stepwise::ladder::Ladder) -> Vec<LevelView> {
    let day = DAY_MICROS as f64;
    ladder
        .levels()
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let r = &l.requires;
            LevelView {
                index: k,
                name: l.name.clone(),
                max_stake: l.max_stake,
                capabilities: ladder
                    .capabilities_at(k)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                requires: (k > 0).then(|| RequiresView {
                    kept: r.kept,
                    kept_min_stake: r.kept_min_stake,
                    min_expected: r.min_expected,
                    max_uncertainty: r.max_uncertainty,
                    min_tenure_days: r.min_tenure as f64 / day,
                    clean_for_days: r.clean_for as f64 / day,
                    vouches: r.vouches,
                    vouchers_level: r.vouchers_level,
                    min_counterparties: r.min_counterparties,
                }),
            }
        })
        .collect()
}
