//! Principal and scope ids mapped to dense indexes: the first look-up of every decision.

use crate::HashMap;
use crate::evidence::Id;

/// An id as the interner's key, its bytes inline when it is short (most are): the table then
/// holds the bytes a look-up compares, so finding a principal touches the table's slot and not
/// also the id's own allocation — on a state larger than the caches, one memory access fewer
/// on every decision. It hashes and compares as its bytes, so a look-up borrows the id's bytes
/// and builds no key.
#[derive(Debug, Clone)]
enum Key {
    /// Up to [`INLINE_KEY`] bytes, zero-padded, and the length.
    Inline([u8; INLINE_KEY], u8),
    /// A longer id.
    Heap(Box<str>),
}

/// The longest id kept inline: 38 bytes, so that a key takes 40 — room for a format-3
/// pseudonym (`~` and 32 hex digits, 33 bytes), the name of nearly every principal of a log
/// that writes format 3.
const INLINE_KEY: usize = 38;
const _: () = assert!(std::mem::size_of::<Key>() == 40);

impl Key {
    fn of(id: &Id) -> Self {
        let text = id.as_str().as_bytes();
        if text.len() <= INLINE_KEY {
            let mut bytes = [0; INLINE_KEY];
            bytes[..text.len()].copy_from_slice(text);
            Key::Inline(bytes, text.len() as u8)
        } else {
            Key::Heap(id.as_str().into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(bytes, len) => &bytes[..usize::from(*len)],
            Key::Heap(text) => text.as_bytes(),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

/// Maps identifiers to dense indexes. Every decision starts with this look-up, so it uses
/// foldhash ([`crate::HashMap`]) rather than the default hasher, and keeps short ids inline in
/// the table ([`Key`]).
#[derive(Debug, Clone, Default)]
pub(super) struct Interner {
    index: HashMap<Key, u32>,
    pub(super) ids: Vec<Id>,
}

/// Equal when they map the same ids to the same indexes (the hasher's seed is not state).
impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl Interner {
    pub(super) fn get(&self, id: &Id) -> Option<u32> {
        self.index.get(id.as_str().as_bytes()).copied()
    }

    pub(super) fn intern(&mut self, id: &Id) -> u32 {
        if let Some(i) = self.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.clone());
        self.index.insert(Key::of(id), i);
        i
    }
}
