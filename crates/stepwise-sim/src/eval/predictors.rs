//! The systems that predict a rating from the past: stepwise itself (with its ablations) and
//! the baselines it is judged against — mean rating, beta reputation, Fairness/Goodness.

use super::*;

/// A system that predicts, before each rating, how likely it is to be negative. `Send`, so that
/// held-out folds can be judged in parallel.
pub trait Predictor: Send {
    /// Its name in reports.
    fn name(&self) -> &'static str;
    /// P(negative) for `rating`, from what it has learned so far.
    fn predict(&mut self, rating: &Rating) -> f64;
    /// Learns `rating` (in the temporal replay, right after `predict` on it).
    fn learn(&mut self, rating: &Rating);
    /// Brings what it recomputes only now and then (network rank, Fairness/Goodness) up to
    /// date with everything learned: called once learning is over, before held-out predictions.
    fn settle(&mut self) {}
}

/// Share of negatives so far, with a uniform prior: what baselines say about strangers.
#[derive(Debug, Default, Clone)]
pub(super) struct Prior {
    negative: u64,
    all: u64,
}

impl Prior {
    fn value(&self) -> f64 {
        (self.negative as f64 + 1.0) / (self.all as f64 + 2.0)
    }

    fn learn(&mut self, r: &Rating) {
        self.all += 1;
        self.negative += u64::from(r.negative());
    }
}

/// Baseline: the mean rating the subject received (mapped from [−1, 1] to P(negative)).
#[derive(Debug, Default)]
pub struct MeanRating {
    received: HashMap<u64, (f64, u32)>,
    prior: Prior,
}

impl Predictor for MeanRating {
    fn name(&self) -> &'static str {
        "mean_rating"
    }
    fn predict(&mut self, r: &Rating) -> f64 {
        match self.received.get(&r.subject) {
            Some((sum, n)) => (1.0 - sum / f64::from(*n)) / 2.0,
            None => self.prior.value(),
        }
    }
    fn learn(&mut self, r: &Rating) {
        let e = self.received.entry(r.subject).or_default();
        e.0 += f64::from(r.value) / 10.0;
        e.1 += 1;
        self.prior.learn(r);
    }
}

/// Baseline: beta reputation `(r+1)/(r+s+2)` of the subject, from counts of positive and
/// negative ratings received.
#[derive(Debug, Default)]
pub struct BetaReputation {
    received: HashMap<u64, (u32, u32)>,
}

impl Predictor for BetaReputation {
    fn name(&self) -> &'static str {
        "beta"
    }
    fn predict(&mut self, r: &Rating) -> f64 {
        let (pos, neg) = self.received.get(&r.subject).copied().unwrap_or_default();
        1.0 - (f64::from(pos) + 1.0) / (f64::from(pos) + f64::from(neg) + 2.0)
    }
    fn learn(&mut self, r: &Rating) {
        let e = self.received.entry(r.subject).or_default();
        if r.negative() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
}

/// Baseline: Fairness and Goodness (Kumar et al., ICDM 2016), recomputed from the past every
/// `every` ratings; the weight of u → v is predicted as `f(u)·g(v)`.
#[derive(Debug)]
pub struct FairnessGoodness {
    edges: Vec<(u64, u64, f64)>,
    fairness: HashMap<u64, f64>,
    goodness: HashMap<u64, f64>,
    every: usize,
}

impl FairnessGoodness {
    /// Recomputes every `every` ratings.
    pub fn new(every: usize) -> Self {
        Self {
            edges: Vec::new(),
            fairness: HashMap::new(),
            goodness: HashMap::new(),
            every: every.max(1),
        }
    }

