//! The shared store: PostgreSQL, for several stepwise processes serving one log.
//!
//! The tables mirror the SQLite store's (entries, checkpoints, keys, decisions) plus a one-row
//! `stepwise_schema` table holding the schema version. The database sequences appends: each
//! batch is one transaction that first takes a transaction-scoped advisory lock, so writers in
//! any number of processes queue one after another; under the lock it checks that the log still
//! has `base` entries (else [`StoreError::Conflict`]), inserts every entry row and the
//! checkpoint in one statement (`UNNEST` over arrays), and commits with `synchronous_commit=on`,
//! so an acknowledged batch is on disk. Entries are only ever inserted, under primary keys, in
//! the transaction that checked the size: no gaps, no duplicates, and each checkpoint commits
//! with the entries it covers.
//!
//! This uses the synchronous `postgres` client, which runs a small Tokio runtime of its own per
//! connection: call it from a plain thread or from `tokio::task::spawn_blocking`, never directly
//! from async code. Connections are made without TLS; reach a remote database through a local
//! socket, a tunnel or a private network.

mod connect;
mod notify;
mod policies;
mod witnessed;

use super::{
    Batch, DecisionQuery, DecisionRecord, DecisionStore, Entry, Growth, KeyStore, LogStore,
    SCHEMA_VERSION, StoreError, StoredCheckpoint, checkpoint_from_row, decision_from_row,
    entry_from_row, joined_subtrees, key_from_row, sql_index, sql_limit, stored_seq,
};
use crate::keys::KeyRecord;
use crate::private::{
    Erase, PendingErasure, PrincipalRecord, PrivateStore, StoredOpening, erasure_from_row,
    opening_from_row, principal_from_row, pseudonymized,
};
use connect::{ConnectError, describe};
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, Row, Statement};
use std::sync::{Mutex, MutexGuard, PoisonError};
use stepwise::evidence::Time;

/// Advisory lock key serialising appends ("stepwise" in ASCII).
const APPEND_LOCK: i64 = 0x7374_6570_7769_7365;

/// Advisory lock key serialising schema creation and upgrades.
const SCHEMA_LOCK: i64 = APPEND_LOCK + 1;

