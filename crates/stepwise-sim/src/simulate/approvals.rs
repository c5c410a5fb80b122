//! The `rubber-stamp` scenario: approvals under stepwise's ladder (docs/MODEL.md "Approvals").
//!
//! A call the ladder refuses "not yet" goes ahead when an approver may approve it
//! (`LadderState::may_approve`), as `stepwise gate` asks one. It answers *how many broken
//! promises does it take before an approver who approves everything loses the power to
//! approve, and does an honest one keep it?* Only stepwise has approvals, so there are no
//! baselines here; like the market's scenarios it never touches disk or reads the clock, and a
//! seed determines every figure.
//!
//! # The world
//!
//! * **Time** as in the market: round `r` is day `r`; every request at 01:00, every outcome,
//!   judged by its promisee, at 13:00; a promise is due a day after it is made.
//! * **Approvers.** `approver:stamp`, a rubber stamp, approves every refused call of the bad
//!   agent; `approver:honest` approves only good agents' calls. Both are newcomers at round 0
//!   and do honest business of their own: every round each promises a client the largest
//!   stake tier within its limit and keeps it with probability [`HONEST_KEEP`] — which is how
//!   they come to stand on level 1, where `act:low` is granted and they may approve it.
//! * **Agents.** Every round each agent asks for `act:low` at stake [`CALL_STAKE`] (level 1's
//!   capability) for a client drawn uniformly. Allowed, it goes ahead; refused, its approver is
//!   asked, and an approval is recorded before the call's promise, which names it. The bad agent
//!   (`agent:bad`) keeps a promise with probability [`BAD_KEEP`]; good agents keep theirs with
//!   [`HONEST_KEEP`]. A good newcomer (`agent:good:k`) arrives every [`GOOD_EVERY`] rounds, so
//!   that the honest approver keeps being asked as each one climbs out of needing it.
//! * **Losing the power**: an approver that has approved at least once and is then refused by
//!   `may_approve` for its approval record (`approver_record_too_low`) lost it then; what is
//!   counted is how many of its approved promises had been judged broken by that moment. An
//!   approver is also refused while it may not make the call itself (`approver_not_allowed`:
//!   a slip of its own business demoted it below level 1, for a cool-down): that is counted
//!   apart, as it says nothing of how it approves.

use super::world::{Clock, climb_stake, draw, id, time, unit};
use super::{AFTERNOON, CLIENTS, HONEST_KEEP, MAX_ROUNDS, MORNING, STAKE_TIERS, START_MICROS};
use stepwise::evidence::{Body, Event, Id, OutcomeResult, Time};
use stepwise::ladder::{ApprovalRefusal, Ladder, LadderState};
use stepwise::model::params::{DAY_MICROS, ModelParams};

/// The scenario's name.
pub const RUBBER_STAMP: &str = "rubber-stamp";
/// Probability that the bad agent keeps a promise: it breaks most of them.
pub const BAD_KEEP: f64 = 0.2;
/// The stake of every agent's call: above level 0's limit (10), within level 1's (100).
pub const CALL_STAKE: f64 = 50.0;
/// The capability of every agent's call: granted from level 1.
pub const CALL_CAPABILITY: &str = "act:low";
/// A good newcomer arrives every this many rounds.
pub const GOOD_EVERY: u32 = 10;
/// How far past the end of a run the rubber stamp's return is looked for, in days.
pub const RETURN_HORIZON_DAYS: u32 = 30 * 365;

const DRAW_OWN_CLIENT: u64 = 21;
const DRAW_OWN_KEEP: u64 = 22;
const DRAW_CALL_CLIENT: u64 = 23;
const DRAW_CALL_KEEP: u64 = 24;

/// What one approver did and what became of its power.
#[derive(Debug, Clone, PartialEq)]
pub struct ApproverResult {
    /// Its id.
    pub id: String,
    /// Approvals it recorded.
    pub approvals: u32,
    /// Its approved promises judged kept.
    pub kept: u32,
    /// Its approved promises judged broken.
    pub broken: u32,
    /// The stake of the approved promises that were broken: what it let through.
    pub stake_lost: f64,
    /// When it first lost the power to approve (refused for its approval record, after
    /// approving at least once): the round.
    pub lost_at: Option<u32>,
    /// How many of its approved promises had been judged broken by then.
    pub broken_before_loss: Option<u32>,
    /// Calls it was asked to approve and could not for its approval record.
    pub refused_for_record: u32,
    /// Calls it was asked to approve, after its first approval, and could not because it may
    /// not make them itself (its own level).
    pub refused_for_level: u32,
    /// Its approval record at the end of the run.
    pub record: f64,
    /// Its level at the end of the run.
    pub level: usize,
    /// Whether it may approve the call at the end of the run.
    pub may_approve_at_end: bool,
    /// When it may not: how many days later, with nothing more recorded, it may again (`None`:
    /// not within [`RETURN_HORIZON_DAYS`]).
    pub back_after_days: Option<u32>,
}

