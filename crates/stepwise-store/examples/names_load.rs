//! What the names cost to load: opens a data directory's SQLite store, loads its names (every
//! principal's id and pseudonym, every promise id's opening) as a server does at start-up, and
//! prints the time, the peak of the process's anonymous resident memory while loading (sampled
//! every 5 ms) and what stays resident after (`/proc/self/status`, Linux; the SQLite file's
//! mapped pages are not anonymous, so they are not counted).
//!
//! ```text
//! cargo run --release -p stepwise-store --example names_load -- DATA_DIR/ledger.sqlite
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use stepwise_store::SqliteStore;
use stepwise_store::names::Names;

/// The allocator of the `stepwise` binary.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A `/proc/self/status` figure in MiB (`RssAnon`: anonymous memory resident now).
fn mib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: names_load DATA_DIR/ledger.sqlite")?;
    let store = SqliteStore::open(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
    let before = mib("RssAnon:");
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    let started = Instant::now();
    let names = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(mib("RssAnon:").unwrap_or(0), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let names = Names::load(&store);
        done.store(true, Ordering::Relaxed);
        names
    })
    .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    println!(
        "{names:?}: loaded in {:.2} s; anonymous memory before {} MiB, peak {} MiB, after {} MiB",
        took.as_secs_f64(),
        before.unwrap_or(0),
        peak.load(Ordering::Relaxed)
            .max(mib("RssAnon:").unwrap_or(0)),
        mib("RssAnon:").unwrap_or(0),
    );
    Ok(())
}
