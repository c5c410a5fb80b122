//! Network rank: EigenTrust (Kamvar, Schlosser, Garcia-Molina 2003), that is personalised
//! PageRank over row-normalised local trust with pre-trusted seeds, computed by power iteration
//! over a transposed compressed-sparse-row matrix. It turns "who trusts whom, how much" into one
//! global score per node that sums to 1, so that trust reaching a node through many independent
//! trusters counts and a clique of Sybils that nobody trusted cannot mint mass for itself. It is
//! pure computation: it must never do I/O, read the clock, panic on anything a caller passes in,
//! allocate inside the iteration loop, or let its result depend on the number of threads or on
//! scheduling — [`eigentrust`] and [`eigentrust_sequential`] return the same bits.
//!
//! ```
//! use stepwise::model::rank::{RankParams, TrustGraph, eigentrust};
//!
//! // Ann (0) and Bob (1) vouch for each other; Eve (2) trusts Ann, nobody trusts Eve.
//! let graph = TrustGraph::from_edges(3, [(0, 1, 1.0), (1, 0, 1.0), (2, 0, 1.0)]).unwrap();
//! let ranking = eigentrust(&graph, &[0], &RankParams::default()).unwrap();
//! assert!(ranking.converged);
//! assert_eq!(ranking.scores[2], 0.0); // not a seed and trusted by nobody
//! assert_eq!(ranking.top(1)[0].0, 0);
//! ```

use rayon::prelude::*;
use thiserror::Error;

/// The largest node count a [`TrustGraph`] accepts: node indexes are `u32`, and keeping the count
/// itself within `u32` means every index below it is representable.
pub const MAX_NODES: usize = u32::MAX as usize;

/// Nodes per chunk of the sweep. Floating-point addition is not associative, so the L1 change and
/// the dangling mass are summed per fixed chunk and the chunk sums are then added in chunk order;
/// rayon only decides *who* computes a chunk, never how sums are grouped. This makes parallel and
/// sequential runs bit-identical. Changing it changes the low bits of results.
const CHUNK: usize = 1024;

/// Why a trust graph could not be built or ranked. Every variant is a problem with the caller's
/// input; none is an internal failure.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RankError {
    /// An edge named a node that does not exist.
    #[error(
        "node index {index} is out of range for a graph of {nodes} nodes; indexes must be below {nodes}"
    )]
    NodeOutOfRange {
        /// The offending node index.
        index: u32,
        /// How many nodes the graph has.
        nodes: usize,
    },
    /// An edge carried a weight that is negative, infinite or NaN.
    #[error(
        "trust weight {weight} on edge {truster} -> {subject} is not allowed: weights must be finite and at least 0"
    )]
    BadWeight {
        /// The node giving the trust.
        truster: u32,
        /// The node receiving the trust.
        subject: u32,
        /// The offending weight.
        weight: f64,
    },
    /// A [`RankParams`] field is outside its allowed range.
    #[error("rank parameter `{name}` = {value} is invalid: {why}")]
    BadParam {
        /// The field's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What the value must be instead.
        why: &'static str,
    },
    /// A seed named a node that does not exist.
    #[error(
        "seed {seed} is out of range for a graph of {nodes} nodes; seeds must be node indexes below {nodes}"
    )]
    SeedOutOfRange {
        /// The offending seed.
        seed: u32,
        /// How many nodes the graph has.
        nodes: usize,
    },
    /// More nodes were asked for than `u32` indexes can address.
    #[error("a trust graph of {nodes} nodes is too large: at most {max} nodes fit u32 indexes")]
    TooManyNodes {
        /// The node count asked for.
        nodes: usize,
        /// The largest node count accepted ([`MAX_NODES`]).
        max: usize,
    },
    /// The graph has no nodes, so there is nothing for the scores to sum to 1 over.
    #[error("cannot rank a graph with no nodes: build the graph with at least one node")]
    EmptyGraph,
}

