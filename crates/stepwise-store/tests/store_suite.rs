//! One store suite, run against both stores: every test body is generic over a [`Db`] (a place
//! that can hand out any number of connections to one store) and runs once on a SQLite file in
//! a temporary directory and once on a fresh PostgreSQL database.
//!
//! PostgreSQL: each test creates its own database `stepwise_t_<random>` through the server at
//! `STEPWISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops it
//! when done, also when the test fails. When the server cannot be reached the PostgreSQL tests
//! fail and say so: CI starts the server (`scripts/ensure-postgres`), so a silent pass would
//! hide a broken store.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use stepwise::evidence::{Body, Event, Id, Time};
use stepwise::ledger::merkle::{Hash, verify_consistency, verify_inclusion};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Clock, LedgerConfig, ManualClock};
use stepwise_store::PrivateStore as _;
use stepwise_store::keys::{KeyRecord, Role, generate_key, key_hash};
use stepwise_store::names::Names;
use stepwise_store::{
    DecisionQuery, Entry, PostgresStore, SqliteStore, Store, StoreError, StoredCheckpoint,
};
use stepwise_store::{DecisionStore as _, KeyStore as _, Ledger, LogStore as _, verify};

pub(crate) type TestResult = Result<(), Box<dyn Error>>;

/// Somewhere a store lives, which can be connected to more than once.
pub(crate) trait Db {
    type S: Store + 'static;
    /// A new connection to the same store.
    fn connect(&self) -> Result<Self::S, StoreError>;
    /// Everything stored in the keys table, as text (to look for a plaintext key).
    fn raw_keys(&self) -> Result<String, Box<dyn Error>>;
}

pub(crate) struct SqliteDb {
    pub(crate) dir: tempfile::TempDir,
}

impl SqliteDb {
    pub(crate) fn new() -> Result<Self, Box<dyn Error>> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }
}

impl Db for SqliteDb {
    type S = SqliteStore;

    fn connect(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&self.path())
    }

    fn raw_keys(&self) -> Result<String, Box<dyn Error>> {
        // Every byte of the database files, the WAL included.
        let mut all = Vec::new();
        for file in std::fs::read_dir(self.dir.path())? {
            all.extend(std::fs::read(file?.path())?);
        }
        Ok(String::from_utf8_lossy(&all).into_owned())
    }
}

/// A fresh PostgreSQL database, dropped with this value.
pub(crate) struct PostgresDb {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl PostgresDb {
    pub(crate) fn new() -> Result<Self, Box<dyn Error>> {
        let admin_url =
            std::env::var("STEPWISE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let mut admin =
            ::postgres::Client::connect(&admin_url, ::postgres::NoTls).map_err(|e| {
                format!(
                    "the PostgreSQL store tests need a PostgreSQL server at {admin_url} \
                 (set STEPWISE_TEST_POSTGRES to use another; scripts/ensure-postgres starts \
                 the local one), but connecting failed: {e} ({:?})",
                    e.source().map(|s| s.to_string())
                )
            })?;
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(|e| format!("no randomness for a database name: {e}"))?;
        let name = format!("stepwise_t_{}", u64::from_le_bytes(tag));
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let url = with_dbname(&admin_url, &name);
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }
}

/// `url` naming database `name` instead of its own.
fn with_dbname(url: &str, name: &str) -> String {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, format!("?{q}")),
            None => (rest, String::new()),
        };
        let authority = authority.split_once('/').map_or(authority, |(a, _)| a);
        format!("postgres://{authority}/{name}{query}")
    } else {
        format!("{url} dbname={name}")
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let dropped =
            ::postgres::Client::connect(&self.admin_url, ::postgres::NoTls).and_then(|mut c| {
                c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
            });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

impl Db for PostgresDb {
    type S = PostgresStore;

    fn connect(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect(&self.url)
    }

    fn raw_keys(&self) -> Result<String, Box<dyn Error>> {
        let mut client = ::postgres::Client::connect(&self.url, ::postgres::NoTls)?;
        let rows = client.query("SELECT k::text FROM keys k", &[])?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()?
            .join("\n"))
    }
}

