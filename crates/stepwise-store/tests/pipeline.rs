//! The pipelined append (`Ledger::append_stream`): writing one batch while the next is prepared
//! records exactly what appending the batches one at a time records, in format 2 byte for byte,
//! in format 3 the same answers and the same names; and a write that loses a race with another
//! process is appended again, as any append that loses one.

use crate::common::{PEOPLE, T0, history, id, rating, step, time};
use proptest::prelude::*;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use stepwise::evidence::seal::is_pseudonym;
use stepwise::evidence::{Event, FieldError, Refusal};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, ManualClock, Origin};
use stepwise::model::params::DAY_MICROS;
use stepwise_store::names::Names;
use stepwise_store::{Appended, Ledger, LogStore as _, SqliteStore, verify};

type TestResult = Result<(), Box<dyn Error>>;

/// A ledger, and the names it seals with when it writes format 3.
type Opened = (Ledger<SqliteStore>, Option<Arc<Names>>);

fn signer() -> LogSigner {
    LogSigner::from_seed("pipeline.test/log", [7; 32]).expect("signer")
}

/// A ledger over a SQLite file in `dir`, sealing (format 3) or not, stamping at `now`.
fn ledger(dir: &Path, sealing: bool, now: i64) -> Result<Opened, Box<dyn Error>> {
    let store = SqliteStore::open(&dir.join("log.sqlite"))?;
    let clock = Arc::new(ManualClock::new(time(now)));
    let config = LedgerConfig::default();
    if !sealing {
        return Ok((Ledger::open(store, signer(), config, clock)?, None));
    }
    let names = Arc::new(Names::open(&store)?);
    let ledger = Ledger::open_sealing(store, signer(), config, clock, Arc::clone(&names))?;
    Ok((ledger, Some(names)))
}

/// `events` cut into batches of the sizes `cuts` gives in turn; after each batch numbered in
/// `again`, a batch of its events once more (mostly refused: promise ids and outcomes used).
fn batches(events: &[Event], cuts: &[usize], again: &[usize]) -> Vec<Vec<Event>> {
    let mut out = Vec::new();
    let mut rest = events;
    for k in 0.. {
        if rest.is_empty() {
            break;
        }
        let (batch, after) = rest.split_at(cuts[k % cuts.len()].min(rest.len()));
        out.push(batch.to_vec());
        if again.contains(&k) {
            out.push(batch.to_vec());
        }
        rest = after;
    }
    out
}

/// What each batch's append answered, streamed or one at a time.
fn append_all(
    ledger: &mut Ledger<SqliteStore>,
    batches: &[Vec<Event>],
    streamed: bool,
) -> Result<Vec<Appended>, Box<dyn Error>> {
    let mut answers = Vec::new();
    if streamed {
        let mut given = batches.iter().cloned();
        ledger.append_stream(Origin::History, &mut || given.next(), &mut |a| {
            answers.push(a)
        })?;
    } else {
        for batch in batches {
            answers.push(ledger.append_as(batch.clone(), Origin::History)?);
        }
    }
    Ok(answers)
}

/// Each event's index, or the field and code of its refusal (whose words name a sealed promise
/// id, which differs between two logs in format 3).
fn judged(results: &[Result<u64, FieldError>]) -> Vec<Result<u64, (String, Refusal)>> {
    let refusal = |e: &FieldError| (e.field.to_string(), e.code);
    results
        .iter()
        .map(|r| r.as_ref().copied().map_err(refusal))
        .collect()
}

