//! Network rank: EigenTrust (Kamvar, Schlosser, Garcia-Molina 2003), that is personalised
//! PageRank over row-normalised local trust with pre-trusted seeds. It turns "who trusts whom,
//! how much" into one global score per node that sums to 1, so that trust reaching a node through
//! many independent trusters counts and a clique of Sybils that nobody trusted cannot mint mass
//! for itself. It is pure computation: it must never do I/O, read the clock, panic on anything a
//! caller passes in, allocate inside the iteration loop, or let its result depend on the number
//! of threads or on scheduling.
//!
//! How: dangling nodes (who trust nobody) hand their mass to the teleport vector, so the fixed
//! point is the solution of one linear system, rescaled to sum 1. The graph builder orders the
//! nodes by strongly connected component, trusters' components before their subjects', so the
//! system is block-triangular: a node outside every cycle is computed once, exactly, and only the
//! cyclic components are iterated, each by Gauss–Seidel sweeps over its own in-edges. The sweeps
//! are sequential by nature, which is also what makes the result independent of threads:
//! [`eigentrust`] and [`eigentrust_sequential`] are the same computation and return the same bits.
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

use thiserror::Error;

/// The largest node count a [`TrustGraph`] accepts: node indexes are `u32`, and keeping the count
/// itself within `u32` means every index below it is representable.
pub const MAX_NODES: usize = u32::MAX as usize;

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

/// Local trust as compressed sparse rows, stored transposed (by subject) so that a node's new
/// score is a pull over its in-edges, with the nodes renumbered into sweep order: components in
/// dependency order (see the module doc), and within a component in the order Tarjan's search
/// closes them, trusters deep in the search first.
///
/// Stored size: 4 bytes per edge when every truster spreads its trust evenly (then a row's weight
/// is one number per node), 12 bytes per edge otherwise; about 20 bytes per node.
#[derive(Debug, Clone)]
pub struct TrustGraph {
    /// `order[k]`: the caller's index of the node in sweep position `k`.
    order: Vec<u32>,
    /// In-edges of the node at position `k` are `offsets[k]..offsets[k + 1]`; `nodes + 1` entries.
    offsets: Vec<usize>,
    /// Sweep position of the truster of each in-edge; within a subject, in the caller's order.
    trusters: Vec<u32>,
    /// `C[truster][subject]`, the truster's weight divided by its row total; empty when every
    /// row's weights are equal, and then `share` holds them.
    weights: Vec<f64>,
    /// Per position: the weight of each of the node's out-edges when `weights` is empty, else 1;
    /// 0 exactly for a dangling node (who trusts nobody).
    share: Vec<f64>,
    /// The sweep positions cut into blocks, in dependency order.
    blocks: Vec<Block>,
}

/// A run of sweep positions that is either acyclic (nodes on no cycle, each depending only on
/// earlier positions: one pass computes them exactly) or one strongly connected component with
/// a cycle (iterated until it settles).
#[derive(Debug, Clone, Copy)]
struct Block {
    start: usize,
    end: usize,
    cyclic: bool,
}

impl TrustGraph {
    /// `nodes` nodes; edges (truster, subject, weight). Weight must be finite and ≥ 0; zero weights
    /// are dropped; duplicate (truster, subject) pairs are summed; self-loops are dropped (nobody
    /// ranks themselves). The first invalid edge is reported and nothing is built.
    ///
    /// O(nodes + E): two stable counting sorts (by truster, then by subject) leave each
    /// subject's in-edges ordered by truster, so duplicates are adjacent and merge in one pass;
    /// then one iterative Tarjan search finds the components and a last pass renumbers the
    /// nodes into sweep order. Building holds about 32 bytes per kept edge at its peak.
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

        // Kept where they are given (a list of edges is filtered in place, not copied: at 10^8
        // events a copy grown by doubling held up to three times the list at once).
        let mut kept: Vec<(u32, u32, f64)> = edges.into_iter().collect();
        let mut out_degree = vec![0usize; nodes];
        // Dividing by the row's largest weight before summing keeps the row total finite even
        // when individual weights are near f64::MAX.
        let mut row_max = vec![0.0f64; nodes];
        for &(truster, subject, weight) in &kept {
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
        }
        kept.retain(|&(truster, subject, weight)| weight != 0.0 && truster != subject);

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

