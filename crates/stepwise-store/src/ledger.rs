//! The ledger over a store: the one writer of the log.
//!
//! It stamps each batch with the time it heard it (from the [`Clock`] it was given, never
//! decreasing along the log), refuses an event whose `at` lies outside the policy's window
//! around that stamp, validates each event against the log (the core's [`Registry`]), gives it
//! the next index, hashes its canonical bytes into the tree, and commits a whole batch with a
//! freshly signed checkpoint in one durable transaction: an index is handed out only after that
//! commit. It keeps in memory only the tree's right edge and the registry needed for
//! validation; proofs read stored subtree hashes. It must never rewrite or delete an entry, and
//! it never reads the clock except through the [`Clock`] its caller passed in.

use crate::decode_entry;
use crate::names::{Names, Sealed};
use crate::{Entry, LogStore, PolicyStore, PrivateStore, StoreError, StoredCheckpoint, StoredTree};
use prepare::sign;
use std::sync::Arc;
use stepwise::evidence::{Body, Event, FieldError, Time};
use stepwise::ledger::merkle::{self, Frontier, Hash};
use stepwise::ledger::note::{LogSigner, LogVerifier, NoteError};
use stepwise::ledger::registry::{Registry, Signatures, Staged};
use stepwise::ledger::{
    Clock, ConsistencyProof, InclusionProof, LedgerConfig, Origin, check_consistency_request,
    check_inclusion_request, check_tree_size,
};

mod pipeline;
mod prepare;

/// Largest batch accepted by [`Ledger::append`].
pub const MAX_BATCH: usize = 10_000;

/// Why the ledger could not do what was asked. Refused events are not errors: see
/// [`Appended::results`].
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Storage failed; nothing of the batch was recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing or reading a checkpoint failed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The request names entries or sizes the log does not have.
    #[error("{0}")]
    OutOfRange(String),
}

/// Entries replayed into the registry between merges when a ledger opens (see
/// [`Ledger::catch_up`]).
const REPLAY_CHUNK: u64 = 1 << 16;

/// What a replay hands each entry it decodes to, if anything ([`Ledger::open_sealing_replaying`]).
type Replayed<'r, 'f> = Option<&'r mut (dyn FnMut(u64, &Event) + 'f)>;

/// The result of appending a batch.
#[derive(Debug)]
pub struct Appended {
    /// For each event of the batch, in order: its log index, or why it was refused.
    pub results: Vec<Result<u64, FieldError>>,
    /// The checkpoint signed for the new size (the previous one when nothing was recorded).
    pub checkpoint: StoredCheckpoint,
    /// The batch as the ledger saw it (default authors and the stamp filled in), in the order
    /// of `results`: each recorded event is exactly what its entry's canonical bytes decode to,
    /// so a caller can fold it without reading the log back.
    pub events: Vec<Event>,
    /// The `recorded_at` of the batch's entries (`None` when nothing was recorded).
    pub recorded_at: Option<Time>,
    /// When the clock read earlier than the log's latest `recorded_at` (it stepped back, or
    /// another writer's clock runs ahead): by how many microseconds. The batch was stamped with
    /// that latest time instead, so the log never goes back in time.
    pub clock_behind: Option<i64>,
}

impl Appended {
    /// How many events were recorded.
    pub fn recorded(&self) -> usize {
        self.results.iter().filter(|r| r.is_ok()).count()
    }
}

/// The ledger over a store.
pub struct Ledger<S: LogStore + PrivateStore> {
    store: S,
    state: State,
}

/// All a ledger knows apart from its store: borrowed apart from the store while a pipelined
/// append writes one batch and prepares the next ([`Ledger::append_stream`]).
struct State {
    signer: LogSigner,
    frontier: Frontier,
    registry: Registry,
    checkpoint: StoredCheckpoint,
    config: LedgerConfig,
    clock: Arc<dyn Clock>,
    /// The latest `recorded_at` in the log (`None` while it holds no stamped entry).
    recorded_at: Option<Time>,
    /// Whether the log holds a format-3 entry: from then on it takes only sealed events.
    sealed: bool,
    /// The last `policy` entry: its index and the SHA-256 it records.
    policy: Option<(u64, String)>,
    /// The names it seals events with, when it writes format 3 ([`Ledger::sealing`]).
    names: Option<Arc<Names>>,
}

