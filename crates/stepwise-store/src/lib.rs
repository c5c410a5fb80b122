//! stepwise's storage: where the log's entries and signed checkpoints live, the writer that
//! appends to them ([`Ledger`]), the fold of a stored log into the core's states ([`replay`]),
//! its full audit ([`verify`]), the files of one installation ([`data_dir`]) and the API keys
//! and decision log kept beside the log ([`keys`], [`DecisionRecord`]).
//!
//! A store keeps bytes and hashes that the ledger computed; it never interprets events and never
//! decides what is valid (that is the core's `stepwise::ledger`). It must make a batch durable
//! as one transaction (all of it or none of it) and refuse a batch that was computed against an
//! older log (another writer got there first). Each entry row carries, beside its leaf hash, the
//! hashes of the complete subtrees that the leaf completed, so any proof needs only O(log n)
//! point reads and nothing is held in memory.
//!
//! What a store does is three traits, by what it keeps: [`LogStore`] (the Merkle log and its
//! checkpoints), [`KeyStore`] (API key records: not evidence, so not in the log, but every
//! process serving one log must see the same keys) and [`DecisionStore`] (the gate's decision
//! log); [`Store`] is all three. Two stores implement them with the same tables:
//! [`SqliteStore`] (one file, one machine) and [`PostgresStore`] (several processes sharing one
//! database; appends sequenced by a lock in the database).

pub mod data_dir;
pub mod forget;
pub mod keys;
pub mod ledger;
pub mod names;
pub mod postgres;
pub mod private;
pub mod receipt;
pub mod replay;
pub mod sqlite;
pub mod tiles;
mod verify;
pub mod witness;

use keys::KeyRecord;
use stepwise::evidence::Time;
use stepwise::ledger::merkle::{self, HASH_LEN, Hash, SubtreeSource};

pub use ledger::{Appended, Ledger, LedgerError, MAX_BATCH};
pub use postgres::PostgresStore;
pub use private::{Erase, Erasure, PendingErasure, PrincipalRecord, PrivateStore, StoredOpening};
pub use sqlite::SqliteStore;
pub use verify::{MAX_PROBLEMS, Problem, VerifyReport, verify};

/// Version of the tables both stores keep: 1 had the log only; 2 added API key records; 3 added
/// the decision log; 4 added what format 3 keeps beside the log (secrets, openings, erasures);
/// 5 numbers erasures and keeps them once logged (what a writer learns in its append).
pub const SCHEMA_VERSION: i64 = 7;

/// One kept decision of `stepwise gate`: what was asked, the verdict and why (the JSON object
/// `body`, which the store keeps as given and never reads), with what the log is searched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// Its place in the decision log, from 1, in the order kept (assigned by the store).
    pub seq: u64,
    /// When it was decided.
    pub at: Time,
    /// Who asked.
    pub principal: String,
    /// The record, a JSON object.
    pub body: String,
}

/// Which decision records to read: those after `after` (a `seq`; 0 for the first), oldest
/// first, at most `limit`, only `principal`'s when given, only those decided at or after
/// `since` when given.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecisionQuery<'a> {
    /// Only this principal's.
    pub principal: Option<&'a str>,
    /// Only those decided at or after this instant.
    pub since: Option<Time>,
    /// Only those with a larger `seq`.
    pub after: u64,
    /// At most this many.
    pub limit: usize,
}

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

/// One batch for [`LogStore::append_with`]: everything one append stores, in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The log's size the batch was computed against: its first entry's index.
    pub base: u64,
    /// The entries, indexes `base..`.
    pub entries: &'a [Entry],
    /// Principals the entries name for the first time (format 3): their secrets.
    pub principals: &'a [PrincipalRecord],
    /// The openings of the entries' commitments (format 3).
    pub openings: &'a [StoredOpening],
    /// The checkpoint for the new size.
    pub checkpoint: &'a StoredCheckpoint,
    /// The last erasure ([`private::Erasure::seq`]) the writer's names have dropped: a later
    /// one fails the batch with [`StoreError::Erased`]. `None` for a writer in the clear
    /// (format 2), which names no pseudonym.
    pub erasures_seen: Option<u64>,
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
    /// A record with this identity is already stored (an API key id or hash).
    #[error("already stored: {0}")]
    Duplicate(String),
    /// An event that reached the ledger sealed already names a principal forgotten meanwhile
    /// (by another process): nothing was stored. (Events the ledger seals itself are sealed
    /// again instead, naming a newcomer.)
    #[error("principal {0} was forgotten while this batch was sealed; nothing was recorded")]
    Forgotten(String),
    /// Principals a batch would create were created first by another process (their ids):
    /// nothing was stored; the batch must be sealed again with the stored secrets.
    #[error("principals {} were created by another process meanwhile; nothing was recorded", .0.join(", "))]
    Taken(Vec<String>),
    /// Principals were forgotten since the batch's writer last looked ([`Batch::erasures_seen`]):
    /// nothing was stored; the writer forgets them too and seals again.
    #[error("{} principals were forgotten meanwhile; nothing was recorded", .0.len())]
    Erased(Vec<private::Erasure>),
    /// The database failed (disk full, permissions, connection lost, locked for too long, ...).
    /// The source is the driver's own error (`rusqlite::Error` or `postgres::Error`).
    #[error("database error: {}", error_chain(.0.as_ref()))]
    Database(Box<dyn std::error::Error + Send + Sync>),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

