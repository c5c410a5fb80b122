//! The questions a trust state answers: trust figures (direct evidence, vouch chains, network
//! rank as the base rate), standing, exposure, cited evidence, history. Every one takes its
//! instant as a parameter; nothing here changes the state, reads the clock or does I/O.

use super::decay::{decay, find};
use super::opinion::{Evidence, Opinion};
use super::rank::{RankParams, Ranking, TrustGraph, eigentrust_from};
use super::state::{Counts, MAX_CITED, Pair, RankSnapshot, TrustReport, TrustState};
use crate::evidence::{Id, Time};
use std::sync::Arc;

impl TrustState {
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

    /// Who judges the open promise `id`: its promisee.
    pub fn promisee_of(&self, id: &Id) -> Option<u32> {
        self.promises.get(id).map(|f| f.promisee)
    }

    /// Whether policy seeds are named, so that evidence counts by who gives it.
    pub fn seeded(&self) -> bool {
        self.reach.is_some()
    }

    /// Whether a seed reaches principal `who` (every principal when no seeds are named): whether
    /// the kept promises it judges count on the ladder.
    pub fn reached(&self, who: u32) -> bool {
        self.reach.as_ref().is_none_or(|r| r.reached(who))
    }

    /// Whether `who`'s word counts in `truster`'s view (everyone's when `None`): whether a seed
    /// reaches it, or, in a truster's own view, where the truster is a seed too (P10), whether
    /// it is the truster or someone the truster gave positive evidence about. One step only:
    /// reach further from those needs two reached recorders, as from any seed, and the truster's
    /// own opinion of them weighs what they pass on anyway.
    pub fn reached_in_view(&self, who: u32, truster: Option<u32>) -> bool {
        self.reached(who)
            || truster.is_some_and(|t| {
                t == who || self.reach.as_ref().is_some_and(|r| r.has_edge(t, who))
            })
    }

