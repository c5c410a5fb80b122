//! Network rank benchmarks on the Epinions signed trust network (131,828 users, 841,372 signed
//! edges; positive edges become local trust): the parallel power iteration against the same
//! iteration on one thread in the same run, uniform teleport and ten seeds, and the cost of
//! building the transposed sparse graph from the edge list.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stepwise::model::rank::{RankParams, TrustGraph, eigentrust, eigentrust_sequential};

/// Node count and (truster, subject, max(sign, 0)) edges with ids mapped to dense indexes.
fn load_epinions() -> (usize, Vec<(u32, u32, f64)>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/soc-sign-epinions.txt.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "the Epinions data set is missing at {}: {e} (see shared/data/PROVENANCE.md)",
            path.display()
        )
    });
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut edges = Vec::with_capacity(841_372);
    for line in BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let line = line.expect("readable gzip text");
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<i64> = line
            .split('\t')
            .map(|f| f.trim().parse().expect("integer field"))
            .collect();
        let [from, to, sign] = fields[..] else {
            panic!("not three fields: {line:?}");
        };
        let mut dense = |id: i64| {
            let next = u32::try_from(ids.len()).expect("fewer than 2^32 users");
            *ids.entry(u64::try_from(id).expect("non-negative id"))
                .or_insert(next)
        };
        let (truster, subject) = (dense(from), dense(to));
        edges.push((truster, subject, sign.max(0) as f64));
    }
    (ids.len(), edges)
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

    let mut group = c.benchmark_group("rank_epinions");
    group.sample_size(20);
    group.bench_function("eigentrust", |b| {
        b.iter(|| eigentrust(black_box(&graph), &[], &params).expect("rank"))
    });
    group.bench_function("eigentrust_sequential", |b| {
        b.iter(|| eigentrust_sequential(black_box(&graph), &[], &params).expect("rank"))
    });
    group.bench_function("eigentrust_10_seeds", |b| {
        b.iter(|| eigentrust(black_box(&graph), black_box(&seeds), &params).expect("rank"))
    });
    group.finish();

    let mut group = c.benchmark_group("build_epinions");
    group.sample_size(20);
    group.throughput(Throughput::Elements(edges.len() as u64));
    group.bench_function("from_edges", |b| {
        b.iter(|| TrustGraph::from_edges(nodes, black_box(&edges).iter().copied()).expect("graph"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
