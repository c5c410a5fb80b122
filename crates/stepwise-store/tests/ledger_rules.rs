//! The ledger's rules, as stories: what may be recorded, by whom, and that a refused event
//! leaves the log exactly as it was.

use ed25519_dalek::{Signer as _, SigningKey};
use std::sync::Arc;
use stepwise::evidence::{Event, Time, base64_encode};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Clock, LedgerConfig, ManualClock, Origin};
use stepwise_store::{Ledger, verify};
use stepwise_store::{LogStore as _, SqliteStore};

/// The ledger's clock in these stories: noon on the day they happen.
fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(
        Time::parse("now", "2026-01-01T12:00:00Z").expect("time"),
    ))
}

fn ledger() -> Ledger<SqliteStore> {
    ledger_with(LedgerConfig::default())
}

fn ledger_with(config: LedgerConfig) -> Ledger<SqliteStore> {
    let signer = LogSigner::from_seed("test.example/log", [7; 32]).expect("signer");
    Ledger::open(
        SqliteStore::in_memory().expect("store"),
        signer,
        config,
        clock(),
    )
    .expect("ledger")
}

fn event(json: &str) -> Event {
    Event::from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn promise(id: &str, promisor: &str, promisee: &str) -> Event {
    event(&format!(
        r#"{{"kind":"promise","at":"2026-01-01T00:00:00Z","id":"{id}","promisor":"{promisor}",
            "promisee":"{promisee}","scope":"deploy","stake":10,"due":"2026-01-02T00:00:00Z"}}"#
    ))
}

