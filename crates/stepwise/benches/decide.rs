//! Ladder decision benchmark: `LadderState::decide` on a state of 10^5 principals spread over
//! every level of the default ladder, against cedar-policy evaluating an equivalent policy in
//! the same run. Figures and how to read them: docs/BENCHMARKS.md, "Ladder: decide latency
//! against Cedar".
//!
//! The state is folded from a generated log (promises kept and broken, open and overdue
//! promises, ratings, vouches) spread over 240 days, and every decision is taken at one instant
//! after it. Cedar gets, for every principal, its level at that instant, the stake limit of that
//! level and whether its record is negative (expected trust below the ladder's floor) as entity
//! attributes, and one `permit` per capability with the lowest level granting it; its answer is
//! checked against stepwise's on every pre-generated request before anything is timed.
//!
//! Besides criterion's medians, the bench measures p50 and p99 itself: 200,000 decisions per
//! system, timed in batches of 64 calls (`Instant` is too coarse for one sub-microsecond call),
//! the systems taking turns so that the machine's noise falls on all of them alike. A batch's
//! mean smooths the tail of single calls, so p99 here is the p99 of 64-call means. Each turn
//! (8,000 calls) starts with caches that the other systems filled, so these figures are colder
//! than criterion's, whose millions of back-to-back calls keep much of the state in L3. A fourth
//! row times the first step of `decide` alone, the lookup of the subject's interned number, to
//! show where the time goes.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

mod common;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicySet,
    Request, RestrictedExpression,
};
use common::{Rng, Samples};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use stepwise::evidence::{Body, Event, Id, OutcomeResult, Time};
use stepwise::ladder::{Ladder, LadderState};
use stepwise::model::params::{DAY_MICROS, ModelParams};

/// Principals in the state: the first `CLIENTS` only receive promises and rate, the rest act.
const PRINCIPALS: u32 = 100_000;
/// Principals that receive promises and record their outcomes.
const CLIENTS: u32 = 1_000;
/// Early agents who reach level 2 first and vouch for the climbers to level 3.
const ELDERS: u32 = 200;
/// 2026-01-01T00:00:00Z, in microseconds.
const START: i64 = 1_767_225_600_000_000;
/// The instant every decision is taken at, in days after `START`.
const AT_DAY: f64 = 240.0;
/// Pre-generated requests (a power of two), shared by every system.
const QUERIES: usize = 1 << 16;
/// Calls per timed batch in the percentile loop.
const BATCH: usize = 64;
/// Decisions per system in the percentile loop.
const LATENCY_CALLS: usize = 200_000;
/// Turns the systems take in the percentile loop.
const ROUNDS: usize = 25;
/// The capabilities of the default ladder.
const CAPABILITIES: [&str; 6] = [
    "read",
    "propose",
    "act:low",
    "act:medium",
    "act:high",
    "vouch",
];

/// SplitMix64: a small deterministic generator, so every run folds the same log.
/// One generated event, compact until it is applied.
#[derive(Clone, Copy)]
enum What {
    /// Promise number `n` of the agent to `client`.
    Promise {
        n: u32,
        client: u32,
        stake: f64,
        due: i64,
    },
    /// The outcome of the agent's promise number `n`, recorded by its client.
    Outcome { n: u32, kept: bool },
    /// A client rates the agent.
    Rating { client: u32, value: f64 },
    /// An elder vouches for the agent.
    Vouch { voucher: u32 },
}

#[derive(Clone, Copy)]
struct Raw {
    at: i64,
    agent: u32,
    what: What,
}

/// Builds one agent's events, its clock counting days from its own start.
struct Agent<'a> {
    agent: u32,
    start: f64,
    promises: u32,
    out: &'a mut Vec<Raw>,
}

fn micros(day: f64) -> i64 {
    START + (day * DAY_MICROS as f64) as i64
}