        // Is every row's weight one number? Then a pull needs no weight per edge.
        let mut share = vec![f64::NAN; nodes];
        let mut even = true;
        for (&t, &w) in trusters.iter().zip(&weights) {
            let row = &mut share[t as usize];
            if row.is_nan() {
                *row = w;
            } else if row.to_bits() != w.to_bits() {
                even = false;
            }
        }
        for (row, &degree) in share.iter_mut().zip(&out_degree) {
            *row = match (degree, even) {
                (0, _) => 0.0,
                (_, false) => 1.0,
                (_, true) => *row,
            };
        }

        let (order, blocks) = sweep_order(&offsets, &trusters);
        Ok(Self::renumbered(
            &order, blocks, &offsets, &trusters, &weights, &share, even,
        ))
    }

    /// The graph with node `order[k]` moved to position `k`.
    fn renumbered(
        order: &[u32],
        blocks: Vec<Block>,
        offsets: &[usize],
        trusters: &[u32],
        weights: &[f64],
        share: &[f64],
        even: bool,
    ) -> Self {
        let nodes = order.len();
        let mut position = vec![0u32; nodes];
        for (k, &j) in order.iter().enumerate() {
            // `k < nodes <= MAX_NODES`.
            position[j as usize] = u32::try_from(k).unwrap_or(u32::MAX);
        }
        let mut new_offsets = Vec::with_capacity(nodes + 1);
        let mut new_trusters = Vec::with_capacity(trusters.len());
        let mut new_weights = Vec::with_capacity(if even { 0 } else { weights.len() });
        new_offsets.push(0);
        // Each segment keeps its trusters in the caller's order: sorting them by position cost a
        // quarter of the build on Epinions and bought no measurable speed in the sweeps.
        for &j in order {
            let edges = offsets[j as usize]..offsets[j as usize + 1];
            new_trusters.extend(
                trusters[edges.clone()]
                    .iter()
                    .map(|&t| position[t as usize]),
            );
            if !even {
                new_weights.extend_from_slice(&weights[edges]);
            }
            new_offsets.push(new_trusters.len());
        }
        Self {
            share: order.iter().map(|&j| share[j as usize]).collect(),
            order: order.to_vec(),
            offsets: new_offsets,
            trusters: new_trusters,
            weights: new_weights,
            blocks,
        }
    }

    /// How many nodes the graph has.
    pub fn nodes(&self) -> usize {
        self.order.len()
    }

    /// How many edges the graph keeps, after zero weights and self-loops were dropped and
    /// duplicate pairs merged.
    pub fn edges(&self) -> usize {
        self.trusters.len()
    }
}