/// An error and its causes on one line. The PostgreSQL driver's own text is only the kind
/// ("db error"); the server's message is in the source, and an operator needs it.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The log: entries and signed checkpoints. The ledger is the only writer; everything here is
/// plain storage.
pub trait LogStore: Send {
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
    ) -> Result<(), StoreError> {
        self.append_with(&Batch {
            base,
            entries,
            principals: &[],
            openings: &[],
            checkpoint,
            erasures_seen: None,
        })
    }

    /// [`LogStore::append`] of a format-3 batch: its new principals and the openings of its
    /// commitments are stored in the same transaction. Fails, storing nothing, with
    /// [`StoreError::Taken`] when another process created one of its principals first, and with
    /// [`StoreError::Erased`] when principals were forgotten after
    /// [`Batch::erasures_seen`].
    fn append_with(&mut self, batch: &Batch<'_>) -> Result<(), StoreError>;

    /// Takes the lock that sequences appends and keeps it until the next [`LogStore::append`] or
    /// [`LogStore::release_append_lock`] on this store: a writer that lost a race holds it while
    /// it re-reads the log and retries, so that the retry cannot lose again. Stores with one
    /// writer, or whose own locking is enough, need not do anything.
    fn hold_append_lock(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Releases the lock taken by [`LogStore::hold_append_lock`], if it is still held; cheap (no
    /// round trip) when it is not.
    fn release_append_lock(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The checkpoint with the largest size.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Every stored checkpoint, smallest size first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Waits up to `timeout` for an append to the log to be announced, on a store that
    /// announces appends (PostgreSQL: `LISTEN`/`NOTIFY`); a store that does not answers
    /// [`Growth::Unannounced`] at once, and its readers poll.
    fn wait_for_append(&mut self, timeout: std::time::Duration) -> Result<Growth, StoreError> {
        let _ = timeout;
        Ok(Growth::Unannounced)
    }
}

/// Waits until `store` holds at least `min` entries, or `within` has passed; the size read
/// last. For a process that answers from the store itself (the command line, `stepwise mcp`):
/// once the store has an entry, so does its next answer. Announcements wake it where the store
/// makes them; otherwise it reads the size every few milliseconds.
pub fn wait_for_size(
    store: &mut dyn LogStore,
    min: u64,
    within: std::time::Duration,
) -> Result<u64, StoreError> {
    const POLL: std::time::Duration = std::time::Duration::from_millis(10);
    let deadline = std::time::Instant::now() + within;
    loop {
        let size = store.latest_checkpoint()?.map_or(0, |c| c.size);
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if size >= min || left.is_zero() {
            return Ok(size);
        }
        if store.wait_for_append(left.min(POLL))? == Growth::Unannounced {
            std::thread::sleep(left.min(POLL));
        }
    }
}

/// What [`LogStore::wait_for_append`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// The log grew: to this size at least, or (`None`) by how much is not known — the first
    /// wait on a handle, which starts listening then, says so, since what was appended before
    /// was not announced to it.
    Announced(Option<u64>),
    /// Nothing was announced within the time.
    Quiet,
    /// This store does not announce appends: read its size to know.
    Unannounced,
}

/// The texts of the policies the log records: a `policy` entry holds the SHA-256 of its policy
/// file (64 lowercase hex digits), and the text is kept beside the log under it, so that a
/// replay finds the policy in force at any log size.
pub trait PolicyStore: Send {
    /// Keeps `text` under its SHA-256, `sha256`; keeping it again changes nothing.
    fn put_policy(&mut self, sha256: &str, text: &str) -> Result<(), StoreError>;

    /// The text kept under `sha256`, if any.
    fn policy_text(&self, sha256: &str) -> Result<Option<String>, StoreError>;
}

/// The checkpoints that met the witnesses' quorum, with their cosignatures (C2SP
/// tlog-witness), kept beside the log: the log's own checkpoints stay as it signed them.
pub trait WitnessedStore: Send {
    /// Keeps `checkpoint` (its note carries the log's signature and the cosignatures); keeping
    /// a size again replaces its note.
    fn put_witnessed(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;

    /// The witnessed checkpoint with the largest size.
    fn latest_witnessed(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
}

/// API key records, kept beside the log (never in it).
pub trait KeyStore: Send {
    /// Stores a new API key record. Fails with [`StoreError::Duplicate`] when a key with the
    /// same id or hash is already stored. Only the hash is stored, never the key's text.
    fn put_key(&mut self, key: &KeyRecord) -> Result<(), StoreError>;

    /// The key record whose hash is `hash` (revoked or not: the caller decides).
    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError>;

    /// Every key record, oldest first.
    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Marks the key `id` revoked. `Ok(true)` when such a key exists (revoking twice is not an
    /// error), `Ok(false)` when no key has that id.
    fn revoke_key(&mut self, id: &str) -> Result<bool, StoreError>;
}

/// The gate's decision log, kept beside the log (not evidence).
pub trait DecisionStore: Send {
    /// Keeps one decision record (durably, in its own transaction); returns its `seq`.
    fn put_decision(&mut self, at: Time, principal: &str, body: &str) -> Result<u64, StoreError>;

    /// The decision records `query` asks for, oldest first.
    fn decisions(&self, query: &DecisionQuery<'_>) -> Result<Vec<DecisionRecord>, StoreError>;
}

/// Everything one installation keeps: the log, what format 3 keeps beside it, its API keys and
/// the decision log, in one database. Implemented for every type that keeps all four.
pub trait Store:
    LogStore + PrivateStore + PolicyStore + WitnessedStore + KeyStore + DecisionStore
{
}

impl<T: LogStore + PrivateStore + PolicyStore + WitnessedStore + KeyStore + DecisionStore> Store
    for T
{
}

/// A boxed store is a store (a process that picks SQLite or PostgreSQL at run time).
impl<T: LogStore + ?Sized> LogStore for Box<T> {
    fn size(&self) -> Result<u64, StoreError> {
        (**self).size()
    }
    fn entry(&self, index: u64) -> Result<Option<Entry>, StoreError> {
        (**self).entry(index)
    }
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        (**self).scan(from, to, visit)
    }
    fn append_with(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        (**self).append_with(batch)
    }
    fn hold_append_lock(&mut self) -> Result<(), StoreError> {
        (**self).hold_append_lock()
    }
    fn release_append_lock(&mut self) -> Result<(), StoreError> {
        (**self).release_append_lock()
    }
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        (**self).latest_checkpoint()
    }
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        (**self).checkpoints()
    }
    fn wait_for_append(&mut self, timeout: std::time::Duration) -> Result<Growth, StoreError> {
        (**self).wait_for_append(timeout)
    }
}

impl<T: PolicyStore + ?Sized> PolicyStore for Box<T> {
    fn put_policy(&mut self, sha256: &str, text: &str) -> Result<(), StoreError> {
        (**self).put_policy(sha256, text)
    }
    fn policy_text(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        (**self).policy_text(sha256)
    }
}

impl<T: WitnessedStore + ?Sized> WitnessedStore for Box<T> {
    fn put_witnessed(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        (**self).put_witnessed(checkpoint)
    }
    fn latest_witnessed(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        (**self).latest_witnessed()
    }
}

impl<T: KeyStore + ?Sized> KeyStore for Box<T> {
    fn put_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        (**self).put_key(key)
    }
    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        (**self).key_by_hash(hash)
    }
    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        (**self).keys()
    }
    fn revoke_key(&mut self, id: &str) -> Result<bool, StoreError> {
        (**self).revoke_key(id)
    }
}