impl<S: LogStore + PrivateStore> Ledger<S> {
    /// Opens the ledger over `store`, signing checkpoints with `signer` and stamping entries
    /// with `clock`. An empty store gets its first checkpoint (size 0); otherwise the registry
    /// is rebuilt by replaying the log.
    ///
    /// Other processes may open or append to the same database meanwhile: when two open an empty
    /// log together, one signs size 0 and the other finds that checkpoint and uses it.
    pub fn open(
        store: S,
        signer: LogSigner,
        config: LedgerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LedgerError> {
        Self::open_with(store, signer, config, clock, None, None)
    }

    /// [`Ledger::open`] for a ledger that seals every event in the clear it is given (format
    /// 3) with `names` (opened on the same log: `Names::open`). Without names a ledger appends format 2, and refuses events in the clear once the
    /// log holds a format-3 entry.
    pub fn open_sealing(
        store: S,
        signer: LogSigner,
        config: LedgerConfig,
        clock: Arc<dyn Clock>,
        names: Arc<Names>,
    ) -> Result<Self, LedgerError> {
        Self::open_with(store, signer, config, clock, Some(names), None)
    }

    /// [`Ledger::open_sealing`], handing `replayed` every entry of the log as the replay
    /// decodes it (in log order, before the registry reads it): a caller that folds the log
    /// into a view of its own (a server's live state) need not read and decode it again.
    pub fn open_sealing_replaying(
        store: S,
        signer: LogSigner,
        config: LedgerConfig,
        clock: Arc<dyn Clock>,
        names: Arc<Names>,
        replayed: &mut dyn FnMut(u64, &Event),
    ) -> Result<Self, LedgerError> {
        Self::open_with(store, signer, config, clock, Some(names), Some(replayed))
    }

    fn open_with(
        mut store: S,
        signer: LogSigner,
        config: LedgerConfig,
        clock: Arc<dyn Clock>,
        names: Option<Arc<Names>>,
        replayed: Replayed<'_, '_>,
    ) -> Result<Self, LedgerError> {
        // The size-0 checkpoint is written at most once; a second pass always finds one.
        for _attempt in 0..3 {
            if let Some(checkpoint) = store.latest_checkpoint()? {
                return Self::open_at(store, signer, config, clock, checkpoint, names, replayed);
            }
            let first = sign(&signer, &Frontier::default())?;
            match store.append(0, &[], &first) {
                // Either way a checkpoint is stored now: read it back.
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Corrupt(
            "the store accepted the first checkpoint but does not return it".into(),
        )
        .into())
    }

    /// The ledger at `checkpoint`, the latest one read. The tree is loaded at the checkpoint's
    /// size rather than the store's current size: entries and their checkpoint commit together,
    /// so a writer that committed after the checkpoint was read cannot make the two disagree
    /// (that writer's entries are picked up by the next append's conflict and refresh).
    fn open_at(
        store: S,
        signer: LogSigner,
        config: LedgerConfig,
        clock: Arc<dyn Clock>,
        checkpoint: StoredCheckpoint,
        names: Option<Arc<Names>>,
        replayed: Replayed<'_, '_>,
    ) -> Result<Self, LedgerError> {
        let size = checkpoint.size;
        let stored = store.size()?;
        if stored < size {
            return Err(StoreError::Corrupt(format!(
                "the latest checkpoint covers {size} entries but the log holds {stored}"
            ))
            .into());
        }
        let frontier = Frontier::load(&StoredTree(&store), size)?;
        let mut ledger = Self {
            store,
            state: State {
                signer,
                frontier,
                registry: Registry::new(config.operators.clone()),
                checkpoint,
                config,
                clock,
                recorded_at: None,
                sealed: false,
                policy: None,
                names,
            },
        };
        ledger.catch_up(0, size, REPLAY_CHUNK, replayed)?;
        Ok(ledger)
    }

    /// The store, for what is kept beside the log (secrets, openings: `forget`); the log
    /// itself is written only through [`Ledger::append`].
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The names this ledger seals with, if it writes format 3.
    pub fn names(&self) -> Option<&Arc<Names>> {
        self.state.names.as_ref()
    }

    /// Replays entries `from..to` into the registry and the latest `recorded_at`, merging what
    /// each `chunk` of entries staged before the next: the registry keeps a settled promise
    /// compact only once it is merged. A failure leaves the chunks before it merged, so only a
    /// ledger being opened (which is dropped on failure) replays in chunks.
    fn catch_up(
        &mut self,
        from: u64,
        to: u64,
        chunk: u64,
        mut replayed: Replayed<'_, '_>,
    ) -> Result<(), LedgerError> {
        let mut start = from;
        while start < to {
            let end = to.min(start.saturating_add(chunk));
            self.replay(start, end, replayed.as_deref_mut())?;
            start = end;
        }
        Ok(())
    }

    fn replay(
        &mut self,
        from: u64,
        to: u64,
        mut replayed: Replayed<'_, '_>,
    ) -> Result<(), LedgerError> {
        let mut staged = Staged::default();
        let registry = &self.state.registry;
        let recorded_at = &mut self.state.recorded_at;
        let sealed = &mut self.state.sealed;
        let policy = &mut self.state.policy;
        self.store.scan(from, to, &mut |entry| {
            let mut event = decode_entry(&entry)?;
            if let Some(replayed) = replayed.as_deref_mut() {
                replayed(entry.index, &event);
            }
            *sealed |= event.seal.is_some();
            if let Body::Policy { sha256 } = &event.body {
                *policy = Some((entry.index, sha256.clone()));
            }
            if let Some(stamp) = event.stamp {
                *recorded_at = (*recorded_at).max(Some(stamp.recorded_at));
            }
            registry
                .admit(&mut staged, &mut event, entry.index, Signatures::Trust)
                .map_err(|e| {
                    StoreError::Corrupt(format!("entry {} breaks a ledger rule: {e}", entry.index))
                })
        })?;
        self.state.registry.merge(staged);
        Ok(())
    }

    /// Re-reads what other writers appended since this ledger last looked, up to the latest
    /// checkpoint (never beyond it: see [`Ledger::open_at`]). Changes nothing on error.
    fn refresh(&mut self) -> Result<(), LedgerError> {
        let checkpoint = self
            .store
            .latest_checkpoint()?
            .ok_or_else(|| StoreError::Corrupt("the log's checkpoints have disappeared".into()))?;
        let (from, to) = (self.state.frontier.size(), checkpoint.size);
        if to < from {
            return Err(StoreError::Corrupt(format!(
                "the latest checkpoint covers {to} entries but this ledger has seen {from}"
            ))
            .into());
        }
        if to > from {
            let frontier = Frontier::load(&StoredTree(&self.store), to)?;
            // One chunk: on failure the registry is left as it was.
            self.catch_up(from, to, u64::MAX, None)?;
            self.state.frontier = frontier;
        }
        self.state.checkpoint = checkpoint;
        Ok(())
    }

    /// Appends a batch of live evidence: every valid event is recorded, in order, in one
    /// durable transaction with a new signed checkpoint; each refused event says why (an `at`
    /// outside the time window among them). When this returns `Ok`, every index in
    /// [`Appended::results`] is on disk. On `Err`, nothing of the batch was recorded.
    pub fn append(&mut self, events: Vec<Event>) -> Result<Appended, LedgerError> {
        self.append_as(events, Origin::Live)
    }

    /// Appends a batch dated as `origin` says: [`Origin::History`] is the operator's act of
    /// loading a data set with its own dates.
    pub fn append_as(
        &mut self,
        events: Vec<Event>,
        origin: Origin,
    ) -> Result<Appended, LedgerError> {
        self.append_sealed(events, None, origin)
    }

    /// [`Ledger::append_as`] for a batch already sealed by this ledger's names
    /// ([`Names::seal`], on another thread, so that the one appending thread need not): `sealed`
    /// is `clear` sealed. It is sealed again here where it no longer holds: when a principal it
    /// names for the first time was created meanwhile (by this process or another), or one was
    /// forgotten. A ledger writing format 2 records `clear` as it is.
    pub fn append_sealed(
        &mut self,
        events: Vec<Event>,
        sealed: Option<Sealed>,
        origin: Origin,
    ) -> Result<Appended, LedgerError> {
        check_batch_len(events.len())?;
        // A ledger writing format 3 keeps the batch as given until it is recorded: when another
        // process created one of its principals or forgot one meanwhile, it is sealed again.
        let (clear, mut sealed) = match &self.state.names {
            Some(names) => {
                // Sealed before the names dropped an erasure, it may name the principal
                // forgotten: sealed again.
                let mut sealed = match sealed {
                    Some(sealed)
                        if sealed.events.len() == events.len()
                            && sealed.erasures_seen == names.erasures_seen() =>
                    {
                        sealed
                    }
                    _ => names.seal(&events)?,
                };
                // A principal new to this process may have been created by another since it
                // last looked (or by this one since the batch was sealed): it is named by that
                // one's secret, or a rule that depends on who recorded an event (an outcome's
                // author) would judge a stranger. (One created later still is caught by the
                // store, as taken, if any entry is recorded.)
                if !sealed.principals.is_empty() {
                    names.learn_principals(&self.store)?;
                    if names.knows_any(&sealed.principals) {
                        sealed = names.seal(&events)?;
                    }
                }
                (events, sealed)
            }
            None => (Vec::new(), Sealed::as_is(events)),
        };
        // Another process may have appended; a conflict means recompute against its entries.
        // After losing a race the ledger holds the store's append lock while it re-reads and
        // retries, so the retry cannot lose again: no writer starves, however busy the others.
        let mut last = None;
        for _attempt in 0..8 {
            let attempt = self.try_append(&mut sealed, &clear, origin);
            // `append` released the lock if it ran; this covers a retry that recorded nothing.
            let released = self.store.release_append_lock();
            let reseal = match attempt {
                Err(LedgerError::Store(conflict @ StoreError::Conflict { .. })) => {
                    released?;
                    last = Some(conflict);
                    false
                }
                // Another process created some of the batch's principals first: their stored
                // secrets name them.
                Err(LedgerError::Store(StoreError::Taken(ids))) => {
                    released?;
                    if let Some(names) = &self.state.names {
                        names.learn_principals(&self.store)?;
                    }
                    last = Some(StoreError::Taken(ids));
                    true
                }
                // Another process forgot principals: this one forgets them too, and the batch is
                // sealed again (a forgotten principal it named is a newcomer now).
                Err(LedgerError::Store(StoreError::Erased(erased))) => {
                    released?;
                    if let Some(names) = &self.state.names {
                        names.forget_erased(&self.store, &erased)?;
                    }
                    last = Some(StoreError::Erased(erased));
                    true
                }
                // A failed release cannot undo a commit, and means the connection (and the
                // lock with it) is gone: the attempt's own result is the answer.
                Ok(mut appended) => {
                    // Recorded: the names learn what the batch named first, what the seals
                    // carried in is kept beside the log now, and each event is exactly what its
                    // entry decodes to.
                    if let Some(names) = &self.state.names
                        && appended.recorded_at.is_some()
                    {
                        names.adopt(&sealed.principals)?;
                    }
                    appended.events = recorded_events(sealed.events);
                    return Ok(appended);
                }
                Err(e) => return Err(e),
            };
            self.store.hold_append_lock()?;
            let seen = self.state.frontier.size();
            let caught_up = self.refresh().and_then(|()| match &self.state.names {
                // A promise id another process named meanwhile names the same promise here: the
                // batch is sealed again under that name, so a reuse is refused as a reuse.
                Some(names) => {
                    Ok(names.learn_promises(&self.store, seen, self.state.frontier.size())?)
                }
                None => Ok(false),
            });
            let reseal = match caught_up {
                Ok(learned) => reseal || learned,
                Err(e) => {
                    self.store.release_append_lock()?;
                    return Err(e);
                }
            };
            if reseal && let Some(names) = &self.state.names {
                sealed = names.seal(&clear)?;
                // Events that came sealed cannot be sealed again: one that names a principal
                // forgotten meanwhile is refused whole, as before it was sealed.
                if let Some(pseudonym) = sealed.events.iter().find_map(|e| names.forgotten_in(e)) {
                    self.store.release_append_lock()?;
                    return Err(StoreError::Forgotten(pseudonym).into());
                }
            }
        }
        Err(LedgerError::Store(last.unwrap_or_else(|| {
            StoreError::Corrupt("gave up after 8 conflicting concurrent appends".into())
        })))
    }

    /// The last `policy` entry of the log: its index and the SHA-256 of the policy it records.
    pub fn last_policy(&self) -> Option<(u64, &str)> {
        self.state
            .policy
            .as_ref()
            .map(|(i, sha)| (*i, sha.as_str()))
    }

    /// The latest `recorded_at` in the log, if it holds any stamped entry.
    pub fn recorded_at(&self) -> Option<Time> {
        self.state.recorded_at
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.state.frontier.size()
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> &StoredCheckpoint {
        &self.state.checkpoint
    }

    /// The key that verifies this ledger's checkpoints.
    pub fn verifier(&self) -> LogVerifier {
        self.state.signer.verifier()
    }

    /// The settings this ledger validates with.
    pub fn config(&self) -> &LedgerConfig {
        &self.state.config
    }

    /// The store underneath (read-only).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Entry, LedgerError> {
        entry_in(&self.store, index, self.size())
    }

    /// The root hash of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size == self.size() {
            return Ok(self.state.frontier.root());
        }
        root_in(&self.store, size, self.size())
    }

