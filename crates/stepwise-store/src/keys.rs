//! API keys: who may call the server, and with which role.
//!
//! A key is 32 random bytes from the operating system, written as `sw_` followed by unpadded
//! base64url (46 characters in all). The key's text is shown once, when it is made; stores keep
//! only a [`KeyRecord`] with its SHA-256 hash, so a copy of the database grants nothing.
//!
//! Why a fast hash and not a password KDF (argon2, scrypt, bcrypt): a KDF is slow on purpose so
//! that guessing a *low-entropy* secret from its hash costs too much. These keys carry 256 bits
//! of randomness, so no guess list exists and even a fast hash cannot be inverted or searched;
//! the slowness would only cost every request. For the same reason looking a key up by its hash
//! in the database leaks nothing useful through timing.
//!
//! Keys are not evidence: they are never written to the log. This module does no I/O besides
//! reading the OS's randomness in [`generate_key`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use stepwise::evidence::{Id, Time};

/// The prefix of every key's text: makes keys recognisable (and findable by secret scanners).
pub const KEY_PREFIX: &str = "sw_";

/// Random bytes in a key.
const KEY_BYTES: usize = 32;

/// Hex characters of the hash that form a key's public id.
const ID_LEN: usize = 12;

/// What a key's holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Manages keys and policy, and may do everything a recorder and a reader may.
    Admin,
    /// Records events as its own principal, and reads.
    Recorder,
    /// Reads only.
    Reader,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Recorder, Role::Reader];

    /// The role's name as written in flags, JSON and the store: `admin`, `recorder`, `reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Recorder => "recorder",
            Role::Reader => "reader",
        }
    }

    /// Reads a role name (lowercase, as [`Role::as_str`] writes it).
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| KeyError::UnknownRole(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

/// Why a key or role could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A role name that is not one of the three.
    #[error("role {0:?} is not one of admin, recorder, reader")]
    UnknownRole(String),
    /// The text is not shaped like a key this module makes.
    #[error(
        "this is not a stepwise API key: expected {KEY_PREFIX} followed by 43 base64url \
         characters ({0})"
    )]
    Malformed(&'static str),
    /// The operating system could not supply random bytes.
    #[error("could not read the operating system's randomness: {0}")]
    Randomness(getrandom::Error),
}

/// A new key's text: `sw_` and 32 random bytes as unpadded base64url. Show it once; store
/// [`KeyRecord::new`] of it.
pub fn generate_key() -> Result<String, KeyError> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(KeyError::Randomness)?;
    Ok(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Checks that `text` is shaped like a key (prefix, length, alphabet) before it is hashed and
/// looked up, so a malformed header gets a precise error instead of a failed lookup.
pub fn check_key_text(text: &str) -> Result<(), KeyError> {
    let Some(body) = text.strip_prefix(KEY_PREFIX) else {
        return Err(KeyError::Malformed("the prefix is missing"));
    };
    match URL_SAFE_NO_PAD.decode(body) {
        Ok(bytes) if bytes.len() == KEY_BYTES => Ok(()),
        Ok(_) => Err(KeyError::Malformed("wrong length")),
        Err(_) => Err(KeyError::Malformed("not base64url")),
    }
}

/// SHA-256 of the key's text: what stores keep and look keys up by (see the module docs for
/// why no password KDF is needed).
pub fn key_hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A key's public id: the first 12 hex characters of its hash. Safe to print and log; used to
/// list and revoke keys.
pub fn key_id(hash: &[u8; 32]) -> String {
    let mut id = String::with_capacity(ID_LEN);
    for byte in &hash[..ID_LEN / 2] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// A stored API key: everything but the key's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public id: the first 12 hex characters of `hash`.
    pub id: String,
    /// SHA-256 of the key's text.
    pub hash: [u8; 32],
    /// What the key may do.
    pub role: Role,
    /// The principal a recorder records as; `None` for keys not tied to a principal.
    pub principal: Option<Id>,
    /// When the key was made.
    pub created: Time,
    /// A revoked key is refused.
    pub revoked: bool,
}

impl KeyRecord {
    /// The record of the key whose text is `text` (not revoked).
    pub fn new(text: &str, role: Role, principal: Option<Id>, created: Time) -> Self {
        let hash = key_hash(text);
        Self {
            id: key_id(&hash),
            hash,
            role,
            principal,
            created,
            revoked: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_what_they_write_and_refuse_anything_else() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).ok(), Some(role));
            assert_eq!(role.to_string().parse::<Role>().ok(), Some(role));
        }
        for bad in ["Admin", "ADMIN", "", "writer", " reader"] {
            let e = Role::parse(bad).err().map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .is_some_and(|e| e.contains("admin, recorder, reader")),
                "{bad:?} → {e:?}"
            );
        }
    }

    #[test]
    fn generated_keys_are_distinct_well_formed_and_hash_to_their_id() -> Result<(), KeyError> {
        let a = generate_key()?;
        let b = generate_key()?;
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        check_key_text(&a)?;
        let record = KeyRecord::new(&a, Role::Reader, None, Time::MIN);
        assert_eq!(record.hash, key_hash(&a));
        assert_eq!(record.id.len(), 12);
        assert!(record.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{record:?}").contains(&a[KEY_PREFIX.len()..]));
        Ok(())
    }

    #[test]
    fn key_hash_is_sha256_of_the_text() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            key_id(&key_hash("abc")),
            "ba7816bf8f01",
            "the id is the hash's first 12 hex characters"
        );
    }

    #[test]
    fn malformed_key_texts_say_what_is_wrong() {
        let cases = [
            ("", "prefix"),
            ("Bearer sw_abc", "prefix"),
            ("sw_abc", "length"),
            (
                "sw_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                "base64url",
            ),
        ];
        for (text, needle) in cases {
            let e = check_key_text(text).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(needle)),
                "{text:?} → {e:?}"
            );
        }
    }
}