/// Runs each named test body on both stores.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() -> super::TestResult {
                    super::$name(&super::SqliteDb::new()?)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() -> super::TestResult {
                    super::$name(&super::PostgresDb::new()?)
                }
            )*
        }
    };
}

suite!(
    an_empty_store_has_nothing,
    appended_entries_read_back_by_index_scan_and_checkpoint,
    a_conflicting_batch_is_refused_and_changes_nothing,
    a_failed_batch_leaves_nothing_visible,
    key_records_are_stored_found_listed_and_revoked_without_plaintext,
    a_ledger_over_the_store_proves_and_verifies,
    two_ledgers_opening_one_empty_log_together_both_succeed,
    two_ledgers_appending_concurrently_build_one_consistent_log,
    the_store_works_inside_spawn_blocking,
    decisions_are_kept_in_order_and_read_by_principal_time_and_page,
    erasing_a_principal_revokes_its_keys_and_renames_it_in_the_decision_log,
    witnessed_checkpoints_are_kept_and_the_largest_is_the_latest,
    the_names_load_every_principal_and_promise_id_across_pages,
);

/// A made-up entry: stores never check hashes, so any 32 bytes do.
fn entry(index: u64) -> Entry {
    let byte = |salt: u64| ((index * 31 + salt) % 251) as u8;
    Entry {
        index,
        bytes: format!("{{\"entry\":{index}}}").into_bytes(),
        leaf_hash: [byte(1); 32],
        subtree_hashes: (0..index.trailing_ones())
            .map(|level| [byte(u64::from(level) + 2); 32])
            .collect(),
    }
}

fn checkpoint(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        root: [(size % 251) as u8; 32],
        note: format!("test.example/log\n{size}\nroot\n"),
    }
}

fn entries(from: u64, to: u64) -> Vec<Entry> {
    (from..to).map(entry).collect()
}

fn scanned<S: Store>(store: &S, from: u64, to: u64) -> Result<Vec<Entry>, StoreError> {
    let mut seen = Vec::new();
    store.scan(from, to, &mut |e| {
        seen.push(e);
        Ok(())
    })?;
    Ok(seen)
}

fn an_empty_store_has_nothing<D: Db>(db: &D) -> TestResult {
    let store = db.connect()?;
    assert_eq!(store.size()?, 0);
    assert_eq!(store.entry(0)?, None);
    assert_eq!(store.entry(u64::MAX)?, None);
    assert_eq!(scanned(&store, 0, u64::MAX)?, []);
    assert_eq!(store.latest_checkpoint()?, None);
    assert_eq!(store.checkpoints()?, []);
    assert_eq!(store.keys()?, []);
    assert_eq!(store.key_by_hash(&[0; 32])?, None);
    Ok(())
}

/// The checkpoints the witnesses' quorum cosigned: the largest is the latest; keeping a size
/// again with more cosignatures replaces its note, never its root.
fn witnessed_checkpoints_are_kept_and_the_largest_is_the_latest<D: Db>(db: &D) -> TestResult {
    use stepwise_store::WitnessedStore as _;
    let mut store = db.connect()?;
    assert_eq!(store.latest_witnessed()?, None);
    store.put_witnessed(&checkpoint(5))?;
    store.put_witnessed(&checkpoint(3))?;
    assert_eq!(store.latest_witnessed()?, Some(checkpoint(5)));
    let more = StoredCheckpoint {
        note: format!("{}\u{2014} w2 AAAA\n", checkpoint(5).note),
        ..checkpoint(5)
    };
    store.put_witnessed(&more)?;
    assert_eq!(store.latest_witnessed()?, Some(more.clone()));
    let other_root = StoredCheckpoint {
        root: [9; 32],
        note: "another history".into(),
        ..checkpoint(5)
    };
    store.put_witnessed(&other_root)?;
    assert_eq!(
        store.latest_witnessed()?,
        Some(more),
        "a root never changes"
    );
    Ok(())
}

