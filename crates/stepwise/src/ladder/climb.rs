//! Positions on the ladder, folded from the log one event at a time.
//!
//! A principal climbs **one step at a time**: the requirements for level k count only evidence
//! gathered since it reached level k−1, so no history can skip a step. A broken promise (or a
//! promise left past due) demotes at once — further for a larger stake — and starts a cool-down;
//! with `scale_by_stake`, the cool-down, the clean period it spoils and the kept promises and
//! tenure to earn again scale with its *severity*, its stake over the level's limit, so a small slip at a
//! high level costs a step but not a season; a dip in standing demotes only beyond a margin
//! (hysteresis). Levels are therefore a pure
//! function of the log and the instant: `level_at` re-evaluates a copy of the stored position at
//! the asked instant, without changing anything.

pub use super::step::{Step, StepCause};
use super::{Ladder, Requirements};
use crate::evidence::{Body, Event, Id, OutcomeResult, Time};
use crate::model::StandingMark;
use crate::model::opinion::Opinion;
use crate::model::params::ModelParams;
use crate::model::state::{RankSnapshot, TrustState};
use std::borrow::Cow;
use thin_vec::ThinVec;

/// Where a principal stands on the ladder, and what counts toward its next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// Current level.
    pub level: usize,
    /// When it reached the current level (tenure counts from here).
    pub since: Time,
    /// No promotion before this instant (cool-down after a betrayal).
    pub cooldown_until: Time,
    /// The share of level 0's limit left by promises broken at level 0, where there is no step
    /// down, while their cool-down runs (until `losses_until`; `ladder.bound_level_0_losses`):
    /// each takes half of the share it betrayed of what was left.
    pub level_0_share: f64,
    /// When the cool-down of the latest of those betrayals ends.
    pub losses_until: Time,
    /// Kept promises at the next level's stakes since reaching the current level, judged by
    /// promisees the seeds reach (all promisees when no seeds are named).
    pub kept_toward_next: u32,
    /// Kept promises at those stakes since then that did not count: judged by promisees no seed
    /// reached when they judged.
    pub kept_not_counted: u32,
    /// The distinct promisees who judged the kept promises in `kept_toward_next`.
    counterparties: ThinVec<u32>,
    /// Counterparties still credited after a fall by a small slip, as kept promises are.
    counterparty_credit: u32,
    /// The latest broken or overdue promise, if any.
    pub last_broken: Option<Time>,
    /// The instant of the last event folded into this position: conditions that events
    /// fulfil (kept promises, standing, vouches) hold from then on, not before.
    pub updated: Time,
    /// Promises already charged as overdue and still without outcome (log indexes).
    charged: ThinVec<u64>,
    /// Recent broken or overdue promises that may still spoil a clean period: (instant,
    /// severity in (0, 1]). A breach of severity σ spoils `σ · clean_for` of every level.
    breaches: ThinVec<(Time, f64)>,
    /// Tenure on the level below still counted after a fall, in microseconds: the share
    /// `(1 − severity)` of what the level above asks for (0 after a promotion).
    tenure_credit: i64,
}

impl Position {
    /// Where a newcomer first seen at `at` stands: level 0.
    pub fn newcomer(at: Time) -> Self {
        Self {
            level: 0,
            since: at,
            cooldown_until: Time::MIN,
            level_0_share: 1.0,
            losses_until: Time::MIN,
            kept_toward_next: 0,
            kept_not_counted: 0,
            counterparties: ThinVec::new(),
            counterparty_credit: 0,
            last_broken: None,
            updated: at,
            charged: ThinVec::new(),
            breaches: ThinVec::new(),
            tenure_credit: 0,
        }
    }

    /// How many distinct promisees judged the kept promises that count toward the next level.
    pub fn counterparties(&self) -> u32 {
        self.counterparties.len() as u32 + self.counterparty_credit
    }

    /// Time counted as spent on the current level at `at`, in microseconds: since it was
    /// reached, plus what a fall by a small slip left standing.
    pub fn tenure(&self, at: Time) -> i64 {
        (at.as_micros() - self.since.as_micros()).saturating_add(self.tenure_credit)
    }

    /// The first instant from which the principal counts as clean for a level that asks
    /// `clean_for` (`None`: clean already, whenever asked).
    pub fn clean_from(&self, clean_for: i64) -> Option<Time> {
        self.breaches
            .iter()
            .map(|(t, severity)| {
                let spoiled = (severity * clean_for as f64).ceil() as i64;
                Time::from_micros(t.as_micros().saturating_add(spoiled)).unwrap_or(Time::MAX)
            })
            .max()
    }

