//! Trust state: the log folded, event by event, into what trust queries need.
//!
//! `TrustState::apply` is the only way in, and it is deterministic: applying the same events in
//! the same order gives a bit-identical state, whether they arrive one at a time or by replay.
//! Evidence is stored already weighted and decays lazily: each sum keeps the instant it was last
//! brought up to date, so an update is O(1) and a query decays it to the instant asked for. A
//! verdict's weight (its author's credibility) is fixed when it is recorded, from the log before
//! it, so later events never rewrite earlier evidence. Queries take an explicit instant; nothing
//! here reads the clock or does I/O.

use super::opinion::{Evidence, Opinion};
use super::params::ModelParams;
use super::rank::{Ranking, TrustGraph, eigentrust};
use crate::evidence::{Body, Event, Id, OutcomeResult, Time};
use crate::ledger::decode_entry;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Positive and negative evidence that decay with their own half-lives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Decaying {
    positive: f64,
    negative: f64,
    /// The instant both sums are expressed at (microseconds since the epoch).
    at: i64,
}

fn decay(elapsed: i64, half_life: i64) -> f64 {
    if elapsed <= 0 {
        1.0
    } else {
        (-(elapsed as f64) / half_life as f64).exp2()
    }
}

impl Decaying {
    /// Adds evidence observed at `at`. Sums of exponentially decaying terms do not depend on
    /// the order they are added in, so out-of-order instants are folded in exactly.
    fn add(&mut self, at: i64, positive: f64, negative: f64, p: &ModelParams) {
        if self.positive == 0.0 && self.negative == 0.0 {
            self.at = self.at.max(at);
        }
        if at > self.at {
            self.positive *= decay(at - self.at, p.half_life_positive);
            self.negative *= decay(at - self.at, p.half_life_negative);
            self.at = at;
        }
        self.positive += positive * decay(self.at - at, p.half_life_positive);
        self.negative += negative * decay(self.at - at, p.half_life_negative);
    }

