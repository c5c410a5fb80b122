//! Forgetting a principal (`stepwise forget`, `DELETE /v1/principals/{id}`): its secret, the
//! openings of every entry that names it and of the outcomes and approvals of its promises (an
//! approval holds the promise id's opening too), its API keys' principal and its name in the
//! decision log are erased in one transaction; then an erasure entry naming only its pseudonym
//! and a reason is appended; then the database's files are scrubbed. The leaves never change, so every proof, checkpoint and replay stays exactly as it
//! was.
//!
//! A crash between the steps leaves the erasure pending (the store keeps its pseudonym and
//! reason, nothing else): whoever opens the log next, or runs `forget` again, finishes it
//! ([`pending`]). Everything of the principal is erased at once, or nothing is.

use crate::names::Names;
use crate::private::{Erase, PrivateStore};
use crate::{LogStore, StoreError, decode_entry};
use std::collections::HashSet;
use stepwise::evidence::seal::{self, Seal};
use stepwise::evidence::{Body, ErasureReason, Event, Id, Time};

/// Why a principal could not be forgotten.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    /// The log has no principal with this id (never seen, or forgotten already).
    #[error("no principal {0} is known to this log (never seen, or forgotten already)")]
    Unknown(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`erase`] did, and what is left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The id forgotten.
    pub id: String,
    /// Its pseudonym: the only name the erasure entry carries (`None` for a principal the log
    /// names in the clear, which has none).
    pub pseudonym: Option<String>,
    /// Entries that name it in the clear (those of formats 1 and 2, and the format-3 entries
    /// that kept the clear name those gave it): they stay as they are.
    pub in_clear: Vec<u64>,
}

impl Erased {
    /// What stays, in words, when entries name the principal in the clear.
    pub fn in_clear_message(&self) -> Option<String> {
        if self.in_clear.is_empty() {
            return None;
        }
        let list: Vec<String> = self.in_clear.iter().map(u64::to_string).collect();
        Some(format!(
            "forgot what could be forgotten of {}; entries {} name it in the clear (written \
             before entries were sealed, or keeping the name those gave it) and stay as they are",
            self.id,
            list.join(", ")
        ))
    }
}

/// The erasure entry for `pseudonym`: sealed (format 3), no author, only the name and reason.
pub fn erasure_event(
    pseudonym: &str,
    reason: ErasureReason,
    at: Time,
) -> Result<Event, StoreError> {
    let principal = Id::parse("pseudonym", pseudonym)
        .map_err(|e| StoreError::Corrupt(format!("a pending erasure: {e}")))?;
    Ok(Event {
        at,
        author: None,
        body: Body::Erasure { principal, reason },
        note: None,
        sig: None,
        stamp: None,
        seal: Some(Box::new(Seal::default())),
    })
}

