//! Tamper evidence, exhaustively on a small log: flipping any bit of any stored byte of any entry
//! (its bytes, leaf hash or subtree hashes) or of any checkpoint is found by verification.

use stepwise::evidence::Event;
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Ledger, LedgerConfig, verify};
use stepwise::store::SqliteStore;

fn signer() -> LogSigner {
    LogSigner::from_seed("tamper.test/log", [11; 32]).expect("signer")
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
        let mut ledger = Ledger::open(store, signer(), LedgerConfig::default()).expect("ledger");
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
