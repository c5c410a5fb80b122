//! Laws of network rank: EigenTrust agrees with a dense power iteration written here from the
//! definition, conserves mass, is bit-identical across thread counts, matches hand-worked small
//! cases, rejects bad input with the right error, and converges on the real Epinions network.
//! A warm start reaches the same fixed point as a cold one, and a start that is no ranking is
//! the same as none.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use proptest::prelude::*;
use stepwise::model::rank::{
    MAX_NODES, RankError, RankParams, Ranking, TrustGraph, eigentrust, eigentrust_from,
    eigentrust_sequential,
};

/// Parameters tight enough that the iterate is within ~2e-12 of the fixed point even at
/// alpha = 0.05 (error ≤ epsilon·(1 − α)/α), well inside the 1e-9 the laws allow.
fn tight(alpha: f64) -> RankParams {
    RankParams {
        alpha,
        epsilon: 1e-13,
        max_iterations: 100_000,
    }
}

fn graph(nodes: usize, edges: &[(u32, u32, f64)]) -> TrustGraph {
    TrustGraph::from_edges(nodes, edges.iter().copied()).expect("valid graph")
}

fn rank(graph: &TrustGraph, seeds: &[u32], alpha: f64) -> Ranking {
    let ranking = eigentrust(graph, seeds, &tight(alpha)).expect("valid input");
    assert!(ranking.converged, "did not converge: {ranking:?}");
    ranking
}

fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len());
    for (j, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance,
            "score {j}: got {a}, expected {e} (±{tolerance}); all: {actual:?}"
        );
    }
}

fn bits(scores: &[f64]) -> Vec<u64> {
    scores.iter().map(|s| s.to_bits()).collect()
}

/// The oracle: build the dense row-normalised matrix straight from the definition (self-loops
/// dropped, duplicates summed, dangling rows replaced by p) and iterate t = (1−α)Cᵀt + αp.
fn dense_rank(nodes: usize, edges: &[(u32, u32, f64)], seeds: &[u32], alpha: f64) -> Vec<f64> {
    let mut p = vec![0.0; nodes];
    if seeds.is_empty() {
        p.iter_mut().for_each(|v| *v = 1.0 / nodes as f64);
    } else {
        let mut distinct: Vec<u32> = seeds.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        for &s in &distinct {
            p[s as usize] = 1.0 / distinct.len() as f64;
        }
    }
    let mut c = vec![vec![0.0; nodes]; nodes];
    for &(i, j, w) in edges {
        if i != j {
            c[i as usize][j as usize] += w;
        }
    }
    for row in &mut c {
        let total: f64 = row.iter().sum();
        if total > 0.0 {
            row.iter_mut().for_each(|v| *v /= total);
        } else {
            row.clone_from(&p);
        }
    }
    let mut t = p.clone();
    for _ in 0..1_000_000 {
        let next: Vec<f64> = (0..nodes)
            .map(|j| (1.0 - alpha) * (0..nodes).map(|i| c[i][j] * t[i]).sum::<f64>() + alpha * p[j])
            .collect();
        let change: f64 = next.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum();
        t = next;
        if change < 1e-13 {
            return t;
        }
    }
    panic!("dense oracle did not converge");
}

#[derive(Debug, Clone)]
struct Case {
    nodes: usize,
    edges: Vec<(u32, u32, f64)>,
    seeds: Vec<u32>,
    alpha: f64,
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        3 => 1e-3f64..10.0,
        2 => (1u32..5).prop_map(f64::from),
    ]
}

