//! Tamper evidence, exhaustively on a small log: flipping any bit of any stored byte of any entry
//! (its bytes, leaf hash or subtree hashes) or of any checkpoint is found by verification.

use std::sync::Arc;
use stepwise::evidence::{Event, Stamp, Time};
use stepwise::ledger::merkle::{Frontier, leaf_hash};
use stepwise::ledger::note::{Checkpoint, LogSigner};
use stepwise::ledger::{LedgerConfig, ManualClock};
use stepwise_store::{Entry, LogStore as _, SqliteStore, StoredCheckpoint};
use stepwise_store::{Ledger, verify};

fn signer() -> LogSigner {
    LogSigner::from_seed("tamper.test/log", [11; 32]).expect("signer")
}

fn time(text: &str) -> Time {
    Time::parse("time", text).expect("time")
}

fn verified(path: &std::path::Path) -> bool {
    let store = SqliteStore::open(path).expect("store");
    verify(
        &store,
        &signer().verifier(),
        &LedgerConfig::default(),
        &mut |_| {},
    )
    .expect("verify runs")
    .is_ok()
}

#[test]
fn every_flipped_byte_of_every_entry_and_checkpoint_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    {
        let store = SqliteStore::open(&path).expect("store");
        let clock = Arc::new(ManualClock::new(time("2026-01-01T00:01:00Z")));
        let mut ledger =
            Ledger::open(store, signer(), LedgerConfig::default(), clock).expect("ledger");
        // Batches of 3 and 4: checkpoints at 0, 3, 7, with subtree hashes up to level 2.
        for batch in [0..3, 3..7] {
            let events = batch
                .map(|i| {
                    Event::from_json(&format!(
                        r#"{{"kind":"rating","at":"2026-01-01T00:00:0{i}Z","rater":"r{i}","subject":"s","value":-0.5,"note":"n{i}"}}"#
                    ))
                    .expect("valid")
                })
                .collect();
            ledger.append(events).expect("append");
        }
    }
    assert!(verified(&path), "the untouched log verifies");

    let db = rusqlite::Connection::open(&path).expect("sqlite");
    let targets: Vec<(&str, &str, &str, i64)> = (0..7)
        .flat_map(|i| {
            [
                ("entries", "idx", "bytes", i),
                ("entries", "idx", "leaf_hash", i),
                ("entries", "idx", "subtree_hashes", i),
            ]
        })
        .chain([0, 3, 7].map(|size| ("checkpoints", "size", "root", size)))
        .chain([0, 3, 7].map(|size| ("checkpoints", "size", "CAST(note AS BLOB)", size)))
        .collect();
    let mut flips = 0;
    for (table, key, column, id) in targets {
        let original: Vec<u8> = db
            .query_row(
                &format!("SELECT {column} FROM {table} WHERE {key} = ?1"),
                [id],
                |r| r.get(0),
            )
            .expect("stored value");
        let set_column = column
            .trim_start_matches("CAST(")
            .split(' ')
            .next()
            .expect("name");
        let write = |value: &[u8]| {
            if set_column == "note" {
                // Notes are text: a flipped bit that breaks UTF-8 is stored as the lossy text.
                let text = String::from_utf8_lossy(value).into_owned();
                db.execute(
                    &format!("UPDATE {table} SET note = ?1 WHERE {key} = ?2"),
                    rusqlite::params![text, id],
                )
            } else {
                db.execute(
                    &format!("UPDATE {table} SET {set_column} = ?1 WHERE {key} = ?2"),
                    rusqlite::params![value, id],
                )
            }
            .expect("update");
        };
        for at in 0..original.len() {
            let mut tampered = original.clone();
            tampered[at] ^= 1 << (at % 8);
            write(&tampered);
            assert!(
                !verified(&path),
                "flipping byte {at} of {table}.{set_column} at {key} {id} went unnoticed"
            );
            flips += 1;
        }
        write(&original);
        assert!(
            verified(&path),
            "restoring {table}.{set_column} at {key} {id}"
        );
    }
    assert!(flips > 1_500, "only {flips} flips were tried");
}

