//! What format 3 keeps off the log: each principal's secret (its id ↔ pseudonym) and the
//! openings of every commitment, in the same database as the log and never in it
//! (docs/PRIVACY.md). Erasing them is `forget`; the leaves never change.

use crate::StoreError;
use stepwise::evidence::seal::{Hidden, Opening, SECRET_LEN, Secret};

/// One principal's row: its id, its secret and the pseudonym the secret gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// The id doors use.
    pub id: String,
    /// Its name in the log.
    pub pseudonym: String,
    /// The 32-byte secret the pseudonym is derived from.
    pub secret: Secret,
}

impl std::fmt::Debug for PrincipalRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, not even in a debug print.
        f.debug_struct("PrincipalRecord")
            .field("id", &self.id)
            .field("pseudonym", &self.pseudonym)
            .finish_non_exhaustive()
    }
}

/// An opening as stored: the entry it opens a commitment of, and the pseudonyms that entry
/// names (what `forget` finds it by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOpening {
    /// The entry's log index.
    pub entry: u64,
    /// The opening.
    pub opening: Opening,
    /// The principals the entry names, as in its leaf, separated by single spaces.
    pub names: String,
}

/// One `forget`, done by the store in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Erase<'a> {
    /// The principal's id.
    pub id: &'a str,
    /// Its name in the log's entries (its pseudonym, or its id where the log names it in the
    /// clear): the openings of entries that name it are erased.
    pub name: &'a str,
    /// The outcomes and approvals of its promises, whose openings are erased too: an outcome's
    /// entry names only its author (the promisee), but its note speaks of the promisor; an
    /// approval's names the approver and the subject, but it opens the promise's id.
    pub outcomes: &'a [u64],
    /// What replaces its id in the decision log (its pseudonym).
    pub pseudonym: &'a str,
    /// The reason's code, when an erasure entry is still to be appended (kept as pending).
    pub reason: Option<&'a str>,
}

/// An erasure whose secret and openings are gone but whose erasure entry is not yet in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingErasure {
    /// The forgotten principal's pseudonym.
    pub pseudonym: String,
    /// The reason's code.
    pub reason: String,
}

/// A forgotten principal, as the store numbers erasures (in the order they were made): what a
/// writer that sealed a batch before it must learn before that batch is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Its number: every erasure gets a larger one than all before it.
    pub seq: u64,
    /// The forgotten principal's pseudonym.
    pub pseudonym: String,
}

/// Secrets and openings, kept beside the log.
pub trait PrivateStore: Send {
    /// The principal `id`'s record.
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError>;

    /// Stores `records` (new principals) in one transaction and returns the stored record of
    /// each one's id: another process may have stored one for the same id first, and then that
    /// one is kept and returned.
    fn create_principals(
        &mut self,
        records: &[PrincipalRecord],
    ) -> Result<Vec<PrincipalRecord>, StoreError>;

    /// The principals created after the one numbered `after` (0: all), each with its number,
    /// in the order created. Numbers grow with every principal and are never reused, and a
    /// principal is committed only after every principal with a smaller number: a process
    /// learns what others created by asking for those after the last it has seen.
    fn principals_since(&self, after: u64) -> Result<Vec<(u64, PrincipalRecord)>, StoreError> {
        let mut records = Vec::new();
        self.each_principal_since(after, &mut |seq, record| {
            records.push((seq, record));
            Ok(())
        })?;
        Ok(records)
    }

