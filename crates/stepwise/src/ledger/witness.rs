//! C2SP `tlog-witness`: the `add-checkpoint` request a log sends a witness, and the witness's
//! rules for cosigning it, without any I/O. The caller keeps, per log origin, the latest
//! checkpoint it cosigned, and must check and store atomically (the specification's race).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::merkle::{self, Hash};
use super::note::{Checkpoint, LogVerifier, NoteError, SignedNote};

/// A client sends at most this many consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;
/// An `add-checkpoint` body is at most this many bytes (a checkpoint with 100 signatures and a
/// full proof fits well inside).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The media type of a 409 answer's body.
pub const SIZE_MEDIA_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned, as the client believes.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: String,
}

/// What a witness answers when it does not cosign, with the HTTP status the specification
/// gives each case.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the body is malformed, or the old size is above the checkpoint's.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no valid signature by a key the witness trusts for the origin.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: the witness follows no log of this origin.
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    /// 409: the old size is not the size the witness last cosigned (which it returns).
    #[error("the witness last cosigned size {0}")]
    Conflict(u64),
    /// 422: the checkpoint is not consistent with what the witness cosigned.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
}

impl Refusal {
    /// The HTTP status code of this answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Conflict(_) => 409,
            Self::Unprocessable(_) => 422,
        }
    }
}

fn bad(reason: impl Into<String>) -> Refusal {
    Refusal::BadRequest(reason.into())
}