/// Sparse random graphs: with at most ~1.5 edges per node many nodes trust nobody (dangling),
/// and zero weights, self-loops and duplicate pairs all occur.
fn case() -> impl Strategy<Value = Case> {
    (1usize..=60).prop_flat_map(|nodes| {
        let n = nodes as u32;
        (
            prop::collection::vec((0..n, 0..n, weight()), 0..=nodes * 3 / 2 + 1),
            prop_oneof![Just(Vec::new()), prop::collection::vec(0..n, 1..=5),],
            0.05f64..=1.0,
        )
            .prop_map(move |(edges, seeds, alpha)| Case {
                nodes,
                edges,
                seeds,
                alpha,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn agrees_with_dense_power_iteration(case in case()) {
        let g = graph(case.nodes, &case.edges);
        let params = tight(case.alpha);
        let parallel = eigentrust(&g, &case.seeds, &params).expect("valid input");
        let sequential = eigentrust_sequential(&g, &case.seeds, &params).expect("valid input");
        prop_assert!(parallel.converged);
        prop_assert_eq!(bits(&parallel.scores), bits(&sequential.scores));
        prop_assert_eq!(parallel.iterations, sequential.iterations);
        prop_assert_eq!(parallel.delta.to_bits(), sequential.delta.to_bits());

        let expected = dense_rank(case.nodes, &case.edges, &case.seeds, case.alpha);
        for (j, (got, want)) in parallel.scores.iter().zip(&expected).enumerate() {
            prop_assert!((got - want).abs() <= 1e-9, "node {}: {} vs dense {}", j, got, want);
            prop_assert!(*got >= 0.0, "node {} has negative score {}", j, got);
        }
        let total: f64 = parallel.scores.iter().sum();
        prop_assert!((total - 1.0).abs() <= 1e-12, "scores sum to {}", total);
    }

    #[test]
    fn scaling_a_trusters_weights_changes_nothing(case in case(), factor in 1e-6f64..1e6) {
        let Some(&(truster, _, _)) = case.edges.first() else { return Ok(()) };
        let scaled: Vec<_> = case
            .edges
            .iter()
            .map(|&(i, j, w)| (i, j, if i == truster { w * factor } else { w }))
            .collect();
        let before = rank(&graph(case.nodes, &case.edges), &case.seeds, case.alpha);
        let after = rank(&graph(case.nodes, &scaled), &case.seeds, case.alpha);
        for (a, b) in before.scores.iter().zip(&after.scores) {
            prop_assert!((a - b).abs() <= 1e-12, "{} vs {}", a, b);
        }
    }
}

/// Any start vector: shorter or longer than the graph, sparse, or not summing to 1.
fn start() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![1 => Just(0.0), 3 => 0.0f64..5.0], 0..=70)
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Each result is within 2(1 − α)ε/α of the fixed point in L1 (see `eigentrust`), so the
    /// two are within 4ε/α of each other.
    #[test]
    fn warm_start_reaches_the_cold_fixed_point(case in case(), start in start()) {
        let g = graph(case.nodes, &case.edges);
        let params = RankParams { alpha: case.alpha, ..RankParams::default() };
        let cold = eigentrust(&g, &case.seeds, &params).expect("valid input");
        let warm = eigentrust_from(&g, &case.seeds, &params, Some(&start)).expect("valid input");
        prop_assert!(warm.converged);
        let bound = 4.0 * params.epsilon / params.alpha;
        prop_assert!(l1(&warm.scores, &cold.scores) <= bound, "L1 {} > {}", l1(&warm.scores, &cold.scores), bound);
        let total: f64 = warm.scores.iter().sum();
        prop_assert!((total - 1.0).abs() <= 1e-12, "scores sum to {}", total);
        prop_assert!(warm.scores.iter().all(|&s| s >= 0.0));
    }

    #[test]
    fn warm_start_from_the_answer_stops_at_once(case in case()) {
        let g = graph(case.nodes, &case.edges);
        let exact = rank(&g, &case.seeds, case.alpha);
        let params = RankParams { alpha: case.alpha, ..RankParams::default() };
        let warm = eigentrust_from(&g, &case.seeds, &params, Some(&exact.scores)).expect("valid input");
        prop_assert!(warm.converged);
        prop_assert!(warm.iterations <= 2, "{} iterations", warm.iterations);
        prop_assert!(l1(&warm.scores, &exact.scores) <= 1e-11);
    }
}

#[test]
fn a_start_that_is_no_ranking_is_a_cold_start() {
    let g = graph(4, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (3, 1, 2.0)]);
    let params = RankParams::default();
    let cold = eigentrust(&g, &[1], &params).expect("valid input");
    assert_eq!(
        bits(
            &eigentrust_from(&g, &[1], &params, None)
                .expect("valid input")
                .scores
        ),
        bits(&cold.scores)
    );
    let subnormal = f64::MIN_POSITIVE / 4.0;
    for start in [
        &[][..],
        &[0.0, 0.0, 0.0, 0.0],
        &[0.0, 0.0],
        &[0.3, f64::NAN, 0.3, 0.4],
        &[0.3, -0.1, 0.4, 0.4],
        &[f64::INFINITY, 0.0, 0.0, 0.0],
        &[f64::MAX, f64::MAX, 0.0, 0.0],
        &[subnormal, 0.0, 0.0, 0.0],
    ] {
        let warm = eigentrust_from(&g, &[1], &params, Some(start)).expect("valid input");
        assert_eq!(warm, cold, "start {start:?}");
    }
}

#[test]
fn nodes_added_since_start_at_their_teleport_share() {
    // Node 3 is new: the old ranking covers 0..3 only. One iteration from the start shows
    // where it began: with alpha = 1 the result is the teleport vector whatever the start.
    let g = graph(4, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (3, 1, 1.0)]);
    let old = rank(
        &graph(3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]),
        &[],
        0.15,
    );
    let params = RankParams::default();
    let cold = eigentrust(&g, &[], &params).expect("valid input");
    let warm = eigentrust_from(&g, &[], &params, Some(&old.scores)).expect("valid input");
    assert!(warm.converged);
    assert!(warm.iterations < cold.iterations, "{warm:?} vs {cold:?}");
    assert!(l1(&warm.scores, &cold.scores) <= 4.0 * params.epsilon / params.alpha);
    // Only a full start's shape is used: doubling it (exact in binary) changes no bit.
    let full = [0.1, 0.2, 0.3, 0.4];
    let doubled = full.map(|s| s * 2.0);
    assert_eq!(
        eigentrust_from(&g, &[], &params, Some(&full)),
        eigentrust_from(&g, &[], &params, Some(&doubled))
    );
}

