//! Crash test: a child process appends in a loop and is killed with SIGKILL at random moments,
//! one batch at a time in even rounds and pipelined (`Ledger::append_stream`) in odd ones.
//! After every kill the store must open, verify, and hold every event whose append was
//! acknowledged, exactly as sent.
//!
//! This is a `harness = false` test: run with no arguments it is the parent; the parent runs this
//! same executable with `child DIR` to get an appender it can kill.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use stepwise::evidence::{Body, Event, Id, Stamp, Time};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{Clock, LedgerConfig, ManualClock, Origin};
use stepwise_store::{Ledger, verify};
use stepwise_store::{LogStore as _, SqliteStore};

const ROUNDS: usize = 30;

/// What the ledger's clock reads: a day after the first event, so every event lies within the
/// window, and every entry is stamped with this time.
const NOW: i64 = 1_700_086_400_000_000;

fn clock() -> std::sync::Arc<dyn Clock> {
    std::sync::Arc::new(ManualClock::new(Time::from_micros(NOW).expect("time")))
}

fn signer() -> LogSigner {
    LogSigner::from_seed("crash.test/log", [42; 32]).expect("signer")
}

/// The event with global number `n`: the parent can rebuild it to compare with what is stored.
fn rating(n: u64) -> Event {
    Event {
        at: Time::from_micros(1_700_000_000_000_000 + n as i64 * 1_000).expect("time"),
        author: None,
        body: Body::Rating {
            rater: Id::parse("rater", &format!("r{}", n % 97)).expect("id"),
            subject: Id::parse("subject", &format!("s{n}")).expect("id"),
            value: ((n % 21) as f64 - 10.0) / 10.0,
            scope: None,
        },
        note: None,
        sig: None,
        stamp: None,
        seal: None,
    }
}

fn child(dir: &Path, pipelined: bool) -> ! {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).expect("store opens");
    let mut ledger =
        Ledger::open(store, signer(), LedgerConfig::default(), clock()).expect("ledger opens");
    // Acknowledge only after the append said so: the batch is durable now.
    let ack = |last: u64| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{last}").expect("ack");
        out.flush().expect("ack");
    };
    let sizes = [1u64, 7, 100, 1];
    let mut round = 0u64;
    let mut next = ledger.size();
    if pipelined {
        let mut batches = || {
            let batch = sizes[(round % 4) as usize];
            round += 1;
            next += batch;
            Some((next - batch..next).map(rating).collect())
        };
        ledger
            .append_stream(Origin::Live, &mut batches, &mut |appended| {
                let last = appended.results.last().cloned();
                ack(last.expect("a batch").expect("recorded"));
            })
            .expect("append");
        unreachable!("the batches never end");
    }
    loop {
        let batch = sizes[(round % 4) as usize];
        round += 1;
        let events: Vec<Event> = (next..next + batch).map(rating).collect();
        let appended = ledger.append(events).expect("append");
        assert_eq!(appended.recorded() as u64, batch);
        next += batch;
        ack(next - 1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(Path::new(&args[2]), args.get(3).is_some());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    println!("crash test: seed {seed}, {ROUNDS} rounds");
    let mut random = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let mut acked: Option<u64> = None;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = Command::new(&args[0])
            .arg("child")
            .arg(dir.path())
            .args((round % 2 == 1).then_some("pipelined"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("child starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                // A line cut short by the kill was never a complete acknowledgement.
                if line.ends_with('\n')
                    && let Ok(index) = line.trim().parse::<u64>()
                {
                    let _ = tx.send(index);
                }
                line.clear();
            }
        });
        // Wait for the child to acknowledge something, then kill it at a random moment.
        let first_ack = rx.recv_timeout(Duration::from_secs(60));
        assert!(
            first_ack.is_ok(),
            "round {round}: the child acknowledged nothing in 60 s"
        );
        std::thread::sleep(Duration::from_millis(random(0, 60)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("reader");
        for index in first_ack.into_iter().chain(rx.try_iter()) {
            acked = acked.max(Some(index));
        }
        let acked = acked.expect("something was acknowledged");

        // The store opens, verifies, and holds every acknowledged event exactly as sent.
        let store = SqliteStore::open(&dir.path().join("ledger.sqlite")).expect("store reopens");
        let size = store.size().expect("size");
        assert!(
            size > acked,
            "round {round}: acknowledged entry {acked} is missing (size {size})"
        );
        let report = verify(
            &store,
            &signer().verifier(),
            &LedgerConfig::default(),
            &mut |_| {},
        )
        .expect("verify runs");
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
        assert_eq!(report.entries, size);
        store
            .scan(0, size, &mut |entry| {
                let mut want = rating(entry.index);
                want.author = want.natural_author().cloned();
                want.stamp = Some(Stamp {
                    recorded_at: Time::from_micros(NOW).expect("time"),
                    history: false,
                });
                assert_eq!(entry.bytes, want.canonical_bytes(), "entry {}", entry.index);
                Ok(())
            })
            .expect("scan");
        Ledger::open(store, signer(), LedgerConfig::default(), clock())
            .expect("the ledger reopens");
    }
    println!(
        "crash test: {ROUNDS} kills survived, {} entries acknowledged, {:.1} s",
        acked.map_or(0, |a| a + 1),
        started.elapsed().as_secs_f64()
    );
    println!("1 passed, 0 failed");
}