/// The sweep order and its blocks, from the in-edge lists: Tarjan's strongly connected
/// components, searched along in-edges (from a subject to its trusters) so that a component is
/// closed only after every component upstream of it, which gives dependency order. Iterative, so
/// a long chain of trust cannot overflow the stack.
fn sweep_order(offsets: &[usize], trusters: &[u32]) -> (Vec<u32>, Vec<Block>) {
    let nodes = offsets.len() - 1;
    let mut search = Search {
        index: vec![Search::UNSEEN; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        calls: Vec::new(),
        counter: 0,
    };
    let mut order: Vec<u32> = Vec::with_capacity(nodes);
    let mut blocks: Vec<Block> = Vec::new();
    for root in 0..nodes {
        if search.index[root] != Search::UNSEEN {
            continue;
        }
        // `root < nodes <= MAX_NODES`.
        search.visit(u32::try_from(root).unwrap_or(u32::MAX), offsets[root]);
        while let Some(&mut (v, ref mut next)) = search.calls.last_mut() {
            let vi = v as usize;
            if *next < offsets[vi + 1] {
                let w = trusters[*next];
                *next += 1;
                let wi = w as usize;
                if search.index[wi] == Search::UNSEEN {
                    search.visit(w, offsets[wi]);
                } else if search.on_stack[wi] {
                    search.low[vi] = search.low[vi].min(search.index[wi]);
                }
                continue;
            }
            search.calls.pop();
            if let Some(&(u, _)) = search.calls.last() {
                search.low[u as usize] = search.low[u as usize].min(search.low[vi]);
            }
            if search.low[vi] == search.index[vi] {
                let start = order.len();
                while let Some(w) = search.stack.pop() {
                    search.on_stack[w as usize] = false;
                    order.push(w);
                    if w == v {
                        break;
                    }
                }
                let end = order.len();
                let cyclic = end - start > 1;
                match blocks.last_mut() {
                    Some(last) if !cyclic && !last.cyclic => last.end = end,
                    _ => blocks.push(Block { start, end, cyclic }),
                }
            }
        }
    }
    (order, blocks)
}

/// The state of Tarjan's search.
struct Search {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    /// The search path: (node, its next in-edge to follow).
    calls: Vec<(u32, usize)>,
    counter: u32,
}

impl Search {
    const UNSEEN: u32 = u32::MAX;

    fn visit(&mut self, v: u32, first_edge: usize) {
        let vi = v as usize;
        self.index[vi] = self.counter;
        self.low[vi] = self.counter;
        self.counter += 1;
        self.stack.push(v);
        self.on_stack[vi] = true;
        self.calls.push((v, first_edge));
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
    /// Stop once the L1 change of the last sweep is below this (summed over the cyclic
    /// components, in units of the final scores; see [`eigentrust`]); finite and > 0.
    pub epsilon: f64,
    /// Stop sweeping a component after this many sweeps even when it has not settled; at least 1.
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
    /// The most sweeps any cyclic component took (at least 1; nodes on no cycle take one pass).
    pub iterations: u32,
    /// L1 change of the last sweep, summed over the cyclic components, in units of the scores.
    pub delta: f64,
    /// Whether every component settled before `max_iterations` ran out and `delta` < `epsilon`.
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

/// Ranks `graph`: the scores `t` with `t = (1 − α)·Cᵀ·t + ((1 − α)·D + α)·p`, where `p` is
/// uniform over the distinct `seeds` (over all nodes when `seeds` is empty) and `D` is the mass
/// on dangling nodes, whose rows are thereby replaced by `p`.
///
/// Since dangling mass returns along `p` just as teleport does, `t` is `y / Σy` for the solution
/// `y` of `y = (1 − α)·Cᵀ·y + α·p`, which is what is solved: the nodes on no cycle exactly, in
/// dependency order, and each cyclic component by Gauss–Seidel sweeps until the L1 changes of the
/// components' last sweeps add up, in units of the final scores, to less than `epsilon`
/// ([`Ranking::delta`]); `iterations` counts the sweeps of the component that needed most. Then
/// the residual of the system is at most `(1 − α)·delta` and every score within
/// `2·(1 − α)·delta/α` of the fixed point in L1. A component stops after `max_iterations`
/// sweeps even when not settled, and `converged` is then false.
///
/// Deterministic: every sum runs in an order fixed by the graph, on one thread, so the result is
/// the same bits whatever the thread count, and the same as [`eigentrust_sequential`]'s.
pub fn eigentrust(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
) -> Result<Ranking, RankError> {
    eigentrust_from(graph, seeds, params, None)
}

/// [`eigentrust`] started from an earlier ranking's scores instead of from the teleport vector:
/// after a few edges changed, the sweeps start close to the new fixed point.
///
/// `start` is read as follows. Entries for nodes the graph does not have are ignored; nodes
/// beyond the end of `start` (added since) start at their teleport share; the vector is then
/// rescaled to sum to 1. A start that cannot be a ranking — an entry that is NaN, infinite or
/// negative, or no mass at all — is not an error: the computation starts cold, as with `None`.
/// The stopping rule is unchanged, so the result is the same fixed point as a cold start's up to
/// the convergence tolerance; only the number of sweeps differs.
pub fn eigentrust_from(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
    start: Option<&[f64]>,
) -> Result<Ranking, RankError> {
    params.validate()?;
    let nodes = graph.nodes();
    if nodes == 0 {
        return Err(RankError::EmptyGraph);
    }
    let p = teleport(nodes, seeds)?;
    let mut first = p.clone();
    if let Some(start) = start {
        warm(&mut first, start);
    }
    Ok(solve(graph, &p, &first, params))
}

/// The same computation as [`eigentrust`], under the name the benchmarks and earlier callers
/// use for the one-thread baseline. Gauss–Seidel sweeps are sequential, so there is no parallel
/// variant any more; this stays so that code written against both keeps working.
pub fn eigentrust_sequential(
    graph: &TrustGraph,
    seeds: &[u32],
    params: &RankParams,
) -> Result<Ranking, RankError> {
    eigentrust_from(graph, seeds, params, None)
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

/// Overwrites `current` (holding the teleport vector) with `start` rescaled to sum 1, keeping
/// the teleport share of nodes `start` does not cover; leaves it untouched when `start` has a
/// NaN, infinite or negative entry or no mass, so the computation starts cold.
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

/// Solves `y = (1 − α)·Cᵀ·y + α·p` block by block from `first` (scores summing to 1, in the
/// caller's numbering) and returns `y / Σy` in the caller's numbering.
fn solve(graph: &TrustGraph, p: &[f64], first: &[f64], params: &RankParams) -> Ranking {
    let alpha = params.alpha;
    let damping = 1.0 - alpha;
    let nodes = graph.nodes();
    // A ranking t is y / Σy with Σy = α / ((1 − α)·D + α), D its dangling mass.
    let dangling: f64 = graph
        .order
        .iter()
        .zip(&graph.share)
        .filter(|&(_, &share)| share == 0.0)
        .map(|(&j, _)| first[j as usize])
        .fold(0.0, |total, t| total + t);
    let scale = alpha / (damping * dangling + alpha);
    // In sweep order: y, the teleport term α·p, and y times the node's out-weight.
    let mut y: Vec<f64> = graph
        .order
        .iter()
        .map(|&j| first[j as usize] * scale)
        .collect();
    let base: Vec<f64> = graph.order.iter().map(|&j| alpha * p[j as usize]).collect();
    let mut out: Vec<f64> = y.iter().zip(&graph.share).map(|(v, s)| v * s).collect();

    let sweep = Sweep {
        graph,
        base: &base,
        damping,
    };
    // The stopping rule needs Σ changes < ε·Σy, with Σy known only at the end. Each cyclic
    // component may change by 0.9·ε times its own mass plus that of the acyclic blocks just
    // before it (not yet claimed by another component) — disjoint parts of Σy — plus 0.1·ε times
    // its share by node count of α ≤ Σy (so that a component whose mass tends to 0 settles too).
    // The allowances add up to at most ε·Σy.
    let cyclic_nodes: usize = graph
        .blocks
        .iter()
        .filter(|b| b.cyclic)
        .map(|b| b.end - b.start)
        .sum();
    let per_node = alpha / cyclic_nodes.max(1) as f64;
    let (mut unclaimed, mut change_total, mut iterations, mut converged) = (0.0, 0.0, 1u32, true);
    for block in &graph.blocks {
        let range = block.start..block.end;
        if !block.cyclic {
            unclaimed += sweep.pass(range, &mut y, &mut out).1;
            continue;
        }
        let mut sweeps = 0u32;
        loop {
            let (change, mass) = sweep.pass(range.clone(), &mut y, &mut out);
            sweeps += 1;
            let size = (block.end - block.start) as f64;
            let allowance = 0.9 * (mass + unclaimed) + 0.1 * per_node * size;
            let settled = change < params.epsilon * allowance;
            if settled || sweeps >= params.max_iterations {
                converged &= settled;
                change_total += change;
                unclaimed = 0.0;
                break;
            }
        }
        iterations = iterations.max(sweeps);
    }

    let total = y.iter().fold(0.0, |total, v| total + v);
    let mut scores = vec![0.0; nodes];
    for (&j, &v) in graph.order.iter().zip(&y) {
        scores[j as usize] = v / total;
    }
    let delta = change_total / total;
    Ranking {
        scores,
        iterations,
        delta,
        converged: converged && delta < params.epsilon,
    }
}

/// One sweep's fixed inputs.
struct Sweep<'a> {
    graph: &'a TrustGraph,
    /// `α·p` in sweep order.
    base: &'a [f64],
    damping: f64,
}

impl Sweep<'_> {
    /// Recomputes the nodes at `range`, in order and in place, so later ones already see the new
    /// values of earlier ones (Gauss–Seidel); returns the L1 change and the new sum of `y` there.
    fn pass(&self, range: std::ops::Range<usize>, y: &mut [f64], out: &mut [f64]) -> (f64, f64) {
        let graph = self.graph;
        let (mut change, mut mass) = (0.0, 0.0);
        let even = graph.weights.is_empty();
        for k in range {
            let edges = graph.offsets[k]..graph.offsets[k + 1];
            let pulled = if even {
                graph.trusters[edges]
                    .iter()
                    .fold(0.0, |sum, &i| sum + out[i as usize])
            } else {
                graph.trusters[edges.clone()]
                    .iter()
                    .zip(&graph.weights[edges])
                    .fold(0.0, |sum, (&i, &w)| sum + w * out[i as usize])
            };
            let value = self.damping * pulled + self.base[k];
            change += (value - y[k]).abs();
            mass += value;
            y[k] = value;
            out[k] = value * graph.share[k];
        }
        (change, mass)
    }
}