impl Agent<'_> {
    fn push(&mut self, day: f64, what: What) {
        self.out.push(Raw {
            at: micros(self.start + day),
            agent: self.agent,
            what,
        });
    }

    /// A promise at `day`, due ten days later; its outcome `after` days later, if any.
    fn promise(&mut self, rng: &mut Rng, day: f64, stake: u64, after: Option<(f64, bool)>) {
        let n = self.promises;
        self.promises += 1;
        let client = rng.below(u64::from(CLIENTS)) as u32;
        let due = micros(self.start + day + 10.0);
        let stake = stake as f64;
        self.push(
            day,
            What::Promise {
                n,
                client,
                stake,
                due,
            },
        );
        if let Some((after, kept)) = after {
            self.push(day + after, What::Outcome { n, kept });
        }
    }

    /// `count` promises kept, at stakes in `lo..=hi`, one every `every` days from `from`.
    fn kept(&mut self, rng: &mut Rng, from: f64, count: u64, every: f64, (lo, hi): (u64, u64)) {
        for i in 0..count {
            let stake = rng.int(lo, hi);
            let after = rng.range(0.02, 0.5);
            self.promise(rng, from + i as f64 * every, stake, Some((after, true)));
        }
    }

    fn rating(&mut self, rng: &mut Rng, day: f64, value: f64) {
        let client = rng.below(u64::from(CLIENTS)) as u32;
        self.push(day, What::Rating { client, value });
    }

    /// Level 1 within two days, level 2 about nine days after the start.
    fn climb_to_two(&mut self, rng: &mut Rng) {
        self.kept(rng, 0.0, 3, 0.4, (5, 20));
        let value = rng.range(0.5, 1.0);
        self.rating(rng, 1.5, value);
        let count = rng.int(10, 14);
        self.kept(rng, 2.0, count, 0.8, (50, 300));
        let value = rng.range(0.5, 1.0);
        self.rating(rng, 14.0, value);
    }
}

/// The whole log, in time order.
fn generate() -> (Vec<Raw>, HashMap<&'static str, usize>) {
    let mut rng = Rng(0x5eed);
    let mut raw = Vec::new();
    let mut plans: HashMap<&'static str, usize> = HashMap::new();
    for agent in CLIENTS..PRINCIPALS {
        let elder = agent < CLIENTS + ELDERS;
        let roll = rng.below(100);
        let (plan, window) = match roll {
            _ if elder => ("elder", (0.0, 5.0)),
            0..31 => ("newcomer", (AT_DAY - 150.0, AT_DAY - 1.0)),
            31..61 => ("contributor", (AT_DAY - 200.0, AT_DAY - 10.0)),
            61..81 => ("trusted", (AT_DAY - 200.0, AT_DAY - 15.0)),
            81..89 => ("steward", (AT_DAY - 180.0, AT_DAY - 60.0)),
            89..92 => ("fallen", (AT_DAY - 150.0, AT_DAY - 20.0)),
            92..94 => ("negative", (AT_DAY - 100.0, AT_DAY - 1.0)),
            94..98 => ("pending", (AT_DAY - 200.0, AT_DAY - 10.0)),
            _ => ("overdue", (AT_DAY - 100.0, AT_DAY - 10.0)),
        };
        *plans.entry(plan).or_default() += 1;
        let start = rng.range(window.0, window.1);
        let mut a = Agent {
            agent,
            start,
            promises: 0,
            out: &mut raw,
        };
        match plan {
            "newcomer" => {
                let promises = rng.int(0, 2);
                a.kept(&mut rng, 0.0, promises, 0.3, (1, 20));
                for i in 0..rng.int(u64::from(promises == 0), 2) {
                    let value = if rng.below(10) == 0 {
                        -rng.range(0.3, 1.0)
                    } else {
                        rng.range(0.2, 1.0)
                    };
                    a.rating(&mut rng, 0.5 + i as f64, value);
                }
            }
            "contributor" | "pending" | "overdue" => {
                let count = rng.int(3, 6);
                a.kept(&mut rng, 0.0, count, 0.4, (5, 40));
                let (day, value) = (rng.range(2.0, 8.0), rng.range(0.3, 1.0));
                a.rating(&mut rng, day, value);
                if plan == "pending" {
                    // Still open at the decision instant, not yet due.
                    let day = AT_DAY - 3.0 - start;
                    let stake = rng.int(5, 100);
                    a.promise(&mut rng, day, stake, None);
                } else if plan == "overdue" {
                    // Due on day 13, never resolved: charged as broken (by a later rating for
                    // half of them, by the decision itself for the others).
                    let stake = rng.int(5, 100);
                    a.promise(&mut rng, 3.0, stake, None);
                    if rng.below(2) == 0 {
                        let value = rng.range(0.3, 1.0);
                        a.rating(&mut rng, 9.5, value);
                    }
                }
            }
            "trusted" | "elder" => a.climb_to_two(&mut rng),
            "steward" => {
                a.climb_to_two(&mut rng);
                let voucher = CLIENTS + rng.below(u64::from(ELDERS)) as u32;
                a.push(14.5, What::Vouch { voucher });
                let count = rng.int(20, 25);
                a.kept(&mut rng, 15.0, count, 1.5, (500, 3_000));
            }
            "fallen" => {
                a.climb_to_two(&mut rng);
                let stake = rng.int(50, 1_200);
                a.promise(&mut rng, 16.0, stake, Some((0.5, false)));
            }
            _ => {
                let count = rng.int(2, 3);
                for i in 0..count {
                    let stake = rng.int(5, 50);
                    a.promise(&mut rng, i as f64 * 0.5, stake, Some((0.3, false)));
                }
            }
        }
    }
    // Stable: an agent's events at one instant keep their order.
    raw.sort_by_key(|r| r.at);
    (raw, plans)
}