    /// Whether the principal counts as clean at `at` for a level that asks `clean_for`.
    pub fn is_clean(&self, clean_for: i64, at: Time) -> bool {
        self.clean_from(clean_for).is_none_or(|t| t <= at)
    }
}

/// What folding one event changed on the ladder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The principal whose standing the event is about (the subject of a rating, report or
    /// vouch, the promisor of an outcome), if any.
    pub subject: Option<u32>,
    /// How many promotions and demotions its timeline gained: the last `new_steps` of
    /// [`LadderState::timeline_of`].
    pub new_steps: usize,
    /// An approver whose standing the event changed too (an outcome of a promise it approved,
    /// broken: docs/MODEL.md "Approvals"), if any.
    pub approver: Option<u32>,
    /// How many steps the approver's timeline gained.
    pub approver_new_steps: usize,
}

/// What a decision reads of one principal, in one cache line, kept with every event that
/// changes its position or the evidence about it. A decision touches nothing else of the
/// principal when the position is *settled*: no open promise (none can fall due, weigh on the
/// standing as overdue, or be at stake) and fewer kept promises or counterparties than the next
/// level asks (no promotion, whatever time does). Then only a fall in standing can move it,
/// and the standing follows from `mark` alone. The position and the evidence themselves are
/// spread over three cache lines or more, which on a state larger than the caches are as many
/// misses on every decision.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(64))]
struct Quick {
    /// The evidence about the principal as of its last event.
    mark: StandingMark,
    since: Time,
    losses_until: Time,
    level_0_share: f64,
    /// At most 64 levels (`Ladder::new`).
    level: u8,
    settled: bool,
}

impl Quick {
    fn of(trust: &TrustState, ladder: &Ladder, s: u32, position: &Position) -> Self {
        let promotable = ladder.levels().get(position.level + 1).is_some_and(|next| {
            position.kept_toward_next >= next.requires.kept
                && position.counterparties() >= next.requires.min_counterparties
        });
        Self {
            mark: trust.standing_mark(s),
            since: position.since,
            losses_until: position.losses_until,
            level_0_share: position.level_0_share,
            level: position.level as u8,
            settled: !promotable && !trust.has_open_promises(s),
        }
    }
}

/// A principal's place at an instant, as a decision reads it ([`LadderState::now`]).
#[derive(Debug)]
pub(super) struct Now<'a> {
    /// The position, borrowed from the state when time changed nothing.
    pub(super) position: Cow<'a, Position>,
    pub(super) level: usize,
    pub(super) level_0_share: f64,
    pub(super) losses_until: Time,
    /// The standing the position was judged on.
    pub(super) standing: Opinion,
    /// Whether the principal may have open promises (without any, nothing is at stake).
    pub(super) open: bool,
}

/// The trust state together with everyone's ladder position and level timeline.
#[derive(Debug, Clone)]
pub struct LadderState {
    trust: TrustState,
    ladder: Ladder,
    positions: Vec<Position>,
    timelines: Vec<Vec<Step>>,
    /// Per principal, what a decision reads ([`Quick`]).
    quick: Vec<Quick>,
    /// Per principal, its promises within the ladder's longest budget window.
    pub(super) spent: super::Spending,
}

impl LadderState {
    /// An empty state.
    pub fn new(params: ModelParams, ladder: Ladder) -> Self {
        Self {
            trust: TrustState::new(params),
            ladder,
            positions: Vec::new(),
            timelines: Vec::new(),
            quick: Vec::new(),
            spent: super::Spending::default(),
        }
    }

    /// Brings principal `s`'s [`Quick`] up to date with its position and evidence.
    fn refresh(&mut self, s: u32) {
        let quick = Quick::of(&self.trust, &self.ladder, s, &self.positions[s as usize]);
        match self.quick.get_mut(s as usize) {
            Some(q) => *q = quick,
            None => self.quick.push(quick),
        }
    }

    /// Records that the state reflects a log of `size` entries (some may have been left out
    /// by an instant: see `stepwise_store::replay`).
    pub fn set_log_size(&mut self, size: u64) {
        self.trust.set_log_size(size);
    }

    /// The trust state underneath.
    pub fn trust(&self) -> &TrustState {
        &self.trust
    }