fn outcome(promise: &str, author: Option<&str>) -> Event {
    let author = author.map_or(String::new(), |a| format!(r#","author":"{a}""#));
    event(&format!(
        r#"{{"kind":"outcome","at":"2026-01-01T12:00:00Z","promise":"{promise}","result":"kept"{author}}}"#
    ))
}

/// Appends one event and returns its index or the refusal's field.
fn record(ledger: &mut Ledger<SqliteStore>, e: Event) -> Result<u64, String> {
    let appended = ledger.append(vec![e]).expect("storage works");
    appended.results[0].clone().map_err(|e| e.field)
}

/// Asserts that `e` is refused naming `field`, and that nothing changed.
fn assert_refused(ledger: &mut Ledger<SqliteStore>, e: Event, field: &str) {
    let before = (ledger.size(), ledger.checkpoint().clone());
    let stored_before = ledger.store().size().expect("size");
    assert_eq!(record(ledger, e), Err(field.to_owned()));
    assert_eq!((ledger.size(), ledger.checkpoint().clone()), before);
    assert_eq!(ledger.store().size().expect("size"), stored_before);
    assert_eq!(
        ledger.store().checkpoints().expect("checkpoints").last(),
        Some(&before.1)
    );
}

#[test]
fn a_promise_and_its_outcome_by_the_promisee_are_recorded_in_order() {
    let mut l = ledger();
    assert_eq!(record(&mut l, promise("p1", "agent:a", "user:b")), Ok(0));
    assert_eq!(record(&mut l, outcome("p1", None)), Ok(1));
    // The default author of an outcome is the promisee.
    let stored = Event::from_entry(&l.entry(1).expect("entry").bytes).expect("decodes");
    assert_eq!(stored.author.expect("filled in").as_str(), "user:b");
    assert_eq!(l.checkpoint().size, 2);
}

#[test]
fn every_stateful_rule_refuses_and_leaves_the_log_untouched() {
    let mut l = ledger();
    record(&mut l, promise("p1", "agent:a", "user:b")).expect("recorded");
    // A duplicate promise id.
    assert_refused(&mut l, promise("p1", "agent:c", "user:d"), "id");
    // An outcome for an unknown promise.
    assert_refused(&mut l, outcome("nope", None), "promise");
    // An outcome by the promisor.
    assert_refused(&mut l, outcome("p1", Some("agent:a")), "author");
    // An outcome by a third party.
    assert_refused(&mut l, outcome("p1", Some("user:z")), "author");
    // An outcome dated before the promise.
    assert_refused(
        &mut l,
        event(r#"{"kind":"outcome","at":"2025-12-31T00:00:00Z","promise":"p1","result":"broken"}"#),
        "at",
    );
    record(&mut l, outcome("p1", None)).expect("recorded");
    // A second outcome for one promise.
    assert_refused(&mut l, outcome("p1", None), "promise");
    // Recording in someone else's name.
    assert_refused(
        &mut l,
        event(
            r#"{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1,"author":"mallory"}"#,
        ),
        "author",
    );
    // Withdrawing a vouch that was never made.
    assert_refused(
        &mut l,
        event(r#"{"kind":"unvouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b"}"#),
        "subject",
    );
    // A report pointing at evidence that is not (yet) in the log.
    assert_refused(
        &mut l,
        event(
            r#"{"kind":"report","at":"2026-01-01T00:00:00Z","reporter":"a","subject":"b","severity":0.5,"evidence":2}"#,
        ),
        "evidence",
    );
    // A signature from someone with no key.
    let sig = base64_encode(&[0u8; 64]);
    assert_refused(
        &mut l,
        event(&format!(
            r#"{{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1,"sig":"{sig}"}}"#
        )),
        "sig",
    );
    // A key event for someone else, by a non-operator.
    let key = base64_encode(SigningKey::from_bytes(&[1; 32]).verifying_key().as_bytes());
    assert_refused(
        &mut l,
        event(&format!(
            r#"{{"kind":"key","at":"2026-01-01T00:00:00Z","principal":"a","public_key":"{key}","author":"b"}}"#
        )),
        "author",
    );
    assert_eq!(l.size(), 2);
    let report = verify(l.store(), &l.verifier(), l.config(), &mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.problems);
}

fn signed(mut e: Event, key: &SigningKey) -> Event {
    e.sig = Some(key.sign(&e.signing_bytes()).to_bytes());
    e
}

#[test]
fn once_a_principal_has_a_key_everything_it_records_must_be_signed_by_it() {
    let mut l = ledger();
    let key = SigningKey::from_bytes(&[3; 32]);
    let other = SigningKey::from_bytes(&[4; 32]);
    let key_event = |k: &SigningKey| {
        event(&format!(
            r#"{{"kind":"key","at":"2026-01-01T00:00:00Z","principal":"agent:a","public_key":"{}"}}"#,
            base64_encode(k.verifying_key().as_bytes())
        ))
    };
    // The first key must prove possession of itself.
    assert_refused(&mut l, key_event(&key), "sig");
    assert_refused(&mut l, signed(key_event(&key), &other), "sig");
    let mut first = key_event(&key);
    first.author = first.natural_author().cloned();
    record(&mut l, signed(first, &key)).expect("first key recorded");

    let mut p = promise("p1", "agent:a", "user:b");
    assert_refused(&mut l, p.clone(), "sig");
    p.author = p.natural_author().cloned();
    assert_refused(&mut l, signed(p.clone(), &other), "sig");
    // A signature over different bytes (the stake changed after signing) fails.
    let mut tampered = signed(p.clone(), &key);
    if let stepwise::evidence::Body::Promise { stake, .. } = &mut tampered.body {
        *stake = 1000.0;
    }
    assert_refused(&mut l, tampered, "sig");
    assert_eq!(record(&mut l, signed(p, &key)), Ok(1));

    // Rotation: the new key must be registered with the old one; then only the new one works.
    let mut rotate = key_event(&other);
    rotate.author = rotate.natural_author().cloned();
    assert_refused(&mut l, signed(rotate.clone(), &other), "sig");
    record(&mut l, signed(rotate, &key)).expect("rotated");
    let mut rating = event(
        r#"{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"agent:a","subject":"b","value":1}"#,
    );
    rating.author = rating.natural_author().cloned();
    assert_refused(&mut l, signed(rating.clone(), &key), "sig");
    record(&mut l, signed(rating, &other)).expect("signed by the new key");

    let report = verify(l.store(), &l.verifier(), l.config(), &mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn an_operator_may_register_keys_for_others() {
    let operator = stepwise::evidence::Id::parse("operator", "svc:identity").expect("id");
    let mut l = ledger_with(LedgerConfig {
        operators: vec![operator],
        ..LedgerConfig::default()
    });
    let key = base64_encode(SigningKey::from_bytes(&[5; 32]).verifying_key().as_bytes());
    let e = event(&format!(
        r#"{{"kind":"key","at":"2026-01-01T00:00:00Z","principal":"agent:a","public_key":"{key}","author":"svc:identity"}}"#
    ));
    assert_eq!(record(&mut l, e), Ok(0));
    // From now on agent:a must sign.
    assert_refused(&mut l, promise("p1", "agent:a", "user:b"), "sig");
}

#[test]
fn a_batch_records_the_good_events_and_names_the_bad_ones() {
    let mut l = ledger();
    let batch = vec![
        promise("p1", "a", "b"),
        promise("p1", "c", "d"), // duplicate within the batch
        outcome("p1", None),     // refers to an event earlier in the same batch
        outcome("p1", None),     // second outcome within the batch
        event(
            r#"{"kind":"vouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b","weight":0.5}"#,
        ),
        event(r#"{"kind":"unvouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b"}"#),
        event(r#"{"kind":"unvouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b"}"#),
    ];
    let appended = l.append(batch).expect("storage works");
    let got: Vec<Result<u64, String>> = appended
        .results
        .into_iter()
        .map(|r| r.map_err(|e| e.field))
        .collect();
    assert_eq!(
        got,
        vec![
            Ok(0),
            Err("id".into()),
            Ok(1),
            Err("promise".into()),
            Ok(2),
            Ok(3),
            Err("subject".into()),
        ]
    );
    assert_eq!(appended.checkpoint.size, 4);
}

#[test]
fn reopening_replays_the_log_and_keeps_enforcing_its_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let open = || {
        let signer = LogSigner::from_seed("test.example/log", [9; 32]).expect("signer");
        let store = SqliteStore::open(&path).expect("store");
        Ledger::open(store, signer, LedgerConfig::default(), clock()).expect("ledger")
    };
    let unvouch =
        || event(r#"{"kind":"unvouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b"}"#);
    let root = {
        let mut l = open();
        record(&mut l, promise("p1", "a", "b")).expect("recorded");
        record(&mut l, event(r#"{"kind":"vouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b","weight":1}"#))
            .expect("recorded");
        l.checkpoint().root
    };
    let mut l = open();
    assert_eq!((l.size(), l.checkpoint().root), (2, root));
    assert_refused(&mut l, promise("p1", "x", "y"), "id");
    record(&mut l, outcome("p1", None)).expect("the promise is known after replay");
    record(&mut l, unvouch()).expect("the vouch is known after replay");
    drop(l);
    // Replayed again: the settled promise (kept by digest) and the withdrawn vouch still refuse.
    let mut l = open();
    assert_refused(&mut l, promise("p1", "x", "y"), "id");
    assert_refused(&mut l, outcome("p1", None), "promise");
    assert_refused(&mut l, unvouch(), "subject");
}

#[test]
fn two_writers_on_one_file_never_collide() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let signer = || LogSigner::from_seed("test.example/log", [9; 32]).expect("signer");
    let open = || {
        Ledger::open(
            SqliteStore::open(&path).expect("store"),
            signer(),
            LedgerConfig::default(),
            clock(),
        )
        .expect("ledger")
    };
    let mut first = open();
    let mut second = open();
    record(&mut first, promise("p1", "a", "b")).expect("recorded");
    // The second writer has not seen p1: it must catch up before appending, and so refuse a duplicate.
    assert_eq!(
        record(&mut second, promise("p1", "c", "d")),
        Err("id".into())
    );
    assert_eq!(record(&mut second, promise("p2", "c", "d")), Ok(1));
    assert_eq!(record(&mut first, promise("p3", "e", "f")), Ok(2));
    let report = verify(
        first.store(),
        &first.verifier(),
        first.config(),
        &mut |_| {},
    )
    .expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 3);
}

#[test]
fn the_appended_batch_is_what_the_log_decodes_to() {
    let mut l = ledger();
    let appended = l
        .append(vec![
            promise("p1", "agent:a", "user:b"),
            outcome("nope", None),
            outcome("p1", None),
        ])
        .expect("storage works");
    assert_eq!(appended.events.len(), 3);
    // The refused event keeps its place; each recorded one equals its entry decoded.
    assert!(appended.results[1].is_err());
    for (result, event) in appended.results.iter().zip(&appended.events) {
        if let Ok(index) = result {
            let entry = l.entry(*index).expect("entry");
            let stored = Event::from_entry(&entry.bytes).expect("decodes");
            assert_eq!(&stored, event, "entry {index}");
        }
    }
    // The default author was filled in: the outcome is the promisee's.
    assert_eq!(
        appended.events[2].author.as_ref().map(|a| a.as_str()),
        Some("user:b")
    );
}

// Trusted time: the log stamps each entry, and `at` must lie within the window around it.

fn rating_at(at: &str) -> Event {
    event(&format!(
        r#"{{"kind":"rating","at":"{at}","rater":"user:ann","subject":"user:bob","value":0.5}}"#
    ))
}

/// A ledger whose clock the story sets, at noon on 2026-01-01.
fn ledger_and_clock() -> (Ledger<SqliteStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Time::parse("now", "2026-01-01T12:00:00Z").expect("time"),
    ));
    let signer = LogSigner::from_seed("test.example/log", [7; 32]).expect("signer");
    let store = SqliteStore::in_memory().expect("store");
    let ledger =
        Ledger::open(store, signer, LedgerConfig::default(), clock.clone()).expect("ledger");
    (ledger, clock)
}

#[test]
fn an_event_dated_outside_the_window_is_refused_and_nothing_is_stored() {
    let (mut l, _clock) = ledger_and_clock();
    // The default window, around noon on 2026-01-01: from 24 h back to 5 min ahead.
    for at in [
        "2016-01-01T12:00:00Z", // ten years back
        "2027-01-01T12:00:00Z", // a year ahead
        "2025-12-31T11:00:00Z", // 25 h back
        "2025-12-31T11:59:59Z", // one second before the earliest
        "2026-01-01T12:05:01Z", // one second after the latest
    ] {
        let before = (l.size(), l.checkpoint().clone());
        let appended = l.append(vec![rating_at(at)]).expect("storage works");
        let refusal = appended.results[0].clone().expect_err(at);
        assert_eq!(refusal.field, "at", "{at}");
        assert_eq!(refusal.code.name(), "at_out_of_window", "{at}");
        for named in [
            at,
            "2025-12-31T12:00:00Z",
            "2026-01-01T12:05:00Z",
            "recorded this event at 2026-01-01T12:00:00Z",
        ] {
            assert!(refusal.problem.contains(named), "{at}: {refusal}");
        }
        // Only the past can be history.
        let backdated = at < "2026-01-01T12:00:00Z";
        assert_eq!(
            refusal.problem.contains("--history"),
            backdated,
            "{refusal}"
        );
        assert_eq!((l.size(), l.checkpoint().clone()), before, "{at}");
        assert_eq!(l.store().size().expect("size"), before.0, "{at}");
    }
    // Exactly at each bound is inside.
    assert_eq!(record(&mut l, rating_at("2025-12-31T12:00:00Z")), Ok(0));
    assert_eq!(record(&mut l, rating_at("2026-01-01T12:05:00Z")), Ok(1));
    let stamp = Event::from_entry(&l.entry(1).expect("entry").bytes)
        .expect("decodes")
        .stamp
        .expect("stamped");
    assert_eq!(stamp.recorded_at.to_string(), "2026-01-01T12:00:00Z");
    assert!(!stamp.history);
}

#[test]
fn a_batch_refuses_only_its_events_outside_the_window() {
    let (mut l, _clock) = ledger_and_clock();
    let appended = l
        .append(vec![
            rating_at("2026-01-01T11:00:00Z"),
            rating_at("2019-01-01T00:00:00Z"),
            rating_at("2099-01-01T00:00:00Z"),
            rating_at("2026-01-01T12:00:00Z"),
        ])
        .expect("storage works");
    let got: Vec<Result<u64, &str>> = appended
        .results
        .iter()
        .map(|r| r.as_ref().map(|i| *i).map_err(|e| e.code.name()))
        .collect();
    assert_eq!(
        got,
        vec![
            Ok(0),
            Err("at_out_of_window"),
            Err("at_out_of_window"),
            Ok(1)
        ]
    );
    assert_eq!(l.size(), 2);
}

#[test]
fn history_is_loaded_only_on_purpose_and_marked_so() {
    let (mut l, _clock) = ledger_and_clock();
    let old = || rating_at("2010-11-08T18:45:11Z");
    assert!(l.append(vec![old()]).expect("storage works").results[0].is_err());
    let appended = l
        .append_as(
            vec![old(), rating_at("2026-01-01T12:06:00Z")],
            Origin::History,
        )
        .expect("storage works");
    // History may be old, never in the future beyond the window.
    assert_eq!(appended.results[0], Ok(0));
    assert_eq!(
        appended.results[1].as_ref().expect_err("ahead").code.name(),
        "at_out_of_window"
    );
    let stored = Event::from_entry(&l.entry(0).expect("entry").bytes).expect("decodes");
    assert_eq!(stored.at.to_string(), "2010-11-08T18:45:11Z");
    assert!(stored.stamp.expect("stamped").history);
    assert!(
        std::str::from_utf8(&l.entry(0).expect("entry").bytes)
            .expect("utf-8")
            .contains(r#""history":true"#)
    );
    let report = verify(l.store(), &l.verifier(), l.config(), &mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn when_the_clock_steps_back_the_log_keeps_its_time_and_says_so() {
    let (mut l, clock) = ledger_and_clock();
    assert_eq!(record(&mut l, rating_at("2026-01-01T12:00:00Z")), Ok(0));
    // The clock steps back an hour: the next entry keeps the previous recorded time.
    clock.set(Time::parse("now", "2026-01-01T11:00:00Z").expect("time"));
    let appended = l
        .append(vec![rating_at("2026-01-01T10:30:00Z")])
        .expect("storage works");
    assert_eq!(appended.results[0], Ok(1));
    assert_eq!(appended.clock_behind, Some(3_600_000_000));
    assert_eq!(
        appended.recorded_at.map(|t| t.to_string()).as_deref(),
        Some("2026-01-01T12:00:00Z")
    );
    // Once the clock is right again, so is the stamp, and nothing is reported.
    clock.set(Time::parse("now", "2026-01-01T13:00:00Z").expect("time"));
    let appended = l
        .append(vec![rating_at("2026-01-01T13:00:00Z")])
        .expect("storage works");
    assert_eq!(appended.clock_behind, None);
    let stamps: Vec<String> = (0..3)
        .map(|i| {
            Event::from_entry(&l.entry(i).expect("entry").bytes)
                .expect("decodes")
                .stamp
                .expect("stamped")
                .recorded_at
                .to_string()
        })
        .collect();
    assert_eq!(
        stamps,
        [
            "2026-01-01T12:00:00Z",
            "2026-01-01T12:00:00Z",
            "2026-01-01T13:00:00Z"
        ]
    );
    let report = verify(l.store(), &l.verifier(), l.config(), &mut |_| {}).expect("verify runs");
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn a_log_of_format_1_stays_readable_verifiable_and_appendable() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    std::fs::copy(fixture.join("ledger.sqlite"), &path).expect("copy the fixture");
    let key = std::fs::read_to_string(fixture.join("log.key")).expect("log key");
    let signer = LogSigner::parse(key.trim()).expect("signer");
    let clock = Arc::new(ManualClock::new(
        Time::parse("now", "2026-11-26T00:00:00Z").expect("time"),
    ));
    let mut l = Ledger::open(
        SqliteStore::open(&path).expect("store"),
        signer,
        LedgerConfig::default(),
        clock,
    )
    .expect("the ledger opens a format-1 log");
    assert_eq!(l.size(), 11);
    assert_eq!(l.recorded_at(), None);
    let verified = |l: &Ledger<SqliteStore>| {
        let report = verify(l.store(), &l.verifier(), l.config(), &mut |_| {}).expect("runs");
        assert!(report.is_ok(), "{:?}", report.problems);
        report.entries
    };
    assert_eq!(verified(&l), 11);
    // Every entry decodes, unstamped.
    for i in 0..11 {
        let event = Event::from_entry(&l.entry(i).expect("entry").bytes).expect("decodes");
        assert_eq!(event.stamp, None, "entry {i}");
    }
    // Its rules still hold (p-1 exists, has an outcome), and new entries are format 2.
    assert_eq!(
        record(&mut l, outcome_of("p-1", "2026-11-25T12:00:00Z")),
        Err("promise".into())
    );
    assert_eq!(
        record(&mut l, outcome_of("p-4", "2026-11-25T12:00:00Z")),
        Ok(11)
    );
    let bytes = l.entry(11).expect("entry").bytes;
    assert!(
        std::str::from_utf8(&bytes)
            .expect("utf-8")
            .contains(r#""recorded_at":"2026-11-26T00:00:00Z""#)
    );
    assert_eq!(verified(&l), 12);
    // An old entry is proven against the new tree.
    let proof = l.inclusion_proof(3, 12).expect("proof");
    stepwise::ledger::merkle::verify_inclusion(
        &proof.leaf_hash,
        proof.index,
        proof.size,
        &proof.hashes,
        &proof.root,
    )
    .expect("an old entry is in the new tree");
}

fn outcome_of(promise: &str, at: &str) -> Event {
    event(&format!(
        r#"{{"kind":"outcome","at":"{at}","promise":"{promise}","result":"kept"}}"#
    ))
}

#[test]
fn an_entry_longer_than_an_entry_bundle_carries_is_refused_with_its_code() {
    // The wire refuses such an event long before (16 KiB); a caller of the library can still
    // build one, and the ledger is the last line: a tlog-tiles bundle prefixes entries by u16.
    let mut ledger = ledger();
    let mut long = promise("p-long", "ann", "bob");
    long.note = Some("n".repeat(stepwise::ledger::tiles::MAX_ENTRY_BYTES));
    let appended = ledger.append(vec![long]).expect("storage works");
    let refusal = appended.results[0].clone().expect_err("refused");
    assert_eq!(refusal.code, stepwise::evidence::Refusal::EntryTooLarge);
    assert!(refusal.problem.contains("65535"), "{}", refusal.problem);
    assert_eq!(ledger.size(), 0);
    // Just under the limit is an entry like any other.
    let mut near = promise("p-near", "ann", "bob");
    near.note = Some(String::new());
    let bytes = {
        // As the ledger completes it: its author, its stamp.
        let mut e = near.clone();
        e.author = e.natural_author().cloned();
        e.stamp = Some(stepwise::evidence::Stamp {
            recorded_at: Time::parse("now", "2026-01-01T12:00:00Z").expect("time"),
            history: false,
        });
        e.canonical_bytes().len()
    };
    near.note = Some("n".repeat(stepwise::ledger::tiles::MAX_ENTRY_BYTES - bytes));
    assert_eq!(record(&mut ledger, near), Ok(0));
    assert_eq!(
        ledger.entry(0).expect("entry").bytes.len(),
        stepwise::ledger::tiles::MAX_ENTRY_BYTES
    );
}
