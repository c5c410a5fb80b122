//! Evaluation on a real signed trust network, against baselines in the same run.
//!
//! Two protocols, both scored by the area under the ROC curve (AUC) of each system's
//! probability that a rating is negative:
//!
//! * **Temporal** ([`replay`]), for a network with timestamps (Bitcoin OTC, Bitcoin Alpha): the
//!   ratings are replayed in time order (file order on ties). Before each rating is applied,
//!   every system predicts it from the past alone; then the rating is applied and the replay
//!   moves on. Nothing from the future may leak in: a predictor only ever sees ratings that came
//!   before the one it scores, and a test checks that predictions for a prefix of the file do
//!   not depend on the rest.
//! * **Held out** ([`cross_validate`]), for a network without timestamps (SNAP's Epinions and
//!   Slashdot): k-fold cross-validation. The ratings are dealt into folds by a seeded shuffle;
//!   for each fold every system learns the other folds and then predicts the fold's ratings
//!   without learning them, so each rating is predicted once, by models that never saw it.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use stepwise::evidence::{Body, Event, Id, Time};
use stepwise::model::opinion::Opinion;
use stepwise::model::params::ModelParams;
use stepwise::model::rank::Ranking;
use stepwise::model::state::TrustState;

mod predictors;

pub use predictors::*;

/// One rating of the data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    /// Who rated.
    pub rater: u64,
    /// Whom.
    pub subject: u64,
    /// The rating, −10 to 10 (never 0 in Bitcoin OTC).
    pub value: i32,
    /// Unix seconds.
    pub time: f64,
}

impl Rating {
    /// True for a negative rating: what the predictions are about.
    pub fn negative(&self) -> bool {
        self.value < 0
    }
}

/// Why the input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A line is not `SOURCE,TARGET,RATING,TIME`.
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Reading failed.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing to evaluate.
    #[error("the input holds no ratings")]
    Empty,
}

/// Calls `each` with the 1-based number and the trimmed text of every data line of `input` —
/// blank lines and `#` comments skipped — and stops at the first error.
fn for_each_line(
    input: impl BufRead,
    mut each: impl FnMut(usize, &str) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let text = line.trim();
        if !(text.is_empty() || text.starts_with('#')) {
            each(i + 1, text)?;
        }
    }
    Ok(())
}

fn bad(line: usize, problem: String) -> EvalError {
    EvalError::Line { line, problem }
}

/// A user id: field `name` of line `line`.
fn whole_number(line: usize, name: &str, s: &str) -> Result<u64, EvalError> {
    s.parse()
        .map_err(|_| bad(line, format!("{name} {s:?} is not a whole number")))
}

/// A sign, `1` (or `+1`) or `-1`: true for `-1`. Field `name` of line `line`.
fn negative_sign(line: usize, name: &str, s: &str) -> Result<bool, EvalError> {
    match s {
        "1" | "+1" => Ok(false),
        "-1" => Ok(true),
        other => Err(bad(line, format!("{name} {other:?} is neither 1 nor -1"))),
    }
}

/// Reads a SNAP signed network (Epinions, Slashdot): `FromNodeId ToNodeId Sign` lines separated
/// by tabs or spaces, `#` comment lines, a sign of `1` or `-1`. The file has no timestamps, so
/// every rating gets time 0 and is kept in file order; a sign is read as the whole verdict, 10 or
/// −10 on the −10..10 scale of [`Rating::value`]. Self-loops (a user rating itself) are skipped:
/// no trust model scores them. Returns the ratings and how many self-loops were skipped.
pub fn read_snap_signed(input: impl BufRead) -> Result<(Vec<Rating>, usize), EvalError> {
    let mut ratings = Vec::new();
    let mut loops = 0;
    for_each_line(input, |line, text| {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [source, target, sign] = fields[..] else {
            return Err(bad(
                line,
                format!(
                    "expected FromNodeId ToNodeId Sign, got {} fields",
                    fields.len()
                ),
            ));
        };
        let value = if negative_sign(line, "Sign", sign)? {
            -10
        } else {
            10
        };
        let rater = whole_number(line, "FromNodeId", source)?;
        let subject = whole_number(line, "ToNodeId", target)?;
        if rater == subject {
            loops += 1;
        } else {
            ratings.push(Rating {
                rater,
                subject,
                value,
                time: 0.0,
            });
        }
        Ok(())
    })?;
    if ratings.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok((ratings, loops))
}