    /// A principal's promises with no outcome: (due, stake, log index), in the order made.
    pub fn open_promises(&self, subject: u32) -> impl Iterator<Item = (Time, f64, u64)> + '_ {
        self.people[subject as usize]
            .open
            .iter()
            .filter_map(|o| Time::from_micros(o.due).map(|due| (due, o.stake, o.index)))
    }

    /// Whether `subject` has any promise with no outcome (none: nothing of its can fall due,
    /// weigh on its standing as overdue, or be at stake).
    pub fn has_open_promises(&self, subject: u32) -> bool {
        !self.people[subject as usize].open.is_empty()
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

    /// The principals with an active vouch for `subject` (any scope) whose word counts: all of
    /// them, or with seeds named those the seeds reach.
    pub fn vouchers(&self, subject: u32) -> impl Iterator<Item = u32> + '_ {
        self.people[subject as usize]
            .vouched_by
            .iter()
            .map(|v| v.voucher)
            .filter(|v| self.reached(*v))
    }

    /// Verdicts (ratings and reports) a principal has given so far, and how many were negative.
    pub fn verdicts_given(&self, who: u32) -> (u32, u32) {
        let person = &self.people[who as usize];
        (person.verdicts_given, person.negative_given)
    }

    /// What one truster has recorded about one subject so far, by kind.
    pub fn pair_counts(&self, truster: u32, subject: u32) -> Counts {
        self.pair(truster, subject)
            .map_or_else(Counts::default, Pair::counts)
    }

    /// The log indexes of the most recent `limit` pieces of evidence about `subject`.
    pub fn cited(&self, subject: u32, limit: usize) -> Vec<u64> {
        let person = &self.people[subject as usize];
        let mut indexes: Vec<u64> = person
            .from
            .iter()
            .map(|i| &self.pairs[*i as usize])
            .flat_map(|pair| self.cites(pair).take(limit))
            .chain(person.vouched_by.iter().map(|v| v.index))
            .chain(person.open.iter().map(|o| o.index))
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let skip = indexes.len().saturating_sub(limit);
        indexes.split_off(skip)
    }

    /// The log indexes a pair cites, most recent first.
    pub(super) fn cites(&self, pair: &Pair) -> impl Iterator<Item = u64> + '_ {
        let mut at = pair.last_cite;
        std::iter::from_fn(move || {
            (at != super::state::NO_CITE).then(|| {
                let i = at as usize;
                at = self.cite_prev[i];
                self.cites[i]
            })
        })
    }

    /// The network rank answers use: the published one ([`TrustState::publish_rank`]),
    /// whatever its log size, or — when none was published — the rank of this very state,
    /// computed on first use after the log changed.
    pub fn rank(&self) -> RankSnapshot {
        if let Some(published) = &self.published {
            return published.clone();
        }
        let ranking = self
            .lazy_rank
            .get_or_init(|| Arc::new(self.rank_job().run()))
            .clone();
        RankSnapshot {
            ranking,
            log_size: self.log_size,
            latest: self.latest,
        }
    }

    /// The scores of [`TrustState::rank`].
    pub fn ranking(&self) -> Arc<Ranking> {
        self.rank().ranking
    }

    /// What computing the network rank of this state needs, copied out of it (the local trust
    /// of every pair: the positive part of its undecayed net evidence; with seeds named, of the
    /// pairs whose truster a seed reaches), so that the computation can run without holding
    /// the state.
    pub fn rank_job(&self) -> RankJob {
        let mut edges = Vec::with_capacity(self.pairs.len());
        for (subject, person) in self.people.iter().enumerate() {
            for i in &person.from {
                let pair = &self.pairs[*i as usize];
                let net = pair.raw_positive - pair.raw_negative;
                if net > 0.0 && self.reached(pair.truster) {
                    edges.push((pair.truster, subject as u32, net));
                }
            }
        }
        RankJob {
            nodes: self.people.len(),
            edges,
            seeds: self
                .params
                .seeds
                .iter()
                .filter_map(|s| self.principals.get(s))
                .collect(),
            params: self.params.rank,
            log_size: self.log_size,
            latest: self.latest,
            previous: self.published.as_ref().map(|p| Arc::clone(&p.ranking)),
        }
    }

    /// Publishes `snapshot` as the rank answers use from now on, unless the one published
    /// already is newer.
    pub fn publish_rank(&mut self, snapshot: RankSnapshot) {
        if self
            .published
            .as_ref()
            .is_none_or(|p| p.log_size <= snapshot.log_size)
        {
            self.published = Some(snapshot);
        }
    }

    /// Computes the rank of this state now and publishes it as of log size `log_size` (a replay
    /// up to an instant holds fewer entries than its log size).
    pub fn refresh_rank_as_of(&mut self, log_size: u64) {
        let mut snapshot = self.rank_job().snapshot();
        snapshot.log_size = log_size;
        self.publish_rank(snapshot);
    }

    /// The log size of the rank answers use now.
    pub fn rank_log_size(&self) -> u64 {
        self.published
            .as_ref()
            .map_or(self.log_size, |p| p.log_size)
    }

    /// The rank score of `subject`, or what a principal nobody trusts would get.
    pub(super) fn rank_of(&self, subject: Option<u32>, ranking: &Ranking) -> f64 {
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
    pub(super) fn base_rate(&self, rank: f64) -> f64 {
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
        let rank = self.rank();
        let mut report = self.trust_ranked(subject, truster, scope, at, &rank.ranking);
        report.rank_log_size = rank.log_size;
        report
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
            rank_log_size: self.log_size,
            policy_entry: self.policy_entry().map(|(index, _)| index),
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
                report.counts.add(&pair.counts());
                indexes.extend(self.cites(pair));
            }
        }
        let vouched = self.vouched(s, t, scope, at, p.vouch_depth, &mut vec![s]);
        for v in &person.vouched_by {
            if scope_matches(v.scope, scope) && self.reached_in_view(v.voucher, t) {
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
    pub(super) fn direct(
        &self,
        subject: u32,
        truster: Option<u32>,
        scope: Option<u32>,
        at: i64,
    ) -> Evidence {
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
                .and_then(|pair| find(pair.scoped(), scope))
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

    /// A principal's **record** as of `at`: all direct evidence about it from every author,
    /// weighted as it was recorded (credibility, fairness, caps) but never faded — the sum of
    /// the pairs' undecayed sums that network rank reads as local trust (with seeds named, of
    /// authors a seed reaches) — with promises overdue at `at` counted as broken. It answers
    /// questions about a whole history (an audit, a fraud review: "what has this principal
    /// done?"), not whether to trust it now: decisions read evidence that fades (P4). The record
    /// of a state folded up to `at` is what was on record at `at`; a later fold does not forget
    /// what came after.
    pub fn record_of(&self, subject: u32, at: Time) -> Evidence {
        let at = at.as_micros();
        let person = &self.people[subject as usize];
        // With seeds named, as in the rank: only authors a seed reaches.
        let mut evidence = person
            .from
            .iter()
            .map(|i| &self.pairs[*i as usize])
            .filter(|pair| self.reached(pair.truster))
            .fold(Evidence::default(), |sum, pair| {
                sum.plus(Evidence {
                    positive: pair.raw_positive,
                    negative: pair.raw_negative,
                })
            });
        for o in person.open.iter().filter(|o| o.due <= at) {
            evidence.negative += o.penalty;
        }
        evidence
    }

    /// Evidence reaching `subject` through vouch chains of at most `depth` links, discounted
    /// at every link by the trust in the voucher (P7). `path` holds the principals already on
    /// the chain, so that no chain loops.
    pub(super) fn vouched(
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
            // In a truster's own view its own vouch counts, and those of whoever it gave
            // positive evidence about, reached by a seed or not (P10).
            if !scope_matches(vouch.scope, scope)
                || path.contains(&vouch.voucher)
                || !self.reached_in_view(vouch.voucher, truster)
            {
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

fn scope_matches(vouch_scope: Option<u32>, asked: Option<u32>) -> bool {
    match (vouch_scope, asked) {
        (None, _) => true,
        (Some(v), Some(a)) => v == a,
        (Some(_), None) => false,
    }
}

/// The network rank of a state, ready to compute away from it: see [`TrustState::rank_job`].
#[derive(Debug, Clone)]
pub struct RankJob {
    nodes: usize,
    edges: Vec<(u32, u32, f64)>,
    seeds: Vec<u32>,
    params: RankParams,
    /// The log size of the state it was taken from.
    pub log_size: u64,
    /// The latest event time of that state.
    latest: Option<Time>,
    /// The scores published before, to start from.
    previous: Option<Arc<Ranking>>,
}

impl RankJob {
    /// Computes the rank, starting from the scores published before when there are any; a
    /// graph the kernel refuses (it cannot happen for a state's own pairs) ranks nobody.
    pub fn run(self) -> Ranking {
        let start = self.previous.as_ref().map(|p| p.scores.as_slice());
        TrustGraph::from_edges(self.nodes, self.edges)
            .and_then(|graph| eigentrust_from(&graph, &self.seeds, &self.params, start))
            .unwrap_or_else(|_| Ranking {
                scores: Vec::new(),
                iterations: 0,
                delta: 0.0,
                converged: true,
            })
    }

    /// [`RankJob::run`], with the log size it reflects.
    pub fn snapshot(self) -> RankSnapshot {
        let (log_size, latest) = (self.log_size, self.latest);
        RankSnapshot {
            ranking: Arc::new(self.run()),
            log_size,
            latest,
        }
    }
}
