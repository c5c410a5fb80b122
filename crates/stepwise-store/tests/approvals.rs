//! Approvals in a stored log: the ledger's rules (an approval comes before the promise it
//! allows, once), and format 3 — the approval names its promise by the name the promise will
//! carry, so the fold links them from the leaves alone, and the doors open both.

use crate::common::{at, event, id, ledger_and_clock};
use std::error::Error;
use std::sync::Arc;
use stepwise::evidence::seal::is_pseudonym;
use stepwise::evidence::{Body, ErasureReason, Event};
use stepwise::ladder::Ladder;
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, ManualClock};
use stepwise::model::params::ModelParams;
use stepwise_store::forget;
use stepwise_store::names::{Names, open_entry};
use stepwise_store::replay::{self, Prefix};
use stepwise_store::{Ledger, PrivateStore as _, SqliteStore, verify};

type TestResult = Result<(), Box<dyn Error>>;

fn approval(approver: &str, subject: &str, promise: &str, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"approval","at":"{}","approver":"{approver}","subject":"{subject}","promise":"{promise}","capability":"deploy","stake":5,"decision":3}}"#,
        at(day)
    ))
}

fn promise(id: &str, promisor: &str, day: f64) -> Event {
    crate::common::promise(id, promisor, "user:ops", 5.0, day, day + 1.0)
}

fn outcome(promise: &str, result: &str, day: f64) -> Event {
    event(format!(
        r#"{{"kind":"outcome","at":"{}","promise":"{promise}","result":"{result}"}}"#,
        at(day)
    ))
}

/// Appends `e` with the clock at its `at`: its index, or the field its refusal names.
fn record<S: stepwise_store::Store>(
    ledger: &mut Ledger<S>,
    clock: &ManualClock,
    e: Event,
) -> Result<u64, String> {
    clock.set(e.at);
    let appended = ledger.append(vec![e]).expect("storage works");
    appended.results[0].clone().map_err(|e| e.field)
}

#[test]
fn an_approval_comes_before_the_promise_it_allows_and_only_once() {
    let (mut l, clock) = ledger_and_clock("approvals.test/log", 3);
    assert_eq!(
        record(&mut l, &clock, approval("user:ann", "agent:bot", "g1", 0.0)),
        Ok(0)
    );
    // One approval allows one promise.
    let again = approval("user:bob", "agent:bot", "g1", 0.01);
    assert_eq!(record(&mut l, &clock, again), Err("promise".into()));
    assert_eq!(
        record(&mut l, &clock, promise("g1", "agent:bot", 0.02)),
        Ok(1)
    );
    // Once the promise is in the log, an approval of it comes too late.
    let late = approval("user:bob", "agent:bot", "g1", 0.03);
    assert_eq!(record(&mut l, &clock, late), Err("promise".into()));
    // A promise whose id another principal's call was approved under is recorded all the same
    // (the fold does not link it).
    assert_eq!(
        record(
            &mut l,
            &clock,
            approval("user:ann", "agent:bot", "g2", 0.04)
        ),
        Ok(2)
    );
    assert_eq!(
        record(&mut l, &clock, promise("g2", "agent:carol", 0.05)),
        Ok(3)
    );
    // The approver records its approval, and no one else.
    let mut forged = approval("user:ann", "agent:bot", "g3", 0.06);
    forged.author = Some(id("agent:bot"));
    assert_eq!(record(&mut l, &clock, forged), Err("author".into()));
    // In one batch, too: the second approval of a promise id is refused.
    clock.set(at(0.07));
    let batch = vec![
        approval("user:ann", "agent:bot", "g4", 0.07),
        approval("user:ann", "agent:bot", "g4", 0.07),
    ];
    let results = l.append(batch).expect("storage works").results;
    assert_eq!(results[0], Ok(4));
    assert_eq!(
        results[1].clone().map_err(|e| e.field),
        Err("promise".into())
    );
}

/// A ledger that seals (format 3), with its names and clock.
type Sealing = (Ledger<SqliteStore>, Arc<Names>, Arc<ManualClock>);

/// A ledger that seals (format 3) over `store`, with its names and clock.
fn sealing(store: SqliteStore) -> Result<Sealing, Box<dyn Error>> {
    let names = Arc::new(Names::open(&store)?);
    let clock = Arc::new(ManualClock::new(at(0.0)));
    let signer = LogSigner::from_seed("approvals.test/sealed", [5; 32])?;
    let ledger = Ledger::open_sealing(
        store,
        signer,
        LedgerConfig::default(),
        clock.clone(),
        Arc::clone(&names),
    )?;
    Ok((ledger, names, clock))
}

/// A sealed log, its names, and the directory that holds it.
type SealedLog = (Ledger<SqliteStore>, Arc<Names>, tempfile::TempDir);

