//! Decision receipts: what a principal, or anyone it shows them to, can check with no server
//! and no database — only the log's verifier key.
//!
//! A receipt holds the decision as the server answered it, a signed note by the log's key over
//! its canonical JSON (RFC 8785), and one C2SP `tlog-proof` for each entry the decision rests
//! on: the policy entry it was decided under and every entry it cites. Each proof carries its
//! entry's bytes (the `extra` line), its index, the inclusion proof and the signed checkpoint
//! it leads to, so it verifies alone. [`Receipt::verify`] checks all of it and names every
//! failure: a bit changed anywhere is found.

use crate::evidence::{Body, Event, jcs};
use crate::ledger::merkle::{self, Hash};
use crate::ledger::note::{LogSigner, LogVerifier, NoteError};
use crate::ledger::policy_sha256;
use crate::ledger::witness_policy::{WitnessPolicy, Witnessed};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The first line of a C2SP tlog-proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The receipt format, also the first line of its signed note.
pub const RECEIPT_FORMAT: &str = "stepwise-receipt/v1";

/// A C2SP tlog-proof: an entry (`extra`: its bytes), its index, the inclusion proof and the
/// signed checkpoint of the tree it is proved in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The entry's canonical bytes (the `extra` line).
    pub extra: Vec<u8>,
    /// The entry's index.
    pub index: u64,
    /// The RFC 6962 audit path, from the leaf's sibling up.
    pub hashes: Vec<Hash>,
    /// The checkpoint, a signed note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// The proof's text, as the specification lays it out.
    pub fn encode(&self) -> String {
        let mut text = format!(
            "{PROOF_HEADER}\nextra {}\nindex {}\n",
            STANDARD.encode(&self.extra),
            self.index
        );
        for hash in &self.hashes {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a proof's text; the error says which line is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or("no empty line before the checkpoint")?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(format!("the first line is not {PROOF_HEADER}"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or("no `extra` line (a receipt's proofs carry their entries)")?;
        let extra = STANDARD
            .decode(extra)
            .map_err(|e| format!("the `extra` line is not base64: {e}"))?;
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .ok_or("no `index` line with a decimal index")?;
        let hashes = lines
            .enumerate()
            .map(|(k, line)| {
                STANDARD
                    .decode(line)
                    .ok()
                    .and_then(|h| Hash::try_from(h.as_slice()).ok())
                    .ok_or_else(|| format!("proof line {} is not a base64 SHA-256", k + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Checks the proof against the log's key: the checkpoint's signature, and that the entry
    /// hashes to a leaf at `index` of the tree it signs. Returns the checkpoint's size.
    pub fn verify(&self, log: &LogVerifier) -> Result<u64, String> {
        let checkpoint = log
            .verify_checkpoint(&self.checkpoint)
            .map_err(|e| format!("its checkpoint: {e}"))?;
        let leaf = merkle::leaf_hash(&self.extra);
        merkle::verify_inclusion(
            &leaf,
            self.index,
            checkpoint.size,
            &self.hashes,
            &checkpoint.root,
        )
        .map_err(|e| {
            format!(
                "the entry is not leaf {} of the signed tree of {}: {e}",
                self.index, checkpoint.size
            )
        })?;
        Ok(checkpoint.size)
    }
}

/// A decision receipt, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// The decision as the server answered it.
    pub decision: Value,
    /// What re-deriving the decision from the log takes beyond its entries, when the receipt
    /// carries it: the policy's text and the log's name of every principal involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayData>,
    /// A signed note by the log's key: [`RECEIPT_FORMAT`], then the decision's canonical JSON,
    /// then (with `replay`) the canonical JSON of its `pseudonyms`.
    pub signed: String,
    /// One tlog-proof per entry the decision rests on: its policy entry first, then each
    /// entry it cites, in order.
    pub proofs: Vec<String>,
}

/// What a receipt carries so that anyone can re-derive its decision from the log's entries
/// (read through the tiles): the log names principals by pseudonyms, the decision by ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayData {
    /// The text of the policy the decision was made under; its SHA-256 is the one the
    /// decision's policy entry records.
    pub policy: String,
    /// Each principal the decision and the policy name that the log's entries know by a
    /// pseudonym (its id) → that pseudonym's 32 hex digits, without its `~` (so that no door's
    /// rewriting of pseudonyms into ids touches them). Principals not listed are named in the
    /// clear. Signed with the decision.
    pub pseudonyms: std::collections::BTreeMap<String, String>,
}

/// What a receipt was found to prove (its decision is the receipt's own).
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Each proved entry: its index and its event.
    pub entries: Vec<(u64, Event)>,
    /// The largest checkpoint size the proofs lead to.
    pub checkpoint_size: u64,
}

impl Receipt {
    /// A receipt for `decision`, signed by the log's key, with its entries' proofs.
    pub fn new(
        decision: Value,
        signer: &LogSigner,
        proofs: &[TlogProof],
    ) -> Result<Self, NoteError> {
        Self::with_replay(decision, None, signer, proofs)
    }

    /// [`Self::new`], carrying what re-deriving the decision takes.
    pub fn with_replay(
        decision: Value,
        replay: Option<ReplayData>,
        signer: &LogSigner,
        proofs: &[TlogProof],
    ) -> Result<Self, NoteError> {
        let text = signed_text(&decision, replay.as_ref())
            .map_err(|reason| NoteError::InvalidNoteText { reason })?;
        let signed = signer.sign_note(&text)?;
        Ok(Self {
            format: RECEIPT_FORMAT.into(),
            decision,
            replay,
            signed,
            proofs: proofs.iter().map(TlogProof::encode).collect(),
        })
    }

    /// Checks everything against the log's key: the signature over the decision, every proof,
    /// and that the proofs are exactly the entries the decision rests on, within the log it
    /// was decided on. Every failure is named.
    pub fn verify(&self, log: &LogVerifier) -> Result<Verified, Vec<String>> {
        let mut failures = Vec::new();
        if self.format != RECEIPT_FORMAT {
            failures.push(format!("format: {:?} is not {RECEIPT_FORMAT}", self.format));
        }
        match (
            log.verify_note(&self.signed),
            signed_text(&self.decision, self.replay.as_ref()),
        ) {
            (Err(e), _) => failures.push(format!("signed: {e}")),
            (Ok(_), Err(e)) => failures.push(format!("decision: {e}")),
            (Ok(text), Ok(expected)) if text != expected => failures.push(
                "signed: the log's key signed another decision (or other pseudonyms) than \
                 this receipt's"
                    .into(),
            ),
            (Ok(_), Ok(_)) => {}
        }
        let number = |key: &str| self.decision.get(key).and_then(Value::as_u64);
        let log_size = number("log_size");
        if log_size.is_none() {
            failures.push("decision: no `log_size`".into());
        }
        if !self.decision["evidence"].is_array() {
            failures.push("decision: no `evidence` list".into());
        }
        let wanted = resting_on(&self.decision);
        let mut entries = Vec::new();
        let mut checkpoint_size = 0;
        for (k, text) in self.proofs.iter().enumerate() {
            let proof = match TlogProof::parse(text) {
                Ok(proof) => proof,
                Err(e) => {
                    failures.push(format!("proofs[{k}]: {e}"));
                    continue;
                }
            };
            let what = format!("proofs[{k}] (entry {})", proof.index);
            match proof.verify(log) {
                Ok(size) => checkpoint_size = checkpoint_size.max(size),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
            if log_size.is_some_and(|n| proof.index >= n) {
                failures.push(format!("{what}: not within the decision's log size"));
            }
            match Event::from_entry(&proof.extra) {
                Ok(event) => entries.push((proof.index, event)),
                Err(e) => failures.push(format!("{what}: the entry does not decode: {e}")),
            }
        }
        let proved: Vec<u64> = entries.iter().map(|(i, _)| *i).collect();
        if proved != wanted && failures.is_empty() {
            failures.push(format!(
                "proofs: they prove entries {proved:?}; the decision rests on {wanted:?} \
                 (its policy entry, then its evidence)"
            ));
        }
        if let Some(policy) = number("policy_entry") {
            let recorded = entries.iter().find_map(|(i, e)| match &e.body {
                Body::Policy { sha256 } if *i == policy => Some(sha256),
                _ => None,
            });
            match (recorded, &self.replay) {
                (None, _) if failures.is_empty() => {
                    failures.push(format!("proofs: entry {policy} is not a policy entry"));
                }
                (Some(sha256), Some(replay)) if policy_sha256(&replay.policy) != *sha256 => {
                    failures.push(format!(
                        "replay.policy: it is not the policy entry {policy} records (SHA-256 {sha256})"
                    ));
                }
                _ => {}
            }
        }
        if failures.is_empty() {
            Ok(Verified {
                entries,
                checkpoint_size,
            })
        } else {
            Err(failures)
        }
    }
}

impl Receipt {
    /// Checks that the checkpoint every proof leads to is signed by `log` and cosigned by a
    /// quorum of `policy`'s witnesses (C2SP tlog-policy): a receipt whose log showed its holder
    /// a history nobody else saw fails here. Returns the witnesses that cosigned, with their
    /// timestamps, for each distinct checkpoint; each failure is named.
    pub fn verify_witnessed(
        &self,
        log: &LogVerifier,
        policy: &WitnessPolicy,
    ) -> Result<Vec<Witnessed>, Vec<String>> {
        let mut failures = Vec::new();
        let mut seen = Vec::new();
        let mut checked: Vec<&str> = Vec::new();
        let proofs: Vec<_> = self.proofs.iter().map(|p| TlogProof::parse(p)).collect();
        for (k, proof) in proofs.iter().enumerate() {
            let Ok(proof) = proof else {
                failures.push(format!("proofs[{k}]: does not parse"));
                continue;
            };
            if checked.contains(&proof.checkpoint.as_str()) {
                continue;
            }
            checked.push(&proof.checkpoint);
            match policy.verify(Some(log), &proof.checkpoint) {
                Ok(witnessed) => seen.push(witnessed),
                Err(e) => failures.push(format!("proofs[{k}] (entry {}): {e}", proof.index)),
            }
        }
        if failures.is_empty() {
            Ok(seen)
        } else {
            Err(failures)
        }
    }
}

/// The smallest tree a decision's receipt can be proved in: its log size, and beyond every
/// entry it rests on.
pub fn covering_size(decision: &Value) -> u64 {
    let past_cited = resting_on(decision).iter().max().map_or(0, |i| i + 1);
    decision["log_size"].as_u64().unwrap_or(0).max(past_cited)
}

/// The entries a decision rests on: its policy entry, then each entry it cites, as a
/// decision's JSON (`DecisionView`) names them.
pub fn resting_on(decision: &Value) -> Vec<u64> {
    let mut indexes: Vec<u64> = decision["policy_entry"].as_u64().into_iter().collect();
    if let Some(cited) = decision["evidence"].as_array() {
        indexes.extend(cited.iter().filter_map(Value::as_u64));
    }
    indexes
}

/// The text the log's key signs for `decision`.
fn signed_text(decision: &Value, replay: Option<&ReplayData>) -> Result<String, String> {
    let canonical = |value: &Value| {
        jcs::to_vec(value)
            .map_err(|e| e.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
    };
    let mut text = format!("{RECEIPT_FORMAT}\n{}\n", canonical(decision)?);
    if let Some(replay) = replay {
        let names = serde_json::to_value(&replay.pseudonyms).map_err(|e| e.to_string())?;
        text.push_str(&canonical(&names)?);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Stamp, Time};
    use crate::ledger::note::Checkpoint;

    fn stamped(json: &str) -> Vec<u8> {
        let mut event = Event::from_json(json).expect("event");
        event.author = event.natural_author().cloned();
        event.stamp = Some(Stamp {
            recorded_at: Time::parse("t", "2026-12-06T12:00:00Z").expect("time"),
            history: false,
        });
        event.canonical_bytes()
    }

    /// A log of a policy entry and three ratings, its signer, and a receipt for a decision
    /// resting on the policy and ratings 1 and 3.
    fn story() -> (LogSigner, Receipt) {
        let signer = LogSigner::from_seed("receipt.test/log", [9; 32]).expect("signer");
        let mut policy = Event::from_json(
            r#"{"kind":"rating","at":"2026-12-06T11:00:00Z","rater":"a","subject":"b","value":1}"#,
        )
        .expect("event");
        policy.body = Body::Policy {
            sha256: policy_sha256(POLICY),
        };
        policy.stamp = Some(Stamp {
            recorded_at: Time::parse("t", "2026-12-06T11:00:00Z").expect("time"),
            history: false,
        });
        let mut entries = vec![policy.canonical_bytes()];
        for (rater, value) in [("a", "1"), ("c", "-1"), ("d", "0.5")] {
            entries.push(stamped(&format!(
                r#"{{"kind":"rating","at":"2026-12-06T11:30:00Z","rater":"{rater}","subject":"b","value":{value}}}"#
            )));
        }
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let size = leaves.len() as u64;
        let root = merkle::root(leaves.as_slice(), size).expect("root");
        let checkpoint = signer
            .sign_checkpoint(&Checkpoint {
                origin: "receipt.test/log".into(),
                size,
                root,
                extensions: Vec::new(),
            })
            .expect("checkpoint");
        let proof = |index: u64| TlogProof {
            extra: entries[index as usize].clone(),
            index,
            hashes: merkle::inclusion_proof(leaves.as_slice(), index, size).expect("proof"),
            checkpoint: checkpoint.clone(),
        };
        let decision = serde_json::json!({"subject": "b", "allowed": true, "limit": 10.0,
            "evidence": [1, 3], "log_size": 4, "policy_entry": 0,
            "at": "2026-12-06T12:00:00Z"});
        let replay = ReplayData {
            policy: POLICY.into(),
            pseudonyms: [("b".to_owned(), "0f".repeat(16))].into(),
        };
        let proofs = [proof(0), proof(1), proof(3)];
        let receipt =
            Receipt::with_replay(decision, Some(replay), &signer, &proofs).expect("receipt");
        (signer, receipt)
    }

    /// The policy text the story's receipt carries.
    const POLICY: &str = "[ledger]\n";

    #[test]
    fn replay_data_is_held_to_the_policy_entry_and_the_signature() {
        let (signer, receipt) = story();
        let log = signer.verifier();
        let mut edited = receipt.clone();
        if let Some(replay) = edited.replay.as_mut() {
            replay.policy.push_str("# edited\n");
        }
        let failures = edited.verify(&log).expect_err("an edited policy text");
        assert!(
            failures.iter().any(|f| f.starts_with("replay.policy")),
            "{failures:?}"
        );
        let mut renamed = receipt.clone();
        if let Some(replay) = renamed.replay.as_mut() {
            replay.pseudonyms.insert("b".into(), "1f".repeat(16));
        }
        let failures = renamed.verify(&log).expect_err("another pseudonym");
        assert!(
            failures.iter().any(|f| f.starts_with("signed")),
            "{failures:?}"
        );
        let mut stripped = receipt;
        stripped.replay = None;
        assert!(
            stripped.verify(&log).is_err(),
            "replay data cannot be dropped either"
        );
    }

    #[test]
    fn a_receipt_verifies_with_the_log_key_alone_and_a_proof_is_c2sp_text() {
        let (signer, receipt) = story();
        let verified = receipt.verify(&signer.verifier()).expect("verifies");
        assert_eq!(verified.checkpoint_size, 4);
        let indexes: Vec<u64> = verified.entries.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [0, 1, 3]);
        let first = &receipt.proofs[0];
        assert!(
            first.starts_with("c2sp.org/tlog-proof@v1\nextra "),
            "{first}"
        );
        assert!(first.contains("\nindex 0\n"), "{first}");
        assert_eq!(TlogProof::parse(first).expect("parses").encode(), *first);
        // Another key does not do.
        let other = LogSigner::from_seed("receipt.test/log", [8; 32]).expect("signer");
        let failures = receipt.verify(&other.verifier()).expect_err("another key");
        assert!(
            failures.iter().any(|f| f.starts_with("signed:")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_and_names_what_failed() {
        let (signer, receipt) = story();
        let log = signer.verifier();
        let text = serde_json::to_vec(&receipt).expect("json");
        for (byte, bit) in (0..text.len()).map(|i| (i, i % 8)) {
            let mut flipped = text.clone();
            flipped[byte] ^= 1 << bit;
            let Ok(changed) = serde_json::from_slice::<Receipt>(&flipped) else {
                continue; // Not a receipt any more: refused before any check.
            };
            if changed == receipt {
                continue; // The same JSON (an escape spelt another way).
            }
            let failures = changed
                .verify(&log)
                .expect_err(&format!("byte {byte} bit {bit} went unnoticed"));
            assert!(!failures.is_empty() && failures.iter().all(|f| f.contains(':')));
        }
    }

    #[test]
    fn a_receipt_written_and_read_back_verifies_whatever_its_numbers() {
        let (signer, receipt) = story();
        let mut decision = receipt.decision.clone();
        let mut x = 0.1_f64;
        for k in 0..200 {
            x = (x * 7.3 + 1.0 / 3.0) % 1.0;
            decision[format!("n{k}")] = Value::from(x / 7.0);
        }
        decision["tiny"] = Value::from(5e-324);
        decision["huge"] = Value::from(1.797_693_134_862_315_7e308);
        let proofs: Vec<TlogProof> = receipt
            .proofs
            .iter()
            .map(|p| TlogProof::parse(p).expect("proof"))
            .collect();
        let receipt = Receipt::new(decision, &signer, &proofs).expect("receipt");
        let text = serde_json::to_string_pretty(&receipt).expect("json");
        let read: Receipt = serde_json::from_str(&text).expect("read back");
        read.verify(&signer.verifier())
            .expect("verifies as written");
    }

    #[test]
    fn proofs_that_are_not_the_decisions_entries_are_refused() {
        let (signer, mut receipt) = story();
        receipt.proofs.remove(2);
        let failures = receipt.verify(&signer.verifier()).expect_err("one missing");
        assert!(
            failures[0].contains("the decision rests on [0, 1, 3]"),
            "{failures:?}"
        );
        let (signer, mut receipt) = story();
        receipt.proofs.swap(0, 1);
        let failures = receipt
            .verify(&signer.verifier())
            .expect_err("out of order");
        assert!(failures[0].starts_with("proofs:"), "{failures:?}");
    }
}
