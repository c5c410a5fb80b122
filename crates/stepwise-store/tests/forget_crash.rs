//! Crash test of `forget`: a child process forgets principals one after another (erase, append
//! the erasure entry, finish) and is killed with SIGKILL at random moments. After every kill
//! each principal is erased entirely or not at all — its secret and the openings of every entry
//! about it (naming it, or settling its promise) gone together or all there — and what a kill
//! cut short is pending; the recovery (`forget::pending`, append, `finish`) then leaves every
//! erased principal with its erasure entry, nothing pending, and a log that verifies.
//!
//! This is a `harness = false` test, like `tests/crash.rs`: run with no arguments it is the
//! parent; the parent runs this same executable with `child DIR` to get a forgetter to kill.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use stepwise::evidence::seal;
use stepwise::evidence::{Body, ErasureReason, Event, Id, Time};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Clock, LedgerConfig, ManualClock};
use stepwise_store::forget;
use stepwise_store::names::Names;
use stepwise_store::{Ledger, LogStore as _, PrivateStore as _, SqliteStore, decode_entry, verify};

const ROUNDS: usize = 20;
const PRINCIPALS: usize = 240;

/// What the ledger's clock reads: an hour after every event of the setup.
const NOW: i64 = 1_700_003_600_000_000;

fn now() -> Time {
    Time::from_micros(NOW).expect("time")
}

fn signer() -> LogSigner {
    LogSigner::from_seed("forget-crash.test/log", [43; 32]).expect("signer")
}

fn ledger(dir: &Path) -> (Ledger<SqliteStore>, Arc<Names>) {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).expect("store opens");
    let names = Arc::new(Names::open(&store).expect("names"));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let config = LedgerConfig::default();
    let ledger = Ledger::open_sealing(store, signer(), config, clock, Arc::clone(&names))
        .expect("ledger opens");
    (ledger, names)
}

fn principal(i: usize) -> String {
    format!("user:crash-{:03}", i % PRINCIPALS)
}