    /// The evidence as of `at`. An instant before the last update does not un-see later
    /// evidence: past instants are answered by a state folded up to them.
    fn value(&self, at: i64, p: &ModelParams) -> Evidence {
        Evidence {
            positive: self.positive * decay(at - self.at, p.half_life_positive),
            negative: self.negative * decay(at - self.at, p.half_life_negative),
        }
    }
}

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
    fn add(&mut self, other: &Counts) {
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

/// One truster's evidence about one subject.
#[derive(Debug, Clone, Default, PartialEq)]
struct Pair {
    truster: u32,
    evidence: Decaying,
    /// Per scope, for scoped queries (few scopes per pair: a short list).
    scoped: Vec<(u32, Decaying)>,
    /// Weighted but undecayed sums: the local trust of network rank.
    raw_positive: f64,
    raw_negative: f64,
    /// Undecayed report evidence so far, for the per-reporter cap.
    reported: f64,
    /// The sign of the truster's last verdict (rating or report) about the subject: 1
    /// positive, -1 negative, 0 none yet.
    stance: i8,
    /// Undecayed positive and negative rating evidence so far, for the per-rater cap.
    rated_positive: f64,
    rated_negative: f64,
    counts: Counts,
    indexes: Vec<u64>,
}

/// A promise with no outcome yet.
#[derive(Debug, Clone, PartialEq)]
struct OpenPromise {
    id: Id,
    promisee: u32,
    scope: u32,
    /// `λ · w(stake) · credibility of the promisee`: what it costs once overdue.
    penalty: f64,
    stake: f64,
    /// When it was made: an overdue promise counts as a betrayal of that age, so that a broken
    /// outcome (recorded no earlier) never weighs less than the presumption it replaces.
    made: i64,
    due: i64,
    index: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Vouch {
    voucher: u32,
    scope: Option<u32>,
    weight: f64,
    index: u64,
}

/// Everything known about one principal as a subject, and as an author of verdicts.
#[derive(Debug, Clone, Default, PartialEq)]
struct Principal {
    /// All weighted evidence about it, from every truster.
    total: Decaying,
    /// Per scope.
    scoped_total: Vec<(u32, Decaying)>,
    /// Its pairs (indexes into `TrustState::pairs`), in the order first seen: every walk over a
    /// principal's trusters has one fixed order, the log's.
    from: Vec<u32>,
    open: Vec<OpenPromise>,
    vouched_by: Vec<Vouch>,
    /// Verdicts (ratings and reports) it gave, and how many were negative.
    verdicts_given: u32,
    negative_given: u32,
    /// The negative verdicts its peers' judgement predicted for those verdicts: for each, the
    /// share of the other raters of the same subject whose last verdict about it was
    /// negative, smoothed towards the community share (the yardstick of fairness, P8).
    expected_negative_given: f64,
    /// As a subject: distinct raters who gave it a verdict, and those whose last one was
    /// negative.
    raters: u32,
    negative_raters: u32,
}

/// An id as the interner's key, its bytes inline when it is short (most are): the table then
/// holds the bytes a look-up compares, so finding a principal touches the table's slot and not
/// also the id's own allocation — on a state larger than the caches, one memory access fewer
/// on every decision. It hashes and compares as its bytes, so a look-up borrows the id's bytes
/// and builds no key.
#[derive(Debug, Clone)]
enum Key {
    /// Up to [`INLINE_KEY`] bytes, zero-padded, and the length.
    Inline([u8; INLINE_KEY], u8),
    /// A longer id.
    Heap(Box<str>),
}

/// The longest id kept inline: 22 bytes, so that a key takes 24.
const INLINE_KEY: usize = 22;

impl Key {
    fn of(id: &Id) -> Self {
        let text = id.as_str().as_bytes();
        if text.len() <= INLINE_KEY {
            let mut bytes = [0; INLINE_KEY];
            bytes[..text.len()].copy_from_slice(text);
            Key::Inline(bytes, text.len() as u8)
        } else {
            Key::Heap(id.as_str().into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(bytes, len) => &bytes[..usize::from(*len)],
            Key::Heap(text) => text.as_bytes(),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

/// Maps identifiers to dense indexes. Every decision starts with this look-up, so it uses
/// foldhash (randomly seeded per map, like std's SipHash, but several times faster on short
/// keys) rather than the default hasher, and keeps short ids inline in the table ([`Key`]).
#[derive(Debug, Clone, Default)]
struct Interner {
    index: HashMap<Key, u32, foldhash::quality::RandomState>,
    ids: Vec<Id>,
}

/// Equal when they map the same ids to the same indexes (the hasher's seed is not state).
impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl Interner {
    fn get(&self, id: &Id) -> Option<u32> {
        self.index.get(id.as_str().as_bytes()).copied()
    }

    fn intern(&mut self, id: &Id) -> u32 {
        if let Some(i) = self.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.clone());
        self.index.insert(Key::of(id), i);
        i
    }
}

/// What a promise's outcome needs to know about it.
#[derive(Debug, Clone, PartialEq)]
struct PromiseFacts {
    promisor: u32,
    promisee: u32,
    scope: u32,
    /// `w(stake)` times the promisee's credibility when the promise was made.
    weight: f64,
    stake: f64,
    /// The promise's log index, cited with its outcome.
    index: u64,
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
}

/// Most evidence indexes cited in one report.
pub const MAX_CITED: usize = 1000;

/// The trust state: the fold of the log.
#[derive(Debug)]
pub struct TrustState {
    params: ModelParams,
    principals: Interner,
    scopes: Interner,
    people: Vec<Principal>,
    /// Every truster–subject pair, in the order first seen (one arena rather than a tree per
    /// subject: a pair costs its own size, not a node's).
    pairs: Vec<Pair>,
    /// Finds a pair by (truster, subject).
    pair_index: HashMap<(u32, u32), u32, foldhash::quality::RandomState>,
    promises: HashMap<Id, PromiseFacts>,
    verdicts_given: u64,
    negative_given: u64,
    log_size: u64,
    /// The log index ranges (`start..end`) of entries imported as history.
    history: Vec<(u64, u64)>,
    /// The latest event time folded in.
    latest: Option<Time>,
    rank: OnceLock<Arc<Ranking>>,
}

impl Clone for TrustState {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            principals: self.principals.clone(),
            scopes: self.scopes.clone(),
            people: self.people.clone(),
            pairs: self.pairs.clone(),
            pair_index: self.pair_index.clone(),
            promises: self.promises.clone(),
            verdicts_given: self.verdicts_given,
            negative_given: self.negative_given,
            log_size: self.log_size,
            history: self.history.clone(),
            latest: self.latest,
            rank: OnceLock::new(),
        }
    }
}

/// Two states are equal when they hold the same evidence (the rank cache is not state).
impl PartialEq for TrustState {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.principals == other.principals
            && self.scopes == other.scopes
            && self.people == other.people
            && self.pairs == other.pairs
            && self.promises == other.promises
            && self.verdicts_given == other.verdicts_given
            && self.negative_given == other.negative_given
            && self.log_size == other.log_size
            && self.history == other.history
            && self.latest == other.latest
    }
}

impl TrustState {
    /// An empty state under `params` (checked by the caller: see [`ModelParams::check`]).
    pub fn new(params: ModelParams) -> Self {
        Self {
            params,
            principals: Interner::default(),
            scopes: Interner::default(),
            people: Vec::new(),
            pairs: Vec::new(),
            pair_index: HashMap::default(),
            promises: HashMap::new(),
            verdicts_given: 0,
            negative_given: 0,
            log_size: 0,
            history: Vec::new(),
            latest: None,
            rank: OnceLock::new(),
        }
    }

    /// Folds a stored log into a new state: the entries `prefix` selects (all, by default).
    /// `progress` hears the number of entries read now and then.
    pub fn replay<S: Store + ?Sized>(
        store: &S,
        params: ModelParams,
        prefix: Prefix,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Self, StoreError> {
        let mut state = Self::new(params);
        let size = fold_log(store, prefix, progress, &mut |index, event| {
            state.apply(index, event)
        })?;
        state.log_size = size;
        Ok(state)
    }

    /// The instant an answer "now" is for: `now`, or the latest event time folded in when an
    /// event is dated ahead of `now` (the log accepts `at` up to its `max_ahead` past the clock).
    /// So every answer is the fold of its log size up to the instant it reports, and replaying
    /// that pair gives it again.
    pub fn instant_for(&self, now: Time) -> Time {
        self.latest.map_or(now, |latest| latest.max(now))
    }

    /// The latest event time folded in.
    pub fn latest_event(&self) -> Option<Time> {
        self.latest
    }

    /// Whether the entry at `index` was imported as history (dated by its data set, not within
    /// the log's time window).
    pub fn is_history(&self, index: u64) -> bool {
        let i = self.history.partition_point(|&(_, end)| end <= index);
        self.history
            .get(i)
            .is_some_and(|&(start, _)| start <= index)
    }

    /// Those of `indexes` that were imported as history.
    pub fn history_among(&self, indexes: &[u64]) -> Vec<u64> {
        if self.history.is_empty() {
            return Vec::new();
        }
        indexes
            .iter()
            .copied()
            .filter(|&i| self.is_history(i))
            .collect()
    }

    /// Records that the state reflects a log of `size` entries (some may have been left out
    /// by an `until` instant).
    pub(crate) fn set_log_size(&mut self, size: u64) {
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

    /// Number of principals seen.
    pub fn principals(&self) -> usize {
        self.people.len()
    }

    /// The id of principal number `index`.
    pub fn principal(&self, index: u32) -> Option<&Id> {
        self.principals.ids.get(index as usize)
    }

    /// The number of a principal, if it has been seen.
    pub fn principal_index(&self, id: &Id) -> Option<u32> {
        self.principals.get(id)
    }

    /// A principal's standing for the ladder: the opinion formed from all direct evidence about
    /// it (overdue promises included) under the average base rate. It leaves out network rank
    /// and vouches, which depend on everyone else, so that levels fold one principal at a time.
    pub fn standing(&self, subject: u32, at: Time) -> Opinion {
        let p = &self.params;
        let evidence = self.direct(subject, None, None, at.as_micros());
        Opinion::from_evidence(evidence, p.prior_weight, p.base_rate)
    }

    /// The promisor, stake and log index of a promise that has no outcome yet.
    pub fn open_promise(&self, id: &Id) -> Option<(u32, f64, u64)> {
        self.promises
            .get(id)
            .map(|f| (f.promisor, f.stake, f.index))
    }

    /// A principal's promises with no outcome: (due, stake, log index), in the order made.
    pub fn open_promises(&self, subject: u32) -> impl Iterator<Item = (Time, f64, u64)> + '_ {
        self.people[subject as usize]
            .open
            .iter()
            .filter_map(|o| Time::from_micros(o.due).map(|due| (due, o.stake, o.index)))
    }

    /// What `subject` has at stake at `at`: the stakes of its promises with no outcome that are
    /// not yet due (one past due already counts as broken).
    pub fn exposure(&self, subject: u32, at: Time) -> f64 {
        let at = at.as_micros();
        self.people[subject as usize]
            .open
            .iter()
            .filter(|o| o.due > at)
            // From +0: `Sum` for floats starts at −0, which would print as `-0.0`.
            .fold(0.0, |sum, o| sum + o.stake)
    }

    /// The principals with an active vouch for `subject` (any scope).
    pub fn vouchers(&self, subject: u32) -> impl Iterator<Item = u32> + '_ {
        self.people[subject as usize]
            .vouched_by
            .iter()
            .map(|v| v.voucher)
    }

    /// Verdicts (ratings and reports) a principal has given so far, and how many were negative.
    pub fn verdicts_given(&self, who: u32) -> (u32, u32) {
        let person = &self.people[who as usize];
        (person.verdicts_given, person.negative_given)
    }

    /// What one truster has recorded about one subject so far, by kind.
    pub fn pair_counts(&self, truster: u32, subject: u32) -> Counts {
        self.pair(truster, subject)
            .map_or_else(Counts::default, |pair| pair.counts)
    }

    /// The log indexes of the most recent `limit` pieces of evidence about `subject`.
    pub fn cited(&self, subject: u32, limit: usize) -> Vec<u64> {
        let person = &self.people[subject as usize];
        let mut indexes: Vec<u64> = person
            .from
            .iter()
            .map(|i| &self.pairs[*i as usize])
            .flat_map(|pair| pair.indexes.iter().rev().take(limit).copied())
            .chain(person.vouched_by.iter().map(|v| v.index))
            .chain(person.open.iter().map(|o| o.index))
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let skip = indexes.len().saturating_sub(limit);
        indexes.split_off(skip)
    }

    fn person(&mut self, id: &Id) -> u32 {
        let i = self.principals.intern(id);
        if i as usize == self.people.len() {
            self.people.push(Principal::default());
        }
        i
    }

    /// A principal's credibility as an author of verdicts at `at`: its expected trust from the
    /// direct evidence about it, under the average base rate (no rank, so no recursion).
    fn credibility(&self, who: u32, at: i64) -> f64 {
        let p = &self.params;
        let evidence = self.people[who as usize].total.value(at, p);
        Opinion::from_evidence(evidence, p.prior_weight, p.base_rate).expected()
    }

    /// The community's share of negative verdicts so far, smoothed: `(neg + 1)/(all + 2)`.
    fn community_negative_share(&self) -> f64 {
        (self.negative_given as f64 + 1.0) / (self.verdicts_given as f64 + 2.0)
    }

    /// How much a principal's negative verdicts count: 1, or less for one who hands out
    /// negative verdicts more often than its peers judged the same subjects (a smoothed ratio;
    /// P8).
    fn fairness(&self, who: u32) -> f64 {
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
        self.rank = OnceLock::new();
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
                self.people[promisor as usize].open.push(OpenPromise {
                    id: id.clone(),
                    promisee,
                    scope,
                    penalty: self.params.betrayal_weight * weight,
                    stake: *stake,
                    made: at,
                    due: due.as_micros(),
                    index,
                });
                self.promises.insert(
                    id.clone(),
                    PromiseFacts {
                        promisor,
                        promisee,
                        scope,
                        weight,
                        stake: *stake,
                        index,
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
                let mut counts = Counts::default();
                match result {
                    OutcomeResult::Kept => counts.kept = 1,
                    OutcomeResult::Broken => counts.broken = 1,
                    OutcomeResult::Partial(_) => counts.partial = 1,
                }
                let id = self.pair_id(facts.promisee, facts.promisor);
                self.record(
                    id,
                    facts.promisor,
                    Some(facts.scope),
                    at,
                    Evidence { positive, negative },
                    counts,
                    &[facts.index, index],
                );
            }
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
                let so_far = if negative {
                    pair.rated_negative
                } else {
                    pair.rated_positive
                };
                let weight = weight.min((cap - so_far).max(0.0));
                let evidence = if negative {
                    pair.rated_negative += weight;
                    Evidence {
                        positive: 0.0,
                        negative: weight,
                    }
                } else {
                    pair.rated_positive += weight;
                    Evidence {
                        positive: weight,
                        negative: 0.0,
                    }
                };
                self.count_verdict(id, subject, negative);
                let counts = Counts {
                    ratings_positive: u32::from(!negative),
                    ratings_negative: u32::from(negative),
                    ..Counts::default()
                };
                self.record(id, subject, scope, at, evidence, counts, &[index]);
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
                let pair = &mut self.pairs[id as usize];
                let weight = weight.min((self.params.report_cap - pair.reported).max(0.0));
                pair.reported += weight;
                let counts = Counts {
                    reports: 1,
                    ..Counts::default()
                };
                let evidence = Evidence {
                    positive: 0.0,
                    negative: weight,
                };
                self.record(id, subject, scope, at, evidence, counts, &[index]);
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
                vouches.push(Vouch {
                    voucher,
                    scope,
                    weight: *weight,
                    index,
                });
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
        }
    }

    /// Counts a verdict of pair `pair` (its truster the author) about `subject`.
    fn count_verdict(&mut self, pair: u32, subject: u32, negative: bool) {
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
    fn pair(&self, truster: u32, subject: u32) -> Option<&Pair> {
        let id = self.pair_index.get(&(truster, subject))?;
        self.pairs.get(*id as usize)
    }

    /// The number of the pair (truster, subject), created empty on first use.
    fn pair_id(&mut self, truster: u32, subject: u32) -> u32 {
        if let Some(id) = self.pair_index.get(&(truster, subject)) {
            return *id;
        }
        let id = self.pairs.len() as u32;
        self.pairs.push(Pair {
            truster,
            ..Pair::default()
        });
        self.pair_index.insert((truster, subject), id);
        self.people[subject as usize].from.push(id);
        id
    }

    /// Adds weighted evidence of pair `id` (from its truster) about `subject`, citing the log
    /// entries it comes from.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        id: u32,
        subject: u32,
        scope: Option<u32>,
        at: i64,
        evidence: Evidence,
        counts: Counts,
        indexes: &[u64],
    ) {
        let p = &self.params;
        let person = &mut self.people[subject as usize];
        person
            .total
            .add(at, evidence.positive, evidence.negative, p);
        let pair = &mut self.pairs[id as usize];
        pair.evidence
            .add(at, evidence.positive, evidence.negative, p);
        pair.raw_positive += evidence.positive;
        pair.raw_negative += evidence.negative;
        pair.counts.add(&counts);
        pair.indexes.extend_from_slice(indexes);
        if let Some(scope) = scope {
            scoped(&mut pair.scoped, scope).add(at, evidence.positive, evidence.negative, p);
            scoped(&mut person.scoped_total, scope).add(
                at,
                evidence.positive,
                evidence.negative,
                p,
            );
        }
    }

    /// Network rank over the local trust of every pair (the positive part of its undecayed
    /// net evidence), computed once per log size.
    pub fn ranking(&self) -> Arc<Ranking> {
        self.rank
            .get_or_init(|| {
                let edges = self
                    .people
                    .iter()
                    .enumerate()
                    .flat_map(|(subject, person)| {
                        person.from.iter().filter_map(move |i| {
                            let pair = &self.pairs[*i as usize];
                            let net = pair.raw_positive - pair.raw_negative;
                            (net > 0.0).then_some((pair.truster, subject as u32, net))
                        })
                    });
                let seeds: Vec<u32> = self
                    .params
                    .seeds
                    .iter()
                    .filter_map(|s| self.principals.get(s))
                    .collect();
                let ranking = TrustGraph::from_edges(self.people.len(), edges)
                    .and_then(|graph| eigentrust(&graph, &seeds, &self.params.rank));
                Arc::new(ranking.unwrap_or_else(|_| Ranking {
                    scores: Vec::new(),
                    iterations: 0,
                    delta: 0.0,
                    converged: true,
                }))
            })
            .clone()
    }

    /// The rank score of `subject`, or what a principal nobody trusts would get.
    fn rank_of(&self, subject: Option<u32>, ranking: &Ranking) -> f64 {
        if let Some(score) = subject.and_then(|s| ranking.scores.get(s as usize)) {
            return *score;
        }
        let seeded = self
            .params
            .seeds
            .iter()
            .any(|s| self.principals.get(s).is_some());
        if seeded {
            0.0
        } else {
            self.params.rank.alpha / (self.people.len() + 1) as f64
        }
    }

    /// The base rate of `subject`: from the newcomer rate up to the average rate as its
    /// network rank reaches the average (1/N).
    fn base_rate(&self, rank: f64) -> f64 {
        let p = &self.params;
        let relative = rank * self.people.len().max(1) as f64;
        p.newcomer_base_rate + (p.base_rate - p.newcomer_base_rate) * relative.min(1.0)
    }

    /// How much `subject` can be trusted at `at`: by everyone (`truster` `None`) or by one
    /// truster, in one scope or all. Returns the opinion and everything behind it.
    pub fn trust(
        &self,
        subject: &Id,
        truster: Option<&Id>,
        scope: Option<&Id>,
        at: Time,
    ) -> TrustReport {
        self.trust_ranked(subject, truster, scope, at, &self.ranking())
    }

    /// As [`TrustState::trust`], with base rates from a network rank computed earlier (for
    /// example refreshed at intervals while replaying a long history, where recomputing it
    /// after every event would dominate). Principals the ranking does not know are treated as
    /// principals nobody trusts yet.
    pub fn trust_ranked(
        &self,
        subject: &Id,
        truster: Option<&Id>,
        scope: Option<&Id>,
        at: Time,
        ranking: &Ranking,
    ) -> TrustReport {
        let at = at.as_micros();
        let p = &self.params;
        let s = self.principals.get(subject);
        let t = truster.and_then(|t| self.principals.get(t));
        let scope = scope.map(|id| self.scopes.get(id));
        let rank = self.rank_of(s, ranking);
        let base_rate = self.base_rate(rank);
        let mut report = TrustReport {
            opinion: Opinion::from_evidence(Evidence::default(), p.prior_weight, base_rate),
            evidence: Evidence::default(),
            vouched: Evidence::default(),
            counts: Counts::default(),
            rank,
            indexes: Vec::new(),
            indexes_total: 0,
            history: Vec::new(),
            log_size: self.log_size,
        };
        let Some(s) = s else {
            return report;
        };
        // A truster named but never seen has no evidence of its own.
        if truster.is_some() && t.is_none() {
            return report;
        }
        // A scope never seen has no evidence.
        if scope == Some(None) {
            return report;
        }
        let scope = scope.flatten();
        let person = &self.people[s as usize];
        let mut indexes = Vec::new();
        let mut evidence = self.direct(s, t, scope, at);
        for pair in person.from.iter().map(|i| &self.pairs[*i as usize]) {
            if t.is_none_or(|t| t == pair.truster) {
                report.counts.add(&pair.counts);
                indexes.extend_from_slice(&pair.indexes);
            }
        }
        let vouched = self.vouched(s, t, scope, at, p.vouch_depth, &mut vec![s]);
        for v in &person.vouched_by {
            if scope_matches(v.scope, scope) {
                report.counts.vouches += 1;
                indexes.push(v.index);
            }
        }
        for o in &person.open {
            if o.due <= at
                && t.is_none_or(|t| t == o.promisee)
                && scope.is_none_or(|s| s == o.scope)
            {
                report.counts.overdue += 1;
                indexes.push(o.index);
            }
        }
        evidence = evidence.plus(vouched);
        indexes.sort_unstable();
        report.indexes_total = indexes.len();
        let skip = indexes.len().saturating_sub(MAX_CITED);
        report.indexes = indexes.split_off(skip);
        report.history = self.history_among(&report.indexes);
        report.evidence = evidence;
        report.vouched = vouched;
        report.opinion = Opinion::from_evidence(evidence, p.prior_weight, base_rate);
        report
    }

    /// Direct evidence about `subject` (from `truster`, or from everyone), overdue promises
    /// included, without vouches.
    fn direct(&self, subject: u32, truster: Option<u32>, scope: Option<u32>, at: i64) -> Evidence {
        let p = &self.params;
        let person = &self.people[subject as usize];
        let mut evidence = match (truster, scope) {
            (None, None) => person.total.value(at, p),
            (None, Some(scope)) => {
                find(&person.scoped_total, scope).map_or_else(Evidence::default, |d| d.value(at, p))
            }
            (Some(t), None) => self
                .pair(t, subject)
                .map_or_else(Evidence::default, |pair| pair.evidence.value(at, p)),
            (Some(t), Some(scope)) => self
                .pair(t, subject)
                .and_then(|pair| find(&pair.scoped, scope))
                .map_or_else(Evidence::default, |d| d.value(at, p)),
        };
        for o in &person.open {
            if o.due <= at
                && truster.is_none_or(|t| t == o.promisee)
                && scope.is_none_or(|s| s == o.scope)
            {
                evidence.negative += o.penalty * decay(at - o.made, p.half_life_negative);
            }
        }
        evidence
    }

    /// Evidence reaching `subject` through vouch chains of at most `depth` links, discounted
    /// at every link by the trust in the voucher (P7). `path` holds the principals already on
    /// the chain, so that no chain loops.
    fn vouched(
        &self,
        subject: u32,
        truster: Option<u32>,
        scope: Option<u32>,
        at: i64,
        depth: u32,
        path: &mut Vec<u32>,
    ) -> Evidence {
        let p = &self.params;
        let mut total = Evidence::default();
        if depth == 0 {
            return total;
        }
        for vouch in &self.people[subject as usize].vouched_by {
            if !scope_matches(vouch.scope, scope) || path.contains(&vouch.voucher) {
                continue;
            }
            let statement = Opinion::from_evidence(
                Evidence {
                    positive: p.vouch_strength * vouch.weight,
                    negative: 0.0,
                },
                p.prior_weight,
                p.base_rate,
            );
            if truster == Some(vouch.voucher) {
                // The truster's own vouch is its own statement, taken at face value.
                total = total.plus(statement.as_evidence(p.prior_weight));
                continue;
            }
            path.push(vouch.voucher);
            let about_voucher = self
                .direct(vouch.voucher, truster, scope, at)
                .plus(self.vouched(vouch.voucher, truster, scope, at, depth - 1, path));
            path.pop();
            let in_voucher = Opinion::from_evidence(about_voucher, p.prior_weight, p.base_rate);
            total = total.plus(in_voucher.discount(&statement).as_evidence(p.prior_weight));
        }
        total
    }
}

/// Which entries of a stored log a replay folds: the first `log_size` (all when `None`), and of
/// those only the ones whose event time is at or before `until` (all when `None`). An answer
/// computed from a prefix is exact: entries appended later, whatever their `at`, never reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix {
    /// How many entries, from the first.
    pub log_size: Option<u64>,
    /// The instant: events dated after it are left out.
    pub until: Option<Time>,
}

impl Prefix {
    /// The whole log.
    pub const ALL: Prefix = Prefix {
        log_size: None,
        until: None,
    };

    /// The whole log up to instant `until`.
    pub fn until(until: Time) -> Self {
        Self {
            log_size: None,
            until: Some(until),
        }
    }
}

/// Decodes every stored entry that `prefix` selects and hands it to `apply` in log order;
/// returns the log size folded (the prefix's, or the store's when it holds fewer entries). A
/// stored entry that does not decode is an error: the log is damaged (`stepwise log verify`
/// says where).
pub fn fold_log<S: Store + ?Sized>(
    store: &S,
    prefix: Prefix,
    progress: &mut dyn FnMut(u64),
    apply: &mut dyn FnMut(u64, &Event),
) -> Result<u64, StoreError> {
    let stored = store.size()?;
    let size = prefix.log_size.map_or(stored, |n| n.min(stored));
    let until = prefix.until;
    store.scan(0, size, &mut |entry| {
        let event = decode_entry(&entry)?;
        if until.is_none_or(|t| event.at <= t) {
            apply(entry.index, &event);
        }
        if entry.index % 65_536 == 65_535 {
            progress(entry.index + 1);
        }
        Ok(())
    })?;
    progress(size);
    Ok(size)
}

fn scope_matches(vouch_scope: Option<u32>, asked: Option<u32>) -> bool {
    match (vouch_scope, asked) {
        (None, _) => true,
        (Some(v), Some(a)) => v == a,
        (Some(_), None) => false,
    }
}

fn find(list: &[(u32, Decaying)], scope: u32) -> Option<&Decaying> {
    list.iter().find(|(s, _)| *s == scope).map(|(_, d)| d)
}

fn scoped(list: &mut Vec<(u32, Decaying)>, scope: u32) -> &mut Decaying {
    let i = match list.iter().position(|(s, _)| *s == scope) {
        Some(i) => i,
        None => {
            list.push((scope, Decaying::default()));
            list.len() - 1
        }
    };
    &mut list[i].1
}