impl<T: DecisionStore + ?Sized> DecisionStore for Box<T> {
    fn put_decision(&mut self, at: Time, principal: &str, body: &str) -> Result<u64, StoreError> {
        (**self).put_decision(at, principal, body)
    }
    fn decisions(&self, query: &DecisionQuery<'_>) -> Result<Vec<DecisionRecord>, StoreError> {
        (**self).decisions(query)
    }
}

/// The event a stored entry holds (format 1, 2 or 3); an entry that does not decode means a
/// damaged log. The one decoder of stored entries: replay, catch-up and followers use it
/// (verification reports each problem instead of stopping at the first).
pub fn decode_entry(entry: &Entry) -> Result<stepwise::evidence::Event, StoreError> {
    stepwise::evidence::Event::from_entry(&entry.bytes).map_err(|e| {
        StoreError::Corrupt(format!(
            "entry {} does not decode ({e}); run `stepwise log verify`",
            entry.index
        ))
    })
}

/// A stored sequence number (of a principal, an erasure, a decision): never negative, or the
/// store is damaged.
pub(crate) fn stored_seq(what: &str, seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("{what} number {seq}")))
}

/// A hash column as stored: exactly [`HASH_LEN`] bytes, or the store is damaged.
fn stored_hash(whose: &str, what: &str, blob: &[u8]) -> Result<Hash, StoreError> {
    Hash::try_from(blob).map_err(|_| {
        StoreError::Corrupt(format!(
            "{whose}: {what} is {} bytes, not {HASH_LEN}",
            blob.len()
        ))
    })
}

