//! `stepwise policy apply [FILE]`: puts a policy in force. The file is checked as the server
//! would load it, becomes the data directory's `stepwise.toml`, and the log records it (its
//! text kept beside the log, a `policy` entry with its SHA-256): from that entry on, answers
//! are decided under it and cite it, and replays of earlier log sizes keep the policy they had.

use crate::output::Out;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use std::path::PathBuf;
use stepwise::policy::Policy;
use stepwise_store::data_dir::DataDir;

/// `stepwise policy …`
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file, make it the data directory's policy, and record it in the log
    /// (nothing is written when the file is refused; nothing is appended when the log already
    /// records it).
    Apply {
        /// The policy to apply (default: the data directory's own `stepwise.toml`, as edited).
        file: Option<PathBuf>,
    },
}

/// Runs a `policy` subcommand.
pub fn run(data: &DataDir, cmd: PolicyCommand, out: &mut Out) -> Result<bool> {
    match cmd {
        PolicyCommand::Apply { file } => apply(data, file, out),
    }
}

fn apply(data: &DataDir, file: Option<PathBuf>, out: &mut Out) -> Result<bool> {
    let path = file.unwrap_or_else(|| data.policy_path());
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the policy {}", path.display()))?;
    Policy::from_toml(&text).with_context(|| format!("{} is refused", path.display()))?;
    if !data.is_initialized() {
        data.init(None, &[])?;
    }
    let (recorded, entry, sha256) = put_in_force(data, &text, path != data.policy_path())?;
    out.emit(
        &serde_json::json!({
            "policy": data.policy_path(),
            "sha256": sha256,
            "policy_entry": entry,
            "recorded": recorded,
        }),
        |w| {
            if recorded {
                writeln!(
                    w,
                    "policy {sha256} recorded at entry {entry}; in force from there on"
                )
            } else {
                writeln!(
                    w,
                    "policy {sha256} already in force: entry {entry} records it"
                )
            }
        },
    )?;
    Ok(true)
}

/// Makes `text` (a policy already checked) the data directory's policy — written whole, then
/// renamed over the old one, when `write` — and records it in the log. Whether an entry was
/// appended (not when the log's last policy is this one), and the entry that records it with
/// its SHA-256.
fn put_in_force(data: &DataDir, text: &str, write: bool) -> Result<(bool, u64, String)> {
    if write {
        // Never half a policy.
        let staged = data.path().join("stepwise.toml.new");
        std::fs::write(&staged, text)
            .and_then(|()| std::fs::rename(&staged, data.policy_path()))
            .with_context(|| format!("writing {}", data.policy_path().display()))?;
    }
    let mut ledger = data.open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?;
    let recorded = ledger.record_policy(text)?;
    let (entry, sha256) = ledger
        .last_policy()
        .map(|(i, s)| (i, s.to_owned()))
        .context("the log records no policy after recording one")?;
    Ok((recorded.is_some(), entry, sha256))
}

/// Writes `pin = "<sha256>"` in `[gate.tools."<name>"]` of the data directory's policy and
/// puts it in force: the operator's acceptance of a tool's changed definition, recorded in the
/// log by the policy entry (its text kept beside the log). The policy entry's index, or `None`
/// when the policy names no such tool (a tool it does not name is refused anyway).
pub fn pin_tool(data: &DataDir, name: &str, sha256: &str) -> Result<Option<u64>> {
    let path = data.policy_path();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the policy {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let tool = (doc.get_mut("gate"))
        .and_then(|g| g.get_mut("tools"))
        .and_then(|t| t.get_mut(name))
        .and_then(toml_edit::Item::as_table_like_mut);
    let Some(tool) = tool else {
        return Ok(None);
    };
    tool.insert("pin", toml_edit::value(sha256));
    let text = doc.to_string();
    Policy::from_toml(&text)
        .with_context(|| format!("{} with the pin is refused", path.display()))?;
    let (_, entry, _) = put_in_force(data, &text, true)?;
    Ok(Some(entry))
}
