//! The rules that need the log: who may record what, given what is already recorded.
//!
//! The registry is a view of the log (keys, promises, approvals, active vouches), rebuilt by
//! replay and extended batch by batch. A batch is checked against the registry plus the changes
//! staged by its own earlier events, and the staged changes are merged only once the batch is
//! durable, so a failed commit leaves the registry exactly as the store is. It never touches
//! storage.

use crate::evidence::{Body, Event, FieldError, Id, Kind, Time};
use ed25519_dalek::{Signature, VerifyingKey};
use std::collections::HashMap;

/// What the log says about one promise.
#[derive(Debug, Clone)]
struct PromiseFacts {
    promisor: Id,
    promisee: Id,
    at: Time,
    index: u64,
    settled: Option<u64>,
}

type VouchKey = (Id, Id, Option<Id>);

/// The signature a sealed event carries on its way into the log, and the bytes it signs.
fn seal_signature(seal: &crate::evidence::Seal) -> Result<(Vec<u8>, [u8; 64]), FieldError> {
    let missing = || FieldError::new("sig", "a sealed event lacks its signature's opening");
    let opening = seal
        .opening(crate::evidence::seal::Hidden::Sig)
        .ok_or_else(missing)?;
    let sig = <[u8; 64]>::try_from(opening.value.as_slice()).map_err(|_| missing())?;
    let bytes = seal.signed.as_deref().ok_or_else(missing)?;
    Ok((bytes.to_vec(), sig))
}

/// Keys, promises, approvals and vouches known from the log.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    keys: HashMap<Id, VerifyingKey>,
    promises: HashMap<Id, PromiseFacts>,
    /// The promise ids approvals were given for, with the approval's log index.
    approvals: HashMap<Id, u64>,
    vouches: HashMap<VouchKey, bool>,
    operators: Vec<Id>,
}

/// Changes made by the accepted events of a batch that is not yet durable.
#[derive(Debug, Default)]
pub struct Staged {
    keys: HashMap<Id, VerifyingKey>,
    promises: HashMap<Id, PromiseFacts>,
    approvals: HashMap<Id, u64>,
    settled: HashMap<Id, u64>,
    vouches: HashMap<VouchKey, bool>,
}

/// Whether signatures are checked: always for new events, not when replaying a log whose
/// events were checked when they were appended (verification re-checks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every signature.
    Check,
    /// Trust the stored log's signatures (start-up replay).
    Trust,
}

impl Registry {
    /// An empty registry; `operators` may record `key` events for other principals.
    pub fn new(operators: Vec<Id>) -> Self {
        Self {
            operators,
            ..Self::default()
        }
    }

    fn key(&self, staged: &Staged, principal: &Id) -> Option<VerifyingKey> {
        staged
            .keys
            .get(principal)
            .or_else(|| self.keys.get(principal))
            .copied()
    }

