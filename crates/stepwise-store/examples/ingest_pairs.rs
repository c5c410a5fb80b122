//! Durable ingest of format 3 against format 2, measured in pairs: each round appends the next
//! batch of the same stream (benches/common/mix.rs) to a format-2 ledger and to a format-3
//! ledger, each in a SQLite file of its own, one after the other (which goes first alternates),
//! so that a noisy machine's slow moments fall on both alike. It prints the median time per
//! batch of each, the ratio of format 3's throughput to format 2's (of the medians), and the
//! median of the per-round ratios.
//!
//! ```text
//! cargo run --release -p stepwise-store --example ingest_pairs -- [ROUNDS] [BATCH]
//! ```
//!
//! Defaults: 400 rounds of 1,000 events, after 20 rounds of warm-up. docs/BENCHMARKS.md has the
//! figures.

#[path = "../benches/common/mix.rs"]
mod mix;

use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::{LedgerConfig, SystemClock};
use stepwise_store::names::Names;
use stepwise_store::{Ledger, SqliteStore};

const WARM_UP: usize = 20;

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

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut number = |name: &str, default: usize| -> Result<usize, String> {
        args.next().map_or(Ok(default), |a| {
            a.parse()
                .map_err(|_| format!("{name}: {a:?} is not a whole number"))
        })
    };
    let rounds = number("ROUNDS", 400)?;
    let batch = number("BATCH", 1000)?;
    if rounds == 0 || batch == 0 || batch > stepwise_store::MAX_BATCH {
        return Err(format!(
            "ROUNDS must be at least 1 and BATCH 1 to {}",
            stepwise_store::MAX_BATCH
        ));
    }
    let dirs = [tempdir()?, tempdir()?];
    let mut ledgers = [open(dirs[0].path(), false)?, open(dirs[1].path(), true)?];
    let mut streams = [mix::Mix::new(), mix::Mix::new()];
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..WARM_UP + rounds {
        let mut took = [Duration::ZERO; 2];
        for k in [round % 2, 1 - round % 2] {
            let events = streams[k].batch(batch as u64);
            let start = Instant::now();
            let appended = ledgers[k].append(events).map_err(|e| e.to_string())?;
            took[k] = start.elapsed();
            if appended.recorded() != batch {
                return Err(format!("round {round}: {:?}", appended.results));
            }
        }
        if round >= WARM_UP {
            for k in 0..2 {
                times[k].push(took[k].as_secs_f64());
            }
        }
    }
    let per_round: Vec<f64> = times[0].iter().zip(&times[1]).map(|(a, b)| a / b).collect();
    let [two, three] = [median(times[0].clone()), median(times[1].clone())];
    println!("{rounds} rounds of {batch} events, each format in its own SQLite file");
    println!(
        "format 2: median {:9.3} ms per batch, {:10.0} events/s",
        two * 1e3,
        batch as f64 / two
    );
    println!(
        "format 3: median {:9.3} ms per batch, {:10.0} events/s",
        three * 1e3,
        batch as f64 / three
    );
    println!(
        "format 3 / format 2 throughput, of the medians: {:.3}",
        two / three
    );
    println!(
        "format 3 / format 2 throughput, median of the rounds: {:.3}",
        median(per_round)
    );
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))
}
