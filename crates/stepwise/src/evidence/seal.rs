//! Entry format 3: leaves that name nobody and hold no prose (docs/LOG.md "Format 3",
//! docs/PRIVACY.md).
//!
//! A principal is named in the leaf by its **pseudonym**, `~` and the first 16 bytes, in hex, of
//! `HMAC-SHA256(secret, "stepwise/v3/pseudonym" ‖ 0x00 ‖ id)`, under a random 32-byte secret
//! kept for that principal off the log. Free text, signatures and promise ids are replaced by
//! **commitments** `HMAC-SHA256(salt, "stepwise/v3/<field>" ‖ 0x00 ‖ value)` under a fresh
//! random salt; the salt and the value (the *opening*) are kept off the log too. Erasing the
//! secret and the openings leaves every leaf, and so every proof, exactly as it was, while
//! nothing in the leaf can be traced back to a person: the HMAC under an unknown 256-bit key
//! gives a guesser of names nothing to test a guess against.
//!
//! Everything here is pure: the caller says which pseudonym each principal has (it keeps the
//! secrets); only fresh salts come from the operating system's random source.

use super::{Body, Event, Id};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of a principal's secret and of a commitment's salt.
pub const SECRET_LEN: usize = 32;
/// A principal's secret, or a commitment's salt.
pub type Secret = [u8; SECRET_LEN];
/// A commitment: HMAC-SHA256 under the salt.
pub type Commitment = [u8; 32];
/// The first character of every pseudonym (refused as the first character of an id).
pub const PSEUDONYM_PREFIX: char = '~';
/// Hex digits after the prefix: 16 bytes of the HMAC.
const PSEUDONYM_HEX: usize = 32;

/// The domain-separation string of a principal's pseudonym.
pub const PSEUDONYM_DOMAIN: &str = "stepwise/v3/pseudonym";

/// A field of an event that format 3 keeps off the log, committed to in the leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hidden {
    /// The free-text `note` (leaf field `note_commit`).
    Note,
    /// The author's signature `sig` (leaf field `sig_commit`).
    Sig,
    /// A promise's `id`, and an approval's `promise` (the id of the promise it allows): the
    /// leaf holds a name derived from the commitment, the same for both under one salt.
    PromiseId,
}

impl Hidden {
    /// Every hidden field.
    pub const ALL: [Hidden; 3] = [Hidden::Note, Hidden::Sig, Hidden::PromiseId];

    /// The field's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Hidden::Note => "note",
            Hidden::Sig => "sig",
            Hidden::PromiseId => "id",
        }
    }

    /// The field named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Its commitment's domain-separation string.
    pub fn domain(self) -> &'static str {
        match self {
            Hidden::Note => "stepwise/v3/note",
            Hidden::Sig => "stepwise/v3/sig",
            Hidden::PromiseId => "stepwise/v3/promise-id",
        }
    }
}

/// What opens one commitment: the salt and the value committed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// Which field.
    pub field: Hidden,
    /// The fresh random salt.
    pub salt: Secret,
    /// The value: the note's UTF-8, the 64 signature bytes, the promise id's text.
    pub value: Vec<u8>,
}

impl Opening {
    /// The commitment this opening opens.
    pub fn commitment(&self) -> Commitment {
        hmac(&self.salt, self.field.domain(), &self.value)
    }
}

/// The commitments of a format-3 entry in place of its hidden fields, and, for an event on its
/// way into the log only, what the ledger needs to check and keep them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seal {
    /// The note's commitment, when the event had a note.
    pub note: Option<Commitment>,
    /// The signature's commitment, when the event was signed.
    pub sig: Option<Commitment>,
    /// The openings of every commitment (empty for an event decoded from the log).
    pub openings: Vec<Opening>,
    /// The bytes the author signed (the event in the clear, `Event::signing_bytes`), so the
    /// ledger can check the signature before it appends; `None` once appended.
    pub signed: Option<Box<[u8]>>,
}

impl Seal {
    /// The opening of `field` that this seal carries, if any.
    pub fn opening(&self, field: Hidden) -> Option<&Opening> {
        self.openings.iter().find(|o| o.field == field)
    }
}

/// `HMAC-SHA256(key, domain ‖ 0x00 ‖ value)`.
fn hmac(key: &[u8; 32], domain: &str, value: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value);
    mac.finalize().into_bytes().into()
}

