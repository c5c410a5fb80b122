//! Ledger benchmarks: durable append throughput against a plain SQLite insert of the same bytes
//! (same file settings, same transaction per batch) in the same run, durable ingest of a
//! realistic mix of events in format 3 (sealed: pseudonyms and commitments) against format 2
//! (in the clear), the same appends through the PostgreSQL store (with plain `UNNEST` and
//! binary `COPY` inserts of the same rows as peers), and proof generation on a log of 10^6
//! entries. Figures and how to read them: docs/BENCHMARKS.md.
//!
//! The PostgreSQL group runs against a fresh database on the server at
//! `STEPWISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped
//! afterwards; without a server it is skipped with a message.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use stepwise::evidence::{Body, Event, Id, Time};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, SystemClock};
use stepwise_store::Ledger;
use stepwise_store::names::Names;
use stepwise_store::{Entry, PostgresStore, SqliteStore};

fn rating(n: u64) -> Event {
    let mut event = Event {
        at: Time::from_micros(started() + n as i64).expect("time"),
        author: None,
        body: Body::Rating {
            rater: Id::parse("rater", &format!("user:{}", n % 5_000)).expect("id"),
            subject: Id::parse("subject", &format!("user:{}", (n * 7 + 1) % 5_001)).expect("id"),
            value: ((n % 21) as f64 - 10.0) / 10.0,
            scope: None,
        },
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    };
    event.author = event.natural_author().cloned();
    event
}

#[path = "common/mix.rs"]
mod mix;
use mix::{Mix, started};

fn ledger(dir: &std::path::Path) -> Ledger<SqliteStore> {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).expect("store");
    let signer = LogSigner::from_seed("bench.example/log", [1; 32]).expect("signer");
    Ledger::open(
        store,
        signer,
        LedgerConfig::default(),
        std::sync::Arc::new(SystemClock),
    )
    .expect("ledger")
}

/// The same ledger appending format 3: every event sealed with the log's names.
fn sealing_ledger(dir: &std::path::Path) -> Ledger<SqliteStore> {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).expect("store");
    let names = Arc::new(Names::open(&store).expect("names"));
    let signer = LogSigner::from_seed("bench.example/log", [1; 32]).expect("signer");
    Ledger::open_sealing(
        store,
        signer,
        LedgerConfig::default(),
        Arc::new(SystemClock),
        names,
    )
    .expect("ledger")
}

