//! The C2SP tlog-proofs of a receipt (`stepwise::ledger::receipt`), read from a store: each
//! entry's bytes and its inclusion proof in the tree of a stored checkpoint.

use crate::names::Names;
use crate::{LogStore, PolicyStore, StoreError, StoredCheckpoint, StoredTree};
use serde_json::Value;
use stepwise::evidence::{Body, Event, Id};
use stepwise::ledger::merkle;
use stepwise::ledger::receipt::{ReplayData, TlogProof};
use stepwise::policy::Policy;

/// A tlog-proof of each of `indexes` in the tree `checkpoint` signs.
pub fn tlog_proofs(
    store: &(impl LogStore + ?Sized),
    indexes: &[u64],
    checkpoint: &StoredCheckpoint,
) -> Result<Vec<TlogProof>, StoreError> {
    // The proofs of a decision's entries share the hashes near the root: each is read once.
    let tree = Memo {
        tree: StoredTree(store),
        seen: Default::default(),
    };
    indexes
        .iter()
        .map(|&index| {
            let entry = store
                .entry(index)?
                .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?;
            let hashes =
                merkle::inclusion_proof(&tree, index, checkpoint.size).map_err(|e| match e {
                    merkle::ProofError::Source(e) => e,
                    other => StoreError::Corrupt(format!("entry {index}: {other}")),
                })?;
            Ok(TlogProof {
                extra: entry.bytes,
                index,
                hashes,
                checkpoint: checkpoint.note.clone(),
            })
        })
        .collect()
}

/// What re-deriving `decision` from the log takes beyond its entries: the text of the policy
/// its policy entry records (the first of `proofs`), and the log's name of the subject, the
/// truster and every principal that policy names. `None` for a decision under no policy entry.
pub fn replay_data(
    store: &(impl PolicyStore + ?Sized),
    names: &Names,
    decision: &Value,
    proofs: &[TlogProof],
) -> Result<Option<ReplayData>, StoreError> {
    let Some(index) = decision["policy_entry"].as_u64() else {
        return Ok(None);
    };
    let recorded = proofs
        .iter()
        .find(|p| p.index == index)
        .and_then(|p| Event::from_entry(&p.extra).ok())
        .and_then(|e| match e.body {
            Body::Policy { sha256 } => Some(sha256),
            _ => None,
        })
        .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is not a policy entry")))?;
    let policy = store.policy_text(&recorded)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the text of policy {recorded} is not kept beside the log"
        ))
    })?;
    let parsed = Policy::from_toml(&policy)
        .map_err(|e| StoreError::Corrupt(format!("the recorded policy {recorded}: {e}")))?;
    let mut ids: Vec<Id> = parsed.principals().into_iter().cloned().collect();
    for field in ["subject", "truster"] {
        if let Some(id) = decision[field]
            .as_str()
            .and_then(|s| Id::parse(field, s).ok())
        {
            ids.push(id);
        }
    }
    let pseudonyms = ids
        .iter()
        .filter_map(|id| {
            let name = names.name(id);
            let hex = name
                .as_str()
                .strip_prefix(stepwise::evidence::seal::PSEUDONYM_PREFIX)?;
            Some((id.as_str().to_owned(), hex.to_owned()))
        })
        .collect();
    Ok(Some(ReplayData { policy, pseudonyms }))
}

/// A stored tree whose subtree hashes are read from the store once each.
struct Memo<'a, S: LogStore + ?Sized> {
    tree: StoredTree<'a, S>,
    seen: std::cell::RefCell<std::collections::HashMap<(u32, u64), merkle::Hash>>,
}

impl<S: LogStore + ?Sized> merkle::SubtreeSource for Memo<'_, S> {
    type Error = StoreError;

    fn subtree(&self, level: u32, index: u64) -> Result<merkle::Hash, StoreError> {
        if let Some(hash) = self.seen.borrow().get(&(level, index)) {
            return Ok(*hash);
        }
        let hash = self.tree.subtree(level, index)?;
        self.seen.borrow_mut().insert((level, index), hash);
        Ok(hash)
    }
}
