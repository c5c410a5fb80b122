//! The evaluation instrument: its arithmetic checked by hand, and nothing from the future.

use std::collections::HashMap;
use std::io::{BufReader, Cursor};
use stepwise::model::params::ModelParams;
use stepwise_sim::eval::*;

fn otc() -> Vec<Rating> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/soc-sign-bitcoinotc.csv.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_bitcoin_otc(BufReader::new(flate2::read::GzDecoder::new(file)))
        .expect("the data set parses")
}

#[test]
fn auc_agrees_with_a_hand_computed_case() {
    // Positives score 0.35 and 0.8, negatives 0.1 and 0.4: of the four (positive, negative)
    // pairs, three are ordered right.
    assert_eq!(
        auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
        Some(0.75)
    );
    // A tie counts half.
    assert_eq!(auc(&[0.5, 0.5, 0.9], &[true, false, true]), Some(0.75));
    assert_eq!(auc(&[0.1, 0.2], &[true, true]), None, "one class only");
    let roc = roc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
    assert_eq!(roc.first(), Some(&(0.0, 0.0)));
    assert_eq!(roc.last(), Some(&(1.0, 1.0)));
}

#[test]
fn fairness_and_goodness_agree_with_a_hand_computed_graph() {
    // Two raters disagree about v: the fixed point is g(v) = 0 and both halfway fair.
    // A lone rater of w at 0.5 keeps fairness 1, and w's goodness is 0.5.
    let edges = [(1, 10, 1.0), (2, 10, -1.0), (3, 20, 0.5)];
    let (fairness, goodness) = FairnessGoodness::compute(&edges);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(goodness[&10], 0.0), "{goodness:?}");
    assert!(
        close(fairness[&1], 0.5) && close(fairness[&2], 0.5),
        "{fairness:?}"
    );
    assert!(close(goodness[&20], 0.5) && close(fairness[&3], 1.0));
}

