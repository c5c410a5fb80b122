//! C2SP `tlog-cosignature`: the Ed25519 `cosignature/v1` by which a witness states "as of this
//! time, the largest consistent tree I have seen of this log has this root".
//!
//! A cosigner key is an Ed25519 key of signature type 0x04, so that its key ID and vkey differ
//! from a log key's even for the same bytes. The signed message is `cosignature/v1`, a
//! `time <seconds>` line and the checkpoint's body; the signature line carries the key ID, the
//! timestamp (8 bytes, big-endian) and the 64-byte signature.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::note::{Checkpoint, KeyType, LogSigner, LogVerifier, NoteError, SignedNote};

/// The header line of the signed message, for domain separation.
pub const COSIGNATURE_V1: &str = "cosignature/v1";

/// The message a `cosignature/v1` signs over a checkpoint body (the note's text).
pub fn signed_message(body: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1}\ntime {timestamp}\n{body}")
}

/// A witness's private cosigning key.
#[derive(Clone)]
pub struct CosignerKey(LogSigner);

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CosignerKey").field(&self.0.name()).finish()
    }
}

impl CosignerKey {
    /// A new key named `name` (a schema-less URL, by convention), from operating-system
    /// randomness.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        LogSigner::generate_typed(name, KeyType::Cosigner).map(Self)
    }

    /// The key with this name and Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        LogSigner::from_seed_typed(name, KeyType::Cosigner, seed).map(Self)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        LogSigner::parse_typed(text, KeyType::Cosigner).map(Self)
    }

    /// The private key text; store it like a private key.
    pub fn encode(&self) -> String {
        self.0.encode()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignerVerifier {
        CosignerVerifier(self.0.verifier())
    }

    /// The signature line (with its newline) of a `cosignature/v1` over `checkpoint` at
    /// `timestamp` (seconds since the epoch; never zero, per tlog-witness).
    pub fn cosign(&self, checkpoint: &Checkpoint, timestamp: u64) -> String {
        let message = signed_message(&checkpoint.body(), timestamp);
        let signature = self.0.sign_bytes(message.as_bytes());
        let verifier = self.0.verifier();
        let mut blob = Vec::with_capacity(4 + 8 + 64);
        blob.extend_from_slice(&verifier.key_id());
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature);
        format!("\u{2014} {} {}\n", self.name(), STANDARD.encode(blob))
    }
}

/// A witness's public key: what a log, a monitor or a receipt's reader trusts it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerVerifier(LogVerifier);

/// Why a cosignature by a known witness does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// Its line is not 4 + 8 + 64 bytes.
    #[error("the cosignature by {name} is not a timestamp and an Ed25519 signature")]
    Malformed {
        /// The witness's key name.
        name: String,
    },
    /// The timestamp is zero or above 2^63 - 1.
    #[error(
        "the cosignature by {name} has the timestamp {timestamp}, which tlog-cosignature forbids"
    )]
    Timestamp {
        /// The witness's key name.
        name: String,
        /// The timestamp found.
        timestamp: u64,
    },
    /// The signature does not verify.
    #[error("the cosignature by {name} does not verify")]
    BadSignature {
        /// The witness's key name.
        name: String,
    },
}

