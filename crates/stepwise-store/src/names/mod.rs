//! Names at the doors: the ids people use ↔ the pseudonyms the log and the engine use.
//!
//! The engine folds the log as it is, so every state, rank and decision is keyed by the names
//! in the leaves: pseudonyms (format 3), or ids in the clear where format-1/2 entries named them.
//! A door turns the ids it is given into those names ([`Names::name`]; sealing an event does
//! the same, creating a secret for a principal the log has never named, [`Names::seal`]) and
//! turns names back into ids in what it prints ([`Names::open_json`], [`Names::open_text`]).
//! A forgotten principal has no id any more: its pseudonym is printed as it is.
//!
//! The maps live in memory, loaded from the store at start; this process's own appends add to
//! them, and a follower adds what other processes appended and drops what they forgot
//! ([`Names::observe`]). No lookup here does cryptography: a decision costs one read lock and
//! one hash lookup per id.

mod table;

use crate::private::{Erasure, PrincipalRecord, PrivateStore};
use crate::{LogStore, StoreError};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use stepwise::evidence::seal::{self, Hidden, Salts};
use stepwise::evidence::{Body, Event, Id};
use stepwise::{HashMap, HashSet};
use table::{Keys, TwoWay};

#[derive(Default)]
struct Maps {
    /// Every principal's id and pseudonym, found by either.
    principals: TwoWay<Principal>,
    /// Ids that format-1/2 entries of this log name in the clear: they keep that name.
    legacy: HashSet<Id>,
    /// Every promise id a client gave and the salt of its commitment (the log's id is the
    /// commitment's name, format 3), found by the client's id or the log's.
    promises: TwoWay<Promise>,
    /// Pseudonyms looked up in the store and not found there: forgotten (a pseudonym is never
    /// given again, so the answer stays true).
    forgotten: HashSet<Id>,
}

/// A principal's id and its pseudonym (by [`name_key`]: 16 bytes rather than a string of 33,
/// which the engine keeps too).
struct Principal {
    id: Id,
    pseudonym: u128,
}

impl Keys for Principal {
    type First = str;
    type Second = u128;
    fn first(&self) -> &str {
        self.id.as_str()
    }
    fn second(&self) -> &u128 {
        &self.pseudonym
    }
}

/// A client's promise id, the salt of its commitment, and the log's name of it (by
/// [`name_key`]: 16 bytes rather than a string of 33).
struct Promise {
    id: Id,
    salt: seal::Secret,
    name: u128,
}

impl Keys for Promise {
    type First = str;
    type Second = u128;
    fn first(&self) -> &str {
        self.id.as_str()
    }
    fn second(&self) -> &u128 {
        &self.name
    }
}

impl Maps {
    /// Principal `id` is named `pseudonym`, both ways.
    fn add_principal(&mut self, id: Id, pseudonym: Id) -> Result<(), StoreError> {
        let pseudonym = name_key(pseudonym.as_str()).ok_or_else(|| {
            StoreError::Corrupt(format!("principal {id}: {pseudonym} is not a pseudonym"))
        })?;
        (self.principals.insert(Principal { id, pseudonym })).map_err(|_| full("principals"))
    }

    /// The principal the log names `name`, if it has an id here.
    fn principal_named(&self, name: &str) -> Option<&Principal> {
        name_key(name).and_then(|key| self.principals.by_second(&key))
    }

    /// The principal named `pseudonym` is forgotten: no id behind it any more.
    fn forget_principal(&mut self, pseudonym: Id) {
        if let Some(key) = name_key(pseudonym.as_str()) {
            self.principals.remove_by_second(&key);
        }
        self.forgotten.insert(pseudonym);
    }

    /// Adds the promise ids a batch named first (see [`Names::seal_after`]); false when another
    /// batch named one of them first, under another salt (that one is left as it is).
    fn name_promises(&mut self, promised: &Promised<'_>) -> Result<bool, StoreError> {
        let mut first = true;
        for &(id, name, salt) in promised {
            let promise = Promise {
                id: id.clone(),
                salt,
                name,
            };
            let known = (self.promises.insert_new(promise)).map_err(|_| full("promises"))?;
            if let Some(known) = known {
                first &= known.salt == salt;
            }
        }
        Ok(first)
    }

    /// The id of the principal or promise the log names `name`, if known here.
    fn id_of(&self, name: &str) -> Option<&Id> {
        match self.principal_named(name) {
            Some(principal) => Some(&principal.id),
            None => name_key(name)
                .and_then(|key| self.promises.by_second(&key))
                .map(|promise| &promise.id),
        }
    }
}