/// Reads `SOURCE,TARGET,RATING,TIME` lines (blank lines and `#` comments skipped) and returns
/// them in temporal order: by time, file order on ties.
pub fn read_bitcoin_otc(input: impl BufRead) -> Result<Vec<Rating>, EvalError> {
    let mut ratings = Vec::new();
    for_each_line(input, |line, text| {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let [source, target, rating, time] = fields[..] else {
            return Err(bad(
                line,
                format!(
                    "expected SOURCE,TARGET,RATING,TIME, got {} fields",
                    fields.len()
                ),
            ));
        };
        let value: i32 = rating
            .parse()
            .ok()
            .filter(|v| (-10..=10).contains(v))
            .ok_or_else(|| {
                bad(
                    line,
                    format!("RATING {rating:?} is not a whole number in -10..10"),
                )
            })?;
        let time: f64 = time
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| bad(line, format!("TIME {time:?} is not a number of seconds")))?;
        ratings.push(Rating {
            rater: whole_number(line, "SOURCE", source)?,
            subject: whole_number(line, "TARGET", target)?,
            value,
            time,
        });
        Ok(())
    })?;
    if ratings.is_empty() {
        return Err(EvalError::Empty);
    }
    // Stable: ties keep file order.
    ratings.sort_by(|a, b| a.time.total_cmp(&b.time));
    Ok(ratings)
}

/// Area under the ROC curve of `scores` for the positives in `labels` (Mann–Whitney U, ties
/// counted half). `None` when one class is empty.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0u64);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += mid_rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// The ROC curve: (false positive rate, true positive rate) points from the highest score down.
pub fn roc(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let p = labels.iter().filter(|l| **l).count().max(1) as f64;
    let n = (labels.len() as f64 - labels.iter().filter(|l| **l).count() as f64).max(1.0);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if labels[k] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        points.push((fp / n, tp / p));
        i = j + 1;
    }
    points
}

/// Every system's prediction for every rating, in the order of the ratings.
pub struct Run {
    /// System names, in column order.
    pub systems: Vec<&'static str>,
    /// `predictions[i][k]`: system k's P(negative) for rating i.
    pub predictions: Vec<Vec<f64>>,
    /// Whether rating i's subject had been rated before (in the temporal replay) or in the
    /// other folds (held out).
    pub subject_known: Vec<bool>,
    /// The held-out fold of rating i; empty for the temporal replay.
    pub fold: Vec<usize>,
}

/// The systems compared: stepwise first, then the baselines.
pub fn systems(params: &ModelParams, every: usize) -> Vec<Box<dyn Predictor>> {
    vec![
        Box::new(Stepwise::new(params.clone(), every)),
        Box::new(MeanRating::default()),
        Box::new(BetaReputation::default()),
        Box::new(FairnessGoodness::new(every)),
    ]
}

/// Replays `ratings` (already in temporal order) through every system: predict, then learn.
pub fn replay(
    ratings: &[Rating],
    systems: &mut [Box<dyn Predictor>],
    progress: &mut dyn FnMut(usize),
) -> Run {
    let mut predictions = Vec::with_capacity(ratings.len());
    let mut subject_known = Vec::with_capacity(ratings.len());
    let mut seen: HashSet<u64> = HashSet::new();
    for (i, r) in ratings.iter().enumerate() {
        predictions.push(systems.iter_mut().map(|s| s.predict(r)).collect());
        subject_known.push(seen.contains(&r.subject));
        for s in systems.iter_mut() {
            s.learn(r);
        }
        seen.insert(r.subject);
        if i % 1000 == 999 {
            progress(i + 1);
        }
    }
    progress(ratings.len());
    Run {
        systems: systems.iter().map(|s| s.name()).collect(),
        predictions,
        subject_known,
        fold: Vec::new(),
    }
}

