//! Measuring a trust graph's shape, so that a generated log can be held against the real ones.
//!
//! The same functions measure Bitcoin OTC, Epinions and a generated log (the tests read the
//! real files from `../shared/data` at test time; nothing of them is copied here). They hold
//! one counter pair per principal (memory grows with the principals, not the edges) and are for
//! tests and documentation, not for the generator itself.

use std::collections::{HashMap, HashSet};

/// One trust edge: who gave evidence, about whom, and its sign when it is a rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Who gave the evidence: a rater, a promisee, a voucher or a reporter.
    pub truster: u64,
    /// Whom it is about.
    pub subject: u64,
    /// `Some(true)` for a negative rating, `Some(false)` for a positive one, `None` for evidence
    /// that is not a rating (left out of [`Shape::negative_share`]).
    pub negative: Option<bool>,
}

/// How one direction of edges (given, or received) is spread over the principals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degrees {
    /// The share of the edges held by the 1% of principals holding most (at least one
    /// principal).
    pub top1: f64,
    /// The share held by the top 10%.
    pub top10: f64,
    /// The share of principals holding none.
    pub none: f64,
    /// The median degree of the principals holding at least one.
    pub median: u64,
    /// The 99th percentile of those degrees.
    pub p99: u64,
    /// The largest degree.
    pub max: u64,
    /// The power-law exponent α of the degrees of 10 and more (the discrete maximum-likelihood
    /// estimate of Clauset, Shalizi and Newman, α = 1 + n / Σ ln(d / 9.5)); NaN with none.
    pub exponent: f64,
}

/// A signed trust graph's shape: its size, its share of negative ratings, and its degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Principals named by at least one edge.
    pub principals: u64,
    /// Edges.
    pub edges: u64,
    /// Edges per principal.
    pub edges_per_principal: f64,
    /// The share of edges whose reverse is an edge too (pairs counted once each way).
    pub reciprocity: f64,
    /// Edges that are ratings.
    pub ratings: u64,
    /// The share of ratings that are negative (NaN with none).
    pub negative_share: f64,
    /// Edges given (out-degree).
    pub given: Degrees,
    /// Edges received (in-degree).
    pub received: Degrees,
}

impl Shape {
    /// Measures a graph given as its edges, in any order.
    pub fn measure(edges: impl IntoIterator<Item = Edge>) -> Self {
        let mut degrees: HashMap<u64, (u64, u64)> = HashMap::new();
        let mut pairs = HashSet::new();
        let (mut count, mut ratings, mut negative) = (0u64, 0u64, 0u64);
        for edge in edges {
            count += 1;
            pairs.insert((edge.truster, edge.subject));
            degrees.entry(edge.truster).or_default().0 += 1;
            degrees.entry(edge.subject).or_default().1 += 1;
            if let Some(sign) = edge.negative {
                ratings += 1;
                negative += u64::from(sign);
            }
        }
        let given: Vec<u64> = degrees.values().map(|d| d.0).collect();
        let received: Vec<u64> = degrees.values().map(|d| d.1).collect();
        let principals = degrees.len() as u64;
        let answered = pairs
            .iter()
            .filter(|(a, b)| pairs.contains(&(*b, *a)))
            .count();
        Self {
            principals,
            edges: count,
            edges_per_principal: count as f64 / principals.max(1) as f64,
            reciprocity: answered as f64 / pairs.len().max(1) as f64,
            ratings,
            negative_share: negative as f64 / ratings as f64,
            given: Degrees::of(given),
            received: Degrees::of(received),
        }
    }
}

impl Degrees {
    fn of(mut degrees: Vec<u64>) -> Self {
        degrees.sort_unstable_by(|a, b| b.cmp(a));
        let n = degrees.len();
        let total: u64 = degrees.iter().sum();
        let share = |fraction: f64| {
            let top = ((n as f64 * fraction) as usize).clamp(1.min(n), n);
            degrees[..top].iter().sum::<u64>() as f64 / total.max(1) as f64
        };
        let held: Vec<u64> = degrees.iter().copied().filter(|&d| d > 0).rev().collect();
        let quantile = |q: f64| {
            held.get(((held.len().saturating_sub(1)) as f64 * q) as usize)
                .copied()
                .unwrap_or(0)
        };
        let tail: Vec<f64> = degrees
            .iter()
            .filter(|&&d| d >= 10)
            .map(|&d| (d as f64 / 9.5).ln())
            .collect();
        Self {
            top1: share(0.01),
            top10: share(0.10),
            none: (n - held.len()) as f64 / n.max(1) as f64,
            median: quantile(0.5),
            p99: quantile(0.99),
            max: degrees.first().copied().unwrap_or(0),
            exponent: 1.0 + tail.len() as f64 / tail.iter().sum::<f64>(),
        }
    }
}

