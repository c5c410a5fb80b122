//! Principal and scope ids mapped to dense indexes: the first look-up of every decision.

use crate::evidence::Id;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Maps identifiers to dense indexes: a table of 4-byte indexes hashed by the ids' text, each
/// look-up comparing the id it finds. A table of keys with the ids' bytes inline (40 bytes a
/// slot) spared a look-up one memory access, at about 820 MB for the 12 million principals of
/// a log of 10^8 events; this one takes 84 MB (docs/SCALE.md, "Where the memory goes").
/// foldhash ([`crate::HashMap`]'s hasher) keeps the hashing of a 33-byte pseudonym quick.
#[derive(Debug, Clone, Default)]
pub(super) struct Interner {
    index: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    pub(super) ids: Vec<Id>,
}

/// Equal when they map the same ids to the same indexes (the hasher's seed is not state).
impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl Interner {
    fn find(&self, hash: u64, id: &str) -> Option<u32> {
        let ids = &self.ids;
        (self.index.find(hash, |&i| ids[i as usize].as_str() == id)).copied()
    }

    pub(super) fn get(&self, id: &Id) -> Option<u32> {
        self.find(self.hasher.hash_one(id.as_str()), id.as_str())
    }

    pub(super) fn intern(&mut self, id: &Id) -> u32 {
        let hash = self.hasher.hash_one(id.as_str());
        if let Some(i) = self.find(hash, id.as_str()) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.clone());
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(ids[j as usize].as_str()));
        i
    }
}