/// A sealed log of approvals: Ann approves Bot's call `gate-17` (entry 0); another process,
/// its names loaded from the store, records the promise (1) and its outcome, broken (2); then
/// an approval and its promise in one batch (3, 4). The log, its names, and the directory.
fn sealed_log() -> Result<SealedLog, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log.db");
    {
        let (mut l, _, clock) = sealing(SqliteStore::open(&path)?)?;
        let approved = approval("user:ann", "agent:bot", "gate-17", 0.0);
        assert_eq!(record(&mut l, &clock, approved), Ok(0));
    }
    let (mut l, names, clock) = sealing(SqliteStore::open(&path)?)?;
    let promised = promise("gate-17", "agent:bot", 0.1);
    assert_eq!(record(&mut l, &clock, promised), Ok(1));
    let broken = outcome("gate-17", "broken", 0.5);
    assert_eq!(record(&mut l, &clock, broken), Ok(2));
    clock.set(at(0.6));
    let batch = vec![
        approval("user:ann", "agent:bot", "gate-18", 0.6),
        promise("gate-18", "agent:bot", 0.6),
    ];
    assert_eq!(l.append(batch)?.results, [Ok(3), Ok(4)]);
    Ok((l, names, dir))
}

/// Entry `i`'s bytes and event.
fn leaf(l: &Ledger<SqliteStore>, i: u64) -> Result<(Vec<u8>, Event), Box<dyn Error>> {
    let bytes = l.entry(i)?.bytes;
    let event = Event::from_entry(&bytes)?;
    Ok((bytes, event))
}

#[test]
fn a_sealed_approval_names_its_promise_as_the_promise_will_and_the_doors_open_it() -> TestResult {
    let (l, names, _dir) = sealed_log()?;
    let (bytes, sealed) = leaf(&l, 0)?;
    let text = String::from_utf8(bytes.clone())?;
    for secret in ["gate-17", "user:ann", "agent:bot"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let Body::Approval {
        approver,
        subject,
        promise: named,
        capability,
        stake,
        decision,
    } = &sealed.body
    else {
        panic!("{sealed:?}");
    };
    assert!(is_pseudonym(approver.as_str()) && is_pseudonym(subject.as_str()));
    assert!(is_pseudonym(named.as_str()));
    let clear = (capability.as_str(), *stake, *decision);
    assert_eq!(clear, ("deploy", 5.0, Some(3)));
    // The promise's leaf carries the same name, made by another process after a restart, and
    // so does one made in the same batch as its approval.
    let Body::Promise { id: promised, .. } = leaf(&l, 1)?.1.body else {
        panic!("a promise")
    };
    assert_eq!(&promised, named);
    let (Body::Approval { promise: a, .. }, Body::Promise { id: p, .. }) =
        (leaf(&l, 3)?.1.body, leaf(&l, 4)?.1.body)
    else {
        panic!("an approval and a promise")
    };
    assert_eq!(a, p);
    // The doors open it: the entry's own opening, and the names of the log.
    let openings: Vec<_> = (l.store().openings(0, 1)?.into_iter())
        .map(|o| o.opening)
        .collect();
    let opened = open_entry(&bytes, &openings);
    assert_eq!(opened.event["promise"], "gate-17");
    assert!(opened.erased.is_empty() && opened.mismatched.is_empty());
    let shown = names.open_json(&text);
    assert!(
        shown.contains(r#""promise":"gate-17""#) && shown.contains("user:ann"),
        "{shown}"
    );
    Ok(())
}

#[test]
fn the_fold_links_a_sealed_approval_to_its_promise_without_an_opening() -> TestResult {
    let (l, names, _dir) = sealed_log()?;
    let state = replay::ladder_state(
        l.store(),
        ModelParams::default(),
        Ladder::default(),
        Prefix::ALL,
        &mut |_| {},
    )?;
    let record = state.approval_record(&names.name(&id("user:ann")), at(1.0));
    let counted = (record.approvals, record.broken, record.indexes.clone());
    assert_eq!(counted, (2, 1, vec![2]));
    assert!(record.expected < 0.4, "{record:?}");
    Ok(())
}

#[test]
fn log_verify_holds_an_approvals_opening_to_its_leaf_and_forget_erases_it() -> TestResult {
    let (mut l, names, _dir) = sealed_log()?;
    let verifier = LogSigner::from_seed("approvals.test/sealed", [5; 32])?.verifier();
    let report = verify(l.store(), &verifier, &LedgerConfig::default(), &mut |_| {})?;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.openings_checked, report.unopened), (4, 0));
    // Forgetting the approver erases its approvals' openings; the promises keep theirs, and
    // the names still open the promise id the promise's own opening holds.
    let erased = forget::erase(l.store_mut(), &names, "user:ann", ErasureReason::Request)?;
    let pseudonym = erased.pseudonym.ok_or("a pseudonym")?;
    let entry = forget::erasure_event(&pseudonym, ErasureReason::Request, at(0.6))?;
    assert_eq!(l.append(vec![entry])?.results, [Ok(5)]);
    forget::finish(l.store_mut(), &names, &pseudonym)?;
    let report = verify(l.store(), &verifier, &LedgerConfig::default(), &mut |_| {})?;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.openings_checked, report.erased), (2, 2));
    let (bytes, _) = leaf(&l, 0)?;
    let opened = open_entry(&bytes, &[]);
    assert_eq!(opened.erased, ["promise"]);
    let promised = String::from_utf8(leaf(&l, 1)?.0)?;
    assert!(names.open_json(&promised).contains("gate-17"), "{promised}");
    Ok(())
}
