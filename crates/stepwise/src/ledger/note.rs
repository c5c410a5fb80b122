//! C2SP signed notes and tlog checkpoints with Ed25519 keys: how the log signs the statement
//! "the tree of this size has this root" and how anyone holding the log's verifier key checks it,
//! in the same text format as Go's sumdb, Sigstore and the transparency-log witnesses, so that
//! third-party tools can audit the ledger. It must never return text that was not covered by a
//! valid signature of the verifier's key, never accept a checkpoint whose origin is not the
//! key's name, never panic on untrusted input, and never put private key material into an error
//! message or a `Debug` output.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::{HASH_LEN, Hash};

/// What an Ed25519 key signs, told by its signature type byte: a log's notes and checkpoints
/// (0x01, signed-note), or a witness's `cosignature/v1` (0x04, tlog-cosignature). The byte is in
/// the key ID and the vkey, so a key of one kind is never taken for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyType {
    /// A signed-note Ed25519 key (type 0x01): the log's key.
    Log,
    /// A tlog-cosignature Ed25519 key (type 0x04): a witness's key.
    Cosigner,
}

impl KeyType {
    fn alg(self) -> u8 {
        match self {
            Self::Log => 0x01,
            Self::Cosigner => 0x04,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Log => "an Ed25519 signed-note key",
            Self::Cosigner => "an Ed25519 cosignature key; or 0x06, an ML-DSA-44 one",
        }
    }
}
/// Starts every signature line: an EM DASH (U+2014) and a space.
const SIG_LINE_PREFIX: &str = "\u{2014} ";
/// Prefix of the signer key text.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";
/// A note with more signatures than this is rejected outright, so that a hostile note cannot make
/// the verifier decode an unbounded number of lines.
const MAX_SIGNATURES: usize = 100;
/// Length of a key ID in bytes.
const KEY_ID_LEN: usize = 4;

/// Everything that can go wrong with keys, notes and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or contains whitespace or '+'.
    #[error("invalid key name {name:?}: it must be non-empty and contain no whitespace or '+'")]
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// A verifier key text is not `<name>+<key id>+<base64 key>`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A signer key text is not `PRIVATE+KEY+<name>+<key id>+<base64 seed>`.
    #[error("malformed signer key: {reason}")]
    MalformedSignerKey {
        /// What is wrong with it (never the key material itself).
        reason: String,
    },
    /// The key is of a signature type other than Ed25519.
    #[error("unsupported key type 0x{alg:02x}: expected 0x{expected:02x} ({what})")]
    UnsupportedAlgorithm {
        /// The signature type byte found.
        alg: u8,
        /// The signature type byte this key must have.
        expected: u8,
        /// What that type is: a log's Ed25519 key, or a witness's Ed25519 cosignature key.
        what: &'static str,
    },
    /// The key ID written in a key text is not the one its name and key imply.
    #[error(
        "key ID {stated} in the key text of {name:?} does not match the key (expected {computed})"
    )]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The key ID written in the text, as hex.
        stated: String,
        /// The key ID computed from name and key, as hex.
        computed: String,
    },
    /// The operating system did not provide random bytes for a new key.
    #[error("could not get random bytes for a new key: {0}")]
    Randomness(getrandom::Error),
    /// Text handed to the signer cannot be the text of a note.
    #[error("cannot sign this text as a note: {reason}")]
    InvalidNoteText {
        /// What is wrong with it.
        reason: String,
    },
    /// A signed note does not have the signed-note syntax.
    #[error("malformed signed note: {reason}")]
    MalformedNote {
        /// What is wrong with it.
        reason: String,
    },
    /// The note carries no signature line by this verifier's key.
    #[error("the note has no signature by key {name}+{key_id}")]
    NoSignature {
        /// The verifier's key name.
        name: String,
        /// The verifier's key ID, as hex.
        key_id: String,
    },
    /// A signature line by this verifier's key does not verify.
    #[error("the signature by key {name}+{key_id} does not verify")]
    BadSignature {
        /// The verifier's key name.
        name: String,
        /// The verifier's key ID, as hex.
        key_id: String,
    },
    /// A checkpoint body does not have the tlog-checkpoint syntax.
    #[error("malformed checkpoint: {reason}")]
    MalformedCheckpoint {
        /// What is wrong with it.
        reason: String,
    },
    /// The checkpoint is for another log than the key's.
    #[error("checkpoint origin {origin:?} does not match the key name {name:?}")]
    OriginMismatch {
        /// The origin line of the checkpoint.
        origin: String,
        /// The name of the key.
        name: String,
    },
}