/// The two-way map between ids and the log's names (see the module docs).
#[derive(Default)]
pub struct Names {
    maps: RwLock<Maps>,
    /// The last erasure ([`Erasure::seq`]) whose principal the maps have dropped: the ledger's
    /// appends learn of later ones in their transaction (`Batch::erasures_seen`).
    erasures_seen: AtomicU64,
    /// The last principal (`PrivateStore::principals_since`) read from the store.
    principals_seen: AtomicU64,
    /// The log size before the names were read from the store ([`Names::open`]): the
    /// principals and promise ids its entries name were all read then, so that folding those
    /// entries has nothing to teach the names but their erasures ([`Names::observe`]).
    opened_at: u64,
}

/// A batch sealed for the log ([`Names::seal`]): the events, and the secrets of the principals
/// they name for the first time, to be stored in the same transaction as the entries. The
/// names learn those principals once that transaction commits ([`Names::adopt`]).
#[derive(Debug, Default)]
pub struct Sealed {
    /// The events, in order, every one sealed.
    pub events: Vec<Event>,
    /// The principals the events name that the log has never named.
    pub principals: Vec<PrincipalRecord>,
    /// The last erasure the names had dropped when the batch was sealed
    /// ([`Names::erasures_seen`]): a batch sealed before the names dropped a later one may
    /// name its principal, and is sealed again ([`crate::Ledger::append_sealed`]).
    pub erasures_seen: u64,
}

impl Sealed {
    /// A batch appended as it is (a ledger writing format 2).
    pub fn as_is(events: Vec<Event>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }

    /// Adds `next`, sealed on its own, after this batch; false when both create one principal
    /// (each with a secret of its own: the two are then to be sealed again as one batch).
    pub fn extend(&mut self, next: Sealed) -> bool {
        let clash = !next.principals.is_empty() && !self.principals.is_empty() && {
            let earlier: HashSet<&str> = self.principals.iter().map(|r| r.id.as_str()).collect();
            (next.principals.iter()).any(|new| earlier.contains(new.id.as_str()))
        };
        self.erasures_seen = self.erasures_seen.min(next.erasures_seen);
        self.events.extend(next.events);
        self.principals.extend(next.principals);
        !clash
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let maps = self.read();
        f.debug_struct("Names")
            .field("principals", &maps.principals.len())
            .field("promises", &maps.promises.len())
            .field("legacy", &maps.legacy.len())
            .finish()
    }
}

impl Names {
    /// The names of the log in `store`: every principal's pseudonym, every promise id's
    /// opening, and the ids its format-1/2 entries name in the clear (read from those entries,
    /// which all come before the first format-3 one).
    pub fn open(store: &(impl PrivateStore + LogStore + ?Sized)) -> Result<Self, StoreError> {
        // Read first: an entry and the rows it adds beside the log are committed at once, so
        // every entry below this size has its principals and promise ids in what is loaded.
        let size = store.size()?;
        let mut names = Self::load(store)?;
        names.opened_at = size;
        let mut first_sealed = None;
        let mut index = 0;
        while index < size && first_sealed.is_none() {
            let to = (index + 4096).min(size);
            store.scan(index, to, &mut |entry| {
                if first_sealed.is_none() {
                    let event = crate::decode_entry(&entry)?;
                    match event.seal {
                        Some(_) => first_sealed = Some(entry.index),
                        None => names.note_clear(&event),
                    }
                }
                Ok(())
            })?;
            index = to;
        }
        Ok(names)
    }

    /// The names kept in `store` beside the log: every principal's pseudonym and every promise
    /// id's opening.
    pub fn load(store: &(impl PrivateStore + ?Sized)) -> Result<Self, StoreError> {
        let names = Self::default();
        // Read before the principals: a principal forgotten in between is missing from both,
        // and the next append learns of its erasure anyway.
        names
            .erasures_seen
            .store(store.last_erasure()?, Ordering::Relaxed);
        names.learn_principals(store)?;
        names.write().promises = promises_in(store)?;
        Ok(names)
    }