fn id(prefix: &str, n: u32) -> Id {
    Id::parse("bench", &format!("{prefix}:{n}")).expect("valid id")
}

fn time(micros: i64) -> Time {
    Time::from_micros(micros).expect("instant in range")
}

/// The principal ids: clients first, then agents.
fn principal_ids() -> Vec<Id> {
    (0..PRINCIPALS)
        .map(|p| {
            if p < CLIENTS {
                id("client", p)
            } else {
                id("agent", p)
            }
        })
        .collect()
}

fn build(ids: &[Id], raw: &[Raw]) -> LadderState {
    let mut state = LadderState::new(ModelParams::default(), Ladder::default());
    let promise_id = |agent: u32, n: u32| id(&format!("p{agent}"), n);
    for (index, r) in raw.iter().enumerate() {
        let agent = &ids[r.agent as usize];
        let (author, body) = match r.what {
            What::Promise {
                n,
                client,
                stake,
                due,
            } => (
                agent,
                Body::Promise {
                    id: promise_id(r.agent, n),
                    promisor: agent.clone(),
                    promisee: ids[client as usize].clone(),
                    scope: id("task", 0),
                    stake,
                    due: time(due),
                },
            ),
            What::Outcome { n, kept } => (
                agent,
                Body::Outcome {
                    promise: promise_id(r.agent, n),
                    result: if kept {
                        OutcomeResult::Kept
                    } else {
                        OutcomeResult::Broken
                    },
                },
            ),
            What::Rating { client, value } => (
                &ids[client as usize],
                Body::Rating {
                    rater: ids[client as usize].clone(),
                    subject: agent.clone(),
                    value,
                    scope: None,
                },
            ),
            What::Vouch { voucher } => (
                &ids[voucher as usize],
                Body::Vouch {
                    voucher: ids[voucher as usize].clone(),
                    subject: agent.clone(),
                    scope: None,
                    weight: 1.0,
                },
            ),
        };
        let event = Event {
            at: time(r.at),
            author: Some(author.clone()),
            body,
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        };
        state.apply(index as u64, &event);
    }
    state
}

