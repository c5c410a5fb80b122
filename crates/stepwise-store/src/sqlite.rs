//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Plain, portable SQL (entries, checkpoints, keys, decisions: integer keys, blobs) that the
//! PostgreSQL store mirrors. A batch is one `BEGIN IMMEDIATE` transaction: the size check, the entry rows
//! and the checkpoint commit together, and the commit returns only once SQLite has synced the
//! WAL. The schema version is SQLite's `user_version`; a file of an older version (no keys
//! table, no decisions table) is upgraded when opened.

use super::{
    Batch, DecisionQuery, DecisionRecord, DecisionStore, Entry, KeyStore, LogStore, SCHEMA_VERSION,
    StoreError, StoredCheckpoint, checkpoint_from_row, decision_from_row, entry_from_row,
    joined_subtrees, key_from_row, sql_index, sql_limit, stored_seq,
};
use crate::keys::KeyRecord;
use crate::private::{
    Erase, PendingErasure, PrincipalRecord, PrivateStore, StoredOpening, erasure_from_row,
    opening_from_row, principal_from_row, pseudonymized,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use stepwise::evidence::Time;

/// The log's tables (schema version 1).
const LOG_TABLES: &str = "
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

/// API key records (added in schema version 2).
const KEY_TABLE: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id        TEXT PRIMARY KEY,
    hash      BLOB NOT NULL UNIQUE,
    role      TEXT NOT NULL,
    principal TEXT,
    created   INTEGER NOT NULL,
    revoked   INTEGER NOT NULL DEFAULT 0
);
";

/// The gate's decision log (added in schema version 3).
const DECISION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS decisions (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    principal TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_principal ON decisions (principal, seq);
";

/// What format 3 keeps beside the log (schema version 5; 4 had a first form of it).
///
/// * `principals`: each principal's id and secret, numbered in the order created (`seq`, never
///   reused: a process learns the principals others created by asking for those after the last
///   it has seen). Only the id is indexed: a pseudonym index would cost every new principal a
///   write at a random place in it.
/// * `openings`: the openings of each entry's commitments, by entry (appended in log order).
/// * `erasures`: every erasure, numbered in the order made, pending until its entry is in the
///   log and kept after that (a pseudonym and a reason code, as the erasure entry itself says)
///   so that a writer learns, in its append's transaction, what was forgotten since it last
///   looked.
const PRIVATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS principals (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    pseudonym TEXT NOT NULL,
    secret    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS openings (
    entry INTEGER NOT NULL,
    field TEXT NOT NULL,
    salt  BLOB NOT NULL,
    value BLOB NOT NULL,
    names TEXT NOT NULL,
    PRIMARY KEY (entry, field)
);
CREATE TABLE IF NOT EXISTS erasures (
    seq       INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL UNIQUE,
    reason    TEXT NOT NULL,
    logged    INTEGER NOT NULL DEFAULT 0
);
";

/// Schema 4 → 5, around a fresh [`PRIVATE_TABLES`]: principals were indexed by pseudonym and
/// unnumbered, erasures kept only while pending.
const PRIVATE_FROM_4: [&str; 2] = [
    "
ALTER TABLE principals RENAME TO principals_4;
ALTER TABLE erasures RENAME TO erasures_4;
",
    "
INSERT INTO principals (id, pseudonym, secret)
    SELECT id, pseudonym, secret FROM principals_4 ORDER BY rowid;
INSERT INTO erasures (pseudonym, reason) SELECT pseudonym, reason FROM erasures_4 ORDER BY pseudonym;
DROP TABLE principals_4;
DROP TABLE erasures_4;
",
];

/// The texts of the policies the log records, by SHA-256 (schema version 6).
const POLICY_TABLE: &str = "
CREATE TABLE IF NOT EXISTS policies (
    sha256 TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
";

/// The checkpoints that met the witnesses' quorum, with their cosignatures (schema version 7).
const WITNESSED_TABLE: &str = "
CREATE TABLE IF NOT EXISTS witnessed (
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
    /// Opens (creating if needed) the store at `path`; a store of an older schema version is
    /// upgraded in place.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// Lets this handle's own commits return before the disk has synced them (`synchronous=NORMAL`
    /// in WAL mode): a crash of the process loses nothing, a power failure may lose this
    /// handle's last commits (the next commit of any handle with the default setting syncs them
    /// too). Only for records that are not evidence, such as the gate's decision log: appends to
    /// the log must go through a handle with the default, `synchronous=FULL`.
    pub fn without_sync_wait(self) -> Result<Self, StoreError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(self)
    }

    /// A store in memory, for tests and simulations.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // What is deleted is overwritten with zeros, not only unlinked: `forget` must leave no
        // byte of what it erased in the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        // Pages are read through a memory map, not a system call each: a proof reads a few
        // dozen scattered rows (writes still go through the file, and the WAL).
        conn.pragma_update(None, "mmap_size", 1_i64 << 30)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            // Decided again inside the write lock: another process may be upgrading too.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            match version {
                0 => tx.execute_batch(&format!(
                    "{LOG_TABLES}{KEY_TABLE}{DECISION_TABLE}{PRIVATE_TABLES}{POLICY_TABLE}\
                     {WITNESSED_TABLE}"
                ))?,
                1 => tx.execute_batch(&format!(
                    "{KEY_TABLE}{DECISION_TABLE}{PRIVATE_TABLES}{POLICY_TABLE}{WITNESSED_TABLE}"
                ))?,
                2 => tx.execute_batch(&format!(
                    "{DECISION_TABLE}{PRIVATE_TABLES}{POLICY_TABLE}{WITNESSED_TABLE}"
                ))?,
                3 => {
                    tx.execute_batch(&format!("{PRIVATE_TABLES}{POLICY_TABLE}{WITNESSED_TABLE}"))?
                }
                4 => {
                    let [rename, copy] = PRIVATE_FROM_4;
                    tx.execute_batch(&format!(
                        "{rename}{PRIVATE_TABLES}{copy}{POLICY_TABLE}{WITNESSED_TABLE}"
                    ))?
                }
                5 => tx.execute_batch(&format!("{POLICY_TABLE}{WITNESSED_TABLE}"))?,
                6 => tx.execute_batch(WITNESSED_TABLE)?,
                SCHEMA_VERSION => {}
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "schema version {other} is not one this build knows (up to \
                         {SCHEMA_VERSION}); use a matching stepwise version"
                    )));
                }
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(Self { conn })
    }
}