    /// Proof that entry `index` is in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, LedgerError> {
        inclusion_proof_in(&self.store, index, size, self.size())
    }

    /// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, LedgerError> {
        consistency_proof_in(&self.store, old_size, new_size, self.size())
    }
}

/// Entry `index` of a log of `log_size` entries, read from `store` alone, as are the roots and
/// proofs below: a few rows whatever the log's size, no ledger opened (which replays the log).
pub fn entry_in(
    store: &(impl LogStore + ?Sized),
    index: u64,
    log_size: u64,
) -> Result<Entry, LedgerError> {
    let stored = if index < log_size {
        store.entry(index)?
    } else {
        None
    };
    stored.ok_or_else(|| {
        LedgerError::OutOfRange(format!(
            "no entry {index}: the log holds {log_size} entries (0 to {})",
            log_size.saturating_sub(1)
        ))
    })
}

/// The root hash of the tree of the first `size` entries of a log of `log_size`.
pub fn root_in(
    store: &(impl LogStore + ?Sized),
    size: u64,
    log_size: u64,
) -> Result<Hash, LedgerError> {
    check_tree_size("size", size, log_size).map_err(out_of_range)?;
    Ok(merkle::root(&StoredTree(store), size)?)
}

/// Proof that entry `index` is in the tree of `size` entries, of a log of `log_size`.
pub fn inclusion_proof_in(
    store: &(impl LogStore + ?Sized),
    index: u64,
    size: u64,
    log_size: u64,
) -> Result<InclusionProof, LedgerError> {
    check_inclusion_request(index, size, log_size).map_err(out_of_range)?;
    let hashes = merkle::inclusion_proof(&StoredTree(store), index, size).map_err(proof_error)?;
    Ok(InclusionProof {
        index,
        size,
        leaf_hash: entry_in(store, index, log_size)?.leaf_hash,
        root: root_in(store, size, log_size)?,
        hashes,
    })
}

/// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size`, of a log
/// of `log_size`.
pub fn consistency_proof_in(
    store: &(impl LogStore + ?Sized),
    old_size: u64,
    new_size: u64,
    log_size: u64,
) -> Result<ConsistencyProof, LedgerError> {
    check_consistency_request(old_size, new_size, log_size).map_err(out_of_range)?;
    let tree = StoredTree(store);
    let hashes = merkle::consistency_proof(&tree, old_size, new_size).map_err(proof_error)?;
    Ok(ConsistencyProof {
        old_size,
        new_size,
        old_root: root_in(store, old_size, log_size)?,
        new_root: root_in(store, new_size, log_size)?,
        hashes,
    })
}

/// Refuses a batch of more than [`MAX_BATCH`] events.
fn check_batch_len(len: usize) -> Result<(), LedgerError> {
    if len > MAX_BATCH {
        return Err(LedgerError::OutOfRange(format!(
            "a batch holds at most {MAX_BATCH} events, not {len}"
        )));
    }
    Ok(())
}

/// A batch's events as their entries decode: what a seal carried in is kept beside the log.
fn recorded_events(mut events: Vec<Event>) -> Vec<Event> {
    for seal in events.iter_mut().filter_map(|e| e.seal.as_deref_mut()) {
        seal.openings = Vec::new();
        seal.signed = None;
    }
    events
}