impl AddCheckpoint {
    /// The body as the specification lays it out.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a body; a malformed one is a 400 naming the fault.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        if body.len() > MAX_BODY_BYTES {
            return Err(bad(format!("the body is over {MAX_BODY_BYTES} bytes")));
        }
        let body = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let (head, checkpoint) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        if old.is_empty()
            || !old.bytes().all(|b| b.is_ascii_digit())
            || (old.len() > 1 && old.starts_with('0'))
        {
            return Err(bad(format!("the old size {old:?} is not a decimal number")));
        }
        let old_size = old
            .parse()
            .map_err(|_| bad(format!("the old size {old:?} does not fit in 64 bits")))?;
        let mut proof = Vec::new();
        for (n, line) in lines.enumerate() {
            if n == MAX_PROOF_LINES {
                return Err(bad(format!("more than {MAX_PROOF_LINES} proof lines")));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|h| Hash::try_from(h.as_slice()).ok())
                .ok_or_else(|| bad(format!("proof line {} is not a base64 SHA-256", n + 1)))?;
            proof.push(hash);
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// What the witness last cosigned for a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// The witness's checks, in the specification's order: the origin must be one it follows
/// (`keys` are the keys it trusts for that origin; empty means unknown, 404); a trusted key
/// must have signed it (403); the old size must not exceed the new (400) and must equal what
/// it last cosigned (`latest`, or 0; 409); a size-0 checkpoint has the empty root (422); the
/// proof must be empty from 0 and must verify otherwise (422); equal sizes need equal roots
/// (422). Returns the checkpoint to cosign.
pub fn check(
    request: &AddCheckpoint,
    keys: &[LogVerifier],
    latest: Option<&Latest>,
) -> Result<Checkpoint, Refusal> {
    let signed = SignedNote::parse(&request.checkpoint).map_err(|e| bad(e.to_string()))?;
    let checkpoint = Checkpoint::parse(signed.text).map_err(|e| bad(e.to_string()))?;
    if keys.is_empty() {
        return Err(Refusal::UnknownLog(checkpoint.origin));
    }
    let mut verified = false;
    for key in keys {
        match key.verify_checkpoint(&request.checkpoint) {
            Ok(_) => verified = true,
            Err(NoteError::NoSignature { .. }) => {}
            Err(e) => return Err(Refusal::Forbidden(e.to_string())),
        }
    }
    if !verified {
        return Err(Refusal::Forbidden(
            "no signature by a key trusted for this log".into(),
        ));
    }
    if request.old_size > checkpoint.size {
        return Err(bad(format!(
            "the old size {} is above the checkpoint's size {}",
            request.old_size, checkpoint.size
        )));
    }
    let (latest_size, latest_root) = latest.map_or((0, merkle::empty_root()), |l| (l.size, l.root));
    if request.old_size != latest_size {
        return Err(Refusal::Conflict(latest_size));
    }
    if checkpoint.size == 0 && checkpoint.root != merkle::empty_root() {
        return Err(Refusal::Unprocessable(
            "a checkpoint of size 0 must have the empty tree's root".into(),
        ));
    }
    if request.old_size == 0 {
        if !request.proof.is_empty() {
            return Err(Refusal::Unprocessable(
                "the proof from size 0 must be empty".into(),
            ));
        }
    } else if request.old_size == checkpoint.size {
        if checkpoint.root != latest_root {
            return Err(Refusal::Unprocessable(format!(
                "a checkpoint of the cosigned size {} with another root",
                checkpoint.size
            )));
        }
    } else {
        merkle::verify_consistency(
            request.old_size,
            checkpoint.size,
            &request.proof,
            &latest_root,
            &checkpoint.root,
        )
        .map_err(|e| {
            Refusal::Unprocessable(format!(
                "not consistent with the cosigned tree of {}: {e}",
                request.old_size
            ))
        })?;
    }
    Ok(checkpoint)
}

/// Parses a 409 body: a decimal size and a newline.
pub fn parse_size(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?.strip_suffix('\n')?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::{Frontier, consistency_proof, leaf_hash};
    use crate::ledger::note::LogSigner;

    fn log() -> LogSigner {
        LogSigner::from_seed("log.example/w", [4; 32]).expect("name")
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn tree(n: u64) -> (Checkpoint, String) {
        let mut f = Frontier::new();
        for leaf in leaves(n) {
            f.push(leaf, &mut Vec::new());
        }
        let cp = Checkpoint {
            origin: "log.example/w".into(),
            size: n,
            root: f.root(),
            extensions: Vec::new(),
        };
        let note = log().sign_checkpoint(&cp).expect("signs");
        (cp, note)
    }

    fn request(old: u64, new: u64) -> AddCheckpoint {
        let all = leaves(new.max(1));
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            consistency_proof(&all, old, new).expect("proof")
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: tree(new).1,
        }
    }

    fn latest(n: u64) -> Latest {
        let (cp, _) = tree(n);
        Latest {
            size: cp.size,
            root: cp.root,
        }
    }

    #[test]
    fn a_body_round_trips_and_bad_bodies_are_400s() {
        let r = request(3, 9);
        assert!(r.encode().starts_with("old 3\n"));
        assert_eq!(AddCheckpoint::parse(r.encode().as_bytes()), Ok(r));
        for body in [
            "old 01\n\nx",
            "old -1\n\nx",
            "old 3\nnot-base64\n\nx",
            "new 3\n\nx",
            "old 3\n",
        ] {
            assert!(
                matches!(
                    AddCheckpoint::parse(body.as_bytes()),
                    Err(Refusal::BadRequest(_))
                ),
                "{body}"
            );
        }
        let many = format!(
            "old 1\n{}\nx",
            format!("{}\n", STANDARD.encode([0u8; 32])).repeat(64)
        );
        assert!(
            matches!(AddCheckpoint::parse(many.as_bytes()), Err(Refusal::BadRequest(m)) if m.contains("63"))
        );
    }

    #[test]
    fn the_witness_answers_each_case_with_its_status() {
        let keys = [log().verifier()];
        assert_eq!(check(&request(0, 5), &keys, None).map(|c| c.size), Ok(5));
        assert_eq!(
            check(&request(5, 9), &keys, Some(&latest(5))).map(|c| c.size),
            Ok(9)
        );
        assert_eq!(
            check(&request(9, 9), &keys, Some(&latest(9))).map(|c| c.size),
            Ok(9)
        );
        assert_eq!(
            check(&request(0, 9), &keys, Some(&latest(5))),
            Err(Refusal::Conflict(5))
        );
        assert_eq!(
            check(&request(4, 9), &keys, Some(&latest(5))).map_err(|r| r.status()),
            Err(409)
        );
        assert_eq!(
            check(&request(5, 9), &[], None).map_err(|r| r.status()),
            Err(404)
        );
        let stranger = LogSigner::from_seed("log.example/w", [5; 32]).expect("name");
        assert_eq!(
            check(&request(0, 5), &[stranger.verifier()], None).map_err(|r| r.status()),
            Err(403)
        );
        let mut high = request(5, 9);
        high.old_size = 10;
        assert_eq!(
            check(&high, &keys, Some(&latest(10))).map_err(|r| r.status()),
            Err(400)
        );
        // A split view: the witness cosigned 5 of another history.
        let other = Latest {
            size: 5,
            root: [1; 32],
        };
        assert_eq!(
            check(&request(5, 9), &keys, Some(&other)).map_err(|r| r.status()),
            Err(422)
        );
        assert_eq!(
            check(&request(5, 5), &keys, Some(&other)).map_err(|r| r.status()),
            Err(422)
        );
        let mut proof_from_zero = request(0, 9);
        proof_from_zero.proof.push([0; 32]);
        assert_eq!(
            check(&proof_from_zero, &keys, None).map_err(|r| r.status()),
            Err(422)
        );
        let empty = Checkpoint {
            origin: "log.example/w".into(),
            size: 0,
            root: [9; 32],
            extensions: vec![],
        };
        let zero = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: log().sign_checkpoint(&empty).expect("signs"),
        };
        assert_eq!(check(&zero, &keys, None).map_err(|r| r.status()), Err(422));
        assert_eq!(parse_size(b"12\n"), Some(12));
        assert_eq!(parse_size(b"12"), None);
    }
}