/// One request: who, what, at which stake. The subject is its own copy of the id, laid out in
/// request order as a server would hold a request's freshly parsed fields (reading it from the
/// shared table of ids would add a cache miss no real caller has).
struct Query {
    subject: Id,
    capability: &'static str,
    stake: f64,
}

/// Requests spread over every principal and capability, with stakes around every level's limit
/// (so that both the level and the stake limit decide some of them).
fn queries(ladder: &Ladder, ids: &[Id]) -> Vec<Query> {
    let mut rng = Rng(0xdec1de);
    let limits: Vec<f64> = ladder.levels().iter().map(|l| l.max_stake).collect();
    (0..QUERIES)
        .map(|_| {
            let subject = ids[rng.below(u64::from(PRINCIPALS)) as usize].clone();
            let capability = CAPABILITIES[rng.below(CAPABILITIES.len() as u64) as usize];
            let limit = limits[rng.below(limits.len() as u64) as usize];
            let stake = (limit * rng.range(0.05, 1.3)).round();
            Query {
                subject,
                capability,
                stake,
            }
        })
        .collect()
}

/// The Cedar side: one `permit` per capability, with the lowest level granting it.
fn cedar_policies(ladder: &Ladder) -> PolicySet {
    let text: String = CAPABILITIES
        .iter()
        .map(|c| {
            let needed = ladder.level_granting(c).expect("capability of the ladder");
            format!(
                "permit(principal, action == Action::{c:?}, resource)\n  when {{ !principal.negative_record && principal.level >= {needed} && context.stake <= principal.max_stake }};\n"
            )
        })
        .collect();
    PolicySet::from_str(&text).expect("policies parse")
}

fn cedar_uid(kind: &str, name: &str) -> EntityUid {
    EntityUid::from_str(&format!("{kind}::{name:?}")).expect("entity uid")
}

/// Every principal as a `User` entity with its level, the stake it may still take (its level's
/// limit less what open promises hold) and whether its record is negative, all as stepwise sees
/// them at `at`.
fn cedar_entities(state: &LadderState, ids: &[Id], at: Time) -> Entities {
    let floor = state.ladder().rules().floor_expected;
    let users = ids.iter().map(|id| {
        let d = state.decide(id, "read", 0.0, None, at);
        let attrs = HashMap::from([
            (
                "level".to_owned(),
                RestrictedExpression::new_long(d.level as i64),
            ),
            (
                "max_stake".to_owned(),
                RestrictedExpression::new_long(d.available().floor() as i64),
            ),
            (
                "negative_record".to_owned(),
                RestrictedExpression::new_bool(d.expected < floor),
            ),
        ]);
        Entity::new(cedar_uid("User", id.as_str()), attrs, HashSet::new()).expect("entity")
    });
    Entities::from_entities(users, None).expect("entities")
}

fn cedar_requests(queries: &[Query]) -> Vec<Request> {
    let resource = cedar_uid("Resource", "ladder");
    let actions: HashMap<&str, EntityUid> = CAPABILITIES
        .iter()
        .map(|c| (*c, cedar_uid("Action", c)))
        .collect();
    queries
        .iter()
        .map(|q| {
            let context = Context::from_pairs([(
                "stake".to_owned(),
                RestrictedExpression::new_long(q.stake as i64),
            )])
            .expect("context");
            Request::new(
                cedar_uid("User", q.subject.as_str()),
                actions[q.capability].clone(),
                resource.clone(),
                context,
                None,
            )
            .expect("request")
        })
        .collect()
}

/// Seconds per call of each criterion sample, to print medians and their ratio.
/// Times `routine` on successive requests as `Bencher::iter` would, keeping the samples.
fn timed_requests(
    b: &mut criterion::Bencher,
    samples: &Samples,
    mut routine: impl FnMut(usize) -> bool,
) {
    let mut k = 0;
    common::timed(b, samples, || {
        let allowed = routine(k);
        k = (k + 1) % QUERIES;
        allowed
    });
}

