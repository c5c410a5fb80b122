//! Ledger benchmarks: durable append throughput against a plain SQLite insert of the same bytes
//! (same file settings, same transaction per batch) in the same run, and proof generation on a
//! log of 10^6 entries. Figures and how to read them: docs/BENCHMARKS.md.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stepwise::evidence::{Body, Event, Id, Time};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Ledger, LedgerConfig};
use stepwise::store::SqliteStore;

fn rating(n: u64) -> Event {
    let mut event = Event {
        at: Time::from_micros(1_700_000_000_000_000 + n as i64).expect("time"),
        author: None,
        body: Body::Rating {
            rater: Id::parse("rater", &format!("user:{}", n % 5_000)).expect("id"),
            subject: Id::parse("subject", &format!("user:{}", (n * 7 + 1) % 5_001)).expect("id"),
            value: ((n % 21) as f64 - 10.0) / 10.0,
            scope: None,
        },
        note: None,
        sig: None,
    };
    event.author = event.natural_author().cloned();
    event
}

fn ledger(dir: &std::path::Path) -> Ledger<SqliteStore> {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).expect("store");
    let signer = LogSigner::from_seed("bench.example/log", [1; 32]).expect("signer");
    Ledger::open(store, signer, LedgerConfig::default()).expect("ledger")
}

/// The peer: the same bytes into a plain table, one transaction per batch, same durability.
struct PlainSqlite {
    conn: rusqlite::Connection,
    next: i64,
}

impl PlainSqlite {
    fn open(dir: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(dir.join("plain.sqlite")).expect("sqlite");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("full");
        conn.execute_batch("CREATE TABLE entries (idx INTEGER PRIMARY KEY, bytes BLOB NOT NULL)")
            .expect("table");
        Self { conn, next: 0 }
    }

    fn insert(&mut self, batch: &[Vec<u8>]) {
        let tx = self.conn.transaction().expect("tx");
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO entries (idx, bytes) VALUES (?1, ?2)")
                .expect("stmt");
            for bytes in batch {
                stmt.execute(rusqlite::params![self.next, bytes])
                    .expect("insert");
                self.next += 1;
            }
        }
        tx.commit().expect("commit");
    }
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    for batch in [1u64, 1000] {
        let events: Vec<Event> = (0..batch).map(rating).collect();
        let bytes: Vec<Vec<u8>> = events.iter().map(Event::canonical_bytes).collect();
        group.throughput(Throughput::Elements(batch));
        if batch == 1 {
            group.sample_size(30);
        } else {
            group.sample_size(20);
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let mut ledger = ledger(dir.path());
        group.bench_function(BenchmarkId::new("stepwise", batch), |b| {
            b.iter_batched(
                || events.clone(),
                |events| {
                    let appended = ledger.append(events).expect("append");
                    black_box(appended.checkpoint.size)
                },
                BatchSize::LargeInput,
            )
        });

        let dir = tempfile::tempdir().expect("tempdir");
        let mut plain = PlainSqlite::open(dir.path());
        group.bench_function(BenchmarkId::new("sqlite_insert", batch), |b| {
            b.iter(|| plain.insert(&bytes))
        });
    }
    group.finish();
}

fn proofs(c: &mut Criterion) {
    const SIZE: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = ledger(dir.path());
    for start in (0..SIZE).step_by(10_000) {
        let events = (start..start + 10_000).map(rating).collect();
        ledger.append(events).expect("append");
    }
    let mut group = c.benchmark_group("proof_at_1e6");
    let mut n = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        n
    };
    group.bench_function("inclusion", |b| {
        b.iter(|| {
            let index = next() % SIZE;
            black_box(ledger.inclusion_proof(index, SIZE).expect("proof"))
        })
    });
    group.bench_function("consistency", |b| {
        b.iter(|| {
            let old = 1 + next() % (SIZE - 1);
            black_box(ledger.consistency_proof(old, SIZE).expect("proof"))
        })
    });
    group.finish();
}

criterion_group!(benches, append, proofs);
criterion_main!(benches);