fn event(json: String) -> Event {
    Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// Each principal rates the next, promises the seventh after it something and has its promise
/// settled by it; every event has a note.
fn setup(dir: &Path) {
    let (mut ledger, _) = ledger(dir);
    let at = Time::from_micros(NOW - 3_600_000_000).expect("time");
    let due = Time::from_micros(NOW + 86_400_000_000).expect("time");
    let mut events = Vec::new();
    for i in 0..PRINCIPALS {
        let (me, next, far) = (principal(i), principal(i + 1), principal(i + 7));
        events.push(event(format!(
            r#"{{"kind":"rating","at":"{at}","rater":"{me}","subject":"{next}","value":0.5,"note":"{me} rates {next}"}}"#
        )));
        events.push(event(format!(
            r#"{{"kind":"promise","at":"{at}","id":"deal-{i}","promisor":"{me}","promisee":"{far}","scope":"work","stake":5,"due":"{due}","note":"{me} promises {far}"}}"#
        )));
        events.push(event(format!(
            r#"{{"kind":"outcome","at":"{at}","promise":"deal-{i}","result":"kept","note":"{far} settles the promise of {me}"}}"#
        )));
    }
    let appended = ledger.append(events).expect("setup");
    assert_eq!(
        appended.recorded(),
        3 * PRINCIPALS,
        "{:?}",
        appended.results
    );
}

/// The child: forgets the principals still known, in order of id, until killed.
fn child(dir: &Path) -> ! {
    let (mut ledger, names) = ledger(dir);
    println!("ready");
    loop {
        let mut known = ledger.store().principals().expect("principals");
        known.sort_by(|a, b| a.id.cmp(&b.id));
        let Some(next) = known.first() else {
            println!("done");
            std::thread::sleep(Duration::from_secs(3600));
            std::process::exit(0);
        };
        let reason = ErasureReason::Request;
        let erased = forget::erase(ledger.store_mut(), &names, &next.id, reason).expect("erase");
        let pseudonym = erased.pseudonym.expect("a pseudonym");
        println!("erased {}", next.id);
        let entry = forget::erasure_event(&pseudonym, reason, now()).expect("entry");
        let appended = ledger.append(vec![entry]).expect("append");
        assert!(appended.results[0].is_ok(), "{:?}", appended.results);
        forget::finish(ledger.store_mut(), &names, &pseudonym).expect("finish");
        println!("forgot {}", next.id);
    }
}

/// What the setup wrote: each principal's pseudonym, and for each entry the pseudonyms it is
/// about (those it names; for an outcome, also those its promise names) and how many openings
/// it has.
struct Setup {
    pseudonyms: HashMap<String, String>,
    entries: Vec<(u64, BTreeSet<Id>, usize)>,
}

fn read_setup(store: &SqliteStore) -> Setup {
    let pseudonyms = (store.principals().expect("principals").into_iter())
        .map(|r| (r.id, r.pseudonym))
        .collect();
    let mut promised: HashMap<Id, Vec<Id>> = HashMap::new();
    let mut entries = Vec::new();
    store
        .scan(0, u64::MAX, &mut |entry| {
            let event = decode_entry(&entry)?;
            let mut about: BTreeSet<Id> = seal::principals(&event).into_iter().cloned().collect();
            match &event.body {
                Body::Promise { id, .. } => {
                    promised.insert(id.clone(), about.iter().cloned().collect());
                }
                Body::Outcome { promise, .. } => about.extend(promised[promise].iter().cloned()),
                _ => {}
            }
            let openings = store.openings(entry.index, entry.index + 1)?.len();
            entries.push((entry.index, about, openings));
            Ok(())
        })
        .expect("scan");
    Setup {
        pseudonyms,
        entries,
    }
}

/// The pseudonyms that erasure entries in the log name.
fn logged_erasures(store: &SqliteStore) -> HashSet<String> {
    let mut logged = HashSet::new();
    store
        .scan(0, u64::MAX, &mut |entry| {
            if let Body::Erasure { principal, .. } = decode_entry(&entry)?.body {
                logged.insert(principal.as_str().to_owned());
            }
            Ok(())
        })
        .expect("scan");
    logged
}

/// After a kill: every principal erased entirely or not at all, and each erased one pending or
/// with its erasure entry in the log. Returns the pseudonyms erased and how many are pending.
fn check_all_or_nothing(store: &SqliteStore, setup: &Setup, round: usize) -> (HashSet<Id>, usize) {
    let known: HashSet<String> = (store.principals().expect("principals").into_iter())
        .map(|r| r.id)
        .collect();
    let erased: HashSet<Id> = (setup.pseudonyms.iter())
        .filter(|(id, _)| !known.contains(*id))
        .map(|(_, p)| Id::parse("p", p).expect("pseudonym"))
        .collect();
    for (index, about, openings) in &setup.entries {
        let left = store.openings(*index, index + 1).expect("openings").len();
        let want = if about.iter().any(|p| erased.contains(p)) {
            0
        } else {
            *openings
        };
        assert_eq!(
            left, want,
            "round {round}: entry {index} (about {about:?}) has {left} openings of {openings}"
        );
    }
    let pending: HashSet<String> = (store.pending_erasures().expect("pending").into_iter())
        .map(|p| p.pseudonym)
        .collect();
    let logged = logged_erasures(store);
    for (id, p) in &setup.pseudonyms {
        let gone = !known.contains(id);
        assert_eq!(
            gone,
            pending.contains(p) || logged.contains(p),
            "round {round}: {id} ({p}) erased: {gone}, pending or logged: not so"
        );
    }
    (erased, pending.len())
}

/// Finishes what a kill cut short, as `stepwise forget` or a server's start does, and checks
/// that nothing is pending and every erased principal has its erasure entry.
fn recover(dir: &Path, erased: &HashSet<Id>, round: usize) {
    let (mut ledger, names) = ledger(dir);
    for (pseudonym, entry) in forget::pending(ledger.store(), now()).expect("pending") {
        let appended = ledger.append(vec![entry]).expect("append");
        assert!(appended.results[0].is_ok(), "{:?}", appended.results);
        forget::finish(ledger.store_mut(), &names, &pseudonym).expect("finish");
    }
    let store = ledger.store();
    assert_eq!(store.pending_erasures().expect("pending"), []);
    let logged = logged_erasures(store);
    for p in erased {
        assert!(
            logged.contains(p.as_str()),
            "round {round}: {p} has no erasure entry"
        );
        assert!(
            names.is_forgotten(p.as_str()),
            "round {round}: {p} is still known"
        );
    }
    let report = verify(store, &signer().verifier(), ledger.config(), &mut |_| {}).expect("runs");
    assert!(report.is_ok(), "round {round}: {:?}", report.problems);
    assert_eq!(
        report.unopened, 0,
        "round {round}: every missing opening is an erasure's"
    );
}

/// When the parent kills the child.
enum Kill {
    /// This long after it is ready.
    After(Duration),
    /// As soon as it says it erased this many principals: between the erasure and its entry,
    /// or a little later.
    AtErasure(usize),
}

/// Runs the child until it is ready, lets it forget until `kill` says, and kills it; returns
/// how many forgets it finished.
fn run_and_kill(exe: &str, dir: &Path, kill: Kill) -> usize {
    let mut child = Command::new(exe)
        .arg("child")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(60));
    assert_eq!(
        ready.as_deref().ok(),
        Some("ready"),
        "the child did not start"
    );
    let mut seen: Vec<String> = Vec::new();
    match kill {
        Kill::After(pause) => std::thread::sleep(pause),
        Kill::AtErasure(n) => {
            while seen.iter().filter(|l| l.starts_with("erased ")).count() < n {
                seen.push(
                    rx.recv_timeout(Duration::from_secs(60))
                        .expect("the child erases"),
                );
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    reader.join().expect("reader");
    seen.extend(rx.try_iter());
    seen.iter().filter(|l| l.starts_with("forgot ")).count()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(Path::new(&args[2]));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let setup = read_setup(&SqliteStore::open(&dir.path().join("ledger.sqlite")).expect("store"));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    println!("forget crash test: seed {seed}, {ROUNDS} rounds");
    let mut random = move |hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % hi
    };
    let started = Instant::now();
    let (mut finished, mut cut_short, mut erased) = (0, 0, HashSet::new());
    for round in 0..ROUNDS {
        let kill = if round % 2 == 0 {
            Kill::After(Duration::from_millis(random(80)))
        } else {
            Kill::AtErasure(1 + random(3) as usize)
        };
        finished += run_and_kill(&args[0], dir.path(), kill);
        let store = SqliteStore::open(&dir.path().join("ledger.sqlite")).expect("store reopens");
        let (now_erased, pending) = check_all_or_nothing(&store, &setup, round);
        assert!(
            now_erased.is_superset(&erased),
            "round {round}: a principal came back"
        );
        cut_short += usize::from(pending > 0);
        drop(store);
        recover(dir.path(), &now_erased, round);
        erased = now_erased;
        if erased.len() == PRINCIPALS {
            break;
        }
    }
    assert!(!erased.is_empty(), "no principal was forgotten");
    println!(
        "forget crash test: {} principals forgotten ({finished} acknowledged), {cut_short} kills \
         left an erasure pending, {:.1} s",
        erased.len(),
        started.elapsed().as_secs_f64()
    );
    println!("1 passed, 0 failed");
}