/// One timed batch of `BATCH` calls from request `k` on; nanoseconds per call.
fn batch(routine: &mut dyn FnMut(usize) -> bool, k: &mut usize) -> f64 {
    let start = Instant::now();
    for _ in 0..BATCH {
        black_box(routine(*k));
        *k = (*k + 1) % QUERIES;
    }
    start.elapsed().as_nanos() as f64 / BATCH as f64
}

/// One system's turn: `batches` timed batches, kept in `list` unless warming up.
fn turn(
    routine: &mut dyn FnMut(usize) -> bool,
    batches: usize,
    keep: bool,
    list: &mut Vec<f64>,
    k: &mut usize,
) {
    for _ in 0..batches {
        let t = batch(routine, k);
        if keep {
            list.push(t);
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let ids = principal_ids();
    let (raw, plans) = generate();
    let mut plans: Vec<_> = plans.into_iter().collect();
    plans.sort();
    let generated = started.elapsed();
    let state = build(&ids, &raw);
    eprintln!(
        "decide: {} events over {} principals folded in {:.1} s (generated in {:.1} s); plans {plans:?}",
        raw.len(),
        state.trust().principals(),
        (started.elapsed() - generated).as_secs_f64(),
        generated.as_secs_f64(),
    );
    assert_eq!(state.trust().principals(), PRINCIPALS as usize);
    drop(raw);
    let at = time(micros(AT_DAY));
    let ladder = state.ladder().clone();

    let mut histogram = vec![0usize; ladder.levels().len()];
    for id in &ids {
        histogram[state.level_at(id, at)] += 1;
    }
    let floor = ladder.rules().floor_expected;
    let negative = ids
        .iter()
        .filter(|id| state.decide(id, "read", 0.0, None, at).expected < floor)
        .count();
    eprintln!(
        "decide: levels at {at}: {}; {negative} with a negative record",
        histogram
            .iter()
            .enumerate()
            .map(|(k, n)| format!("{k} ({}) {n}", ladder.levels()[k].name))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let queries = queries(&ladder, &ids);
    let entities = cedar_entities(&state, &ids, at);
    let policies = cedar_policies(&ladder);
    let requests = cedar_requests(&queries);
    let authorizer = Authorizer::new();

    // Same answer from both, on every request, before anything is timed.
    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    for (q, request) in queries.iter().zip(&requests) {
        let d = state.decide(&q.subject, q.capability, q.stake, None, at);
        let cedar = authorizer
            .is_authorized(request, &policies, &entities)
            .decision();
        assert_eq!(
            d.allowed,
            cedar == CedarDecision::Allow,
            "{} {} {}: stepwise {:?}, cedar {cedar:?}",
            q.subject,
            q.capability,
            q.stake,
            d.denial
        );
        *outcomes
            .entry(d.denial.map_or("allowed", |d| d.code()))
            .or_default() += 1;
    }
    let mut outcomes: Vec<_> = outcomes.into_iter().collect();
    outcomes.sort();
    eprintln!(
        "decide: stepwise and cedar agree on all {QUERIES} requests; outcomes {outcomes:?}; set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut stepwise = |k: usize| {
        let q = &queries[k];
        state
            .decide(&q.subject, q.capability, q.stake, None, at)
            .allowed
    };
    let mut explained = |k: usize| {
        let q = &queries[k];
        let d = state.decide(&q.subject, q.capability, q.stake, None, at);
        black_box((d.reasons(), d.next_step()));
        d.allowed
    };
    // The explanation put in words as well (what `stepwise decide` prints): every reason and
    // every next-step requirement rendered as text.
    let mut worded = |k: usize| {
        let q = &queries[k];
        let d = state.decide(&q.subject, q.capability, q.stake, None, at);
        let mut bytes = 0;
        for r in d.reasons().as_slice() {
            bytes += d.describe(r).len();
        }
        if let Some(next) = d.next_step() {
            for r in next.requirements() {
                bytes += d.describe_requirement(r).len();
            }
        }
        black_box(bytes);
        d.allowed
    };
    // Not a system: the first step of `decide` alone (the id's interned number), to show where
    // the time goes.
    let mut lookup = |k: usize| state.trust().principal_index(&queries[k].subject).is_some();
    let mut cedar = |k: usize| {
        authorizer
            .is_authorized(&requests[k], &policies, &entities)
            .decision()
            == CedarDecision::Allow
    };

    const SAMPLES: usize = 100;
    let samples: [Samples; 3] = Default::default();
    let param = "1e5_principals";
    let mut group = c.benchmark_group("decide");
    group.sample_size(SAMPLES);
    group.bench_function(BenchmarkId::new("stepwise", param), |b| {
        timed_requests(b, &samples[0], &mut stepwise)
    });
    group.bench_function(BenchmarkId::new("stepwise_explained", param), |b| {
        timed_requests(b, &samples[1], &mut explained)
    });
    group.bench_function(BenchmarkId::new("cedar", param), |b| {
        timed_requests(b, &samples[2], &mut cedar)
    });
    group.finish();
    let medians: Vec<Option<f64>> = samples.iter().map(|s| s.median(SAMPLES)).collect();
    if let [Some(ours), Some(explain), Some(peer)] = medians[..] {
        eprintln!(
            "decide (criterion medians): stepwise {:.3} µs, with explanation {:.3} µs, cedar {:.3} µs; \
             cedar/stepwise {:.1}×, cedar/(stepwise + explanation) {:.1}×",
            ours * 1e6,
            explain * 1e6,
            peer * 1e6,
            peer / ours,
            peer / explain
        );
    }

    // Percentiles: the systems take turns, each running LATENCY_CALLS decisions in all.
    let per_turn = LATENCY_CALLS / ROUNDS / BATCH;
    let mut times: [Vec<f64>; 5] = Default::default();
    let mut ks = [0usize; 5];
    let systems: [&mut dyn FnMut(usize) -> bool; 5] = [
        &mut stepwise,
        &mut explained,
        &mut cedar,
        &mut lookup,
        &mut worded,
    ];
    for round in 0..=ROUNDS {
        // Round 0 warms up and is not kept. The order changes every round — a start and a
        // stride that both vary (five systems, a prime, so every stride visits all) — so that
        // each system follows each of the others about as often: a turn after one that
        // allocates and touches much memory starts with colder caches.
        let keep = round > 0;
        let n = systems.len();
        let stride = 1 + round % (n - 1);
        for j in 0..n {
            let i = (round + j * stride) % n;
            turn(&mut *systems[i], per_turn, keep, &mut times[i], &mut ks[i]);
        }
    }
    let names = [
        "stepwise",
        "stepwise + explanation",
        "cedar",
        "(id lookup alone)",
        "(+ explanation in words)",
    ];
    let mut table = Vec::new();
    eprintln!(
        "decide latency ({} calls each, batches of {BATCH}, ns per call):",
        times[0].len() * BATCH
    );
    eprintln!("  {:24} {:>9} {:>9}", "system", "p50", "p99");
    for (name, list) in names.iter().zip(times.iter_mut()) {
        list.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(list, 0.5), percentile(list, 0.99));
        eprintln!("  {name:24} {p50:9.1} {p99:9.1}");
        table.push((p50, p99));
    }
    eprintln!(
        "  cedar/stepwise: p50 {:.1}×, p99 {:.1}×; cedar/(stepwise + explanation): p50 {:.1}×, p99 {:.1}×",
        table[2].0 / table[0].0,
        table[2].1 / table[0].1,
        table[2].0 / table[1].0,
        table[2].1 / table[1].1,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
