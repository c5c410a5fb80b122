//! Trust model benchmarks: rebuilding the trust state from an already-read log of 10^6 events
//! (against a minimal fold of the same events into a hash map, in the same run), the cost of a
//! trust query (against the floor of a lookup and one opinion), and the memory the state holds
//! per principal and per truster–subject pair. Figures and how to read them: docs/BENCHMARKS.md.
//!
//! Memory is measured as the growth of the resident anonymous memory (`RssAnon`) of a fresh
//! child process (this binary run again with `STEPWISE_BENCH_MEMORY` set) while it folds one
//! shape of log, with glibc's mmap threshold pinned so that freed large buffers go back to the
//! system. A counting `#[global_allocator]` would need `unsafe`, which the workspace forbids
//! (`unsafe_code = "forbid"`), so this is what the allocator really holds, per-chunk headers and
//! growth slack included.

use std::collections::{BinaryHeap, HashMap};
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{Rng, Samples, timed};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use stepwise::evidence::{Body, Event, Id, OutcomeResult, Time};
use stepwise::model::params::{DAY_MICROS, ModelParams};
use stepwise::model::state::TrustState;

/// Events in the rebuilt log.
const EVENTS: usize = 1_000_000;
/// Principals the events are spread over.
const PRINCIPALS: u32 = 100_000;
/// 2026-01-01T00:00:00Z, in microseconds.
const START: i64 = 1_767_225_600_000_000;
/// Set in the child process that measures one memory shape.
const MEMORY_CHILD: &str = "STEPWISE_BENCH_MEMORY";

/// SplitMix64: a small deterministic generator, so every run folds the same log.
/// Draws specific to this log.
trait Draws {
    fn principal(&mut self) -> u32;
    fn pair(&mut self) -> (u32, u32);
    fn tenths(&mut self) -> f64;
}

impl Draws for Rng {
    /// A principal, skewed towards low numbers (density ∝ 1/√x): a few are very active, most
    /// appear a handful of times, as in real trust networks.
    fn principal(&mut self) -> u32 {
        let u = self.unit();
        ((u * u * f64::from(PRINCIPALS)) as u32).min(PRINCIPALS - 1)
    }

    /// Two different principals.
    fn pair(&mut self) -> (u32, u32) {
        let a = self.principal();
        loop {
            let b = self.principal();
            if b != a {
                return (a, b);
            }
        }
    }

    /// One of 0.1, 0.2, …, 1.0.
    fn tenths(&mut self) -> f64 {
        (1 + self.below(10)) as f64 / 10.0
    }
}

fn id(text: String) -> Id {
    Id::parse("id", &text).expect("valid id")
}

fn time(micros: i64) -> Time {
    Time::from_micros(micros).expect("time in range")
}

fn event(at: i64, body: Body) -> Event {
    let mut event = Event {
        at: time(at),
        author: None,
        body,
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    };
    event.author = event.natural_author().cloned();
    event
}

/// One event as the hash-map peer sees it: interned (truster, subject) and the positive and
/// negative amounts it adds (zero for promises and vouches).
type Folded = (u32, u32, f64, f64);

/// The generated log and its pre-interned twin for the peer.
struct Log {
    principals: Vec<Id>,
    events: Vec<Event>,
    folded: Vec<Folded>,
    /// (truster, subject) of some rating events: pairs that have evidence.
    rated_pairs: Vec<(u32, u32)>,
    end: i64,
}