/// Writes `events` (stamps and all, as given) straight into a new store, with correct hashes and
/// a checkpoint signed by the log's own key after each: what an insider holding the key could
/// forge. Returns the problems verification finds, by entry.
fn forged(events: &[Event]) -> Vec<(Option<u64>, String)> {
    let mut store = SqliteStore::in_memory().expect("store");
    let signer = signer();
    let mut frontier = Frontier::default();
    let sign = |frontier: &Frontier| {
        let checkpoint = Checkpoint {
            origin: signer.name().to_owned(),
            size: frontier.size(),
            root: frontier.root(),
            extensions: Vec::new(),
        };
        StoredCheckpoint {
            size: checkpoint.size,
            root: checkpoint.root,
            note: signer.sign_checkpoint(&checkpoint).expect("sign"),
        }
    };
    store
        .append(0, &[], &sign(&frontier))
        .expect("first checkpoint");
    for event in events {
        let bytes = event.canonical_bytes();
        let leaf = leaf_hash(&bytes);
        let mut completed = Vec::new();
        let index = frontier.size();
        frontier.push(leaf, &mut completed);
        let entry = Entry {
            index,
            bytes,
            leaf_hash: leaf,
            subtree_hashes: completed,
        };
        store
            .append(index, &[entry], &sign(&frontier))
            .expect("append");
    }
    verify(
        &store,
        &signer.verifier(),
        &LedgerConfig::default(),
        &mut |_| {},
    )
    .expect("verify runs")
    .problems
    .into_iter()
    .map(|p| (p.index, p.message))
    .collect()
}

fn rating(i: u64, at: &str, stamp: Option<(&str, bool)>) -> Event {
    let mut event = Event::from_json(&format!(
        r#"{{"kind":"rating","at":"{at}","rater":"r{i}","subject":"s","value":0.5}}"#
    ))
    .expect("valid");
    event.author = event.natural_author().cloned();
    event.stamp = stamp.map(|(recorded_at, history)| Stamp {
        recorded_at: time(recorded_at),
        history,
    });
    event
}

#[test]
fn a_log_whose_time_was_rewritten_with_the_log_key_is_still_caught() {
    let live = |i, at, recorded| rating(i, at, Some((recorded, false)));
    // The forging machinery itself yields a valid log when the stamps are honest: format-1
    // entries first, then stamped ones, history among them.
    let honest = [
        rating(0, "2019-01-01T00:00:00Z", None),
        live(1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        rating(
            2,
            "2019-06-01T00:00:00Z",
            Some(("2026-01-01T00:00:00Z", true)),
        ),
        live(3, "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"),
        live(4, "2026-01-01T00:05:00Z", "2026-01-01T00:00:00Z"),
    ];
    assert_eq!(forged(&honest), vec![]);

    // The recorded time goes backwards.
    let problems = forged(&[
        live(0, "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"),
        live(1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, Some(1));
    assert!(problems[0].1.contains("went backwards"), "{problems:?}");

    // A backdated `at` without the history mark, one second beyond the window; and one a
    // second too far ahead, which even history may not be.
    let problems = forged(&[
        live(0, "2025-12-30T23:59:59Z", "2026-01-01T00:00:00Z"),
        rating(
            1,
            "2026-01-01T00:05:01Z",
            Some(("2026-01-01T00:00:00Z", true)),
        ),
    ]);
    let indexes: Vec<_> = problems.iter().map(|p| p.0).collect();
    assert_eq!(indexes, vec![Some(0), Some(1)], "{problems:?}");
    assert!(
        problems.iter().all(|p| p.1.contains("`at`")),
        "{problems:?}"
    );

    // A format-1 entry slipped in after stamped ones.
    let problems = forged(&[
        live(0, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        rating(1, "2026-01-01T00:00:00Z", None),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, Some(1));
    assert!(problems[0].1.contains("format-1"), "{problems:?}");
}
