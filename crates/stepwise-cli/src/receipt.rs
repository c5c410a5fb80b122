//! Decision receipts on the command line: `decide --receipt FILE` writes one, `receipt verify
//! FILE --log-key VKEY` checks one with the log's key alone — no server, no database.

use crate::output::Out;
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde_json::Value;
use std::path::{Path, PathBuf};
use stepwise::ledger::receipt::{Receipt, covering_size, resting_on};
use stepwise_store::data_dir::DataDir;
use stepwise_store::receipt::{replay_data, tlog_proofs};
use stepwise_store::{LogStore as _, WitnessedStore as _};

/// The largest receipt file read (a receipt of a decision citing 1,000 entries is about 1 MiB).
const MAX_RECEIPT_BYTES: u64 = 16 << 20;

/// `stepwise receipt …`
#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt with the log's key alone: the signature over the decision, every
    /// entry's inclusion proof and checkpoint, and that the proofs are the entries the
    /// decision rests on. Exit 0 verified, 1 not (each failure named), 2 unreadable input.
    Verify {
        /// The receipt (JSON, as `decide --receipt` or `POST /v1/decide` with `"receipt": true`
        /// wrote it).
        file: PathBuf,
        /// The log's verifier key (`<name>+<key id>+<key>`, as in `log.pub`), or a file holding it.
        #[arg(long, value_name = "VKEY")]
        log_key: String,
        /// A C2SP tlog-policy file: the checkpoint the proofs lead to must also be cosigned by
        /// a quorum of its witnesses.
        #[arg(long, value_name = "POLICY")]
        witnesses: Option<PathBuf>,
        /// Also re-derive the decision from the log itself, read through its tiles API at this
        /// URL (its tiles prefix, such as `http://127.0.0.1:7878/tlog`).
        #[arg(long, value_name = "URL")]
        replay: Option<String>,
        /// An API key for `--replay`, when the log's tiles are not public.
        #[arg(long, env = "STEPWISE_API_KEY", hide_env_values = true)]
        key: Option<String>,
    },
}

/// Runs a `receipt` subcommand.
pub fn run(cmd: ReceiptCommand, out: &mut Out) -> Result<bool> {
    match cmd {
        ReceiptCommand::Verify {
            file,
            log_key,
            witnesses,
            replay,
            key,
        } => {
            let replay = replay.map(|url| (url, key));
            verify(&file, &log_key, witnesses.as_deref(), replay, out)
        }
    }
}

/// Writes the receipt of `decision` (a decision's JSON as `decide --json` prints it, before its
/// names are opened) to `path`.
pub fn write(data: &DataDir, decision: &Value, path: &Path) -> Result<()> {
    let text = decision.to_string();
    let opened = match crate::output::names() {
        Some(names) => names.open_json(&text).into_owned(),
        None => text,
    };
    let receipt = build(data, serde_json::from_str(&opened)?)?;
    let staged = path.with_extension("receipt-partial");
    std::fs::write(&staged, serde_json::to_vec_pretty(&receipt)?)
        .and_then(|()| std::fs::rename(&staged, path))
        .with_context(|| format!("writing the receipt {}", path.display()))
}

/// The receipt of `decision` (a decision's JSON in ids): signed with the data directory's log
/// key, with the proofs of the entries it rests on against the latest checkpoint.
pub fn build(data: &DataDir, decision: Value) -> Result<Receipt> {
    let store = data.open_store()?;
    // The latest checkpoint the witnesses cosigned, when it covers the decision.
    let witnessed = store
        .latest_witnessed()?
        .filter(|w| w.size >= covering_size(&decision));
    let checkpoint = match witnessed {
        Some(witnessed) => witnessed,
        None => store
            .latest_checkpoint()?
            .context("the log has no checkpoint yet: nothing to prove")?,
    };
    let proofs = tlog_proofs(&store, &resting_on(&decision), &checkpoint)?;
    let names = stepwise_store::names::Names::open(&store)?;
    let replay = replay_data(&store, &names, &decision, &proofs)?;
    Ok(Receipt::with_replay(
        decision,
        replay,
        &data.signer()?,
        &proofs,
    )?)
}