/// 10^6 events over 100,000 principals: 70% ratings, 10% promises each followed (20 to 20,000
/// events later) by its outcome from the promisee (10%; 80% kept, 15% broken, 5% partial), 5%
/// reports, 5% vouches, 1 to 5 seconds apart.
fn generate() -> Log {
    let mut rng = Rng(0x5eed_0f57_e901_5300);
    let principals: Vec<Id> = (0..PRINCIPALS).map(|i| id(format!("user:{i}"))).collect();
    let scopes: Vec<Id> = ["deploy:staging", "deploy:prod", "review", "payment"]
        .into_iter()
        .map(|s| id(s.to_owned()))
        .collect();
    let mut events = Vec::with_capacity(EVENTS);
    let mut folded = Vec::with_capacity(EVENTS);
    let mut rated_pairs = Vec::new();
    // (event slot of the outcome, promise number), earliest first.
    let mut pending: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = BinaryHeap::new();
    let mut promises: Vec<(Id, u32, u32)> = Vec::new();
    let mut at = START;
    let p = |i: u32| principals[i as usize].clone();
    while events.len() < EVENTS {
        let slot = events.len();
        at += 1_000_000 * (1 + rng.below(5) as i64);
        if let Some(&std::cmp::Reverse((due_slot, n))) = pending.peek()
            && due_slot <= slot
        {
            pending.pop();
            let (promise, promisor, promisee) = promises[n].clone();
            let draw = rng.unit();
            let (result, kept) = if draw < 0.80 {
                (OutcomeResult::Kept, 1.0)
            } else if draw < 0.95 {
                (OutcomeResult::Broken, 0.0)
            } else {
                let f = rng.tenths() * 0.9;
                (OutcomeResult::Partial(f), f)
            };
            let mut e = event(at, Body::Outcome { promise, result });
            e.author = Some(p(promisee));
            events.push(e);
            folded.push((promisee, promisor, kept, 3.0 * (1.0 - kept)));
            continue;
        }
        // New actions: rating 70, promise 10, report 5, vouch 5 (of 90); outcomes fill the
        // remaining tenth of the log.
        let kind = rng.below(90);
        let (a, b) = rng.pair();
        let scope = |rng: &mut Rng, share: u64| {
            (rng.below(100) < share)
                .then(|| scopes[rng.below(scopes.len() as u64) as usize].clone())
        };
        if kind < 70 {
            let draw = rng.unit();
            let value = if draw < 0.80 {
                rng.tenths()
            } else if draw < 0.95 {
                -rng.tenths()
            } else {
                0.0
            };
            let scope = scope(&mut rng, 10);
            events.push(event(
                at,
                Body::Rating {
                    rater: p(a),
                    subject: p(b),
                    value,
                    scope,
                },
            ));
            folded.push((a, b, value.max(0.0), (-value).max(0.0)));
            if rated_pairs.len() < 4096 && rng.below(100) == 0 {
                rated_pairs.push((a, b));
            }
        } else if kind < 80 {
            let n = promises.len();
            let promise = id(format!("promise:{n}"));
            let stake = [1.0, 10.0, 100.0, 1000.0][rng.below(4) as usize];
            events.push(event(
                at,
                Body::Promise {
                    id: promise.clone(),
                    promisor: p(a),
                    promisee: p(b),
                    scope: scopes[rng.below(scopes.len() as u64) as usize].clone(),
                    stake,
                    due: time(at + 7 * DAY_MICROS),
                },
            ));
            folded.push((b, a, 0.0, 0.0));
            promises.push((promise, a, b));
            pending.push(std::cmp::Reverse((
                slot + 20 + rng.below(19_980) as usize,
                n,
            )));
        } else if kind < 85 {
            let severity = rng.tenths();
            events.push(event(
                at,
                Body::Report {
                    reporter: p(a),
                    subject: p(b),
                    scope: None,
                    severity,
                    evidence: None,
                },
            ));
            folded.push((a, b, 0.0, 2.0 * severity));
        } else {
            let scope = scope(&mut rng, 20);
            events.push(event(
                at,
                Body::Vouch {
                    voucher: p(a),
                    subject: p(b),
                    scope,
                    weight: rng.tenths(),
                },
            ));
            folded.push((a, b, 0.0, 0.0));
        }
    }
    Log {
        principals,
        events,
        folded,
        rated_pairs,
        end: at,
    }
}

fn rebuild(events: &[Event]) -> TrustState {
    let mut state = TrustState::new(ModelParams::default());
    for (i, event) in events.iter().enumerate() {
        state.apply(i as u64, event);
    }
    state
}

/// The peer: the least a fold can do, one hash-map upsert of two sums per event.
fn fold(folded: &[Folded]) -> HashMap<(u32, u32), (f64, f64)> {
    let mut pairs: HashMap<(u32, u32), (f64, f64)> = HashMap::new();
    for &(truster, subject, positive, negative) in folded {
        let sums = pairs.entry((truster, subject)).or_default();
        sums.0 += positive;
        sums.1 += negative;
    }
    pairs
}