/// Local trust as compressed sparse rows, stored transposed (by subject) so each iteration is a
/// parallel pull with no atomics; u32 node indexes, f64 weights already row-normalised.
///
/// Stored size: 12 bytes per edge (a `u32` truster and an `f64` weight) plus 9 bytes per node.
#[derive(Debug, Clone)]
pub struct TrustGraph {
    /// In-edges of subject `j` are `offsets[j]..offsets[j + 1]`; `nodes + 1` entries.
    offsets: Vec<usize>,
    /// Truster of each in-edge, ascending within a subject.
    trusters: Vec<u32>,
    /// `C[truster][subject]`: the truster's weight divided by its row total.
    weights: Vec<f64>,
    /// Nodes with no outgoing trust; their mass is handed to the teleport vector.
    dangling: Vec<bool>,
}

impl TrustGraph {
    /// `nodes` nodes; edges (truster, subject, weight). Weight must be finite and ≥ 0; zero weights
    /// are dropped; duplicate (truster, subject) pairs are summed; self-loops are dropped (nobody
    /// ranks themselves). Building is O(E log E) or O(E) with counting sort, memory ~ 12–16 bytes/edge.
    ///
    /// This implementation is O(nodes + E): two stable counting sorts (by truster, then by
    /// subject) leave each subject's in-edges ordered by truster, so duplicates are adjacent and
    /// merge in one pass. Building holds about 32 bytes per kept edge at its peak; the finished
    /// graph keeps 12. The first invalid edge is reported and nothing is built.
    pub fn from_edges(
        nodes: usize,
        edges: impl IntoIterator<Item = (u32, u32, f64)>,
    ) -> Result<Self, RankError> {
        if nodes > MAX_NODES {
            return Err(RankError::TooManyNodes {
                nodes,
                max: MAX_NODES,
            });
        }

        let mut kept: Vec<(u32, u32, f64)> = Vec::new();
        let mut out_degree = vec![0usize; nodes];
        // Dividing by the row's largest weight before summing keeps the row total finite even
        // when individual weights are near f64::MAX.
        let mut row_max = vec![0.0f64; nodes];
        for (truster, subject, weight) in edges {
            for index in [truster, subject] {
                if index as usize >= nodes {
                    return Err(RankError::NodeOutOfRange { index, nodes });
                }
            }
            if !weight.is_finite() || weight < 0.0 {
                return Err(RankError::BadWeight {
                    truster,
                    subject,
                    weight,
                });
            }
            if weight == 0.0 || truster == subject {
                continue;
            }
            let t = truster as usize;
            out_degree[t] += 1;
            row_max[t] = row_max[t].max(weight);
            kept.push((truster, subject, weight));
        }

        // Counting sort by truster, scaling each weight by its row maximum on the way.
        let out_offsets = prefix_sums(&out_degree);
        let mut cursor = out_offsets.clone();
        let mut by_truster: Vec<(u32, f64)> = vec![(0, 0.0); kept.len()];
        for (truster, subject, weight) in kept {
            let t = truster as usize;
            by_truster[cursor[t]] = (subject, weight / row_max[t]);
            cursor[t] += 1;
        }
        drop(row_max);

        let mut in_degree = vec![0usize; nodes];
        for &(subject, _) in &by_truster {
            in_degree[subject as usize] += 1;
        }
        let mut offsets = prefix_sums(&in_degree);
        drop(in_degree);

        // Stable counting sort by subject: trusters are visited in ascending order, so every
        // subject's segment comes out sorted by truster.
        let mut cursor = offsets.clone();
        let mut trusters = vec![0u32; by_truster.len()];
        let mut weights = vec![0.0f64; by_truster.len()];
        for (t, window) in out_offsets.windows(2).enumerate() {
            let row = &by_truster[window[0]..window[1]];
            let total: f64 = row.iter().map(|&(_, w)| w).sum();
            // `t < nodes <= MAX_NODES`, so the conversion cannot fail.
            let truster = u32::try_from(t).unwrap_or(u32::MAX);
            for &(subject, scaled) in row {
                let slot = &mut cursor[subject as usize];
                trusters[*slot] = truster;
                weights[*slot] = scaled / total;
                *slot += 1;
            }
        }
        drop(by_truster);

        // Merge adjacent duplicates in place, moving segments left as they shrink.
        let mut write = 0;
        for j in 0..nodes {
            let (start, end) = (offsets[j], offsets[j + 1]);
            offsets[j] = write;
            for read in start..end {
                if write > offsets[j] && trusters[write - 1] == trusters[read] {
                    weights[write - 1] += weights[read];
                } else {
                    trusters[write] = trusters[read];
                    weights[write] = weights[read];
                    write += 1;
                }
            }
        }
        offsets[nodes] = write;
        trusters.truncate(write);
        weights.truncate(write);
        trusters.shrink_to_fit();
        weights.shrink_to_fit();

        let dangling = out_degree.iter().map(|&d| d == 0).collect();
        Ok(Self {
            offsets,
            trusters,
            weights,
            dangling,
        })
    }

