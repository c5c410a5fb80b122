//! The rules that need the log: who may record what, given what is already recorded.
//!
//! The registry is a view of the log (keys, promises, approvals, active vouches), rebuilt by
//! replay and extended batch by batch. A batch is checked against the registry plus the changes
//! staged by its own earlier events, and the staged changes are merged only once the batch is
//! durable, so a failed commit leaves the registry exactly as the store is. It never touches
//! storage.

use crate::evidence::{Body, Event, FieldError, Id, Kind, Time};
use crate::{HashMap, HashSet};
use ed25519_dalek::{Signature, VerifyingKey};

/// What the log says about one promise.
#[derive(Debug, Clone)]
struct PromiseFacts {
    promisor: Id,
    promisee: Id,
    at: Time,
    index: u64,
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

/// What the registry keeps of an id (or a vouch's three) once nothing but its presence is
/// asked of it: the first 128 bits of SHA-256 over a domain string and the id, 16 bytes rather
/// than an `Id` and its allocation. Two keys share a digest with chance 2⁻¹²⁸ a pair.
type Digest = [u8; 16];

fn digest_of(domain: &[u8], parts: &[Option<&Id>]) -> Digest {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new().chain_update(domain);
    for part in parts {
        // Each part with its length (`u32::MAX` for none): no two lists hash the same bytes.
        let bytes = part.map_or(&[][..], |id| id.as_str().as_bytes());
        let len = part.map_or(u32::MAX, |_| {
            u32::try_from(bytes.len()).unwrap_or(u32::MAX - 1)
        });
        hash.update(len.to_le_bytes());
        hash.update(bytes);
    }
    let mut out = [0; 16];
    out.copy_from_slice(&hash.finalize()[..16]);
    out
}

/// A promise id's digest: only refusals are decided by it (an id used already, a promise settled
/// or approved already), never an acceptance.
fn digest(id: &Id) -> Digest {
    digest_of(b"stepwise promise id\0", &[Some(id)])
}

/// An active vouch's digest.
fn vouch_digest((voucher, subject, scope): &VouchKey) -> Digest {
    digest_of(
        b"stepwise vouch\0",
        &[Some(voucher), Some(subject), scope.as_ref()],
    )
}

/// What is kept of a promise with an outcome: its log index and its outcome's.
#[derive(Debug, Clone, Copy)]
struct Settled {
    index: u64,
    settled: u64,
}

/// A promise as an event names it: open (its facts, and the outcome this batch staged for it,
/// if any), or settled by an earlier batch.
enum Known<'a> {
    Open(&'a PromiseFacts, Option<u64>),
    Settled(Settled),
}

impl Known<'_> {
    fn index(&self) -> u64 {
        match self {
            Known::Open(facts, _) => facts.index,
            Known::Settled(settled) => settled.index,
        }
    }
}

/// Keys, promises, approvals and vouches known from the log.
///
/// A promise's facts are kept while it is open; once it has an outcome only its digest and
/// two log indexes are (32 rather than some 300 bytes), since all that is asked of it then is
/// whether its id was used. The ids approvals were given for and the active vouches are kept
/// by digest too.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    keys: HashMap<Id, VerifyingKey>,
    /// Promises with no outcome yet.
    promises: HashMap<Id, PromiseFacts>,
    /// Promises with an outcome, by digest.
    settled: HashMap<Digest, Settled>,
    /// The promise ids approvals were given for (by digest), with the approval's log index.
    approvals: HashMap<Digest, u64>,
    /// The active vouches, by digest.
    vouches: HashSet<Digest>,
    operators: Vec<Id>,
}

/// Changes made by the accepted events of a batch that is not yet durable.
///
/// A batch may be staged over the one before it while that one is still being written (a
/// pipelined append, [`Staged::over`]): the changes below count as if they were merged, and
/// [`Registry::merge`] merges them first.
#[derive(Debug, Default)]
pub struct Staged {
    keys: HashMap<Id, VerifyingKey>,
    promises: HashMap<Id, PromiseFacts>,
    approvals: HashMap<Id, u64>,
    settled: HashMap<Id, u64>,
    vouches: HashMap<VouchKey, bool>,
    below: Option<Box<Staged>>,
}

impl Staged {
    /// Changes of a batch that follows `below`, a batch staged and not merged yet.
    pub fn over(below: Staged) -> Self {
        Self {
            below: Some(Box::new(below)),
            ..Self::default()
        }
    }

    /// Takes out the batch this one was staged over, to merge it once it is durable.
    pub fn take_below(&mut self) -> Option<Staged> {
        self.below.take().map(|below| *below)
    }