    /// Learns the principals created since the last one these names have seen (by other
    /// processes, or all of them at load).
    pub fn learn_principals(&self, store: &(impl PrivateStore + ?Sized)) -> Result<(), StoreError> {
        // Read a page at a time and added under the lock a page at a time: at load that is
        // every principal, with no list of them all in memory, and a follower learning a few
        // holds the lock only to add them.
        const PAGE: usize = 4096;
        let mut page = Vec::with_capacity(PAGE);
        let add = |page: &mut Vec<(u64, PrincipalRecord)>| {
            let mut maps = self.write();
            for (_, record) in page.iter() {
                let (id, pseudonym) = record_names(record)?;
                maps.add_principal(id, pseudonym)?;
            }
            if let Some((last, _)) = page.last() {
                self.principals_seen.fetch_max(*last, Ordering::Relaxed);
            }
            page.clear();
            Ok::<_, StoreError>(())
        };
        let after = self.principals_seen.load(Ordering::Relaxed);
        store.each_principal_since(after, &mut |seq, record| {
            page.push((seq, record));
            if page.len() == PAGE {
                add(&mut page)?;
            }
            Ok(())
        })?;
        add(&mut page)
    }

    /// Whether any of `records` (principals a batch would create) is known already.
    pub fn knows_any(&self, records: &[PrincipalRecord]) -> bool {
        let maps = self.read();
        records
            .iter()
            .any(|record| maps.principals.by_first(&record.id).is_some())
    }

    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The log's name for principal `id`: its pseudonym, or `id` itself when the log names it
    /// in the clear or not at all (a principal with no evidence) — or when `id` is already a
    /// pseudonym.
    pub fn name(&self, id: &Id) -> Id {
        let maps = self.read();
        let principal = maps.principals.by_first(id.as_str());
        principal.map_or_else(|| id.clone(), |p| seal::name_of_key(p.pseudonym))
    }

    /// The id behind `name` (a pseudonym or a sealed promise id), if this process knows it:
    /// `None` for a name in the clear, and for a forgotten principal.
    pub fn id_of(&self, name: &str) -> Option<Id> {
        self.read().id_of(name).cloned()
    }

    /// Whether `name` is a pseudonym this log no longer maps to an id: a forgotten principal.
    pub fn is_forgotten(&self, name: &str) -> bool {
        seal::is_pseudonym(name) && self.read().principal_named(name).is_none()
    }

    /// A principal that `event` names and this log has forgotten (an erasure's own principal
    /// aside), if any.
    pub fn forgotten_in(&self, event: &Event) -> Option<String> {
        if matches!(event.body, Body::Erasure { .. }) {
            return None;
        }
        let maps = self.read();
        seal::principals(event)
            .into_iter()
            .find(|p| maps.forgotten.contains(*p))
            .map(|p| p.as_str().to_owned())
    }

    /// Whether format-1/2 entries of this log name `id` in the clear.
    pub fn is_clear(&self, id: &Id) -> bool {
        self.read().legacy.contains(id)
    }

    /// How many principals have a pseudonym here.
    pub fn len(&self) -> usize {
        self.read().principals.len()
    }

    /// Whether no principal has a pseudonym here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether format-1/2 entries of this log name any principal in the clear.
    pub fn has_clear_names(&self) -> bool {
        !self.read().legacy.is_empty()
    }

    /// Notes the ids a format-1/2 entry names in the clear (the ledger calls it as it reads
    /// the log): they keep their clear name in this log's format-3 entries too.
    pub fn note_clear(&self, event: &Event) {
        if event.seal.is_some() {
            return;
        }
        let ids: Vec<&Id> = seal::principals(event);
        let mut maps = self.write();
        for id in ids {
            if !maps.legacy.contains(id) {
                maps.legacy.insert(id.clone());
            }
        }
    }

    /// The policy with every principal it names renamed as the log names it (see
    /// `Policy::renamed`); those the log has never named get their secret now, so that the
    /// name the policy is folded with is the one their first entry will carry.
    pub fn name_policy(
        &self,
        store: &mut (impl PrivateStore + ?Sized),
        policy: &stepwise::policy::Policy,
    ) -> Result<stepwise::policy::Policy, StoreError> {
        self.create(store, policy.principals().into_iter())?;
        Ok(policy.renamed(&|id| self.name(id)))
    }