/// The sweeps are Gauss–Seidel and run on one thread, so no thread count can change a bit; this
/// pins that on a graph of many components, and would catch a parallel sweep whose sums were
/// grouped by thread.
#[test]
fn bit_identical_for_every_thread_count() {
    let nodes = 20_000usize;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let edges: Vec<(u32, u32, f64)> = (0..80_000)
        .map(|_| {
            let truster = (next() % nodes as u64) as u32;
            // Skewed subjects so in-degrees vary a lot, as in real trust networks.
            let subject = ((next() % nodes as u64) * (next() % nodes as u64) / nodes as u64) as u32;
            let weight = (next() % 1000) as f64 / 100.0;
            (truster, subject, weight)
        })
        .collect();
    let g = graph(nodes, &edges);
    let params = RankParams::default();
    for seeds in [&[][..], &[3, 17, 17, 19_999][..]] {
        let baseline = eigentrust_sequential(&g, seeds, &params).expect("valid input");
        assert!(baseline.converged);
        for threads in [1, 2, 3, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            let parallel = pool
                .install(|| eigentrust(&g, seeds, &params))
                .expect("valid input");
            assert_eq!(
                bits(&parallel.scores),
                bits(&baseline.scores),
                "{threads} threads"
            );
            assert_eq!(parallel.iterations, baseline.iterations);
            assert_eq!(parallel.delta.to_bits(), baseline.delta.to_bits());
        }
    }
}

