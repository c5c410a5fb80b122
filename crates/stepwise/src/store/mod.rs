//! Storage: where the log's entries and signed checkpoints live.
//!
//! A store keeps bytes and hashes that the ledger computed; it never interprets events and never
//! decides what is valid. It must make a batch durable as one transaction (all of it or none of
//! it) and refuse a batch that was computed against an older log (another writer got there first).
//! Each entry row carries, beside its leaf hash, the hashes of the complete subtrees that the leaf
//! completed, so any proof needs only O(log n) point reads and nothing is held in memory.

pub mod sqlite;

use crate::ledger::merkle::{self, Hash, SubtreeSource};

pub use sqlite::SqliteStore;

/// One stored log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 0.
    pub index: u64,
    /// The event's canonical bytes.
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 ‖ bytes)`, as stored.
    pub leaf_hash: Hash,
    /// Hashes of the subtrees this leaf completed, level 1 first (see
    /// [`merkle::Frontier::push`]); as stored.
    pub subtree_hashes: Vec<Hash>,
}

/// A signed checkpoint as stored: the tree size, its root and the signed note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size the checkpoint commits to.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The whole signed note (C2SP signed-note), exactly as served.
    pub note: String,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended first; recompute the batch against the new log and retry.
    #[error("the log grew from {expected} to {actual} entries while this batch was prepared")]
    Conflict {
        /// The size the batch was computed against.
        expected: u64,
        /// The size found in the store.
        actual: u64,
    },
    /// The store holds something it could not have written: damaged or tampered with.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// The database failed (disk full, permissions, locked for too long, ...).
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
}

/// What a store must do. The ledger is the only writer; everything here is plain storage.
pub trait Store: Send {
    /// Number of entries in the log.
    fn size(&self) -> Result<u64, StoreError>;

    /// The entry at `index`, if the log has it.
    fn entry(&self, index: u64) -> Result<Option<Entry>, StoreError>;

    /// Calls `visit` on entries `from..to` in index order, as they are stored (no check that
    /// indexes are contiguous: callers that verify do that themselves).
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Appends `entries` (indexes `base..`) and `checkpoint` in one durable transaction, or
    /// nothing at all. Fails with [`StoreError::Conflict`] when the log no longer has `base`
    /// entries.
    fn append(
        &mut self,
        base: u64,
        entries: &[Entry],
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError>;

    /// The checkpoint with the largest size.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Every stored checkpoint, smallest size first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

/// Complete subtree hashes read from a store: the leaf hash for level 0, otherwise the hash kept
/// beside the leaf that completed the subtree.
pub struct StoredTree<'a, S: Store + ?Sized>(pub &'a S);

impl<S: Store + ?Sized> SubtreeSource for StoredTree<'_, S> {
    type Error = StoreError;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let at = merkle::completing_leaf(level, index);
        let entry = self
            .0
            .entry(at)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {at} is missing")))?;
        if level == 0 {
            return Ok(entry.leaf_hash);
        }
        entry
            .subtree_hashes
            .get(level as usize - 1)
            .copied()
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "entry {at} lacks the hash of the level-{level} subtree it completes"
                ))
            })
    }
}