    /// Gives every id of `ids` that the log names neither by a pseudonym nor in the clear a
    /// secret and a pseudonym, stored for all of them in one transaction.
    fn create<'a>(
        &self,
        store: &mut (impl PrivateStore + ?Sized),
        ids: impl Iterator<Item = &'a Id>,
    ) -> Result<(), StoreError> {
        let mut new = Vec::new();
        {
            let maps = self.read();
            let mut seen = HashSet::default();
            for id in ids {
                let known = maps.principals.by_first(id.as_str()).is_some()
                    || maps.legacy.contains(id)
                    || seal::is_pseudonym(id.as_str());
                if !known && seen.insert(id) {
                    new.push(id.clone());
                }
            }
        }
        if !new.is_empty() {
            let mut records = Vec::with_capacity(new.len());
            for id in new {
                let secret = seal::fresh_secret().map_err(randomness)?;
                records.push(PrincipalRecord {
                    pseudonym: seal::pseudonym(&secret, &id).as_str().to_owned(),
                    id: id.as_str().to_owned(),
                    secret,
                });
            }
            let stored = store.create_principals(&records)?;
            let mut maps = self.write();
            for record in &stored {
                let (id, pseudonym) = record_names(record)?;
                maps.add_principal(id, pseudonym)?;
            }
        }
        Ok(())
    }

    /// Seals every event of `clear` that is still in the clear (format 3; events sealed
    /// already are kept as they are). Principals the log has never named get a secret, returned
    /// with the events so that the ledger stores them in the same transaction as the entries:
    /// nothing is stored here, and the names learn the new principals only when that
    /// transaction has committed ([`Names::adopt`]); its promises are named at once.
    pub fn seal(&self, clear: &[Event]) -> Result<Sealed, StoreError> {
        self.seal_after(clear, &[])
    }

    /// [`Names::seal`] for a batch that follows one sealed and not yet committed, whose new
    /// principals are `pending`: the names it gave them are the names used here.
    ///
    /// Batches may be sealed on several threads at once (each request's own, before the writer
    /// takes it). A promise id is named first come, first served: the batch's new promise ids
    /// are added to the names under the write lock, and if another batch named one of them
    /// since this one looked, this one is sealed again, the lock held, under that name (so
    /// that a second promise with the same id is refused as a reuse, as it is in one batch).
    pub fn seal_after(
        &self,
        clear: &[Event],
        pending: &[PrincipalRecord],
    ) -> Result<Sealed, StoreError> {
        // Read before the names are: an erasure dropped meanwhile makes the batch look stale.
        let seen = self.erasures_seen();
        let (sealed, promised) = seal_with(&self.read(), clear, pending, seen)?;
        if promised.is_empty() {
            return Ok(sealed);
        }
        let mut maps = self.write();
        if maps.name_promises(&promised)? {
            return Ok(sealed);
        }
        let (sealed, promised) = seal_with(&maps, clear, pending, seen)?;
        maps.name_promises(&promised)?;
        Ok(sealed)
    }

    /// Learns the principals a sealed batch ([`Sealed::principals`]) named for the first time,
    /// once its transaction has committed.
    pub fn adopt(&self, principals: &[PrincipalRecord]) -> Result<(), StoreError> {
        let mut maps = self.write();
        for record in principals {
            let (id, pseudonym) = record_ids(record)?;
            maps.add_principal(id, pseudonym)?;
        }
        Ok(())
    }

    /// The last erasure whose principal these names have dropped (see [`Names::forget_erased`]).
    pub fn erasures_seen(&self) -> u64 {
        self.erasures_seen.load(Ordering::Relaxed)
    }

    /// Drops the principals of `erased` (erasures made since [`Names::erasures_seen`], as an
    /// append learns of them) and moves past them.
    pub fn forget_erased(
        &self,
        store: &(impl PrivateStore + ?Sized),
        erased: &[Erasure],
    ) -> Result<(), StoreError> {
        let pseudonyms: Vec<&str> = erased.iter().map(|e| e.pseudonym.as_str()).collect();
        self.forget_all(store, &pseudonyms)?;
        if let Some(last) = erased.iter().map(|e| e.seq).max() {
            self.erasures_seen.fetch_max(last, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Keeps the maps current with an entry another process appended (a follower calls it as
    /// it folds): a principal or promise it names that this process does not know is looked up
    /// in the store; an erasure drops the forgotten principal's id.
    pub fn observe(
        &self,
        store: &(impl PrivateStore + LogStore + ?Sized),
        index: u64,
        event: &Event,
    ) -> Result<(), StoreError> {
        let Some(_) = &event.seal else {
            self.note_clear(event);
            return Ok(());
        };
        if index < self.opened_at {
            // Known since the names were opened (a start-up's fold passes every entry here);
            // an erasure made before then left nothing to drop but the name it forgot.
            if let Body::Erasure { principal, .. } = &event.body {
                self.write().forget_principal(principal.clone());
            }
            return Ok(());
        }
        if let Body::Erasure { principal, .. } = &event.body {
            return self.forget(store, principal.as_str());
        }
        let unknown: Vec<Id> = {
            let maps = self.read();
            seal::principals(event)
                .into_iter()
                .filter(|p| {
                    seal::is_pseudonym(p.as_str())
                        && maps.principal_named(p.as_str()).is_none()
                        && !maps.forgotten.contains(*p)
                })
                .cloned()
                .collect()
        };
        if !unknown.is_empty() {
            // Created by another process since this one last looked, or forgotten.
            self.learn_principals(store)?;
            let mut maps = self.write();
            for pseudonym in unknown {
                if maps.principal_named(pseudonym.as_str()).is_none() {
                    maps.forgotten.insert(pseudonym);
                }
            }
        }
        if let Some(id) = promise_named(&event.body)
            && name_key(id.as_str())
                .is_none_or(|key| self.read().promises.by_second(&key).is_none())
        {
            for stored in store.openings(index, index + 1)? {
                if stored.opening.field == Hidden::PromiseId {
                    add_promise(&mut self.write().promises, &stored.opening)?;
                }
            }
        }
        Ok(())
    }

    /// Learns the promise ids opened by entries `from..to` of `store`, which another process
    /// appended: what a client's id names is what the log first named it, whichever process
    /// sealed it (a batch this process sealed meanwhile is sealed again). Returns whether
    /// there were any.
    pub fn learn_promises(
        &self,
        store: &(impl PrivateStore + ?Sized),
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError> {
        if from >= to {
            return Ok(false);
        }
        let openings = store.openings(from, to)?;
        let mut promises = openings
            .iter()
            .filter(|stored| stored.opening.field == Hidden::PromiseId)
            .peekable();
        if promises.peek().is_none() {
            return Ok(false);
        }
        let mut maps = self.write();
        for stored in promises {
            add_promise(&mut maps.promises, &stored.opening)?;
        }
        Ok(true)
    }

    /// Forgets `pseudonym`'s id and the promise ids its erasure left unopenable (after its
    /// erasure in `store`, by this process or another).
    pub fn forget(
        &self,
        store: &(impl PrivateStore + ?Sized),
        pseudonym: &str,
    ) -> Result<(), StoreError> {
        self.forget_all(store, &[pseudonym])
    }

    fn forget_all(
        &self,
        store: &(impl PrivateStore + ?Sized),
        pseudonyms: &[&str],
    ) -> Result<(), StoreError> {
        // The promise ids left openable, read before the lock is taken.
        let promises = promises_in(store)?;
        let mut maps = self.write();
        for pseudonym in pseudonyms {
            // Not an id at all: nothing maps it to one.
            if let Ok(p) = Id::parse("pseudonym", pseudonym) {
                maps.forget_principal(p);
            }
        }
        maps.promises = promises;
        Ok(())
    }

    /// `text` (JSON) with every pseudonym and sealed promise id this process can open replaced
    /// by its id, escaped for a JSON string.
    pub fn open_json<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.replace_names(text, true)
    }

    /// `text` (prose, a table) with every pseudonym and sealed promise id this process can open
    /// replaced by its id.
    pub fn open_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.replace_names(text, false)
    }

    fn replace_names<'a>(&self, text: &'a str, json: bool) -> Cow<'a, str> {
        const LEN: usize = 33;
        let bytes = text.as_bytes();
        if !bytes.contains(&(seal::PSEUDONYM_PREFIX as u8)) {
            return Cow::Borrowed(text);
        }
        let maps = self.read();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut i = 0;
        while let Some(k) = text[i..].find(seal::PSEUDONYM_PREFIX) {
            let at = i + k;
            let end = at + LEN;
            let boundary_before = at == 0 || matches!(bytes[at - 1], b'"' | b' ' | b'\n' | b'(');
            let boundary_after = bytes.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
            let candidate = text.get(at..end).filter(|t| seal::is_pseudonym(t));
            match candidate {
                Some(name) if boundary_before && boundary_after => {
                    if let Some(id) = maps.id_of(name) {
                        out.push_str(&text[copied..at]);
                        if json {
                            let quoted = crate::private::json_string(id.as_str());
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        } else {
                            out.push_str(id.as_str());
                        }
                        copied = end;
                    }
                    i = end;
                }
                _ => i = at + 1,
            }
        }
        if copied == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// A principal record's id and pseudonym, as ids.
/// A batch's promise ids named for the first time, each with the log's name of it and its salt.
type Promised<'a> = Vec<(&'a Id, u128, seal::Secret)>;

/// Seals `clear` under the names in `maps`, which had dropped erasures up to `erasures_seen`
/// (see [`Names::seal_after`]); the promise ids it names for the first time are given back, to
/// be added to the names.
fn seal_with<'a>(
    maps: &Maps,
    clear: &'a [Event],
    pending: &[PrincipalRecord],
    erasures_seen: u64,
) -> Result<(Sealed, Promised<'a>), StoreError> {
    let mut salts = Salts::new();
    // This batch's new principals and promises (a promise's outcome may follow it here),
    // and those of the batch before it, not committed yet.
    let mut new: HashMap<Id, Id> = HashMap::default();
    for record in pending {
        let (id, pseudonym) = record_ids(record)?;
        new.insert(id, pseudonym);
    }
    // This batch's promise ids (borrowed from the batch), their salts and the log's names.
    let mut promises: HashMap<&Id, seal::Secret> = HashMap::default();
    let mut promised: Promised<'a> = Vec::new();
    let mut sealed = Sealed {
        events: Vec::with_capacity(clear.len()),
        principals: Vec::new(),
        erasures_seen,
    };
    // The log's name of each principal the event names, looked up once.
    let mut named: Vec<(&Id, Id)> = Vec::with_capacity(3);
    for event in clear {
        if event.seal.is_some() {
            sealed.events.push(event.clone());
            continue;
        }
        named.clear();
        for id in seal::principals(event) {
            let name = match maps.principals.by_first(id.as_str()) {
                Some(known) => seal::name_of_key(known.pseudonym),
                None => match new.get(id) {
                    Some(pseudonym) => pseudonym.clone(),
                    // Named in the clear by the log's first entries, or a pseudonym already.
                    None if maps.legacy.contains(id) || seal::is_pseudonym(id.as_str()) => {
                        id.clone()
                    }
                    None => {
                        let secret = salts.fresh().map_err(randomness)?;
                        let pseudonym = seal::pseudonym(&secret, id);
                        sealed.principals.push(PrincipalRecord {
                            id: id.as_str().to_owned(),
                            pseudonym: pseudonym.as_str().to_owned(),
                            secret,
                        });
                        new.insert(id.clone(), pseudonym.clone());
                        pseudonym
                    }
                },
            };
            named.push((id, name));
        }
        let principal = |id: &Id| {
            (named.iter().find(|(known, _)| *known == id))
                .map_or_else(|| id.clone(), |(_, name)| name.clone())
        };
        let promise = |id: &Id| {
            (maps.promises.by_first(id.as_str()).map(|p| p.salt))
                .or_else(|| promises.get(id).copied())
        };
        let event_sealed =
            seal::seal(event, &principal, &promise, &mut salts).map_err(randomness)?;
        // A promise, or an approval of the promise to come: either names the promise id
        // for the first time, and whatever follows it (the promise an approval allows, an
        // outcome) finds the same salt.
        if let Some((id, name)) =
            promise_named(&event.body).zip(promise_named(&event_sealed.body))
            && let Some(opening) =
                (event_sealed.seal.as_ref()).and_then(|s| s.opening(Hidden::PromiseId))
            // Always a sealed promise id (`~` and 32 hex digits): the seal made it.
            && let Some(name) = name_key(name.as_str())
            && promises.insert(id, opening.salt).is_none()
        {
            promised.push((id, name, opening.salt));
        }
        sealed.events.push(event_sealed);
    }
    Ok((sealed, promised))
}

