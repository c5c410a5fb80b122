//! Private by design (entry format 3): what `forget` leaves behind. A forgotten principal's id,
//! notes, signatures, promise ids and secret are in no byte of the database's files; every
//! proof, checkpoint and replay is exactly what it was; other processes stop knowing the id; a
//! request to forget what is not there is refused; a log begun in format 2 keeps the clear
//! names it published, and `forget` says which entries hold them; and, on random logs, nobody
//! else's answer changes.

use crate::common::{PEOPLE, at, event, history, id, step};
use crate::store_suite::{Db, PostgresDb, SqliteDb, TestResult};
use ed25519_dalek::{Signer as _, SigningKey};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use stepwise::evidence::seal::{self, is_pseudonym};
use stepwise::evidence::{Body, ErasureReason, Event, Id, Time, base64_encode};
use stepwise::ladder::Ladder;
use stepwise::ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Clock as _, LedgerConfig, ManualClock};
use stepwise::model::params::ModelParams;
use stepwise_api::DecisionView;
use stepwise_store::forget::{self, ForgetError};
use stepwise_store::names::Names;
use stepwise_store::replay::{self, Prefix};
use stepwise_store::{
    Ledger, LogStore as _, PolicyStore as _, PrivateStore as _, SqliteStore, Store, verify,
};

/// The principal forgotten in the stories; its id is written nowhere else (not in any note of
/// anyone else's entries that do not name it).
const ZEBRA: &str = "user:zebra-7781";
const OKAPI: &str = "user:okapi-2290";
const QUOKKA: &str = "user:quokka-5513";

fn signer() -> LogSigner {
    LogSigner::from_seed("privacy.test/log", [21; 32]).expect("signer")
}

/// The clock of the stories: six hours after their first event (well inside the window).
fn story_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(0.25)))
}

/// A ledger that seals (format 3) over `store`, with the names it seals with.
fn sealing_ledger<S: Store>(
    store: S,
    clock: Arc<ManualClock>,
) -> Result<(Ledger<S>, Arc<Names>), Box<dyn Error>> {
    let names = Arc::new(Names::open(&store)?);
    let ledger = Ledger::open_sealing(
        store,
        signer(),
        LedgerConfig::default(),
        clock,
        Arc::clone(&names),
    )?;
    Ok((ledger, names))
}

/// The three steps of `forget`: erase, append the erasure entry, finish. Returns the pseudonym
/// and the erasure entry's index.
fn forget_fully<S: Store>(
    ledger: &mut Ledger<S>,
    names: &Names,
    who: &str,
    now: Time,
) -> Result<(String, u64), Box<dyn Error>> {
    let erased = forget::erase(ledger.store_mut(), names, who, ErasureReason::Request)?;
    let pseudonym = erased
        .pseudonym
        .ok_or("a sealed principal has a pseudonym")?;
    assert_eq!(
        erased.in_clear,
        Vec::<u64>::new(),
        "a sealed log names it in no clear entry"
    );
    let entry = forget::erasure_event(&pseudonym, ErasureReason::Request, now)?;
    let index = ledger.append(vec![entry])?.results[0].clone()?;
    forget::finish(ledger.store_mut(), names, &pseudonym)?;
    Ok((pseudonym, index))
}

/// `e` signed by `key`, its author filled in as the ledger would (the signature covers it).
fn signed(mut e: Event, key: &SigningKey) -> Event {
    if e.author.is_none() {
        e.author = e.natural_author().cloned();
    }
    e.sig = Some(key.sign(&e.signing_bytes()).to_bytes());
    e
}

/// Event `n` of a story: `fields` (JSON members) dated `n` seconds into the story, with `note`.
fn story_event(n: u32, fields: &str, note: &str) -> Event {
    let note = serde_json::Value::from(note);
    event(format!(
        r#"{{"at":"{}",{fields},"note":{note}}}"#,
        at(f64::from(n) / 86_400.0)
    ))
}

/// What a story left in the store that must go with zebra, and what must stay.
struct Story {
    /// Each thing of zebra's, with what it is.
    zebra: Vec<(String, Vec<u8>)>,
    /// A note of okapi's about its own promise to quokka.
    kept: Vec<u8>,
}

/// The members of a promise event, due on day 2.
fn promised(id: &str, promisor: &str, promisee: &str) -> String {
    let due = at(2.0);
    format!(
        r#""kind":"promise","id":"{id}","promisor":"{promisor}","promisee":"{promisee}","scope":"work","stake":10,"due":"{due}""#
    )
}