pub(super) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The key ID of an Ed25519 key of type `alg`: SHA-256(name || '\n' || alg || public key), first
/// 4 bytes (signed-note for 0x01, tlog-cosignature for 0x04).
fn compute_key_id(name: &str, alg: u8, public: &VerifyingKey) -> [u8; KEY_ID_LEN] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

pub(super) fn hex_id(id: [u8; KEY_ID_LEN]) -> String {
    format!("{:08x}", u32::from_be_bytes(id))
}

pub(super) fn parse_hex_id(s: &str) -> Option<[u8; KEY_ID_LEN]> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok().map(u32::to_be_bytes)
}

/// Splits `<name>+<hex id>+<base64>`; the base64 part may itself contain '+'.
pub(super) fn split_key_text(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '+');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// Why the base64 part of a key text could not be decoded.
enum MaterialError {
    /// A signature type other than Ed25519.
    Algorithm(u8),
    /// Anything else; the message never contains key material.
    Malformed(&'static str),
}

impl MaterialError {
    fn into_note_error(self, kind: KeyType, malformed: impl Fn(&str) -> NoteError) -> NoteError {
        match self {
            Self::Algorithm(alg) => NoteError::UnsupportedAlgorithm {
                alg,
                expected: kind.alg(),
                what: kind.what(),
            },
            Self::Malformed(reason) => malformed(reason),
        }
    }
}

/// Decodes `base64(alg || 32 bytes)`. The caller wipes the returned bytes when they are secret.
fn decode_key_material(b64: &str, alg_wanted: u8) -> Result<[u8; 32], MaterialError> {
    let mut bytes = STANDARD
        .decode(b64)
        .map_err(|_| MaterialError::Malformed("key is not valid base64"))?;
    let result = match bytes.split_first() {
        None => Err(MaterialError::Malformed("key is empty")),
        Some((&alg, _)) if alg != alg_wanted => Err(MaterialError::Algorithm(alg)),
        Some((_, key)) => <[u8; 32]>::try_from(key)
            .map_err(|_| MaterialError::Malformed("Ed25519 key is not 32 bytes")),
    };
    wipe(&mut bytes);
    result
}

/// Best-effort overwrite of secret bytes before they are freed.
pub(super) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// Rejects control characters other than newline, which the signed-note format forbids anywhere
/// in a note (they could hide text from a human reader).
fn find_control(text: &str) -> Option<char> {
    text.chars().find(|&c| c < '\u{20}' && c != '\n')
}

/// The rules a note's text must follow, shared by signing and verifying.
fn check_text(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("the text is empty".into());
    }
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    if text.starts_with('\n') || text.contains("\n\n") {
        return Err("the text contains a blank line".into());
    }
    if let Some(c) = find_control(text) {
        return Err(format!("the text contains the control character {c:?}"));
    }
    Ok(())
}