/// An entry row as SQLite returns it: index, bytes, leaf hash, subtree hashes.
type EntryRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>);

fn entry_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_entry((idx, bytes, leaf, subtrees): EntryRow) -> Result<Entry, StoreError> {
    entry_from_row(idx, bytes, &leaf, &subtrees)
}

fn to_checkpoint(
    (size, root, note): (i64, Vec<u8>, String),
) -> Result<StoredCheckpoint, StoreError> {
    checkpoint_from_row(size, &root, note)
}

/// A key row: id, hash, role, principal, created, revoked.
type KeyRow = (String, Vec<u8>, String, Option<String>, i64, bool);

const KEY_COLUMNS: &str = "id, hash, role, principal, created, revoked";

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn to_key((id, hash, role, principal, created, revoked): KeyRow) -> Result<KeyRecord, StoreError> {
    key_from_row(id, &hash, &role, principal, created, revoked)
}

fn current_size(conn: &Connection) -> Result<u64, StoreError> {
    let next: i64 = conn.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
        r.get(0)
    })?;
    u64::try_from(next).map_err(|_| StoreError::Corrupt(format!("log size {next}")))
}

impl LogStore for SqliteStore {
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
        stmt.query_row([idx], entry_row)
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
            visit(to_entry(entry_row(row)?)?)?;
        }
        Ok(())
    }

    fn append_with(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let actual = current_size(&tx)?;
        // A checkpoint at the new size is there already when another writer committed the
        // same size first (two processes opening one empty log both sign size 0).
        let taken: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM checkpoints WHERE size = ?1)")?
            .query_row([sql_index(batch.checkpoint.size)?], |r| r.get(0))?;
        if actual != batch.base || taken {
            return Err(StoreError::Conflict {
                expected: batch.base,
                actual,
            });
        }
        if let Some(seen) = batch.erasures_seen {
            let erased = tx
                .prepare_cached("SELECT seq, pseudonym FROM erasures WHERE seq > ?1 ORDER BY seq")?
                .query_map([sql_index(seen)?], |r| Ok((r.get(0)?, r.get(1)?)))?
                .map(|row| {
                    let (seq, pseudonym) = row?;
                    erasure_from_row(seq, pseudonym)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            if !erased.is_empty() {
                return Err(StoreError::Erased(erased));
            }
        }
        {
            let mut create = tx.prepare_cached(
                "INSERT INTO principals (id, pseudonym, secret) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO NOTHING",
            )?;
            let mut taken = Vec::new();
            for r in batch.principals {
                if create.execute(params![r.id, r.pseudonym, &r.secret[..]])? == 0 {
                    taken.push(r.id.clone());
                }
            }
            if !taken.is_empty() {
                return Err(StoreError::Taken(taken));
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO entries (idx, bytes, leaf_hash, subtree_hashes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for entry in batch.entries {
                insert.execute(params![
                    sql_index(entry.index)?,
                    entry.bytes,
                    &entry.leaf_hash[..],
                    joined_subtrees(entry)
                ])?;
            }
            let mut open = tx.prepare_cached(
                "INSERT INTO openings (entry, field, salt, value, names) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for o in batch.openings {
                open.execute(params![
                    sql_index(o.entry)?,
                    o.opening.field.name(),
                    &o.opening.salt[..],
                    o.opening.value,
                    o.names
                ])?;
            }
            let checkpoint = batch.checkpoint;
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

impl crate::PolicyStore for SqliteStore {
    fn put_policy(&mut self, sha256: &str, text: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO policies (sha256, text) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![sha256, text])?;
        Ok(())
    }

    fn policy_text(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT text FROM policies WHERE sha256 = ?1")?
            .query_row([sha256], |r| r.get(0))
            .optional()?)
    }
}

impl crate::WitnessedStore for SqliteStore {
    fn put_witnessed(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO witnessed (size, root, note) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (size) DO UPDATE SET note = excluded.note WHERE root = excluded.root",
            )?
            .execute(params![
                sql_index(checkpoint.size)?,
                &checkpoint.root[..],
                checkpoint.note
            ])?;
        Ok(())
    }

    fn latest_witnessed(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.conn
            .prepare_cached("SELECT size, root, note FROM witnessed ORDER BY size DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .map(to_checkpoint)
            .transpose()
    }
}

impl KeyStore for SqliteStore {
    fn put_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO keys (id, hash, role, principal, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                key.id,
                &key.hash[..],
                key.role.as_str(),
                key.principal.as_ref().map(|p| p.as_str()),
                key.created.as_micros(),
                key.revoked
            ])?;
        if inserted == 0 {
            return Err(StoreError::Duplicate(format!(
                "a key with id {} or the same hash",
                key.id
            )));
        }
        Ok(())
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        self.conn
            .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = ?1"))?
            .query_row([&hash[..]], key_row)
            .optional()?
            .map(to_key)
            .transpose()
    }

    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys ORDER BY created, id"
        ))?;
        let rows = stmt.query_map([], key_row)?;
        rows.map(|r| to_key(r?)).collect()
    }

    fn revoke_key(&mut self, id: &str) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached("UPDATE keys SET revoked = 1 WHERE id = ?1")?
            .execute([id])?;
        Ok(changed > 0)
    }
}