fn appended_entries_read_back_by_index_scan_and_checkpoint<D: Db>(db: &D) -> TestResult {
    let mut store = db.connect()?;
    store.append(0, &[], &checkpoint(0))?;
    store.append(0, &entries(0, 3), &checkpoint(3))?;
    // Larger than one page of the PostgreSQL scan.
    store.append(3, &entries(3, 2_503), &checkpoint(2_503))?;

    let reader = db.connect()?;
    assert_eq!(reader.size()?, 2_503);
    for index in [0, 1, 2, 3, 1_024, 2_047, 2_502] {
        assert_eq!(reader.entry(index)?, Some(entry(index)), "entry {index}");
    }
    assert_eq!(reader.entry(2_503)?, None);
    assert_eq!(scanned(&reader, 0, u64::MAX)?, entries(0, 2_503));
    assert_eq!(scanned(&reader, 1_000, 2_100)?, entries(1_000, 2_100));
    assert_eq!(scanned(&reader, 2_500, 9_000)?, entries(2_500, 2_503));
    assert_eq!(scanned(&reader, 2_503, 9_000)?, []);
    assert_eq!(reader.latest_checkpoint()?, Some(checkpoint(2_503)));
    assert_eq!(
        reader.checkpoints()?,
        [checkpoint(0), checkpoint(3), checkpoint(2_503)]
    );
    Ok(())
}