/// An entry from its stored columns, checking what the database cannot.
fn entry_from_row(
    idx: i64,
    bytes: Vec<u8>,
    leaf: &[u8],
    subtrees: &[u8],
) -> Result<Entry, StoreError> {
    let index = u64::try_from(idx)
        .map_err(|_| StoreError::Corrupt(format!("negative entry index {idx}")))?;
    let whose = format!("entry {index}");
    if !subtrees.len().is_multiple_of(HASH_LEN) {
        return Err(StoreError::Corrupt(format!(
            "{whose}: subtree hashes are {} bytes, not a multiple of {HASH_LEN}",
            subtrees.len()
        )));
    }
    Ok(Entry {
        index,
        bytes,
        leaf_hash: stored_hash(&whose, "leaf hash", leaf)?,
        subtree_hashes: subtrees
            .chunks_exact(HASH_LEN)
            .map(|c| stored_hash(&whose, "subtree hash", c))
            .collect::<Result<_, _>>()?,
    })
}

/// A checkpoint from its stored columns.
fn checkpoint_from_row(
    size: i64,
    root: &[u8],
    note: String,
) -> Result<StoredCheckpoint, StoreError> {
    let size = u64::try_from(size)
        .map_err(|_| StoreError::Corrupt(format!("negative checkpoint size {size}")))?;
    let root = stored_hash(&format!("checkpoint at size {size}"), "root", root)?;
    Ok(StoredCheckpoint { size, root, note })
}

/// An index or size as a database integer (both databases have signed 64-bit keys).
fn sql_index(index: u64) -> Result<i64, StoreError> {
    i64::try_from(index).map_err(|_| StoreError::Corrupt(format!("index {index} is out of range")))
}

/// The subtree hashes of an entry as one stored column.
fn joined_subtrees(entry: &Entry) -> Vec<u8> {
    entry.subtree_hashes.concat()
}

/// A key record from its stored columns.
fn key_from_row(
    id: String,
    hash: &[u8],
    role: &str,
    principal: Option<String>,
    created: i64,
    revoked: bool,
) -> Result<KeyRecord, StoreError> {
    use crate::keys::Role;
    use stepwise::evidence::Id;
    let whose = format!("key {id}");
    let hash = stored_hash(&whose, "hash", hash)?;
    let role = Role::parse(role).map_err(|e| StoreError::Corrupt(format!("{whose}: {e}")))?;
    let principal = principal
        .map(|p| Id::parse("principal", &p))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{whose}: {e}")))?;
    let created = Time::from_micros(created).ok_or_else(|| {
        StoreError::Corrupt(format!("{whose}: creation time {created} is out of range"))
    })?;
    Ok(KeyRecord {
        id,
        hash,
        role,
        principal,
        created,
        revoked,
    })
}

/// A decision record from its stored columns.
fn decision_from_row(
    seq: i64,
    at: i64,
    principal: String,
    body: String,
) -> Result<DecisionRecord, StoreError> {
    let seq = u64::try_from(seq)
        .map_err(|_| StoreError::Corrupt(format!("negative decision number {seq}")))?;
    let at = Time::from_micros(at)
        .ok_or_else(|| StoreError::Corrupt(format!("decision {seq}: time {at} is out of range")))?;
    Ok(DecisionRecord {
        seq,
        at,
        principal,
        body,
    })
}

/// A page size as a database integer.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Complete subtree hashes read from a store: the leaf hash for level 0, otherwise the hash kept
/// beside the leaf that completed the subtree.
pub struct StoredTree<'a, S: LogStore + ?Sized>(pub &'a S);

impl<S: LogStore + ?Sized> SubtreeSource for StoredTree<'_, S> {
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