fn record_ids(record: &PrincipalRecord) -> Result<(Id, Id), StoreError> {
    let bad = |e| StoreError::Corrupt(format!("principal record {record:?}: {e}"));
    let id = Id::parse("id", &record.id).map_err(bad)?;
    Ok((id, Id::parse("pseudonym", &record.pseudonym).map_err(bad)?))
}

/// A stored principal record's id and pseudonym, checked against its secret.
fn record_names(record: &PrincipalRecord) -> Result<(Id, Id), StoreError> {
    let (id, pseudonym) = record_ids(record)?;
    if seal::pseudonym(&record.secret, &id) != pseudonym {
        return Err(StoreError::Corrupt(format!(
            "principal record {record:?}: the pseudonym is not its secret's"
        )));
    }
    Ok((id, pseudonym))
}

/// The promise id an event commits to with an opening of its own: a promise's `id`, an
/// approval's `promise` (an outcome names a promise whose opening is its promise's).
fn promise_named(body: &Body) -> Option<&Id> {
    match body {
        Body::Promise { id, .. } | Body::Approval { promise: id, .. } => Some(id),
        _ => None,
    }
}

fn add_promise(promises: &mut TwoWay<Promise>, opening: &seal::Opening) -> Result<(), StoreError> {
    let text = std::str::from_utf8(&opening.value)
        .map_err(|_| StoreError::Corrupt("a promise id's opening is not UTF-8".into()))?;
    let id = Id::parse("id", text)
        .map_err(|e| StoreError::Corrupt(format!("a promise id's opening: {e}")))?;
    let name = name_key(seal::promise_name(opening).as_str())
        .ok_or_else(|| StoreError::Corrupt("a promise's sealed name".into()))?;
    let promise = Promise {
        id,
        salt: opening.salt,
        name,
    };
    promises.insert(promise).map_err(|_| full("promises"))
}

