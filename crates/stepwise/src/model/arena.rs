//! A list that grows by chunks, never by copying: the state's largest lists (every pair,
//! every citation) hold hundreds of millions of items at 10^8 events.
//!
//! A `Vec` grows by allocating twice its capacity and copying into it: for the last growth of
//! a list of 68 million pairs (72 bytes each), 4.8 GB more held while 4.8 GB are copied, near the
//! end of a start-up's fold, where the process's memory is highest anyway (docs/SCALE.md). Here
//! items live in chunks of a fixed size that are never moved; a new chunk is added when the last
//! is full. An item costs one more indirection to reach (the chunk's address, from a list small
//! enough to stay in cache).

use std::fmt;
use std::ops::{Index, IndexMut};

/// Items per chunk (a chunk of pairs is 4.7 MB; of citations, 0.5 MB).
const CHUNK_BITS: u32 = 16;
const CHUNK: usize = 1 << CHUNK_BITS;
const MASK: usize = CHUNK - 1;

/// A list of items, each found by its position, that grows without moving them.
#[derive(Clone, PartialEq)]
pub(crate) struct Arena<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Arena<T> {
    /// How many items it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `item` at position `len()`.
    pub(crate) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(item),
            _ => {
                // The first chunk grows as a `Vec` does (a small state allocates what it
                // holds); later ones are made whole at once.
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// The item at position `i`, if there is one.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> CHUNK_BITS)?.get(i & MASK)
    }

    /// Every item, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for Arena<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_BITS][i & MASK]
    }
}

impl<T> IndexMut<usize> for Arena<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> CHUNK_BITS][i & MASK]
    }
}

impl<T: fmt::Debug> fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever its length (across chunk boundaries too), it holds what a `Vec` given the
        /// same pushes and writes holds, item for item.
        #[test]
        fn holds_what_a_vec_holds(
            len in prop_oneof![0usize..10, CHUNK - 3..CHUNK + 3, 2 * CHUNK..2 * CHUNK + 2],
            writes in proptest::collection::vec((any::<usize>(), any::<u32>()), 0..20),
        ) {
            let (mut arena, mut list) = (Arena::default(), Vec::new());
            for i in 0..len {
                arena.push(i as u32);
                list.push(i as u32);
            }
            for (at, value) in writes {
                if !list.is_empty() {
                    let at = at % list.len();
                    arena[at] = value;
                    list[at] = value;
                }
            }
            prop_assert_eq!(arena.len(), list.len());
            prop_assert!(arena.iter().eq(list.iter()));
            for (i, item) in list.iter().enumerate() {
                prop_assert_eq!(&arena[i], item);
                prop_assert_eq!(arena.get(i), Some(item));
            }
            prop_assert_eq!(arena.get(list.len()), None);
        }
    }
}