/// The log's private key, with its name and key ID.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    kind: KeyType,
    key_id: [u8; KEY_ID_LEN],
    key: SigningKey,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &hex_id(self.key_id))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// Signs arbitrary bytes with this key (for a principal's key: an event's signing bytes).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }

    /// A new key with the given name, from 32 bytes of operating-system randomness.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::generate_typed(name, KeyType::Log)
    }

    pub(super) fn generate_typed(name: &str, kind: KeyType) -> Result<Self, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(NoteError::Randomness)?;
        let signer = Self::from_seed_typed(name, kind, seed);
        wipe(&mut seed);
        signer
    }

    /// The key with the given name and Ed25519 seed (the 32-byte private key).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        Self::from_seed_typed(name, KeyType::Log, seed)
    }

    pub(super) fn from_seed_typed(
        name: &str,
        kind: KeyType,
        seed: [u8; 32],
    ) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_owned(),
            kind,
            key_id: compute_key_id(name, kind.alg(), &key.verifying_key()),
            key,
        })
    }

    /// Parses the signer key text `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`;
    /// trailing whitespace (such as the newline of a key file) is ignored.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        Self::parse_typed(text, KeyType::Log)
    }

    pub(super) fn parse_typed(text: &str, kind: KeyType) -> Result<Self, NoteError> {
        let malformed = |reason: &str| NoteError::MalformedSignerKey {
            reason: reason.to_owned(),
        };
        let rest = text
            .trim_end()
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or_else(|| malformed("it does not start with PRIVATE+KEY+"))?;
        let (name, hex, b64) =
            split_key_text(rest).ok_or_else(|| malformed("expected PRIVATE+KEY+name+id+key"))?;
        check_name(name)?;
        let stated = parse_hex_id(hex).ok_or_else(|| malformed("key ID is not 8 hex digits"))?;
        let mut seed =
            decode_key_material(b64, kind.alg()).map_err(|e| e.into_note_error(kind, malformed))?;
        let signer = Self::from_seed_typed(name, kind, seed);
        wipe(&mut seed);
        let signer = signer?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                stated: hex.to_owned(),
                computed: hex_id(signer.key_id),
            });
        }
        Ok(signer)
    }

    /// The signer key text `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.
    /// It holds the private key: store it like one.
    pub fn encode(&self) -> String {
        let mut material = [0u8; 33];
        material[0] = self.kind.alg();
        material[1..].copy_from_slice(self.key.as_bytes());
        let text = format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}",
            self.name,
            hex_id(self.key_id),
            STANDARD.encode(material)
        );
        wipe(&mut material);
        text
    }

    /// The matching public verifier.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            kind: self.kind,
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `text` and returns the whole signed note: the text, a blank line and one signature
    /// line. The text must be non-empty, end with a newline and contain no blank line and no
    /// control character other than newline.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        check_text(text).map_err(|reason| NoteError::InvalidNoteText { reason })?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(KEY_ID_LEN + 64);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_LINE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        ))
    }

    /// Signs a checkpoint's body as a note. The checkpoint's origin must be this key's name,
    /// since [`LogVerifier::verify_checkpoint`] would reject anything else.
    pub fn sign_checkpoint(&self, cp: &Checkpoint) -> Result<String, NoteError> {
        cp.validate()?;
        if cp.origin != self.name {
            return Err(NoteError::OriginMismatch {
                origin: cp.origin.clone(),
                name: self.name.clone(),
            });
        }
        self.sign_note(&cp.body())
    }
}

/// The log's public key, with its name and key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    kind: KeyType,
    key_id: [u8; KEY_ID_LEN],
    key: VerifyingKey,
}

impl LogVerifier {
    /// Parses the verifier key text `<name>+<hex key id>+<base64(0x01 || public key)>`,
    /// rejecting a key ID that does not match the name and key. Trailing whitespace is ignored.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        Self::parse_typed(vkey, KeyType::Log)
    }

    pub(super) fn parse_typed(vkey: &str, kind: KeyType) -> Result<Self, NoteError> {
        let malformed = |reason: &str| NoteError::MalformedVerifierKey {
            reason: reason.to_owned(),
        };
        let (name, hex, b64) =
            split_key_text(vkey.trim_end()).ok_or_else(|| malformed("expected name+id+key"))?;
        check_name(name)?;
        let stated = parse_hex_id(hex).ok_or_else(|| malformed("key ID is not 8 hex digits"))?;
        let public =
            decode_key_material(b64, kind.alg()).map_err(|e| e.into_note_error(kind, malformed))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| malformed("not a valid Ed25519 public key"))?;
        let computed = compute_key_id(name, kind.alg(), &key);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                stated: hex.to_owned(),
                computed: hex_id(computed),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            kind,
            key_id: computed,
            key,
        })
    }

    /// The verifier key text `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn encode(&self) -> String {
        let mut material = [0u8; 33];
        material[0] = self.kind.alg();
        material[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex_id(self.key_id),
            STANDARD.encode(material)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn no_signature(&self) -> NoteError {
        NoteError::NoSignature {
            name: self.name.clone(),
            key_id: hex_id(self.key_id),
        }
    }

    fn bad_signature(&self) -> NoteError {
        NoteError::BadSignature {
            name: self.name.clone(),
            key_id: hex_id(self.key_id),
        }
    }

    /// Verifies a signed note and returns its text (up to and including the text's final
    /// newline).
    ///
    /// Signature lines by other keys (other names or key IDs) are ignored, but must still be
    /// well-formed. Every signature line by this key must verify.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        debug_assert_eq!(self.kind, KeyType::Log, "a cosigner key signs no note");
        let signed = SignedNote::parse(note)?;
        let mut ours = 0usize;
        for line in signed.lines_by(&self.name, self.key_id) {
            let sig = <[u8; 64]>::try_from(line.signature.as_slice())
                .map_err(|_| self.bad_signature())?;
            self.verify_bytes(signed.text.as_bytes(), &sig)
                .map_err(|()| self.bad_signature())?;
            ours += 1;
        }
        if ours == 0 {
            return Err(self.no_signature());
        }
        Ok(signed.text)
    }

    /// Checks an Ed25519 signature over `message` by this key (strict: no malleable forms).
    pub(super) fn verify_bytes(&self, message: &[u8], sig: &[u8; 64]) -> Result<(), ()> {
        self.key
            .verify_strict(message, &Signature::from_bytes(sig))
            .map_err(|_| ())
    }

    /// Verifies a signed checkpoint: [`Self::verify_note`], then [`Checkpoint::parse`] of the
    /// text, and the checkpoint's origin must equal this key's name.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let text = self.verify_note(note)?;
        let cp = Checkpoint::parse(text)?;
        if cp.origin != self.name {
            return Err(NoteError::OriginMismatch {
                origin: cp.origin,
                name: self.name.clone(),
            });
        }
        Ok(cp)
    }
}