/// Nodes on no cycle are computed once, in dependency order, exactly: a chain of trust long
/// enough to overflow a recursive search takes one pass, and no link holds less than its
/// truster (it has its own teleport share plus (1 − α) of its truster's score; far down the
/// chain the two round to the same number).
#[test]
fn a_long_chain_of_trust_takes_one_pass() {
    let nodes = 300_000u32;
    // Numbered against the chain, so that dependency order is not the caller's order.
    let edges: Vec<_> = (1..nodes).map(|k| (k, k - 1, 1.0)).collect();
    let g = graph(nodes as usize, &edges);
    let ranking = eigentrust(&g, &[], &RankParams::default()).expect("valid input");
    assert!(ranking.converged);
    assert_eq!(ranking.iterations, 1);
    assert_eq!(ranking.delta, 0.0);
    let scores = &ranking.scores;
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    let last = nodes as usize - 1;
    assert!(scores[last - 1] > scores[last] && scores[0] > scores[last - 1]);
    // 300,000 terms: the rounding of the sums (here and in the kernel) is what is left.
    let total: f64 = ranking.scores.iter().sum();
    assert!((total - 1.0).abs() <= 1e-9, "scores sum to {total}");
}

#[test]
fn two_cycle_without_seeds_splits_evenly() {
    let g = graph(2, &[(0, 1, 1.0), (1, 0, 3.0)]);
    assert_close(&rank(&g, &[], 0.15).scores, &[0.5, 0.5], 1e-15);
}

#[test]
fn two_cycle_with_one_seed() {
    // t0 = (1−α)·t1 + α and t1 = (1−α)·t0 give t0 = 1/(2−α), t1 = (1−α)/(2−α).
    let alpha = 0.15;
    let g = graph(2, &[(0, 1, 1.0), (1, 0, 1.0)]);
    let expected = [1.0 / (2.0 - alpha), (1.0 - alpha) / (2.0 - alpha)];
    assert_close(&rank(&g, &[0], alpha).scores, &expected, 1e-12);
}

#[test]
fn star_of_leaves_trusting_a_dangling_centre() {
    // Centre 0 trusts nobody, so its mass is spread uniformly; each of k leaves gets only that
    // teleport share c, the centre gets c·(1 + (1−α)k), and the total gives c = 1/(1 + k(2−α)).
    let (alpha, k) = (0.15, 4u32);
    let edges: Vec<_> = (1..=k).map(|leaf| (leaf, 0, 1.0)).collect();
    let g = graph(k as usize + 1, &edges);
    let c = 1.0 / (1.0 + f64::from(k) * (2.0 - alpha));
    let mut expected = vec![c; k as usize + 1];
    expected[0] = c * (1.0 + (1.0 - alpha) * f64::from(k));
    assert_close(&rank(&g, &[], alpha).scores, &expected, 1e-12);
}

#[test]
fn edges_that_only_point_at_a_seed_leave_everything_with_the_seed() {
    // The seed is dangling, so its mass goes back to p = the seed; the others get nothing.
    let g = graph(4, &[(1, 0, 1.0), (2, 0, 2.0), (3, 0, 0.5)]);
    let ranking = rank(&g, &[0], 0.15);
    assert_close(&ranking.scores, &[1.0, 0.0, 0.0, 0.0], 1e-15);
    assert_eq!(&ranking.scores[1..], &[0.0, 0.0, 0.0]);
}

#[test]
fn no_edges_gives_the_teleport_vector() {
    let g = graph(5, &[]);
    assert_eq!(g.edges(), 0);
    assert_close(&rank(&g, &[], 0.3).scores, &[0.2; 5], 1e-15);
    assert_close(
        &rank(&g, &[1, 3], 0.3).scores,
        &[0.0, 0.5, 0.0, 0.5, 0.0],
        1e-15,
    );
}

