//! Trust state: the log folded, event by event, into what trust queries need.
//!
//! `TrustState::apply` is the only way in, and it is deterministic: applying the same events in
//! the same order gives a bit-identical state, whether they arrive one at a time or by replay.
//! Evidence is stored already weighted and decays lazily: each sum keeps the instant it was last
//! brought up to date, so an update is O(1) and a query decays it to the instant asked for. A
//! verdict's weight (its author's credibility) is fixed when it is recorded, from the log before
//! it, so later events never rewrite earlier evidence. Queries take an explicit instant; nothing
//! here reads the clock or does I/O.

use super::approvals::{Approvals, Approved};
use super::arena::Arena;
use super::decay::{Decaying, scoped};
use super::interner::Interner;
use super::opinion::{Evidence, Opinion};
use super::params::ModelParams;
use super::rank::Ranking;
use super::reach::Reach;
use crate::HashMap;
use crate::evidence::{Body, Event, Id, OutcomeResult, Time};
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};
use thin_vec::ThinVec;

mod copies;

/// How many pieces of evidence of each kind stand behind a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Promises kept in full.
    pub kept: u32,
    /// Promises broken (recorded as broken).
    pub broken: u32,
    /// Promises kept in part.
    pub partial: u32,
    /// Promises past due with no outcome, counted as broken (as of the query's instant).
    pub overdue: u32,
    /// Positive ratings received.
    pub ratings_positive: u32,
    /// Negative ratings received.
    pub ratings_negative: u32,
    /// Reports received.
    pub reports: u32,
    /// Active vouches received (directly).
    pub vouches: u32,
}

impl Counts {
    pub(super) fn add(&mut self, other: &Counts) {
        self.kept += other.kept;
        self.broken += other.broken;
        self.partial += other.partial;
        self.overdue += other.overdue;
        self.ratings_positive += other.ratings_positive;
        self.ratings_negative += other.ratings_negative;
        self.reports += other.reports;
        self.vouches += other.vouches;
    }
}

/// One truster's evidence about one subject, as small as the common case allows: a pair that
/// only ever carried unscoped ratings (most pairs of a rating network) holds no more than this;
/// the rest waits in [`PairMore`], allocated on the pair's first promise outcome, report or
/// scoped verdict.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pair {
    pub(super) truster: u32,
    pub(super) subject: u32,
    /// Positive and negative ratings received through this pair.
    pub(super) ratings_positive: u32,
    pub(super) ratings_negative: u32,
    /// The pair's most recent citation in [`TrustState::cites`] (`NO_CITE`: none yet).
    pub(super) last_cite: u32,
    /// The sign of the truster's last verdict (rating or report) about the subject: 1
    /// positive, -1 negative, 0 none yet.
    pub(super) stance: i8,
    pub(super) evidence: Decaying,
    /// Weighted but undecayed sums: the local trust of network rank. While `more` is `None`
    /// every piece of the pair's evidence was a rating, so these are also its rating sums (the
    /// per-rater cap reads them).
    pub(super) raw_positive: f64,
    pub(super) raw_negative: f64,
    pub(super) more: Option<Box<PairMore>>,
}

/// What only some pairs need: scopes, promise outcomes and reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct PairMore {
    /// Per scope, for scoped queries (few scopes per pair: a short list).
    pub(super) scoped: ThinVec<(u32, Decaying)>,
    /// Undecayed positive and negative rating evidence so far, for the per-rater cap.
    pub(super) rated_positive: f64,
    pub(super) rated_negative: f64,
    /// Undecayed report evidence so far, for the per-reporter cap.
    pub(super) reported: f64,
    pub(super) kept: u32,
    pub(super) broken: u32,
    pub(super) partial: u32,
    pub(super) reports: u32,
}

/// No citation yet (a pair's `last_cite`, a citation's `prev`).
pub(super) const NO_CITE: u32 = u32::MAX;