/// Durable ingest of the same stream of events in format 3 (`Ledger::open_sealing`, what
/// stepwise writes: `ingest/stepwise/N`) and, as its peer in the same run, format 2
/// (`Ledger::open`, events in the clear: `ingest/format2/N`), each into a SQLite file of its
/// own, in batches of 1,000 and of one event (one synced commit each).
fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    for batch in [1000u64, 1] {
        group.throughput(Throughput::Elements(batch));
        group.sample_size(if batch == 1 { 30 } else { 20 });
        for (format, open) in [
            (
                "format2",
                ledger as fn(&std::path::Path) -> Ledger<SqliteStore>,
            ),
            ("stepwise", sealing_ledger),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut ledger = open(dir.path());
            let mut mix = Mix::new();
            group.bench_function(BenchmarkId::new(format, batch), |b| {
                b.iter_batched(
                    || mix.batch(batch),
                    |events| {
                        let appended = ledger.append(events).expect("append");
                        assert_eq!(appended.recorded() as u64, batch, "{:?}", appended.results);
                        black_box(appended.checkpoint.size)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
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

/// A fresh PostgreSQL database for one bench run, dropped afterwards.
struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDb {
    fn create() -> Result<Self, String> {
        let admin_url = std::env::var("STEPWISE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .map_err(|e| format!("no PostgreSQL at {admin_url}: {e}"))?;
        let name = format!("stepwise_bench_{}", std::process::id());
        // Two statements: CREATE DATABASE cannot share an implicit transaction.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .map_err(|e| format!("{sql}: {e} ({:?})", std::error::Error::source(&e)))?;
        }
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The peers: the ledger's rows (index, bytes, leaf hash, subtree hashes) inserted into a plain
/// table of the same shape, one transaction per batch, by the two fast bulk paths.
struct PlainPostgres {
    client: postgres::Client,
    next: i64,
}

impl PlainPostgres {
    fn open(url: &str, table: &str) -> Self {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("postgres");
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on; CREATE TABLE {table} (idx BIGINT PRIMARY KEY, \
                 bytes BYTEA NOT NULL, leaf_hash BYTEA NOT NULL, subtree_hashes BYTEA NOT NULL)"
            ))
            .expect("table");
        Self { client, next: 0 }
    }

    fn unnest(&mut self, rows: &[Entry]) {
        let idx: Vec<i64> = (self.next..self.next + rows.len() as i64).collect();
        let bytes: Vec<&[u8]> = rows.iter().map(|e| e.bytes.as_slice()).collect();
        let leaves: Vec<&[u8]> = rows.iter().map(|e| &e.leaf_hash[..]).collect();
        let subtrees: Vec<Vec<u8>> = rows.iter().map(|e| e.subtree_hashes.concat()).collect();
        let mut tx = self.client.transaction().expect("tx");
        tx.execute(
            "INSERT INTO plain_unnest SELECT * FROM \
             UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[], $4::BYTEA[])",
            &[&idx, &bytes, &leaves, &subtrees],
        )
        .expect("insert");
        tx.commit().expect("commit");
        self.next += rows.len() as i64;
    }

    fn copy(&mut self, rows: &[Entry]) {
        use postgres::binary_copy::BinaryCopyInWriter;
        use postgres::types::Type;
        let mut tx = self.client.transaction().expect("tx");
        let sink = tx
            .copy_in("COPY plain_copy (idx, bytes, leaf_hash, subtree_hashes) FROM STDIN BINARY")
            .expect("copy");
        let mut writer =
            BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA, Type::BYTEA, Type::BYTEA]);
        for (i, e) in rows.iter().enumerate() {
            let idx = self.next + i as i64;
            let subtrees = e.subtree_hashes.concat();
            writer
                .write(&[&idx, &e.bytes, &&e.leaf_hash[..], &subtrees])
                .expect("row");
        }
        writer.finish().expect("finish");
        tx.commit().expect("commit");
        self.next += rows.len() as i64;
    }
}

/// Batches of 1,000 through `Ledger<PostgresStore>`, beside plain bulk inserts of the same rows.
fn append_postgres(c: &mut Criterion) {
    const BATCH: u64 = 1000;
    let db = match PostgresDb::create() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("skipping append_postgres: {e}");
            return;
        }
    };
    let events: Vec<Event> = (0..BATCH).map(rating).collect();
    // The rows the ledger stores for these events (hashes included), for the plain peers.
    let rows: Vec<Entry> = {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ledger = ledger(dir.path());
        ledger.append(events.clone()).expect("append");
        (0..BATCH)
            .map(|i| ledger.entry(i).expect("entry"))
            .collect()
    };
    let mut group = c.benchmark_group("append_postgres");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);

    let store = PostgresStore::connect(&db.url).expect("store");
    let signer = LogSigner::from_seed("bench.example/log", [1; 32]).expect("signer");
    let mut ledger = Ledger::open(
        store,
        signer,
        LedgerConfig::default(),
        std::sync::Arc::new(SystemClock),
    )
    .expect("ledger");
    group.bench_function(BenchmarkId::new("stepwise", BATCH), |b| {
        b.iter_batched(
            || events.clone(),
            |events| {
                let appended = ledger.append(events).expect("append");
                black_box(appended.checkpoint.size)
            },
            BatchSize::LargeInput,
        )
    });

    let mut plain = PlainPostgres::open(&db.url, "plain_unnest");
    group.bench_function(BenchmarkId::new("plain_unnest", BATCH), |b| {
        b.iter(|| plain.unnest(&rows))
    });
    let mut plain = PlainPostgres::open(&db.url, "plain_copy");
    group.bench_function(BenchmarkId::new("plain_copy", BATCH), |b| {
        b.iter(|| plain.copy(&rows))
    });
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

criterion_group!(benches, append, ingest, append_postgres, proofs);
criterion_main!(benches);