/// The members of an outcome event recorded by `author`.
fn settled(promise: &str, result: &str, author: &str) -> String {
    format!(r#""kind":"outcome","promise":"{promise}","result":"{result}","author":"{author}""#)
}

/// The members of a rating event.
fn rated(rater: &str, subject: &str, value: f64) -> String {
    format!(r#""kind":"rating","rater":"{rater}","subject":"{subject}","value":{value}"#)
}

/// The story's events (their members and notes): zebra's key, its promise, ratings, outcome
/// and a diary note near the longest a note may be; notes of others about it (one the outcome
/// of its promise); and okapi's promise to quokka, which does not concern zebra. Every note
/// that mentions zebra is on an entry about it.
fn story_events(public_key: &str) -> [(String, String); 11] {
    let diary: String = (0..16)
        .map(|i| format!("zebra-7781 diary, line {i}: the tide, the docks, the paint. "))
        .collect();
    let key = format!(r#""kind":"key","principal":"{ZEBRA}","public_key":"{public_key}""#);
    let vouch = format!(r#""kind":"vouch","voucher":"{QUOKKA}","subject":"{ZEBRA}","weight":0.5"#);
    [
        (
            key,
            "zebra-7781 registers the key of the night-shift laptop",
        ),
        (
            promised("deal-zebra-a", ZEBRA, OKAPI),
            "zebra-7781 promises okapi teal paint",
        ),
        (
            settled("deal-zebra-a", "broken", OKAPI),
            "okapi: zebra-7781 came two tides late",
        ),
        (
            rated(OKAPI, ZEBRA, -0.5),
            "okapi marks zebra-7781 down for the smeared gate",
        ),
        (
            rated(ZEBRA, QUOKKA, 0.8),
            "zebra-7781 thanks quokka for the rope ladder",
        ),
        (
            vouch,
            "quokka vouches that zebra-7781 sweeps the docks at dawn",
        ),
        (promised("deal-okapi-b", OKAPI, QUOKKA), KEPT_NOTE),
        (
            settled("deal-okapi-b", "kept", QUOKKA),
            "quokka got every saffron lantern",
        ),
        (
            promised("deal-zebra-c", QUOKKA, ZEBRA),
            "quokka owes zebra-7781 copper wire",
        ),
        (
            settled("deal-zebra-c", "kept", ZEBRA),
            "zebra-7781 got the copper wire",
        ),
        (rated(ZEBRA, OKAPI, 0.1), &diary),
    ]
    .map(|(members, note)| (members, note.to_owned()))
}

/// Okapi's note about its own promise to quokka: it stays when zebra goes.
const KEPT_NOTE: &str = "okapi will carry saffron lanterns to quokka before moonrise";

/// Appends the story's events, one per batch (one checkpoint each), everything zebra records
/// signed with its key.
fn tell_story<S: Store>(ledger: &mut Ledger<S>) -> Result<Story, Box<dyn Error>> {
    let key = SigningKey::from_bytes(&[77; 32]);
    let mut story = Story {
        zebra: vec![
            ("its id".into(), ZEBRA.as_bytes().to_vec()),
            ("the id of its promise".into(), b"deal-zebra-a".to_vec()),
            ("the id of a promise to it".into(), b"deal-zebra-c".to_vec()),
        ],
        kept: KEPT_NOTE.as_bytes().to_vec(),
    };
    let events = story_events(&base64_encode(key.verifying_key().as_bytes()));
    for (n, (members, note)) in (1u32..).zip(events) {
        let mut e = story_event(n, &members, &note);
        if e.author.as_ref().or(e.natural_author()) == Some(&id(ZEBRA)) {
            e = signed(e, &key);
            let sig = e.sig.ok_or("signed")?.to_vec();
            story
                .zebra
                .push((format!("its signature of event {n}"), sig));
        }
        if note.contains("zebra-7781") {
            let note = note.into_bytes();
            story.zebra.push((format!("the note of event {n}"), note));
        }
        ledger.append(vec![e])?.results[0].clone()?;
    }
    Ok(story)
}

/// The files in `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Result<Vec<String>, Box<dyn Error>> {
    let mut found = Vec::new();
    for file in std::fs::read_dir(dir)? {
        let path = file?.path();
        let bytes = std::fs::read(&path)?;
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    Ok(found)
}

/// Each thing of zebra's that some file in `dir` still holds, and where.
fn leftovers(dir: &Path, story: &Story) -> Result<Vec<String>, Box<dyn Error>> {
    let mut left = Vec::new();
    for (what, bytes) in &story.zebra {
        for file in files_holding(dir, bytes)? {
            left.push(format!("{what} in {file}"));
        }
    }
    Ok(left)
}

#[test]
fn a_forgotten_principal_leaves_no_byte_in_the_sqlite_files() -> TestResult {
    let db = SqliteDb::new()?;
    let dir = db.dir.path();
    let (mut story, okapi) = {
        let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
        let story = tell_story(&mut ledger)?;
        assert!(is_pseudonym(names.name(&id(ZEBRA)).as_str()));
        (story, names.name(&id(OKAPI)))
    };
    let secret = db.connect()?.principal(ZEBRA)?.ok_or("zebra's secret")?;
    story
        .zebra
        .push(("its secret".into(), secret.secret.to_vec()));
    // Every handle is closed: the scan sees the files as a copy of the directory would, and
    // finds each thing it looks for (so it can find them after forget too).
    for (what, bytes) in &story.zebra {
        assert!(
            !files_holding(dir, bytes)?.is_empty(),
            "the scan misses {what}"
        );
    }
    assert!(
        !files_holding(dir, &story.kept)?.is_empty(),
        "the scan misses okapi's note"
    );

    {
        let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
        forget_fully(&mut ledger, &names, ZEBRA, at(0.25))?;
        // The files as a running server leaves them: the WAL was checkpointed and truncated.
        let left = leftovers(dir, &story)?;
        assert_eq!(left, Vec::<String>::new(), "with the store still open");
    }
    let left = leftovers(dir, &story)?;
    assert_eq!(left, Vec::<String>::new(), "with every handle closed");
    assert!(
        !files_holding(dir, &story.kept)?.is_empty(),
        "okapi's note stays"
    );
    assert!(
        !files_holding(dir, OKAPI.as_bytes())?.is_empty(),
        "okapi's id stays"
    );
    let (_, names) = sealing_ledger(db.connect()?, story_clock())?;
    assert_eq!(names.name(&id(OKAPI)), okapi, "okapi keeps its pseudonym");
    Ok(())
}

/// A store whose tables a test may read directly.
trait Tables: Db {
    /// `SELECT COUNT(*) FROM {sql}` with `?` bound to `value`.
    fn count(&self, sql: &str, value: &str) -> Result<i64, Box<dyn Error>>;

    /// Turns the private tables back into schema 4's (principals unnumbered and indexed by
    /// pseudonym; erasures kept only while pending, unnumbered), as a stepwise of that schema
    /// left them.
    fn back_to_schema_4(&self) -> Result<(), Box<dyn Error>>;
}

impl Tables for SqliteDb {
    fn count(&self, sql: &str, value: &str) -> Result<i64, Box<dyn Error>> {
        let db = rusqlite::Connection::open(self.path())?;
        let sql = format!("SELECT COUNT(*) FROM {}", sql.replace('?', "?1"));
        Ok(db.query_row(&sql, [value], |r| r.get(0))?)
    }

    fn back_to_schema_4(&self) -> Result<(), Box<dyn Error>> {
        rusqlite::Connection::open(self.path())?.execute_batch(
            "CREATE TABLE p4 (id TEXT PRIMARY KEY, pseudonym TEXT NOT NULL UNIQUE, secret BLOB NOT NULL);
             INSERT INTO p4 SELECT id, pseudonym, secret FROM principals;
             DROP TABLE principals;
             ALTER TABLE p4 RENAME TO principals;
             CREATE TABLE e4 (pseudonym TEXT PRIMARY KEY, reason TEXT NOT NULL);
             INSERT INTO e4 SELECT pseudonym, reason FROM erasures WHERE NOT logged;
             DROP TABLE erasures;
             ALTER TABLE e4 RENAME TO erasures;
             DROP TABLE policies;
             PRAGMA user_version = 4;",
        )?;
        Ok(())
    }
}

impl Tables for PostgresDb {
    fn count(&self, sql: &str, value: &str) -> Result<i64, Box<dyn Error>> {
        let mut db = ::postgres::Client::connect(&self.url, ::postgres::NoTls)?;
        let sql = format!("SELECT COUNT(*) FROM {}", sql.replace('?', "$1"));
        Ok(db.query_one(&sql, &[&value])?.try_get(0)?)
    }

    fn back_to_schema_4(&self) -> Result<(), Box<dyn Error>> {
        ::postgres::Client::connect(&self.url, ::postgres::NoTls)?.batch_execute(
            "ALTER TABLE principals DROP COLUMN seq;
             ALTER TABLE principals ADD CONSTRAINT principals_pseudonym_key UNIQUE (pseudonym);
             DELETE FROM erasures WHERE logged;
             ALTER TABLE erasures DROP COLUMN seq;
             ALTER TABLE erasures DROP COLUMN logged;
             DROP TABLE policies;
             UPDATE stepwise_schema SET version = 4;",
        )?;
        Ok(())
    }
}

/// Openings of entries that name `?` (the `names` column lists them, space-separated).
const OPENINGS_NAMING: &str = "openings WHERE ' ' || names || ' ' LIKE '% ' || ? || ' %'";

macro_rules! on_both_stores {
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

on_both_stores!(
    every_proof_and_checkpoint_verifies_as_before_after_forget,
    every_process_stops_knowing_a_forgotten_id,
    a_process_behind_the_erasure_keeps_no_new_text_under_the_old_pseudonym,
    two_processes_naming_a_newcomer_at_once_give_it_one_pseudonym,
    two_processes_promising_one_id_at_once_record_it_once,
    a_schema_4_store_keeps_its_secrets_and_pending_erasures,
);

fn every_proof_and_checkpoint_verifies_as_before_after_forget<D: Db>(db: &D) -> TestResult {
    let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
    tell_story(&mut ledger)?;
    let leaves = |store: &D::S| -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
        let mut bytes = Vec::new();
        store.scan(0, u64::MAX, &mut |e| {
            assert_eq!(e.leaf_hash, leaf_hash(&e.bytes), "entry {}", e.index);
            bytes.push(e.bytes);
            Ok(())
        })?;
        Ok(bytes)
    };
    let before = leaves(ledger.store())?;
    let checkpoints_before = ledger.store().checkpoints()?;
    assert!(checkpoints_before.len() > 5, "one checkpoint per event");
    let openings_before = ledger.store().openings(0, u64::MAX)?.len() as u64;
    forget_fully(&mut ledger, &names, ZEBRA, at(0.25))?;

    let store = db.connect()?;
    let after = leaves(&store)?;
    assert_eq!(after.len(), before.len() + 1, "one erasure entry more");
    assert!(
        after.starts_with(&before),
        "every leaf is byte for byte what it was"
    );
    let checkpoints = store.checkpoints()?;
    assert!(
        checkpoints.starts_with(&checkpoints_before),
        "old checkpoints are kept"
    );
    // Every checkpoint's signature, then every proof against the signed roots.
    let verifier = signer().verifier();
    let mut signed = Vec::new();
    for stored in &checkpoints {
        let cp = verifier.verify_checkpoint(&stored.note)?;
        assert_eq!((cp.size, cp.root), (stored.size, stored.root));
        signed.push(cp);
    }
    let mut proofs = 0;
    for new in &signed {
        for index in 0..new.size {
            let proof = ledger.inclusion_proof(index, new.size)?;
            let leaf = leaf_hash(&after[index as usize]);
            verify_inclusion(&leaf, index, new.size, &proof.hashes, &new.root)?;
            proofs += 1;
        }
        for old in signed
            .iter()
            .filter(|old| old.size > 0 && old.size <= new.size)
        {
            let proof = ledger.consistency_proof(old.size, new.size)?;
            verify_consistency(old.size, new.size, &proof.hashes, &old.root, &new.root)?;
            proofs += 1;
        }
    }
    assert!(proofs > 100, "{proofs} proofs checked");
    let report = verify(&store, &verifier, &LedgerConfig::default(), &mut |_| {})?;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.entries, after.len() as u64);
    assert_eq!(report.checkpoints, checkpoints.len() as u64);
    // Okapi's and quokka's openings are kept; zebra's are counted as erased, each of them.
    let kept = store.openings(0, u64::MAX)?.len() as u64;
    assert!(
        kept > 0 && kept < openings_before,
        "{kept} of {openings_before}"
    );
    assert_eq!(report.erased, openings_before - kept, "{report:?}");
    assert_eq!(report.openings_checked, kept, "{report:?}");
    assert_eq!(
        report.unopened, 0,
        "every missing opening is explained by the erasure"
    );
    Ok(())
}

fn every_process_stops_knowing_a_forgotten_id<D: Tables>(db: &D) -> TestResult {
    let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
    tell_story(&mut ledger)?;
    let zebra = id(ZEBRA);
    let pseudonym = names.name(&zebra);
    let p = pseudonym.as_str();
    assert!(is_pseudonym(p), "{p}");
    // A follower: another process, whose names were loaded before the erasure.
    let follower_store = db.connect()?;
    let follower = Names::open(&follower_store)?;
    assert_eq!(follower.name(&zebra), pseudonym);
    assert_eq!(db.count("principals WHERE id = ?", ZEBRA)?, 1);
    assert!(
        db.count(OPENINGS_NAMING, p)? >= 8,
        "zebra's entries keep their openings"
    );

    let (_, erasure) = forget_fully(&mut ledger, &names, ZEBRA, at(0.25))?;
    assert_eq!(db.count("principals WHERE id = ?", ZEBRA)?, 0);
    assert_eq!(db.count("principals WHERE pseudonym = ?", p)?, 0);
    assert_eq!(db.count(OPENINGS_NAMING, p)?, 0);
    assert_eq!(
        db.count("erasures WHERE pseudonym = ? AND NOT logged", p)?,
        0,
        "nothing pending"
    );
    assert!(
        db.count("openings WHERE names <> ?", "")? > 0,
        "others' openings stay"
    );
    for names in [&*names, &Names::open(&db.connect()?)?] {
        assert_eq!(names.name(&zebra), zebra, "an unknown id is its own name");
        assert!(names.is_forgotten(p));
        assert_eq!(names.id_of(p), None);
        assert!(
            is_pseudonym(names.name(&id(OKAPI)).as_str()),
            "okapi is still known"
        );
    }

    // The follower reads the erasure entry as it folds, and forgets too.
    assert_eq!(
        follower.id_of(p),
        Some(zebra.clone()),
        "not before it reads the entry"
    );
    let entry = follower_store.entry(erasure)?.ok_or("the erasure entry")?;
    let event = stepwise_store::decode_entry(&entry)?;
    assert!(matches!(&event.body, Body::Erasure { principal, .. } if principal == &pseudonym));
    follower.observe(&follower_store, erasure, &event)?;
    assert_eq!(follower.name(&zebra), zebra);
    assert!(follower.is_forgotten(p));
    assert_eq!(
        follower.open_text(&format!("vouched for {p}")),
        format!("vouched for {p}")
    );
    assert_eq!(
        follower.id_of(names.name(&id(OKAPI)).as_str()),
        Some(id(OKAPI))
    );

    // A process started after the erasure folds the whole log, as a server starting does:
    // what its names read at open needs no second look, and the erasure entry still tells
    // it that the pseudonym is forgotten (an event arriving sealed under it is refused).
    let restarted_store = db.connect()?;
    let restarted = Names::open(&restarted_store)?;
    let mut naming_zebra = None;
    restarted_store.scan(0, restarted_store.size()?, &mut |entry| {
        let event = stepwise_store::decode_entry(&entry)?;
        restarted.observe(&restarted_store, entry.index, &event)?;
        if entry.index < erasure
            && naming_zebra.is_none()
            && String::from_utf8_lossy(&entry.bytes).contains(p)
        {
            naming_zebra = Some(event);
        }
        Ok(())
    })?;
    assert!(restarted.is_forgotten(p));
    assert_eq!(restarted.id_of(p), None);
    let earlier = naming_zebra.ok_or("an entry naming zebra before the erasure")?;
    assert_eq!(restarted.forgotten_in(&earlier), Some(p.to_owned()));
    assert_eq!(
        restarted.id_of(names.name(&id(OKAPI)).as_str()),
        Some(id(OKAPI))
    );
    Ok(())
}

/// Another process that has not yet read the erasure entry appends a note of the forgotten
/// principal's (quokka: no key, so the ledger's rules let it through). Its append learns of the
/// erasure in its own transaction: that process forgets the pseudonym, seals the batch again,
/// and records it under a newcomer's pseudonym; no text is kept under the old one. An event
/// that came sealed under the old pseudonym cannot be sealed again, and is refused whole.
fn a_process_behind_the_erasure_keeps_no_new_text_under_the_old_pseudonym<D: Tables>(
    db: &D,
) -> TestResult {
    let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
    tell_story(&mut ledger)?;
    let (mut behind, behind_names) = sealing_ledger(db.connect()?, story_clock())?;
    let (mut sealed_behind, _) = sealing_ledger(db.connect()?, story_clock())?;
    let old = behind_names.name(&id(QUOKKA));
    let (pseudonym, _) = forget_fully(&mut ledger, &names, QUOKKA, at(0.25))?;
    assert_eq!(old.as_str(), pseudonym);
    assert_eq!(
        behind_names.id_of(&pseudonym),
        Some(id(QUOKKA)),
        "still behind"
    );

    let late = story_event(90, &rated(QUOKKA, OKAPI, 0.5), "a late word from quokka");
    let size = ledger.store().size()?;
    let appended = behind.append(vec![late])?;
    let index = appended.results[0].clone()?;
    assert_eq!(index, size, "recorded at once");
    let newcomer = behind_names.name(&id(QUOKKA));
    assert!(is_pseudonym(newcomer.as_str()) && newcomer.as_str() != pseudonym);
    assert!(behind_names.is_forgotten(&pseudonym));
    let entry = ledger.store().entry(index)?.ok_or("the late entry")?;
    let text = String::from_utf8(entry.bytes)?;
    assert!(
        text.contains(newcomer.as_str()) && !text.contains(&pseudonym),
        "{text}"
    );
    assert_eq!(db.count(OPENINGS_NAMING, &pseudonym)?, 0, "no text kept");
    assert_eq!(db.count(OPENINGS_NAMING, newcomer.as_str())?, 1);

    // Sealed before it came: nothing to seal again, so it is refused, and nothing recorded.
    let mut presealed = story_event(91, &rated(OKAPI, QUOKKA, 0.5), "");
    presealed.note = None;
    presealed.author = Some(id(OKAPI));
    presealed.body = Body::Rating {
        rater: id(OKAPI),
        subject: Id::parse("subject", &pseudonym)?,
        value: 0.5,
        scope: None,
    };
    presealed.seal = Some(Box::default());
    let size = ledger.store().size()?;
    let refused = sealed_behind.append(vec![presealed]);
    assert!(
        matches!(&refused, Err(stepwise_store::LedgerError::Store(stepwise_store::StoreError::Forgotten(p))) if *p == pseudonym),
        "{refused:?}"
    );
    assert_eq!(ledger.store().size()?, size, "nothing recorded");
    Ok(())
}

/// Two processes name the same newcomer at once, each with a secret of its own: the first to
/// append keeps its secret, and the other's append finds the principal taken, learns the
/// stored secret, seals its batch again and records it. The newcomer has one pseudonym.
fn two_processes_naming_a_newcomer_at_once_give_it_one_pseudonym<D: Tables>(db: &D) -> TestResult {
    let (mut first, first_names) = sealing_ledger(db.connect()?, story_clock())?;
    let (mut second, second_names) = sealing_ledger(db.connect()?, story_clock())?;
    let newcomer = "user:newcomer-0412";
    let hello = |n, rater: &str| story_event(n, &rated(rater, newcomer, 0.5), "welcome");
    first.append(vec![hello(1, OKAPI)])?;
    let appended = second.append(vec![hello(2, QUOKKA)])?;
    assert!(appended.results[0].is_ok(), "{:?}", appended.results);
    let name = first_names.name(&id(newcomer));
    assert!(is_pseudonym(name.as_str()));
    assert_eq!(second_names.name(&id(newcomer)), name, "one pseudonym");
    assert_eq!(db.count("principals WHERE id = ?", newcomer)?, 1);
    assert_eq!(db.count(OPENINGS_NAMING, name.as_str())?, 2);
    Ok(())
}

/// Two processes that seal one client promise id at once, each not knowing of the other's
/// promise: the log names it once, and the second is refused as a reuse (naming the first's
/// entry), as within one process. An outcome the second records afterwards settles the first's
/// promise, its author (a principal only the first had named) known by the first's pseudonym.
fn two_processes_promising_one_id_at_once_record_it_once<D: Db>(db: &D) -> TestResult {
    let (mut first, first_names) = sealing_ledger(db.connect()?, story_clock())?;
    let (mut second, second_names) = sealing_ledger(db.connect()?, story_clock())?;
    let promise =
        |n, promisor, promisee| story_event(n, &promised("order-1", promisor, promisee), "");
    let made = first.append(vec![promise(1, OKAPI, QUOKKA)])?;
    let index = made.results[0].clone()?;
    let again = second.append(vec![promise(2, QUOKKA, OKAPI)])?;
    let refusal = again.results[0]
        .clone()
        .expect_err("a reuse of the id is refused");
    assert_eq!(refusal.field, "id", "{refusal}");
    assert!(
        refusal.to_string().contains(&format!("log index {index}")),
        "{refusal}"
    );
    let promise_name = |events: &[Event]| match &events[0].body {
        Body::Promise { id, .. } | Body::Outcome { promise: id, .. } => id.clone(),
        other => panic!("not a promise or an outcome: {other:?}"),
    };
    let name = promise_name(&made.events);
    assert_eq!(second_names.id_of(name.as_str()), Some(id("order-1")));
    let outcome = story_event(3, &settled("order-1", "kept", QUOKKA), "");
    let kept = second.append(vec![outcome])?;
    assert!(kept.results[0].is_ok(), "{:?}", kept.results);
    assert_eq!(
        promise_name(&kept.events),
        name,
        "the outcome settles the first's promise"
    );
    assert_eq!(first_names.id_of(name.as_str()), Some(id("order-1")));
    Ok(())
}

/// A store written by a stepwise of schema 4 opens: every principal keeps its secret (and so
/// its pseudonym), a pending erasure stays pending and is numbered, and new principals and
/// erasures are numbered after them.
fn a_schema_4_store_keeps_its_secrets_and_pending_erasures<D: Tables>(db: &D) -> TestResult {
    let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
    tell_story(&mut ledger)?;
    let before = names.name(&id(OKAPI));
    forget::erase(ledger.store_mut(), &names, ZEBRA, ErasureReason::Request)?;
    let pending = ledger.store().pending_erasures()?;
    drop(ledger);
    db.back_to_schema_4()?;

    let (mut ledger, names) = sealing_ledger(db.connect()?, story_clock())?;
    assert_eq!(names.name(&id(OKAPI)), before, "okapi keeps its secret");
    assert_eq!(ledger.store().pending_erasures()?, pending, "still pending");
    assert_eq!(ledger.store().last_erasure()?, 1);
    let seqs: Vec<u64> = (ledger.store().principals_since(0)?.into_iter())
        .map(|(seq, _)| seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let last = *seqs.last().ok_or("principals")?;
    let newcomer = "user:newcomer-0412";
    let hello = story_event(20, &rated(OKAPI, newcomer, 0.5), "welcome");
    assert!(ledger.append(vec![hello])?.results[0].is_ok());
    let new = ledger.store().principals_since(last)?;
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].1.id, newcomer);
    forget::erase(ledger.store_mut(), &names, OKAPI, ErasureReason::Legal)?;
    assert_eq!(ledger.store().last_erasure()?, 2);
    // Schema 6 keeps the texts of the policies the log records.
    let recorded = ledger.record_policy("[model]\nprior_weight = 3.0\n")?;
    assert!(recorded.is_some());
    let (_, sha256) = ledger.last_policy().ok_or("a policy entry")?;
    assert_eq!(
        ledger.store().policy_text(sha256)?.as_deref(),
        Some("[model]\nprior_weight = 3.0\n")
    );
    Ok(())
}

/// A store of schema 5 gains the table of policy texts when it opens.
#[test]
fn a_schema_5_store_gains_the_policy_texts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.sqlite");
    drop(SqliteStore::open(&path)?);
    rusqlite::Connection::open(&path)?
        .execute_batch("DROP TABLE policies; PRAGMA user_version = 5;")?;
    let mut store = SqliteStore::open(&path)?;
    assert_eq!(store.policy_text("00")?, None);
    store.put_policy("00", "[model]\n")?;
    store.put_policy("00", "kept once")?;
    assert_eq!(store.policy_text("00")?.as_deref(), Some("[model]\n"));
    Ok(())
}

#[test]
fn forgetting_what_is_not_there_is_refused_and_changes_nothing() -> TestResult {
    let (mut ledger, names) = sealing_ledger(SqliteStore::in_memory()?, story_clock())?;
    tell_story(&mut ledger)?;
    let pseudonym = names.name(&id(ZEBRA));
    let kept = |ledger: &Ledger<SqliteStore>| -> Result<_, Box<dyn Error>> {
        let store = ledger.store();
        let mut principals = store.principals()?;
        principals.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((principals, store.openings(0, u64::MAX)?, store.size()?))
    };
    let before = kept(&ledger)?;
    for unknown in ["user:nobody-0000", pseudonym.as_str(), "", "user:zebra"] {
        let refused = forget::erase(ledger.store_mut(), &names, unknown, ErasureReason::Legal);
        assert!(
            matches!(&refused, Err(ForgetError::Unknown(who)) if who == unknown),
            "{unknown:?}: {refused:?}"
        );
        assert!(
            kept(&ledger)? == before,
            "refusing {unknown:?} changed something"
        );
    }
    assert_eq!(ledger.store().pending_erasures()?, []);
    forget_fully(&mut ledger, &names, ZEBRA, at(0.25))?;
    let after = kept(&ledger)?;
    let again = forget::erase(ledger.store_mut(), &names, ZEBRA, ErasureReason::Request);
    assert!(
        matches!(&again, Err(ForgetError::Unknown(who)) if who == ZEBRA),
        "{again:?}"
    );
    assert!(kept(&ledger)? == after, "a second forget changed something");
    assert_eq!(ledger.store().pending_erasures()?, []);
    Ok(())
}

/// A batch sealed on another thread before its principal was forgotten, and handed to the
/// ledger after the erasure was appended, is sealed again: its event names the principal as
/// the newcomer it is now, not by the pseudonym forgotten.
#[test]
fn a_batch_sealed_before_a_forget_is_sealed_again_after_it() -> TestResult {
    let (mut ledger, names) = sealing_ledger(SqliteStore::in_memory()?, story_clock())?;
    tell_story(&mut ledger)?;
    let forgotten = names.name(&id(ZEBRA));
    let clear = vec![event(format!(
        r#"{{"at":"{}",{}}}"#,
        at(0.2),
        rated(OKAPI, ZEBRA, 0.5)
    ))];
    let stale = names.seal(&clear)?;
    let subject = |e: &Event| match &e.body {
        Body::Rating { subject, .. } => subject.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(subject(&stale.events[0]), forgotten);
    forget_fully(&mut ledger, &names, ZEBRA, at(0.25))?;
    let appended = ledger.append_sealed(clear, Some(stale), stepwise::ledger::Origin::Live)?;
    let index = appended.results[0].clone()?;
    let entry = ledger.store().entry(index)?.ok_or("the entry")?;
    let recorded = Event::from_entry(&entry.bytes)?;
    assert_ne!(
        subject(&recorded),
        forgotten,
        "named by the forgotten pseudonym"
    );
    assert_eq!(
        subject(&recorded),
        names.name(&id(ZEBRA)),
        "named as the newcomer"
    );
    Ok(())
}

/// Named in the clear by the format-2 part of a log.
const LEGACY: &str = "user:legacy-4410";
/// Named first in format 3: by a pseudonym.
const NEWT: &str = "user:newt-6620";

/// A log at `path` begun in format 2 (entries 0, 1 and 3 name `LEGACY`), and a ledger that
/// continues it in format 3, with its names.
fn a_log_begun_in_format_2(
    path: &Path,
) -> Result<(Ledger<SqliteStore>, Arc<Names>), Box<dyn Error>> {
    let vouch = format!(r#""kind":"vouch","voucher":"{QUOKKA}","subject":"{LEGACY}","weight":0.4"#);
    let clear = [
        rated(LEGACY, OKAPI, 0.5),
        promised("old-deal", LEGACY, OKAPI),
        rated(OKAPI, QUOKKA, 0.2),
        vouch,
    ];
    let store = SqliteStore::open(path)?;
    let mut ledger = Ledger::open(store, signer(), LedgerConfig::default(), story_clock())?;
    for (n, members) in (0u32..).zip(&clear) {
        let e = story_event(n, members, &format!("format 2, entry {n}"));
        ledger.append(vec![e])?.results[0].clone()?;
    }
    drop(ledger);
    let store = SqliteStore::open(path)?;
    let names = Arc::new(Names::open(&store)?);
    let config = LedgerConfig::default();
    let ledger = Ledger::open_sealing(store, signer(), config, story_clock(), Arc::clone(&names))?;
    Ok((ledger, names))
}

#[test]
fn a_log_begun_in_format_2_keeps_its_clear_names_and_forget_lists_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut ledger, names) = a_log_begun_in_format_2(&dir.path().join("ledger.sqlite"))?;
    assert!(
        [LEGACY, OKAPI, QUOKKA]
            .iter()
            .all(|p| names.is_clear(&id(p)))
    );
    assert!(!names.is_clear(&id(NEWT)));
    // Each sealed event, whether it names the legacy principal, and whether its openings go
    // when it is forgotten (it names it, or settles its promise).
    let sealed = [
        (rated(LEGACY, NEWT, 0.7), true, true),
        (promised("new-deal", LEGACY, NEWT), true, true),
        (settled("old-deal", "kept", OKAPI), false, true),
        (settled("new-deal", "broken", NEWT), false, true),
        (rated(NEWT, OKAPI, 0.9), false, false),
    ];
    let mut in_clear = vec![0, 1, 3];
    let mut appended = Vec::new();
    for (n, (members, names_it, goes)) in (10u32..).zip(sealed) {
        let e = story_event(n, &members, &format!("format 3, entry {n}"));
        let index = ledger.append(vec![e])?.results[0].clone()?;
        let entry = stepwise_store::decode_entry(&ledger.entry(index)?)?;
        assert!(entry.seal.is_some(), "entry {index} is sealed");
        let named = seal::principals(&entry);
        assert_eq!(
            named.contains(&&id(LEGACY)),
            names_it,
            "entry {index}: {named:?}"
        );
        assert!(
            !named.contains(&&id(NEWT)),
            "entry {index} names newt by its pseudonym"
        );
        assert!(!ledger.store().openings(index, index + 1)?.is_empty());
        if names_it {
            in_clear.push(index);
        }
        appended.push((index, goes));
    }
    assert_eq!(
        ledger.store().principal(LEGACY)?,
        None,
        "a clear name gets no secret"
    );

    let erased = forget::erase(ledger.store_mut(), &names, LEGACY, ErasureReason::Request)?;
    assert_eq!(
        erased.pseudonym, None,
        "it has none: its leaves name it in the clear"
    );
    assert_eq!(
        erased.in_clear, in_clear,
        "the entries naming it in the clear, each once"
    );
    for (index, goes) in appended {
        let kept = ledger.store().openings(index, index + 1)?;
        assert_eq!(kept.is_empty(), goes, "entry {index}: {kept:?}");
    }
    assert_eq!(
        ledger.store().pending_erasures()?,
        [],
        "no erasure entry: it has no pseudonym"
    );
    assert_eq!(
        names.name(&id(LEGACY)),
        id(LEGACY),
        "it keeps its clear name"
    );
    assert!(is_pseudonym(names.name(&id(NEWT)).as_str()));
    let report = verify(
        ledger.store(),
        &signer().verifier(),
        ledger.config(),
        &mut |_| {},
    )?;
    assert!(report.is_ok(), "{:?}", report.problems);
    Ok(())
}

/// The capabilities decisions are asked about.
const CAPABILITIES: [&str; 3] = ["act:low", "act:medium", "propose"];

/// A decision asked while the log was built: of whom, at which prefix, and its wire form.
struct Asked {
    who: usize,
    name: Id,
    prefix: Prefix,
    capability: &'static str,
    stake: f64,
    view: String,
}

/// A log built from a random history, sealed, with principals forgotten along the way.
struct Built {
    ledger: Ledger<SqliteStore>,
    names: Arc<Names>,
    /// Each principal forgotten, with its pseudonym (`None`: it was never named).
    forgotten: Vec<(usize, Option<Id>)>,
    asked: Vec<Asked>,
}

/// The decision `asked` about `name`, replayed from the prefix it names, as the wire shows it.
fn decision_view(store: &SqliteStore, name: &Id, asked: &Asked) -> String {
    let state = replay::ladder_state(
        store,
        ModelParams::default(),
        Ladder::default(),
        asked.prefix,
        &mut |_| {},
    )
    .expect("replay");
    let (n, t) = (asked.prefix.log_size, asked.prefix.until);
    let d = state.decide(
        name,
        asked.capability,
        asked.stake,
        None,
        t.expect("an instant"),
    );
    serde_json::to_string(&DecisionView::new(&d, n.expect("a size"))).expect("json")
}

/// Appends `events` (notes on those `noted` says), forgetting `forgets` (who, when: a percentage
/// of the history) and asking `asks` (when, of whom, what, at what stake, how many days later)
/// along the way; events that name a principal already forgotten, or settle its promises, are
/// left out (nobody can name it any more).
fn build(
    mut events: Vec<Event>,
    noted: &[bool],
    forgets: &[(usize, usize)],
    asks: &[(usize, usize, usize, f64, f64)],
) -> Built {
    for (i, e) in events.iter_mut().enumerate() {
        if noted[i % noted.len()] {
            e.note = Some(format!("note {i}, about the {:?}", e.body).replace('"', "'"));
        }
    }
    let clock = Arc::new(ManualClock::new(at(0.0)));
    let store = SqliteStore::in_memory().expect("store");
    let (mut ledger, names) = sealing_ledger(store, Arc::clone(&clock)).expect("ledger");
    let doomed: HashSet<usize> = forgets.iter().map(|f| f.0).collect();
    let when = |percent: usize| percent * events.len() / 100;
    let mut forgotten: Vec<(usize, Option<Id>)> = Vec::new();
    let mut asked = Vec::new();
    let mut parties: HashMap<Id, [Id; 2]> = HashMap::new();
    for k in 0..=events.len() {
        for &(who, _) in forgets.iter().filter(|f| when(f.1) == k) {
            if forgotten.iter().any(|f| f.0 == who) {
                continue;
            }
            let pseudonym = match forget_fully(&mut ledger, &names, PEOPLE[who], clock.now()) {
                Ok((pseudonym, _)) => Some(id(&pseudonym)),
                Err(e)
                    if e.downcast_ref::<ForgetError>()
                        .is_some_and(|e| matches!(e, ForgetError::Unknown(_))) =>
                {
                    None
                }
                Err(e) => panic!("forget {}: {e}", PEOPLE[who]),
            };
            forgotten.push((who, pseudonym));
        }
        for &(_, who, capability, stake, later) in asks.iter().filter(|a| when(a.0) == k) {
            if doomed.contains(&who) {
                continue;
            }
            let until = Time::from_micros(clock.now().as_micros() + (later * 86_400e6) as i64);
            let mut ask = Asked {
                who,
                name: names.name(&id(PEOPLE[who])),
                prefix: Prefix {
                    log_size: Some(ledger.size()),
                    until,
                    rank_log_size: None,
                },
                capability: CAPABILITIES[capability],
                stake,
                view: String::new(),
            };
            ask.view = decision_view(ledger.store(), &ask.name, &ask);
            asked.push(ask);
        }
        let Some(e) = events.get(k) else { break };
        let gone = |p: &Id| forgotten.iter().any(|f| id(PEOPLE[f.0]) == *p);
        let settles_gone = match &e.body {
            Body::Promise {
                id,
                promisor,
                promisee,
                ..
            } => {
                parties.insert(id.clone(), [promisor.clone(), promisee.clone()]);
                false
            }
            Body::Outcome { promise, .. } => parties[promise].iter().any(gone),
            _ => false,
        };
        if settles_gone || seal::principals(e).into_iter().any(gone) {
            continue;
        }
        clock.set(e.at);
        let appended = ledger.append(vec![e.clone()]).expect("append");
        assert!(
            appended.results[0].is_ok(),
            "{:?}: {:?}",
            e,
            appended.results
        );
    }
    Built {
        ledger,
        names,
        forgotten,
        asked,
    }
}

/// (a) Every entry's inclusion proof verifies against the latest signed checkpoint; the
/// openings of exactly the entries about a forgotten principal (naming it, or settling its
/// promise) are gone; and a full verification finds nothing wrong, counting those as erased.
fn proofs_and_audit_hold(built: &Built) -> Result<(), TestCaseError> {
    let (ledger, store) = (&built.ledger, built.ledger.store());
    let verifier = signer().verifier();
    let signed = verifier
        .verify_checkpoint(&ledger.checkpoint().note)
        .expect("signed");
    prop_assert_eq!(signed.size, ledger.size());
    let gone: HashSet<&Id> = built
        .forgotten
        .iter()
        .filter_map(|f| f.1.as_ref())
        .collect();
    // The promises that name a forgotten principal: their outcomes and approvals (which come
    // before them) are about it too.
    let mut gone_promises = HashSet::new();
    for index in 0..signed.size {
        let entry = ledger.entry(index).expect("entry");
        let event = stepwise_store::decode_entry(&entry).expect("decodes");
        if let Body::Promise { id, .. } = &event.body
            && seal::principals(&event).iter().any(|p| gone.contains(p))
        {
            gone_promises.insert(id.clone());
        }
    }
    let (mut erased, mut kept) = (0, 0);
    for index in 0..signed.size {
        let entry = ledger.entry(index).expect("entry");
        let proof = ledger.inclusion_proof(index, signed.size).expect("proof");
        let leaf = leaf_hash(&entry.bytes);
        verify_inclusion(&leaf, index, signed.size, &proof.hashes, &signed.root).expect("included");
        let event = stepwise_store::decode_entry(&entry).expect("decodes");
        let seal = event.seal.as_deref().expect("every entry is sealed");
        let commitments = u64::from(seal.note.is_some())
            + u64::from(seal.sig.is_some())
            + u64::from(matches!(
                event.body,
                Body::Promise { .. } | Body::Approval { .. }
            ));
        let settles_gone = |promise| gone_promises.contains(promise);
        let about_gone = seal::principals(&event).iter().any(|p| gone.contains(p))
            || matches!(&event.body, Body::Outcome { promise, .. } | Body::Approval { promise, .. } if settles_gone(promise));
        let openings = store.openings(index, index + 1).expect("openings").len() as u64;
        let (count, left) = if about_gone {
            (&mut erased, 0)
        } else {
            (&mut kept, commitments)
        };
        *count += commitments;
        prop_assert_eq!(openings, left, "entry {}: {:?}", index, event);
    }
    let report = verify(store, &verifier, ledger.config(), &mut |_| {}).expect("verify");
    prop_assert!(report.is_ok(), "{:?}", report.problems);
    let counts = (report.erased, report.openings_checked, report.unopened);
    prop_assert_eq!(counts, (erased, kept, 0));
    Ok(())
}

/// (b) Every decision asked about someone not forgotten replays to the same bytes, under the
/// same name.
fn answers_replay_exactly(built: &Built) -> Result<(), TestCaseError> {
    for asked in &built.asked {
        if is_pseudonym(asked.name.as_str()) {
            prop_assert_eq!(&built.names.name(&id(PEOPLE[asked.who])), &asked.name);
        }
        let again = decision_view(built.ledger.store(), &asked.name, asked);
        prop_assert_eq!(&again, &asked.view);
    }
    Ok(())
}

/// (c) A forgotten id is a principal with no evidence: its own name, here and in a process
/// that starts now, and nobody in the state.
fn forgotten_ids_have_no_evidence(built: &Built) -> Result<(), TestCaseError> {
    let store = built.ledger.store();
    let fresh = Names::open(store).expect("names");
    let state = replay::ladder_state(
        store,
        ModelParams::default(),
        Ladder::default(),
        Prefix::ALL,
        &mut |_| {},
    )
    .expect("replay");
    let now = built.ledger.recorded_at().unwrap_or(at(0.0));
    for (who, pseudonym) in &built.forgotten {
        let who = id(PEOPLE[*who]);
        for names in [&*built.names, &fresh] {
            prop_assert_eq!(names.name(&who), who.clone());
            if let Some(p) = pseudonym {
                prop_assert!(names.is_forgotten(p.as_str()));
                prop_assert_eq!(names.id_of(p.as_str()), None);
            }
        }
        prop_assert_eq!(state.trust().principal_index(&who), None);
        let d = state.decide(&who, "act:low", 1.0, None, now);
        prop_assert_eq!((d.level, d.evidence()), (0, Vec::new()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On random sealed logs (ratings, reports, vouches, promises and outcomes, some with
    /// notes), forgetting random principals at random moments breaks no proof and no audit,
    /// changes no answer about anyone else, and leaves each forgotten id with no evidence.
    #[test]
    fn forgetting_changes_no_proof_and_no_one_elses_answer(
        steps in prop::collection::vec(step(), 1..80),
        noted in prop::collection::vec(any::<bool>(), 1..8),
        forgets in prop::collection::vec((0..PEOPLE.len(), 10..=100usize), 1..4),
        asks in prop::collection::vec(
            (0..=100usize, 0..PEOPLE.len(), 0..CAPABILITIES.len(), 0.0..900.0f64, 0.0..5.0f64),
            1..6,
        ),
    ) {
        let (events, _) = history(&steps);
        let built = build(events, &noted, &forgets, &asks);
        proofs_and_audit_hold(&built)?;
        answers_replay_exactly(&built)?;
        forgotten_ids_have_no_evidence(&built)?;
    }
}