/// Where a pair's new evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Source {
    Rating {
        negative: bool,
    },
    Report,
    Outcome(OutcomeResult),
    /// An approver's share of a broken promise it approved.
    Liability,
}

impl Pair {
    fn new(truster: u32, subject: u32) -> Self {
        Self {
            truster,
            subject,
            ratings_positive: 0,
            ratings_negative: 0,
            last_cite: NO_CITE,
            stance: 0,
            evidence: Decaying::default(),
            raw_positive: 0.0,
            raw_negative: 0.0,
            more: None,
        }
    }

    /// Undecayed rating evidence so far, positive or negative, for the per-rater cap.
    pub(super) fn rated(&self, negative: bool) -> f64 {
        match (&self.more, negative) {
            (Some(more), true) => more.rated_negative,
            (Some(more), false) => more.rated_positive,
            (None, true) => self.raw_negative,
            (None, false) => self.raw_positive,
        }
    }

    /// Undecayed report evidence so far, for the per-reporter cap.
    pub(super) fn reported(&self) -> f64 {
        self.more.as_ref().map_or(0.0, |m| m.reported)
    }

    /// Scoped evidence of the pair.
    pub(super) fn scoped(&self) -> &[(u32, Decaying)] {
        self.more.as_ref().map_or(&[], |m| &m.scoped)
    }

    /// What the pair has recorded, by kind.
    pub(super) fn counts(&self) -> Counts {
        let more = self.more.as_deref();
        Counts {
            kept: more.map_or(0, |m| m.kept),
            broken: more.map_or(0, |m| m.broken),
            partial: more.map_or(0, |m| m.partial),
            reports: more.map_or(0, |m| m.reports),
            ratings_positive: self.ratings_positive,
            ratings_negative: self.ratings_negative,
            ..Counts::default()
        }
    }

    /// The part kept for pairs beyond plain ratings, made on first use from what the pair
    /// holds so far (all of it ratings, so its rating sums are its raw sums).
    fn more(&mut self) -> &mut PairMore {
        let (positive, negative) = (self.raw_positive, self.raw_negative);
        self.more.get_or_insert_with(|| {
            Box::new(PairMore {
                rated_positive: positive,
                rated_negative: negative,
                ..PairMore::default()
            })
        })
    }
}

/// A promise with no outcome yet.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OpenPromise {
    pub(super) id: Id,
    pub(super) promisee: u32,
    pub(super) scope: u32,
    /// `λ · w(stake) · credibility of the promisee`: what it costs once overdue.
    pub(super) penalty: f64,
    pub(super) stake: f64,
    /// When it was made: an overdue promise counts as a betrayal of that age, so that a broken
    /// outcome (recorded no earlier) never weighs less than the presumption it replaces.
    pub(super) made: i64,
    pub(super) due: i64,
    pub(super) index: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Vouch {
    pub(super) voucher: u32,
    pub(super) scope: Option<u32>,
    pub(super) weight: f64,
    pub(super) index: u64,
}

/// Everything known about one principal as a subject, and as an author of verdicts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Principal {
    /// All weighted evidence about it, from every truster.
    pub(super) total: Decaying,
    /// Per scope.
    pub(super) scoped_total: ThinVec<(u32, Decaying)>,
    /// Its pairs (indexes into `TrustState::pairs`), in the order first seen: every walk over a
    /// principal's trusters has one fixed order, the log's.
    pub(super) from: ThinVec<u32>,
    pub(super) open: ThinVec<OpenPromise>,
    pub(super) vouched_by: ThinVec<Vouch>,
    /// Verdicts (ratings and reports) it gave, and how many were negative.
    pub(super) verdicts_given: u32,
    pub(super) negative_given: u32,
    /// The negative verdicts its peers' judgement predicted for those verdicts: for each, the
    /// share of the other raters of the same subject whose last verdict about it was
    /// negative, smoothed towards the community share (the yardstick of fairness, P8).
    pub(super) expected_negative_given: f64,
    /// As a subject: distinct raters who gave it a verdict, and those whose last one was
    /// negative.
    pub(super) raters: u32,
    pub(super) negative_raters: u32,
}