fn verify(
    file: &Path,
    log_key: &str,
    witnesses: Option<&Path>,
    replay: Option<(String, Option<String>)>,
    out: &mut Out,
) -> Result<bool> {
    let log = crate::witness::log_key(log_key, "--log-key")?;
    let policy = witnesses.map(crate::witness::witness_policy).transpose()?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > MAX_RECEIPT_BYTES {
        bail!(
            "{}: {size} bytes; a receipt is at most {MAX_RECEIPT_BYTES}",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let receipt: Receipt = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a receipt", file.display()))?;
    let (mut ok, mut failures, checked) = match receipt.verify(&log) {
        Ok(v) => (true, Vec::new(), Some(v)),
        Err(failures) => (false, failures, None),
    };
    let cosigned = match policy.as_ref().map(|p| receipt.verify_witnessed(&log, p)) {
        None => None,
        Some(Ok(cosigned)) => Some(cosigned),
        Some(Err(more)) => {
            ok = false;
            failures.extend(more);
            None
        }
    };
    let replayed = match replay {
        Some((url, key)) if ok => {
            let problems =
                crate::replay::replay_receipt(&receipt, &log, policy.as_ref(), &url, key)?;
            ok = problems.is_empty();
            failures.extend(problems);
            Some(url)
        }
        _ => None,
    };
    let proved: Vec<u64> = checked
        .as_ref()
        .map(|v| v.entries.iter().map(|(i, _)| *i).collect())
        .unwrap_or_default();
    let d = &receipt.decision;
    out.emit(
        &serde_json::json!({
            "ok": ok,
            "failures": failures,
            "decision": d,
            "entries": proved,
            "checkpoint_size": checked.as_ref().map(|v| v.checkpoint_size),
            "log_key": log.encode(),
            "replayed_from": replayed.as_ref().filter(|_| ok),
            "witnessed": cosigned.as_ref().map(|c| c.iter().map(|w| serde_json::json!({
                "checkpoint_size": w.checkpoint.size,
                "cosigned_by": w.cosigned.iter()
                    .map(|(name, t)| serde_json::json!({"witness": name, "timestamp": t}))
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>()),
        }),
        |w| {
            if !ok {
                writeln!(w, "NOT VERIFIED: {} problem(s)", failures.len())?;
                for f in &failures {
                    writeln!(w, "  {f}")?;
                }
                return Ok(());
            }
            writeln!(
                w,
                "verified: {} {} {} at stake {} was {}",
                d["subject"].as_str().unwrap_or("?"),
                if d["allowed"] == true {
                    "may"
                } else {
                    "may not"
                },
                d["capability"].as_str().unwrap_or("?"),
                d["stake"],
                if d["allowed"] == true {
                    "ALLOWED"
                } else {
                    "DENIED"
                },
            )?;
            writeln!(
                w,
                "at {}, log size {}, under the policy of entry {}",
                d["at"].as_str().unwrap_or("?"),
                d["log_size"],
                d["policy_entry"]
            )?;
            writeln!(
                w,
                "entries proved: {proved:?}, in the tree the log's key signed at size {}",
                checked.as_ref().map_or(0, |v| v.checkpoint_size)
            )?;
            if let Some(url) = &replayed {
                writeln!(w, "replayed: the log at {url} re-derives this decision")?;
            }
            for witnessed in cosigned.iter().flatten() {
                let names: Vec<&str> = witnessed.cosigned.iter().map(|(n, _)| n.as_str()).collect();
                writeln!(
                    w,
                    "witnessed: the checkpoint of size {} is cosigned by {} (the quorum)",
                    witnessed.checkpoint.size,
                    names.join(", ")
                )?;
            }
            Ok(())
        },
    )?;
    Ok(ok)
}