    /// [`PrivateStore::principals_since`], handed to `visit` one at a time as they are read
    /// (a log of 10^8 events names some 10^7: no list of them all in memory at once).
    fn each_principal_since(
        &self,
        after: u64,
        visit: &mut dyn FnMut(u64, PrincipalRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Every principal's record.
    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        Ok(self
            .principals_since(0)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// The openings kept for entries `from..to`, by entry.
    fn openings(&self, from: u64, to: u64) -> Result<Vec<StoredOpening>, StoreError>;

    /// Every promise id's opening (what maps the ids clients use to the log's), handed to
    /// `visit` one at a time as they are read (a log of 10^8 events holds some 2·10^7).
    fn each_promise_opening(
        &self,
        visit: &mut dyn FnMut(StoredOpening) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Forgets a principal, in one transaction: its record, every opening of an entry that
    /// names it and of the outcomes of its promises, the principal its API keys name (the keys
    /// are revoked), its name in the decision log (replaced by the pseudonym); and records the
    /// erasure as pending until its entry is in the log ([`PrivateStore::erasure_logged`]).
    fn erase(&mut self, erase: &Erase<'_>) -> Result<(), StoreError>;

    /// Erasures whose entry is not yet in the log.
    fn pending_erasures(&self) -> Result<Vec<PendingErasure>, StoreError>;

    /// The number of the latest erasure ([`Erasure::seq`]; 0 before the first).
    fn last_erasure(&self) -> Result<u64, StoreError>;

    /// The erasure of `pseudonym` has its entry in the log.
    fn erasure_logged(&mut self, pseudonym: &str) -> Result<(), StoreError>;

    /// Makes erased rows unrecoverable from the database's files (SQLite: the deleted cells
    /// are zeroed, the WAL checkpointed and truncated; PostgreSQL: the tables vacuumed).
    fn scrub(&mut self) -> Result<(), StoreError>;
}

impl<T: PrivateStore + ?Sized> PrivateStore for Box<T> {
    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        (**self).principal(id)
    }
    fn create_principals(
        &mut self,
        records: &[PrincipalRecord],
    ) -> Result<Vec<PrincipalRecord>, StoreError> {
        (**self).create_principals(records)
    }
    fn each_principal_since(
        &self,
        after: u64,
        visit: &mut dyn FnMut(u64, PrincipalRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        (**self).each_principal_since(after, visit)
    }
    fn openings(&self, from: u64, to: u64) -> Result<Vec<StoredOpening>, StoreError> {
        (**self).openings(from, to)
    }
    fn each_promise_opening(
        &self,
        visit: &mut dyn FnMut(StoredOpening) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        (**self).each_promise_opening(visit)
    }
    fn erase(&mut self, erase: &Erase<'_>) -> Result<(), StoreError> {
        (**self).erase(erase)
    }
    fn pending_erasures(&self) -> Result<Vec<PendingErasure>, StoreError> {
        (**self).pending_erasures()
    }
    fn last_erasure(&self) -> Result<u64, StoreError> {
        (**self).last_erasure()
    }
    fn erasure_logged(&mut self, pseudonym: &str) -> Result<(), StoreError> {
        (**self).erasure_logged(pseudonym)
    }
    fn scrub(&mut self) -> Result<(), StoreError> {
        (**self).scrub()
    }
}

/// A principal record from its stored columns.
pub(crate) fn principal_from_row(
    id: String,
    pseudonym: String,
    secret: &[u8],
) -> Result<PrincipalRecord, StoreError> {
    let secret = Secret::try_from(secret).map_err(|_| {
        StoreError::Corrupt(format!(
            "principal {pseudonym}: its secret is {} bytes, not {SECRET_LEN}",
            secret.len()
        ))
    })?;
    Ok(PrincipalRecord {
        id,
        pseudonym,
        secret,
    })
}

/// An erasure from its stored columns.
pub(crate) fn erasure_from_row(seq: i64, pseudonym: String) -> Result<Erasure, StoreError> {
    Ok(Erasure {
        seq: crate::stored_seq("erasure", seq)?,
        pseudonym,
    })
}

/// An opening from its stored columns.
pub(crate) fn opening_from_row(
    entry: i64,
    field: &str,
    salt: &[u8],
    value: Vec<u8>,
    names: String,
) -> Result<StoredOpening, StoreError> {
    let entry = u64::try_from(entry)
        .map_err(|_| StoreError::Corrupt(format!("an opening of entry {entry}")))?;
    let whose = || format!("the opening of entry {entry}'s {field}");
    let field = Hidden::parse(field)
        .ok_or_else(|| StoreError::Corrupt(format!("{}: unknown field", whose())))?;
    let salt = Secret::try_from(salt)
        .map_err(|_| StoreError::Corrupt(format!("{}: its salt is not 32 bytes", whose())))?;
    Ok(StoredOpening {
        entry,
        opening: Opening { field, salt, value },
        names,
    })
}

/// `text` with every JSON string `"id"` replaced by `"pseudonym"`: a decision record's body
/// after its principal is forgotten.
pub(crate) fn pseudonymized(text: &str, id: &str, pseudonym: &str) -> String {
    text.replace(&json_string(id), &format!("\"{pseudonym}\""))
}

/// `text` as a JSON string, quotes included.
pub(crate) fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