/// What a promise's outcome needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PromiseFacts {
    pub(super) promisor: u32,
    pub(super) promisee: u32,
    pub(super) scope: u32,
    /// `w(stake)` times the promisee's credibility when the promise was made.
    pub(super) weight: f64,
    pub(super) stake: f64,
    /// The promise's log index, cited with its outcome.
    pub(super) index: u64,
    /// Who approved it, when an approval let it through.
    pub(super) approval: Option<Approved>,
}

/// A trust figure with everything needed to defend it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustReport {
    /// The opinion: belief, disbelief, uncertainty, base rate; `expected()` is the figure.
    pub opinion: Opinion,
    /// The (weighted, decayed) evidence behind the opinion, vouches included.
    pub evidence: Evidence,
    /// The part of `evidence` that comes through vouch chains.
    pub vouched: Evidence,
    /// How many pieces of evidence of each kind were counted.
    pub counts: Counts,
    /// Network rank score of the subject (sums to 1 over all principals).
    pub rank: f64,
    /// Log indexes of the evidence, most recent last (at most [`MAX_CITED`]).
    pub indexes: Vec<u64>,
    /// How many indexes there were in all.
    pub indexes_total: usize,
    /// Those of `indexes` imported as history (dated by their data set, not within the log's
    /// time window).
    pub history: Vec<u64>,
    /// Log size the state had when this was computed.
    pub log_size: u64,
    /// Log size of the state the network rank (and so the base rate) was computed from: the
    /// rank is a view refreshed now and then, so it may be behind `log_size`.
    pub rank_log_size: u64,
    /// The policy entry the state was folded under (`None`: the log records none).
    pub policy_entry: Option<u64>,
}

/// A network rank as published: the scores, and the log size of the state they were computed
/// from.
#[derive(Debug, Clone)]
pub struct RankSnapshot {
    /// The scores.
    pub ranking: Arc<Ranking>,
    /// The log size they reflect.
    pub log_size: u64,
    /// The latest event time among the entries they reflect.
    pub latest: Option<Time>,
}

/// Most evidence indexes cited in one report.
pub const MAX_CITED: usize = 1000;

/// The trust state: the fold of the log.
#[derive(Debug)]
pub struct TrustState {
    pub(super) params: ModelParams,
    pub(super) principals: Interner,
    pub(super) scopes: Interner,
    pub(super) people: Vec<Principal>,
    /// Every truster–subject pair, in the order first seen (one arena rather than a tree per
    /// subject: a pair costs its own size, not a node's).
    pub(super) pairs: Arena<Pair>,
    /// Finds a pair by (truster, subject): a table of pair numbers, hashed by the pair's own
    /// truster and subject (4 bytes a slot rather than a 12-byte key and value).
    pub(super) pair_index: HashTable<u32>,
    pub(super) hasher: foldhash::quality::RandomState,
    /// Log indexes cited by pairs, each with the position of the same pair's previous citation
    /// (`NO_CITE` for its first): one list for all pairs rather than a vector in each.
    pub(super) cites: Arena<u64>,
    pub(super) cite_prev: Arena<u32>,
    /// Which principals the seeds reach, when seeds are named (without seeds every principal's
    /// word counts).
    pub(super) reach: Option<Reach>,
    pub(super) promises: HashMap<Id, PromiseFacts>,
    /// Approvals waiting for their promise, and every approver's record.
    pub(super) approvals: Approvals,
    pub(super) verdicts_given: u64,
    pub(super) negative_given: u64,
    pub(super) log_size: u64,
    /// The last policy entry folded in: its index and the SHA-256 it records.
    pub(super) policy: Option<(u64, String)>,
    /// The log index ranges (`start..end`) of entries imported as history.
    pub(super) history: Vec<(u64, u64)>,
    /// The latest event time folded in.
    pub(super) latest: Option<Time>,
    /// The network rank published by [`TrustState::publish_rank`]: kept as events are folded,
    /// until a newer one replaces it.
    pub(super) published: Option<RankSnapshot>,
    /// Without a published rank: the rank of this very state, computed on first use.
    pub(super) lazy_rank: OnceLock<Arc<Ranking>>,
}