fn a_conflicting_batch_is_refused_and_changes_nothing<D: Db>(db: &D) -> TestResult {
    let mut first = db.connect()?;
    let mut second = db.connect()?;
    first.append(0, &entries(0, 2), &checkpoint(2))?;
    for (base, to) in [(0, 3), (1, 3), (5, 7)] {
        match second.append(base, &entries(base, to), &checkpoint(to)) {
            Err(StoreError::Conflict { expected, actual }) => {
                assert_eq!((expected, actual), (base, 2));
            }
            other => panic!("base {base}: expected a conflict, got {other:?}"),
        }
    }
    // The same size again, with nothing new: also someone else's checkpoint.
    assert!(matches!(
        second.append(2, &[], &checkpoint(2)),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(second.size()?, 2);
    assert_eq!(scanned(&second, 0, u64::MAX)?, entries(0, 2));
    assert_eq!(second.checkpoints()?, [checkpoint(2)]);
    second.append(2, &entries(2, 4), &checkpoint(4))?;
    assert_eq!(first.size()?, 4);
    Ok(())
}

fn a_failed_batch_leaves_nothing_visible<D: Db>(db: &D) -> TestResult {
    let mut store = db.connect()?;
    store.append(0, &entries(0, 2), &checkpoint(2))?;
    // The third row repeats an index: the database refuses it after the first two went in.
    let mut batch = entries(2, 4);
    batch.push(entry(3));
    let refused = store.append(2, &batch, &checkpoint(5));
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    let other = db.connect()?;
    for s in [&store, &other] {
        assert_eq!(s.size()?, 2);
        assert_eq!(s.entry(2)?, None);
        assert_eq!(s.checkpoints()?, [checkpoint(2)]);
    }
    // The store is still usable.
    store.append(2, &entries(2, 4), &checkpoint(4))?;
    assert_eq!(other.size()?, 4);
    Ok(())
}

fn key_records_are_stored_found_listed_and_revoked_without_plaintext<D: Db>(db: &D) -> TestResult {
    let mut store = db.connect()?;
    let admin_text = generate_key()?;
    let recorder_text = generate_key()?;
    let admin = KeyRecord::new(
        &admin_text,
        Role::Admin,
        None,
        Time::from_micros(10).ok_or("t")?,
    );
    let recorder = KeyRecord::new(
        &recorder_text,
        Role::Recorder,
        Some(Id::parse("principal", "agent:deploy-bot")?),
        Time::from_micros(20).ok_or("t")?,
    );
    store.put_key(&recorder)?;
    store.put_key(&admin)?;
    assert!(matches!(
        store.put_key(&admin),
        Err(StoreError::Duplicate(_))
    ));

    let other = db.connect()?;
    assert_eq!(
        other.key_by_hash(&key_hash(&admin_text))?,
        Some(admin.clone())
    );
    assert_eq!(
        other.key_by_hash(&key_hash(&recorder_text))?,
        Some(recorder.clone())
    );
    assert_eq!(other.key_by_hash(&key_hash("sw_not-a-key"))?, None);
    assert_eq!(other.keys()?, [admin.clone(), recorder.clone()]);

    assert!(store.revoke_key(&recorder.id)?);
    assert!(store.revoke_key(&recorder.id)?, "revoking twice is fine");
    assert!(!store.revoke_key("000000000000")?);
    let revoked = other
        .key_by_hash(&recorder.hash)?
        .ok_or("the revoked key is still listed")?;
    assert!(revoked.revoked);
    assert!(!other.key_by_hash(&admin.hash)?.ok_or("admin key")?.revoked);

    drop(store);
    drop(other);
    let raw = db.raw_keys()?;
    assert!(
        raw.contains("agent:deploy-bot"),
        "the dump reads the keys table"
    );
    for text in [&admin_text, &recorder_text] {
        assert!(!raw.contains(text.as_str()), "plaintext key stored");
        assert!(!raw.contains(&text[3..]), "plaintext key stored");
    }
    Ok(())
}

fn decisions_are_kept_in_order_and_read_by_principal_time_and_page<D: Db>(db: &D) -> TestResult {
    let mut store = db.connect()?;
    let at = |micros| Time::from_micros(micros).ok_or("time");
    let mut kept = Vec::new();
    for (i, who) in ["agent:a", "agent:b", "agent:a", "agent:a"]
        .into_iter()
        .enumerate()
    {
        let body = format!("{{\"n\":{i}}}");
        kept.push(store.put_decision(at(100 * (i as i64 + 1))?, who, &body)?);
    }
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
    // Another connection sees them all, in order, bodies as given.
    let other = db.connect()?;
    let all = other.decisions(&DecisionQuery {
        limit: 10,
        ..DecisionQuery::default()
    })?;
    assert_eq!(all.iter().map(|d| d.seq).collect::<Vec<_>>(), kept);
    assert_eq!(all[1].principal, "agent:b");
    assert_eq!(all[1].body, "{\"n\":1}");
    assert_eq!(all[3].at, at(400)?);
    // One principal's, from an instant, a page at a time.
    let query = DecisionQuery {
        principal: Some("agent:a"),
        since: Some(at(200)?),
        after: 0,
        limit: 1,
    };
    let first = other.decisions(&query)?;
    assert_eq!(first.iter().map(|d| d.seq).collect::<Vec<_>>(), [kept[2]]);
    let second = other.decisions(&DecisionQuery {
        after: first[0].seq,
        ..query
    })?;
    assert_eq!(second.iter().map(|d| d.seq).collect::<Vec<_>>(), [kept[3]]);
    let none = other.decisions(&DecisionQuery {
        after: kept[3],
        ..query
    })?;
    assert!(none.is_empty());
    // A cursor beyond any stored number is past the end, not an error.
    let beyond = other.decisions(&DecisionQuery {
        after: u64::MAX,
        ..query
    })?;
    assert!(beyond.is_empty());
    Ok(())
}

/// `erase` (step 1 of `forget`, one transaction): the principal's record goes, its keys are
/// revoked and name nobody, its decision records name its pseudonym (bodies too), the
/// erasure is pending; nobody else's record changes.
fn erasing_a_principal_revokes_its_keys_and_renames_it_in_the_decision_log<D: Db>(
    db: &D,
) -> TestResult {
    use stepwise_store::{Erase, PrincipalRecord, PrivateStore as _};
    let mut store = db.connect()?;
    let (id, other) = ("agent:gone", "agent:stays");
    let made = store.create_principals(&[
        PrincipalRecord {
            id: id.into(),
            pseudonym: "~11111111111111111111111111111111".into(),
            secret: [1; 32],
        },
        PrincipalRecord {
            id: other.into(),
            pseudonym: "~22222222222222222222222222222222".into(),
            secret: [2; 32],
        },
    ])?;
    assert_eq!(made.len(), 2);
    let key = |who: &str| -> Result<KeyRecord, Box<dyn Error>> {
        Ok(KeyRecord::new(
            &generate_key()?,
            Role::Recorder,
            Some(Id::parse("principal", who)?),
            Time::from_micros(10).ok_or("t")?,
        ))
    };
    let (gone_key, stays_key) = (key(id)?, key(other)?);
    store.put_key(&gone_key)?;
    store.put_key(&stays_key)?;
    let at = Time::from_micros(100).ok_or("t")?;
    store.put_decision(at, id, r#"{"principal":"agent:gone","tool":"echo"}"#)?;
    store.put_decision(
        at,
        other,
        r#"{"principal":"agent:stays","asked_about":"agent:gone"}"#,
    )?;
    store.erase(&Erase {
        id,
        name: "~11111111111111111111111111111111",
        outcomes: &[],
        pseudonym: "~11111111111111111111111111111111",
        reason: Some("request"),
    })?;
    let other_handle = db.connect()?;
    assert!(other_handle.principal(id)?.is_none());
    assert!(other_handle.principal(other)?.is_some());
    let keys = other_handle.keys()?;
    let gone = keys
        .iter()
        .find(|k| k.id == gone_key.id)
        .ok_or("gone key")?;
    assert!(gone.revoked && gone.principal.is_none(), "{gone:?}");
    let stays = keys.iter().find(|k| k.id == stays_key.id).ok_or("key")?;
    assert!(!stays.revoked && stays.principal.is_some());
    let decisions = other_handle.decisions(&DecisionQuery {
        limit: 10,
        ..DecisionQuery::default()
    })?;
    assert_eq!(decisions[0].principal, "~11111111111111111111111111111111");
    assert!(
        !decisions.iter().any(|d| d.body.contains(id)),
        "{decisions:?}"
    );
    assert_eq!(decisions[1].principal, other);
    let pending = other_handle.pending_erasures()?;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, "request");
    Ok(())
}

fn signer() -> Result<LogSigner, Box<dyn Error>> {
    Ok(LogSigner::from_seed("suite.test/log", [7; 32])?)
}

/// A rating by `rater` (its own author), distinct for each `n`.
fn rating(rater: &str, n: u64) -> Result<Event, Box<dyn Error>> {
    let mut event = Event {
        at: Time::from_micros(1_764_000_000_000_000 + n as i64).ok_or("time out of range")?,
        author: None,
        body: Body::Rating {
            rater: Id::parse("rater", rater)?,
            subject: Id::parse("subject", &format!("user:{}", n % 97))?,
            value: ((n % 21) as f64 - 10.0) / 10.0,
            scope: None,
        },
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    };
    event.author = event.natural_author().cloned();
    Ok(event)
}

/// What the ledger's clock reads: an hour after the first event, so every event lies within the
/// window.
const NOW: i64 = 1_764_003_600_000_000;

fn clock() -> Arc<dyn Clock> {
    clock_at(NOW)
}

fn clock_at(micros: i64) -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(Time::from_micros(micros).expect("time")))
}