/// Every promise id's opening in `store`, read one at a time into a table.
fn promises_in(store: &(impl PrivateStore + ?Sized)) -> Result<TwoWay<Promise>, StoreError> {
    let mut promises = TwoWay::default();
    store.each_promise_opening(&mut |stored| add_promise(&mut promises, &stored.opening))?;
    Ok(promises)
}

/// More names of one kind than this process can count (2^32).
fn full(what: &str) -> StoreError {
    StoreError::Database(format!("the names hold 2^32 {what}: no room for more").into())
}

/// A pseudonym or sealed promise id as the 128-bit number its 32 hex digits spell (`None` for
/// any other name): how the maps keep the log's names of promises, which outnumber principals.
fn name_key(name: &str) -> Option<u128> {
    seal::key_of_name(name)
}

fn randomness(e: getrandom::Error) -> StoreError {
    StoreError::Database(format!("the operating system's random source failed: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_with(id: &str, pseudonym: &str) -> Names {
        let names = Names::default();
        let (id, p) = (
            Id::parse("i", id).expect("valid"),
            Id::parse("p", pseudonym).expect("valid"),
        );
        names.write().add_principal(id, p).expect("room");
        names
    }

    /// Two batches sealed side by side both promise under id `same`: the one that names it
    /// first keeps its name, and the other, told so, is sealed again under that name.
    #[test]
    fn a_promise_id_is_named_first_come_first_served() {
        let promise = |promisor: &str| {
            let json = format!(
                r#"{{"kind":"promise","at":"2026-12-07T12:00:00Z","id":"same","promisor":"{promisor}","promisee":"user:x","scope":"s","stake":1,"due":"2026-12-08T12:00:00Z"}}"#
            );
            vec![Event::from_json(&json).expect("promise")]
        };
        let name = |sealed: &Sealed| match &sealed.events[0].body {
            Body::Promise { id, .. } => id.clone(),
            other => panic!("{other:?}"),
        };
        let names = Names::default();
        let (first, second) = (promise("user:a"), promise("user:b"));
        // The second batch looks before the first names the id, and names it after.
        let (late, late_promised) = seal_with(&names.read(), &second, &[], 0).expect("sealed");
        let early = names.seal(&first).expect("sealed");
        assert_ne!(name(&late), name(&early), "two salts: two names");
        let mut maps = names.write();
        assert!(
            !maps.name_promises(&late_promised).expect("room"),
            "told it came second"
        );
        let (again, promised) = seal_with(&maps, &second, &[], 0).expect("sealed");
        assert!(maps.name_promises(&promised).expect("room"));
        drop(maps);
        assert_eq!(name(&again), name(&early));
        let same = Id::parse("id", "same").expect("id");
        assert_eq!(names.id_of(name(&early).as_str()), Some(same));
    }

    #[test]
    fn open_replaces_whole_pseudonyms_only() {
        let p = "~0123456789abcdef0123456789abcdef";
        let names = names_with("user:\"q\"", p);
        let json = format!(r#"{{"subject":"{p}","x":"a{p}","y":"{p}0"}}"#);
        assert_eq!(
            names.open_json(&json),
            format!(r#"{{"subject":"user:\"q\"","x":"a{p}","y":"{p}0"}}"#)
        );
        assert_eq!(
            names.open_text(&format!("vouched by {p}.")),
            "vouched by user:\"q\"."
        );
        let unknown = "~ffffffffffffffffffffffffffffffff";
        assert!(matches!(names.open_json(unknown), Cow::Borrowed(_)));
        assert!(names.is_forgotten(unknown));
        assert!(!names.is_forgotten(p));
    }

    #[test]
    fn a_sealed_promise_id_opens_to_the_clients_by_its_key() {
        let names = Names::default();
        let json = r#"{"kind":"promise","at":"2026-01-01T00:00:00Z","id":"order-7","promisor":"a","promisee":"b","scope":"work","stake":5,"due":"2026-01-02T00:00:00Z"}"#;
        let sealed = names
            .seal(&[Event::from_json(json).expect("event")])
            .expect("sealed");
        let Body::Promise { id: name, .. } = &sealed.events[0].body else {
            panic!("a promise")
        };
        assert!(seal::is_pseudonym(name.as_str()), "{name}");
        assert_eq!(
            names
                .id_of(name.as_str())
                .map(|id| id.to_string())
                .as_deref(),
            Some("order-7")
        );
        let text = format!("promise {name} was kept");
        assert_eq!(names.open_text(&text), "promise order-7 was kept");
        assert_eq!(name_key("~0000000000000000000000000000002a"), Some(42));
        assert_eq!(name_key("~0000000000000000000000000000002A"), None);
        assert_eq!(name_key("order-7"), None);
    }
}

/// A stored entry's event with what its commitments hide put back (`note`, `sig`, a promise's
/// `id`) from `openings`: what a reader with the right to see it is shown. Ids stay as the leaf
/// names them (a door's [`Names::open_json`] turns pseudonyms into ids).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedEntry {
    /// The event as JSON, opened where its openings are kept.
    pub event: serde_json::Value,
    /// The hidden fields whose openings are erased (their principal was forgotten).
    pub erased: Vec<&'static str>,
    /// The hidden fields whose kept opening does not match the leaf's commitment: tampering
    /// beside the log.
    pub mismatched: Vec<&'static str>,
}

/// Opens the entry whose canonical bytes are `bytes` with the openings kept for it.
pub fn open_entry(bytes: &[u8], openings: &[seal::Opening]) -> OpenedEntry {
    use serde_json::Value;
    let mut event: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut erased = Vec::new();
    let mut mismatched = Vec::new();
    let Value::Object(map) = &mut event else {
        return OpenedEntry {
            event,
            erased,
            mismatched,
        };
    };
    let sealed = map.get("v").and_then(Value::as_u64) == Some(stepwise::evidence::FORMAT_V3);
    if !sealed {
        return OpenedEntry {
            event,
            erased,
            mismatched,
        };
    }
    // A promise commits to its own `id`; an approval to the `promise` it allows.
    let promise_key = match map.get("kind").and_then(Value::as_str) {
        Some("promise") => Some("id"),
        Some("approval") => Some("promise"),
        _ => None,
    };
    for field in Hidden::ALL {
        let (leaf_key, committed) = match field {
            Hidden::Note => (
                "note_commit",
                map.get("note_commit").and_then(Value::as_str),
            ),
            Hidden::Sig => ("sig_commit", map.get("sig_commit").and_then(Value::as_str)),
            Hidden::PromiseId => match promise_key {
                Some(key) => (key, map.get(key).and_then(Value::as_str)),
                None => ("id", None),
            },
        };
        let Some(committed) = committed.map(str::to_owned) else {
            continue;
        };
        // The opened value takes the hidden field's place: `note` for `note_commit`, and a
        // promise id where the leaf names it (a promise's `id`, an approval's `promise`).
        let opened_key = match field {
            Hidden::PromiseId => leaf_key,
            _ => field.name(),
        };
        let Some(opening) = openings.iter().find(|o| o.field == field) else {
            erased.push(opened_key);
            continue;
        };
        let matches = match field {
            Hidden::PromiseId => seal::promise_name(opening).as_str() == committed,
            _ => stepwise::evidence::base64_encode(&opening.commitment()) == committed,
        };
        if !matches {
            mismatched.push(opened_key);
            continue;
        }
        let value = match field {
            Hidden::Sig => Value::from(stepwise::evidence::base64_encode(&opening.value)),
            _ => Value::from(String::from_utf8_lossy(&opening.value).into_owned()),
        };
        if leaf_key != opened_key {
            map.remove(leaf_key);
        }
        map.insert(opened_key.to_owned(), value);
    }
    OpenedEntry {
        event,
        erased,
        mismatched,
    }
}