impl TrustState {
    /// An empty state under `params` (checked by the caller: see [`ModelParams::check`]).
    pub fn new(params: ModelParams) -> Self {
        let reach = (!params.seeds.is_empty()).then(Reach::default);
        Self {
            reach,
            params,
            principals: Interner::default(),
            scopes: Interner::default(),
            people: Vec::new(),
            pairs: Arena::default(),
            pair_index: HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
            cites: Arena::default(),
            cite_prev: Arena::default(),
            promises: HashMap::default(),
            approvals: Approvals::default(),
            verdicts_given: 0,
            negative_given: 0,
            log_size: 0,
            policy: None,
            history: Vec::new(),
            latest: None,
            published: None,
            lazy_rank: OnceLock::new(),
        }
    }

    /// Records that the state reflects a log of `size` entries (some may have been left out
    /// by an `until` instant).
    pub fn set_log_size(&mut self, size: u64) {
        self.log_size = size;
    }

    /// The settings in force.
    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    /// Number of log entries folded in.
    pub fn log_size(&self) -> u64 {
        self.log_size
    }

    /// The last policy entry folded in (its index and the SHA-256 of the policy it records):
    /// the policy this state's answers are decided under. `None` for a log that records none.
    pub fn policy_entry(&self) -> Option<(u64, &str)> {
        self.policy.as_ref().map(|(i, sha)| (*i, sha.as_str()))
    }

    /// Number of principals seen.
    pub fn principals(&self) -> usize {
        self.people.len()
    }

    /// Number of truster–subject pairs with evidence between them.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// The id of principal number `index`.
    pub fn principal(&self, index: u32) -> Option<&Id> {
        self.principals.ids.get(index as usize)
    }

    /// The number of a principal, if it has been seen.
    pub fn principal_index(&self, id: &Id) -> Option<u32> {
        self.principals.get(id)
    }

    pub(super) fn person(&mut self, id: &Id) -> u32 {
        let i = self.principals.intern(id);
        if i as usize == self.people.len() {
            self.people.push(Principal::default());
            if let Some(reach) = &mut self.reach {
                reach.add_principal(self.params.seeds.contains(id));
            }
        }
        i
    }

    /// A principal's credibility as an author of verdicts at `at`: its expected trust from the
    /// direct evidence about it, under the average base rate (no rank, so no recursion). With
    /// seeds named, what a principal no seed reaches gives still counts in its own view, not in
    /// anyone else's ([`TrustState::record`]).
    pub(super) fn credibility(&self, who: u32, at: i64) -> f64 {
        let p = &self.params;
        let evidence = self.people[who as usize].total.value(at, p);
        Opinion::from_evidence(evidence, p.prior_weight, p.base_rate).expected()
    }

    /// The community's share of negative verdicts so far, smoothed: `(neg + 1)/(all + 2)`.
    pub(super) fn community_negative_share(&self) -> f64 {
        (self.negative_given as f64 + 1.0) / (self.verdicts_given as f64 + 2.0)
    }

    /// How much a principal's negative verdicts count: 1, or less for one who hands out
    /// negative verdicts more often than its peers judged the same subjects (a smoothed ratio;
    /// P8).
    pub(super) fn fairness(&self, who: u32) -> f64 {
        let m = self.params.vindictive_prior;
        let overall = self.community_negative_share();
        let person = &self.people[who as usize];
        let expected = person.expected_negative_given;
        ((expected + m * overall) / (person.negative_given as f64 + m * overall)).min(1.0)
    }