#[test]
fn a_node_nobody_trusts_gets_only_its_teleport_share() {
    // A 3-cycle plus node 3 trusting node 0; no node is dangling and nobody trusts node 3, so
    // its score is (1−α)·0 + α·p3: α/4 without seeds, exactly 0 when it is not a seed. (Up to
    // the iteration's tolerance: its value is exact, but the scores are rescaled by a sum
    // that includes the cycle's, known to about `tight`'s epsilon.)
    let alpha = 0.2;
    let g = graph(4, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (3, 0, 1.0)]);
    let uniform = rank(&g, &[], alpha);
    assert!(
        (uniform.scores[3] - alpha / 4.0).abs() <= 1e-13,
        "{uniform:?}"
    );
    let seeded = rank(&g, &[0], alpha);
    assert_eq!(seeded.scores[3], 0.0);
    let total: f64 = seeded.scores[..3].iter().sum();
    assert!((total - 1.0).abs() <= 1e-12);
}

#[test]
fn seeds_get_more_than_non_seeds_in_a_symmetric_graph() {
    let nodes = 6u32;
    let edges: Vec<_> = (0..nodes)
        .flat_map(|i| (0..nodes).map(move |j| (i, j, 1.0)))
        .collect();
    let g = graph(nodes as usize, &edges);
    let scores = rank(&g, &[0, 1], 0.15).scores;
    // Gauss–Seidel visits the nodes in turn, so symmetric nodes agree only up to the tolerance.
    assert!((scores[0] - scores[1]).abs() <= 1e-13);
    for &other in &scores[2..] {
        assert!(scores[1] > other + 0.01, "{scores:?}");
        assert!((other - scores[2]).abs() <= 1e-13);
    }
}

#[test]
fn duplicate_seeds_count_once() {
    let g = graph(3, &[(0, 1, 1.0), (1, 2, 1.0)]);
    let once = rank(&g, &[0, 2], 0.15);
    let repeated = rank(&g, &[2, 0, 0, 2, 0], 0.15);
    assert_eq!(bits(&once.scores), bits(&repeated.scores));
}

#[test]
fn duplicates_merge_and_self_loops_and_zero_weights_drop() {
    let messy = graph(
        3,
        &[
            (0, 1, 1.0),
            (0, 1, 2.0),
            (0, 2, 1.0),
            (1, 1, 5.0),
            (2, 0, 0.0),
            (2, 1, 4.0),
        ],
    );
    let clean = graph(3, &[(0, 1, 3.0), (0, 2, 1.0), (2, 1, 4.0)]);
    assert_eq!(messy.nodes(), 3);
    assert_eq!(messy.edges(), 3);
    assert_close(
        &rank(&messy, &[], 0.15).scores,
        &rank(&clean, &[], 0.15).scores,
        1e-15,
    );
}

#[test]
fn huge_weights_do_not_overflow_the_row_total() {
    let g = graph(
        3,
        &[(0, 1, f64::MAX), (0, 2, f64::MAX), (1, 0, 1.0), (2, 0, 1.0)],
    );
    let even = graph(3, &[(0, 1, 1.0), (0, 2, 1.0), (1, 0, 1.0), (2, 0, 1.0)]);
    let scores = rank(&g, &[], 0.15).scores;
    assert_close(&scores, &rank(&even, &[], 0.15).scores, 1e-15);
}

#[test]
fn stops_at_max_iterations_without_claiming_convergence() {
    // A 3-cycle with seed 0: one Gauss–Seidel sweep from the teleport vector is not enough, so
    // the answer is one sweep's, honestly flagged; the fixed point is t1 = (1 − α)·t0,
    // t2 = (1 − α)·t1, the three summing to 1.
    let g = graph(3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]);
    let params = RankParams {
        max_iterations: 1,
        ..RankParams::default()
    };
    let d = 1.0 - params.alpha;
    let fixed = [1.0, d, d * d].map(|t| t / (1.0 + d + d * d));
    let one = eigentrust(&g, &[0], &params).expect("valid input");
    assert_eq!(one.iterations, 1);
    assert!(!one.converged);
    assert!(one.delta > params.epsilon, "{one:?}");
    assert!(l1(&one.scores, &fixed) > 1e-3, "{one:?}");
    let total: f64 = one.scores.iter().sum();
    assert!((total - 1.0).abs() <= 1e-15);

    let settled = eigentrust(&g, &[0], &RankParams::default()).expect("valid input");
    assert!(settled.converged && settled.iterations > 1, "{settled:?}");
    assert_close(&settled.scores, &fixed, 1e-9);
}

