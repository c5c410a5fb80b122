//! C2SP `tlog-cosignature`: the statement by which a witness says "as of this time, the largest
//! consistent tree I have seen of this log has this root", in its two kinds:
//!
//! * Ed25519 `cosignature/v1` (key type 0x04): the signed message is `cosignature/v1`, a
//!   `time <seconds>` line and the checkpoint's body;
//! * ML-DSA-44 (FIPS 204, key type 0x06), the kind the specification recommends: the signed
//!   message is the binary `cosigned_message` (`subtree/v1\n\0`, the cosigner's name, the
//!   timestamp, the log's origin, 0, the tree size and the root hash).
//!
//! The type byte is in the key ID and the vkey, so that a key of one kind is never taken for
//! another. A signature line carries the key ID, the timestamp (8 bytes, big-endian) and the
//! signature (64 or 2,420 bytes).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ml_dsa::signature::{Keypair as _, Signer as _, Verifier as _};
use ml_dsa::{EncodedVerifyingKey, MlDsa44};
use sha2::{Digest as _, Sha256};

use super::note::{
    Checkpoint, KeyType, LogSigner, LogVerifier, NoteError, SignedNote, check_name, hex_id,
    parse_hex_id, split_key_text, wipe,
};

/// The header line of the Ed25519 signed message, for domain separation.
pub const COSIGNATURE_V1: &str = "cosignature/v1";
/// The key type byte of an Ed25519 cosigner key.
const ALG_ED25519: u8 = 0x04;
/// The key type byte of an ML-DSA-44 cosigner key.
const ALG_ML_DSA_44: u8 = 0x06;
/// The length of an ML-DSA-44 public key.
const ML_DSA_44_PUBLIC: usize = 1312;
/// The length of an ML-DSA-44 signature.
const ML_DSA_44_SIGNATURE: usize = 2420;
/// The label that starts an ML-DSA-44 `cosigned_message`.
const SUBTREE_LABEL: &[u8; 12] = b"subtree/v1\n\0";

/// The message an Ed25519 `cosignature/v1` signs over a checkpoint body (the note's text).
pub fn signed_message(body: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1}\ntime {timestamp}\n{body}")
}

/// The `cosigned_message` an ML-DSA-44 cosignature signs: the whole tree of `checkpoint`
/// (start 0, end its size), as of `timestamp`. `None` when a name or the origin is longer than
/// 255 bytes (the structure cannot hold it).
pub fn cosigned_message(name: &str, checkpoint: &Checkpoint, timestamp: u64) -> Option<Vec<u8>> {
    let name_len = u8::try_from(name.len()).ok().filter(|n| *n > 0)?;
    let origin_len = u8::try_from(checkpoint.origin.len())
        .ok()
        .filter(|n| *n > 0)?;
    let mut m = Vec::with_capacity(12 + 1 + name.len() + 8 + 1 + checkpoint.origin.len() + 48);
    m.extend_from_slice(SUBTREE_LABEL);
    m.push(name_len);
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.push(origin_len);
    m.extend_from_slice(checkpoint.origin.as_bytes());
    m.extend_from_slice(&0u64.to_be_bytes());
    m.extend_from_slice(&checkpoint.size.to_be_bytes());
    m.extend_from_slice(&checkpoint.root);
    Some(m)
}

fn ml_dsa_key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ML_DSA_44])
        .chain_update(public)
        .finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest[..4]);
    id
}

/// The key type byte of a key text's base64 part (`None` when it does not decode).
fn key_type(b64: &str) -> Option<u8> {
    STANDARD.decode(b64).ok()?.first().copied()
}

fn unsupported(alg: u8) -> NoteError {
    NoteError::UnsupportedAlgorithm {
        alg,
        expected: ALG_ED25519,
        what: "an Ed25519 cosignature key; or 0x06, an ML-DSA-44 one",
    }
}

/// A witness's private cosigning key.
#[derive(Clone)]
pub struct CosignerKey(Secret);

#[derive(Clone)]
enum Secret {
    Ed25519(LogSigner),
    MlDsa44 {
        name: String,
        key_id: [u8; 4],
        seed: [u8; 32],
        key: Box<ml_dsa::SigningKey<MlDsa44>>,
    },
}

