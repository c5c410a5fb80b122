//! `stepwise log …`: checkpoints, entries, proofs and full verification.
//!
//! Everything printed here can be checked without stepwise: hashes are hex, canonical bytes are
//! base64 in JSON, and the checkpoint is the exact signed note text.

use crate::output::{Out, hex};
use anyhow::Result;
use base64::Engine as _;
use clap::Subcommand;
use stepwise_api::{ConsistencyView, InclusionView};
use stepwise_store::LogStore as _;
use stepwise_store::data_dir::DataDir;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Print the latest signed checkpoint (C2SP signed note), exactly as signed.
    Checkpoint,
    /// Print one entry: its canonical bytes, leaf hash and decoded event.
    Get {
        /// The entry's index, from 0.
        index: u64,
        /// Also the event opened: principals by their ids, and the note, signature and promise
        /// id its commitments hide (format 3; erased ones are listed).
        #[arg(long)]
        open: bool,
    },
    /// Print a Merkle proof.
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Recompute every hash from the stored entries and check it against every signed
    /// checkpoint. Exit 0 when consistent, 1 when tampering is found.
    Verify {
        /// The log's verifier key (text, or a file holding it); default: the data directory's log.pub.
        #[arg(long)]
        key: Option<String>,
        /// The PostgreSQL store (default: the data directory's SQLite file).
        #[arg(long, env = "STEPWISE_STORE")]
        store: Option<String>,
    },
    /// Follow a log through its tiles API (of this or any server): check each new
    /// checkpoint's signature (and its witnesses' quorum), that it extends the last one and
    /// that every entry hashes to the tiles and the root; report entries naming a pseudonym.
    /// Exit 1 at the first misbehaviour.
    Monitor(crate::monitor::MonitorArgs),
}

/// Entry `index` (its canonical bytes `bytes`) opened: principals by their ids, the hidden
/// fields from their openings; and which hidden fields are erased.
fn opened(
    store: &stepwise_store::SqliteStore,
    names: &stepwise_store::names::Names,
    index: u64,
    bytes: &[u8],
) -> Result<(serde_json::Value, Vec<String>)> {
    use stepwise_store::PrivateStore as _;
    let openings: Vec<_> = store
        .openings(index, index + 1)?
        .into_iter()
        .map(|o| o.opening)
        .collect();
    let opened = stepwise_store::names::open_entry(bytes, &openings);
    let text = names.open_json(&opened.event.to_string()).into_owned();
    let erased = opened.erased.iter().map(|f| (*f).to_owned()).collect();
    Ok((serde_json::from_str(&text)?, erased))
}