#[test]
fn alpha_one_is_the_teleport_vector_at_once() {
    let g = graph(3, &[(0, 1, 1.0), (1, 2, 1.0)]);
    let ranking = eigentrust(
        &g,
        &[2],
        &RankParams {
            alpha: 1.0,
            ..RankParams::default()
        },
    )
    .expect("valid input");
    assert_eq!(ranking.scores, vec![0.0, 0.0, 1.0]);
    assert_eq!(ranking.iterations, 1);
    assert!(ranking.converged);
}

#[test]
fn top_orders_by_score_then_index() {
    let ranking = Ranking {
        scores: vec![0.1, 0.3, 0.1, 0.3, 0.2],
        iterations: 1,
        delta: 0.0,
        converged: true,
    };
    assert_eq!(ranking.top(3), vec![(1, 0.3), (3, 0.3), (4, 0.2)]);
    assert_eq!(
        ranking.top(99),
        vec![(1, 0.3), (3, 0.3), (4, 0.2), (0, 0.1), (2, 0.1)]
    );
    assert_eq!(ranking.top(0), vec![]);
}

#[test]
fn default_params() {
    assert_eq!(
        RankParams::default(),
        RankParams {
            alpha: 0.15,
            epsilon: 1e-10,
            max_iterations: 1000
        }
    );
}

#[test]
fn bad_weights_are_rejected() {
    for weight in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -1e-300] {
        let err = TrustGraph::from_edges(3, [(0, 1, 1.0), (1, 2, weight)]).expect_err("bad weight");
        match err {
            RankError::BadWeight {
                truster: 1,
                subject: 2,
                weight: w,
            } => assert_eq!(w.to_bits(), weight.to_bits()),
            ref other => panic!("weight {weight}: wrong error {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("1 -> 2") && text.contains(&weight.to_string()),
            "{text}"
        );
    }
}

#[test]
fn out_of_range_nodes_are_rejected() {
    for (edge, index) in [
        ((3, 0, 1.0), 3),
        ((0, 3, 1.0), 3),
        ((0, u32::MAX, 0.0), u32::MAX),
    ] {
        assert_eq!(
            TrustGraph::from_edges(3, [(0, 1, 1.0), edge]).expect_err("out of range"),
            RankError::NodeOutOfRange { index, nodes: 3 }
        );
    }
    assert_eq!(
        TrustGraph::from_edges(MAX_NODES + 1, []).expect_err("too many"),
        RankError::TooManyNodes {
            nodes: MAX_NODES + 1,
            max: MAX_NODES
        }
    );
}