fn out_of_range(e: FieldError) -> LedgerError {
    LedgerError::OutOfRange(format!("{}: {}", e.field, e.problem))
}

fn proof_error(e: merkle::ProofError<StoreError>) -> LedgerError {
    match e {
        merkle::ProofError::Source(e) => LedgerError::Store(e),
        other => LedgerError::OutOfRange(other.to_string()),
    }
}

impl<S: LogStore + PrivateStore + PolicyStore> Ledger<S> {
    /// Records `text` as the policy in force, unless the log's last `policy` entry already
    /// records it: keeps the text beside the log under its SHA-256, then appends a `policy`
    /// entry holding the hash. Returns the entry's index, or `None` when nothing changed.
    pub fn record_policy(&mut self, text: &str) -> Result<Option<u64>, LedgerError> {
        let sha256 = policy_sha256(text);
        if self.last_policy().is_some_and(|(_, last)| last == sha256) {
            return Ok(None);
        }
        self.store.put_policy(&sha256, text)?;
        let event = Event {
            at: self.state.clock.now(),
            author: None,
            body: Body::Policy { sha256 },
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        };
        let appended = self.append(vec![event])?;
        match appended.results.into_iter().next() {
            Some(Ok(index)) => Ok(Some(index)),
            Some(Err(e)) => Err(StoreError::Corrupt(format!(
                "the log refused its own policy entry: {e}"
            ))
            .into()),
            None => Err(StoreError::Corrupt("a policy entry vanished".into()).into()),
        }
    }
}

pub use stepwise::ledger::policy_sha256;
