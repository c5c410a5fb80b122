//! The explained decision's reply, two ways: serialising the `DecisionView` (what the batch
//! endpoint and the command line do) against `write_decision` straight to bytes (what
//! `POST /v1/decide` does), on the same decisions, alternating in one run.
//!
//! `cargo bench -p stepwise-api --bench reply` prints criterion's figures, then the median of
//! 15 interleaved rounds of each and their ratio.

use criterion::Criterion;
use std::hint::black_box;
use std::time::Instant;
use stepwise::evidence::{Event, Id, Time};
use stepwise::ladder::{Decision, Ladder, LadderState};
use stepwise::model::params::{DAY_MICROS, ModelParams};
use stepwise_api::{DecisionView, write_decision};

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn at(day: f64) -> Time {
    Time::from_micros(T0 + (day * DAY_MICROS as f64) as i64).expect("time")
}

/// Four principals who promise one another, keep most promises, break a few and rate each
/// other, over 40 days.
fn world() -> LadderState {
    let mut state = LadderState::new(ModelParams::default(), Ladder::default());
    let people = ["ann", "bob", "cat", "dan"];
    let mut index = 0;
    let mut record = |json: String| {
        let event = Event::from_json(&json).expect("event");
        state.apply(index, &event);
        index += 1;
    };
    for k in 0..40_usize {
        let day = k as f64 * 0.9;
        let (who, to) = (people[k % 3], people[(k % 3 + 1 + (k / 3) % 3) % 4]);
        let result = if k % 7 == 6 { "broken" } else { "kept" };
        record(format!(
            r#"{{"kind":"promise","at":"{}","id":"p{k}","promisor":"{who}","promisee":"{to}","scope":"work","stake":{},"due":"{}"}}"#,
            at(day),
            5 + k,
            at(day + 3.0)
        ));
        record(format!(
            r#"{{"kind":"outcome","at":"{}","promise":"p{k}","result":"{result}"}}"#,
            at(day + 0.5)
        ));
    }
    state
}

fn view(decisions: &[Decision<'_>]) -> usize {
    decisions
        .iter()
        .map(|d| {
            serde_json::to_vec(&DecisionView::new(d, 77))
                .expect("json")
                .len()
        })
        .sum()
}

fn direct(decisions: &[Decision<'_>]) -> usize {
    decisions
        .iter()
        .map(|d| {
            let mut out = Vec::with_capacity(2048);
            write_decision(d, 77, &mut out);
            out.len()
        })
        .sum()
}

fn main() {
    let state = world();
    let subjects: Vec<Id> = ["ann", "bob", "cat", "dan", "eve"]
        .iter()
        .map(|s| Id::parse("subject", s).expect("id"))
        .collect();
    let mut decisions = Vec::new();
    for subject in &subjects {
        for capability in ["read", "propose", "act:low", "act:high", "fly"] {
            for stake in [1.0, 20.0, 100.0, 1e4] {
                decisions.push(state.decide(subject, capability, stake, None, at(38.0)));
            }
        }
    }
    assert_eq!(
        view(&decisions),
        direct(&decisions),
        "the same bytes' length"
    );
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("explained_reply");
    group.bench_function("view", |b| b.iter(|| view(black_box(&decisions))));
    group.bench_function("direct", |b| b.iter(|| direct(black_box(&decisions))));
    group.finish();
    // The same two, interleaved round by round, so that load hits both alike.
    let per = |f: fn(&[Decision<'_>]) -> usize| {
        let start = Instant::now();
        for _ in 0..200 {
            black_box(f(black_box(&decisions)));
        }
        start.elapsed().as_secs_f64() * 1e6 / (200 * decisions.len()) as f64
    };
    let (mut v, mut d): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for round in 0..15 {
        if round % 2 == 0 {
            v.push(per(view));
            d.push(per(direct));
        } else {
            d.push(per(direct));
            v.push(per(view));
        }
    }
    let median = |x: &mut Vec<f64>| {
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let (v, d) = (median(&mut v), median(&mut d));
    eprintln!(
        "explained reply, {} decisions, median of 15 interleaved rounds: view {v:.2} µs, \
         direct {d:.2} µs per decision; view / direct {:.2}",
        decisions.len(),
        v / d
    );
    c.final_summary();
}
