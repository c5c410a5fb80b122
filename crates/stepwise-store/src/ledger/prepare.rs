//! A batch made ready for the log ([`Prepared`]): stamped, checked against the registry and
//! the batches before it, hashed into the tree and its checkpoint signed — everything an append
//! does but the store's write. [`Ledger::try_append`] prepares one batch and writes it; a
//! pipelined append ([`Ledger::append_stream`]) prepares a batch while the one before it is
//! being written.

use super::{Appended, Ledger, LedgerError, State};
use crate::names::Sealed;
use crate::{
    Batch, Entry, LogStore, PrincipalRecord, PrivateStore, StoredCheckpoint, StoredOpening,
};
use stepwise::evidence::seal::{self, Commitment, Hidden, Opening};
use stepwise::evidence::{Body, Event, FieldError, Refusal, Stamp, Time};
use stepwise::ledger::Origin;
use stepwise::ledger::merkle::{self, Frontier};
use stepwise::ledger::note::{Checkpoint, LogSigner, NoteError};
use stepwise::ledger::registry::{Signatures, Staged};
use stepwise::ledger::tiles::MAX_ENTRY_BYTES;

/// Where the log ends for a batch being prepared: where the ledger's last write left it, or
/// where the batch being written meanwhile will leave it.
#[derive(Clone, Copy)]
pub(super) struct Tip<'a> {
    frontier: &'a Frontier,
    recorded_at: Option<Time>,
    sealed: bool,
}

/// A batch ready to be written: what the store takes ([`Write`]), and what the ledger learns
/// once the store has it.
pub(super) struct Prepared {
    /// For each event of the batch, in order: its index, or why it was refused.
    pub results: Vec<Result<u64, FieldError>>,
    /// What the store writes; `None` when every event was refused.
    pub write: Option<Write>,
    frontier: Frontier,
    recorded_at: Time,
    clock_behind: Option<i64>,
    sealed: bool,
    policy: Option<(u64, String)>,
}

/// The rows of a prepared batch, owned so that another thread can write them.
pub(super) struct Write {
    base: u64,
    entries: Vec<Entry>,
    openings: Vec<StoredOpening>,
    /// The principals the batch names for the first time (format 3), with their secrets.
    pub principals: Vec<PrincipalRecord>,
    checkpoint: StoredCheckpoint,
    erasures_seen: Option<u64>,
}

impl Write {
    /// The batch as the store takes it.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            base: self.base,
            entries: &self.entries,
            principals: &self.principals,
            openings: &self.openings,
            checkpoint: &self.checkpoint,
            erasures_seen: self.erasures_seen,
        }
    }
}

impl Prepared {
    /// Where the log ends once this batch is written.
    pub fn tip(&self) -> Tip<'_> {
        Tip {
            frontier: &self.frontier,
            recorded_at: Some(self.recorded_at),
            sealed: self.sealed,
        }
    }
}