/// How events are spread over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// The share of the events in each tenth of the span from the first to the last.
    pub tenths: [f64; 10],
    /// The share of the events on the busiest 10% of the days.
    pub busiest_days: f64,
    /// The coefficient of variation (standard deviation over mean) of the daily counts.
    pub daily_variation: f64,
}

/// Measures the spread over time of events at these instants (microseconds, in any order; at
/// least one).
pub fn activity(instants: &[i64]) -> Activity {
    const DAY: i64 = 86_400_000_000;
    let first = instants.iter().copied().min().unwrap_or(0);
    let last = instants.iter().copied().max().unwrap_or(0);
    let span = (last - first).max(1) as f64;
    let mut tenths = [0.0; 10];
    let mut days = vec![0u64; ((last - first) / DAY + 1) as usize];
    for &at in instants {
        let tenth = (((at - first) as f64 / span * 10.0) as usize).min(9);
        tenths[tenth] += 1.0;
        days[((at - first) / DAY) as usize] += 1;
    }
    let n = instants.len().max(1) as f64;
    tenths.iter_mut().for_each(|t| *t /= n);
    let mean = n / days.len() as f64;
    let variance = days.iter().map(|&d| (d as f64 - mean).powi(2)).sum::<f64>() / days.len() as f64;
    days.sort_unstable_by(|a, b| b.cmp(a));
    let busiest = days[..(days.len() / 10).max(1)].iter().sum::<u64>() as f64 / n;
    Activity {
        tenths,
        busiest_days: busiest,
        daily_variation: variance.sqrt() / mean,
    }
}

/// The shares of rating values −10..−1 and 1..10 among negative and positive ratings: entry
/// `m − 1` of the first array is the share of −m among the negative ones, of the second the
/// share of +m among the positive ones. Values outside −10..10 and 0 are not counted.
pub fn rating_values(values: impl IntoIterator<Item = i32>) -> ([f64; 10], [f64; 10]) {
    let (mut negative, mut positive) = ([0.0; 10], [0.0; 10]);
    for value in values {
        match value {
            -10..=-1 => negative[(-value - 1) as usize] += 1.0,
            1..=10 => positive[(value - 1) as usize] += 1.0,
            _ => {}
        }
    }
    for shares in [&mut negative, &mut positive] {
        let total: f64 = shares.iter().sum();
        shares.iter_mut().for_each(|s| *s /= total.max(1.0));
    }
    (negative, positive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_is_measured_by_hand() {
        // Principal 0 rates 1..=9 (one negative), and 9 rates 1.
        let edges = (1..10)
            .map(|s| Edge {
                truster: 0,
                subject: s,
                negative: Some(s == 3),
            })
            .chain([Edge {
                truster: 9,
                subject: 1,
                negative: None,
            }]);
        let shape = Shape::measure(edges);
        assert_eq!((shape.principals, shape.edges, shape.ratings), (10, 10, 9));
        assert_eq!(shape.reciprocity, 0.0, "nobody answered");
        let edge = |truster, subject| Edge {
            truster,
            subject,
            negative: None,
        };
        let answered = Shape::measure([edge(1, 2), edge(2, 1), edge(1, 3), edge(1, 2)]);
        assert!(
            (answered.reciprocity - 2.0 / 3.0).abs() < 1e-12,
            "{answered:?}"
        );
        assert!((shape.negative_share - 1.0 / 9.0).abs() < 1e-12);
        assert!((shape.given.top1 - 0.9).abs() < 1e-12, "{:?}", shape.given);
        assert_eq!((shape.given.max, shape.given.median), (9, 1));
        assert!((shape.given.none - 0.8).abs() < 1e-12);
        assert!((shape.received.top1 - 0.2).abs() < 1e-12);
        assert!(shape.given.exponent.is_nan(), "no degree of 10 or more");
    }

    #[test]
    fn activity_and_values_are_measured_by_hand() {
        const DAY: i64 = 86_400_000_000;
        // Nine events on day 0, one on day 9.
        let mut at: Vec<i64> = (0..9).collect();
        at.push(9 * DAY);
        let a = activity(&at);
        assert!((a.tenths[0] - 0.9).abs() < 1e-12 && (a.tenths[9] - 0.1).abs() < 1e-12);
        assert!((a.busiest_days - 0.9).abs() < 1e-12);
        let (negative, positive) = rating_values([-10, -10, -1, 1, 0, 11]);
        assert!((negative[9] - 2.0 / 3.0).abs() < 1e-12 && (positive[0] - 1.0).abs() < 1e-12);
    }
}