    /// Folds in the event at log `index`. Events must come in log order and be valid (the
    /// ledger checked them); references the state does not know are ignored, never a panic.
    pub fn apply(&mut self, index: u64, event: &Event) {
        self.log_size = self.log_size.max(index + 1);
        // A policy entry is no evidence: it moves neither time nor trust.
        if let Body::Policy { sha256 } = &event.body {
            self.policy = Some((index, sha256.clone()));
            return;
        }
        self.lazy_rank = OnceLock::new();
        self.latest = self.latest.max(Some(event.at));
        if event.stamp.is_some_and(|s| s.history) {
            match self.history.last_mut() {
                Some((_, end)) if *end == index => *end = index + 1,
                _ => self.history.push((index, index + 1)),
            }
        }
        let at = event.at.as_micros();
        match &event.body {
            Body::Promise {
                id,
                promisor,
                promisee,
                scope,
                stake,
                due,
            } => {
                let promisor = self.person(promisor);
                let promisee = self.person(promisee);
                let scope = self.scopes.intern(scope);
                let weight = self.params.stake_weight(*stake) * self.credibility(promisee, at);
                let approval = self.take_approval(id, promisor);
                crate::push_tight(
                    &mut self.people[promisor as usize].open,
                    OpenPromise {
                        id: id.clone(),
                        promisee,
                        scope,
                        penalty: self.params.betrayal_weight * weight,
                        stake: *stake,
                        made: at,
                        due: due.as_micros(),
                        index,
                    },
                );
                self.promises.insert(
                    id.clone(),
                    PromiseFacts {
                        promisor,
                        promisee,
                        scope,
                        weight,
                        stake: *stake,
                        index,
                        approval,
                    },
                );
            }
            Body::Outcome { promise, result } => {
                let Some(facts) = self.promises.remove(promise) else {
                    return;
                };
                let open = &mut self.people[facts.promisor as usize].open;
                if let Some(i) = open.iter().position(|o| &o.id == promise) {
                    open.remove(i);
                }
                let p = &self.params;
                let weight = facts.weight;
                let kept = match result {
                    OutcomeResult::Kept => 1.0,
                    OutcomeResult::Broken => 0.0,
                    OutcomeResult::Partial(f) => *f,
                };
                let positive = kept * weight;
                let negative = (1.0 - kept) * p.betrayal_weight * weight;
                if positive > 0.0
                    && let Some(reach) = &mut self.reach
                {
                    reach.positive(facts.promisee, facts.promisor);
                }
                let reached = self.reached(facts.promisee);
                let id = self.pair_id(facts.promisee, facts.promisor);
                self.record(
                    id,
                    Source::Outcome(*result),
                    Some(facts.scope),
                    at,
                    Evidence { positive, negative },
                    &[facts.index, index],
                );
                self.settle_approval(&facts, *result, at, index, reached);
            }
            Body::Approval {
                approver,
                subject,
                promise,
                ..
            } => self.approve(approver, subject, promise, index),
            Body::Rating {
                rater,
                subject,
                value,
                scope,
            } => {
                let rater = self.person(rater);
                let subject = self.person(subject);
                let scope = scope.as_ref().map(|s| self.scopes.intern(s));
                let credibility = self.credibility(rater, at);
                let negative = *value < 0.0;
                let weight = if negative {
                    -value * credibility * self.fairness(rater)
                } else {
                    value * credibility
                };
                // One rater is one voice: repeating a rating adds nothing beyond the cap. The
                // pair is looked up once for the cap, the stance and the evidence.
                let cap = self.params.rating_cap;
                let id = self.pair_id(rater, subject);
                let pair = &mut self.pairs[id as usize];
                let weight = weight.min((cap - pair.rated(negative)).max(0.0));
                let evidence = if negative {
                    Evidence {
                        positive: 0.0,
                        negative: weight,
                    }
                } else {
                    Evidence {
                        positive: weight,
                        negative: 0.0,
                    }
                };
                self.count_verdict(id, subject, negative);
                if *value > 0.0
                    && let Some(reach) = &mut self.reach
                {
                    reach.positive(rater, subject);
                }
                let source = Source::Rating { negative };
                self.record(id, source, scope, at, evidence, &[index]);
            }
            Body::Report {
                reporter,
                subject,
                scope,
                severity,
                ..
            } => {
                let reporter = self.person(reporter);
                let subject = self.person(subject);
                let scope = scope.as_ref().map(|s| self.scopes.intern(s));
                let weight = severity
                    * self.params.report_weight
                    * self.credibility(reporter, at)
                    * self.fairness(reporter);
                let id = self.pair_id(reporter, subject);
                self.count_verdict(id, subject, true);
                let so_far = self.pairs[id as usize].reported();
                let weight = weight.min((self.params.report_cap - so_far).max(0.0));
                let evidence = Evidence {
                    positive: 0.0,
                    negative: weight,
                };
                self.record(id, Source::Report, scope, at, evidence, &[index]);
            }
            Body::Vouch {
                voucher,
                subject,
                scope,
                weight,
            } => {
                let voucher = self.person(voucher);
                let subject = self.person(subject);
                let scope = scope.as_ref().map(|s| self.scopes.intern(s));
                let vouches = &mut self.people[subject as usize].vouched_by;
                vouches.retain(|v| !(v.voucher == voucher && v.scope == scope));
                crate::push_tight(
                    vouches,
                    Vouch {
                        voucher,
                        scope,
                        weight: *weight,
                        index,
                    },
                );
                if *weight > 0.0
                    && let Some(reach) = &mut self.reach
                {
                    reach.positive(voucher, subject);
                }
            }
            Body::Unvouch {
                voucher,
                subject,
                scope,
            } => {
                let (Some(voucher), Some(subject)) =
                    (self.principals.get(voucher), self.principals.get(subject))
                else {
                    return;
                };
                let scope = scope.as_ref().and_then(|s| self.scopes.get(s));
                self.people[subject as usize]
                    .vouched_by
                    .retain(|v| !(v.voucher == voucher && v.scope == scope));
            }
            Body::Key { principal, .. } => {
                self.person(principal);
            }
            // Forgetting a principal erases names and text beside the log, never evidence: what
            // it said and what was said of it keep counting exactly as before.
            Body::Erasure { .. } | Body::Policy { .. } => {}
        }
    }

