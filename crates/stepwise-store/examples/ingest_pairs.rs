//! Durable ingest of format 3 against format 2, measured side by side: each round appends the
//! next stretch of batches of the same stream (benches/common/mix.rs) to four ledgers, each in
//! a SQLite file of its own, one after the other (which goes first rotates), so that a noisy
//! machine's slow moments fall on all alike: format 2 and format 3, each one batch at a time
//! (`Ledger::append`) and pipelined (`Ledger::append_stream`, which writes one batch while it
//! prepares the next). It prints the median time per batch of each, and the ratios of
//! throughput (of the medians, and the median of the per-round ratios).
//!
//! ```text
//! cargo run --release -p stepwise-store --example ingest_pairs -- [ROUNDS] [BATCH] [STRETCH]
//! ```
//!
//! Defaults: 200 rounds of 8 batches of 1,000 events, after 5 rounds of warm-up.
//! docs/BENCHMARKS.md has the figures.

#[path = "../benches/common/mix.rs"]
mod mix;

use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise::evidence::Event;
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, Origin, SystemClock};
use stepwise_store::names::Names;
use stepwise_store::{Ledger, SqliteStore};

/// The allocator of the `stepwise` binary, whose appends this measures.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const WARM_UP: usize = 5;

/// The four ways measured, in the order printed.
const WAYS: [(&str, bool, bool); 4] = [
    ("format 2, one batch at a time", false, false),
    ("format 3, one batch at a time", true, false),
    ("format 2, pipelined", false, true),
    ("format 3, pipelined", true, true),
];

fn open(dir: &std::path::Path, sealing: bool) -> Result<Ledger<SqliteStore>, String> {
    let store = SqliteStore::open(&dir.join("ledger.sqlite")).map_err(|e| e.to_string())?;
    let signer = LogSigner::from_seed("bench.example/log", [1; 32]).map_err(|e| e.to_string())?;
    let (config, clock) = (LedgerConfig::default(), Arc::new(SystemClock));
    let ledger = if sealing {
        let names = Arc::new(Names::open(&store).map_err(|e| e.to_string())?);
        Ledger::open_sealing(store, signer, config, clock, names)
    } else {
        Ledger::open(store, signer, config, clock)
    };
    ledger.map_err(|e| e.to_string())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Appends `stretch` to `ledger`, pipelined or one batch at a time; how long it took.
fn append(
    ledger: &mut Ledger<SqliteStore>,
    stretch: Vec<Vec<Event>>,
    pipelined: bool,
) -> Result<Duration, String> {
    let expected: usize = stretch.iter().map(Vec::len).sum();
    let mut recorded = 0;
    let start = Instant::now();
    if pipelined {
        let mut batches = stretch.into_iter();
        ledger
            .append_stream(Origin::Live, &mut || batches.next(), &mut |a| {
                recorded += a.recorded()
            })
            .map_err(|e| e.to_string())?;
    } else {
        for batch in stretch {
            recorded += ledger.append(batch).map_err(|e| e.to_string())?.recorded();
        }
    }
    let took = start.elapsed();
    if recorded != expected {
        return Err(format!("{recorded} of {expected} events recorded"));
    }
    Ok(took)
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut number = |name: &str, default: usize| -> Result<usize, String> {
        args.next().map_or(Ok(default), |a| {
            a.parse()
                .map_err(|_| format!("{name}: {a:?} is not a whole number"))
        })
    };
    let rounds = number("ROUNDS", 200)?;
    let batch = number("BATCH", 1000)?;
    let stretch = number("STRETCH", 8)?;
    if rounds == 0 || stretch == 0 || batch == 0 || batch > stepwise_store::MAX_BATCH {
        return Err(format!(
            "ROUNDS and STRETCH must be at least 1 and BATCH 1 to {}",
            stepwise_store::MAX_BATCH
        ));
    }
    let dirs = [tempdir()?, tempdir()?, tempdir()?, tempdir()?];
    let mut ledgers = Vec::new();
    for (dir, (_, sealing, _)) in dirs.iter().zip(WAYS) {
        ledgers.push(open(dir.path(), sealing)?);
    }
    let mut streams = [(); 4].map(|()| mix::Mix::new());
    let mut times: [Vec<f64>; 4] = Default::default();
    for round in 0..WARM_UP + rounds {
        for turn in 0..4 {
            let k = (round + turn) % 4;
            let batches = (0..stretch)
                .map(|_| streams[k].batch(batch as u64))
                .collect();
            let took = append(&mut ledgers[k], batches, WAYS[k].2)
                .map_err(|e| format!("round {round}, {}: {e}", WAYS[k].0))?;
            if round >= WARM_UP {
                times[k].push(took.as_secs_f64() / stretch as f64);
            }
        }
    }
    println!(
        "{rounds} rounds of {stretch} batches of {batch} events, each way in its own SQLite file"
    );
    let medians: Vec<f64> = times.iter().map(|t| median(t.clone())).collect();
    for ((name, ..), m) in WAYS.iter().zip(&medians) {
        println!(
            "{name:31}: median {:8.3} ms a batch, {:9.0} events/s",
            m * 1e3,
            batch as f64 / m
        );
    }
    let ratio = |of: usize, to: usize, what: &str| {
        let rounds: Vec<f64> = times[to]
            .iter()
            .zip(&times[of])
            .map(|(a, b)| a / b)
            .collect();
        println!(
            "{what:58}: {:.3} (median of the rounds {:.3})",
            medians[to] / medians[of],
            median(rounds)
        );
    };
    println!("throughput ratios, of the medians:");
    ratio(1, 0, "format 3 / format 2, one batch at a time");
    ratio(3, 2, "format 3 / format 2, both pipelined");
    ratio(3, 0, "format 3 pipelined / format 2 one batch at a time");
    ratio(2, 0, "format 2 pipelined / format 2 one batch at a time");
    ratio(3, 1, "format 3 pipelined / format 3 one batch at a time");
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))
}