/// Seconds per call of each sample criterion takes, so that its median can be printed and
/// compared with a peer's in the same run. Criterion's warm-up calls come first and its
/// `sample_size` measured samples last.
/// Prints `name: a vs b, ratio` when both benchmarks ran.
fn ratio(name: &str, ours: Option<f64>, peer: Option<f64>, unit: &str, scale: f64) {
    if let (Some(ours), Some(peer)) = (ours, peer) {
        eprintln!(
            "{name}: stepwise {:.3} {unit}, peer {:.3} {unit}; stepwise/peer time ratio {:.2}",
            ours * scale,
            peer * scale,
            ours / peer
        );
    }
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let log = generate();
    let mut mix: HashMap<&str, usize> = HashMap::new();
    for e in &log.events {
        *mix.entry(e.kind().name()).or_default() += 1;
    }
    let mut mix: Vec<_> = mix.into_iter().collect();
    mix.sort();
    eprintln!(
        "model: generated {} events over {PRINCIPALS} principals in {:.1} s, {} s of log time; mix {mix:?}",
        log.events.len(),
        started.elapsed().as_secs_f64(),
        (log.end - START) / 1_000_000,
    );

    // Rebuild: 10 flat samples of one full fold each; the state is dropped outside the timing.
    const REBUILD_SAMPLES: usize = 10;
    let ours = Samples::default();
    let peer = Samples::default();
    let mut group = c.benchmark_group("rebuild");
    group.sample_size(REBUILD_SAMPLES);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function(BenchmarkId::new("stepwise", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let state = rebuild(black_box(&log.events));
                elapsed += start.elapsed();
                drop(black_box(state));
            }
            ours.record(elapsed, iters)
        })
    });
    group.bench_function(BenchmarkId::new("hashmap_fold", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let pairs = fold(black_box(&log.folded));
                elapsed += start.elapsed();
                drop(black_box(pairs));
            }
            peer.record(elapsed, iters)
        })
    });
    group.finish();
    let (ours, peer) = (ours.median(REBUILD_SAMPLES), peer.median(REBUILD_SAMPLES));
    if let Some(ours) = ours {
        eprintln!(
            "rebuild: stepwise {:.0} events/s (median {:.3} s per 10^6 events; target ≥ 1,000,000 events/s: {})",
            EVENTS as f64 / ours,
            ours,
            if EVENTS as f64 / ours >= 1e6 {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    ratio("rebuild 10^6 events", ours, peer, "s", 1.0);

    // Queries on the full state, rank computed once before timing.
    let state = rebuild(&log.events);
    let started = Instant::now();
    let ranking = state.ranking();
    eprintln!(
        "query state: {} principals, rank in {:.2} s ({} iterations, converged {})",
        state.principals(),
        started.elapsed().as_secs_f64(),
        ranking.iterations,
        ranking.converged,
    );
    let at = time(log.end + DAY_MICROS);
    let mut rng = Rng(7);
    let subjects: Vec<u32> = (0..4096)
        .map(|_| rng.below(u64::from(PRINCIPALS)) as u32)
        .collect();
    let pairs = &log.rated_pairs;
    let floor = Floor::new(&log, &state);

    const QUERY_SAMPLES: usize = 50;
    let samples: [Samples; 4] = Default::default();
    let mut group = c.benchmark_group("query");
    group.sample_size(QUERY_SAMPLES);
    let mut k = 0usize;
    let mut next = |n: usize| {
        k = (k + 1) % n;
        k
    };
    group.bench_function(BenchmarkId::new("stepwise", "everyone"), |b| {
        timed(b, &samples[0], || {
            let s = &log.principals[subjects[next(subjects.len())] as usize];
            state.trust(black_box(s), None, None, at)
        })
    });
    group.bench_function(BenchmarkId::new("lookup_floor", "everyone"), |b| {
        timed(b, &samples[1], || {
            let s = &log.principals[subjects[next(subjects.len())] as usize];
            floor.everyone(black_box(s), at)
        })
    });
    group.bench_function(BenchmarkId::new("stepwise", "truster"), |b| {
        timed(b, &samples[2], || {
            let (t, s) = pairs[next(pairs.len())];
            let (t, s) = (&log.principals[t as usize], &log.principals[s as usize]);
            state.trust(black_box(s), Some(black_box(t)), None, at)
        })
    });
    group.bench_function(BenchmarkId::new("lookup_floor", "truster"), |b| {
        timed(b, &samples[3], || {
            let (t, s) = pairs[next(pairs.len())];
            let (t, s) = (&log.principals[t as usize], &log.principals[s as usize]);
            floor.truster(black_box(s), black_box(t), at)
        })
    });
    group.finish();
    let medians: Vec<Option<f64>> = samples.iter().map(|s| s.median(QUERY_SAMPLES)).collect();
    ratio("query (everyone)", medians[0], medians[1], "µs", 1e6);
    ratio("query (one truster)", medians[2], medians[3], "µs", 1e6);
}

/// The floor of a query: intern the ids, read decayed sums, form one opinion.
struct Floor {
    index: HashMap<Id, u32>,
    totals: Vec<(f64, f64)>,
    pairs: HashMap<(u32, u32), (f64, f64)>,
    /// The instant the sums are expressed at.
    at: i64,
}

impl Floor {
    fn new(log: &Log, state: &TrustState) -> Self {
        let index = (0..PRINCIPALS)
            .filter_map(|i| {
                let id = &log.principals[i as usize];
                state.principal_index(id).map(|_| (id.clone(), i))
            })
            .collect();
        let pairs = fold(&log.folded);
        let mut totals = vec![(0.0, 0.0); PRINCIPALS as usize];
        for (&(_, subject), &(positive, negative)) in &pairs {
            totals[subject as usize].0 += positive;
            totals[subject as usize].1 += negative;
        }
        Self {
            index,
            totals,
            pairs,
            at: log.end,
        }
    }

    fn expected(&self, (positive, negative): (f64, f64), at: Time) -> f64 {
        let p = ModelParams::default();
        let elapsed = (at.as_micros() - self.at) as f64;
        let r = positive * (-elapsed / p.half_life_positive as f64).exp2();
        let s = negative * (-elapsed / p.half_life_negative as f64).exp2();
        (r + p.base_rate * p.prior_weight) / (r + s + p.prior_weight)
    }

    fn everyone(&self, subject: &Id, at: Time) -> Option<f64> {
        let s = *self.index.get(subject)?;
        Some(self.expected(self.totals[s as usize], at))
    }

    fn truster(&self, subject: &Id, truster: &Id, at: Time) -> Option<f64> {
        let s = *self.index.get(subject)?;
        let t = *self.index.get(truster)?;
        Some(self.expected(*self.pairs.get(&(t, s))?, at))
    }
}

// ---------------------------------------------------------------------------------------------
// Memory

/// Resident anonymous memory of this process, in bytes.
fn rss_anon() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .expect("RssAnon in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("RssAnon in kB");
    kib * 1024
}

fn user(i: u64) -> Id {
    id(format!("user:{i}"))
}

fn rating(at: i64, rater: u64, subject: u64, value: f64) -> Event {
    event(
        at,
        Body::Rating {
            rater: user(rater),
            subject: user(subject),
            value,
            scope: None,
        },
    )
}

/// In the child: folds one shape and prints `bytes principals pairs subjects` on stdout
/// (subjects: principals that at least one pair is about).
fn memory_child(shape: &str) {
    let mut state = TrustState::new(ModelParams::default());
    let (principals, pairs, subjects, bytes) = match shape {
        // Principals with no evidence at all (a key registration each).
        "principals" => {
            let n = 200_000u64;
            let before = rss_anon();
            for i in 0..n {
                let body = Body::Key {
                    principal: user(i),
                    public_key: [0; 32],
                };
                state.apply(i, &event(START + i as i64, body));
            }
            (n, 0, 0, rss_anon().saturating_sub(before))
        }
        // A ring: every principal rates the next once, so each is the subject of one pair.
        "ring" => {
            let n = 200_000u64;
            let before = rss_anon();
            for i in 0..n {
                state.apply(i, &rating(START + i as i64, i, (i + 1) % n, 0.5));
            }
            (n, n, n, rss_anon().saturating_sub(before))
        }
        // Few principals, many pairs: 1,000 principals each rating 200 others once.
        "dense" => {
            let (n, per) = (1_000u64, 200u64);
            let before = rss_anon();
            let mut index = 0;
            for j in 1..=per {
                for i in 0..n {
                    state.apply(index, &rating(START + index as i64, i, (i + j) % n, 0.5));
                    index += 1;
                }
            }
            (n, n * per, n, rss_anon().saturating_sub(before))
        }
        "epinions" => {
            let Some((nodes, edges)) = common::epinions() else {
                println!("missing");
                return;
            };
            let mut distinct: Vec<(u32, u32)> = edges.iter().map(|&(t, s, _)| (t, s)).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let pairs = distinct.len() as u64;
            let mut about: Vec<u32> = distinct.iter().map(|&(_, s)| s).collect();
            about.sort_unstable();
            about.dedup();
            let subjects = about.len() as u64;
            drop((distinct, about));
            let before = rss_anon();
            for (i, &(t, s, sign)) in edges.iter().enumerate() {
                let e = rating(
                    START + i as i64,
                    u64::from(t),
                    u64::from(s),
                    f64::from(sign),
                );
                state.apply(i as u64, &e);
            }
            (
                nodes as u64,
                pairs,
                subjects,
                rss_anon().saturating_sub(before),
            )
        }
        other => panic!("unknown memory shape {other:?}"),
    };
    black_box(&state);
    println!("{bytes} {principals} {pairs} {subjects}");
}

/// Runs this binary once per shape and prints bytes per principal and per pair.
fn memory_report() {
    let exe = std::env::current_exe().expect("own path");
    let measure = |shape: &str| -> Option<(f64, f64, f64, f64)> {
        let out = Command::new(&exe)
            .env(MEMORY_CHILD, shape)
            // A fixed threshold turns off glibc's dynamic one, so that buffers freed as vectors
            // and tables grow go back to the system instead of staying resident.
            .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")
            .output()
            .expect("run the memory child");
        assert!(
            out.status.success(),
            "memory child {shape} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<f64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        (v.len() == 4).then(|| (v[0], v[1], v[2], v[3]))
    };
    let Some((empty, n0, _, _)) = measure("principals") else {
        return;
    };
    let (Some((ring, n, _, _)), Some((dense, k, m, _))) = (measure("ring"), measure("dense"))
    else {
        return;
    };
    eprintln!(
        "memory (RssAnon growth of a fresh process): {n0} principals, no evidence: {:.1} MiB; \
         ring of {n} principals and {n} pairs: {:.1} MiB; {k} principals and {m} pairs: {:.1} MiB",
        empty / 1048576.0,
        ring / 1048576.0,
        dense / 1048576.0,
    );
    // ring = n·(P + Q), dense = k·P + m·Q.
    let q = (dense - k * ring / n) / (m - k);
    let p = ring / n - q;
    // A finer split: a principal alone, the first pair about a subject (which allocates the
    // subject's first B-tree node), and each further pair.
    let bare = empty / n0;
    let first = ring / n - bare;
    let further = (dense - k * bare) / m;
    eprintln!(
        "memory: solved from ring and dense: {p:.0} bytes/principal, {q:.0} bytes/pair; \
         a principal with no evidence: {bare:.0} bytes; the first pair about a subject: \
         {first:.0} bytes; further pairs (200 per subject): {further:.0} bytes each",
    );
    match measure("epinions") {
        Some((bytes, nodes, pairs, subjects)) => eprintln!(
            "memory: Epinions-sized state ({nodes} principals, {pairs} pairs of which {subjects} \
             subjects' first, 841,372 ratings): {:.1} MiB measured; predicted {:.1} MiB from \
             bytes/principal and bytes/pair, {:.1} MiB from the finer split",
            bytes / 1048576.0,
            (nodes * p + pairs * q) / 1048576.0,
            (nodes * bare + subjects * first + (pairs - subjects) * further) / 1048576.0,
        ),
        None => eprintln!("memory: Epinions data set missing, skipped"),
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(shape) = std::env::var(MEMORY_CHILD) {
        memory_child(&shape);
        return;
    }
    memory_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