/// Step 1: erases everything of `id` kept beside the log, in one transaction, leaving the
/// erasure pending until its entry is appended (step 2, by the caller's appender) and
/// [`finish`] is called (step 3).
pub fn erase(
    store: &mut (impl PrivateStore + LogStore + ?Sized),
    names: &Names,
    id: &str,
    reason: ErasureReason,
) -> Result<Erased, ForgetError> {
    let record = store.principal(id)?;
    let clear_id = Id::parse("id", id).ok();
    let (in_clear, mut outcomes) = match &clear_id {
        Some(id) if names.is_clear(id) => entries_about(store, id, 0)?,
        _ => (Vec::new(), Vec::new()),
    };
    let Some(record) = record else {
        if in_clear.is_empty() {
            return Err(ForgetError::Unknown(id.to_owned()));
        }
        // Named in the clear only: its format-3 entries name it by its id too. Their openings
        // go; the decision log gets a random name that links to nothing.
        let token = random_name()?;
        store.erase(&Erase {
            id,
            name: id,
            outcomes: &outcomes,
            pseudonym: &token,
            reason: None,
        })?;
        store.scrub()?;
        return Ok(Erased {
            id: id.to_owned(),
            pseudonym: None,
            in_clear,
        });
    };
    // The outcomes and approvals of its sealed promises, found from the first of them on (one
    // recorded after this scan and before the transaction below keeps its openings): an
    // approval comes before its promise and holds an opening of the same promise id.
    // Two passes over the promise ids, one at a time (no list of them all in memory).
    let mut its_ids: HashSet<Vec<u8>> = HashSet::new();
    store.each_promise_opening(&mut |o| {
        if o.names.split(' ').any(|n| n == record.pseudonym) {
            its_ids.insert(o.opening.value);
        }
        Ok(())
    })?;
    let mut first_promise = None::<u64>;
    if !its_ids.is_empty() {
        store.each_promise_opening(&mut |o| {
            if its_ids.contains(&o.opening.value) {
                first_promise = Some(first_promise.map_or(o.entry, |f| f.min(o.entry)));
            }
            Ok(())
        })?;
    }
    if let Some(from) = first_promise {
        let name = Id::parse("pseudonym", &record.pseudonym)
            .map_err(|e| StoreError::Corrupt(format!("a stored pseudonym: {e}")))?;
        outcomes.extend(entries_about(store, &name, from)?.1);
    }
    store.erase(&Erase {
        id,
        name: &record.pseudonym,
        outcomes: &outcomes,
        pseudonym: &record.pseudonym,
        reason: Some(reason.name()),
    })?;
    Ok(Erased {
        id: id.to_owned(),
        pseudonym: Some(record.pseudonym),
        in_clear,
    })
}

/// Step 3: the erasure of `pseudonym` has its entry in the log: no longer pending; the files
/// are scrubbed and `names` forgets it.
pub fn finish(
    store: &mut (impl PrivateStore + ?Sized),
    names: &Names,
    pseudonym: &str,
) -> Result<(), StoreError> {
    store.erasure_logged(pseudonym)?;
    store.scrub()?;
    names.forget(store, pseudonym)
}

/// The erasures still pending (a `forget` cut short by a crash), each with its entry to
/// append before [`finish`]. An entry appended just before the crash is appended again: the
/// fold ignores erasures, so a second one changes nothing.
pub fn pending(
    store: &(impl PrivateStore + ?Sized),
    now: Time,
) -> Result<Vec<(String, Event)>, StoreError> {
    store
        .pending_erasures()?
        .into_iter()
        .map(|pending| {
            let reason = ErasureReason::parse("reason", &pending.reason)
                .map_err(|e| StoreError::Corrupt(format!("a pending erasure: {e}")))?;
            let event = erasure_event(&pending.pseudonym, reason, now)?;
            Ok((pending.pseudonym, event))
        })
        .collect()
}

/// The entries from `from` on that name `name` (for an id in the clear: its format-1/2
/// entries, and the format-3 ones that keep the clear name those gave it), and the outcomes and
/// approvals of its promises among them: an outcome's entry names only its author, the
/// promisee, but its note is about the promisor too; an approval names the approver and the
/// subject, but opens the id of a promise that names the promisee too.
fn entries_about(
    store: &(impl LogStore + ?Sized),
    name: &Id,
    from: u64,
) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
    let (mut naming, mut outcomes) = (Vec::new(), Vec::new());
    let mut promises = HashSet::new();
    let mut approvals = std::collections::HashMap::new();
    store.scan(from, u64::MAX, &mut |entry| {
        let event = decode_entry(&entry)?;
        let names_it = seal::principals(&event).contains(&name);
        if names_it {
            naming.push(entry.index);
        }
        match &event.body {
            Body::Approval { promise, .. } => {
                approvals.insert(promise.clone(), entry.index);
            }
            Body::Promise { id, .. } if names_it => {
                promises.insert(id.clone());
                outcomes.extend(approvals.get(id).filter(|a| !naming.contains(a)));
            }
            Body::Outcome { promise, .. } if promises.contains(promise) => {
                outcomes.push(entry.index);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((naming, outcomes))
}

fn random_name() -> Result<String, StoreError> {
    let secret = seal::fresh_secret().map_err(|e| {
        StoreError::Database(format!("the operating system's random source failed: {e}").into())
    })?;
    let anyone = Id::parse("id", "forgotten").map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(seal::pseudonym(&secret, &anyone).as_str().to_owned())
}
