//! A decision receipt with 20 cited entries and its policy entry, built from a SQLite log of
//! Epinions' size (841,372 entries of the benches' mix, format 3) and verified with the log's
//! key alone, against the limits the issue sets: built in ≤ 2 ms p50, verified in ≤ 5 ms.
//!
//! ```text
//! cargo run --release -p stepwise-store --example receipt_bench -- [ENTRIES] [ROUNDS] [witnessed]
//! ```
//!
//! `witnessed`: the checkpoint carries the cosignatures of two witnesses, one ML-DSA-44 and one
//! Ed25519 (as a receipt of a witnessed log does), and verifying also checks their quorum.
//!
//! Each round picks 21 entries at random (the first standing for the policy entry), reads
//! their bytes and inclusion proofs against the latest checkpoint, signs the decision, and
//! then verifies the whole receipt. Printed: the median and 90th percentile of each, and each
//! median as a share of its limit. docs/BENCHMARKS.md has the figures.

#[path = "../benches/common/mix.rs"]
mod mix;

use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::receipt::Receipt;
use stepwise::ledger::{LedgerConfig, SystemClock};
use stepwise_store::names::Names;
use stepwise_store::receipt::tlog_proofs;
use stepwise_store::{Ledger, LogStore as _, SqliteStore};

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args.next().map_or(Ok(841_372), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(500), |a| a.parse())?;
    let witnessed = args.next().as_deref() == Some("witnessed");
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("ledger.sqlite"))?;
    let signer = LogSigner::from_seed("bench.example/log", [3; 32])?;
    let names = Arc::new(Names::open(&store)?);
    let mut ledger = Ledger::open_sealing(
        store,
        signer.clone(),
        LedgerConfig::default(),
        Arc::new(SystemClock),
        names,
    )?;
    let started = Instant::now();
    let mut stream = mix::Mix::new();
    while ledger.size() < entries {
        let batch = (entries - ledger.size()).min(5_000);
        ledger.append(stream.batch(batch))?;
    }
    eprintln!(
        "{} entries appended in {:.1} s",
        ledger.size(),
        started.elapsed().as_secs_f64()
    );
    let mut checkpoint = ledger.checkpoint().clone();
    let verifier = signer.verifier();
    let policy = if witnessed {
        let (note, policy) = cosigned(&checkpoint.note)?;
        checkpoint.note = note;
        Some(policy)
    } else {
        None
    };
    let (mut build, mut verify) = (Vec::new(), Vec::new());
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..rounds {
        let mut indexes: Vec<u64> = (0..21)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % checkpoint.size
            })
            .collect();
        indexes[1..].sort_unstable();
        indexes.dedup();
        let decision = serde_json::json!({"subject": "user:1", "capability": "act:low",
            "stake": 50.0, "allowed": true, "at": "2026-12-06T12:00:00Z",
            "log_size": checkpoint.size, "policy_entry": indexes[0],
            "evidence": indexes[1..].to_vec()});
        let t = Instant::now();
        let proofs = tlog_proofs(ledger.store(), &indexes, &checkpoint)?;
        let receipt = Receipt::new(decision, &signer, &proofs)?;
        let text = serde_json::to_vec(&receipt)?;
        build.push(t.elapsed());
        let t = Instant::now();
        let read: Receipt = serde_json::from_slice(&text)?;
        let checked = read.verify(&verifier);
        if let Some(policy) = &policy {
            read.verify_witnessed(&verifier, policy)
                .map_err(|f| format!("the quorum does not verify: {f:?}"))?;
        }
        verify.push(t.elapsed());
        // The stand-in for the policy entry is an ordinary entry: that one failure only.
        match checked {
            Ok(_) => {}
            Err(f) if f.len() == 1 && f[0].contains("is not a policy entry") => {}
            Err(f) => return Err(format!("the receipt does not verify: {f:?}").into()),
        }
    }
    let size = ledger.store().size()?;
    let verified = if witnessed {
        "verified with its witnesses' quorum"
    } else {
        "verified"
    };
    for (what, times, limit) in [("built", build, 2.0), (verified, verify, 5.0)] {
        let (p50, p90) = percentiles(times);
        println!(
            "receipt {what} (21 entries, log of {size}): p50 {:.3} ms, p90 {:.3} ms; p50 is {:.2} of the {limit} ms limit",
            p50 * 1e3,
            p90 * 1e3,
            p50 * 1e3 / limit
        );
    }
    Ok(())
}

/// The checkpoint `note` with the cosignatures of an ML-DSA-44 and an Ed25519 witness, and the
/// tlog-policy that requires both.
fn cosigned(
    note: &str,
) -> Result<(String, stepwise::ledger::witness_policy::WitnessPolicy), Failure> {
    use stepwise::ledger::cosign::{CosignerAlgorithm, CosignerKey};
    let body = &note[..note.find("\n\n").ok_or("no blank line")? + 1];
    let checkpoint = stepwise::ledger::note::Checkpoint::parse(body)?;
    let pq = CosignerKey::from_seed("pq.bench.example", CosignerAlgorithm::MlDsa44, [4; 32])?;
    let ed = CosignerKey::from_seed("ed.bench.example", CosignerAlgorithm::Ed25519, [5; 32])?;
    let mut cosigned = note.to_owned();
    for key in [&pq, &ed] {
        cosigned.push_str(
            &key.cosign(&checkpoint, 1_800_000_000)
                .ok_or("origin too long")?,
        );
    }
    let policy = format!(
        "witness PQ {}\nwitness ED {}\ngroup both all PQ ED\nquorum both\n",
        pq.verifier().encode(),
        ed.verifier().encode()
    );
    let policy = stepwise::ledger::witness_policy::WitnessPolicy::parse(policy.as_bytes())?;
    Ok((cosigned, policy))
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64();
    (at(0.5), at(0.9))
}
