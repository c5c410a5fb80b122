//! Shared test fixtures: event builders and a generator of random, valid, time-ordered
//! histories among six principals.
#![allow(dead_code)]

use proptest::prelude::*;
use std::sync::Arc;
use stepwise::evidence::{Event, Id, Time};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, ManualClock};
use stepwise::model::params::DAY_MICROS;
use stepwise_store::SqliteStore;
use stepwise_store::{Appended, Ledger};

pub const PEOPLE: [&str; 6] = ["ann", "bob", "cat", "dan", "eve", "fay"];
pub const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

pub fn id(s: &str) -> Id {
    Id::parse("id", s).expect("id")
}

pub fn time(micros: i64) -> Time {
    Time::from_micros(micros).expect("time")
}

pub fn at(day: f64) -> Time {
    time(T0 + (day * DAY_MICROS as f64) as i64)
}

/// A ledger over an in-memory store, and the clock it stamps entries with, set by the test.
pub fn ledger_and_clock(origin: &str, seed: u8) -> (Ledger<SqliteStore>, Arc<ManualClock>) {
    let signer = LogSigner::from_seed(origin, [seed; 32]).expect("signer");
    let clock = Arc::new(ManualClock::new(time(T0)));
    let store = SqliteStore::in_memory().expect("store");
    let ledger =
        Ledger::open(store, signer, LedgerConfig::default(), clock.clone()).expect("ledger");
    (ledger, clock)
}

/// Appends `e` as live evidence recorded as it happens: the clock reads its `at`.
pub fn append_live(ledger: &mut Ledger<SqliteStore>, clock: &ManualClock, e: Event) -> Appended {
    clock.set(e.at);
    ledger.append(vec![e]).expect("append")
}

pub fn event(json: String) -> Event {
    Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

pub fn promise(
    id: &str,
    promisor: &str,
    promisee: &str,
    stake: f64,
    day: f64,
    due_day: f64,
) -> Event {
    event(format!(
        r#"{{"kind":"promise","at":"{}","id":"{id}","promisor":"{promisor}","promisee":"{promisee}","scope":"work","stake":{stake},"due":"{}"}}"#,
        at(day),
        at(due_day)
    ))
}

pub fn outcome(id: &str, result: &str, day: f64) -> Event {
    let (result, fraction) = match result.split_once(':') {
        Some((r, f)) => (r, format!(r#","fraction":{f}"#)),
        None => (result, String::new()),
    };
    event(format!(
        r#"{{"kind":"outcome","at":"{}","promise":"{id}","result":"{result}"{fraction}}}"#,
        at(day)
    ))
}

pub fn rating(rater: &str, subject: &str, value: f64, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"rating","at":"{}","rater":"{rater}","subject":"{subject}","value":{value}}}"#,
        at(day)
    ))
}

pub fn report(reporter: &str, subject: &str, severity: f64, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"report","at":"{}","reporter":"{reporter}","subject":"{subject}","severity":{severity}}}"#,
        at(day)
    ))
}

/// An approval by `approver` of `subject`'s call, allowing the promise `promise` to come.
pub fn approval(approver: &str, subject: &str, promise: &str, stake: f64, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"approval","at":"{}","approver":"{approver}","subject":"{subject}","promise":"{promise}","capability":"act:low","stake":{stake}}}"#,
        at(day)
    ))
}

pub fn vouch(voucher: &str, subject: &str, weight: f64, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"vouch","at":"{}","voucher":"{voucher}","subject":"{subject}","weight":{weight}}}"#,
        at(day)
    ))
}

pub fn unvouch(voucher: &str, subject: &str, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"unvouch","at":"{}","voucher":"{voucher}","subject":"{subject}"}}"#,
        at(day)
    ))
}

/// One step of a random history, turned into valid events as it is generated.
#[derive(Debug, Clone)]
pub enum Step {
    Promise {
        promisor: usize,
        promisee: usize,
        stake: f64,
        due_in: f64,
        /// An approval by principal `approver` comes first, when it names one (and not the
        /// promisor).
        approver: usize,
    },
    Outcome {
        which: usize,
        result: u8,
        fraction: f64,
    },
    Rating {
        rater: usize,
        subject: usize,
        value: f64,
    },
    Report {
        reporter: usize,
        subject: usize,
        severity: f64,
    },
    Vouch {
        voucher: usize,
        subject: usize,
        weight: f64,
    },
    Unvouch {
        which: usize,
    },
    Wait {
        days: f64,
    },
}