fn short_name(digest: &[u8; 32]) -> Id {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [PSEUDONYM_PREFIX as u8; 1 + PSEUDONYM_HEX];
    for (pair, b) in text[1..]
        .chunks_exact_mut(2)
        .zip(&digest[..PSEUDONYM_HEX / 2])
    {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
    Id::derived(std::str::from_utf8(&text).expect("hex digits are ASCII"))
}

/// The log's name whose 32 hex digits are `key`'s 128 bits (most significant first): the
/// inverse of reading a pseudonym's or a sealed promise id's digits as a number.
pub fn name_of_key(key: u128) -> Id {
    let mut digest = [0; 32];
    digest[..16].copy_from_slice(&key.to_be_bytes());
    short_name(&digest)
}

/// The 128 bits of a log's name (`~` and 32 lowercase hex digits; `None` for any other text):
/// 16 bytes to keep in a table rather than a string of 33.
pub fn key_of_name(name: &str) -> Option<u128> {
    is_pseudonym(name)
        .then(|| u128::from_str_radix(&name[1..], 16).ok())
        .flatten()
}

/// The pseudonym of principal `id` under its `secret`.
pub fn pseudonym(secret: &Secret, id: &Id) -> Id {
    short_name(&hmac(secret, PSEUDONYM_DOMAIN, id.as_str().as_bytes()))
}

/// The log's id of a promise whose opening is `opening` (a [`Hidden::PromiseId`] opening).
pub fn promise_name(opening: &Opening) -> Id {
    short_name(&opening.commitment())
}

/// Whether `s` has the shape of a pseudonym (or a sealed promise id): `~` and 32 lowercase hex
/// digits.
pub fn is_pseudonym(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 1 + PSEUDONYM_HEX
        && b[0] == PSEUDONYM_PREFIX as u8
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// 32 fresh random bytes: a new principal's secret, or a commitment's salt.
pub fn fresh_secret() -> Result<Secret, getrandom::Error> {
    let mut s = [0u8; SECRET_LEN];
    getrandom::fill(&mut s)?;
    Ok(s)
}

/// Fresh secrets and salts for one batch, read from the operating system's random source
/// [`Salts::PER_READ`] at a time (one system call instead of one per salt). Each is handed out
/// once and wiped from the buffer as it is; what is left is wiped when the pool is dropped.
pub struct Salts {
    buf: Box<[u8; SECRET_LEN * Salts::PER_READ]>,
    next: usize,
}

impl Salts {
    /// Salts read from the operating system at once.
    pub const PER_READ: usize = 64;

    /// An empty pool: the first [`Salts::fresh`] fills it.
    pub fn new() -> Self {
        Self {
            buf: Box::new([0; SECRET_LEN * Salts::PER_READ]),
            next: Self::PER_READ,
        }
    }

    /// 32 fresh random bytes, never handed out before.
    pub fn fresh(&mut self) -> Result<Secret, getrandom::Error> {
        if self.next == Self::PER_READ {
            getrandom::fill(&mut self.buf[..])?;
            self.next = 0;
        }
        let chunk = &mut self.buf[self.next * SECRET_LEN..(self.next + 1) * SECRET_LEN];
        let mut salt = [0; SECRET_LEN];
        salt.copy_from_slice(chunk);
        chunk.fill(0);
        self.next += 1;
        Ok(salt)
    }
}

impl Default for Salts {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Salts {
    fn drop(&mut self) {
        self.buf.fill(0);
    }
}

/// Every principal `event` names (author first), each once.
pub fn principals(event: &Event) -> Vec<&Id> {
    let mut out: Vec<&Id> = Vec::with_capacity(3);
    if let Some(a) = &event.author {
        out.push(a);
    }
    for id in body_principals(&event.body) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The principals a body names, in field order.
pub fn body_principals(body: &Body) -> Vec<&Id> {
    super::body_fields(body)
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}

/// The opening of promise id `id` under `salt`.
pub fn promise_opening(id: &Id, salt: Secret) -> Opening {
    Opening {
        field: Hidden::PromiseId,
        salt,
        value: id.as_str().as_bytes().to_vec(),
    }
}

/// Seals `clear`, an event as a client gave it, into format 3: every principal renamed by
/// `principal` (the caller's names: a pseudonym, or the id itself where the log already names
/// it in the clear), and the note, the signature and a promise's id replaced by commitments
/// under fresh salts. `promise_salt` gives the salt of a promise id the log already has (an
/// outcome then names that promise; a second promise with the same id gets the same name, so
/// the ledger refuses it as a duplicate; a promise an approval allowed gets the approval's
/// name); an outcome's unknown promise id is left as it is (a promise in the clear, or none). The result carries its openings and the signed bytes for the ledger
/// (see [`Seal`]). Fresh salts come from `salts`.
pub fn seal(
    clear: &Event,
    principal: &dyn Fn(&Id) -> Id,
    promise_salt: &dyn Fn(&Id) -> Option<Secret>,
    salts: &mut Salts,
) -> Result<Event, getrandom::Error> {
    let promise_id = matches!(clear.body, Body::Promise { .. } | Body::Approval { .. });
    let mut openings = Vec::with_capacity(
        usize::from(clear.note.is_some())
            + usize::from(clear.sig.is_some())
            + usize::from(promise_id),
    );
    let mut commit = |field: Hidden,
                      value: Vec<u8>,
                      salt: Option<Secret>|
     -> Result<Commitment, getrandom::Error> {
        let opening = Opening {
            field,
            salt: match salt {
                Some(salt) => salt,
                None => salts.fresh()?,
            },
            value,
        };
        let c = opening.commitment();
        openings.push(opening);
        Ok(c)
    };
    let note = clear
        .note
        .as_ref()
        .map(|n| commit(Hidden::Note, n.clone().into_bytes(), None))
        .transpose()?;
    let sig = clear
        .sig
        .map(|s| commit(Hidden::Sig, s.to_vec(), None))
        .transpose()?;
    let p = principal;
    let body = match &clear.body {
        Body::Promise {
            id,
            promisor,
            promisee,
            scope,
            stake,
            due,
        } => Body::Promise {
            id: short_name(&commit(
                Hidden::PromiseId,
                id.as_str().as_bytes().to_vec(),
                promise_salt(id),
            )?),
            promisor: p(promisor),
            promisee: p(promisee),
            scope: scope.clone(),
            stake: *stake,
            due: *due,
        },
        Body::Outcome {
            promise: id,
            result,
        } => Body::Outcome {
            promise: promise_salt(id).map_or_else(
                || id.clone(),
                |salt| promise_name(&promise_opening(id, salt)),
            ),
            result: *result,
        },
        Body::Vouch {
            voucher,
            subject,
            scope,
            weight,
        } => Body::Vouch {
            voucher: p(voucher),
            subject: p(subject),
            scope: scope.clone(),
            weight: *weight,
        },
        Body::Unvouch {
            voucher,
            subject,
            scope,
        } => Body::Unvouch {
            voucher: p(voucher),
            subject: p(subject),
            scope: scope.clone(),
        },
        Body::Report {
            reporter,
            subject,
            scope,
            severity,
            evidence,
        } => Body::Report {
            reporter: p(reporter),
            subject: p(subject),
            scope: scope.clone(),
            severity: *severity,
            evidence: *evidence,
        },
        Body::Rating {
            rater,
            subject,
            value,
            scope,
        } => Body::Rating {
            rater: p(rater),
            subject: p(subject),
            value: *value,
            scope: scope.clone(),
        },
        Body::Key {
            principal,
            public_key,
        } => Body::Key {
            principal: p(principal),
            public_key: *public_key,
        },
        Body::Erasure { principal, reason } => Body::Erasure {
            principal: principal.clone(),
            reason: *reason,
        },
        Body::Policy { sha256 } => Body::Policy {
            sha256: sha256.clone(),
        },
        // An approval comes before the promise it allows: it commits to the promise id as the
        // promise itself will, under the salt the promise will find (`promise_salt`), so both
        // leaves carry one name and the fold links them without an opening.
        Body::Approval {
            approver,
            subject,
            promise: id,
            capability,
            stake,
            decision,
        } => Body::Approval {
            approver: p(approver),
            subject: p(subject),
            promise: short_name(&commit(
                Hidden::PromiseId,
                id.as_str().as_bytes().to_vec(),
                promise_salt(id),
            )?),
            capability: capability.clone(),
            stake: *stake,
            decision: *decision,
        },
    };
    // The author the ledger would fill in, filled in now: a signature covers it.
    let author = clear.author.as_ref().or_else(|| clear.natural_author());
    let signed = clear.sig.map(|_| match (&clear.author, author) {
        (None, Some(author)) => Event {
            author: Some(author.clone()),
            ..clear.clone()
        }
        .signing_bytes(),
        _ => clear.signing_bytes(),
    });
    Ok(Event {
        at: clear.at,
        author: author.map(p),
        body,
        note: None,
        sig: None,
        stamp: clear.stamp,
        seal: Some(Box::new(Seal {
            note,
            sig,
            openings,
            signed: signed.map(Vec::into_boxed_slice),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_depends_on_the_secret_and_the_id() {
        let alice = Id::parse("p", "user:alice").expect("valid");
        let bob = Id::parse("p", "user:bob").expect("valid");
        let (s1, s2) = ([1u8; 32], [2u8; 32]);
        let p = pseudonym(&s1, &alice);
        assert!(is_pseudonym(p.as_str()), "{p}");
        assert_eq!(p, pseudonym(&s1, &alice));
        assert_ne!(p, pseudonym(&s2, &alice));
        assert_ne!(p, pseudonym(&s1, &bob));
    }

    /// A log's name kept as its 128 bits gives back the same name, leading zeros included; text
    /// of any other shape has no key.
    #[test]
    fn a_name_and_its_key_go_both_ways() {
        for secret in [[0u8; 32], [1; 32], [0xff; 32], [7; 32]] {
            let name = pseudonym(&secret, &Id::parse("p", "user:alice").expect("valid"));
            let key = key_of_name(name.as_str()).expect("a name has a key");
            assert_eq!(name_of_key(key), name);
        }
        for key in [0, 1, u128::MAX, 1 << 127, 0xabc] {
            let name = name_of_key(key);
            assert!(is_pseudonym(name.as_str()), "{name}");
            assert_eq!(key_of_name(name.as_str()), Some(key));
        }
        assert_eq!(name_of_key(1).as_str(), "~00000000000000000000000000000001");
        for other in [
            "user:alice",
            "~123",
            "~0000000000000000000000000000000G",
            "~0000000000000000000000000000000A",
        ] {
            assert_eq!(key_of_name(other), None, "{other}");
        }
    }

    /// A signature covers the author the ledger would fill in: a signed event sent without
    /// its author is sealed with the bytes signed over that author, as one sent with it is;
    /// an unsigned one carries no signed bytes. Either way the sealed event names its author.
    #[test]
    fn the_signed_bytes_carry_the_author_the_ledger_fills_in() {
        let json = r#"{"kind":"rating","at":"2026-12-07T12:00:00Z","rater":"user:a","subject":"user:b","value":1}"#;
        let without = Event::from_json(json).expect("rating");
        let with = Event {
            author: without.natural_author().cloned(),
            ..without.clone()
        };
        let expected = with.signing_bytes();
        let sealed = |e: &Event| {
            seal(e, &|id: &Id| id.clone(), &|_: &Id| None, &mut Salts::new()).expect("sealed")
        };
        for clear in [&without, &with] {
            let signed = Event {
                sig: Some([9; 64]),
                ..clear.clone()
            };
            let s = sealed(&signed);
            let bytes = s.seal.as_ref().and_then(|s| s.signed.as_deref());
            assert_eq!(bytes, Some(&expected[..]));
            assert_eq!(s.author, with.author);
            let unsigned = sealed(clear);
            assert_eq!(
                unsigned.seal.as_ref().and_then(|s| s.signed.as_deref()),
                None
            );
            assert_eq!(unsigned.author, with.author);
        }
    }

    #[test]
    fn an_opening_opens_only_its_own_commitment() {
        let o = Opening {
            field: Hidden::Note,
            salt: [7; 32],
            value: b"late again".to_vec(),
        };
        let c = o.commitment();
        let other_value = Opening {
            value: b"late again!".to_vec(),
            ..o.clone()
        };
        let other_field = Opening {
            field: Hidden::PromiseId,
            ..o.clone()
        };
        let other_salt = Opening {
            salt: [8; 32],
            ..o.clone()
        };
        for other in [other_value, other_field, other_salt] {
            assert_ne!(other.commitment(), c);
        }
    }

    #[test]
    fn a_client_may_not_name_anyone_by_a_pseudonym() {
        let p = "~0123456789abcdef0123456789abcdef";
        for (field, json) in [
            (
                "rater",
                format!(
                    r#"{{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"{p}","subject":"b","value":1}}"#
                ),
            ),
            (
                "subject",
                format!(
                    r#"{{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"{p}","value":1}}"#
                ),
            ),
            (
                "promise",
                format!(
                    r#"{{"kind":"outcome","at":"2026-01-01T00:00:00Z","promise":"{p}","result":"kept"}}"#
                ),
            ),
        ] {
            let e = Event::from_json(&json).expect_err("refused");
            assert_eq!(e.field, field, "{e}");
            assert!(e.problem.contains("pseudonyms"), "{e}");
        }
    }

    #[test]
    fn an_approval_names_its_promise_as_the_promise_sealed_under_the_same_salt_will() {
        let approval = Event::from_json(
            r#"{"kind":"approval","at":"2026-01-01T00:00:00Z","approver":"user:ann","subject":"agent:bot","promise":"gate-1","capability":"deploy","stake":5}"#,
        )
        .expect("valid");
        let promise = Event::from_json(
            r#"{"kind":"promise","at":"2026-01-01T00:00:01Z","id":"gate-1","promisor":"agent:bot","promisee":"user:ann","scope":"deploy","stake":5,"due":"2026-01-02T00:00:00Z"}"#,
        )
        .expect("valid");
        let rename = |id: &Id| pseudonym(&[3; 32], id);
        let mut salts = Salts::new();
        let sealed = seal(&approval, &rename, &|_| None, &mut salts).expect("sealed");
        let opening = sealed
            .seal
            .as_ref()
            .and_then(|s| s.opening(Hidden::PromiseId));
        let opening = opening
            .expect("the promise id's opening travels with it")
            .clone();
        let Body::Approval {
            approver,
            subject,
            promise: named,
            capability,
            ..
        } = &sealed.body
        else {
            panic!("{sealed:?}");
        };
        assert_eq!(named, &promise_name(&opening));
        assert_eq!(approver, &rename(&Id::parse("p", "user:ann").expect("id")));
        assert_eq!(subject, &rename(&Id::parse("p", "agent:bot").expect("id")));
        assert_eq!(capability.as_str(), "deploy");
        assert_eq!(sealed.author.as_ref(), Some(approver));
        // The promise, sealed with the salt the approval left, carries the same name.
        let salt = opening.salt;
        let promised = seal(&promise, &rename, &|_| Some(salt), &mut salts).expect("sealed");
        let Body::Promise { id, .. } = &promised.body else {
            panic!("{promised:?}");
        };
        assert_eq!(id, named);
        // And the sealed approval reads back from its canonical bytes as it was.
        let mut stored = sealed.clone();
        stored.stamp = Some(crate::evidence::Stamp {
            recorded_at: approval.at,
            history: false,
        });
        let bytes = stored.canonical_bytes();
        let back = Event::from_entry(&bytes).expect("decodes");
        assert_eq!((&back.body, back.canonical_bytes()), (&stored.body, bytes));
    }

    #[test]
    fn salts_are_never_handed_out_twice_and_are_wiped_from_the_pool() {
        let mut salts = Salts::new();
        let drawn: Vec<Secret> = (0..3 * Salts::PER_READ + 1)
            .map(|_| salts.fresh().expect("random source"))
            .collect();
        let distinct: std::collections::HashSet<&Secret> = drawn.iter().collect();
        assert_eq!(distinct.len(), drawn.len(), "every salt is fresh");
        assert!(drawn.iter().all(|s| s != &[0; SECRET_LEN]));
        let used = salts.next * SECRET_LEN;
        assert!(
            salts.buf[..used].iter().all(|&b| b == 0),
            "handed-out salts wiped"
        );
    }

    #[test]
    fn pseudonym_shape() {
        assert!(is_pseudonym("~0123456789abcdef0123456789abcdef"));
        assert!(!is_pseudonym("~0123456789ABCDEF0123456789abcdef"));
        assert!(!is_pseudonym("~0123456789abcdef0123456789abcde"));
        assert!(!is_pseudonym("user:alice"));
    }
}