fn open<D: Db>(db: &D) -> Result<Ledger<D::S>, Box<dyn Error>> {
    open_with(db, clock())
}

fn open_with<D: Db>(db: &D, clock: Arc<dyn Clock>) -> Result<Ledger<D::S>, Box<dyn Error>> {
    Ok(Ledger::open(
        db.connect()?,
        signer()?,
        LedgerConfig::default(),
        clock,
    )?)
}

fn verified<S: Store>(store: &S) -> TestResult {
    let report = verify(
        store,
        &signer()?.verifier(),
        &LedgerConfig::default(),
        &mut |_| {},
    )?;
    assert!(report.is_ok(), "{:?}", report.problems);
    Ok(())
}

/// More principals and promise ids than a page of the store's reads (PostgreSQL reads 1,024
/// rows a page, the names add 4,096 principals a page): the store hands each over once, in
/// order, and names loaded from it know every one as the names that sealed them did.
fn the_names_load_every_principal_and_promise_id_across_pages<D: Db>(db: &D) -> TestResult {
    const N: i64 = 2_600;
    let store = db.connect()?;
    let sealing = Arc::new(Names::open(&store)?);
    let config = LedgerConfig::default();
    let mut ledger = Ledger::open_sealing(store, signer()?, config, clock(), Arc::clone(&sealing))?;
    let mut log_names = Vec::new();
    for from in (0..N).step_by(1_000) {
        let events = (from..(from + 1_000).min(N))
            .map(|k| {
                let at = Time::from_micros(1_764_000_000_000_000 + k).ok_or("time")?;
                let due = Time::from_micros(1_764_086_400_000_000).ok_or("time")?;
                Ok(Event::from_json(&format!(
                    r#"{{"kind":"promise","at":"{at}","id":"pr-{k}","promisor":"p:{k}","promisee":"q:{k}","scope":"work","stake":1,"due":"{due}"}}"#
                ))?)
            })
            .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
        let appended = ledger.append(events)?;
        assert!(appended.results.iter().all(Result::is_ok), "all recorded");
        for event in &appended.events {
            let Body::Promise { id, .. } = &event.body else {
                return Err("a promise was recorded as something else".into());
            };
            log_names.push(id.clone());
        }
    }
    let store = db.connect()?;
    let seqs: Vec<u64> = (store.principals_since(0)?.iter())
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(seqs.len(), 2 * N as usize, "every principal once");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in the order created");
    let mut entries = Vec::new();
    store.each_promise_opening(&mut |stored| {
        entries.push(stored.entry);
        Ok(())
    })?;
    assert_eq!(entries.len(), N as usize, "every promise id once");
    assert!(entries.windows(2).all(|w| w[0] < w[1]), "in log order");
    let loaded = Names::load(&store)?;
    for k in 0..N {
        for who in [format!("p:{k}"), format!("q:{k}")] {
            let id = Id::parse("id", &who)?;
            assert_eq!(loaded.name(&id), sealing.name(&id), "{who} named alike");
        }
        let promise = loaded.id_of(log_names[k as usize].as_str());
        assert_eq!(
            promise.as_ref().map(Id::as_str),
            Some(format!("pr-{k}").as_str())
        );
    }
    Ok(())
}