    /// Fairness and goodness of a weighted graph, iterated to convergence (max change < 1e-9,
    /// at most 200 rounds): `g(v)` = mean of `f(u)·w(u,v)` over in-edges, `f(u)` = 1 − mean
    /// `|w(u,v) − g(v)|/2` over out-edges, starting from `f = g = 1`. Returns the fairness of
    /// every rater and the goodness of every subject.
    pub fn compute(edges: &[(u64, u64, f64)]) -> (HashMap<u64, f64>, HashMap<u64, f64>) {
        // Dense indexes: the rounds then walk plain arrays.
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut ids: Vec<u64> = Vec::new();
        let mut dense = |x: u64| {
            *index.entry(x).or_insert_with(|| {
                ids.push(x);
                ids.len() - 1
            })
        };
        let edges: Vec<(usize, usize, f64)> = edges
            .iter()
            .map(|&(u, v, w)| (dense(u), dense(v), w))
            .collect();
        let n = ids.len();
        let (mut given, mut received) = (vec![0u32; n], vec![0u32; n]);
        for &(u, v, _) in &edges {
            given[u] += 1;
            received[v] += 1;
        }
        let (mut fairness, mut goodness) = (vec![1.0; n], vec![1.0; n]);
        let mut sum = vec![0.0; n];
        for _ in 0..200 {
            sum.fill(0.0);
            for &(u, v, w) in &edges {
                sum[v] += fairness[u] * w;
            }
            let mut change: f64 = 0.0;
            for v in (0..n).filter(|v| received[*v] > 0) {
                let g = sum[v] / f64::from(received[v]);
                change = change.max((g - goodness[v]).abs());
                goodness[v] = g;
            }
            sum.fill(0.0);
            for &(u, v, w) in &edges {
                sum[u] += (w - goodness[v]).abs() / 2.0;
            }
            for u in (0..n).filter(|u| given[*u] > 0) {
                let f = 1.0 - sum[u] / f64::from(given[u]);
                change = change.max((f - fairness[u]).abs());
                fairness[u] = f;
            }
            if change < 1e-9 {
                break;
            }
        }
        let of = |values: &[f64], count: &[u32]| -> HashMap<u64, f64> {
            (0..n)
                .filter(|k| count[*k] > 0)
                .map(|k| (ids[k], values[k]))
                .collect()
        };
        (of(&fairness, &given), of(&goodness, &received))
    }
}

impl Predictor for FairnessGoodness {
    fn name(&self) -> &'static str {
        "fairness_goodness"
    }
    fn predict(&mut self, r: &Rating) -> f64 {
        let f = self.fairness.get(&r.rater).copied().unwrap_or(1.0);
        let g = self.goodness.get(&r.subject).copied().unwrap_or(0.0);
        (1.0 - f * g) / 2.0
    }
    fn learn(&mut self, r: &Rating) {
        self.edges
            .push((r.rater, r.subject, f64::from(r.value) / 10.0));
        if self.edges.len().is_multiple_of(self.every) {
            self.settle();
        }
    }
    fn settle(&mut self) {
        (self.fairness, self.goodness) = Self::compute(&self.edges);
    }
}

/// Turns a rating into the `rating` event stepwise records for it.
pub fn rating_event(r: &Rating) -> Option<Event> {
    let rater = Id::parse("rater", &r.rater.to_string()).ok()?;
    let subject = Id::parse("subject", &r.subject.to_string()).ok()?;
    if rater == subject {
        return None;
    }
    Some(Event {
        at: Time::from_unix_seconds(r.time)?,
        author: Some(rater.clone()),
        body: Body::Rating {
            rater,
            subject,
            value: f64::from(r.value) / 10.0,
            scope: None,
        },
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    })
}

pub(super) fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

pub(super) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// stepwise's prediction, from the trust model: three experts combined as independent
/// evidence in log-odds (a naive-Bayes product of experts, no fitted weights):
///
/// 1. the subject's opinion in everyone's view (credibility-weighted, decaying evidence), read
///    as the probability of a negative verdict `d + p̄·u`: disbelief, plus the uncertain part at
///    the community's base rate `p̄` of negative verdicts so far — subjective logic's base rate
///    is the population prior, and in a market where nine verdicts in ten are positive a
///    stranger is not a coin toss;
/// 2. the rater's record as a judge: its share of negative verdicts, smoothed towards `p̄` with
///    the model's `vindictive_prior` (the quantity behind the fairness factor, P8);
/// 3. retaliation: whether the subject rated the rater negatively before, with a likelihood
///    ratio learned online from the past only.
pub struct Stepwise {
    state: TrustState,
    ranking: Ranking,
    rank_every: usize,
    seen: usize,
    prior: Prior,
    /// Ratings of u about v after v had rated u negatively: (negative, all).
    retaliation: (u64, u64),
}

impl Stepwise {
    /// A predictor with the model's default settings.
    pub fn new(params: ModelParams, rank_every: usize) -> Self {
        let state = TrustState::new(params);
        Self {
            ranking: (*state.ranking()).clone(),
            state,
            rank_every: rank_every.max(1),
            seen: 0,
            prior: Prior::default(),
            retaliation: (0, 0),
        }
    }

    /// The trust state folded so far.
    pub fn state(&self) -> &TrustState {
        &self.state
    }

    fn subject_trust(&self, subject: &Id, at: Time) -> Opinion {
        self.state
            .trust_ranked(subject, None, None, at, &self.ranking)
            .opinion
    }