    fn promise<'a>(
        &'a self,
        staged: &'a Staged,
        id: &Id,
    ) -> Option<(&'a PromiseFacts, Option<u64>)> {
        let facts = staged.promises.get(id).or_else(|| self.promises.get(id))?;
        Some((facts, staged.settled.get(id).copied().or(facts.settled)))
    }

    fn vouch_active(&self, staged: &Staged, key: &VouchKey) -> bool {
        staged
            .vouches
            .get(key)
            .or_else(|| self.vouches.get(key))
            .copied()
            .unwrap_or(false)
    }

    /// Checks `event`, to be stored at `index`, against the log and the batch so far; fills in
    /// its default author; stages its changes. Nothing is staged when it is refused.
    pub fn admit(
        &self,
        staged: &mut Staged,
        event: &mut Event,
        index: u64,
        signatures: Signatures,
    ) -> Result<(), FieldError> {
        self.admit_checked(staged, event, index, signatures, &mut |_| Ok(()))
    }

    /// [`Registry::admit`], with `last` asked of the event once it is complete (its author
    /// filled in) and before anything is staged: the ledger checks the entry's length there.
    pub fn admit_checked(
        &self,
        staged: &mut Staged,
        event: &mut Event,
        index: u64,
        signatures: Signatures,
        last: &mut dyn FnMut(&Event) -> Result<(), FieldError>,
    ) -> Result<(), FieldError> {
        // An erasure is the log's own act (the operator's `forget`): no author, no signature,
        // no change to what the registry knows.
        if let Body::Erasure { .. } | Body::Policy { .. } = event.body {
            if event.author.is_some() || event.sig.is_some() {
                return Err(FieldError::new(
                    "author",
                    format!(
                        "an entry of kind {} is the log's own act: it has no author and no \
                         signature",
                        event.kind()
                    ),
                ));
            }
            return last(event);
        }
        // Who recorded it: default to the party allowed to record this kind.
        let allowed = match &event.body {
            Body::Outcome { promise, .. } => {
                let (facts, settled) = self.promise(staged, promise).ok_or_else(|| {
                    FieldError::new(
                        "promise",
                        format!("no promise with id {promise:?} is in the log"),
                    )
                })?;
                if event.author.as_ref() == Some(&facts.promisor) {
                    return Err(FieldError::new(
                        "author",
                        format!(
                            "{} made promise {promise:?}; an outcome must be recorded by the promisee ({}), never the promisor",
                            facts.promisor, facts.promisee
                        ),
                    ));
                }
                if let Some(at) = settled {
                    return Err(FieldError::new(
                        "promise",
                        format!("promise {promise:?} already has an outcome, at log index {at}"),
                    ));
                }
                if event.at < facts.at {
                    return Err(FieldError::new(
                        "at",
                        format!(
                            "{} is before promise {promise:?} was made ({})",
                            event.at, facts.at
                        ),
                    ));
                }
                facts.promisee.clone()
            }
            _ => event
                .natural_author()
                .cloned()
                .ok_or_else(|| FieldError::new("author", "is missing"))?,
        };
        let author = event.author.get_or_insert_with(|| allowed.clone()).clone();
        let operator_key_event =
            matches!(event.body, Body::Key { .. }) && self.operators.contains(&author);
        if author != allowed && !operator_key_event {
            return Err(FieldError::new(
                "author",
                format!(
                    "{author} may not record this {} event: only {allowed} may",
                    event.kind()
                ),
            ));
        }

        // Signatures: once a principal has a key, everything it records must be signed with it.
        let signing_key = match (self.key(staged, &author), &event.body) {
            (Some(key), _) => Some(key),
            // A first key proves possession of itself.
            (
                None,
                Body::Key {
                    principal,
                    public_key,
                },
            ) if *principal == author => {
                Some(VerifyingKey::from_bytes(public_key).map_err(|_| {
                    FieldError::new("public_key", "is not a valid ed25519 public key")
                })?)
            }
            (None, _) => None,
        };
        // A sealed event (format 3) carries its signature's commitment in the leaf; on its way
        // in, the seal also carries the signature and the bytes signed (the event in the clear).
        let signed = event.sig.is_some() || event.seal.as_ref().is_some_and(|s| s.sig.is_some());
        match (signing_key, signed) {
            (None, false) => {}
            (None, true) => {
                return Err(FieldError::new(
                    "sig",
                    format!(
                        "{author} has no key in the log to check it against; record a `key` event first or drop `sig`"
                    ),
                ));
            }
            (Some(_), false) => {
                return Err(FieldError::new(
                    "sig",
                    format!(
                        "is missing: {author} has a key in the log, so its events must be signed"
                    ),
                ));
            }
            (Some(key), true) if signatures == Signatures::Check => {
                let (bytes, sig) = match (&event.sig, event.seal.as_deref()) {
                    (Some(sig), _) => (event.signing_bytes(), *sig),
                    (None, Some(seal)) => seal_signature(seal)?,
                    (None, None) => unreachable!("`signed` says one of them is there"),
                };
                key.verify_strict(&bytes, &Signature::from_bytes(&sig))
                    .map_err(|_| {
                        FieldError::new(
                            "sig",
                            format!("is not a valid signature by {author}'s key over this event"),
                        )
                    })?;
            }
            (Some(_), true) => {}
        }

        last(event)?;
        // The kind's own rules, then stage the change.
        match &event.body {
            Body::Promise {
                id,
                promisor,
                promisee,
                ..
            } => {
                if let Some((facts, _)) = self.promise(staged, id) {
                    return Err(FieldError::new(
                        "id",
                        format!(
                            "promise id {id:?} is already used, at log index {}",
                            facts.index
                        ),
                    ));
                }
                staged.promises.insert(
                    id.clone(),
                    PromiseFacts {
                        promisor: promisor.clone(),
                        promisee: promisee.clone(),
                        at: event.at,
                        index,
                        settled: None,
                    },
                );
            }
            Body::Outcome { promise, .. } => {
                staged.settled.insert(promise.clone(), index);
            }
            Body::Approval { promise, .. } => {
                if let Some((facts, _)) = self.promise(staged, promise) {
                    return Err(FieldError::new(
                        "promise",
                        format!(
                            "promise {promise:?} is already in the log, at log index {}: an \
                             approval must come before the promise it allows",
                            facts.index
                        ),
                    ));
                }
                let approved = staged.approvals.get(promise);
                if let Some(at) = approved.or_else(|| self.approvals.get(promise)) {
                    return Err(FieldError::new(
                        "promise",
                        format!(
                            "promise {promise:?} is already approved, at log index {at}: one \
                             approval allows one promise, and it must come before that promise"
                        ),
                    ));
                }
                staged.approvals.insert(promise.clone(), index);
            }
            Body::Vouch {
                voucher,
                subject,
                scope,
                ..
            } => {
                staged
                    .vouches
                    .insert((voucher.clone(), subject.clone(), scope.clone()), true);
            }
            Body::Unvouch {
                voucher,
                subject,
                scope,
            } => {
                let key = (voucher.clone(), subject.clone(), scope.clone());
                if !self.vouch_active(staged, &key) {
                    return Err(FieldError::new(
                        "subject",
                        format!(
                            "{voucher} has no active vouch for {subject} in scope {}",
                            scope.as_ref().map_or("(all)", Id::as_str)
                        ),
                    ));
                }
                staged.vouches.insert(key, false);
            }
            Body::Report { evidence, .. } => {
                if let Some(at) = evidence
                    && *at >= index
                {
                    return Err(FieldError::new(
                        "evidence",
                        format!(
                            "log index {at} is not an earlier entry (this event would be {index})"
                        ),
                    ));
                }
            }
            Body::Rating { .. } | Body::Erasure { .. } | Body::Policy { .. } => {}
            Body::Key {
                principal,
                public_key,
            } => {
                let key = VerifyingKey::from_bytes(public_key).map_err(|_| {
                    FieldError::new("public_key", "is not a valid ed25519 public key")
                })?;
                staged.keys.insert(principal.clone(), key);
            }
        }
        debug_assert!(Kind::ALL.contains(&event.kind()));
        Ok(())
    }

    /// Merges a durable batch's staged changes.
    pub fn merge(&mut self, staged: Staged) {
        self.keys.extend(staged.keys);
        self.promises.extend(staged.promises);
        self.approvals.extend(staged.approvals);
        for (id, index) in staged.settled {
            if let Some(facts) = self.promises.get_mut(&id) {
                facts.settled = Some(index);
            }
        }
        for (key, active) in staged.vouches {
            if active {
                self.vouches.insert(key, true);
            } else {
                self.vouches.remove(&key);
            }
        }
    }
}