fn a_ledger_over_the_store_proves_and_verifies<D: Db>(db: &D) -> TestResult {
    let mut ledger = open(db)?;
    assert_eq!(ledger.size(), 0);
    let mut roots: Vec<Hash> = vec![];
    for batch in 0..5u64 {
        let events = (batch * 10..batch * 10 + 10)
            .map(|n| rating("user:ann", n))
            .collect::<Result<_, _>>()?;
        let appended = ledger.append(events)?;
        assert_eq!(appended.recorded(), 10);
        roots.push(appended.checkpoint.root);
    }
    assert_eq!(ledger.size(), 50);
    for (index, size) in [(0, 1), (0, 50), (17, 20), (49, 50), (31, 40)] {
        let proof = ledger.inclusion_proof(index, size)?;
        verify_inclusion(&proof.leaf_hash, index, size, &proof.hashes, &proof.root)?;
    }
    for (old, new) in [(10, 50), (20, 30), (1, 50), (50, 50)] {
        let proof = ledger.consistency_proof(old, new)?;
        verify_consistency(old, new, &proof.hashes, &proof.old_root, &proof.new_root)?;
        if old % 10 == 0 {
            assert_eq!(proof.old_root, roots[old as usize / 10 - 1]);
        }
    }
    verified(ledger.store())?;

    // Another process opening the same store sees the same log and can carry on.
    let mut again = open(db)?;
    assert_eq!(again.size(), 50);
    assert_eq!(again.checkpoint(), ledger.checkpoint());
    again.append(vec![rating("user:bob", 1)?])?;
    verified(again.store())?;
    Ok(())
}

fn two_ledgers_opening_one_empty_log_together_both_succeed<D: Db>(db: &D) -> TestResult {
    let gate = Arc::new(Barrier::new(2));
    let stores = [db.connect()?, db.connect()?];
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let gate = Arc::clone(&gate);
                scope.spawn(move || {
                    gate.wait();
                    Ledger::open(
                        store,
                        signer().map_err(|e| e.to_string())?,
                        LedgerConfig::default(),
                        clock(),
                    )
                    .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "an opening thread panicked"))
            .collect()
    });
    for ledger in opened {
        let ledger = ledger??;
        assert_eq!(ledger.size(), 0);
    }
    assert_eq!(db.connect()?.checkpoints()?.len(), 1);
    Ok(())
}