/// Rows fetched per round trip by [`Store::scan`].
const SCAN_PAGE: i64 = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stepwise_schema (
    single  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (single),
    version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    idx            BIGINT PRIMARY KEY,
    bytes          BYTEA NOT NULL,
    leaf_hash      BYTEA NOT NULL,
    subtree_hashes BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    id        TEXT PRIMARY KEY,
    hash      BYTEA NOT NULL UNIQUE,
    role      TEXT NOT NULL,
    principal TEXT,
    created   BIGINT NOT NULL,
    revoked   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS decisions (
    seq       BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    principal TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_principal ON decisions (principal, seq);
CREATE TABLE IF NOT EXISTS principals (
    id        TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    secret    BYTEA NOT NULL,
    seq       BIGSERIAL UNIQUE
);
CREATE TABLE IF NOT EXISTS openings (
    entry BIGINT NOT NULL,
    field TEXT NOT NULL,
    salt  BYTEA NOT NULL,
    value BYTEA NOT NULL,
    names TEXT NOT NULL,
    PRIMARY KEY (entry, field)
);
CREATE TABLE IF NOT EXISTS witnessed (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
    sha256 TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erasures (
    pseudonym TEXT PRIMARY KEY,
    reason    TEXT NOT NULL,
    seq       BIGSERIAL UNIQUE,
    logged    BOOLEAN NOT NULL DEFAULT FALSE
);
";

/// Schema 4 → 5: principals were indexed by pseudonym and unnumbered, erasures kept only while
/// pending. (Principals and erasures are numbered in the order made, under the append lock, so
/// that a process learns what others did by asking for those after the last it has seen; see
/// the SQLite store's tables.)
const PRIVATE_FROM_4: &str = "
ALTER TABLE principals DROP CONSTRAINT IF EXISTS principals_pseudonym_key;
ALTER TABLE principals ADD COLUMN seq BIGSERIAL UNIQUE;
ALTER TABLE erasures ADD COLUMN seq BIGSERIAL UNIQUE;
ALTER TABLE erasures ADD COLUMN logged BOOLEAN NOT NULL DEFAULT FALSE;
";

/// `MAX` over the primary key is one step down the index, however long the log.
const SIZE_SQL: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM entries";

const KEY_COLUMNS: &str = "id, hash, role, principal, created, revoked";

/// The PostgreSQL store: one connection, shared by this value's methods.
pub struct PostgresStore {
    /// A mutex and not a `RefCell` so that the store is `Sync` and a server may keep it in an
    /// `Arc`; appends take `&mut self` and skip the lock.
    client: Mutex<Connection>,
}

/// The connection and its prepared statements.
struct Connection {
    client: Client,
    size: Statement,
    entry: Statement,
    scan: Statement,
    lock: Statement,
    check: Statement,
    insert: Statement,
    /// Whether this session holds [`APPEND_LOCK`] beyond a transaction
    /// ([`Store::hold_append_lock`]).
    holding: bool,
    /// Whether this session listens to appends' announcements ([`notify`]).
    listening: bool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/dbname`, or the
    /// `key=value` form libpq accepts), creating the tables if they are missing. Several
    /// processes may connect to one new database at once.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config: Config = url.parse()?;
        let target = describe(&config);
        let mut client = config
            .connect(NoTls)
            .map_err(|source| StoreError::Database(Box::new(ConnectError { target, source })))?;
        // Durability must not depend on the server's default.
        client.batch_execute("SET synchronous_commit = on")?;
        create_schema(&mut client)?;
        let size = client.prepare(SIZE_SQL)?;
        let entry = client
            .prepare("SELECT idx, bytes, leaf_hash, subtree_hashes FROM entries WHERE idx = $1")?;
        let scan = client.prepare(
            "SELECT idx, bytes, leaf_hash, subtree_hashes FROM entries \
             WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3",
        )?;
        let lock = client.prepare("SELECT pg_advisory_xact_lock($1)")?;
        // A separate statement from the lock: in READ COMMITTED each statement sees what was
        // committed before it started, and this one starts once the lock is held.
        let check = client.prepare(&format!(
            "SELECT ({SIZE_SQL}), EXISTS (SELECT 1 FROM checkpoints WHERE size = $1)"
        ))?;
        let insert = client.prepare(
            "WITH new_entries AS (
                 INSERT INTO entries (idx, bytes, leaf_hash, subtree_hashes)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[], $4::BYTEA[])
             ), announced AS (SELECT pg_notify('stepwise_log', $5::BIGINT::TEXT))
             INSERT INTO checkpoints (size, root, note) SELECT $5::BIGINT, $6, $7 FROM announced",
        )?;
        Ok(Self {
            client: Mutex::new(Connection {
                client,
                size,
                entry,
                scan,
                lock,
                check,
                insert,
                holding: false,
                listening: false,
            }),
        })
    }

    /// One batch in one transaction under the append lock (see the module docs).
    fn append_rows(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let (base, checkpoint) = (batch.base, batch.checkpoint);
        let size = sql_index(checkpoint.size)?;
        let conn = self.conn_mut();
        let mut tx = conn.client.transaction()?;
        tx.execute(&conn.lock, &[&APPEND_LOCK])?;
        let row = tx.query_one(&conn.check, &[&size])?;
        let actual = to_size(row.try_get(0)?)?;
        // A checkpoint at the new size is there already when another writer committed the same
        // size first (two processes opening one empty log both sign size 0).
        let taken: bool = row.try_get(1)?;
        if actual != base || taken {
            return Err(StoreError::Conflict {
                expected: base,
                actual,
            });
        }
        // Erasures take the append lock too, so none can commit between this read and the
        // commit below.
        if let Some(seen) = batch.erasures_seen {
            let sql = "SELECT seq, pseudonym FROM erasures WHERE seq > $1 ORDER BY seq";
            let erased = (tx.query(sql, &[&sql_index(seen)?])?.iter())
                .map(|row| erasure_from_row(row.try_get(0)?, row.try_get(1)?))
                .collect::<Result<Vec<_>, StoreError>>()?;
            if !erased.is_empty() {
                return Err(StoreError::Erased(erased));
            }
        }
        if !batch.principals.is_empty() {
            let ids: Vec<&str> = batch.principals.iter().map(|r| r.id.as_str()).collect();
            let pseudonyms: Vec<&str> = (batch.principals.iter())
                .map(|r| r.pseudonym.as_str())
                .collect();
            let secrets: Vec<&[u8]> = batch.principals.iter().map(|r| &r.secret[..]).collect();
            let created: std::collections::HashSet<String> = tx
                .query(
                    "INSERT INTO principals (id, pseudonym, secret) \
                     SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BYTEA[]) \
                     ON CONFLICT (id) DO NOTHING RETURNING id",
                    &[&ids, &pseudonyms, &secrets],
                )?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            let taken: Vec<String> = (ids.iter())
                .filter(|id| !created.contains(**id))
                .map(|id| (*id).to_owned())
                .collect();
            if !taken.is_empty() {
                return Err(StoreError::Taken(taken));
            }
        }
        let entries = batch.entries;
        let idx = (entries.iter().map(|e| sql_index(e.index))).collect::<Result<Vec<_>, _>>()?;
        let bytes: Vec<&[u8]> = entries.iter().map(|e| e.bytes.as_slice()).collect();
        let leaves: Vec<&[u8]> = entries.iter().map(|e| &e.leaf_hash[..]).collect();
        let subtrees: Vec<Vec<u8>> = entries.iter().map(joined_subtrees).collect();
        tx.execute(
            &conn.insert,
            &[
                &idx,
                &bytes,
                &leaves,
                &subtrees,
                &size,
                &&checkpoint.root[..],
                &checkpoint.note,
            ],
        )?;
        if !batch.openings.is_empty() {
            let n = batch.openings.len();
            let mut entry = Vec::with_capacity(n);
            let mut field = Vec::with_capacity(n);
            let mut salt = Vec::with_capacity(n);
            let mut value = Vec::with_capacity(n);
            let mut names = Vec::with_capacity(n);
            for o in batch.openings {
                entry.push(sql_index(o.entry)?);
                field.push(o.opening.field.name());
                salt.push(&o.opening.salt[..]);
                value.push(o.opening.value.as_slice());
                names.push(o.names.as_str());
            }
            tx.execute(
                "INSERT INTO openings (entry, field, salt, value, names) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BYTEA[], $4::BYTEA[], $5::TEXT[])",
                &[&entry, &field, &salt, &value, &names],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held cannot leave a transaction open (the driver rolls
        // back on drop), so the connection is still usable.
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn_mut(&mut self) -> &mut Connection {
        self.client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates the tables, or checks their version, under an advisory lock: two processes
/// creating the same tables at once would otherwise collide in the system catalogues.
fn create_schema(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    tx.batch_execute(SCHEMA)?;
    tx.execute(
        "INSERT INTO stepwise_schema (version) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&SCHEMA_VERSION],
    )?;
    let mut version: i64 = tx
        .query_one("SELECT version FROM stepwise_schema", &[])?
        .try_get(0)?;
    // Versions 2, 3, 5 and 6 lacked only tables that the statements above have created.
    if version == 4 {
        tx.batch_execute(PRIVATE_FROM_4)?;
    }
    if (2..=6).contains(&version) {
        tx.execute(
            "UPDATE stepwise_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )?;
        version = SCHEMA_VERSION;
    }
    if version != SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database's stepwise schema is version {version}, this build knows \
             {SCHEMA_VERSION}; use a matching stepwise version"
        )));
    }
    tx.commit()?;
    Ok(())
}

fn to_size(next: i64) -> Result<u64, StoreError> {
    u64::try_from(next).map_err(|_| StoreError::Corrupt(format!("log size {next}")))
}

fn to_entry(row: &Row) -> Result<Entry, StoreError> {
    entry_from_row(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    )
}

fn to_checkpoint(row: &Row) -> Result<StoredCheckpoint, StoreError> {
    checkpoint_from_row(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
}

fn to_key(row: &Row) -> Result<KeyRecord, StoreError> {
    key_from_row(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
    )
}

impl LogStore for PostgresStore {
    fn size(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let conn = &mut *conn;
        to_size(conn.client.query_one(&conn.size, &[])?.try_get(0)?)
    }

    fn entry(&self, index: u64) -> Result<Option<Entry>, StoreError> {
        let Ok(idx) = i64::try_from(index) else {
            return Ok(None);
        };
        let mut conn = self.conn();
        let conn = &mut *conn;
        conn.client
            .query_opt(&conn.entry, &[&idx])?
            .as_ref()
            .map(to_entry)
            .transpose()
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut next = sql_index(from)?;
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        while next < to {
            // One page at a time, and the connection is free while `visit` runs (it may read
            // the store itself).
            let rows = {
                let mut conn = self.conn();
                let conn = &mut *conn;
                conn.client.query(&conn.scan, &[&next, &to, &SCAN_PAGE])?
            };
            let full = rows.len() as i64 == SCAN_PAGE;
            for row in &rows {
                let entry = to_entry(row)?;
                next = sql_index(entry.index)?.saturating_add(1);
                visit(entry)?;
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    fn append_with(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let appended = self.append_rows(batch);
        let released = self.release_append_lock();
        appended.and(released)
    }

    fn hold_append_lock(&mut self) -> Result<(), StoreError> {
        let conn = self.conn_mut();
        if !conn.holding {
            // Session-level: outlives the next transaction; the transaction-level lock that
            // `append` takes on the same key is then granted at once (same session).
            conn.client
                .execute("SELECT pg_advisory_lock($1)", &[&APPEND_LOCK])?;
            conn.holding = true;
        }
        Ok(())
    }

    fn release_append_lock(&mut self) -> Result<(), StoreError> {
        let conn = self.conn_mut();
        if conn.holding {
            conn.holding = false;
            conn.client
                .execute("SELECT pg_advisory_unlock($1)", &[&APPEND_LOCK])?;
        }
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.conn()
            .client
            .query_opt(
                "SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )?
            .as_ref()
            .map(to_checkpoint)
            .transpose()
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.conn()
            .client
            .query(
                "SELECT size, root, note FROM checkpoints ORDER BY size",
                &[],
            )?
            .iter()
            .map(to_checkpoint)
            .collect()
    }

    fn wait_for_append(&mut self, timeout: std::time::Duration) -> Result<Growth, StoreError> {
        notify::wait(self.conn_mut(), timeout)
    }
}

impl KeyStore for PostgresStore {
    fn put_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        let result = self.conn_mut().client.execute(
            "INSERT INTO keys (id, hash, role, principal, created, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.id,
                &&key.hash[..],
                &key.role.as_str(),
                &key.principal.as_ref().map(|p| p.as_str()),
                &key.created.as_micros(),
                &key.revoked,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(StoreError::Duplicate(
                format!("a key with id {} or the same hash", key.id),
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        self.conn()
            .client
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = $1"),
                &[&&hash[..]],
            )?
            .as_ref()
            .map(to_key)
            .transpose()
    }

    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.conn()
            .client
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY created, id"),
                &[],
            )?
            .iter()
            .map(to_key)
            .collect()
    }

    fn revoke_key(&mut self, id: &str) -> Result<bool, StoreError> {
        let changed = self
            .conn_mut()
            .client
            .execute("UPDATE keys SET revoked = TRUE WHERE id = $1", &[&id])?;
        Ok(changed > 0)
    }
}

impl DecisionStore for PostgresStore {
    fn put_decision(&mut self, at: Time, principal: &str, body: &str) -> Result<u64, StoreError> {
        let seq: i64 = self
            .conn_mut()
            .client
            .query_one(
                "INSERT INTO decisions (at, principal, body) VALUES ($1, $2, $3) RETURNING seq",
                &[&at.as_micros(), &principal, &body],
            )?
            .try_get(0)?;
        u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("decision number {seq}")))
    }

    fn decisions(&self, query: &DecisionQuery<'_>) -> Result<Vec<DecisionRecord>, StoreError> {
        // No decision has a number beyond the database's integers.
        let Ok(after) = i64::try_from(query.after) else {
            return Ok(Vec::new());
        };
        self.conn()
            .client
            .query(
                "SELECT seq, at, principal, body FROM decisions \
                 WHERE seq > $1 AND ($2::TEXT IS NULL OR principal = $2) \
                 AND ($3::BIGINT IS NULL OR at >= $3) ORDER BY seq LIMIT $4",
                &[
                    &after,
                    &query.principal,
                    &query.since.map(Time::as_micros),
                    &sql_limit(query.limit),
                ],
            )?
            .iter()
            .map(|row| {
                decision_from_row(
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                )
            })
            .collect()
    }
}

fn to_principal(row: &Row) -> Result<PrincipalRecord, StoreError> {
    principal_from_row(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
}

impl PrivateStore for PostgresStore {
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.conn()
            .client
            .query_opt(
                "SELECT id, pseudonym, secret FROM principals WHERE id = $1",
                &[&id],
            )?
            .as_ref()
            .map(to_principal)
            .transpose()
    }

    fn create_principals(
        &mut self,
        records: &[PrincipalRecord],
    ) -> Result<Vec<PrincipalRecord>, StoreError> {
        let client = &mut self.conn_mut().client;
        let mut tx = client.transaction()?;
        // Under the append lock: principals are numbered in the order they commit.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        let mut stored = Vec::with_capacity(records.len());
        for r in records {
            tx.execute(
                "INSERT INTO principals (id, pseudonym, secret) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[&r.id, &r.pseudonym, &&r.secret[..]],
            )?;
            let row = tx.query_one(
                "SELECT id, pseudonym, secret FROM principals WHERE id = $1",
                &[&r.id],
            )?;
            stored.push(to_principal(&row)?);
        }
        tx.commit()?;
        Ok(stored)
    }

    fn each_principal_since(
        &self,
        after: u64,
        visit: &mut dyn FnMut(u64, PrincipalRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = sql_index(after)?;
        loop {
            // A page at a time; the connection is free while `visit` runs.
            let rows = self.conn().client.query(
                "SELECT seq, id, pseudonym, secret FROM principals WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
                &[&after, &SCAN_PAGE],
            )?;
            for row in &rows {
                after = row.try_get(0)?;
                let secret: &[u8] = row.try_get(3)?;
                let record = principal_from_row(row.try_get(1)?, row.try_get(2)?, secret)?;
                visit(stored_seq("principal", after)?, record)?;
            }
            if (rows.len() as i64) < SCAN_PAGE {
                return Ok(());
            }
        }
    }

    fn openings(&self, from: u64, to: u64) -> Result<Vec<StoredOpening>, StoreError> {
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        self.conn()
            .client
            .query(
                "SELECT entry, field, salt, value, names FROM openings \
                 WHERE entry >= $1 AND entry < $2 ORDER BY entry, field",
                &[&sql_index(from)?, &to],
            )?
            .iter()
            .map(|row| {
                let field: String = row.try_get(1)?;
                opening_from_row(
                    row.try_get(0)?,
                    &field,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                )
            })
            .collect()
    }

    fn each_promise_opening(
        &self,
        visit: &mut dyn FnMut(StoredOpening) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut from = 0_i64;
        loop {
            // A page at a time, in entry order (an entry holds one promise id at most).
            let rows = self.conn().client.query(
                "SELECT entry, salt, value, names FROM openings WHERE field = 'id' \
                 AND entry >= $1 ORDER BY entry LIMIT $2",
                &[&from, &SCAN_PAGE],
            )?;
            for row in &rows {
                let entry: i64 = row.try_get(0)?;
                from = entry.saturating_add(1);
                visit(opening_from_row(
                    entry,
                    "id",
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                )?)?;
            }
            if (rows.len() as i64) < SCAN_PAGE {
                return Ok(());
            }
        }
    }

    fn erase(&mut self, erase: &Erase<'_>) -> Result<(), StoreError> {
        let client = &mut self.conn_mut().client;
        let mut tx = client.transaction()?;
        // Under the append lock: an append reads the erasures made since its writer last
        // looked, and none may commit between that read and the append's commit.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        tx.execute("DELETE FROM principals WHERE id = $1", &[&erase.id])?;
        tx.execute(
            "DELETE FROM openings WHERE strpos(' ' || names || ' ', ' ' || $1 || ' ') > 0",
            &[&erase.name],
        )?;
        if !erase.outcomes.is_empty() {
            let outcomes = (erase.outcomes.iter().copied())
                .map(sql_index)
                .collect::<Result<Vec<i64>, _>>()?;
            tx.execute("DELETE FROM openings WHERE entry = ANY($1)", &[&outcomes])?;
        }
        tx.execute(
            "UPDATE keys SET revoked = TRUE, principal = NULL WHERE principal = $1",
            &[&erase.id],
        )?;
        let quoted = crate::private::json_string(erase.id);
        let rows = tx.query(
            "SELECT seq, body FROM decisions WHERE principal = $1 OR strpos(body, $2) > 0",
            &[&erase.id, &quoted],
        )?;
        for row in rows {
            let (seq, body): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
            tx.execute(
                "UPDATE decisions SET principal = CASE WHEN principal = $2 THEN $3 ELSE principal END, \
                 body = $4 WHERE seq = $1",
                &[
                    &seq,
                    &erase.id,
                    &erase.pseudonym,
                    &pseudonymized(&body, erase.id, erase.pseudonym),
                ],
            )?;
        }
        if let Some(reason) = erase.reason {
            tx.execute(
                "INSERT INTO erasures (pseudonym, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&erase.pseudonym, &reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn pending_erasures(&self) -> Result<Vec<PendingErasure>, StoreError> {
        self.conn()
            .client
            .query(
                "SELECT pseudonym, reason FROM erasures WHERE NOT logged ORDER BY seq",
                &[],
            )?
            .iter()
            .map(|row| {
                Ok(PendingErasure {
                    pseudonym: row.try_get(0)?,
                    reason: row.try_get(1)?,
                })
            })
            .collect()
    }

    fn last_erasure(&self) -> Result<u64, StoreError> {
        let last: i64 = self
            .conn()
            .client
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM erasures", &[])?
            .try_get(0)?;
        stored_seq("erasure", last)
    }

    fn erasure_logged(&mut self, pseudonym: &str) -> Result<(), StoreError> {
        self.conn_mut().client.execute(
            "UPDATE erasures SET logged = TRUE WHERE pseudonym = $1",
            &[&pseudonym],
        )?;
        Ok(())
    }

    fn scrub(&mut self) -> Result<(), StoreError> {
        // VACUUM removes the dead row versions from the tables' pages (it cannot run in a
        // transaction, so each table is its own statement).
        let client = &mut self.conn_mut().client;
        for table in ["principals", "openings", "keys", "decisions", "erasures"] {
            client.batch_execute(&format!("VACUUM {table}"))?;
        }
        Ok(())
    }
}