pub fn step() -> impl Strategy<Value = Step> {
    let who = 0..PEOPLE.len();
    prop_oneof![
        (
            who.clone(),
            who.clone(),
            0.0..1000.0f64,
            0.5..60.0f64,
            0..2 * PEOPLE.len()
        )
            .prop_map(|(a, b, stake, due_in, approver)| Step::Promise {
                promisor: a,
                promisee: b,
                stake,
                due_in,
                approver,
            }),
        (0..64usize, 0..3u8, 0.0..=1.0f64).prop_map(|(which, result, fraction)| Step::Outcome {
            which,
            result,
            fraction
        }),
        (who.clone(), who.clone(), -10..=10i32).prop_map(|(a, b, v)| Step::Rating {
            rater: a,
            subject: b,
            value: f64::from(v) / 10.0
        }),
        (who.clone(), who.clone(), 1..=10i32).prop_map(|(a, b, s)| Step::Report {
            reporter: a,
            subject: b,
            severity: f64::from(s) / 10.0
        }),
        (who.clone(), who.clone(), 1..=10i32).prop_map(|(a, b, w)| Step::Vouch {
            voucher: a,
            subject: b,
            weight: f64::from(w) / 10.0
        }),
        (0..16usize).prop_map(|which| Step::Unvouch { which }),
        (0.0..30.0f64).prop_map(|days| Step::Wait { days }),
    ]
}

/// Turns steps into a valid, time-ordered history; returns the events and the last day used.
pub fn history(steps: &[Step]) -> (Vec<Event>, f64) {
    let mut events = Vec::new();
    let mut day = 0.0;
    let mut open: Vec<(String, f64)> = Vec::new();
    let mut vouches: Vec<(usize, usize)> = Vec::new();
    for (n, s) in steps.iter().enumerate() {
        day += 0.01;
        match *s {
            Step::Promise {
                promisor,
                promisee,
                stake,
                due_in,
                approver,
            } if promisor != promisee => {
                let pid = format!("p{n}");
                let stake = (stake * 100.0).round() / 100.0;
                if approver < PEOPLE.len() && approver != promisor {
                    events.push(approval(
                        PEOPLE[approver],
                        PEOPLE[promisor],
                        &pid,
                        stake,
                        day,
                    ));
                }
                events.push(promise(
                    &pid,
                    PEOPLE[promisor],
                    PEOPLE[promisee],
                    stake,
                    day,
                    day + due_in,
                ));
                open.push((pid, day));
            }
            Step::Outcome {
                which,
                result,
                fraction,
            } if !open.is_empty() => {
                let (pid, _) = open.remove(which % open.len());
                let result = match result {
                    0 => "kept".to_owned(),
                    1 => "broken".to_owned(),
                    _ => format!("partial:{}", (fraction * 100.0).round() / 100.0),
                };
                events.push(outcome(&pid, &result, day));
            }
            Step::Rating {
                rater,
                subject,
                value,
            } if rater != subject => {
                events.push(rating(PEOPLE[rater], PEOPLE[subject], value, day));
            }
            Step::Report {
                reporter,
                subject,
                severity,
            } if reporter != subject => {
                events.push(report(PEOPLE[reporter], PEOPLE[subject], severity, day));
            }
            Step::Vouch {
                voucher,
                subject,
                weight,
            } if voucher != subject => {
                events.push(vouch(PEOPLE[voucher], PEOPLE[subject], weight, day));
                vouches.retain(|v| *v != (voucher, subject));
                vouches.push((voucher, subject));
            }
            Step::Unvouch { which } if !vouches.is_empty() => {
                let (v, s) = vouches.remove(which % vouches.len());
                events.push(unvouch(PEOPLE[v], PEOPLE[s], day));
            }
            Step::Wait { days } => day += days,
            _ => {}
        }
    }
    (events, day)
}