impl Drop for Secret {
    fn drop(&mut self) {
        if let Self::MlDsa44 { seed, .. } = self {
            wipe(seed);
        }
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CosignerKey").field(&self.name()).finish()
    }
}

/// Which kind of cosignature a key makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CosignerAlgorithm {
    /// Ed25519 `cosignature/v1`.
    Ed25519,
    /// ML-DSA-44 (FIPS 204), as the specification recommends.
    MlDsa44,
}

impl CosignerKey {
    /// A new key named `name` (a schema-less URL, by convention), from operating-system
    /// randomness.
    pub fn generate(name: &str, algorithm: CosignerAlgorithm) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(NoteError::Randomness)?;
        let key = Self::from_seed(name, algorithm, seed);
        wipe(&mut seed);
        key
    }

    /// The key with this name and 32-byte seed (Ed25519's private key; ML-DSA-44's ξ).
    pub fn from_seed(
        name: &str,
        algorithm: CosignerAlgorithm,
        seed: [u8; 32],
    ) -> Result<Self, NoteError> {
        match algorithm {
            CosignerAlgorithm::Ed25519 => LogSigner::from_seed_typed(name, KeyType::Cosigner, seed)
                .map(|k| Self(Secret::Ed25519(k))),
            CosignerAlgorithm::MlDsa44 => {
                check_name(name)?;
                let key = Box::new(ml_dsa::SigningKey::<MlDsa44>::from_seed(&seed.into()));
                let public = key.verifying_key().encode();
                Ok(Self(Secret::MlDsa44 {
                    name: name.to_owned(),
                    key_id: ml_dsa_key_id(name, &public),
                    seed,
                    key,
                }))
            }
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>`, type 0x04 (Ed25519) or
    /// 0x06 (ML-DSA-44, whose seed is ξ).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let malformed = |reason: &str| NoteError::MalformedSignerKey {
            reason: reason.to_owned(),
        };
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| malformed("it does not start with PRIVATE+KEY+"))?;
        let (name, hex, b64) =
            split_key_text(rest).ok_or_else(|| malformed("expected PRIVATE+KEY+name+id+key"))?;
        match key_type(b64) {
            Some(ALG_ED25519) => {
                LogSigner::parse_typed(text, KeyType::Cosigner).map(|k| Self(Secret::Ed25519(k)))
            }
            Some(ALG_ML_DSA_44) => {
                let stated =
                    parse_hex_id(hex).ok_or_else(|| malformed("key ID is not 8 hex digits"))?;
                let mut bytes = STANDARD
                    .decode(b64)
                    .map_err(|_| malformed("key is not valid base64"))?;
                let seed = <[u8; 32]>::try_from(&bytes[1..])
                    .map_err(|_| malformed("ML-DSA-44 seed is not 32 bytes"));
                wipe(&mut bytes);
                let key = Self::from_seed(name, CosignerAlgorithm::MlDsa44, seed?)?;
                let computed = key.verifier().key_id();
                if computed != stated {
                    return Err(NoteError::KeyIdMismatch {
                        name: name.to_owned(),
                        stated: hex.to_owned(),
                        computed: hex_id(computed),
                    });
                }
                Ok(key)
            }
            Some(other) => Err(unsupported(other)),
            None => Err(malformed("key is not valid base64")),
        }
    }

    /// The private key text; store it like a private key.
    pub fn encode(&self) -> String {
        match &self.0 {
            Secret::Ed25519(key) => key.encode(),
            Secret::MlDsa44 {
                name, key_id, seed, ..
            } => {
                let mut material = [0u8; 33];
                material[0] = ALG_ML_DSA_44;
                material[1..].copy_from_slice(seed);
                let text = format!(
                    "PRIVATE+KEY+{name}+{}+{}",
                    hex_id(*key_id),
                    STANDARD.encode(material)
                );
                wipe(&mut material);
                text
            }
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        match &self.0 {
            Secret::Ed25519(key) => key.name(),
            Secret::MlDsa44 { name, .. } => name,
        }
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignerVerifier {
        match &self.0 {
            Secret::Ed25519(key) => CosignerVerifier(Public::Ed25519(key.verifier())),
            Secret::MlDsa44 {
                name, key_id, key, ..
            } => CosignerVerifier(Public::MlDsa44 {
                name: name.clone(),
                key_id: *key_id,
                public: key.verifying_key().encode().to_vec(),
                key: Box::new(key.verifying_key()),
            }),
        }
    }

    /// The signature line (with its newline) of a cosignature over `checkpoint` at
    /// `timestamp` (seconds since the epoch; never zero, per tlog-witness). `None` for an
    /// ML-DSA-44 key when the origin is longer than 255 bytes.
    pub fn cosign(&self, checkpoint: &Checkpoint, timestamp: u64) -> Option<String> {
        let (key_id, signature) = match &self.0 {
            Secret::Ed25519(key) => {
                let message = signed_message(&checkpoint.body(), timestamp);
                (
                    key.verifier().key_id(),
                    key.sign_bytes(message.as_bytes()).to_vec(),
                )
            }
            Secret::MlDsa44 {
                name, key_id, key, ..
            } => {
                let message = cosigned_message(name, checkpoint, timestamp)?;
                (*key_id, key.sign(&message).encode().to_vec())
            }
        };
        let mut blob = Vec::with_capacity(4 + 8 + signature.len());
        blob.extend_from_slice(&key_id);
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature);
        Some(format!(
            "\u{2014} {} {}\n",
            self.name(),
            STANDARD.encode(blob)
        ))
    }
}

/// A witness's public key: what a log, a monitor or a receipt's reader trusts it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerVerifier(Public);

#[derive(Clone)]
enum Public {
    Ed25519(LogVerifier),
    MlDsa44 {
        name: String,
        key_id: [u8; 4],
        public: Vec<u8>,
        key: Box<ml_dsa::VerifyingKey<MlDsa44>>,
    },
}

impl fmt::Debug for Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ed25519(key) => key.fmt(f),
            Self::MlDsa44 { name, key_id, .. } => f
                .debug_struct("MlDsa44")
                .field("name", name)
                .field("key_id", &hex_id(*key_id))
                .finish_non_exhaustive(),
        }
    }
}

impl PartialEq for Public {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Ed25519(a), Self::Ed25519(b)) => a == b,
            (
                Self::MlDsa44 {
                    name: a, public: x, ..
                },
                Self::MlDsa44 {
                    name: b, public: y, ..
                },
            ) => a == b && x == y,
            _ => false,
        }
    }
}

impl Eq for Public {}

/// Why a cosignature by a known witness does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// Its line is not a timestamp and a signature of the key's kind.
    #[error("the cosignature by {name} is not a timestamp and a signature of its key's kind")]
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
    /// Parses a vkey `<name>+<hex key id>+<base64(type || public key)>`: type 0x04 (Ed25519,
    /// 32 bytes) or 0x06 (ML-DSA-44, 1,312 bytes).
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let malformed = |reason: &str| NoteError::MalformedVerifierKey {
            reason: reason.to_owned(),
        };
        let (name, hex, b64) =
            split_key_text(vkey.trim_end()).ok_or_else(|| malformed("expected name+id+key"))?;
        match key_type(b64) {
            Some(ALG_ED25519) => {
                LogVerifier::parse_typed(vkey, KeyType::Cosigner).map(|k| Self(Public::Ed25519(k)))
            }
            Some(ALG_ML_DSA_44) => {
                check_name(name)?;
                let stated =
                    parse_hex_id(hex).ok_or_else(|| malformed("key ID is not 8 hex digits"))?;
                let bytes = STANDARD
                    .decode(b64)
                    .map_err(|_| malformed("key is not valid base64"))?;
                let public = &bytes[1..];
                if public.len() != ML_DSA_44_PUBLIC {
                    return Err(malformed("ML-DSA-44 key is not 1312 bytes"));
                }
                let encoded = EncodedVerifyingKey::<MlDsa44>::try_from(public)
                    .map_err(|_| malformed("ML-DSA-44 key is not 1312 bytes"))?;
                let computed = ml_dsa_key_id(name, public);
                if computed != stated {
                    return Err(NoteError::KeyIdMismatch {
                        name: name.to_owned(),
                        stated: hex.to_owned(),
                        computed: hex_id(computed),
                    });
                }
                Ok(Self(Public::MlDsa44 {
                    name: name.to_owned(),
                    key_id: computed,
                    public: public.to_vec(),
                    key: Box::new(ml_dsa::VerifyingKey::<MlDsa44>::decode(&encoded)),
                }))
            }
            Some(other) => Err(unsupported(other)),
            None => Err(malformed("key is not valid base64")),
        }
    }

    /// The vkey text.
    pub fn encode(&self) -> String {
        match &self.0 {
            Public::Ed25519(key) => key.encode(),
            Public::MlDsa44 {
                name,
                key_id,
                public,
                ..
            } => {
                let mut material = vec![ALG_ML_DSA_44];
                material.extend_from_slice(public);
                format!("{name}+{}+{}", hex_id(*key_id), STANDARD.encode(material))
            }
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        match &self.0 {
            Public::Ed25519(key) => key.name(),
            Public::MlDsa44 { name, .. } => name,
        }
    }

    /// The raw public key (32 bytes for Ed25519, 1,312 for ML-DSA-44).
    pub fn public_key(&self) -> Vec<u8> {
        match &self.0 {
            Public::Ed25519(key) => key.public_key().to_vec(),
            Public::MlDsa44 { public, .. } => public.clone(),
        }
    }

    /// The 4-byte key ID its signature lines carry.
    pub fn key_id(&self) -> [u8; 4] {
        match &self.0 {
            Public::Ed25519(key) => key.key_id(),
            Public::MlDsa44 { key_id, .. } => *key_id,
        }
    }

    /// Which kind of cosignature it checks.
    pub fn algorithm(&self) -> CosignerAlgorithm {
        match &self.0 {
            Public::Ed25519(_) => CosignerAlgorithm::Ed25519,
            Public::MlDsa44 { .. } => CosignerAlgorithm::MlDsa44,
        }
    }

    /// This witness's valid cosignature on the note, as its timestamp: `Ok(None)` when the note
    /// carries no line by this key, an error when a line by it does not verify.
    pub fn cosigned(&self, note: &SignedNote<'_>) -> Result<Option<u64>, CosignatureError> {
        let mut found = None;
        let name = || self.name().to_owned();
        for line in note.lines_by(self.name(), self.key_id()) {
            let malformed = || CosignatureError::Malformed { name: name() };
            let (time, sig) = line
                .signature
                .split_first_chunk::<8>()
                .ok_or_else(malformed)?;
            let timestamp = u64::from_be_bytes(*time);
            if timestamp == 0 || timestamp > i64::MAX as u64 {
                return Err(CosignatureError::Timestamp {
                    name: name(),
                    timestamp,
                });
            }
            let bad = || CosignatureError::BadSignature { name: name() };
            match &self.0 {
                Public::Ed25519(key) => {
                    let sig = <&[u8; 64]>::try_from(sig).map_err(|_| malformed())?;
                    key.verify_bytes(signed_message(note.text, timestamp).as_bytes(), sig)
                        .map_err(|()| bad())?;
                }
                Public::MlDsa44 { name, key, .. } => {
                    if sig.len() != ML_DSA_44_SIGNATURE {
                        return Err(malformed());
                    }
                    let signature =
                        ml_dsa::Signature::<MlDsa44>::try_from(sig).map_err(|_| bad())?;
                    let checkpoint = Checkpoint::parse(note.text).map_err(|_| bad())?;
                    let message = cosigned_message(name, &checkpoint, timestamp).ok_or_else(bad)?;
                    key.verify(&message, &signature).map_err(|_| bad())?;
                }
            }
            found = Some(found.map_or(timestamp, |t: u64| t.max(timestamp)));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: CosignerAlgorithm = CosignerAlgorithm::Ed25519;
    const ML: CosignerAlgorithm = CosignerAlgorithm::MlDsa44;

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
        note + &key.cosign(&checkpoint(), timestamp).expect("cosigns")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_key_id_commits_to_the_cosignature_type() {
        for (alg, byte, len) in [(ED, 0x04, 32), (ML, 0x06, 1312)] {
            let key = CosignerKey::from_seed("witness.example/w1", alg, [9; 32]).expect("name");
            let public = key.verifier().public_key();
            assert_eq!(public.len(), len);
            let mut input = b"witness.example/w1\n".to_vec();
            input.push(byte);
            input.extend_from_slice(&public);
            let id = &Sha256::digest(&input)[..4];
            let vkey = key.verifier().encode();
            assert!(vkey.starts_with(&format!("witness.example/w1+{}+", hex(id))));
            let material = STANDARD
                .decode(vkey.splitn(3, '+').nth(2).unwrap_or(""))
                .expect("b64");
            assert_eq!((material[0], material.len()), (byte, len + 1));
            assert_eq!(
                CosignerVerifier::parse(&vkey).expect("parses"),
                key.verifier()
            );
            let again = CosignerKey::parse(&key.encode()).expect("parses");
            assert_eq!(again.verifier(), key.verifier());
        }
        // A log key's vkey is refused as a cosigner key, and the other way round.
        let log = LogSigner::from_seed("witness.example/w1", [9; 32]).expect("name");
        assert!(matches!(
            CosignerVerifier::parse(&log.verifier().encode()),
            Err(NoteError::UnsupportedAlgorithm { alg: 1, .. })
        ));
        let ed = CosignerKey::from_seed("witness.example/w1", ED, [9; 32]).expect("name");
        assert!(LogVerifier::parse(&ed.verifier().encode()).is_err());
    }

    #[test]
    fn a_cosignature_of_either_kind_verifies_and_any_change_breaks_it() {
        for alg in [ED, ML] {
            let key = CosignerKey::from_seed("witness.example/w1", alg, [9; 32]).expect("name");
            let note = cosigned(&key, 1_700_000_000);
            let parsed = SignedNote::parse(&note).expect("syntax");
            assert_eq!(
                key.verifier().cosigned(&parsed),
                Ok(Some(1_700_000_000)),
                "{alg:?}"
            );

            // Another witness's key finds no line of its own.
            let other = CosignerKey::from_seed("witness.example/w2", alg, [8; 32]).expect("name");
            assert_eq!(other.verifier().cosigned(&parsed), Ok(None));

            // The same line under another tree size fails.
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
    }

    #[test]
    fn an_ml_dsa_cosignature_ignores_extension_lines_and_an_ed25519_one_does_not() {
        let with_ext = Checkpoint {
            extensions: vec!["an extension".into()],
            ..checkpoint()
        };
        let log = LogSigner::from_seed("example.com/log", [1; 32]).expect("name");
        for (alg, holds) in [(ML, true), (ED, false)] {
            let key = CosignerKey::from_seed("w.example", alg, [5; 32]).expect("name");
            let line = key.cosign(&checkpoint(), 1_800_000_000).expect("cosigns");
            let note = log.sign_checkpoint(&with_ext).expect("signs") + &line;
            let parsed = SignedNote::parse(&note).expect("syntax");
            assert_eq!(key.verifier().cosigned(&parsed).is_ok(), holds, "{alg:?}");
        }
    }

    #[test]
    fn the_signed_messages_are_the_specified_bytes() {
        assert_eq!(
            signed_message(
                "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                1679315147
            ),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        let m = cosigned_message("w", &checkpoint(), 0x0102).expect("fits");
        let mut want = b"subtree/v1\n\0".to_vec();
        want.extend_from_slice(&[1, b'w', 0, 0, 0, 0, 0, 0, 1, 2, 15]);
        want.extend_from_slice(b"example.com/log");
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        want.extend_from_slice(&[3; 32]);
        assert_eq!(m, want);
        let long = Checkpoint {
            origin: "o".repeat(256),
            ..checkpoint()
        };
        assert_eq!(cosigned_message("w", &long, 1), None);
    }
}
