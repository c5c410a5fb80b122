//! The log's side of C2SP tlog-witness: each new checkpoint is submitted to every witness of
//! `[witness] policy` with `add-checkpoint` (the old size each witness last cosigned and a
//! consistency proof from it), their cosignatures are checked and gathered, and a checkpoint
//! whose cosignatures meet the policy's quorum is kept and served as witnessed.
//!
//! It runs beside the writer, never on its path: an append is acknowledged when durable, and
//! its checkpoint is witnessed after (a receipt may wait for that, `[witness] receipt_wait`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use stepwise::ledger::merkle;
use stepwise::ledger::note::{LogVerifier, SignedNote};
use stepwise::ledger::witness::{AddCheckpoint, parse_size};
use stepwise::ledger::witness_policy::{Witness, WitnessPolicy};
use stepwise_store::{StoredCheckpoint, StoredTree};

use crate::ServeError;
use crate::app::App;
use crate::client::HttpClient;

/// How often the task looks for a new checkpoint.
const POLL: Duration = Duration::from_millis(100);
/// The longest pause after a round in which a witness failed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads the tlog-policy file `[witness] policy` names (relative to the data directory); every
/// witness in it needs a submission URL.
pub fn load_policy(data: &Path, file: &str) -> Result<WitnessPolicy, ServeError> {
    let path = data.join(file);
    let text = std::fs::read(&path).map_err(|e| {
        ServeError::Policy(format!(
            "witness.policy: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let policy = WitnessPolicy::parse(&text)
        .map_err(|e| ServeError::Policy(format!("{}: {e}", path.display())))?;
    if let Some(w) = policy.witnesses().iter().find(|w| w.url.is_none()) {
        return Err(ServeError::Policy(format!(
            "{}: witness {} has no URL, so its cosignatures cannot be asked for",
            path.display(),
            w.name
        )));
    }
    if policy.witnesses().is_empty() {
        return Err(ServeError::Policy(format!(
            "{}: names no witness to submit checkpoints to",
            path.display()
        )));
    }
    Ok(policy)
}

/// One witness, and the size it last cosigned as far as this server knows.
struct Peer {
    witness: Witness,
    /// `None` until its first answer: the first request says 0 and learns the size from a 409.
    cosigned: Option<u64>,
}

/// Submits checkpoints to the witnesses for as long as the server runs.
pub async fn run(app: Arc<App>, policy: WitnessPolicy, timeout: Duration) {
    let Ok(log) = LogVerifier::parse(app.engine.verifier_key()) else {
        tracing::error!("witnessing: the log's own verifier key does not parse");
        return;
    };
    let client = HttpClient::new(timeout);
    let mut peers: Vec<Peer> = policy
        .witnesses()
        .iter()
        .map(|w| Peer {
            witness: w.clone(),
            cosigned: None,
        })
        .collect();
    let mut done = app.engine.witnessed_size().unwrap_or(0);
    let mut backoff = POLL;
    let mut closing = app.closing.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = closing.changed() => return,
        }
        let checkpoint = app.engine.live().checkpoint();
        if checkpoint.size <= done {
            backoff = POLL;
            continue;
        }
        let answers = join_all(
            peers
                .iter_mut()
                .map(|peer| submit(&app, &client, peer, &checkpoint)),
        )
        .await;
        let mut note = checkpoint.note.clone();
        for line in answers.into_iter().flatten() {
            note.push_str(&line);
        }
        // A witness that failed is asked again with the next checkpoint; only a missed quorum
        // slows the rounds down.
        let met = match policy.verify(Some(&log), &note) {
            Ok(_) => {
                let witnessed = StoredCheckpoint { note, ..checkpoint };
                let size = witnessed.size;
                match app.engine.put_witnessed(witnessed).await {
                    Ok(()) => {
                        done = size;
                        true
                    }
                    Err(e) => {
                        tracing::warn!("witnessing: keeping checkpoint {size}: {e}");
                        false
                    }
                }
            }
            Err(e) => {
                tracing::warn!("witnessing: checkpoint {}: {e}", checkpoint.size);
                false
            }
        };
        backoff = if !met {
            (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF)
        } else {
            POLL
        };
    }
}

/// Submits `checkpoint` to one witness: its cosignature line, checked, or `None` (logged).
async fn submit(
    app: &App,
    client: &HttpClient,
    peer: &mut Peer,
    checkpoint: &StoredCheckpoint,
) -> Option<String> {
    let name = peer.witness.name.clone();
    let url = format!(
        "{}/add-checkpoint",
        peer.witness
            .url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
    );
    // A 409 teaches the witness's size; one more try then.
    for _ in 0..2 {
        let old = peer.cosigned.unwrap_or(0);
        if old > checkpoint.size {
            tracing::error!(
                "witnessing: {name} has cosigned size {old}, above this log's {}: it saw \
                 another history of this log, or the log lost entries",
                checkpoint.size
            );
            return None;
        }
        let proof = match consistency(app, old, checkpoint.size).await {
            Ok(proof) => proof,
            Err(e) => {
                tracing::warn!("witnessing: proof {old}→{}: {e}", checkpoint.size);
                return None;
            }
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.note.clone(),
        }
        .encode();
        let answer = match client.post(&url, body, "text/plain").await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!("witnessing: {name}: {e}");
                return None;
            }
        };
        match answer.status {
            200 => {
                let lines = String::from_utf8_lossy(&answer.body).into_owned();
                return checked(peer, checkpoint, &lines);
            }
            409 => match parse_size(&answer.body) {
                Some(size) => peer.cosigned = Some(size),
                None => {
                    tracing::warn!("witnessing: {name} answered 409 without a size");
                    return None;
                }
            },
            status => {
                tracing::warn!(
                    "witnessing: {name} refused checkpoint {} with {status}: {}",
                    checkpoint.size,
                    String::from_utf8_lossy(&answer.body).trim_end()
                );
                return None;
            }
        }
    }
    None
}

/// The witness's line among `lines` that verifies on `checkpoint`; others are ignored.
fn checked(peer: &mut Peer, checkpoint: &StoredCheckpoint, lines: &str) -> Option<String> {
    let combined = format!("{}{lines}", checkpoint.note);
    let signed = SignedNote::parse(&combined).ok()?;
    match peer.witness.key.cosigned(&signed) {
        Ok(Some(_)) => {
            peer.cosigned = Some(checkpoint.size);
            let line = signed
                .lines_by(peer.witness.key.name(), peer.witness.key.key_id())
                .next()?
                .line;
            Some(format!("{line}\n"))
        }
        Ok(None) => {
            tracing::warn!(
                "witnessing: {} answered with no cosignature of its key",
                peer.witness.name
            );
            None
        }
        Err(e) => {
            tracing::warn!("witnessing: {e}");
            None
        }
    }
}

/// The consistency proof from `old` to `new` (empty from 0 and between equal sizes).
async fn consistency(app: &App, old: u64, new: u64) -> Result<Vec<merkle::Hash>, String> {
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    app.engine
        .pool()
        .with::<_, stepwise_engine::Error>(move |store| {
            let tree = StoredTree(&*store);
            merkle::consistency_proof(&tree, old, new)
                .map_err(|e| stepwise_engine::Error::internal(e.to_string()))
        })
        .await
        .map_err(|e| e.to_string())
}