    /// How many nodes the graph has.
    pub fn nodes(&self) -> usize {
        self.dangling.len()
    }

    /// How many edges the graph keeps, after zero weights and self-loops were dropped and
    /// duplicate pairs merged.
    pub fn edges(&self) -> usize {
        self.trusters.len()
    }
}

/// `out[0] = 0`, `out[i + 1] = counts[0] + … + counts[i]`.
fn prefix_sums(counts: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(counts.len() + 1);
    let mut running = 0;
    out.push(running);
    for &count in counts {
        running += count;
        out.push(running);
    }
    out
}

/// Settings of the power iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankParams {
    /// Teleport probability `α`, in (0, 1]: the weight of the seeds against the network. Higher
    /// means stronger Sybil resistance and faster convergence, but less say for the network.
    pub alpha: f64,
    /// Stop once the L1 change between two iterates is below this; finite and > 0.
    pub epsilon: f64,
    /// Stop after this many iterations even when not converged; at least 1.
    pub max_iterations: u32,
}

impl Default for RankParams {
    /// `alpha` 0.15, `epsilon` 1e-10, `max_iterations` 1000.
    fn default() -> Self {
        Self {
            alpha: 0.15,
            epsilon: 1e-10,
            max_iterations: 1000,
        }
    }
}

impl RankParams {
    fn validate(&self) -> Result<(), RankError> {
        // Written as negated comparisons so that NaN is rejected too.
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(RankError::BadParam {
                name: "alpha",
                value: self.alpha,
                why: "alpha must be greater than 0 and at most 1",
            });
        }
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(RankError::BadParam {
                name: "epsilon",
                value: self.epsilon,
                why: "epsilon must be finite and greater than 0",
            });
        }
        if self.max_iterations == 0 {
            return Err(RankError::BadParam {
                name: "max_iterations",
                value: 0.0,
                why: "max_iterations must be at least 1",
            });
        }
        Ok(())
    }
}

/// The outcome of a rank computation.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// One score per node, each ≥ 0, summing to 1 up to rounding.
    pub scores: Vec<f64>,
    /// Iterations performed (at least 1).
    pub iterations: u32,
    /// L1 change of the last iteration.
    pub delta: f64,
    /// Whether `delta` fell below `epsilon` before `max_iterations` ran out.
    pub converged: bool,
}

impl Ranking {
    /// Indexes of the `n` highest scores, highest first (ties by lower index).
    ///
    /// `n` larger than the node count returns every node. O(nodes + n log n).
    pub fn top(&self, n: usize) -> Vec<(u32, f64)> {
        let count = u32::try_from(self.scores.len()).unwrap_or(u32::MAX);
        let mut order: Vec<u32> = (0..count).collect();
        let n = n.min(order.len());
        if n == 0 {
            return Vec::new();
        }
        let by_rank = |a: &u32, b: &u32| {
            let (sa, sb) = (self.scores[*a as usize], self.scores[*b as usize]);
            sb.total_cmp(&sa).then(a.cmp(b))
        };
        if n < order.len() {
            order.select_nth_unstable_by(n - 1, by_rank);
            order.truncate(n);
        }
        order.sort_unstable_by(by_rank);
        order
            .into_iter()
            .map(|i| (i, self.scores[i as usize]))
            .collect()
    }
}