/// The order in which k-fold cross-validation deals `n` ratings: a Fisher–Yates shuffle driven
/// by splitmix64 from `seed`; the rating at position `p` of the order goes to fold `p % folds`.
pub fn fold_order(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = crate::simulate::splitmix64(state);
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// Held-out evaluation by k-fold cross-validation, for a network without timestamps (or to
/// compare with studies that use it). The ratings are dealt into `folds` folds by
/// [`fold_order`]; for each fold, fresh systems from `systems` learn every rating of the other
/// folds, in the shuffled order, [`Predictor::settle`], and then predict each rating of the
/// fold without learning it. Every rating is predicted once, by models that never saw it;
/// `subject_known` says whether its subject was rated in the other folds. The folds are
/// judged in parallel (each on its own models, so the figures do not depend on it);
/// `progress` hears how many are done.
pub fn cross_validate(
    ratings: &[Rating],
    folds: usize,
    seed: u64,
    systems: &(dyn Fn() -> Vec<Box<dyn Predictor>> + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> Run {
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let folds = folds.clamp(2, ratings.len().max(2));
    let order = fold_order(ratings.len(), seed);
    let done = AtomicUsize::new(0);
    // Per fold: the system names, and (rating, predictions, subject known) for its ratings.
    type Judged = (usize, Vec<f64>, bool);
    let judged: Vec<(Vec<&'static str>, Vec<Judged>)> = (0..folds)
        .into_par_iter()
        .map(|fold| {
            let mut models = systems();
            let mut rated: HashSet<u64> = HashSet::new();
            for (p, &i) in order.iter().enumerate() {
                if p % folds != fold {
                    for m in models.iter_mut() {
                        m.learn(&ratings[i]);
                    }
                    rated.insert(ratings[i].subject);
                }
            }
            for m in models.iter_mut() {
                m.settle();
            }
            let mut out = Vec::new();
            for (p, &i) in order.iter().enumerate() {
                if p % folds == fold {
                    let r = &ratings[i];
                    let predicted = models.iter_mut().map(|m| m.predict(r)).collect();
                    out.push((i, predicted, rated.contains(&r.subject)));
                }
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            (models.iter().map(|m| m.name()).collect(), out)
        })
        .collect();
    let mut run = Run {
        systems: Vec::new(),
        predictions: vec![Vec::new(); ratings.len()],
        subject_known: vec![false; ratings.len()],
        fold: vec![0; ratings.len()],
    };
    for (fold, (names, out)) in judged.into_iter().enumerate() {
        run.systems = names;
        for (i, predicted, known) in out {
            run.predictions[i] = predicted;
            run.subject_known[i] = known;
            run.fold[i] = fold;
        }
    }
    run
}

/// AUC of one system over all ratings and over ratings whose subject had been rated before.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The system.
    pub system: &'static str,
    /// AUC over all ratings.
    pub auc_all: Option<f64>,
    /// AUC over ratings whose subject had a prior rating.
    pub auc_known_subject: Option<f64>,
    /// Held out: the AUC of each fold's ratings alone (empty for the temporal replay), whose
    /// spread says how much the pooled figure could move with another shuffle.
    pub auc_per_fold: Vec<f64>,
}

/// The mean and the sample standard deviation of `values` (`None` for fewer than two).
pub fn mean_and_sd(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var.sqrt()))
}

impl Run {
    /// Each system's AUCs against the true signs of `ratings`.
    pub fn scores(&self, ratings: &[Rating]) -> Vec<Score> {
        let labels: Vec<bool> = ratings.iter().map(Rating::negative).collect();
        let known: Vec<usize> = (0..ratings.len())
            .filter(|i| self.subject_known[*i])
            .collect();
        self.systems
            .iter()
            .enumerate()
            .map(|(k, system)| {
                let scores: Vec<f64> = self.predictions.iter().map(|p| p[k]).collect();
                let sub_scores: Vec<f64> = known.iter().map(|i| scores[*i]).collect();
                let sub_labels: Vec<bool> = known.iter().map(|i| labels[*i]).collect();
                let folds = self.fold.iter().max().map_or(0, |f| f + 1);
                let auc_per_fold = (0..folds)
                    .filter_map(|f| {
                        let of: Vec<usize> =
                            (0..scores.len()).filter(|i| self.fold[*i] == f).collect();
                        auc(
                            &of.iter().map(|i| scores[*i]).collect::<Vec<_>>(),
                            &of.iter().map(|i| labels[*i]).collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                Score {
                    system,
                    auc_all: auc(&scores, &labels),
                    auc_known_subject: auc(&sub_scores, &sub_labels),
                    auc_per_fold,
                }
            })
            .collect()
    }
}

/// Fraud detection on the REV2 labels, with the label leakage of PROVENANCE.md avoided: the
/// labels were derived from ratings given by a trusted core (the platform's founder, `root` —
/// user 1 on Bitcoin OTC — and the users the founder rated ≥ +5), so every rating *given by* a
/// core member is held out of the input, and core members are not scored. Each remaining
/// labelled user is scored by each system's view of it after the held-out history: for
/// stepwise, `1 − E` of its **record** ([`TrustState::record_of`]: every verdict as weighted
/// when recorded, nothing faded) under the average base rate — a label judges a whole history,
/// and a fraud review asks what the user has done, not how far to trust it today. Two other
/// reads of the same state follow the baselines, for the ablation: `stepwise_record_ranked`
/// (the record under the network rank's base rate) and `stepwise_trust_now` (expected trust in
/// everyone's view, fading evidence and the rank's base rate, as of the last rating the user
/// received). Returns (system, AUC for "fraudulent"), users scored, core size.
pub fn fraud_auc(
    ratings: &[Rating],
    labels: &HashMap<u64, bool>,
    root: u64,
    params: &ModelParams,
) -> (Vec<(&'static str, Option<f64>)>, usize, usize) {
    let mut core: HashSet<u64> = HashSet::from([root]);
    for r in ratings {
        if r.rater == root && r.value >= 5 {
            core.insert(r.subject);
        }
    }
    let kept: Vec<&Rating> = ratings
        .iter()
        .filter(|r| !core.contains(&r.rater))
        .collect();
    let mut state = TrustState::new(params.clone());
    let mut mean: HashMap<u64, (f64, u32)> = HashMap::new();
    let mut beta: HashMap<u64, (u32, u32)> = HashMap::new();
    let mut edges = Vec::new();
    for (i, r) in kept.iter().enumerate() {
        if let Some(e) = rating_event(r) {
            state.apply(i as u64, &e);
        }
        let m = mean.entry(r.subject).or_default();
        m.0 += f64::from(r.value) / 10.0;
        m.1 += 1;
        let b = beta.entry(r.subject).or_default();
        if r.negative() {
            b.1 += 1;
        } else {
            b.0 += 1;
        }
        edges.push((r.rater, r.subject, f64::from(r.value) / 10.0));
    }
    let (_, goodness) = FairnessGoodness::compute(&edges);
    let users: Vec<(u64, bool)> = labels
        .iter()
        .filter(|(u, _)| !core.contains(u))
        .map(|(u, fraud)| (*u, *fraud))
        .collect();
    let truth: Vec<bool> = users.iter().map(|(_, fraud)| *fraud).collect();
    let ranking = state.ranking();
    let score = |f: &dyn Fn(u64) -> f64| -> Option<f64> {
        auc(
            &users.iter().map(|(u, _)| f(*u)).collect::<Vec<_>>(),
            &truth,
        )
    };
    let w = params.prior_weight;
    let end = kept
        .last()
        .and_then(|r| Time::from_unix_seconds(r.time))
        .unwrap_or(Time::MIN);
    let index = |u: u64| {
        Id::parse("u", &u.to_string())
            .ok()
            .and_then(|id| state.principal_index(&id))
    };
    // A label judges a whole history, so stepwise is asked what a platform's fraud review asks:
    // the user's record — every verdict as weighted when it was recorded, nothing faded — read
    // as its standing (the average base rate, as the ladder reads it: the user's own evidence,
    // not its place in the network).
    let record = |u: u64, base_rate: f64| {
        let evidence = index(u)
            .map(|i| state.record_of(i, end))
            .unwrap_or_default();
        1.0 - Opinion::from_evidence(evidence, w, base_rate).expected()
    };
    let stepwise = score(&|u| record(u, params.base_rate));
    // Two other reads of the same state, for the ablation (EVALUATION.md): the record under the
    // network rank's base rate, and expected trust now — fading evidence and the rank's base
    // rate — as of the last rating the user received.
    let ranked = |u: u64, at: Time| {
        Id::parse("u", &u.to_string())
            .map(|id| state.trust_ranked(&id, None, None, at, &ranking).opinion)
            .unwrap_or_else(|_| Opinion::from_evidence(Default::default(), w, params.base_rate))
    };
    let record_ranked = score(&|u| record(u, ranked(u, end).base_rate));
    let mut last_judged: HashMap<u64, Time> = HashMap::new();
    for r in &kept {
        if let Some(t) = Time::from_unix_seconds(r.time) {
            last_judged.insert(r.subject, t);
        }
    }
    let trust_now = score(&|u| {
        let at = last_judged.get(&u).copied().unwrap_or(Time::MIN);
        1.0 - ranked(u, at).expected()
    });
    let mean_rating = score(&|u| {
        mean.get(&u)
            .map_or(0.5, |(s, n)| (1.0 - s / f64::from(*n)) / 2.0)
    });
    let beta_score = score(&|u| {
        let (p, n) = beta.get(&u).copied().unwrap_or_default();
        1.0 - (f64::from(p) + 1.0) / (f64::from(p) + f64::from(n) + 2.0)
    });
    let fg = score(&|u| (1.0 - goodness.get(&u).copied().unwrap_or(0.0)) / 2.0);
    (
        vec![
            ("stepwise", stepwise),
            ("mean_rating", mean_rating),
            ("beta", beta_score),
            ("fairness_goodness", fg),
            ("stepwise_record_ranked", record_ranked),
            ("stepwise_trust_now", trust_now),
        ],
        users.len(),
        core.len(),
    )
}

/// Reads `node_id,label` lines (1 benign, −1 fraudulent): true for fraudulent.
pub fn read_labels(input: impl BufRead) -> Result<HashMap<u64, bool>, EvalError> {
    let mut labels = HashMap::new();
    for_each_line(input, |line, text| {
        if text.starts_with("node") {
            return Ok(()); // the header
        }
        let Some((node, label)) = text.split_once(',') else {
            return Err(bad(line, "expected node_id,label".into()));
        };
        let node = whole_number(line, "node_id", node.trim())?;
        labels.insert(node, negative_sign(line, "label", label.trim())?);
        Ok(())
    })?;
    Ok(labels)
}
