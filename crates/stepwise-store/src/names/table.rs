//! The names' tables: rows found by either of two keys (an id and the log's name of it).
//!
//! A log of 10^8 events names some 10^7 principals and 2·10^7 promises; two maps per kind, each
//! slot holding a key and a value and up to half the slots empty, cost more than the names
//! themselves. Here the rows are kept once, in a vector, and each key finds a row through a
//! table of row numbers (4 bytes a slot).

use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

/// What a row is found by.
pub(super) trait Keys {
    /// The first key (the id a client uses).
    type First: Hash + Eq + ?Sized;
    /// The second key (the log's name of it).
    type Second: Hash + Eq + ?Sized;
    fn first(&self) -> &Self::First;
    fn second(&self) -> &Self::Second;
}

/// Rows found by either key; a row taken out leaves a hole, not reused (rows are taken out
/// only when a principal is forgotten).
pub(super) struct TwoWay<R> {
    rows: Vec<Option<R>>,
    by_first: HashTable<u32>,
    by_second: HashTable<u32>,
    hasher: foldhash::quality::RandomState,
    live: usize,
}

impl<R> Default for TwoWay<R> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            by_first: HashTable::new(),
            by_second: HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
            live: 0,
        }
    }
}

/// More rows than 32-bit row numbers can count.
#[derive(Debug)]
pub(super) struct Full;

impl<R: Keys> TwoWay<R> {
    fn row(&self, n: u32) -> Option<&R> {
        self.rows.get(n as usize).and_then(Option::as_ref)
    }

    fn find_first(&self, key: &R::First) -> Option<u32> {
        self.find_first_hashed(self.hasher.hash_one(key), key)
    }

    fn find_first_hashed(&self, hash: u64, key: &R::First) -> Option<u32> {
        let found = self
            .by_first
            .find(hash, |&n| self.row(n).is_some_and(|row| row.first() == key));
        found.copied()
    }

    fn find_second(&self, key: &R::Second) -> Option<u32> {
        self.find_second_hashed(self.hasher.hash_one(key), key)
    }

    fn find_second_hashed(&self, hash: u64, key: &R::Second) -> Option<u32> {
        let found = self.by_second.find(hash, |&n| {
            self.row(n).is_some_and(|row| row.second() == key)
        });
        found.copied()
    }

    /// The row whose first key is `key`.
    pub(super) fn by_first(&self, key: &R::First) -> Option<&R> {
        self.find_first(key).and_then(|n| self.row(n))
    }

    /// The row whose second key is `key`.
    pub(super) fn by_second(&self, key: &R::Second) -> Option<&R> {
        self.find_second(key).and_then(|n| self.row(n))
    }

    /// Adds `row`, in place of any row with either of its keys.
    pub(super) fn insert(&mut self, row: R) -> Result<(), Full> {
        // Each key hashed once, for the look-up and the insert.
        let first = self.hasher.hash_one(row.first());
        if let Some(m) = self.find_first_hashed(first, row.first()) {
            self.take(m);
        }
        self.place(row, first)
    }

    /// Adds `row` unless a row has its first key: that row is returned, and `row` dropped
    /// (one look-up by the first key either way). A row with its second key is replaced.
    pub(super) fn insert_new(&mut self, row: R) -> Result<Option<&R>, Full> {
        let first = self.hasher.hash_one(row.first());
        if let Some(m) = self.find_first_hashed(first, row.first()) {
            return Ok(self.row(m));
        }
        self.place(row, first).map(|()| None)
    }

    /// Adds `row`, whose first key (hashed `first`) no row has.
    fn place(&mut self, row: R, first: u64) -> Result<(), Full> {
        let n = u32::try_from(self.rows.len()).map_err(|_| Full)?;
        let second = self.hasher.hash_one(row.second());
        if let Some(m) = self.find_second_hashed(second, row.second()) {
            self.take(m);
        }
        self.rows.push(Some(row));
        let Self {
            rows,
            by_first,
            by_second,
            hasher,
            ..
        } = self;
        // Every row number in the tables is a row's (holes are taken out of them).
        let row = |n: &u32| rows[*n as usize].as_ref();
        by_first.insert_unique(first, n, |n| {
            row(n).map_or(0, |r| hasher.hash_one(r.first()))
        });
        by_second.insert_unique(second, n, |n| {
            row(n).map_or(0, |r| hasher.hash_one(r.second()))
        });
        self.live += 1;
        Ok(())
    }

    /// Takes out the row whose second key is `key`, if any.
    pub(super) fn remove_by_second(&mut self, key: &R::Second) -> Option<R> {
        let n = self.find_second(key)?;
        self.take(n)
    }

    /// Takes row `n` out of the rows and of both tables.
    fn take(&mut self, n: u32) -> Option<R> {
        let row = self.rows.get_mut(n as usize)?.take()?;
        let first = self.hasher.hash_one(row.first());
        if let Ok(entry) = self.by_first.find_entry(first, |&m| m == n) {
            entry.remove();
        }
        let second = self.hasher.hash_one(row.second());
        if let Ok(entry) = self.by_second.find_entry(second, |&m| m == n) {
            entry.remove();
        }
        self.live -= 1;
        Some(row)
    }

    /// How many rows there are.
    pub(super) fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Row(String, u128);

    impl Keys for Row {
        type First = str;
        type Second = u128;
        fn first(&self) -> &str {
            &self.0
        }
        fn second(&self) -> &u128 {
            &self.1
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        InsertNew(u8, u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0_u8..40, 0_u8..40).prop_map(|(a, b)| Op::Insert(a, b)),
            3 => (0_u8..40, 0_u8..40).prop_map(|(a, b)| Op::InsertNew(a, b)),
            2 => (0_u8..40).prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// The table finds by either key exactly the rows a list of pairs would hold, where a
        /// new pair replaces every pair that shares a key with it (or, inserted as new, is
        /// dropped for the pair with its first key), across growth and removals.
        #[test]
        fn finds_what_a_list_of_pairs_holds(ops in proptest::collection::vec(op(), 0..300)) {
            let mut table = TwoWay::<Row>::default();
            let mut pairs: Vec<Row> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(a, b) => {
                        let row = Row(format!("id:{a}"), u128::from(b) << 70);
                        pairs.retain(|r| r.0 != row.0 && r.1 != row.1);
                        pairs.push(row.clone());
                        table.insert(row).expect("room");
                    }
                    Op::InsertNew(a, b) => {
                        let row = Row(format!("id:{a}"), u128::from(b) << 70);
                        let known = pairs.iter().find(|r| r.0 == row.0).cloned();
                        if known.is_none() {
                            pairs.retain(|r| r.1 != row.1);
                            pairs.push(row.clone());
                        }
                        prop_assert_eq!(table.insert_new(row).expect("room").cloned(), known);
                    }
                    Op::Remove(b) => {
                        let key = u128::from(b) << 70;
                        let expected = pairs.iter().position(|r| r.1 == key).map(|i| pairs.remove(i));
                        prop_assert_eq!(table.remove_by_second(&key), expected);
                    }
                }
                prop_assert_eq!(table.len(), pairs.len());
            }
            for k in 0_u8..40 {
                let (first, second) = (format!("id:{k}"), u128::from(k) << 70);
                prop_assert_eq!(table.by_first(&first), pairs.iter().find(|r| r.0 == first));
                prop_assert_eq!(table.by_second(&second), pairs.iter().find(|r| r.1 == second));
            }
        }
    }
}