    fn provoked(&self, r: &Rating) -> bool {
        let (Ok(u), Ok(v)) = (
            Id::parse("rater", &r.rater.to_string()),
            Id::parse("subject", &r.subject.to_string()),
        ) else {
            return false;
        };
        match (
            self.state.principal_index(&u),
            self.state.principal_index(&v),
        ) {
            (Some(u), Some(v)) => self.state.pair_counts(v, u).ratings_negative > 0,
            _ => false,
        }
    }
}

/// What each of stepwise's experts says about one rating, before it is applied.
#[derive(Debug, Clone, Copy)]
pub(super) struct Experts {
    /// The subject's opinion in everyone's view.
    opinion: Opinion,
    /// The community's share of negative verdicts so far.
    prior: f64,
    /// The rater's smoothed share of negative verdicts.
    rater: f64,
    /// The retaliation expert's log likelihood ratio (0 when the subject never rated the rater
    /// negatively).
    retaliation: f64,
}

impl Experts {
    /// The subject expert: P(negative) = `d + p̄·u`.
    fn subject(&self) -> f64 {
        self.opinion.disbelief + self.prior * self.opinion.uncertainty
    }
}

impl Stepwise {
    fn experts(&self, r: &Rating) -> Experts {
        let prior = self.prior.value();
        let event = rating_event(r);
        let Some(Body::Rating { rater, subject, .. }) = event.as_ref().map(|e| &e.body) else {
            let p = self.state.params();
            return Experts {
                opinion: Opinion::from_evidence(Default::default(), p.prior_weight, p.base_rate),
                prior,
                rater: prior,
                retaliation: 0.0,
            };
        };
        let at = event.as_ref().map_or(Time::MIN, |e| e.at);
        let m = self.state.params().vindictive_prior;
        let (given, negative) = self
            .state
            .principal_index(rater)
            .map_or((0, 0), |u| self.state.verdicts_given(u));
        let retaliation = if self.provoked(r) {
            let (neg, all) = self.retaliation;
            logit((neg as f64 + prior) / (all as f64 + 1.0)) - logit(prior)
        } else {
            0.0
        };
        Experts {
            opinion: self.subject_trust(subject, at),
            prior,
            rater: (f64::from(negative) + m * prior) / (f64::from(given) + m),
            retaliation,
        }
    }
}

/// The AUC, over all ratings, of each of stepwise's experts alone and in combination (same
/// replay as [`replay`], so nothing of the future leaks in), to show what each contributes.
pub fn ablations(
    ratings: &[Rating],
    params: &ModelParams,
    every: usize,
) -> Vec<(&'static str, Option<f64>)> {
    let mut predictor = Stepwise::new(params.clone(), every);
    let mut columns: [Vec<f64>; 6] = Default::default();
    for r in ratings {
        let x = predictor.experts(r);
        let combined = logit(x.subject()) + logit(x.rater) - logit(x.prior);
        columns[0].push(1.0 - x.opinion.expected());
        columns[1].push(x.subject());
        columns[2].push(x.rater);
        columns[3].push(combined);
        columns[4].push(logit(1.0 - x.opinion.expected()) + logit(x.rater) + x.retaliation);
        columns[5].push(combined + x.retaliation);
        predictor.learn(r);
    }
    let labels: Vec<bool> = ratings.iter().map(Rating::negative).collect();
    let names = [
        "subject alone, 1 − E (neutral base rate)",
        "subject alone, d + p̄·u (community base rate)",
        "rater's record alone",
        "subject (d + p̄·u) + rater",
        "subject (1 − E) + rater + retaliation",
        "subject (d + p̄·u) + rater + retaliation (stepwise)",
    ];
    names
        .into_iter()
        .zip(columns.iter())
        .map(|(name, scores)| (name, auc(scores, &labels)))
        .collect()
}

impl Predictor for Stepwise {
    fn name(&self) -> &'static str {
        "stepwise"
    }

    fn predict(&mut self, r: &Rating) -> f64 {
        let x = self.experts(r);
        sigmoid(logit(x.subject()) + logit(x.rater) - logit(x.prior) + x.retaliation)
    }

    fn learn(&mut self, r: &Rating) {
        if self.provoked(r) {
            self.retaliation.0 += u64::from(r.negative());
            self.retaliation.1 += 1;
        }
        self.prior.learn(r);
        if let Some(event) = rating_event(r) {
            self.state.apply(self.seen as u64, &event);
        }
        self.seen += 1;
        if self.seen.is_multiple_of(self.rank_every) {
            self.settle();
        }
    }

    fn settle(&mut self) {
        self.ranking = (*self.state.ranking()).clone();
    }
}