/// One signature line of a signed note: `— <key name> base64(key ID || signature)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine<'a> {
    /// The key name.
    pub name: &'a str,
    /// The 4-byte key ID.
    pub key_id: [u8; KEY_ID_LEN],
    /// What follows the key ID: the signature (for a cosignature, timestamp and signature).
    pub signature: Vec<u8>,
    /// The whole line, without its newline.
    pub line: &'a str,
}

/// A signed note split into its text and its signature lines, with the syntax checked and
/// nothing verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote<'a> {
    /// The text, up to and including its final newline.
    pub text: &'a str,
    /// The signature lines, in order.
    pub signatures: Vec<SignatureLine<'a>>,
}

impl<'a> SignedNote<'a> {
    /// Splits a signed note, refusing what the signed-note syntax forbids: control characters,
    /// no final newline, no blank line before the signatures, no signature, a malformed
    /// signature line, more than 100 signatures.
    pub fn parse(note: &'a str) -> Result<Self, NoteError> {
        let malformed = |reason: String| NoteError::MalformedNote { reason };
        if let Some(c) = find_control(note) {
            return Err(malformed(format!(
                "it contains the control character {c:?}"
            )));
        }
        if !note.ends_with('\n') {
            return Err(malformed("it does not end with a newline".into()));
        }
        // The text has no blank line, so the first one separates text from signatures.
        let split = note
            .find("\n\n")
            .ok_or_else(|| malformed("no blank line between text and signatures".into()))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        check_text(text).map_err(malformed)?;
        if sigs.is_empty() {
            return Err(malformed("it has no signature lines".into()));
        }
        // Counted before any line is decoded, so the limit bounds the work done.
        if sigs.split_terminator('\n').count() > MAX_SIGNATURES {
            return Err(malformed(format!(
                "it has more than {MAX_SIGNATURES} signatures"
            )));
        }
        let signatures = sigs
            .split_terminator('\n')
            .enumerate()
            .map(|(n, line)| {
                SignatureLine::parse(line)
                    .map_err(|why| malformed(format!("signature line {} {why}", n + 1)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { text, signatures })
    }

    /// The signature lines of the key with this name and key ID.
    pub fn lines_by(
        &self,
        name: &'a str,
        key_id: [u8; KEY_ID_LEN],
    ) -> impl Iterator<Item = &SignatureLine<'a>> {
        self.signatures
            .iter()
            .filter(move |line| line.name == name && line.key_id == key_id)
    }
}

impl<'a> SignatureLine<'a> {
    /// Parses one line (without its newline); the error completes "signature line N …".
    fn parse(line: &'a str) -> Result<Self, &'static str> {
        let rest = line
            .strip_prefix(SIG_LINE_PREFIX)
            .ok_or("does not start with an em dash and a space")?;
        let (name, b64) = rest.split_once(' ').ok_or("has no signature")?;
        if check_name(name).is_err() {
            return Err("has an invalid key name");
        }
        let blob = STANDARD.decode(b64).map_err(|_| "is not valid base64")?;
        let Some((id, sig)) = blob
            .split_first_chunk::<KEY_ID_LEN>()
            .filter(|(_, sig)| !sig.is_empty())
        else {
            return Err("is too short to hold a key ID and a signature");
        };
        Ok(Self {
            name,
            key_id: *id,
            signature: sig.to_vec(),
            line,
        })
    }
}

/// A tlog checkpoint: the log's claim that its tree of `size` leaves has hash `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity; for this crate, the log key's name.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Optional further lines, each non-empty.
    pub extensions: Vec<String>,
}

fn malformed_checkpoint(reason: impl Into<String>) -> NoteError {
    NoteError::MalformedCheckpoint {
        reason: reason.into(),
    }
}

/// A line of a checkpoint: non-empty, no newline, no other control character.
fn check_line(line: &str, what: &str) -> Result<(), NoteError> {
    if line.is_empty() {
        return Err(malformed_checkpoint(format!("the {what} is empty")));
    }
    if let Some(c) = line.chars().find(|&c| c < '\u{20}') {
        return Err(malformed_checkpoint(format!(
            "the {what} contains the control character {c:?}"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// The checkpoint body: origin, decimal size and base64 root, then the extension lines,
    /// each followed by a newline. This is the text that gets signed.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Checks that [`Self::body`] would parse back to this checkpoint.
    fn validate(&self) -> Result<(), NoteError> {
        check_line(&self.origin, "origin")?;
        for ext in &self.extensions {
            check_line(ext, "extension line")?;
        }
        Ok(())
    }

    /// Parses a checkpoint body (the text of a signed note).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed_checkpoint("it does not end with a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed_checkpoint(
                "it needs at least three lines: origin, size and root hash",
            ));
        };
        check_line(origin, "origin")?;

        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed_checkpoint(format!(
                "tree size {size:?} is not a decimal number"
            )));
        }
        if size.len() > 1 && size.starts_with('0') {
            return Err(malformed_checkpoint(format!(
                "tree size {size:?} has a leading zero"
            )));
        }
        let size: u64 = size.parse().map_err(|_| {
            malformed_checkpoint(format!("tree size {size:?} does not fit in 64 bits"))
        })?;

        let root_bytes = STANDARD
            .decode(root)
            .map_err(|_| malformed_checkpoint("the root hash is not valid padded base64"))?;
        let root = Hash::try_from(root_bytes.as_slice()).map_err(|_| {
            malformed_checkpoint(format!(
                "the root hash is {} bytes long, expected {HASH_LEN}",
                root_bytes.len()
            ))
        })?;

        let extensions = lines
            .map(|line| check_line(line, "extension line").map(|()| line.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "example.com/log";

    fn signer() -> LogSigner {
        LogSigner::from_seed(NAME, [7u8; 32]).expect("valid name")
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: NAME.to_owned(),
            size: 12345,
            root: [0xab; 32],
            extensions: vec!["extension one".into(), "— odd but fine".into()],
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn note_round_trip() {
        let s = signer();
        let v = s.verifier();
        let text = "hello\nworld\n";
        let note = s.sign_note(text).expect("valid text");
        assert!(note.starts_with("hello\nworld\n\n\u{2014} example.com/log "));
        assert!(note.ends_with('\n'));
        assert_eq!(v.verify_note(&note).expect("verifies"), text);
    }

    #[test]
    fn checkpoint_round_trip() {
        let s = signer();
        let cp = checkpoint();
        let note = s.sign_checkpoint(&cp).expect("valid checkpoint");
        assert_eq!(s.verifier().verify_checkpoint(&note).expect("verifies"), cp);
        assert_eq!(Checkpoint::parse(&cp.body()).expect("parses"), cp);

        let bare = Checkpoint {
            extensions: Vec::new(),
            size: 0,
            ..cp
        };
        assert_eq!(
            bare.body(),
            format!("{NAME}\n0\n{}\n", STANDARD.encode([0xab; 32]))
        );
        let note = s.sign_checkpoint(&bare).expect("valid checkpoint");
        assert_eq!(
            s.verifier().verify_checkpoint(&note).expect("verifies"),
            bare
        );
    }

    #[test]
    fn key_id_and_vkey_follow_the_formula() {
        let s = signer();
        let public = SigningKey::from_bytes(&[7u8; 32])
            .verifying_key()
            .to_bytes();
        let mut input = Vec::new();
        input.extend_from_slice(NAME.as_bytes());
        input.push(0x0a);
        input.push(0x01);
        input.extend_from_slice(&public);
        let digest = Sha256::digest(&input);
        let v = s.verifier();
        assert_eq!(v.key_id(), digest[..4]);
        let mut material = vec![0x01];
        material.extend_from_slice(&public);
        let want = format!(
            "{NAME}+{}+{}",
            hex(&digest[..4]),
            STANDARD.encode(&material)
        );
        assert_eq!(v.encode(), want);
        assert_eq!(LogVerifier::parse(&want).expect("parses"), v);
        assert_eq!(v.name(), NAME);
        assert_eq!(s.name(), NAME);
    }

    #[test]
    fn known_answer_for_the_zero_seed() {
        // Ed25519 public key of the all-zero seed (well known; also checked against the
        // library here so a wrong constant cannot pass silently).
        let public_hex = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
        let public: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&public_hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(
            SigningKey::from_bytes(&[0; 32]).verifying_key().as_bytes()[..],
            public[..]
        );
        let mut input = b"example.com/log\n\x01".to_vec();
        input.extend_from_slice(&public);
        let id = &Sha256::digest(&input)[..4];
        let mut material = vec![0x01];
        material.extend_from_slice(&public);
        let want = format!("example.com/log+{}+{}", hex(id), STANDARD.encode(&material));

        let s = LogSigner::from_seed("example.com/log", [0; 32]).expect("valid name");
        assert_eq!(s.verifier().encode(), want);
        let mut seed_material = [0u8; 33];
        seed_material[0] = 0x01;
        let private = format!(
            "PRIVATE+KEY+example.com/log+{}+{}",
            hex(id),
            STANDARD.encode(seed_material)
        );
        assert_eq!(s.encode(), private);
    }

    #[test]
    fn interoperates_with_go_sumdb_note() {
        // The key pair and signed note from the Go reference implementation's tests.
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let note = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        let s = LogSigner::parse(skey).expect("parses");
        assert_eq!(s.encode(), skey);
        assert_eq!(s.verifier().encode(), vkey);
        let v = LogVerifier::parse(vkey).expect("parses");
        assert_eq!(v, s.verifier());
        assert_eq!(s.sign_note(text).expect("signs"), note);
        assert_eq!(v.verify_note(&note).expect("verifies"), text);
    }

    #[test]
    fn private_key_round_trip() {
        let s = signer();
        let text = s.encode();
        assert!(text.starts_with("PRIVATE+KEY+example.com/log+"));
        let back = LogSigner::parse(&format!("{text}\n")).expect("parses");
        assert_eq!(back.encode(), text);
        assert_eq!(back.verifier(), s.verifier());
        let fresh = LogSigner::generate(NAME).expect("randomness");
        assert_ne!(fresh.verifier(), s.verifier());
        let again = LogSigner::parse(&fresh.encode()).expect("parses");
        assert_eq!(again.verifier(), fresh.verifier());
        // Debug output must not leak the seed.
        let debug = format!("{s:?}");
        assert!(!debug.contains(&text[text.rfind('+').expect("plus") + 1..]));
        assert!(debug.contains(NAME));
    }

    #[test]
    fn bad_key_texts_are_rejected() {
        let s = signer();
        let vkey = s.verifier().encode();
        let skey = s.encode();
        let (name, rest) = vkey.split_once('+').expect("plus");
        let (id, b64) = rest.split_once('+').expect("plus");

        let other_id = if id == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{other_id}+{b64}")),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("other.example/log+{id}+{b64}")),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{id}")),
            Err(NoteError::MalformedVerifierKey { .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{}+{b64}", &id[..7])),
            Err(NoteError::MalformedVerifierKey { .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{id}+!!!")),
            Err(NoteError::MalformedVerifierKey { .. })
        ));
        let mut material = STANDARD.decode(b64).expect("base64");
        material[0] = 0x02;
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{id}+{}", STANDARD.encode(&material))),
            Err(NoteError::UnsupportedAlgorithm { alg: 0x02, .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{id}+{}", STANDARD.encode(&material[..20]))),
            Err(NoteError::UnsupportedAlgorithm { .. })
        ));
        material[0] = 0x01;
        assert!(matches!(
            LogVerifier::parse(&format!("{name}+{id}+{}", STANDARD.encode(&material[..20]))),
            Err(NoteError::MalformedVerifierKey { .. })
        ));
        assert!(matches!(
            LogVerifier::parse(&format!("bad name+{id}+{b64}")),
            Err(NoteError::InvalidKeyName { .. })
        ));

        assert!(matches!(
            LogSigner::parse(&skey["PRIVATE+".len()..]),
            Err(NoteError::MalformedSignerKey { .. })
        ));
        assert!(matches!(
            LogSigner::parse(&skey.replace(id, other_id)),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        for bad in ["", "a+b", "a b", "a\tb", "a\nb"] {
            assert!(matches!(
                LogSigner::from_seed(bad, [1; 32]),
                Err(NoteError::InvalidKeyName { .. })
            ));
        }
        // Private key material must not appear in error messages.
        let secret = &skey[skey.rfind('+').expect("plus") + 1..];
        let err = LogSigner::parse(&format!("{}x", &skey[..skey.len() - 1])).expect_err("bad");
        assert!(!err.to_string().contains(&secret[..10]));
    }

    #[test]
    fn tampering_anywhere_fails() {
        let s = signer();
        let v = s.verifier();
        let note = s.sign_checkpoint(&checkpoint()).expect("valid");
        let body_len = checkpoint().body().len();
        let sig_start = note.rfind(' ').expect("space") + 1;
        let bytes = note.as_bytes();
        for i in (0..body_len).chain(sig_start..note.len() - 1) {
            for bit in [0x01u8] {
                let mut tampered = bytes.to_vec();
                tampered[i] ^= bit;
                let Ok(tampered) = String::from_utf8(tampered) else {
                    continue;
                };
                if tampered == note {
                    continue;
                }
                assert!(
                    v.verify_checkpoint(&tampered).is_err(),
                    "byte {i} bit {bit:#x} went unnoticed"
                );
            }
        }
        // The signature itself (not just its encoding) is checked.
        let (head, b64) = note.trim_end().rsplit_once(' ').expect("space");
        let mut blob = STANDARD.decode(b64).expect("base64");
        for i in KEY_ID_LEN..blob.len() {
            blob[i] ^= 0x10;
            let tampered = format!("{head} {}\n", STANDARD.encode(&blob));
            assert!(matches!(
                v.verify_note(&tampered),
                Err(NoteError::BadSignature { .. })
            ));
            blob[i] ^= 0x10;
        }
        // A signature of the right key with a truncated signature is bad, not malformed.
        let tampered = format!("{head} {}\n", STANDARD.encode(&blob[..40]));
        assert!(matches!(
            v.verify_note(&tampered),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn same_name_other_key_fails() {
        let s = signer();
        let impostor = LogSigner::from_seed(NAME, [8u8; 32]).expect("valid");
        let note = impostor.sign_checkpoint(&checkpoint()).expect("valid");
        assert!(matches!(
            s.verifier().verify_checkpoint(&note),
            Err(NoteError::NoSignature { .. })
        ));
        // Even if the impostor copies the right key ID, the signature does not verify.
        let (head, b64) = note.trim_end().rsplit_once(' ').expect("space");
        let mut blob = STANDARD.decode(b64).expect("base64");
        blob[..KEY_ID_LEN].copy_from_slice(&s.verifier().key_id());
        let forged = format!("{head} {}\n", STANDARD.encode(&blob));
        assert!(matches!(
            s.verifier().verify_checkpoint(&forged),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn other_signatures_are_ignored() {
        let s = signer();
        let other = LogSigner::from_seed("witness.example", [9u8; 32]).expect("valid");
        let text = checkpoint().body();
        let ours = s.sign_note(&text).expect("valid");
        let theirs = other.sign_note(&text).expect("valid");
        let their_line = &theirs[text.len() + 1..];
        let both = format!("{ours}{their_line}");
        let both_reversed = format!("{theirs}{}", &ours[text.len() + 1..]);
        for note in [&both, &both_reversed] {
            assert_eq!(
                s.verifier().verify_checkpoint(note).expect("ok"),
                checkpoint()
            );
            assert_eq!(other.verifier().verify_note(note).expect("ok"), text);
        }
        assert!(matches!(
            s.verifier().verify_note(&theirs),
            Err(NoteError::NoSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let s = signer();
        let v = s.verifier();
        let text = checkpoint().body();
        let note = s.sign_note(&text).expect("valid");
        let sig_line = &note[text.len() + 1..];
        let malformed = |n: &str| matches!(v.verify_note(n), Err(NoteError::MalformedNote { .. }));

        assert!(malformed(&format!("{text}{sig_line}")), "no blank line");
        assert!(malformed(note.trim_end()), "missing final newline");
        assert!(malformed(&format!("{text}\n")), "no signatures");
        assert!(
            malformed(&format!("{text}\n\n{sig_line}")),
            "two blank lines"
        );
        assert!(malformed(&format!("\n{note}")), "leading blank line");
        assert!(malformed(&format!("{note}\n")), "trailing blank line");
        assert!(
            malformed(&note.replace('\u{2014}', "-")),
            "hyphen, not em dash"
        );
        assert!(
            malformed(&format!("{text}\n\u{2014} {NAME} %%%%\n")),
            "bad base64"
        );
        assert!(
            malformed(&format!("{text}\n\u{2014} {NAME} AAAA\n")),
            "short signature"
        );
        assert!(
            malformed(&format!("{text}\n\u{2014} {NAME}\n")),
            "no signature"
        );
        assert!(
            malformed(&note.replace("12345", "12\r45")),
            "control character"
        );
        assert!(malformed(&format!(
            "{note}{}",
            sig_line.repeat(MAX_SIGNATURES)
        )));
        assert!(malformed(""), "empty");

        assert!(matches!(
            s.sign_note("no newline"),
            Err(NoteError::InvalidNoteText { .. })
        ));
        assert!(matches!(
            s.sign_note("a\n\nb\n"),
            Err(NoteError::InvalidNoteText { .. })
        ));
        assert!(matches!(
            s.sign_note(""),
            Err(NoteError::InvalidNoteText { .. })
        ));
        assert!(matches!(
            s.sign_note("tab\there\n"),
            Err(NoteError::InvalidNoteText { .. })
        ));
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let s = signer();
        let v = s.verifier();
        let root = STANDARD.encode([1u8; 32]);
        let bad_bodies = [
            format!("{NAME}\n012\n{root}\n"),
            format!("{NAME}\n00\n{root}\n"),
            format!("{NAME}\n+12\n{root}\n"),
            format!("{NAME}\n-1\n{root}\n"),
            format!("{NAME}\n1 2\n{root}\n"),
            format!("{NAME}\n12a\n{root}\n"),
            format!("{NAME}\n\n{root}\n"),
            format!("{NAME}\n18446744073709551616\n{root}\n"),
            format!("{NAME}\n12\n{}\n", STANDARD.encode([1u8; 31])),
            format!("{NAME}\n12\n{}\n", STANDARD.encode([1u8; 33])),
            format!("{NAME}\n12\n{}\n", root.trim_end_matches('=')),
            format!("{NAME}\n12\nnot base64!\n"),
            format!("{NAME}\n12\n"),
            format!("{NAME}\n12\n{root}"),
            format!("\n12\n{root}\n"),
        ];
        for body in &bad_bodies {
            assert!(
                matches!(
                    Checkpoint::parse(body),
                    Err(NoteError::MalformedCheckpoint { .. })
                ),
                "{body:?}"
            );
            // Signed or not, it is still refused (some are not even valid note texts).
            if let Ok(note) = s.sign_note(body) {
                assert!(
                    matches!(
                        v.verify_checkpoint(&note),
                        Err(NoteError::MalformedCheckpoint { .. })
                    ),
                    "{body:?}"
                );
            }
        }
        assert_eq!(
            Checkpoint::parse(&format!("{NAME}\n18446744073709551615\n{root}\n"))
                .expect("max size")
                .size,
            u64::MAX
        );
        assert_eq!(
            Checkpoint::parse(&format!("{NAME}\n0\n{root}\n"))
                .expect("zero")
                .size,
            0
        );

        let other = Checkpoint {
            origin: "other.example/log".into(),
            ..checkpoint()
        };
        let note = s.sign_note(&other.body()).expect("valid text");
        assert!(matches!(
            v.verify_checkpoint(&note),
            Err(NoteError::OriginMismatch { .. })
        ));
        assert!(matches!(
            s.sign_checkpoint(&other),
            Err(NoteError::OriginMismatch { .. })
        ));
        let bad_ext = Checkpoint {
            extensions: vec![String::new()],
            ..checkpoint()
        };
        assert!(matches!(
            s.sign_checkpoint(&bad_ext),
            Err(NoteError::MalformedCheckpoint { .. })
        ));
        let bad_origin = Checkpoint {
            origin: format!("{NAME}\nsmuggled"),
            ..checkpoint()
        };
        assert!(matches!(
            s.sign_checkpoint(&bad_origin),
            Err(NoteError::MalformedCheckpoint { .. })
        ));
    }

    #[test]
    fn error_messages_are_clear() {
        let err = Checkpoint::parse("o\n012\nAAAA\n").expect_err("leading zero");
        assert_eq!(
            err.to_string(),
            "malformed checkpoint: tree size \"012\" has a leading zero"
        );
        let v = signer().verifier();
        let other = LogSigner::from_seed(NAME, [8u8; 32]).expect("valid");
        let err = v
            .verify_note(&other.sign_note("x\n").expect("valid"))
            .expect_err("not ours");
        assert_eq!(
            err.to_string(),
            format!(
                "the note has no signature by key {NAME}+{}",
                hex(&v.key_id())
            )
        );
    }
}