/// Parallel (rayon) power iteration; two preallocated buffers swapped each iteration: no allocation per iteration.
///
/// Computes `t_{k+1} = (1 − α)·Cᵀ·t_k + ((1 − α)·D_k + α)·p` from `t_0 = p`, where `p` is uniform
/// over the distinct `seeds` (over all nodes when `seeds` is empty) and `D_k` is the mass on
/// dangling nodes, whose rows are thereby replaced by `p`. It stops when
/// `‖t_{k+1} − t_k‖₁ < epsilon` or after `max_iterations`.
///
/// Deterministic: each score is a sum over its in-edges in a fixed order, and the L1 change and
/// dangling mass are summed per fixed chunk of nodes, the chunk sums then added in order, so the
/// result is bit-identical to [`eigentrust_sequential`] whatever the thread count.
pub fn eigentrust(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
) -> Result<Ranking, RankError> {
    eigentrust_from(graph, seeds, params, None)
}

/// [`eigentrust`] started from an earlier ranking's scores instead of from the teleport vector:
/// after a few edges changed, the iteration starts close to the new fixed point.
///
/// `start` is read as follows. Entries for nodes the graph does not have are ignored; nodes
/// beyond the end of `start` (added since) start at their teleport share; the vector is then
/// rescaled to sum to 1. A start that cannot be a ranking — an entry that is NaN, infinite or
/// negative, or no mass at all — is not an error: the iteration starts cold, as with `None`.
/// The stopping rule is unchanged, so the result is the same fixed point as a cold start's up to
/// the convergence tolerance; only the number of iterations differs.
pub fn eigentrust_from(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
    start: Option<&[f64]>,
) -> Result<Ranking, RankError> {
    iterate(graph, seeds, params, start, Sweep::Parallel)
}

/// The same iteration on one thread (the benchmark's in-run baseline; also handy for tiny graphs).
///
/// Bit-identical to [`eigentrust`]; see there for the iteration and its stopping rule.
pub fn eigentrust_sequential(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
) -> Result<Ranking, RankError> {
    iterate(graph, seeds, params, None, Sweep::Sequential)
}

#[derive(Clone, Copy)]
enum Sweep {
    Parallel,
    Sequential,
}

/// The teleport vector: uniform over the distinct seeds, or over all nodes when there are none.
fn teleport(nodes: usize, seeds: &[u32]) -> Result<Vec<f64>, RankError> {
    if seeds.is_empty() {
        return Ok(vec![1.0 / nodes as f64; nodes]);
    }
    let mut p = vec![0.0; nodes];
    let mut distinct = 0usize;
    for &seed in seeds {
        let slot = p
            .get_mut(seed as usize)
            .ok_or(RankError::SeedOutOfRange { seed, nodes })?;
        if *slot == 0.0 {
            *slot = 1.0;
            distinct += 1;
        }
    }
    let share = 1.0 / distinct as f64;
    for value in &mut p {
        *value *= share;
    }
    Ok(p)
}