/// One run of the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RubberStampRun {
    /// The seed.
    pub seed: u64,
    /// Rounds simulated.
    pub rounds: u32,
    /// The rubber stamp.
    pub stamp: ApproverResult,
    /// The honest approver.
    pub honest: ApproverResult,
    /// Good agents that arrived.
    pub good_agents: u32,
}

impl RubberStampRun {
    /// The run as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": RUBBER_STAMP,
            "seed": self.seed,
            "rounds": self.rounds,
            "stamp": approver_json(&self.stamp),
            "honest": approver_json(&self.honest),
            "good_agents": self.good_agents,
        })
    }
}

fn approver_json(a: &ApproverResult) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "approvals": a.approvals,
        "kept": a.kept,
        "broken": a.broken,
        "stake_lost": a.stake_lost,
        "lost_at": a.lost_at,
        "broken_before_loss": a.broken_before_loss,
        "refused_for_record": a.refused_for_record,
        "refused_for_level": a.refused_for_level,
        "record": a.record,
        "level": a.level,
        "may_approve_at_end": a.may_approve_at_end,
        "back_after_days": a.back_after_days,
    })
}

/// Runs the scenario for `rounds` rounds (at most [`MAX_ROUNDS`]) at `seed` under the default
/// policy.
pub fn run_rubber_stamp(seed: u64, rounds: u32) -> RubberStampRun {
    run_rubber_stamp_with(seed, rounds, ModelParams::default(), Ladder::default())
}

/// The scenario under the given model settings and ladder (which must grant
/// [`CALL_CAPABILITY`]).
pub fn run_rubber_stamp_with(
    seed: u64,
    rounds: u32,
    params: ModelParams,
    ladder: Ladder,
) -> RubberStampRun {
    let rounds = rounds.min(MAX_ROUNDS);
    let mut m = Market {
        state: LadderState::new(params, ladder),
        next: 0,
        promises: 0,
        clients: (0..CLIENTS).map(|i| id(&format!("client:{i}"))).collect(),
        seed,
    };
    let mut stamp = Tally::new("approver:stamp");
    let mut honest = Tally::new("approver:honest");
    let bad = id("agent:bad");
    let mut good: Vec<Id> = Vec::new();
    for r in 0..rounds {
        let mut clock = Clock {
            day: START_MICROS + i64::from(r) * DAY_MICROS,
            seq: 0,
        };
        if r % GOOD_EVERY == 0 {
            good.push(id(&format!("agent:good:{}", r / GOOD_EVERY)));
        }
        let mut pending: Vec<Pending> = Vec::new();
        for (k, who) in [stamp.id.clone(), honest.id.clone()].iter().enumerate() {
            m.own_business(&mut clock, &mut pending, r, who, k as u64);
        }
        let agent = 10;
        m.call(
            &mut clock,
            &mut pending,
            r,
            (&bad, agent, BAD_KEEP),
            &mut stamp,
        );
        for (k, g) in good.iter().enumerate() {
            let n = agent + 1 + k as u64;
            m.call(
                &mut clock,
                &mut pending,
                r,
                (g, n, HONEST_KEEP),
                &mut honest,
            );
        }
        for p in pending {
            let at = clock.at(AFTERNOON);
            let result = if p.kept {
                OutcomeResult::Kept
            } else {
                OutcomeResult::Broken
            };
            m.record(
                at,
                &p.promisee,
                Body::Outcome {
                    promise: p.promise,
                    result,
                },
            );
            let tally = match p.approver {
                Some(0) => &mut stamp,
                Some(_) => &mut honest,
                None => continue,
            };
            if p.kept {
                tally.kept += 1;
            } else {
                tally.broken += 1;
                tally.stake_lost += p.stake;
            }
        }
    }
    let end = time(START_MICROS + i64::from(rounds) * DAY_MICROS);
    RubberStampRun {
        seed,
        rounds,
        stamp: stamp.result(&m.state, &bad, end),
        honest: honest.result(&m.state, good.last().unwrap_or(&bad), end),
        good_agents: good.len() as u32,
    }
}

