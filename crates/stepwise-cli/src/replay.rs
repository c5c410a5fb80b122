//! `stepwise receipt verify --replay URL`: the receipt's decision re-derived from the log
//! itself, read through its tiles API — nothing of the operator's but the public log. The
//! entries up to the served checkpoint are read and hashed to its root (signed, and cosigned
//! with `--witnesses`); the receipt's proved entries must be those entries; the prefix the
//! decision names is folded under the policy the receipt carries (its SHA-256 is the policy
//! entry's) with the principals renamed as the receipt's signed names say; the decision asked
//! again must come out the same.

use anyhow::{Context as _, Result, anyhow};
use serde_json::Value;
use std::time::Duration;
use stepwise::evidence::seal::PSEUDONYM_PREFIX;
use stepwise::evidence::{Id, Time};
use stepwise::ledger::note::LogVerifier;
use stepwise::ledger::policy_sha256;
use stepwise::ledger::receipt::{Receipt, TlogProof};
use stepwise::ledger::witness_policy::WitnessPolicy;
use stepwise::policy::Policy;
use stepwise_engine::question::{Decide, Policies, replay};
use stepwise_server::client::HttpClient;
use stepwise_store::names::Names;
use stepwise_store::replay::Prefix;
use stepwise_store::{Entry, LogStore as _, SqliteStore, StoredCheckpoint};

use crate::monitor::{Followed, Misbehaviour, read_checkpoint, read_entries};

/// The fields a replayed decision must share with the receipt's (the principals' names aside:
/// the replay knows them by the log's names).
const COMPARED: [&str; 11] = [
    "allowed",
    "capability",
    "stake",
    "level",
    "limit",
    "exposure",
    "retryable",
    "earliest_retry",
    "evidence",
    "log_size",
    "policy_entry",
];

/// Re-derives the receipt's decision from the log at `url` (its tiles prefix). `Ok(problems)`:
/// empty when the replay agrees; an error when the log could not be read.
pub fn replay_receipt(
    receipt: &Receipt,
    log: &LogVerifier,
    witnesses: Option<&WitnessPolicy>,
    url: &str,
    key: Option<String>,
) -> Result<Vec<String>> {
    let Some(data) = &receipt.replay else {
        return Ok(vec![
            "replay: the receipt carries no replay data (its policy and pseudonyms)".into(),
        ]);
    };
    let d = &receipt.decision;
    let log_size = d["log_size"]
        .as_u64()
        .context("the decision has no log_size")?;
    let client = HttpClient::new(Duration::from_secs(60)).with_bearer(key);
    let base = url.trim_end_matches('/').to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut entries: Vec<Entry> = Vec::new();
    let read = runtime.block_on(async {
        let (checkpoint, _) = read_checkpoint(&client, &base, log, witnesses).await?;
        if checkpoint.size < log_size {
            return Err(Misbehaviour::Alarm(format!(
                "the log serves a checkpoint of {} entries, fewer than the decision's {log_size}",
                checkpoint.size
            )));
        }
        let mut followed = Followed::new();
        read_entries(
            &client,
            &base,
            &mut followed,
            &checkpoint,
            |index, bytes, completed| {
                if index < log_size {
                    entries.push(Entry {
                        index,
                        bytes: bytes.to_vec(),
                        leaf_hash: stepwise::ledger::merkle::leaf_hash(bytes),
                        subtree_hashes: completed.to_vec(),
                    });
                }
            },
        )
        .await?;
        Ok(checkpoint)
    });
    let checkpoint = match read {
        Ok(checkpoint) => checkpoint,
        Err(Misbehaviour::Alarm(alarm)) => return Ok(vec![format!("replay: {alarm}")]),
        Err(Misbehaviour::Unreadable(e)) => return Err(e.context("replay: reading the log")),
    };
    let mut problems = Vec::new();
    for text in &receipt.proofs {
        let Ok(proof) = TlogProof::parse(text) else {
            continue;
        };
        let same = usize::try_from(proof.index)
            .ok()
            .and_then(|i| entries.get(i))
            .is_some_and(|e| e.bytes == proof.extra);
        if !same {
            problems.push(format!(
                "replay: entry {} of the log at {url} is not the receipt's entry {}",
                proof.index, proof.index
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(problems);
    }
    let again = decide_again(d, data, entries, checkpoint.root)?;
    for field in COMPARED {
        if d[field] != again[field] {
            problems.push(format!(
                "replay: {field} is {} in the receipt, {} re-derived from the log",
                d[field], again[field]
            ));
        }
    }
    let codes = |v: &Value| -> Vec<Value> {
        v["reasons"]
            .as_array()
            .map(|r| r.iter().map(|r| r["code"].clone()).collect())
            .unwrap_or_default()
    };
    if codes(d) != codes(&again) {
        problems.push(format!(
            "replay: the reasons are {:?} in the receipt, {:?} re-derived from the log",
            codes(d),
            codes(&again)
        ));
    }
    Ok(problems)
}

/// The decision asked again of a store holding `entries` (the prefix), under the receipt's
/// policy with its principals renamed as the log names them.
fn decide_again(
    d: &Value,
    data: &stepwise::ledger::receipt::ReplayData,
    entries: Vec<Entry>,
    root: stepwise::ledger::merkle::Hash,
) -> Result<Value> {
    let mut store = SqliteStore::in_memory()?;
    let size = entries.len() as u64;
    let checkpoint = StoredCheckpoint {
        size,
        root,
        note: String::new(),
    };
    store.append(0, &entries, &checkpoint)?;
    let named = |id: &Id| {
        data.pseudonyms
            .get(id.as_str())
            .and_then(|hex| Id::parse("pseudonyms", &format!("{PSEUDONYM_PREFIX}{hex}")).ok())
            .unwrap_or_else(|| id.clone())
    };
    let policy = Policy::from_toml(&data.policy)
        .map_err(|e| anyhow!("replay.policy: {e}"))?
        .renamed(&named);
    let sha256 = policy_sha256(&data.policy);
    let names = Names::load(&store)?;
    let id = |field: &str| -> Result<Option<Id>> {
        d[field]
            .as_str()
            .map(|s| Id::parse(field, s).map(|id| named(&id)))
            .transpose()
            .map_err(|e| anyhow!("decision.{field}: {e}"))
    };
    let at = Time::parse("at", d["at"].as_str().unwrap_or_default())
        .map_err(|e| anyhow!("decision.at: {e}"))?;
    let prefix = Prefix {
        log_size: Some(size),
        until: Some(at),
        rank_log_size: d["rank_log_size"].as_u64(),
    };
    let policies = Policies {
        current: &policy,
        sha256: &sha256,
        names: &names,
    };
    let (state, at) = replay(&store, policies, prefix, at, &mut |_| {})?;
    let question = Decide::new(
        id("subject")?.context("the decision has no subject")?,
        d["capability"].as_str().unwrap_or_default(),
        d["stake"].as_f64().unwrap_or(f64::NAN),
        id("truster")?,
        prefix,
    )?;
    Ok(serde_json::to_value(question.view(&state, at))?)
}