fn iterate(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
    start: Option<&[f64]>,
    sweep: Sweep,
) -> Result<Ranking, RankError> {
    params.validate()?;
    let nodes = graph.nodes();
    if nodes == 0 {
        return Err(RankError::EmptyGraph);
    }
    let p = teleport(nodes, seeds)?;
    let damping = 1.0 - params.alpha;

    let mut current = p.clone();
    if let Some(start) = start {
        warm(&mut current, start);
    }
    let mut next = vec![0.0f64; nodes];
    // Per chunk: (L1 change, dangling mass of the new iterate).
    let mut partials = vec![(0.0f64, 0.0f64); nodes.div_ceil(CHUNK)];
    let mut dangling_mass = current
        .chunks(CHUNK)
        .zip(graph.dangling.chunks(CHUNK))
        .map(|(values, dangling)| dangling_sum(values, dangling))
        .fold(0.0, |total, chunk| total + chunk);

    let mut iterations = 0u32;
    loop {
        let step = Step {
            graph,
            current: &current,
            p: &p,
            damping,
            teleport: damping * dangling_mass + params.alpha,
        };
        match sweep {
            Sweep::Parallel => next
                .par_chunks_mut(CHUNK)
                .zip(partials.par_iter_mut())
                .enumerate()
                .for_each(|(chunk, (out, partial))| *partial = step.chunk(chunk * CHUNK, out)),
            Sweep::Sequential => next
                .chunks_mut(CHUNK)
                .zip(partials.iter_mut())
                .enumerate()
                .for_each(|(chunk, (out, partial))| *partial = step.chunk(chunk * CHUNK, out)),
        }
        let (delta, mass) = partials
            .iter()
            .fold((0.0, 0.0), |(d, m), &(cd, cm)| (d + cd, m + cm));
        std::mem::swap(&mut current, &mut next);
        dangling_mass = mass;
        iterations += 1;
        let converged = delta < params.epsilon;
        if converged || iterations >= params.max_iterations {
            return Ok(Ranking {
                scores: current,
                iterations,
                delta,
                converged,
            });
        }
    }
}

/// Overwrites `current` (holding the teleport vector) with `start` rescaled to sum 1, keeping
/// the teleport share of nodes `start` does not cover; leaves it untouched when `start` has a
/// NaN, infinite or negative entry or no mass, so the iteration starts cold.
fn warm(current: &mut [f64], start: &[f64]) {
    let covered = start.len().min(current.len());
    let start = &start[..covered];
    if start.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
        return;
    }
    let total = start.iter().sum::<f64>() + current[covered..].iter().sum::<f64>();
    let scale = 1.0 / total;
    // A subnormal total would make the scale infinite.
    if !(total > 0.0 && total.is_finite() && scale.is_finite()) || start.iter().all(|&s| s == 0.0) {
        return;
    }
    current[..covered].copy_from_slice(start);
    for value in current.iter_mut() {
        *value *= scale;
    }
}

fn dangling_sum(values: &[f64], dangling: &[bool]) -> f64 {
    values
        .iter()
        .zip(dangling)
        .filter(|&(_, &d)| d)
        .map(|(&v, _)| v)
        .fold(0.0, |total, v| total + v)
}

/// One iteration's fixed inputs, shared read-only by every chunk.
struct Step<'a> {
    graph: &'a TrustGraph,
    current: &'a [f64],
    p: &'a [f64],
    damping: f64,
    /// `(1 − α)·D_k + α`: the mass handed to `p` this iteration.
    teleport: f64,
}

impl Step<'_> {
    /// Fills `out` with the new scores of nodes `first..first + out.len()` and returns the chunk's
    /// L1 change and the new dangling mass within it.
    fn chunk(&self, first: usize, out: &mut [f64]) -> (f64, f64) {
        let graph = self.graph;
        let mut delta = 0.0;
        let mut mass = 0.0;
        for (k, slot) in out.iter_mut().enumerate() {
            let j = first + k;
            let edges = graph.offsets[j]..graph.offsets[j + 1];
            let pulled = graph.trusters[edges.clone()]
                .iter()
                .zip(&graph.weights[edges])
                .fold(0.0, |sum, (&i, &w)| sum + w * self.current[i as usize]);
            let value = self.damping * pulled + self.teleport * self.p[j];
            delta += (value - self.current[j]).abs();
            if graph.dangling[j] {
                mass += value;
            }
            *slot = value;
        }
        (delta, mass)
    }
}
