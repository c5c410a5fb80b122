//! Network rank benchmarks on the Epinions signed trust network (131,828 users, 841,372 signed
//! edges; positive edges become local trust): `eigentrust` and `eigentrust_sequential` (the same
//! Gauss–Seidel computation since the sweeps became sequential; both rows stay as a check),
//! uniform teleport and ten seeds, and the cost of building the graph from the edge list. Also in
//! the same run: the number of iterations (sweeps of the component that needed most) and the
//! time per iteration, against a memory-bandwidth bound — one streaming pass over arrays of the
//! byte volume of one pass of the earlier power iteration (12 bytes per edge; the sweeps now read
//! 4 on Epinions), on one thread and on all (rayon) — with the ratio printed. And a refresh after 1,000 random new edges: warm
//! from the ranking before them against cold, alternating in the same run. Figures:
//! docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

mod common;

use common::{Rng, Samples, timed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use stepwise::model::rank::{
    RankParams, TrustGraph, eigentrust, eigentrust_from, eigentrust_sequential,
};

/// Epinions as local trust: a positive edge is weight 1, a negative one is dropped (weight 0).
fn load_epinions() -> (usize, Vec<(u32, u32, f64)>) {
    let (nodes, edges) = common::epinions().unwrap_or_else(|| {
        panic!("the Epinions data set is missing from ../shared/data (see its PROVENANCE.md)")
    });
    let weighted = edges
        .into_iter()
        .map(|(truster, subject, sign)| (truster, subject, f64::from(sign.max(0))))
        .collect();
    (nodes, weighted)
}

/// The ten users with the most positive in-edges, as a plausible pre-trusted set.
fn most_trusted(nodes: usize, edges: &[(u32, u32, f64)], n: usize) -> Vec<u32> {
    let mut in_degree = vec![0u32; nodes];
    for &(truster, subject, weight) in edges {
        if weight > 0.0 && truster != subject {
            in_degree[subject as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..nodes as u32).collect();
    order.sort_by_key(|&j| (std::cmp::Reverse(in_degree[j as usize]), j));
    order.truncate(n);
    order
}

/// Seconds per call of each sample criterion takes, so that its median can be printed and
/// compared with a peer's in the same run. Criterion's warm-up calls come first and its
/// `sample_size` measured samples last.
/// Nodes per chunk, as in the rank kernel.
const CHUNK: usize = 1024;

/// Arrays with the byte volume of one iteration's pass over the graph: the row pointers, the u32
/// truster index and f64 weight of every kept edge (laid out by subject as the graph is), the
/// current scores, the teleport vector and the dangling flags read, and the new scores written.
struct Pass {
    offsets: Vec<usize>,
    trusters: Vec<u32>,
    weights: Vec<f64>,
    current: Vec<f64>,
    p: Vec<f64>,
    dangling: Vec<bool>,
}

impl Pass {
    /// The same segment lengths as the graph `TrustGraph::from_edges` builds from `edges`
    /// (positive weights, no self-loops, duplicate pairs merged).
    fn new(nodes: usize, edges: &[(u32, u32, f64)]) -> Self {
        let mut kept: Vec<(u32, u32)> = edges
            .iter()
            .filter(|&&(t, s, w)| w > 0.0 && t != s)
            .map(|&(t, s, _)| (s, t))
            .collect();
        kept.sort_unstable();
        kept.dedup();
        let mut offsets = vec![0usize; nodes + 1];
        let mut out_degree = vec![0u32; nodes];
        for &(s, t) in &kept {
            offsets[s as usize + 1] += 1;
            out_degree[t as usize] += 1;
        }
        for j in 0..nodes {
            offsets[j + 1] += offsets[j];
        }
        Self {
            offsets,
            trusters: kept.iter().map(|&(_, t)| t).collect(),
            weights: kept.iter().map(|&(s, t)| f64::from(s ^ t) * 1e-9).collect(),
            current: vec![1.0 / nodes as f64; nodes],
            p: vec![1.0 / nodes as f64; nodes],
            dangling: out_degree.iter().map(|&d| d == 0).collect(),
        }
    }

    /// Bytes read and written by one pass.
    fn bytes(&self) -> u64 {
        let n = self.current.len();
        (self.offsets.len() * 8 + self.trusters.len() * 12 + n * (8 + 8 + 1 + 8)) as u64
    }

    /// Streams over nodes `first..first + out.len()`: every array read once (summed as
    /// integers, which vectorises, so the loop is bound by memory, not by additions) and `out`
    /// written.
    fn chunk(&self, first: usize, out: &mut [f64]) -> u64 {
        let last = first + out.len();
        let edges = self.offsets[first]..self.offsets[last];
        let mut sum = 0u64;
        for &t in &self.trusters[edges.clone()] {
            sum = sum.wrapping_add(u64::from(t));
        }
        for &w in &self.weights[edges] {
            sum = sum.wrapping_add(w.to_bits());
        }
        for &o in &self.offsets[first + 1..=last] {
            sum = sum.wrapping_add(o as u64);
        }
        sum = sum.wrapping_add(self.dangling[first..last].iter().filter(|&&d| d).count() as u64);
        for ((slot, &c), &p) in out
            .iter_mut()
            .zip(&self.current[first..last])
            .zip(&self.p[first..last])
        {
            *slot = c + p;
        }
        sum
    }

    fn single(&self, next: &mut [f64]) -> u64 {
        next.chunks_mut(CHUNK)
            .enumerate()
            .map(|(i, out)| self.chunk(i * CHUNK, out))
            .fold(0, u64::wrapping_add)
    }

    fn parallel(&self, next: &mut [f64]) -> u64 {
        next.par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(i, out)| self.chunk(i * CHUNK, out))
            .reduce(|| 0, u64::wrapping_add)
    }
}

fn bench(c: &mut Criterion) {
    let (nodes, edges) = load_epinions();
    let graph = TrustGraph::from_edges(nodes, edges.iter().copied()).expect("valid graph");
    let seeds = most_trusted(nodes, &edges, 10);
    let params = RankParams::default();

    let uniform = eigentrust(&graph, &[], &params).expect("rank");
    let seeded = eigentrust(&graph, &seeds, &params).expect("rank");
    eprintln!(
        "epinions: {nodes} nodes, {} input edges, {} trust edges kept; uniform p: {} iterations \
         (converged {}, delta {:.2e}); 10 seeds: {} iterations (converged {}); rayon threads {}",
        edges.len(),
        graph.edges(),
        uniform.iterations,
        uniform.converged,
        uniform.delta,
        seeded.iterations,
        seeded.converged,
        rayon::current_num_threads(),
    );

    const SAMPLES: usize = 20;
    let [parallel, sequential, seeded_time, bound_single, bound_rayon]: [Samples; 5] =
        Default::default();
    let mut group = c.benchmark_group("rank_epinions");
    group.sample_size(SAMPLES);
    group.bench_function("eigentrust", |b| {
        timed(b, &parallel, || {
            eigentrust(black_box(&graph), &[], &params).expect("rank")
        })
    });
    group.bench_function("eigentrust_sequential", |b| {
        timed(b, &sequential, || {
            eigentrust_sequential(black_box(&graph), &[], &params).expect("rank")
        })
    });
    group.bench_function("eigentrust_10_seeds", |b| {
        timed(b, &seeded_time, || {
            eigentrust(black_box(&graph), black_box(&seeds), &params).expect("rank")
        })
    });
    group.finish();

    // The bound: one streaming pass over the same byte volume.
    let pass = Pass::new(nodes, &edges);
    assert_eq!(
        pass.trusters.len(),
        graph.edges(),
        "the pass mirrors the graph"
    );
    let mut next = vec![0.0f64; nodes];
    let mut group = c.benchmark_group("sparse_pass_bound");
    group.sample_size(SAMPLES);
    group.throughput(Throughput::Bytes(pass.bytes()));
    group.bench_function("stream_single", |b| {
        timed(b, &bound_single, || pass.single(black_box(&mut next)))
    });
    group.bench_function("stream_rayon", |b| {
        timed(b, &bound_rayon, || pass.parallel(black_box(&mut next)))
    });
    group.finish();

    let per_iteration = |samples: &Samples, iterations: u32| {
        samples.median(SAMPLES).map(|m| m / f64::from(iterations))
    };
    let (par, seq, seeded_per) = (
        per_iteration(&parallel, uniform.iterations),
        per_iteration(&sequential, uniform.iterations),
        per_iteration(&seeded_time, seeded.iterations),
    );
    let (single, rayon) = (bound_single.median(SAMPLES), bound_rayon.median(SAMPLES));
    let us = |t: Option<f64>| t.map_or("not run".to_owned(), |t| format!("{:.1} µs", t * 1e6));
    let gbs = |t: Option<f64>| {
        t.map_or(String::new(), |t| {
            format!(" ({:.1} GB/s)", pass.bytes() as f64 / t / 1e9)
        })
    };
    eprintln!(
        "eigentrust per iteration (criterion median / iterations): parallel {} ({} iterations), \
         sequential {}, 10 seeds {} ({} iterations)",
        us(par),
        uniform.iterations,
        us(seq),
        us(seeded_per),
        seeded.iterations,
    );
    eprintln!(
        "one streaming pass of {:.2} MB ({} edges × 12 B + {} nodes × 33 B): one thread {}{}, \
         rayon {}{}",
        pass.bytes() as f64 / 1e6,
        graph.edges(),
        nodes,
        us(single),
        gbs(single),
        us(rayon),
        gbs(rayon),
    );
    if let (Some(par), Some(seq), Some(single), Some(rayon)) = (par, seq, single, rayon) {
        eprintln!(
            "time per iteration / bound: parallel vs rayon pass {:.2}, sequential vs one-thread \
             pass {:.2}",
            par / rayon,
            seq / single,
        );
        // The two sides above were measured seconds apart, and the other tenant of a shared
        // machine comes and goes: measure the ratios again back to back, round by round.
        const ROUNDS: usize = 15;
        let (mut parallel_ratio, mut sequential_ratio) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let per_pass = |pass_fn: &dyn Fn(&mut [f64]) -> u64, next: &mut [f64]| {
                let start = Instant::now();
                for _ in 0..10 {
                    black_box(pass_fn(black_box(next)));
                }
                start.elapsed().as_secs_f64() / 10.0
            };
            let start = Instant::now();
            let ranking = eigentrust(&graph, &[], &params).expect("rank");
            let par = start.elapsed().as_secs_f64() / f64::from(ranking.iterations);
            let rayon = per_pass(&|next| pass.parallel(next), &mut next);
            parallel_ratio.push(par / rayon);
            let start = Instant::now();
            let ranking = eigentrust_sequential(&graph, &[], &params).expect("rank");
            let seq = start.elapsed().as_secs_f64() / f64::from(ranking.iterations);
            let single = per_pass(&|next| pass.single(next), &mut next);
            sequential_ratio.push(seq / single);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        eprintln!(
            "time per iteration / bound, interleaved ({ROUNDS} rounds, median of per-round ratios): \
             parallel vs rayon pass {:.2}, sequential vs one-thread pass {:.2}",
            median(parallel_ratio),
            median(sequential_ratio),
        );
    }

    refresh(c, nodes, &edges, &graph, &params);

    let mut group = c.benchmark_group("build_epinions");
    group.sample_size(20);
    group.throughput(Throughput::Elements(edges.len() as u64));
    group.bench_function("from_edges", |b| {
        b.iter(|| TrustGraph::from_edges(nodes, black_box(&edges).iter().copied()).expect("graph"))
    });
    group.finish();
}

/// After 1,000 random new trust edges, the new ranking cold and warm from the old one: the two
/// criterion medians, then the ratio again back to back (cold and warm alternating, median of
/// the per-round ratios), the iterations each took and how far apart the results are (L1).
fn refresh(
    c: &mut Criterion,
    nodes: usize,
    edges: &[(u32, u32, f64)],
    graph: &TrustGraph,
    params: &RankParams,
) {
    let before = eigentrust(graph, &[], params).expect("rank");
    let mut rng = Rng(13);
    let mut grown = edges.to_vec();
    for _ in 0..1_000 {
        let truster = rng.below(nodes as u64) as u32;
        let subject = rng.below(nodes as u64) as u32;
        grown.push((truster, subject, 1.0));
    }
    let after = TrustGraph::from_edges(nodes, grown).expect("valid graph");
    let start = Some(&before.scores[..]);
    let cold = eigentrust(&after, &[], params).expect("rank");
    let warm = eigentrust_from(&after, &[], params, start).expect("rank");
    let l1: f64 = cold
        .scores
        .iter()
        .zip(&warm.scores)
        .map(|(a, b)| (a - b).abs())
        .sum();
    let moved: f64 = cold
        .scores
        .iter()
        .zip(&before.scores)
        .map(|(a, b)| (a - b).abs())
        .sum();
    eprintln!(
        "after 1,000 new edges: cold {} iterations, warm {} iterations (both converged: {}); \
         L1 warm vs cold {l1:.2e} (epsilon {:.0e}); L1 new vs old ranking {moved:.2e}",
        cold.iterations,
        warm.iterations,
        cold.converged && warm.converged,
        params.epsilon,
    );

    const SAMPLES: usize = 20;
    let [cold_time, warm_time]: [Samples; 2] = Default::default();
    let mut group = c.benchmark_group("refresh_after_1000_edges");
    group.sample_size(SAMPLES);
    group.bench_function("cold", |b| {
        timed(b, &cold_time, || {
            eigentrust(black_box(&after), &[], params).expect("rank")
        })
    });
    group.bench_function("warm", |b| {
        timed(b, &warm_time, || {
            eigentrust_from(black_box(&after), &[], params, start).expect("rank")
        })
    });
    group.finish();
    if let (Some(cold), Some(warm)) = (cold_time.median(SAMPLES), warm_time.median(SAMPLES)) {
        eprintln!(
            "refresh medians: cold {:.1} ms, warm {:.1} ms, cold / warm {:.2}",
            cold * 1e3,
            warm * 1e3,
            cold / warm
        );
    }
    const ROUNDS: usize = 15;
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let timed_run = |run: &dyn Fn() -> u32| {
                let begin = Instant::now();
                black_box(run());
                begin.elapsed().as_secs_f64()
            };
            let cold = timed_run(&|| eigentrust(&after, &[], params).expect("rank").iterations);
            let warm = timed_run(&|| {
                eigentrust_from(&after, &[], params, start)
                    .expect("rank")
                    .iterations
            });
            cold / warm
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "refresh cold / warm, interleaved ({ROUNDS} rounds, median of per-round ratios): {:.2}",
        ratios[ROUNDS / 2]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