impl State {
    /// Where the log ends as far as this ledger has written or read it.
    pub(super) fn tip(&self) -> Tip<'_> {
        Tip {
            frontier: &self.frontier,
            recorded_at: self.recorded_at,
            sealed: self.sealed,
        }
    }

    /// Prepares `events` (sealed, or the batch as given for a ledger in the clear) to follow
    /// `tip`, staging what they change in `staged` (empty, or over the batch before them,
    /// itself not merged yet; on `Err` it may hold some of the batch). `clear` is the batch as given when this ledger sealed it: the
    /// openings of an event it sealed itself are not checked again. `principals` are the
    /// batch's new principals, written with it.
    ///
    /// Filling in a default author and the stamp are the only changes to `events`; a retry
    /// overwrites them, so a conflict costs no copy of the batch. The stamp never goes back
    /// from the tip's, and the store commits only if no other writer appended after the tip:
    /// `recorded_at` never decreases along the log, however many processes append and however
    /// their clocks disagree.
    pub(super) fn prepare(
        &self,
        tip: Tip<'_>,
        staged: &mut Staged,
        events: &mut [Event],
        clear: &[Event],
        principals: Vec<PrincipalRecord>,
        origin: Origin,
    ) -> Result<Prepared, NoteError> {
        let base = tip.frontier.size();
        let now = self.clock.now();
        let recorded_at = tip.recorded_at.map_or(now, |last| last.max(now));
        let clock_behind = (tip.recorded_at)
            .filter(|last| *last > now)
            .map(|last| last.as_micros() - now.as_micros());
        let stamp = Stamp {
            recorded_at,
            history: origin == Origin::History,
        };
        let mut frontier = tip.frontier.clone();
        let mut results = Vec::with_capacity(events.len());
        let mut entries = Vec::with_capacity(events.len());
        let mut completed = Vec::with_capacity(64);
        let mut openings = Vec::new();
        let mut log_sealed = tip.sealed;
        let mut policy = None;
        for (i, event) in events.iter_mut().enumerate() {
            let index = frontier.size();
            event.stamp = Some(stamp);
            let sealed_here = clear.get(i).is_some_and(|c| c.seal.is_none());
            let mut bytes = Vec::new();
            let admitted = self
                .config
                .window
                .check(event.at, recorded_at, stamp.history)
                .and_then(|()| check_seal(event, log_sealed, sealed_here))
                .and_then(|()| {
                    let mut last = |complete: &Event| {
                        bytes = complete.canonical_bytes();
                        check_entry_len(bytes.len())
                    };
                    self.registry
                        .admit_checked(staged, event, index, Signatures::Check, &mut last)
                });
            match admitted {
                Ok(()) => {
                    if let Body::Policy { sha256 } = &event.body {
                        policy = Some((index, sha256.clone()));
                    }
                    if let Some(seal) = &event.seal {
                        log_sealed = true;
                        if !seal.openings.is_empty() {
                            let names = seal::principals(event)
                                .iter()
                                .map(|id| id.as_str())
                                .collect::<Vec<_>>()
                                .join(" ");
                            openings.extend(seal.openings.iter().map(|o| StoredOpening {
                                entry: index,
                                opening: o.clone(),
                                names: names.clone(),
                            }));
                        }
                    }
                    let leaf_hash = merkle::leaf_hash(&bytes);
                    frontier.push(leaf_hash, &mut completed);
                    entries.push(Entry {
                        index,
                        bytes,
                        leaf_hash,
                        subtree_hashes: completed.clone(),
                    });
                    results.push(Ok(index));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let write = if entries.is_empty() {
            None
        } else {
            Some(Write {
                base,
                checkpoint: sign(&self.signer, &frontier)?,
                entries,
                openings,
                principals,
                erasures_seen: self.names.as_ref().map(|n| n.erasures_seen()),
            })
        };
        Ok(Prepared {
            results,
            write,
            frontier,
            recorded_at,
            clock_behind,
            sealed: log_sealed,
            policy,
        })
    }

    /// Takes in a prepared batch and what it `staged` once the store has written it (or at
    /// once, when it holds nothing to write): what the append answers, but for the events.
    pub(super) fn settle(&mut self, prepared: Prepared, staged: Staged) -> Appended {
        let Prepared {
            results,
            write,
            frontier,
            recorded_at,
            clock_behind,
            sealed,
            policy,
        } = prepared;
        self.registry.merge(staged);
        let Some(write) = write else {
            return Appended {
                results,
                checkpoint: self.checkpoint.clone(),
                events: Vec::new(),
                recorded_at: None,
                clock_behind: None,
            };
        };
        self.frontier = frontier;
        self.sealed = sealed;
        if policy.is_some() {
            self.policy = policy;
        }
        self.checkpoint = write.checkpoint;
        self.recorded_at = Some(recorded_at);
        Appended {
            results,
            checkpoint: self.checkpoint.clone(),
            events: Vec::new(),
            recorded_at: Some(recorded_at),
            clock_behind,
        }
    }
}

impl<S: LogStore + PrivateStore> Ledger<S> {
    /// Prepares the batch and writes it (see [`State::prepare`]); on `Err`, nothing of it was
    /// recorded and this ledger is as it was.
    pub(super) fn try_append(
        &mut self,
        sealed: &mut Sealed,
        clear: &[Event],
        origin: Origin,
    ) -> Result<Appended, LedgerError> {
        let state = &self.state;
        let principals = std::mem::take(&mut sealed.principals);
        let mut staged = Staged::default();
        let prepared = state.prepare(
            state.tip(),
            &mut staged,
            &mut sealed.events,
            clear,
            principals,
            origin,
        );
        let mut prepared = prepared?;
        if let Some(write) = &mut prepared.write {
            let written = self.store.append_with(&write.batch());
            // The batch's new principals go back with it: sealed again on a retry, or learned.
            sealed.principals = std::mem::take(&mut write.principals);
            written?;
        }
        Ok(self.state.settle(prepared, staged))
    }
}

/// Refuses an entry longer than a tlog-tiles entry bundle can carry.
fn check_entry_len(len: usize) -> Result<(), FieldError> {
    if len <= MAX_ENTRY_BYTES {
        return Ok(());
    }
    Err(FieldError::new(
        "(event)",
        format!(
            "would be an entry of {len} bytes; the log's entries are at most {MAX_ENTRY_BYTES} \
             (the length prefix of a tlog-tiles entry bundle)"
        ),
    )
    .with_code(Refusal::EntryTooLarge))
}

/// Checks a sealed event's openings against its commitments (unless this ledger sealed it
/// itself: `sealed_here`), and that a log which writes format 3 (`log_sealed`) takes no event
/// in the clear.
fn check_seal(event: &Event, log_sealed: bool, sealed_here: bool) -> Result<(), FieldError> {
    let Some(seal) = &event.seal else {
        return if log_sealed {
            Err(FieldError::new(
                "(event)",
                "this log writes format 3: an event must be sealed (its principals named by \
                 pseudonyms, its note and signature committed) before it is appended",
            ))
        } else {
            Ok(())
        };
    };
    if sealed_here {
        return Ok(());
    }
    let opens = |field: Hidden, commitment: Option<&Commitment>| {
        let opening = seal.opening(field).map(Opening::commitment);
        if opening.as_ref() == commitment {
            Ok(())
        } else {
            Err(FieldError::new(
                field.name(),
                "its opening does not match the sealed event's commitment",
            ))
        }
    };
    opens(Hidden::Note, seal.note.as_ref())?;
    opens(Hidden::Sig, seal.sig.as_ref())?;
    let promise = match &event.body {
        Body::Promise { id, .. } => Some(("id", id)),
        Body::Approval { promise, .. } => Some(("promise", promise)),
        _ => None,
    };
    if let Some((field, id)) = promise {
        let opening = seal.opening(Hidden::PromiseId);
        if opening.map(seal::promise_name).as_ref() != Some(id) {
            return Err(FieldError::new(
                field,
                "a sealed promise id must be the name of its commitment",
            ));
        }
    }
    Ok(())
}

/// Signs the checkpoint for the tree `frontier` describes.
pub(super) fn sign(signer: &LogSigner, frontier: &Frontier) -> Result<StoredCheckpoint, NoteError> {
    let checkpoint = Checkpoint {
        origin: signer.name().to_owned(),
        size: frontier.size(),
        root: frontier.root(),
        extensions: Vec::new(),
    };
    Ok(StoredCheckpoint {
        size: checkpoint.size,
        root: checkpoint.root,
        note: signer.sign_checkpoint(&checkpoint)?,
    })
}
