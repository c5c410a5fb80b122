//! The C2SP tlog-proofs of a receipt (`stepwise::ledger::receipt`), read from a store: each
//! entry's bytes and its inclusion proof in the tree of a stored checkpoint.

use crate::{LogStore, StoreError, StoredCheckpoint, StoredTree};
use stepwise::ledger::merkle;
use stepwise::ledger::receipt::TlogProof;

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