    /// Counts a verdict of pair `pair` (its truster the author) about `subject`: not at all
    /// when seeds are named and none reaches the author, whose verdicts then weigh nothing and
    /// do not move the yardstick of fairness either.
    pub(super) fn count_verdict(&mut self, pair: u32, subject: u32, negative: bool) {
        if self
            .reach
            .as_ref()
            .is_some_and(|r| !r.reached(self.pairs[pair as usize].truster))
        {
            return;
        }
        // What the other raters of this subject said, smoothed towards the community's share
        // with the prior weight of an opinion.
        let overall = self.community_negative_share();
        let w = self.params.prior_weight;
        let pair = pair as usize;
        let author = self.pairs[pair].truster;
        let stance = self.pairs[pair].stance;
        let judged = &mut self.people[subject as usize];
        let others = f64::from(judged.raters - u32::from(stance != 0));
        let others_negative = f64::from(judged.negative_raters - u32::from(stance < 0));
        let peers = (others_negative + w * overall) / (others + w);
        judged.raters += u32::from(stance == 0);
        match (stance < 0, negative) {
            (false, true) => judged.negative_raters += 1,
            (true, false) => judged.negative_raters -= 1,
            _ => {}
        }
        self.pairs[pair].stance = if negative { -1 } else { 1 };
        let person = &mut self.people[author as usize];
        person.expected_negative_given += peers;
        person.verdicts_given += 1;
        self.verdicts_given += 1;
        if negative {
            person.negative_given += 1;
            self.negative_given += 1;
        }
    }

