//! Entries, roots and proofs read from a store alone: a proof reads the few rows holding the
//! subtree hashes it needs, whatever the log's size, so nothing here opens a ledger (which
//! replays the log into its registry: minutes at 10^8 entries). The ledger, the server and the
//! command line all answer through these.

use crate::{Entry, LedgerError, LogStore, StoreError, StoredTree};
use stepwise::evidence::FieldError;
use stepwise::ledger::merkle::{self, Hash};
use stepwise::ledger::{
    ConsistencyProof, InclusionProof, check_consistency_request, check_inclusion_request,
    check_tree_size,
};

/// Entry `index` of a log of `log_size` entries.
pub fn entry(
    store: &(impl LogStore + ?Sized),
    index: u64,
    log_size: u64,
) -> Result<Entry, LedgerError> {
    let stored = if index < log_size {
        store.entry(index)?
    } else {
        None
    };
    stored.ok_or_else(|| {
        LedgerError::OutOfRange(format!(
            "no entry {index}: the log holds {log_size} entries (0 to {})",
            log_size.saturating_sub(1)
        ))
    })
}

/// The root hash of the tree of the first `size` entries of a log of `log_size`.
pub fn root(
    store: &(impl LogStore + ?Sized),
    size: u64,
    log_size: u64,
) -> Result<Hash, LedgerError> {
    check_tree_size("size", size, log_size).map_err(out_of_range)?;
    Ok(merkle::root(&StoredTree(store), size)?)
}

/// Proof that entry `index` is in the tree of `size` entries, of a log of `log_size`.
pub fn inclusion(
    store: &(impl LogStore + ?Sized),
    index: u64,
    size: u64,
    log_size: u64,
) -> Result<InclusionProof, LedgerError> {
    check_inclusion_request(index, size, log_size).map_err(out_of_range)?;
    let hashes = merkle::inclusion_proof(&StoredTree(store), index, size).map_err(proof_error)?;
    Ok(InclusionProof {
        index,
        size,
        leaf_hash: entry(store, index, log_size)?.leaf_hash,
        root: root(store, size, log_size)?,
        hashes,
    })
}

/// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size`, of a log
/// of `log_size`.
pub fn consistency(
    store: &(impl LogStore + ?Sized),
    old_size: u64,
    new_size: u64,
    log_size: u64,
) -> Result<ConsistencyProof, LedgerError> {
    check_consistency_request(old_size, new_size, log_size).map_err(out_of_range)?;
    let tree = StoredTree(store);
    let hashes = merkle::consistency_proof(&tree, old_size, new_size).map_err(proof_error)?;
    Ok(ConsistencyProof {
        old_size,
        new_size,
        old_root: root(store, old_size, log_size)?,
        new_root: root(store, new_size, log_size)?,
        hashes,
    })
}

fn out_of_range(e: FieldError) -> LedgerError {
    LedgerError::OutOfRange(format!("{}: {}", e.field, e.problem))
}

fn proof_error(e: merkle::ProofError<StoreError>) -> LedgerError {
    match e {
        merkle::ProofError::Source(e) => LedgerError::Store(e),
        other => LedgerError::OutOfRange(other.to_string()),
    }
}