    /// This batch's changes, then those of each batch below it, newest first.
    fn layers(&self) -> impl Iterator<Item = &Staged> {
        std::iter::successors(Some(self), |staged| staged.below.as_deref())
    }
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
        (staged.layers().find_map(|s| s.keys.get(principal)))
            .or_else(|| self.keys.get(principal))
            .copied()
    }

    fn promise<'a>(&'a self, staged: &'a Staged, id: &Id) -> Option<Known<'a>> {
        match (staged.layers().find_map(|s| s.promises.get(id))).or_else(|| self.promises.get(id)) {
            Some(facts) => Some(Known::Open(
                facts,
                staged.layers().find_map(|s| s.settled.get(id)).copied(),
            )),
            None => self.settled.get(&digest(id)).copied().map(Known::Settled),
        }
    }

    fn vouch_active(&self, staged: &Staged, key: &VouchKey) -> bool {
        (staged.layers().find_map(|s| s.vouches.get(key)).copied())
            .unwrap_or_else(|| self.vouches.contains(&vouch_digest(key)))
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
                let known = self.promise(staged, promise).ok_or_else(|| {
                    FieldError::new(
                        "promise",
                        format!("no promise with id {promise:?} is in the log"),
                    )
                })?;
                let already = |at| {
                    FieldError::new(
                        "promise",
                        format!("promise {promise:?} already has an outcome, at log index {at}"),
                    )
                };
                let (facts, settled) = match known {
                    Known::Open(facts, settled) => (facts, settled),
                    Known::Settled(settled) => return Err(already(settled.settled)),
                };
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
                    return Err(already(at));
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
                if let Some(known) = self.promise(staged, id) {
                    return Err(FieldError::new(
                        "id",
                        format!(
                            "promise id {id:?} is already used, at log index {}",
                            known.index()
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
                    },
                );
            }
            Body::Outcome { promise, .. } => {
                staged.settled.insert(promise.clone(), index);
            }
            Body::Approval { promise, .. } => {
                if let Some(known) = self.promise(staged, promise) {
                    return Err(FieldError::new(
                        "promise",
                        format!(
                            "promise {promise:?} is already in the log, at log index {}: an \
                             approval must come before the promise it allows",
                            known.index()
                        ),
                    ));
                }
                let approved = staged.layers().find_map(|s| s.approvals.get(promise));
                if let Some(at) = approved.or_else(|| self.approvals.get(&digest(promise))) {
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

    /// Merges a durable batch's staged changes (and first those of any batch it was staged
    /// over).
    pub fn merge(&mut self, mut staged: Staged) {
        if let Some(below) = staged.take_below() {
            self.merge(below);
        }
        self.keys.extend(staged.keys);
        self.promises.extend(staged.promises);
        (self.approvals).extend(
            staged
                .approvals
                .into_iter()
                .map(|(id, at)| (digest(&id), at)),
        );
        for (id, settled) in staged.settled {
            if let Some(facts) = self.promises.remove(&id) {
                let index = facts.index;
                self.settled.insert(digest(&id), Settled { index, settled });
            }
        }
        for (key, active) in staged.vouches {
            if active {
                self.vouches.insert(vouch_digest(&key));
            } else {
                self.vouches.remove(&vouch_digest(&key));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        Event::from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn promise(id: &str) -> Event {
        event(&format!(
            r#"{{"kind":"promise","at":"2026-01-01T00:00:00Z","id":"{id}","promisor":"a","promisee":"b","scope":"work","stake":5,"due":"2026-01-02T00:00:00Z"}}"#
        ))
    }

    fn outcome(id: &str) -> Event {
        event(&format!(
            r#"{{"kind":"outcome","at":"2026-01-01T01:00:00Z","promise":"{id}","result":"kept"}}"#
        ))
    }

    fn approval(id: &str) -> Event {
        event(&format!(
            r#"{{"kind":"approval","at":"2026-01-01T00:00:00Z","approver":"c","subject":"a","promise":"{id}","capability":"act","stake":5,"decision":1}}"#
        ))
    }

    /// Admits each event at the next index, each batch merged once it is done; the error
    /// messages, in order, of the events refused.
    fn admit(registry: &mut Registry, next: &mut u64, batches: Vec<Vec<Event>>) -> Vec<String> {
        let mut refused = Vec::new();
        for batch in batches {
            let mut staged = Staged::default();
            for mut event in batch {
                match registry.admit(&mut staged, &mut event, *next, Signatures::Check) {
                    Ok(()) => *next += 1,
                    Err(e) => refused.push(e.to_string()),
                }
            }
            registry.merge(staged);
        }
        refused
    }

    /// One event of a small vocabulary: approvals, promises, outcomes, vouches and unvouches
    /// over three ids, so that a random sequence reuses, settles and withdraws often.
    fn vocabulary(pick: u8) -> Event {
        let id = ["p1", "p2", "p3"][usize::from(pick % 3)];
        let vouch = |kind: &str, weight: &str| {
            event(&format!(
                r#"{{"kind":"{kind}","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"{id}"{weight}}}"#
            ))
        };
        match pick / 3 % 5 {
            0 => approval(id),
            1 => promise(id),
            2 => outcome(id),
            3 => vouch("vouch", r#","weight":0.5"#),
            _ => vouch("unvouch", ""),
        }
    }

    proptest::proptest! {
        /// A batch staged over the one before it while that one is not merged (a pipelined
        /// append) accepts and refuses exactly what it would once that one is merged, and
        /// leaves the registry the same.
        #[test]
        fn a_batch_staged_over_an_unmerged_one_is_judged_as_after_it(
            batches in proptest::collection::vec(proptest::collection::vec(0u8..15, 0..6), 1..8),
        ) {
            let batches: Vec<Vec<Event>> = (batches.iter())
                .map(|b| b.iter().map(|&pick| vocabulary(pick)).collect())
                .collect();
            let (mut merged, mut next) = (Registry::new(Vec::new()), 0);
            let expected = admit(&mut merged, &mut next, batches.clone());
            let (mut pipelined, mut next) = (Registry::new(Vec::new()), 0);
            let (mut refused, mut below) = (Vec::new(), None::<Staged>);
            for batch in batches {
                let mut staged = below.take().map_or_else(Staged::default, Staged::over);
                for mut event in batch {
                    match pipelined.admit(&mut staged, &mut event, next, Signatures::Check) {
                        Ok(()) => next += 1,
                        Err(e) => refused.push(e.to_string()),
                    }
                }
                // The batch before this one becomes durable only now: merged under it.
                if let Some(durable) = staged.take_below() {
                    pipelined.merge(durable);
                }
                below = Some(staged);
            }
            pipelined.merge(below.unwrap_or_default());
            proptest::prop_assert_eq!(&refused, &expected);
            // The same state: every event of the vocabulary is judged alike afterwards.
            let probe: Vec<Event> = (0..15).map(vocabulary).collect();
            let after = |registry: &mut Registry| {
                let mut at = next;
                admit(registry, &mut at, probe.iter().map(|e| vec![e.clone()]).collect())
            };
            proptest::prop_assert_eq!(after(&mut pipelined), after(&mut merged));
        }
    }

    #[test]
    fn a_settled_promise_keeps_only_its_digest_and_still_refuses_what_it_refused() {
        let (mut registry, mut next) = (Registry::new(Vec::new()), 0);
        let refused = admit(
            &mut registry,
            &mut next,
            vec![vec![approval("p1"), promise("p1")], vec![outcome("p1")]],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert!(registry.promises.is_empty(), "the facts of p1 are dropped");
        assert_eq!(registry.settled.len(), 1);
        // In a later batch, and again within one batch: each refusal names the entry behind it.
        let refused = admit(
            &mut registry,
            &mut next,
            vec![
                vec![promise("p1")],
                vec![outcome("p1")],
                vec![approval("p1")],
                vec![approval("p2"), approval("p2")],
            ],
        );
        let expected = [
            "already used, at log index 1",
            "already has an outcome, at log index 2",
            "already in the log, at log index 1",
            "already approved, at log index 3",
        ];
        assert_eq!(refused.len(), expected.len(), "{refused:?}");
        for (refusal, says) in refused.iter().zip(expected) {
            assert!(refusal.contains(says), "{refusal} should say {says:?}");
        }
        // And across batches for an approval kept by digest.
        let refused = admit(&mut registry, &mut next, vec![vec![approval("p2")]]);
        assert!(
            refused[0].contains("already approved, at log index 3"),
            "{refused:?}"
        );
    }

    #[test]
    fn an_active_vouch_kept_by_digest_is_withdrawn_once_and_only_in_its_scope() {
        let vouch = |scope: &str| {
            event(&format!(
                r#"{{"kind":"vouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b","weight":0.5{scope}}}"#
            ))
        };
        let unvouch = |scope: &str| {
            event(&format!(
                r#"{{"kind":"unvouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b"{scope}}}"#
            ))
        };
        let (mut registry, mut next) = (Registry::new(Vec::new()), 0);
        let scoped = r#","scope":"work""#;
        assert!(admit(&mut registry, &mut next, vec![vec![vouch(scoped)]]).is_empty());
        assert_eq!(registry.vouches.len(), 1);
        let refused = admit(
            &mut registry,
            &mut next,
            vec![
                vec![unvouch("")],
                vec![unvouch(scoped)],
                vec![unvouch(scoped)],
            ],
        );
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused.iter().all(|e| e.contains("no active vouch")),
            "{refused:?}"
        );
        assert!(registry.vouches.is_empty());
    }

    #[test]
    fn a_promise_settled_within_its_own_batch_is_kept_as_settled() {
        let (mut registry, mut next) = (Registry::new(Vec::new()), 0);
        let refused = admit(
            &mut registry,
            &mut next,
            vec![vec![promise("p1"), outcome("p1"), outcome("p1")]],
        );
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].contains("already has an outcome, at log index 1"),
            "{refused:?}"
        );
        assert!(registry.promises.is_empty());
        let refused = admit(&mut registry, &mut next, vec![vec![outcome("p1")]]);
        assert!(
            refused[0].contains("already has an outcome, at log index 1"),
            "{refused:?}"
        );
        // An open promise keeps its facts: its outcome by the promisor is refused as such.
        let mut by_promisor = outcome("p2");
        by_promisor.author = Some(Id::parse("author", "a").expect("id"));
        let refused = admit(
            &mut registry,
            &mut next,
            vec![vec![promise("p2"), by_promisor]],
        );
        assert!(refused[0].contains("never the promisor"), "{refused:?}");
    }
}