impl CosignerVerifier {
    /// Parses a vkey `<name>+<hex key id>+<base64(0x04 || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        LogVerifier::parse_typed(vkey, KeyType::Cosigner).map(Self)
    }

    /// The vkey text.
    pub fn encode(&self) -> String {
        self.0.encode()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.public_key()
    }

    /// The 4-byte key ID its signature lines carry.
    pub fn key_id(&self) -> [u8; 4] {
        self.0.key_id()
    }

    /// This witness's valid cosignature on the note, as its timestamp: `Ok(None)` when the note
    /// carries no line by this key, an error when a line by it does not verify.
    pub fn cosigned(&self, note: &SignedNote<'_>) -> Result<Option<u64>, CosignatureError> {
        let mut found = None;
        for line in note.lines_by(self.0.name(), self.0.key_id()) {
            let malformed = || CosignatureError::Malformed {
                name: self.name().to_owned(),
            };
            let (time, sig) = line
                .signature
                .split_first_chunk::<8>()
                .ok_or_else(malformed)?;
            let sig = <&[u8; 64]>::try_from(sig).map_err(|_| malformed())?;
            let timestamp = u64::from_be_bytes(*time);
            if timestamp == 0 || timestamp > i64::MAX as u64 {
                return Err(CosignatureError::Timestamp {
                    name: self.name().to_owned(),
                    timestamp,
                });
            }
            self.0
                .verify_bytes(signed_message(note.text, timestamp).as_bytes(), sig)
                .map_err(|()| CosignatureError::BadSignature {
                    name: self.name().to_owned(),
                })?;
            found = Some(found.map_or(timestamp, |t: u64| t.max(timestamp)));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 7,
            root: [3; 32],
            extensions: Vec::new(),
        }
    }

    fn cosigned(key: &CosignerKey, timestamp: u64) -> String {
        let log = LogSigner::from_seed("example.com/log", [1; 32]).expect("name");
        let note = log.sign_checkpoint(&checkpoint()).expect("signs");
        note + &key.cosign(&checkpoint(), timestamp)
    }

    #[test]
    fn the_key_id_commits_to_the_cosignature_type() {
        let key = CosignerKey::from_seed("witness.example/w1", [9; 32]).expect("name");
        let public = key.verifier().public_key();
        let mut input = b"witness.example/w1\n\x04".to_vec();
        input.extend_from_slice(&public);
        let id = &Sha256::digest(&input)[..4];
        let vkey = key.verifier().encode();
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        assert!(vkey.starts_with(&format!("witness.example/w1+{hex}+")));
        assert_eq!(
            STANDARD
                .decode(vkey.rsplit('+').next().unwrap_or(""))
                .expect("base64")[0],
            0x04
        );
        // A log key's vkey is refused as a cosigner key, and the other way round.
        let log = LogSigner::from_seed("witness.example/w1", [9; 32]).expect("name");
        assert!(matches!(
            CosignerVerifier::parse(&log.verifier().encode()),
            Err(NoteError::UnsupportedAlgorithm {
                alg: 1,
                expected: 4,
                ..
            })
        ));
        assert!(LogVerifier::parse(&vkey).is_err());
        assert_eq!(
            CosignerKey::parse(&key.encode())
                .expect("parses")
                .verifier(),
            key.verifier()
        );
    }

    #[test]
    fn a_cosignature_verifies_and_any_change_breaks_it() {
        let key = CosignerKey::from_seed("witness.example/w1", [9; 32]).expect("name");
        let note = cosigned(&key, 1_700_000_000);
        let parsed = SignedNote::parse(&note).expect("syntax");
        assert_eq!(key.verifier().cosigned(&parsed), Ok(Some(1_700_000_000)));

        // Another witness's key finds no line of its own.
        let other = CosignerKey::from_seed("witness.example/w2", [8; 32]).expect("name");
        assert_eq!(other.verifier().cosigned(&parsed), Ok(None));

        // The same line under another body fails.
        let moved = note.replacen("\n7\n", "\n8\n", 1);
        let parsed = SignedNote::parse(&moved).expect("syntax");
        assert!(matches!(
            key.verifier().cosigned(&parsed),
            Err(CosignatureError::BadSignature { .. })
        ));
        // A zero timestamp is refused before the signature is looked at.
        let zero = cosigned(&key, 0);
        let parsed = SignedNote::parse(&zero).expect("syntax");
        assert!(matches!(
            key.verifier().cosigned(&parsed),
            Err(CosignatureError::Timestamp { timestamp: 0, .. })
        ));
    }

    #[test]
    fn the_signed_message_is_the_specified_text() {
        assert_eq!(
            signed_message(
                "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                1679315147
            ),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }
}