/// The market's state and what it needs to record events.
struct Market {
    state: LadderState,
    next: u64,
    promises: u64,
    clients: Vec<Id>,
    seed: u64,
}

/// A promise made this morning, judged this afternoon.
struct Pending {
    promise: Id,
    promisee: Id,
    stake: f64,
    kept: bool,
    /// Which approver let it through (0 the stamp, 1 the honest one), if one did.
    approver: Option<u8>,
}

impl Market {
    fn record(&mut self, at: Time, author: &Id, body: Body) {
        let event = Event {
            at,
            author: Some(author.clone()),
            body,
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        };
        self.state.apply(self.next, &event);
        self.next += 1;
    }

    fn next_promise_id(&mut self) -> Id {
        self.promises += 1;
        id(&format!("p{}", self.promises))
    }

    fn promise(&mut self, at: Time, promise: &Id, promisor: &Id, promisee: &Id, stake: f64) {
        let due = time(at.as_micros().saturating_add(DAY_MICROS));
        let body = Body::Promise {
            id: promise.clone(),
            promisor: promisor.clone(),
            promisee: promisee.clone(),
            scope: id("trade"),
            stake,
            due,
        };
        self.record(at, promisor, body);
    }

    /// An approver's own business: one promise to a client at the largest stake tier within
    /// its limit, kept as an honest principal keeps it.
    fn own_business(
        &mut self,
        clock: &mut Clock,
        pending: &mut Vec<Pending>,
        r: u32,
        who: &Id,
        k: u64,
    ) {
        let at = clock.at(MORNING);
        let own = self.state.decide(who, "propose", 0.0, None, at);
        let Some(stake) = climb_stake(if own.allowed { own.available() } else { 0.0 }) else {
            return;
        };
        let capability = ["propose", "act:low", "act:medium", "act:high"][STAKE_TIERS
            .iter()
            .position(|(s, _)| *s == stake)
            .unwrap_or(0)];
        if !self.state.decide(who, capability, stake, None, at).allowed {
            return;
        }
        let client = self.clients
            [(draw(self.seed, r, k, DRAW_OWN_CLIENT) % CLIENTS as u64) as usize]
            .clone();
        let promise = self.next_promise_id();
        self.promise(at, &promise, who, &client, stake);
        pending.push(Pending {
            promise,
            promisee: client,
            stake,
            kept: unit(self.seed, r, k, DRAW_OWN_KEEP) < HONEST_KEEP,
            approver: None,
        });
    }

    /// An agent's call: allowed by the ladder, or approved by `approver`, or not made.
    fn call(
        &mut self,
        clock: &mut Clock,
        pending: &mut Vec<Pending>,
        r: u32,
        (agent, n, keep): (&Id, u64, f64),
        approver: &mut Tally,
    ) {
        let at = clock.at(MORNING);
        let client = self.clients
            [(draw(self.seed, r, n, DRAW_CALL_CLIENT) % CLIENTS as u64) as usize]
            .clone();
        let kept = unit(self.seed, r, n, DRAW_CALL_KEEP) < keep;
        let promise = self.next_promise_id();
        let allowed = self
            .state
            .decide(agent, CALL_CAPABILITY, CALL_STAKE, None, at)
            .allowed;
        let mut approved = None;
        if !allowed {
            let asked =
                self.state
                    .may_approve(&approver.id, agent, CALL_CAPABILITY, CALL_STAKE, at);
            match asked {
                Ok(()) => {
                    approver.approvals += 1;
                    approver.had_power = true;
                    let body = Body::Approval {
                        approver: approver.id.clone(),
                        subject: agent.clone(),
                        promise: promise.clone(),
                        capability: id(CALL_CAPABILITY),
                        stake: CALL_STAKE,
                        decision: None,
                    };
                    let who = approver.id.clone();
                    self.record(at, &who, body);
                    approved = Some(approver.n);
                }
                Err(ApprovalRefusal::ApproverRecordTooLow { .. }) => {
                    approver.refused_for_record += 1;
                    if approver.lost_at.is_none() {
                        approver.lost_at = Some(r);
                        approver.broken_before_loss = Some(approver.broken);
                    }
                    return;
                }
                Err(_) => {
                    approver.refused_for_level += u32::from(approver.had_power);
                    return;
                }
            }
        }
        self.promise(at, &promise, agent, &client, CALL_STAKE);
        pending.push(Pending {
            promise,
            promisee: client,
            stake: CALL_STAKE,
            kept,
            approver: approved,
        });
    }
}