    /// The pair (truster, subject), if the truster has recorded anything about the subject.
    pub(super) fn pair(&self, truster: u32, subject: u32) -> Option<&Pair> {
        let id = self.find_pair(self.hasher.hash_one((truster, subject)), truster, subject)?;
        self.pairs.get(id as usize)
    }

    /// The number of the pair (truster, subject) whose hash is `hash`, if there is one.
    fn find_pair(&self, hash: u64, truster: u32, subject: u32) -> Option<u32> {
        let pairs = &self.pairs;
        let found = self.pair_index.find(hash, |&i| {
            let pair = &pairs[i as usize];
            (pair.truster, pair.subject) == (truster, subject)
        });
        found.copied()
    }

    /// The number of the pair (truster, subject), created empty on first use.
    pub(super) fn pair_id(&mut self, truster: u32, subject: u32) -> u32 {
        let hash = self.hasher.hash_one((truster, subject));
        if let Some(id) = self.find_pair(hash, truster, subject) {
            return id;
        }
        let id = self.pairs.len() as u32;
        self.pairs.push(Pair::new(truster, subject));
        let (pairs, hasher) = (&self.pairs, &self.hasher);
        self.pair_index.insert_unique(hash, id, |&i| {
            let pair = &pairs[i as usize];
            hasher.hash_one((pair.truster, pair.subject))
        });
        crate::push_tight(&mut self.people[subject as usize].from, id);
        id
    }

    /// Adds weighted evidence of pair `id` (from its truster) about its subject, citing the
    /// log entries it comes from.
    pub(super) fn record(
        &mut self,
        id: u32,
        source: Source,
        scope: Option<u32>,
        at: i64,
        evidence: Evidence,
        indexes: &[u64],
    ) {
        let p = &self.params;
        let pair = &mut self.pairs[id as usize];
        // With seeds named, the word of an author no seed reaches counts in its own view (the
        // pair), where it is a seed too (P10), and nowhere else: not in everyone's view (the
        // totals), nor in the network rank (`rank_job`).
        let for_everyone = self.reach.as_ref().is_none_or(|r| r.reached(pair.truster));
        let person = &mut self.people[pair.subject as usize];
        let Evidence { positive, negative } = evidence;
        if for_everyone {
            person.total.add(at, positive, negative, p);
        }
        pair.evidence.add(at, positive, negative, p);
        match source {
            Source::Rating { negative: true } => pair.ratings_negative += 1,
            Source::Rating { negative: false } => pair.ratings_positive += 1,
            _ => {}
        }
        if scope.is_some() || !matches!(source, Source::Rating { .. }) {
            // Made from the raw sums before this evidence joins them.
            let more = pair.more();
            match source {
                Source::Rating { .. } => {
                    more.rated_positive += positive;
                    more.rated_negative += negative;
                }
                Source::Report => {
                    more.reported += negative;
                    more.reports += 1;
                }
                Source::Outcome(OutcomeResult::Kept) => more.kept += 1,
                Source::Outcome(OutcomeResult::Broken) => more.broken += 1,
                Source::Outcome(OutcomeResult::Partial(_)) => more.partial += 1,
                Source::Liability => {}
            }
            if let Some(scope) = scope {
                scoped(&mut more.scoped, scope).add(at, positive, negative, p);
                if for_everyone {
                    scoped(&mut person.scoped_total, scope).add(at, positive, negative, p);
                }
            }
        } else if let Some(more) = &mut pair.more {
            // A plain rating of a pair that already keeps its rating sums apart.
            more.rated_positive += positive;
            more.rated_negative += negative;
        }
        pair.raw_positive += positive;
        pair.raw_negative += negative;
        for &index in indexes {
            // Positions are u32: past 4,294,967,294 citations (34 GB of them) further evidence
            // still counts but is no longer cited.
            let next = u32::try_from(self.cites.len()).unwrap_or(NO_CITE);
            if next == NO_CITE {
                break;
            }
            self.cites.push(index);
            self.cite_prev.push(pair.last_cite);
            pair.last_cite = next;
        }
    }
}
