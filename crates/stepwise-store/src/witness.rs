//! What `stepwise witness serve` keeps, in its own SQLite file: for each log it follows, the
//! latest checkpoint it cosigned; and every validly signed checkpoint it refused as
//! inconsistent (a 409 or a 422), which may be the proof that a log showed two histories.
//!
//! The check against the latest cosigned checkpoint and the update of it happen in one
//! write transaction, so two submissions can never roll the witness back (C2SP tlog-witness).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use stepwise::ledger::cosign::CosignerKey;
use stepwise::ledger::merkle::Hash;
use stepwise::ledger::note::{LogVerifier, SignedNote};
use stepwise::ledger::witness::{self, AddCheckpoint, Latest, Refusal};

use crate::StoreError;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS cosigned (
    origin      TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    root        BLOB NOT NULL,
    note        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body   TEXT NOT NULL
);
";

/// The witness's state.
pub struct WitnessState {
    conn: Connection,
}

/// One refused, validly signed submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedSubmission {
    /// When (seconds since the epoch).
    pub at: u64,
    /// The log's origin.
    pub origin: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Why.
    pub reason: String,
    /// The request body, verbatim.
    pub body: String,
}

/// The lowercase hex SHA-256 of a log's origin: its name in the witness's monitoring URLs.
pub fn origin_hash(origin: &str) -> String {
    Sha256::digest(origin.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl WitnessState {
    /// Opens (creating if needed) the state file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(TABLES)?;
        Ok(Self { conn })
    }

    /// Handles an `add-checkpoint` body: checks it against the latest checkpoint cosigned for
    /// its origin and, when it passes, cosigns it with `key` at `now` and stores it, all in one
    /// transaction. `logs` are the log keys the witness trusts (any origins). Returns the
    /// answer's signature lines, or the refusal.
    pub fn add_checkpoint(
        &mut self,
        body: &[u8],
        logs: &[LogVerifier],
        key: &CosignerKey,
        now: u64,
    ) -> Result<Result<String, Refusal>, StoreError> {
        let request = match AddCheckpoint::parse(body) {
            Ok(request) => request,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let origin = request
            .checkpoint
            .split_once('\n')
            .map_or("", |(origin, _)| origin);
        let keys: Vec<LogVerifier> = logs
            .iter()
            .filter(|k| k.name() == origin)
            .cloned()
            .collect();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = tx
            .prepare_cached("SELECT size, root FROM cosigned WHERE origin = ?1")?
            .query_row([origin], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?
            .map(|(size, root)| {
                Ok::<_, StoreError>(Latest {
                    size: u64::try_from(size)
                        .map_err(|_| StoreError::Corrupt(format!("size {size}")))?,
                    root: Hash::try_from(root.as_slice())
                        .map_err(|_| StoreError::Corrupt("a root is not 32 bytes".into()))?,
                })
            })
            .transpose()?;
        let checkpoint = match witness::check(&request, &keys, latest.as_ref()) {
            Ok(checkpoint) => checkpoint,
            Err(refusal) => {
                if matches!(refusal, Refusal::Conflict(_) | Refusal::Unprocessable(_)) {
                    tx.prepare_cached(
                        "INSERT INTO refused (at, origin, status, reason, body) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        i64::try_from(now).unwrap_or(i64::MAX),
                        origin,
                        refusal.status(),
                        refusal.to_string(),
                        request.encode()
                    ])?;
                    tx.commit()?;
                }
                return Ok(Err(refusal));
            }
        };
        let Some(line) = key.cosign(&checkpoint, now) else {
            return Ok(Err(Refusal::BadRequest(
                "an origin over 255 bytes cannot be cosigned with ML-DSA-44".into(),
            )));
        };
        // What monitors read: the checkpoint, the log's signatures this witness verified, and
        // its own cosignature.
        let signed = SignedNote::parse(&request.checkpoint)
            .map_err(|e| StoreError::Corrupt(format!("a checked note no longer parses: {e}")))?;
        let mut note = format!("{}\n", signed.text);
        for log in &keys {
            for sig in signed.lines_by(log.name(), log.key_id()) {
                note.push_str(sig.line);
                note.push('\n');
            }
        }
        note.push_str(&line);
        let size = i64::try_from(checkpoint.size)
            .map_err(|_| StoreError::Corrupt(format!("size {}", checkpoint.size)))?;
        tx.prepare_cached(
            "INSERT INTO cosigned (origin, origin_hash, size, root, note) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (origin) DO UPDATE \
             SET size = excluded.size, root = excluded.root, note = excluded.note",
        )?
        .execute(params![
            origin,
            origin_hash(origin),
            size,
            &checkpoint.root[..],
            note
        ])?;
        tx.commit()?;
        Ok(Ok(line))
    }

    /// The latest checkpoint cosigned for the log whose origin hashes to `origin_hash`, with
    /// the log's signatures and this witness's cosignature.
    pub fn checkpoint(&self, origin_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT note FROM cosigned WHERE origin_hash = ?1")?
            .query_row([origin_hash], |r| r.get(0))
            .optional()?)
    }

    /// Every refused, validly signed submission, oldest first.
    pub fn refused(&self) -> Result<Vec<RefusedSubmission>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT at, origin, status, reason, body FROM refused ORDER BY seq")?;
        let rows = statement.query_map([], |r| {
            Ok(RefusedSubmission {
                at: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                origin: r.get(1)?,
                status: r.get(2)?,
                reason: r.get(3)?,
                body: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stepwise::ledger::cosign::CosignerAlgorithm;
    use stepwise::ledger::merkle::{Frontier, consistency_proof, leaf_hash};
    use stepwise::ledger::note::{Checkpoint, LogSigner};

    fn log() -> LogSigner {
        LogSigner::from_seed("log.example/state", [6; 32]).expect("name")
    }

    /// The signed checkpoint of a tree of `n` made-up leaves, and the leaves.
    fn tree(n: u64, salt: u8) -> (String, Vec<Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[salt, i as u8])).collect();
        let mut f = Frontier::new();
        for leaf in &leaves {
            f.push(*leaf, &mut Vec::new());
        }
        let cp = Checkpoint {
            origin: "log.example/state".into(),
            size: n,
            root: f.root(),
            extensions: Vec::new(),
        };
        (log().sign_checkpoint(&cp).expect("signs"), leaves)
    }

    fn body(old: u64, new: u64, salt: u8) -> Vec<u8> {
        let (checkpoint, leaves) = tree(new, salt);
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            consistency_proof(leaves.as_slice(), old, new).expect("proof")
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint,
        }
        .encode()
        .into_bytes()
    }

    #[test]
    fn a_witness_cosigns_what_extends_its_last_and_keeps_what_it_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("witness.db");
        let key =
            CosignerKey::from_seed("w.example", CosignerAlgorithm::Ed25519, [1; 32]).expect("name");
        let logs = [log().verifier()];
        let mut state = WitnessState::open(&path).expect("opens");
        let add = |state: &mut WitnessState, body: Vec<u8>| {
            state
                .add_checkpoint(&body, &logs, &key, 1_800_000_000)
                .expect("the state answers")
        };
        assert!(add(&mut state, body(0, 4, 0)).is_ok());
        assert!(add(&mut state, body(4, 9, 0)).is_ok());
        // Another history of the same log: 409 from 0, 422 from its size; both kept.
        assert_eq!(add(&mut state, body(0, 12, 1)), Err(Refusal::Conflict(9)));
        assert!(matches!(
            add(&mut state, body(9, 12, 1)),
            Err(Refusal::Unprocessable(_))
        ));
        // An unknown log is refused and not kept (its signature proves nothing).
        let stranger = LogSigner::from_seed("log.example/other", [7; 32]).expect("name");
        let cp = Checkpoint {
            origin: "log.example/other".into(),
            size: 0,
            root: stepwise::ledger::merkle::empty_root(),
            extensions: Vec::new(),
        };
        let note = stranger.sign_checkpoint(&cp).expect("signs");
        let unknown = format!("old 0\n\n{note}").into_bytes();
        assert!(matches!(
            add(&mut state, unknown),
            Err(Refusal::UnknownLog(_))
        ));
        drop(state);

        // Reopened: it still stands at 9, and serves that checkpoint with its cosignature.
        let state = WitnessState::open(&path).expect("reopens");
        let served = state
            .checkpoint(&origin_hash("log.example/state"))
            .expect("reads")
            .expect("a checkpoint");
        assert!(served.contains("\n9\n") && served.contains("\u{2014} w.example "));
        let refused = state.refused().expect("reads");
        let statuses: Vec<u16> = refused.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [409, 422]);
        assert!(
            refused
                .iter()
                .all(|r| r.body.contains("log.example/state\n12\n"))
        );
    }
}