impl DecisionStore for SqliteStore {
    fn put_decision(&mut self, at: Time, principal: &str, body: &str) -> Result<u64, StoreError> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO decisions (at, principal, body) VALUES (?1, ?2, ?3) RETURNING seq",
            )?
            .query_row(params![at.as_micros(), principal, body], |r| r.get(0))?;
        u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("decision number {seq}")))
    }

    fn decisions(&self, query: &DecisionQuery<'_>) -> Result<Vec<DecisionRecord>, StoreError> {
        // No decision has a number beyond the database's integers.
        let Ok(after) = i64::try_from(query.after) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, principal, body FROM decisions \
             WHERE seq > ?1 AND (?2 IS NULL OR principal = ?2) AND (?3 IS NULL OR at >= ?3) \
             ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![
                after,
                query.principal,
                query.since.map(Time::as_micros),
                sql_limit(query.limit)
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        rows.map(|r| {
            let (seq, at, principal, body) = r?;
            decision_from_row(seq, at, principal, body)
        })
        .collect()
    }
}

fn principal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

impl PrivateStore for SqliteStore {
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.conn
            .prepare_cached("SELECT id, pseudonym, secret FROM principals WHERE id = ?1")?
            .query_row([id], principal_row)
            .optional()?
            .map(|(id, p, s)| principal_from_row(id, p, &s))
            .transpose()
    }

    fn create_principals(
        &mut self,
        records: &[PrincipalRecord],
    ) -> Result<Vec<PrincipalRecord>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut stored = Vec::with_capacity(records.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO principals (id, pseudonym, secret) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO NOTHING",
            )?;
            let mut select =
                tx.prepare_cached("SELECT id, pseudonym, secret FROM principals WHERE id = ?1")?;
            for r in records {
                insert.execute(params![r.id, r.pseudonym, &r.secret[..]])?;
                let (id, p, s) = select.query_row([&r.id], principal_row)?;
                stored.push(principal_from_row(id, p, &s)?);
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    fn each_principal_since(
        &self,
        after: u64,
        visit: &mut dyn FnMut(u64, PrincipalRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, pseudonym, secret FROM principals WHERE seq > ?1 ORDER BY seq",
        )?;
        let mut rows = stmt.query([sql_index(after)?])?;
        while let Some(row) = rows.next()? {
            let seq = stored_seq("principal", row.get::<_, i64>(0)?)?;
            let secret: Vec<u8> = row.get(3)?;
            visit(seq, principal_from_row(row.get(1)?, row.get(2)?, &secret)?)?;
        }
        Ok(())
    }

    fn openings(&self, from: u64, to: u64) -> Result<Vec<StoredOpening>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT entry, field, salt, value, names FROM openings \
             WHERE entry >= ?1 AND entry < ?2 ORDER BY entry, field",
        )?;
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![sql_index(from)?, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.map(|r| {
            let (entry, field, salt, value, names): (i64, String, Vec<u8>, Vec<u8>, String) = r?;
            opening_from_row(entry, &field, &salt, value, names)
        })
        .collect()
    }

    fn each_promise_opening(
        &self,
        visit: &mut dyn FnMut(StoredOpening) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT entry, salt, value, names FROM openings WHERE field = 'id'")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let salt: Vec<u8> = row.get(1)?;
            visit(opening_from_row(
                row.get(0)?,
                "id",
                &salt,
                row.get(2)?,
                row.get(3)?,
            )?)?;
        }
        Ok(())
    }

    fn erase(&mut self, erase: &Erase<'_>) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM principals WHERE id = ?1", [erase.id])?;
        tx.execute(
            "DELETE FROM openings WHERE instr(' ' || names || ' ', ' ' || ?1 || ' ') > 0",
            [erase.name],
        )?;
        for entry in erase.outcomes {
            tx.execute(
                "DELETE FROM openings WHERE entry = ?1",
                [sql_index(*entry)?],
            )?;
        }
        tx.execute(
            "UPDATE keys SET revoked = 1, principal = NULL WHERE principal = ?1",
            [erase.id],
        )?;
        let quoted = crate::private::json_string(erase.id);
        let rows: Vec<(i64, String)> = tx
            .prepare("SELECT seq, body FROM decisions WHERE principal = ?1 OR instr(body, ?2) > 0")?
            .query_map(params![erase.id, quoted], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (seq, body) in rows {
            tx.execute(
                "UPDATE decisions SET principal = CASE WHEN principal = ?2 THEN ?3 ELSE principal END, \
                 body = ?4 WHERE seq = ?1",
                params![
                    seq,
                    erase.id,
                    erase.pseudonym,
                    pseudonymized(&body, erase.id, erase.pseudonym)
                ],
            )?;
        }
        if let Some(reason) = erase.reason {
            tx.execute(
                "INSERT INTO erasures (pseudonym, reason) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                [erase.pseudonym, reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn pending_erasures(&self) -> Result<Vec<PendingErasure>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT pseudonym, reason FROM erasures WHERE NOT logged ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingErasure {
                pseudonym: r.get(0)?,
                reason: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_erasure(&self) -> Result<u64, StoreError> {
        let last: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM erasures", [], |r| {
                    r.get(0)
                })?;
        stored_seq("erasure", last)
    }

    fn erasure_logged(&mut self, pseudonym: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE erasures SET logged = 1 WHERE pseudonym = ?1",
            [pseudonym],
        )?;
        Ok(())
    }

    fn scrub(&mut self) -> Result<(), StoreError> {
        // Deleted cells are zeroed already (secure_delete); what remains is the WAL, which still
        // holds the pages as they were before. Copy the WAL into the database and truncate it
        // to nothing, waiting for readers that keep an old snapshot open.
        for _ in 0..100 {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(StoreError::Database(
            "the WAL could not be truncated: other connections kept reading for 2 s; run forget again to finish"
                .into(),
        ))
    }
}