#[test]
fn bad_seeds_and_params_are_rejected_by_both_entry_points() {
    let g = graph(3, &[(0, 1, 1.0)]);
    let ok = RankParams::default();
    let with = |f: fn(&mut RankParams)| {
        let mut params = ok;
        f(&mut params);
        params
    };
    let cases: Vec<(&[u32], RankParams, &str)> = vec![
        (&[0, 3], ok, "seed"),
        (&[], with(|p| p.alpha = 0.0), "alpha"),
        (&[], with(|p| p.alpha = 1.5), "alpha"),
        (&[], with(|p| p.alpha = -0.1), "alpha"),
        (&[], with(|p| p.alpha = f64::NAN), "alpha"),
        (&[], with(|p| p.epsilon = 0.0), "epsilon"),
        (&[], with(|p| p.epsilon = -1e-9), "epsilon"),
        (&[], with(|p| p.epsilon = f64::NAN), "epsilon"),
        (&[], with(|p| p.epsilon = f64::INFINITY), "epsilon"),
        (&[], with(|p| p.max_iterations = 0), "max_iterations"),
    ];
    for (seeds, params, what) in cases {
        for run in [eigentrust, eigentrust_sequential] {
            let err = run(&g, seeds, &params).expect_err(what);
            match (&err, what) {
                (RankError::SeedOutOfRange { seed: 3, nodes: 3 }, "seed") => {}
                (RankError::BadParam { name, .. }, _) if *name == what => {}
                _ => panic!("{what} with {params:?}: wrong error {err:?}"),
            }
            assert!(err.to_string().contains(what), "{err}");
        }
    }
    let empty = graph(0, &[]);
    assert_eq!(
        eigentrust(&empty, &[], &ok).expect_err("empty"),
        RankError::EmptyGraph
    );
}

/// Epinions: 4 `#` header lines, then `from<TAB>to<TAB>sign` with sign ±1. Ids are mapped to
/// dense indexes in order of first appearance; local trust is max(sign, 0), so distrust edges
/// carry weight 0 and are dropped by the graph builder.
struct Epinions {
    nodes: usize,
    edges: Vec<(u32, u32, f64)>,
}

fn load_epinions() -> Epinions {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/soc-sign-epinions.txt.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "the Epinions data set is missing at {}: {e} (see shared/data/PROVENANCE.md)",
            path.display()
        )
    });
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut dense = |id: u64| {
        let next = u32::try_from(ids.len()).expect("fewer than 2^32 users");
        *ids.entry(id).or_insert(next)
    };
    let mut edges = Vec::with_capacity(841_372);
    for (number, line) in reader.lines().enumerate() {
        let line = line.unwrap_or_else(|e| panic!("{}: line {}: {e}", path.display(), number + 1));
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let mut field = |what: &str| -> i64 {
            fields
                .next()
                .and_then(|f| f.trim().parse().ok())
                .unwrap_or_else(|| panic!("line {}: bad {what} in {line:?}", number + 1))
        };
        let (from, to, sign) = (field("from"), field("to"), field("sign"));
        assert!(sign == 1 || sign == -1, "line {}: sign {sign}", number + 1);
        let truster = dense(u64::try_from(from).expect("non-negative id"));
        let subject = dense(u64::try_from(to).expect("non-negative id"));
        edges.push((truster, subject, sign.max(0) as f64));
    }
    Epinions {
        nodes: ids.len(),
        edges,
    }
}

#[test]
fn epinions_converges() {
    let data = load_epinions();
    assert_eq!(data.edges.len(), 841_372);
    assert_eq!(data.nodes, 131_828);
    let positive = data.edges.iter().filter(|e| e.2 > 0.0).count();
    let g = TrustGraph::from_edges(data.nodes, data.edges.iter().copied()).expect("valid graph");
    assert_eq!(g.nodes(), 131_828);
    assert!(
        g.edges() > 0 && g.edges() <= positive,
        "{} of {positive}",
        g.edges()
    );

    let ranking = eigentrust(&g, &[], &RankParams::default()).expect("valid input");
    assert!(
        ranking.converged,
        "{} iterations, delta {}",
        ranking.iterations, ranking.delta
    );
    let total: f64 = ranking.scores.iter().sum();
    assert!((total - 1.0).abs() <= 1e-9, "scores sum to {total}");
    assert!(ranking.scores.iter().all(|&s| s >= 0.0));
    let top = ranking.top(10);
    assert_eq!(top.len(), 10);
    assert!(top[0].1 > 0.0);
    // Trust concentrates: the best-ranked user holds far more than an average share.
    assert!(top[0].1 > 10.0 / data.nodes as f64, "{top:?}");
}