/// Two writers whose clocks disagree by ten minutes (as two servers on one database may) make
/// one log whose recorded time never goes back: the one behind stamps with the other's time.
fn two_ledgers_appending_concurrently_build_one_consistent_log<D: Db>(db: &D) -> TestResult {
    const EACH: u64 = 300;
    const AHEAD: i64 = 600_000_000;
    open(db)?;
    let gate = Arc::new(Barrier::new(2));
    let writers = [("user:left", NOW + AHEAD), ("user:right", NOW)];
    let acknowledged: Vec<Result<BTreeMap<u64, Vec<u8>>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter()
            .map(|&(rater, now)| {
                let gate = Arc::clone(&gate);
                let ledger = open_with(db, clock_at(now)).map_err(|e| e.to_string());
                scope.spawn(move || -> Result<BTreeMap<u64, Vec<u8>>, String> {
                    let mut ledger = ledger?;
                    let mut acked = BTreeMap::new();
                    gate.wait();
                    let mut n = 0;
                    while n < EACH {
                        // Batches of 1 to 4 events.
                        let len = (n % 4 + 1).min(EACH - n);
                        let events: Vec<Event> = (n..n + len)
                            .map(|i| rating(rater, i))
                            .collect::<Result<_, _>>()
                            .map_err(|e| e.to_string())?;
                        let appended = ledger.append(events).map_err(|e| e.to_string())?;
                        for (event, result) in appended.events.iter().zip(&appended.results) {
                            let index = *result.as_ref().map_err(|e| e.to_string())?;
                            acked.insert(index, event.canonical_bytes());
                        }
                        n += len;
                    }
                    Ok(acked)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a writer panicked".into())))
            .collect()
    });

    let mut all = BTreeMap::new();
    for acked in acknowledged {
        let acked = acked?;
        assert_eq!(acked.len() as u64, EACH);
        for (index, bytes) in acked {
            assert!(
                all.insert(index, bytes).is_none(),
                "index {index} given twice"
            );
        }
    }
    let store = db.connect()?;
    assert_eq!(store.size()?, 2 * EACH);
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        (0..2 * EACH).collect::<Vec<_>>(),
        "no gaps"
    );
    let mut last = Time::MIN;
    for (index, bytes) in &all {
        let entry = store.entry(*index)?.ok_or("missing entry")?;
        assert_eq!(
            &entry.bytes, bytes,
            "entry {index} holds the event acknowledged for it"
        );
        let stamp = Event::from_entry(&entry.bytes)?
            .stamp
            .ok_or("not stamped")?;
        assert!(
            stamp.recorded_at >= last,
            "entry {index}: recorded time went back"
        );
        last = stamp.recorded_at;
    }
    assert_eq!(last, Time::from_micros(NOW + AHEAD).ok_or("time")?);
    let sizes: Vec<u64> = store.checkpoints()?.iter().map(|c| c.size).collect();
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    assert_eq!(sizes.last(), Some(&(2 * EACH)));
    // A writer whose clock is behind the log's latest time stamps with that time, and says so.
    let mut late = open_with(db, clock_at(NOW))?;
    let appended = late.append(vec![rating("user:late", 0)?])?;
    assert_eq!(appended.clock_behind, Some(AHEAD));
    assert_eq!(appended.recorded_at, Time::from_micros(NOW + AHEAD));
    verified(&store)?;
    Ok(())
}

fn the_store_works_inside_spawn_blocking<D: Db + Sync>(db: &D) -> TestResult
where
    D::S: Send,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let store = db.connect()?;
    let size = runtime.block_on(async move {
        // As the server does: open and append off the async workers.
        let task = tokio::task::spawn_blocking(move || -> Result<u64, String> {
            let mut ledger = Ledger::open(
                store,
                signer().map_err(|e| e.to_string())?,
                LedgerConfig::default(),
                clock(),
            )
            .map_err(|e| e.to_string())?;
            let event = rating("user:ann", 1).map_err(|e| e.to_string())?;
            ledger.append(vec![event]).map_err(|e| e.to_string())?;
            Ok(ledger.size())
        });
        task.await
    })??;
    assert_eq!(size, 1);
    Ok(())
}

