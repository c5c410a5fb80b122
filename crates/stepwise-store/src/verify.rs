//! Full verification of a stored log: recompute everything from the entries' bytes and check it
//! against what is stored and against every signed checkpoint.
//!
//! This is the auditor's path, so it trusts nothing the store says about hashes: every leaf and
//! subtree hash is recomputed from bytes, every event re-validated with its signature, every
//! `recorded_at` checked never to decrease and every `at` to lie within its entry's time window
//! (history excepted), and every checkpoint's signature checked with a key the caller supplies.
//! It reports problems; it never repairs anything.

use crate::names::open_entry;
use crate::{LogStore, PrivateStore, StoreError};
use std::collections::{HashMap, HashSet};
use stepwise::evidence::seal::{self, Opening};
use stepwise::evidence::{Body, Event, Id, Time};

use stepwise::ledger::LedgerConfig;
use stepwise::ledger::merkle::{self, Frontier};
use stepwise::ledger::note::LogVerifier;
use stepwise::ledger::registry::{Registry, Signatures, Staged};

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The entry concerned, when it is about one entry.
    pub index: Option<u64>,
    /// What is wrong, in words.
    pub message: String,
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: u64,
    /// Everything found wrong, in log order (at most [`MAX_PROBLEMS`] are kept).
    pub problems: Vec<Problem>,
    /// Problems found beyond [`MAX_PROBLEMS`].
    pub more_problems: u64,
    /// Format 3: commitments whose kept opening was checked against the leaf.
    pub openings_checked: u64,
    /// Format 3: commitments whose opening was erased because a principal the entry names (or,
    /// for an outcome, its promise names) was forgotten (an erasure entry names it): erased,
    /// not tampered with.
    pub erased: u64,
    /// Format 3: commitments with no opening kept and no erasure to explain it (a copy of the
    /// log handed over without its openings: nothing to check them against, not a problem).
    pub unopened: u64,
}

/// Most problems listed in one report; the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;

impl VerifyReport {
    /// True when nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, index: Option<u64>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { index, message });
        } else {
            self.more_problems += 1;
        }
    }
}