#[derive(Subcommand)]
pub enum ProofCommand {
    /// Proof that entry INDEX is in the tree of SIZE entries.
    Inclusion {
        index: u64,
        /// Tree size (default: the current size).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Proof that the tree of OLD entries is a prefix of the tree of NEW entries.
    Consistency { old: u64, new: u64 },
}

pub fn run(data: &DataDir, cmd: LogCommand, out: &mut Out) -> Result<bool> {
    if let LogCommand::Verify { key, store } = cmd {
        return verify(data, key, store.as_deref(), out);
    }
    if let LogCommand::Monitor(args) = cmd {
        return crate::monitor::run(args, out);
    }
    // Reads only, from the store and its newest signed checkpoint: a ledger is not opened
    // (it would replay the whole log into its registry: minutes at 10^8 entries).
    let store = data.open_store()?;
    let cp = match store.latest_checkpoint()? {
        Some(cp) => cp,
        // A log no ledger has opened yet: opened once, it signs its first checkpoint.
        None => data
            .open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?
            .checkpoint()
            .clone(),
    };
    match cmd {
        LogCommand::Checkpoint => {
            out.emit(
                &serde_json::json!({
                    "origin": data.verifier()?.name(),
                    "size": cp.size,
                    "root": hex(&cp.root),
                    "note": cp.note,
                }),
                |w| write!(w, "{}", cp.note),
            )?;
        }
        LogCommand::Get { index, open } => {
            let entry = stepwise_store::ledger::entry_in(&store, index, cp.size)?;
            let text = String::from_utf8_lossy(&entry.bytes);
            let event: serde_json::Value =
                serde_json::from_slice(&entry.bytes).unwrap_or(serde_json::Value::Null);
            let mut json = serde_json::json!({
                "index": index,
                "bytes": base64::engine::general_purpose::STANDARD.encode(&entry.bytes),
                "leaf_hash": hex(&entry.leaf_hash),
                "event": event,
            });
            let opened = if open {
                let (store, names, _) = data.open_named()?;
                Some(opened(&store, &names, index, &entry.bytes)?)
            } else {
                None
            };
            if let Some((event, erased)) = &opened {
                json["opened"] = event.clone();
                json["erased"] = erased.clone().into();
            }
            out.emit(&json, |w| {
                writeln!(w, "index:     {index}")?;
                writeln!(w, "leaf hash: {}", hex(&entry.leaf_hash))?;
                writeln!(w, "bytes:     {text}")?;
                if let Some((event, erased)) = &opened {
                    writeln!(w, "opened:    {event}")?;
                    if !erased.is_empty() {
                        writeln!(
                            w,
                            "erased:    {} (its principal was forgotten)",
                            erased.join(", ")
                        )?;
                    }
                }
                Ok(())
            })?;
        }
        LogCommand::Proof(ProofCommand::Inclusion { index, size }) => {
            let p = stepwise_store::ledger::inclusion_proof_in(
                &store,
                index,
                size.unwrap_or(cp.size),
                cp.size,
            )?;
            let view = InclusionView::from(&p);
            out.emit(&serde_json::to_value(&view)?, |w| {
                writeln!(w, "entry {} in a tree of {} entries", view.index, view.size)?;
                writeln!(w, "leaf hash: {}", view.leaf_hash)?;
                writeln!(w, "root:      {}", view.root)?;
                write_proof(w, &view.proof)
            })?;
        }
        LogCommand::Proof(ProofCommand::Consistency { old, new }) => {
            let p = stepwise_store::ledger::consistency_proof_in(&store, old, new, cp.size)?;
            let view = ConsistencyView::from(&p);
            let mut json = serde_json::to_value(&view)?;
            // `root`, the newer root, as well: what a caller checking a checkpoint looks for.
            json["root"] = view.new_root.clone().into();
            out.emit(&json, |w| {
                writeln!(
                    w,
                    "tree of {} entries is a prefix of the tree of {}",
                    view.old_size, view.new_size
                )?;
                writeln!(w, "old root:  {}", view.old_root)?;
                writeln!(w, "new root:  {}", view.new_root)?;
                write_proof(w, &view.proof)
            })?;
        }
        LogCommand::Verify { .. } | LogCommand::Monitor(_) => unreachable!("handled above"),
    }
    Ok(true)
}

/// A proof's hashes, one line each, in order.
fn write_proof(w: &mut dyn std::io::Write, proof: &[String]) -> std::io::Result<()> {
    for (i, h) in proof.iter().enumerate() {
        writeln!(w, "proof[{i}]:  {h}")?;
    }
    Ok(())
}

fn verify(data: &DataDir, key: Option<String>, store: Option<&str>, out: &mut Out) -> Result<bool> {
    let verifier = match key {
        None => data.verifier()?,
        Some(text) => crate::witness::log_key(&text, "--key")?,
    };
    let store: Box<dyn stepwise_store::Store> = match store {
        Some(url) => crate::serve::open_store(data, Some(url))?,
        None => Box::new(data.open_store()?),
    };
    // The operators as the log names them; nothing is opened or created.
    let names = stepwise_store::names::Names::open(&*store)?;
    let policy = data.policy()?.renamed(&|id| names.name(id));
    let bar = crate::output::spinner();
    let report = stepwise_store::verify(&*store, &verifier, &policy.ledger, &mut |n| {
        bar.set_message(format!("{n} entries verified"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    let problems: Vec<serde_json::Value> = report
        .problems
        .iter()
        .map(|p| serde_json::json!({"index": p.index, "message": p.message}))
        .collect();
    out.emit(
        &serde_json::json!({
            "ok": report.is_ok(),
            "entries": report.entries,
            "checkpoints": report.checkpoints,
            "problems": problems,
            "more_problems": report.more_problems,
            "openings_checked": report.openings_checked,
            "erased": report.erased,
            "unopened": report.unopened,
        }),
        |w| {
            if report.is_ok() {
                writeln!(
                    w,
                    "ok: {} entries and {} signed checkpoints verified",
                    report.entries, report.checkpoints
                )?;
                if report.openings_checked + report.erased + report.unopened > 0 {
                    writeln!(
                        w,
                        "openings: {} checked against their commitments, {} erased (their principal was forgotten), {} not kept here",
                        report.openings_checked, report.erased, report.unopened
                    )?;
                }
                return Ok(());
            }
            writeln!(
                w,
                "TAMPERED: {} problems in {} entries",
                report.problems.len() as u64 + report.more_problems,
                report.entries
            )?;
            for p in &report.problems {
                match p.index {
                    Some(i) => writeln!(w, "entry {i}: {}", p.message)?,
                    None => writeln!(w, "{}", p.message)?,
                }
            }
            Ok(())
        },
    )?;
    Ok(report.is_ok())
}