    /// Publishes a network rank for answers to use ([`TrustState::publish_rank`]); positions on
    /// the ladder never depend on it.
    pub fn publish_rank(&mut self, snapshot: RankSnapshot) {
        self.trust.publish_rank(snapshot);
    }

    /// Computes the network rank of this state now and publishes it as of log size `log_size`.
    pub fn refresh_rank_as_of(&mut self, log_size: u64) {
        self.trust.refresh_rank_as_of(log_size);
    }

    /// The ladder in force.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// A principal's stored position (as of its last event), if it has been seen.
    pub fn position(&self, subject: &Id) -> Option<&Position> {
        let s = self.trust.principal_index(subject)?;
        self.positions.get(s as usize)
    }

    /// Every promotion and demotion of a principal, in order, with its cause.
    pub fn timeline(&self, subject: &Id) -> &[Step] {
        self.trust
            .principal_index(subject)
            .and_then(|s| self.timelines.get(s as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// Folds in the event at log `index` (events in log order, already valid), and says whose
    /// standing it changed and how many steps that principal's timeline gained.
    pub fn apply(&mut self, index: u64, event: &Event) -> Applied {
        if let Body::Policy { .. } = &event.body {
            self.trust.apply(index, event);
            return Applied::default();
        }
        let outcome = match &event.body {
            Body::Outcome { promise, result } => self
                .trust
                .open_promise(promise)
                .map(|(promisor, stake, promise_index)| (promisor, stake, promise_index, *result)),
            _ => None,
        };
        // Who judged it, and whether its word counts, before its outcome is folded in.
        let judge = match &event.body {
            Body::Outcome { promise, .. } => self.trust.promisee_of(promise),
            _ => None,
        };
        let credible = judge.is_none_or(|q| self.trust.reached(q));
        let subject = |trust: &TrustState| match &event.body {
            Body::Outcome { .. } => outcome.map(|(promisor, ..)| promisor),
            Body::Rating { subject, .. }
            | Body::Report { subject, .. }
            | Body::Vouch { subject, .. }
            | Body::Unvouch { subject, .. } => trust.principal_index(subject),
            Body::Promise { .. }
            | Body::Key { .. }
            | Body::Erasure { .. }
            | Body::Policy { .. }
            | Body::Approval { .. } => None,
        };
        // An approver charged for a broken promise it approved is judged again, as a subject.
        let liable = match &event.body {
            Body::Outcome { promise, result } => self.trust.liable_approver(promise, *result),
            _ => None,
        };
        // What time did before this event comes first — promotions by tenure, promises that
        // fell due — while the trust state still holds those promises as open.
        let steps_before = subject(&self.trust).map_or(0, |s| self.timelines[s as usize].len());
        let approver_before = liable.map_or(0, |a| self.timelines[a as usize].len());
        for s in subject(&self.trust).into_iter().chain(liable) {
            let mut timeline = std::mem::take(&mut self.timelines[s as usize]);
            let (position, _) = self.caught_up(s, event.at, &mut timeline);
            self.positions[s as usize] = position;
            self.timelines[s as usize] = timeline;
        }
        self.trust.apply(index, event);
        while self.positions.len() < self.trust.principals() {
            self.positions.push(Position::newcomer(event.at));
            self.timelines.push(Vec::new());
            self.refresh(self.quick.len() as u32);
        }
        if let Some(a) = liable {
            self.restand(a, event.at, index);
        }
        let approver_new_steps = liable.map_or(0, |a| {
            self.timelines[a as usize]
                .len()
                .saturating_sub(approver_before)
        });
        // A promise changes its promisor's evidence (an open promise) but not its position.
        if let Body::Promise { promisor, .. } = &event.body
            && let Some(p) = self.trust.principal_index(promisor)
        {
            self.refresh(p);
            self.spend(p, event);
        }
        let Some(s) = subject(&self.trust) else {
            return Applied {
                approver: liable,
                approver_new_steps,
                ..Applied::default()
            };
        };
        let mut position = self.positions[s as usize].clone();
        let mut timeline = std::mem::take(&mut self.timelines[s as usize]);
        let at = event.at.max(position.since);
        position.updated = position.updated.max(at);
        if let Some((_, stake, promise_index, result)) = outcome {
            let levels = self.ladder.levels();
            match result {
                OutcomeResult::Kept => {
                    if let Some(next) = levels.get(position.level + 1)
                        && stake >= next.requires.kept_min_stake
                    {
                        if credible {
                            position.kept_toward_next += 1;
                            if let Some(q) = judge
                                && !position.counterparties.contains(&q)
                            {
                                crate::push_tight(&mut position.counterparties, q);
                            }
                        } else {
                            position.kept_not_counted += 1;
                        }
                    }
                }
                OutcomeResult::Broken => {
                    // A promise already charged when it fell due is one betrayal, not two.
                    if !position.charged.contains(&promise_index) {
                        let cause = StepCause::Broken { index, stake };
                        demote(&self.ladder, &mut position, at, stake, cause, &mut timeline);
                    }
                }
                OutcomeResult::Partial(_) => {}
            }
            position.charged.retain(|c| *c != promise_index);
        }
        evaluate(
            &self.trust,
            &self.ladder,
            &self.positions,
            s,
            &mut position,
            at,
            Some(index),
            &mut timeline,
        );
        self.positions[s as usize] = position;
        self.refresh(s);
        // A new subject starts with an empty timeline: every step it has is new.
        let new_steps = timeline.len().saturating_sub(steps_before);
        self.timelines[s as usize] = timeline;
        Applied {
            subject: Some(s),
            new_steps,
            approver: liable,
            approver_new_steps,
        }
    }

    /// Judges principal `s` again after an event at `at` (log `index`) changed the evidence
    /// about it but was not about its promises: a fall in standing, or a promotion it completed.
    fn restand(&mut self, s: u32, at: Time, index: u64) {
        let mut position = self.positions[s as usize].clone();
        let mut timeline = std::mem::take(&mut self.timelines[s as usize]);
        let at = at.max(position.since);
        position.updated = position.updated.max(at);
        evaluate(
            &self.trust,
            &self.ladder,
            &self.positions,
            s,
            &mut position,
            at,
            Some(index),
            &mut timeline,
        );
        self.positions[s as usize] = position;
        self.timelines[s as usize] = timeline;
        self.refresh(s);
    }

    /// The position of `subject` at instant `at`: the stored one, re-evaluated at `at` (time
    /// may have completed a requirement, ended a cool-down, or let a promise fall due). Steps
    /// that would happen by then are pushed to `steps`.
    pub fn position_at(&self, subject: Option<u32>, at: Time, steps: &mut Vec<Step>) -> Position {
        self.position_and_standing(subject, at, steps).0
    }

    /// The position at `at` (as [`LadderState::position_at`]) and the standing it was judged on.
    pub(crate) fn position_and_standing(
        &self,
        subject: Option<u32>,
        at: Time,
        steps: &mut Vec<Step>,
    ) -> (Position, Opinion) {
        let Some(s) = subject else {
            let p = self.trust.params();
            let standing = Opinion::from_evidence(Default::default(), p.prior_weight, p.base_rate);
            return (Position::newcomer(at), standing);
        };
        let (mut position, at) = self.caught_up(s, at, steps);
        let standing = evaluate(
            &self.trust,
            &self.ladder,
            &self.positions,
            s,
            &mut position,
            at,
            None,
            steps,
        );
        (position, standing)
    }

    /// The position at `at` and the standing it was judged on, as [`LadderState::position_at`]
    /// finds them, reading only the principal's [`Quick`] when its position is settled and its
    /// standing keeps it on its level: the stored position then holds as it is.
    pub(super) fn now(&self, subject: Option<u32>, at: Time) -> Now<'_> {
        if let Some(s) = subject
            && let Some(q) = self.quick.get(s as usize)
            && q.settled
        {
            // As `caught_up` and `evaluate` would: never before the level was reached.
            let at = at.max(q.since);
            let standing = self.trust.standing_from(Some(&q.mark), None, at);
            let level = usize::from(q.level);
            let (expected, uncertainty) = (standing.expected(), standing.uncertainty);
            if level == 0 || keeps(&self.ladder, level, expected, uncertainty) {
                return Now {
                    position: Cow::Borrowed(&self.positions[s as usize]),
                    level,
                    level_0_share: q.level_0_share,
                    losses_until: q.losses_until,
                    standing,
                    open: false,
                };
            }
        }
        let (position, standing) = self.position_and_standing(subject, at, &mut Vec::new());
        Now {
            level: position.level,
            level_0_share: position.level_0_share,
            losses_until: position.losses_until,
            standing,
            open: subject.is_some(),
            position: Cow::Owned(position),
        }
    }

    /// A copy of `s`'s stored position with what time did up to `at` replayed (see
    /// [`catch_up`]), and the instant it was brought to (never before the level was reached).
    fn caught_up(&self, s: u32, at: Time, steps: &mut Vec<Step>) -> (Position, Time) {
        let mut position = self.positions[s as usize].clone();
        let at = at.max(position.since);
        catch_up(
            &self.trust,
            &self.ladder,
            &self.positions,
            s,
            &mut position,
            at,
            steps,
        );
        (position, at)
    }

    /// Every promotion and demotion of the principal numbered `s`, in order.
    pub fn timeline_of(&self, s: u32) -> &[Step] {
        self.timelines.get(s as usize).map_or(&[], Vec::as_slice)
    }

    /// The level of `subject` at `at`.
    pub fn level_at(&self, subject: &Id, at: Time) -> usize {
        self.position_at(self.trust.principal_index(subject), at, &mut Vec::new())
            .level
    }

    /// How many active vouchers of `subject` stand at or above `level`.
    pub(crate) fn vouchers_at_or_above(&self, subject: u32, level: usize) -> u32 {
        count_vouchers(&self.trust, &self.positions, subject, level)
    }
}

fn count_vouchers(trust: &TrustState, positions: &[Position], subject: u32, level: usize) -> u32 {
    trust
        .vouchers(subject)
        .filter(|v| positions.get(*v as usize).is_some_and(|p| p.level >= level))
        .count() as u32
}

/// The severity of a betrayal of `stake` at `level`: its stake over the level's `max_stake`,
/// at most 1 (1 for a level that allows no stake, or when `scale_by_stake` is off).
fn severity(ladder: &Ladder, level: usize, stake: f64) -> f64 {
    let limit = ladder.levels()[level].max_stake;
    if !ladder.rules().scale_by_stake || limit <= 0.0 || stake.is_nan() {
        1.0
    } else {
        (stake / limit).clamp(0.0, 1.0)
    }
}

/// Steps a betrayal of `stake` costs at `level`: one, plus one per `demotion_stake_fraction`
/// of the level's `max_stake`.
fn demotion_steps(ladder: &Ladder, level: usize, stake: f64) -> usize {
    let limit = ladder.levels()[level].max_stake * ladder.rules().demotion_stake_fraction;
    let extra = if limit > 0.0 {
        (stake / limit).floor()
    } else {
        0.0
    };
    1 + extra.min(64.0) as usize
}

fn demote(
    ladder: &Ladder,
    position: &mut Position,
    at: Time,
    stake: f64,
    cause: StepCause,
    steps: &mut Vec<Step>,
) {
    let from = position.level;
    let to = from.saturating_sub(demotion_steps(ladder, from, stake));
    let severity = severity(ladder, from, stake);
    position.last_broken = Some(position.last_broken.map_or(at, |t| t.max(at)));
    // Proportional to the harm against the trust extended: slicing a betrayal into small ones
    // buys no faster way back than one betrayal of the same total stake.
    let cooldown = (severity * ladder.rules().cooldown as f64).ceil() as i64;
    let cooldown = Time::from_micros(at.as_micros().saturating_add(cooldown)).unwrap_or(Time::MAX);
    position.cooldown_until = position.cooldown_until.max(cooldown);
    if from == 0 && ladder.rules().bound_level_0_losses {
        // Betrayals within a running cool-down compound; after it, level 0 is whole again.
        if at >= position.losses_until {
            position.level_0_share = 1.0;
        }
        let left = ladder.levels()[0].max_stake * position.level_0_share;
        let betrayed = if left > 0.0 {
            (stake / left).clamp(0.0, 1.0)
        } else {
            1.0
        };
        position.level_0_share *= 1.0 - betrayed / 2.0;
        position.losses_until = position.losses_until.max(cooldown);
    }
    let longest_clean = ladder
        .levels()
        .iter()
        .map(|l| l.requires.clean_for)
        .max()
        .unwrap_or(0);
    position
        .breaches
        .retain(|(t, _)| at.as_micros().saturating_sub(t.as_micros()) < longest_clean);
    if severity > 0.0 {
        crate::push_tight(&mut position.breaches, (at, severity));
    }
    // The kept promises and the tenure that earned the level now above still count, but for
    // the severity's share of them: a full-limit betrayal re-earns them all.
    let next = ladder.levels().get(to + 1).map(|next| &next.requires);
    position.kept_toward_next = next.map_or(0, |req| {
        let credit = (1.0 - severity) * f64::from(req.kept);
        (credit.floor() as u32).min(req.kept.saturating_sub(1))
    });
    position.kept_not_counted = 0;
    position.counterparties.clear();
    position.counterparty_credit = next.map_or(0, |req| {
        let credit = (1.0 - severity) * f64::from(req.min_counterparties);
        (credit.floor() as u32).min(req.min_counterparties.saturating_sub(1))
    });
    let tenure_credit = next.map_or(0, |req| {
        ((1.0 - severity) * req.min_tenure as f64).floor() as i64
    });
    // Without a step down the tenure keeps counting from where it was; it never grows here.
    position.tenure_credit = if to != from {
        tenure_credit
    } else {
        position.tenure_credit.min(tenure_credit)
    };
    if to != from {
        position.level = to;
        position.since = at;
        steps.push(Step {
            at,
            from,
            to,
            cause,
        });
    }
}

/// Whether every requirement of `req` holds for `position` at `at`, given its standing.
// The decision path calls this with values it already holds; bundling them would cost a copy
// on every decision.
#[allow(clippy::too_many_arguments)]
pub(crate) fn requirements_met(
    req: &Requirements,
    position: &Position,
    at: Time,
    expected: f64,
    uncertainty: f64,
    vouchers: u32,
) -> bool {
    position.cooldown_until <= at
        && position.kept_toward_next >= req.kept
        && position.counterparties() >= req.min_counterparties
        && expected >= req.min_expected
        && uncertainty <= req.max_uncertainty
        && position.tenure(at) >= req.min_tenure
        && position.is_clean(req.clean_for, at)
        && vouchers >= req.vouches
}

/// The earliest instant in `[since, at]` at which every requirement of the next level holds
/// by the passing of time alone (tenure, clean period, cool-down), if the rest already holds.
fn promotion_instant(
    trust: &TrustState,
    ladder: &Ladder,
    positions: &[Position],
    s: u32,
    position: &Position,
    at: Time,
) -> Option<Time> {
    let req = &ladder.levels().get(position.level + 1)?.requires;
    if position.kept_toward_next < req.kept
        || position.counterparties() < req.min_counterparties
        || (req.vouches > 0
            && count_vouchers(trust, positions, s, req.vouchers_level) < req.vouches)
    {
        return None;
    }
    let tenure = position
        .since
        .as_micros()
        .saturating_add(req.min_tenure.saturating_sub(position.tenure_credit));
    let clean = position
        .clean_from(req.clean_for)
        .map_or(i64::MIN, Time::as_micros);
    let earliest = Time::from_micros(tenure.max(clean).max(position.cooldown_until.as_micros()))
        .unwrap_or(Time::MAX)
        .max(position.since)
        .max(position.updated);
    if earliest > at {
        return None;
    }
    let standing = trust.standing(s, earliest);
    (standing.expected() >= req.min_expected && standing.uncertainty <= req.max_uncertainty)
        .then_some(earliest)
}

fn promote(position: &mut Position, when: Time, index: Option<u64>, steps: &mut Vec<Step>) {
    let from = position.level;
    position.level += 1;
    position.since = when;
    position.kept_toward_next = 0;
    position.kept_not_counted = 0;
    position.counterparties.clear();
    position.counterparty_credit = 0;
    position.tenure_credit = 0;
    steps.push(Step {
        at: when,
        from,
        to: position.level,
        cause: StepCause::Promoted { index },
    });
}

/// Replays what the passing of time did to `position` up to `at`, in chronological order:
/// promotions whose last condition was a duration, and promises that fell due without an
/// outcome (counted as broken from their due instant).
fn catch_up(
    trust: &TrustState,
    ladder: &Ladder,
    positions: &[Position],
    s: u32,
    position: &mut Position,
    at: Time,
    steps: &mut Vec<Step>,
) {
    loop {
        let due = trust
            .open_promises(s)
            .filter(|(due, _, promise)| *due <= at && !position.charged.contains(promise))
            .min_by_key(|(due, _, _)| *due);
        let promotion = promotion_instant(trust, ladder, positions, s, position, at);
        match (promotion, due) {
            (Some(when), next) if next.is_none_or(|(due, ..)| when < due) => {
                promote(position, when, None, steps);
            }
            (_, Some((due, stake, promise))) => {
                position.charged.push(promise);
                let when = due.max(position.since);
                let cause = StepCause::Overdue {
                    index: promise,
                    stake,
                };
                demote(ladder, position, when, stake, cause, steps);
            }
            _ => break,
        }
    }
}

/// Whether a standing keeps a principal on `level` (> 0): within the margin of its entry
/// requirements.
fn keeps(ladder: &Ladder, level: usize, expected: f64, uncertainty: f64) -> bool {
    let req = &ladder.levels()[level].requires;
    let margin = ladder.rules().margin;
    expected >= req.min_expected - margin && uncertainty <= req.max_uncertainty + margin
}

/// At instant `at`: a demotion if standing fell beyond the margin, then a promotion if every
/// requirement of the next level holds (the event at `index` completing them, if any).
// It borrows parts of `LadderState` separately (one of them mutably), which a `&mut self`
// method could not.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    trust: &TrustState,
    ladder: &Ladder,
    positions: &[Position],
    s: u32,
    position: &mut Position,
    at: Time,
    index: Option<u64>,
    steps: &mut Vec<Step>,
) -> Opinion {
    let levels = ladder.levels();
    let standing = trust.standing(s, at);
    let (expected, uncertainty) = (standing.expected(), standing.uncertainty);
    while position.level > 0 {
        if keeps(ladder, position.level, expected, uncertainty) {
            break;
        }
        let from = position.level;
        position.level -= 1;
        position.since = at;
        position.kept_toward_next = 0;
        position.kept_not_counted = 0;
        position.counterparties.clear();
        position.counterparty_credit = 0;
        position.tenure_credit = 0;
        steps.push(Step {
            at,
            from,
            to: position.level,
            cause: StepCause::FellBelow {
                index,
                expected,
                uncertainty,
            },
        });
    }
    if let Some(next) = levels.get(position.level + 1) {
        let req = &next.requires;
        let vouchers = if req.vouches > 0 {
            count_vouchers(trust, positions, s, req.vouchers_level)
        } else {
            0
        };
        if requirements_met(req, position, at, expected, uncertainty, vouchers) {
            promote(position, at, index, steps);
        }
    }
    standing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::{Level, Rules};
    use crate::model::params::DAY_MICROS;
    use std::collections::HashMap;

    /// SplitMix64, so that every run folds the same logs.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % n
        }
    }

    fn id(text: &str) -> Id {
        Id::parse("test", text).expect("valid id")
    }

    fn time(day: f64) -> Time {
        Time::from_micros(1_767_225_600_000_000 + (day * DAY_MICROS as f64) as i64).expect("time")
    }

    /// The default ladder, and one climbed in days rather than months (every requirement
    /// but the standing a tenth as long, half as many kept promises), so that random logs
    /// reach every level and fall from it.
    fn ladders() -> Vec<Ladder> {
        let quick_levels: Vec<Level> = Ladder::default()
            .levels()
            .iter()
            .map(|level| {
                let mut level = level.clone();
                let r = &mut level.requires;
                r.kept /= 2;
                r.min_tenure /= 10;
                r.clean_for /= 10;
                level
            })
            .collect();
        let rules = Rules {
            cooldown: 3 * DAY_MICROS,
            ..Rules::default()
        };
        let quick = Ladder::new(quick_levels, rules, HashMap::new()).expect("valid ladder");
        vec![Ladder::default(), quick]
    }

    /// A random event at `day` among `people` principals; `open` holds the promises with no
    /// outcome yet, `approved` the subject of an approval of the next promise, if any.
    fn event(
        rng: &mut Rng,
        day: f64,
        people: u64,
        open: &mut Vec<Id>,
        approved: &mut Option<Id>,
        n: usize,
    ) -> Event {
        let who = |rng: &mut Rng| id(&format!("p{}", rng.below(people)));
        let (author, body) = match rng.below(11) {
            0..3 => {
                let promisor = approved.take().unwrap_or_else(|| who(rng));
                let promise = id(&format!("promise{n}"));
                open.push(promise.clone());
                let stake = [1.0, 8.0, 60.0, 200.0, 600.0, 900.0][rng.below(6) as usize];
                let body = Body::Promise {
                    id: promise,
                    promisor: promisor.clone(),
                    promisee: who(rng),
                    scope: id("task"),
                    stake,
                    due: time(day + 0.5 + rng.below(12) as f64),
                };
                (promisor, body)
            }
            3..7 if !open.is_empty() => {
                // Mostly the oldest: some fall due first, most do not.
                let promise = open.remove(rng.below(open.len().min(3) as u64) as usize);
                let result = match rng.below(10) {
                    0..8 => OutcomeResult::Kept,
                    8 => OutcomeResult::Broken,
                    _ => OutcomeResult::Partial(0.5),
                };
                (who(rng), Body::Outcome { promise, result })
            }
            7 => {
                let (voucher, subject) = (who(rng), who(rng));
                let scope = None;
                let body = if rng.below(4) == 0 {
                    Body::Unvouch {
                        voucher: voucher.clone(),
                        subject,
                        scope,
                    }
                } else {
                    Body::Vouch {
                        voucher: voucher.clone(),
                        subject,
                        scope,
                        weight: 1.0,
                    }
                };
                (voucher, body)
            }
            10 => {
                // An approval of the promise the next event makes, if it makes one.
                let s = rng.below(people);
                let (subject, approver) =
                    (id(&format!("p{s}")), id(&format!("p{}", (s + 1) % people)));
                *approved = Some(subject.clone());
                let body = Body::Approval {
                    approver: approver.clone(),
                    subject,
                    promise: id(&format!("promise{}", n + 1)),
                    capability: id("act:low"),
                    stake: 50.0,
                    decision: None,
                };
                (approver, body)
            }
            8 if rng.below(3) == 0 => {
                let reporter = who(rng);
                let body = Body::Report {
                    reporter: reporter.clone(),
                    subject: who(rng),
                    scope: None,
                    severity: 0.5,
                    evidence: None,
                };
                (reporter, body)
            }
            _ => {
                let rater = who(rng);
                let value = (rng.below(21) as f64 - 4.0) / 16.0;
                let body = Body::Rating {
                    rater: rater.clone(),
                    subject: who(rng),
                    value,
                    scope: None,
                };
                (rater, body)
            }
        };
        Event {
            at: time(day),
            author: Some(author),
            body,
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        }
    }

    /// The decision's shortcut ([`LadderState::now`]) finds what a full re-evaluation finds,
    /// bit for bit, at every instant, and every principal's `Quick` matches its position and
    /// evidence after every event.
    #[test]
    fn the_quick_path_agrees_with_the_full_evaluation() {
        let (mut quick, mut full, mut highest, mut demoted) = (0, 0, 0, false);
        let mut charged = 0;
        for ladder in ladders() {
            for seed in 0..12 {
                let mut rng = Rng(seed);
                let mut state = LadderState::new(ModelParams::default(), ladder.clone());
                let (mut day, mut open, mut approved) = (0.0, Vec::new(), None);
                for n in 0..400 {
                    day += rng.below(100) as f64 / 150.0;
                    let event = event(&mut rng, day, 6, &mut open, &mut approved, n);
                    charged += usize::from(state.apply(n as u64, &event).approver.is_some());
                    for s in 0..state.trust.principals() as u32 {
                        let expected =
                            Quick::of(&state.trust, &state.ladder, s, &state.positions[s as usize]);
                        assert_eq!(state.quick[s as usize], expected, "seed {seed}, event {n}");
                    }
                    if n % 5 != 0 {
                        continue;
                    }
                    for s in 0..state.trust.principals() as u32 {
                        for later in [-1.0, 0.0, 0.3, 1.0, 4.0, 12.0, 45.0, 200.0] {
                            let at = time(day + later);
                            let now = state.now(Some(s), at);
                            let (position, standing) =
                                state.position_and_standing(Some(s), at, &mut Vec::new());
                            let context =
                                format!("seed {seed}, event {n}, p{s}, day {day}+{later}");
                            assert_eq!(now.level, position.level, "{context}");
                            assert_eq!(now.level_0_share, position.level_0_share, "{context}");
                            assert_eq!(now.losses_until, position.losses_until, "{context}");
                            assert_eq!(now.standing, standing, "{context}");
                            assert_eq!(*now.position, position, "{context}");
                            match now.position {
                                Cow::Borrowed(_) => {
                                    assert!(!now.open && !state.trust.has_open_promises(s));
                                    quick += 1;
                                }
                                Cow::Owned(_) => full += 1,
                            }
                        }
                    }
                }
                for timeline in &state.timelines {
                    for step in timeline {
                        highest = highest.max(step.to);
                        demoted |= step.to < step.from;
                    }
                }
            }
        }
        eprintln!(
            "quick {quick}, full {full}, highest {highest}, demoted {demoted}, approvers charged \
             {charged}"
        );
        assert!(charged > 20, "approvers charged: {charged}");
        assert!(quick > 1000 && full > 1000, "quick {quick}, full {full}");
        assert!(
            highest >= 2 && demoted,
            "highest level {highest}, demoted: {demoted}"
        );
    }
}