/// An approver's figures as the run goes.
struct Tally {
    id: Id,
    n: u8,
    had_power: bool,
    approvals: u32,
    kept: u32,
    broken: u32,
    stake_lost: f64,
    lost_at: Option<u32>,
    broken_before_loss: Option<u32>,
    refused_for_record: u32,
    refused_for_level: u32,
}

impl Tally {
    fn new(name: &str) -> Self {
        Self {
            id: id(name),
            n: u8::from(name != "approver:stamp"),
            had_power: false,
            approvals: 0,
            kept: 0,
            broken: 0,
            stake_lost: 0.0,
            lost_at: None,
            broken_before_loss: None,
            refused_for_record: 0,
            refused_for_level: 0,
        }
    }

    /// The figures at the end of the run (`end`), `subject` the agent whose call it is asked
    /// about then.
    fn result(self, state: &LadderState, subject: &Id, end: Time) -> ApproverResult {
        let may = |at: Time| {
            state
                .may_approve(&self.id, subject, CALL_CAPABILITY, CALL_STAKE, at)
                .is_ok()
        };
        let may_approve_at_end = may(end);
        // Its record fades back, its level may not: asked about level 0's capability, the
        // question is its record alone (and a standing above the floor).
        let back_after_days = (!may_approve_at_end)
            .then(|| {
                (1..=RETURN_HORIZON_DAYS).find(|d| {
                    let at = time(end.as_micros() + i64::from(*d) * DAY_MICROS);
                    state
                        .may_approve(&self.id, subject, "propose", 5.0, at)
                        .is_ok()
                })
            })
            .flatten();
        ApproverResult {
            id: self.id.to_string(),
            approvals: self.approvals,
            kept: self.kept,
            broken: self.broken,
            stake_lost: self.stake_lost,
            lost_at: self.lost_at,
            broken_before_loss: self.broken_before_loss,
            refused_for_record: self.refused_for_record,
            refused_for_level: self.refused_for_level,
            record: state.approval_record(&self.id, end).expected,
            level: state.level_at(&self.id, end),
            may_approve_at_end,
            back_after_days,
        }
    }
}

/// The scenario over several seeds: how many broken approved promises it took the rubber
/// stamp to lose the power (median and most), and whether the honest approver kept it.
#[derive(Debug, Clone, PartialEq)]
pub struct RubberStampSummary {
    /// The runs, one per seed.
    pub runs: Vec<RubberStampRun>,
    /// The lower median of the broken approved promises before the rubber stamp lost the power
    /// (`None` counting as never).
    pub median_broken_before_loss: Option<u32>,
    /// The most, over the seeds (`None` if in some run it never lost it).
    pub max_broken_before_loss: Option<u32>,
    /// Runs in which the honest approver lost the power to approve (refused for its record).
    pub honest_lost: usize,
}

/// Runs the scenario at each of `seeds` for `rounds` rounds under the default policy.
pub fn rubber_stamp_over(seeds: impl IntoIterator<Item = u64>, rounds: u32) -> RubberStampSummary {
    let runs: Vec<RubberStampRun> = seeds
        .into_iter()
        .map(|seed| run_rubber_stamp(seed, rounds))
        .collect();
    let broken: Vec<Option<u32>> = runs.iter().map(|r| r.stamp.broken_before_loss).collect();
    let mut sorted: Vec<u32> = broken.iter().map(|b| b.unwrap_or(u32::MAX)).collect();
    sorted.sort_unstable();
    let median = sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .filter(|b| *b != u32::MAX);
    let max = broken
        .iter()
        .try_fold(0u32, |most, b| b.map(|b| most.max(b)))
        .filter(|_| !broken.is_empty());
    RubberStampSummary {
        median_broken_before_loss: median,
        max_broken_before_loss: max,
        honest_lost: runs.iter().filter(|r| r.honest.lost_at.is_some()).count(),
        runs,
    }
}