/// A store written by a stepwise that knew schema version 1 (no keys table) opens, keeps its
/// log and gains the keys table.
#[test]
fn a_version_1_sqlite_store_is_upgraded_when_opened() -> TestResult {
    let db = SqliteDb::new()?;
    {
        let mut ledger = open(&db)?;
        ledger.append(vec![rating("user:ann", 1)?, rating("user:ann", 2)?])?;
    }
    {
        let conn = rusqlite::Connection::open(db.path())?;
        conn.execute_batch("DROP TABLE keys; PRAGMA user_version = 1;")?;
    }
    let mut ledger = open(&db)?;
    assert_eq!(ledger.size(), 2);
    ledger.append(vec![rating("user:ann", 3)?])?;
    verified(ledger.store())?;
    let mut store = db.connect()?;
    let key = KeyRecord::new(&generate_key()?, Role::Reader, None, Time::MIN);
    store.put_key(&key)?;
    assert_eq!(store.keys()?, [key]);
    let version: i64 =
        rusqlite::Connection::open(db.path())?
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
    assert_eq!(version, stepwise_store::SCHEMA_VERSION);
    Ok(())
}

/// A store written by a stepwise that knew schema version 2 (no decisions table) opens, keeps
/// its log and keys, and gains the decision log.
#[test]
fn a_version_2_sqlite_store_is_upgraded_when_opened() -> TestResult {
    let db = SqliteDb::new()?;
    {
        let mut ledger = open(&db)?;
        ledger.append(vec![rating("user:ann", 1)?])?;
    }
    {
        let conn = rusqlite::Connection::open(db.path())?;
        conn.execute_batch("DROP TABLE decisions; PRAGMA user_version = 2;")?;
    }
    let mut store = db.connect()?;
    assert_eq!(store.size()?, 1);
    let seq = store.put_decision(Time::MIN, "agent:a", "{}")?;
    assert_eq!(
        store.decisions(&DecisionQuery {
            limit: 5,
            ..DecisionQuery::default()
        })?[0]
            .seq,
        seq
    );
    Ok(())
}

/// A PostgreSQL database of schema version 2 gains the decisions table when connected to.
#[test]
fn a_version_2_postgres_schema_is_upgraded_when_connected() -> TestResult {
    let db = PostgresDb::new()?;
    drop(db.connect()?);
    let mut client = ::postgres::Client::connect(&db.url, ::postgres::NoTls)?;
    client.batch_execute("DROP TABLE decisions; UPDATE stepwise_schema SET version = 2")?;
    let mut store = db.connect()?;
    store.put_decision(Time::MIN, "agent:a", "{}")?;
    let version: i64 = client
        .query_one("SELECT version FROM stepwise_schema", &[])?
        .try_get(0)?;
    assert_eq!(version, stepwise_store::SCHEMA_VERSION);
    Ok(())
}

/// A database written by a newer stepwise is refused, naming both versions.
#[test]
fn a_postgres_schema_from_a_newer_stepwise_is_refused() -> TestResult {
    let db = PostgresDb::new()?;
    drop(db.connect()?);
    let mut client = ::postgres::Client::connect(&db.url, ::postgres::NoTls)?;
    client.batch_execute("UPDATE stepwise_schema SET version = 99")?;
    let refused = db
        .connect()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("version 99")
            && refused.contains(&format!("knows {}", stepwise_store::SCHEMA_VERSION)),
        "{refused}"
    );
    Ok(())
}

/// Unreachable servers are named in the error, without the password.
#[test]
fn a_postgres_connection_failure_names_the_server() {
    let refused = PostgresStore::connect("postgres://someone:secret@127.0.0.1:1/nowhere")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("someone@127.0.0.1:1/nowhere"), "{refused}");
    assert!(!refused.contains("secret"), "{refused}");
}