/// Verifies everything in `store` against checkpoints signed by `verifier`. `progress` is told
/// how many entries have been checked, now and then.
pub fn verify<S: LogStore + PrivateStore + ?Sized>(
    store: &S,
    verifier: &LogVerifier,
    config: &LedgerConfig,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let size = store.size()?;

    // Checkpoints: each must carry a valid signature and agree with its stored size and root.
    let mut checkpoints = Vec::new();
    for stored in store.checkpoints()? {
        match verifier.verify_checkpoint(&stored.note) {
            Ok(cp) if cp.size != stored.size || cp.root != stored.root => report.problem(
                None,
                format!(
                    "checkpoint at size {}: the signed note says size {} and a different root than the stored columns",
                    stored.size, cp.size
                ),
            ),
            Ok(cp) => checkpoints.push(cp),
            Err(e) => report.problem(
                None,
                format!("checkpoint at size {}: {e}", stored.size),
            ),
        }
    }
    match checkpoints.last() {
        None => report.problem(None, "no validly signed checkpoint is stored".into()),
        Some(last) if last.size < size => report.problem(
            Some(last.size),
            format!(
                "entries {} to {} are not covered by any signed checkpoint (appended outside stepwise?)",
                last.size,
                size - 1
            ),
        ),
        Some(last) if last.size > size => report.problem(
            None,
            format!(
                "the latest signed checkpoint commits to {} entries but the log holds only {size}: entries were removed",
                last.size
            ),
        ),
        Some(_) => {}
    }
    let mut pending = checkpoints.iter().peekable();
    // A checkpoint of the empty tree is checked before any entry.
    while let Some(cp) = pending.next_if(|cp| cp.size == 0) {
        check_root(&mut report, cp.size, &cp.root, &merkle::empty_root());
        report.checkpoints += 1;
    }

    // Entries: recompute hashes from bytes, re-validate every event in order.
    let mut frontier = Frontier::new();
    let mut completed = Vec::with_capacity(64);
    let mut registry = Registry::new(config.operators.clone());
    let mut staged = Staged::default();
    let mut expected = 0u64;
    // The latest `recorded_at` so far, and the entry that carried it.
    let mut last_stamp: Option<(Time, u64)> = None;
    // Openings of the current chunk of entries, by entry; entries missing some, with the names
    // they carry and, for an approval, the promise it allows, whose names count too (resolved
    // once every erasure entry and promise has been read).
    let mut openings: HashMap<u64, Vec<Opening>> = HashMap::new();
    let mut chunk = u64::MAX;
    let mut missing: Vec<(usize, Vec<Id>, Option<Id>)> = Vec::new();
    let mut forgotten: HashSet<Id> = HashSet::new();
    // The principals each sealed promise names: its outcome's openings go with them too.
    let mut promised: HashMap<Id, Vec<Id>> = HashMap::new();
    store.scan(0, u64::MAX, &mut |entry| {
        let i = entry.index;
        if i != expected {
            report.problem(
                Some(expected),
                format!("entries {expected} to {} are missing", i.saturating_sub(1)),
            );
        }
        expected = i + 1;
        let leaf = merkle::leaf_hash(&entry.bytes);
        if leaf != entry.leaf_hash {
            report.problem(
                Some(i),
                "the stored leaf hash does not match the entry's bytes".into(),
            );
        }
        frontier.push(leaf, &mut completed);
        if completed != entry.subtree_hashes {
            report.problem(
                Some(i),
                "the stored subtree hashes do not match the ones recomputed from the entries"
                    .into(),
            );
        }
        match Event::from_entry(&entry.bytes) {
            Err(e) => report.problem(Some(i), format!("the entry's bytes do not decode: {e}")),
            Ok(mut event) => {
                if event.canonical_bytes() != entry.bytes {
                    report.problem(
                        Some(i),
                        "the entry's bytes are not in canonical form".into(),
                    );
                }
                match (event.stamp, last_stamp) {
                    (None, Some((_, first))) => report.problem(
                        Some(i),
                        format!(
                            "a format-1 entry (no `recorded_at`) after stamped entries (from entry {first} on at the latest): the log's time cannot be checked"
                        ),
                    ),
                    (None, None) => {}
                    (Some(stamp), last) => {
                        if let Some((previous, j)) = last
                            && stamp.recorded_at < previous
                        {
                            report.problem(
                                Some(i),
                                format!(
                                    "`recorded_at` {} is earlier than entry {j}'s {previous}: the log's time went backwards",
                                    stamp.recorded_at
                                ),
                            );
                        }
                        if let Err(e) = config.window.check(event.at, stamp.recorded_at, stamp.history) {
                            report.problem(Some(i), format!("`at` {}", e.problem));
                        }
                        if last.is_none_or(|(previous, _)| stamp.recorded_at >= previous) {
                            last_stamp = Some((stamp.recorded_at, i));
                        }
                    }
                }
                if let Some(seal) = &event.seal {
                    if i / OPENING_CHUNK != chunk {
                        chunk = i / OPENING_CHUNK;
                        openings.clear();
                        let from = chunk * OPENING_CHUNK;
                        for stored in store.openings(from, from + OPENING_CHUNK)? {
                            openings.entry(stored.entry).or_default().push(stored.opening);
                        }
                    }
                    let kept = openings.get(&i).map_or(&[][..], Vec::as_slice);
                    let opened = open_entry(&entry.bytes, kept);
                    for field in &opened.mismatched {
                        report.problem(
                            Some(i),
                            format!("the kept opening of its `{field}` does not match the leaf's commitment: changed beside the log"),
                        );
                    }
                    let committed = usize::from(seal.note.is_some())
                        + usize::from(seal.sig.is_some())
                        + usize::from(matches!(
                            event.body,
                            Body::Promise { .. } | Body::Approval { .. }
                        ));
                    report.openings_checked +=
                        (committed - opened.erased.len() - opened.mismatched.len()) as u64;
                    let names =
                        || seal::principals(&event).into_iter().cloned().collect::<Vec<_>>();
                    if let Body::Promise { id, .. } = &event.body {
                        promised.insert(id.clone(), names());
                    }
                    if !opened.erased.is_empty() {
                        let mut names = names();
                        let mut allows = None;
                        match &event.body {
                            Body::Outcome { promise, .. } => {
                                names.extend(promised.get(promise).into_iter().flatten().cloned());
                            }
                            // The promise it allows comes later in the log.
                            Body::Approval { promise, .. } => allows = Some(promise.clone()),
                            _ => {}
                        }
                        missing.push((opened.erased.len(), names, allows));
                    }
                    if let Body::Erasure { principal, .. } = &event.body {
                        forgotten.insert(principal.clone());
                    }
                }
                // A sealed event's signature was checked against its opening when appended;
                // here its opening is held to the leaf's commitment (above).
                let signatures = if event.seal.is_some() {
                    Signatures::Trust
                } else {
                    Signatures::Check
                };
                if let Err(e) = registry.admit(&mut staged, &mut event, i, signatures) {
                    report.problem(Some(i), format!("the event breaks a ledger rule: {e}"));
                }
            }
        }
        while let Some(cp) = pending.next_if(|cp| cp.size == frontier.size()) {
            check_root(&mut report, cp.size, &cp.root, &frontier.root());
            report.checkpoints += 1;
        }
        report.entries += 1;
        if report.entries % 65_536 == 0 {
            // What is staged is merged now and then, as a ledger replaying does: a settled
            // promise is kept compact only once merged.
            registry.merge(std::mem::take(&mut staged));
            progress(report.entries);
        }
        Ok(())
    })?;
    progress(report.entries);
    for (count, names, allows) in missing {
        let allowed = allows.and_then(|p| promised.get(&p)).into_iter().flatten();
        if names.iter().chain(allowed).any(|n| forgotten.contains(n)) {
            report.erased += count as u64;
        } else {
            report.unopened += count as u64;
        }
    }
    Ok(report)
}

/// Entries whose openings are read in one query.
const OPENING_CHUNK: u64 = 4096;

fn check_root(
    report: &mut VerifyReport,
    size: u64,
    signed: &merkle::Hash,
    recomputed: &merkle::Hash,
) {
    if signed != recomputed {
        report.problem(
            size.checked_sub(1),
            format!(
                "the root recomputed from the first {size} entries differs from the signed checkpoint at that size"
            ),
        );
    }
}
