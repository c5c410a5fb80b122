//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Plain, portable SQL (three tables, integer keys, blobs) so that the PostgreSQL store can
//! mirror it. A batch is one `BEGIN IMMEDIATE` transaction: the size check, the entry rows and
//! the checkpoint commit together, and the commit returns only once SQLite has synced the WAL.

use super::{Entry, Store, StoreError, StoredCheckpoint};
use crate::ledger::merkle::{HASH_LEN, Hash};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

/// Schema version kept in SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    idx            INTEGER PRIMARY KEY,
    bytes          BLOB NOT NULL,
    leaf_hash      BLOB NOT NULL,
    subtree_hashes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
";

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A store in memory, for tests and simulations.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        match version {
            0 => {
                conn.execute_batch(SCHEMA)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            SCHEMA_VERSION => {}
            other => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {other} is not one this build knows ({SCHEMA_VERSION}); \
                     use a matching stepwise version"
                )));
            }
        }
        Ok(Self { conn })
    }
}

fn hash(index: u64, what: &str, blob: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::try_from(blob.as_slice()).map_err(|_| {
        StoreError::Corrupt(format!(
            "entry {index}: {what} is {} bytes, not {HASH_LEN}",
            blob.len()
        ))
    })
}

/// An entry row as SQLite returns it: index, bytes, leaf hash, subtree hashes.
type EntryRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>);

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_entry((idx, bytes, leaf, subtrees): EntryRow) -> Result<Entry, StoreError> {
    let index = u64::try_from(idx)
        .map_err(|_| StoreError::Corrupt(format!("negative entry index {idx}")))?;
    if subtrees.len() % HASH_LEN != 0 {
        return Err(StoreError::Corrupt(format!(
            "entry {index}: subtree hashes are {} bytes, not a multiple of {HASH_LEN}",
            subtrees.len()
        )));
    }
    Ok(Entry {
        index,
        bytes,
        leaf_hash: hash(index, "leaf hash", leaf)?,
        subtree_hashes: subtrees
            .chunks_exact(HASH_LEN)
            .map(|c| hash(index, "subtree hash", c.to_vec()))
            .collect::<Result<_, _>>()?,
    })
}

fn to_checkpoint(
    (size, root, note): (i64, Vec<u8>, String),
) -> Result<StoredCheckpoint, StoreError> {
    let size = u64::try_from(size)
        .map_err(|_| StoreError::Corrupt(format!("negative checkpoint size {size}")))?;
    let root = Hash::try_from(root.as_slice()).map_err(|_| {
        StoreError::Corrupt(format!(
            "checkpoint at size {size}: root is not {HASH_LEN} bytes"
        ))
    })?;
    Ok(StoredCheckpoint { size, root, note })
}

fn sql_index(index: u64) -> Result<i64, StoreError> {
    i64::try_from(index).map_err(|_| StoreError::Corrupt(format!("index {index} is out of range")))
}

fn current_size(conn: &Connection) -> Result<u64, StoreError> {
    let next: i64 = conn.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
        r.get(0)
    })?;
    u64::try_from(next).map_err(|_| StoreError::Corrupt(format!("log size {next}")))
}

impl Store for SqliteStore {
    fn size(&self) -> Result<u64, StoreError> {
        current_size(&self.conn)
    }

    fn entry(&self, index: u64) -> Result<Option<Entry>, StoreError> {
        let Ok(idx) = i64::try_from(index) else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, bytes, leaf_hash, subtree_hashes FROM entries WHERE idx = ?1",
        )?;
        stmt.query_row([idx], row_to_entry)
            .optional()?
            .map(to_entry)
            .transpose()
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, bytes, leaf_hash, subtree_hashes FROM entries \
             WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![sql_index(from)?, to])?;
        while let Some(row) = rows.next()? {
            visit(to_entry(row_to_entry(row)?)?)?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        base: u64,
        entries: &[Entry],
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let actual = current_size(&tx)?;
        if actual != base {
            return Err(StoreError::Conflict {
                expected: base,
                actual,
            });
        }
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO entries (idx, bytes, leaf_hash, subtree_hashes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut subtrees = Vec::with_capacity(HASH_LEN * 8);
            for entry in entries {
                subtrees.clear();
                for h in &entry.subtree_hashes {
                    subtrees.extend_from_slice(h);
                }
                insert.execute(params![
                    sql_index(entry.index)?,
                    entry.bytes,
                    &entry.leaf_hash[..],
                    subtrees
                ])?;
            }
            tx.prepare_cached("INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)")?
                .execute(params![
                    sql_index(checkpoint.size)?,
                    &checkpoint.root[..],
                    checkpoint.note
                ])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.conn
            .prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .map(to_checkpoint)
            .transpose()
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.map(|r| to_checkpoint(r?)).collect()
    }
}