/// Appends `batches` to a fresh log of each format both ways, and checks the two agree.
fn streamed_as_one_at_a_time(batches: &[Vec<Event>], now: i64) -> Result<(), TestCaseError> {
    let fail = |e: Box<dyn Error>| TestCaseError::fail(e.to_string());
    for sealing in [false, true] {
        let dirs = [
            tempfile::tempdir().map_err(|e| fail(e.into()))?,
            tempfile::tempdir().map_err(|e| fail(e.into()))?,
        ];
        let (mut one, one_names) = ledger(dirs[0].path(), sealing, now).map_err(fail)?;
        let (mut streamed, streamed_names) = ledger(dirs[1].path(), sealing, now).map_err(fail)?;
        let expected = append_all(&mut one, batches, false).map_err(fail)?;
        let answers = append_all(&mut streamed, batches, true).map_err(fail)?;
        prop_assert_eq!(answers.len(), expected.len(), "one answer a batch");
        for (got, want) in answers.iter().zip(&expected) {
            prop_assert_eq!(judged(&got.results), judged(&want.results));
            if !sealing {
                prop_assert_eq!(&got.results, &want.results);
            }
            prop_assert_eq!(got.recorded_at, want.recorded_at);
            prop_assert_eq!(got.checkpoint.size, want.checkpoint.size);
            prop_assert_eq!(got.events.len(), want.events.len());
            if !sealing {
                // Same clock, same signer: the same entries, so the same signed checkpoints.
                prop_assert_eq!(&got.checkpoint.note, &want.checkpoint.note);
                prop_assert_eq!(&got.events, &want.events);
            }
        }
        let store = streamed.store();
        let report = verify(
            store,
            &streamed.verifier(),
            &LedgerConfig::default(),
            &mut |_| {},
        )
        .map_err(|e| fail(e.into()))?;
        prop_assert!(report.is_ok(), "{:?}", report.problems);
        if let (Some(a), Some(b)) = (&one_names, &streamed_names) {
            for person in PEOPLE {
                let known = |names: &Names| is_pseudonym(names.name(&id(person)).as_str());
                prop_assert_eq!(known(a), known(b), "{} named alike", person);
            }
        }
        // The streamed log opens again into the same ledger: everything once more is judged
        // alike by both.
        drop(streamed);
        let (mut reopened, _) = ledger(dirs[1].path(), sealing, now).map_err(fail)?;
        let all: Vec<Event> = batches.concat();
        let probe = |l: &mut Ledger<SqliteStore>| l.append_as(all.clone(), Origin::History);
        let (a, b) = (probe(&mut one), probe(&mut reopened));
        let (a, b) = (
            a.map_err(|e| fail(e.into()))?,
            b.map_err(|e| fail(e.into()))?,
        );
        prop_assert_eq!(judged(&a.results), judged(&b.results));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A pipelined append records what one batch at a time records, refusals and all.
    #[test]
    fn a_pipelined_append_records_what_one_batch_at_a_time_records(
        steps in prop::collection::vec(step(), 1..60),
        cuts in prop::collection::vec(1usize..9, 1..5),
        again in prop::collection::vec(0usize..12, 0..4),
    ) {
        let (events, last_day) = history(&steps);
        let now = T0 + ((last_day + 1.0) * DAY_MICROS as f64) as i64;
        streamed_as_one_at_a_time(&batches(&events, &cuts, &again), now)?;
    }
}

/// Another process appends to the same log while a pipelined append runs, before each of its
/// batches, naming for the first time the newcomer that batch names: the batch in flight finds
/// the log grown and the next finds its newcomer taken. Both are appended again, in order; every
/// event is recorded once, the log verifies, and each newcomer has one pseudonym.
#[test]
fn a_pipelined_write_that_loses_a_race_is_appended_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let now = T0 + DAY_MICROS * 3 / 2;
    let (mut streamed, names) = ledger(dir.path(), true, now)?;
    let (mut other, other_names) = ledger(dir.path(), true, now)?;
    let newcomer = |k: usize| format!("newcomer-{k}");
    let mut k = 0;
    let mut next = || {
        k += 1;
        if k > 12 {
            return None;
        }
        if k % 2 == 0 {
            let hello = rating(PEOPLE[k % 6], &newcomer(k), 0.5, 1.0);
            other
                .append(vec![hello])
                .expect("the other process appends");
        }
        Some(vec![
            rating(&newcomer(k), PEOPLE[(k + 1) % 6], 0.25, 1.0),
            rating(PEOPLE[(k + 2) % 6], PEOPLE[(k + 3) % 6], -0.5, 1.5),
        ])
    };
    let mut answers = Vec::new();
    streamed.append_stream(Origin::Live, &mut next, &mut |a| answers.push(a))?;
    assert_eq!(answers.len(), 12, "one answer a batch");
    let mut indexes = Vec::new();
    for answer in &answers {
        for result in &answer.results {
            indexes.push(result.clone()?);
        }
    }
    assert!(
        indexes.windows(2).all(|w| w[0] < w[1]),
        "in order: {indexes:?}"
    );
    assert_eq!(streamed.store().size()?, 12 * 2 + 6, "every event once");
    let report = verify(
        streamed.store(),
        &streamed.verifier(),
        &LedgerConfig::default(),
        &mut |_| {},
    )?;
    assert!(report.is_ok(), "{:?}", report.problems);
    let (names, other_names) = (names.ok_or("sealing")?, other_names.ok_or("sealing")?);
    for k in (2..=12).step_by(2) {
        let name = names.name(&id(&newcomer(k)));
        assert!(is_pseudonym(name.as_str()), "{name}");
        assert_eq!(other_names.name(&id(&newcomer(k))), name, "one pseudonym");
    }
    Ok(())
}

/// A batch larger than the ledger takes is refused as `append` refuses it: the batches before
/// it are durable and told, nothing from it or after it is recorded.
#[test]
fn a_pipelined_batch_too_large_is_refused_after_the_ones_before_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let now = T0 + DAY_MICROS;
    let (mut ledger, _) = ledger(dir.path(), true, now)?;
    let small = || {
        vec![
            rating("ann", "bob", 0.5, 0.5),
            rating("bob", "ann", 0.5, 0.5),
        ]
    };
    let large = vec![rating("cat", "dan", 0.5, 0.5); stepwise_store::MAX_BATCH + 1];
    let mut batches = vec![small(), large, small()].into_iter();
    let mut told = Vec::new();
    let result = ledger.append_stream(Origin::Live, &mut || batches.next(), &mut |a| {
        told.push(a.recorded())
    });
    let error = result.expect_err("the large batch is refused");
    assert!(
        error.to_string().contains("at most 10000 events"),
        "{error}"
    );
    assert_eq!(told, [2], "the batch before it is told");
    assert_eq!(
        ledger.store().size()?,
        2,
        "its first batch and nothing after"
    );
    Ok(())
}