/// Each bad input is refused with an error naming the line at fault.
fn refused_at_line<T: std::fmt::Debug>(
    read: impl Fn(Cursor<&'static str>) -> Result<T, EvalError>,
    cases: &[(&'static str, usize)],
) {
    for &(bad, line) in cases {
        match read(Cursor::new(bad)) {
            Err(EvalError::Line { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn ratings_are_read_in_time_order_with_file_order_on_ties() {
    let text = "# comment\n3,4,5,200\n1,2,-1,100\n\n5,6,2,100\n";
    let ratings = read_bitcoin_otc(Cursor::new(text)).expect("parses");
    let order: Vec<u64> = ratings.iter().map(|r| r.rater).collect();
    assert_eq!(order, [1, 5, 3]);
    refused_at_line(
        read_bitcoin_otc,
        &[
            ("1,2,3\n", 1),
            ("1,2,3,4\n1,2,11,5\n", 2),
            ("x,2,3,4\n", 1),
            ("1,2,3,soon\n", 1),
        ],
    );
    assert!(matches!(
        read_bitcoin_otc(Cursor::new("")),
        Err(EvalError::Empty)
    ));
}

/// Leakage: the predictions for the first N ratings are identical whether or not the rest of
/// the file is present.
#[test]
fn nothing_from_the_future_leaks_into_a_prediction() {
    let all = otc();
    let n = 4_000;
    let params = ModelParams::default();
    let full = replay(&all[..3 * n], &mut systems(&params, 500), &mut |_| {});
    let prefix = replay(&all[..n], &mut systems(&params, 500), &mut |_| {});
    for i in 0..n {
        let (a, b) = (&full.predictions[i], &prefix.predictions[i]);
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "rating {i}: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn every_system_beats_chance_on_bitcoin_otc_and_stepwise_leads() {
    let ratings = otc();
    assert_eq!(ratings.len(), 35_592);
    let run = replay(
        &ratings,
        &mut systems(&ModelParams::default(), 1000),
        &mut |_| {},
    );
    let scores = run.scores(&ratings);
    let of = |name: &str| {
        scores
            .iter()
            .find(|s| s.system == name)
            .and_then(|s| s.auc_all)
            .expect(name)
    };
    for s in &scores {
        assert!(s.auc_all.is_some_and(|a| a > 0.6), "{s:?}");
    }
    assert!(of("stepwise") > of("beta"), "{scores:?}");
    assert!(of("stepwise") >= 0.90, "the target: {scores:?}");
}

#[test]
fn fraud_scoring_holds_out_the_trusted_core() {
    // User 1 rates 2 at +6 (2 joins the core) and 3 at -6; 2 rates 4 at -8; 5 rates 3 at -4
    // and 4 at +9.
    let ratings: Vec<Rating> = [
        (1, 2, 6),
        (1, 3, -6),
        (2, 4, -8),
        (5, 3, -4),
        (5, 4, 9),
        (6, 3, -2),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(rater, subject, value))| Rating {
        rater,
        subject,
        value,
        time: 1.3e9 + i as f64,
    })
    .collect();
    let labels = HashMap::from([(2, false), (3, true), (4, false), (5, false)]);
    let (aucs, users, core) = fraud_auc(&ratings, &labels, 1, &ModelParams::default());
    assert_eq!(core, 2, "user 1 and user 2");
    assert_eq!(users, 3, "core member 2 is not scored");
    assert_eq!(aucs.len(), 6);
    // With the core's ratings held out, 3 (fraudulent) has only negatives left, 4 (benign) a
    // positive, 5 (benign) nothing: its record puts 3 above both.
    assert_eq!(aucs[0], ("stepwise", Some(1.0)));
    // Another founder: user 5 rated 4 at +9, so 5 and 4 form the core; 2 and 3 are scored.
    let (_, users, core) = fraud_auc(&ratings, &labels, 5, &ModelParams::default());
    assert_eq!((core, users), (2, 2));
}

#[test]
fn the_full_ablation_is_the_shipped_predictor() {
    let ratings = otc();
    let prefix = &ratings[..8_000];
    let params = ModelParams::default();
    let run = replay(prefix, &mut systems(&params, 500), &mut |_| {});
    let shipped = run.scores(prefix)[0].auc_all.expect("both classes");
    let ablations = ablations(prefix, &params, 500);
    assert_eq!(ablations.len(), 6);
    let (name, full) = ablations[5];
    assert!(name.contains("(stepwise)"));
    let full = full.expect("both classes");
    assert!((full - shipped).abs() < 1e-12, "{full} vs {shipped}");
    // Each expert alone does better than chance.
    assert!(
        ablations.iter().all(|(_, a)| a.is_some_and(|a| a > 0.55)),
        "{ablations:?}"
    );
}

fn epinions(lines: usize) -> Vec<Rating> {
    use std::io::{BufRead, Read};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/soc-sign-epinions.txt.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let head = BufReader::new(flate2::read::GzDecoder::new(file)).take(1 << 24);
    let text: Vec<String> = head
        .lines()
        .take(lines)
        .map(|l| l.expect("utf-8"))
        .collect();
    read_snap_signed(Cursor::new(text.join("\n")))
        .expect("the data set parses")
        .0
}

#[test]
fn snap_signed_networks_are_read_in_file_order_without_self_loops() {
    let text =
        "# Directed graph\n# FromNodeId\tToNodeId\tSign\n0\t1\t-1\n2 3 1\n4\t4\t1\n\n5\t0\t+1\n";
    let (ratings, loops) = read_snap_signed(Cursor::new(text)).expect("parses");
    assert_eq!(loops, 1);
    let read: Vec<(u64, u64, i32)> = ratings
        .iter()
        .map(|r| (r.rater, r.subject, r.value))
        .collect();
    assert_eq!(read, [(0, 1, -10), (2, 3, 10), (5, 0, 10)]);
    assert!(ratings.iter().all(|r| r.time == 0.0));
    refused_at_line(
        read_snap_signed,
        &[
            ("0\t1\n", 1),
            ("0\t1\t1\n0\t1\t2\n", 2),
            ("a\t1\t1\n", 1),
            ("0\t1\t0\n", 1),
        ],
    );
    assert!(matches!(
        read_snap_signed(Cursor::new("# only a header\n3\t3\t1\n")),
        Err(EvalError::Empty)
    ));
}

#[test]
fn the_spread_over_folds_agrees_with_a_hand_computed_case() {
    // 0.8, 0.9, 1.0: mean 0.9, sample variance (0.01 + 0 + 0.01) / 2 = 0.01.
    let (mean, sd) = mean_and_sd(&[0.8, 0.9, 1.0]).expect("three values");
    assert!(
        (mean - 0.9).abs() < 1e-12 && (sd - 0.1).abs() < 1e-12,
        "{mean} {sd}"
    );
    assert_eq!(mean_and_sd(&[0.5]), None);
}

#[test]
fn folds_deal_every_rating_once_and_the_shuffle_is_seeded() {
    let order = fold_order(1_000, 7);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1_000).collect::<Vec<_>>(), "a permutation");
    assert_eq!(order, fold_order(1_000, 7));
    assert_ne!(order, fold_order(1_000, 8));
    assert_ne!(order, (0..1_000).collect::<Vec<_>>());
}

/// Leakage in the held-out protocol: a fold's predictions do not depend on the fold's own
/// ratings — flipping the sign of every rating in fold 0 leaves fold 0's predictions as they
/// were, while the other folds (which learned them) see the change.
#[test]
fn a_held_out_rating_never_informs_its_own_prediction() {
    let ratings: Vec<Rating> = otc()[..6_000].to_vec();
    let params = ModelParams::default();
    let make = || systems(&params, usize::MAX);
    let (folds, seed) = (4, 3);
    let base = cross_validate(&ratings, folds, seed, &make, &|_| {});
    let order = fold_order(ratings.len(), seed);
    let mut flipped = ratings.clone();
    for (p, &i) in order.iter().enumerate() {
        if p % folds == 0 {
            flipped[i].value = -flipped[i].value;
        }
    }
    let other = cross_validate(&flipped, folds, seed, &make, &|_| {});
    let mut others_changed = false;
    for (p, &i) in order.iter().enumerate() {
        let (a, b) = (&base.predictions[i], &other.predictions[i]);
        assert_eq!(a.len(), 4, "every rating is predicted by every system");
        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        if p % folds == 0 {
            assert!(same, "rating {i} of the held-out fold: {a:?} vs {b:?}");
        } else {
            others_changed |= !same;
        }
    }
    assert!(
        others_changed,
        "the folds that learned the flipped ratings see them"
    );
}

#[test]
fn stepwise_leads_the_baselines_on_held_out_epinions_edges() {
    let ratings = epinions(120_000);
    let params = ModelParams::default();
    let run = cross_validate(&ratings, 5, 1, &|| systems(&params, usize::MAX), &|_| {});
    let scores = run.scores(&ratings);
    let of = |name: &str| {
        scores
            .iter()
            .find(|s| s.system == name)
            .and_then(|s| s.auc_all)
            .expect(name)
    };
    for baseline in ["mean_rating", "beta", "fairness_goodness"] {
        assert!(of("stepwise") > of(baseline), "{scores:?}");
    }
    assert!(of("stepwise") > 0.85, "{scores:?}");
}
