//! Laws of the Merkle module: generated proofs verify, any tampering is caught, the frontier
//! agrees with the full tree, and generation only ever reads complete subtrees.

use std::cell::RefCell;
use std::convert::Infallible;

use proptest::prelude::*;
use stepwise::ledger::merkle::{
    Frontier, Hash, SubtreeSource, VerifyError, completing_leaf, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, root, root_from_consistency_proof,
    root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

/// Leaves of the memoised test tree; sizes up to this can be proven and checked cheaply.
const TABLE_LEAVES: usize = 640;

/// Every complete subtree hash of a tree of `TABLE_LEAVES` leaves, computed bottom-up without
/// the code under test (other than the two hash primitives), so look-ups are O(1).
struct Table {
    levels: Vec<Vec<Hash>>,
}

impl Table {
    fn new(n: usize) -> Self {
        let leaves: Vec<Hash> = (0..n as u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut levels = vec![leaves];
        loop {
            let below = levels.last().expect("level 0 exists");
            if below.len() < 2 {
                break;
            }
            let next: Vec<Hash> = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    fn leaf(&self, i: u64) -> Hash {
        self.levels[0][i as usize]
    }

    /// A view of the first `size` leaves that refuses (panics) to serve anything beyond them.
    fn tree(&self, size: u64) -> Bounded<'_> {
        assert!(size as usize <= self.leaves().len());
        Bounded { table: self, size }
    }
}

fn is_complete(level: u32, index: u64, size: u64) -> bool {
    index
        .checked_add(1)
        .and_then(|i| i.checked_mul(1u64.checked_shl(level)?))
        .is_some_and(|end| end <= size)
}

struct Bounded<'a> {
    table: &'a Table,
    size: u64,
}

impl SubtreeSource for Bounded<'_> {
    type Error = Infallible;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
        assert!(
            is_complete(level, index, self.size),
            "asked for incomplete subtree (level {level}, index {index}) of a tree of size {}",
            self.size
        );
        Ok(self.table.levels[level as usize][index as usize])
    }
}

fn table() -> &'static Table {
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| Table::new(TABLE_LEAVES))
}

/// Reference implementations transcribed directly from the recursive definitions of
/// RFC 6962 §2.1, used to pin down the exact proofs (not just that they verify).
mod reference {
    use super::{Hash, node_hash};

    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => super::empty_root(),
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    pub fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }
}

fn root_of(size: u64) -> Hash {
    root(&table().tree(size), size).expect("infallible")
}

fn flip(h: &mut Hash, bit: usize) {
    h[bit / 8] ^= 1 << (bit % 8);
}

#[test]
fn every_inclusion_proof_up_to_300_verifies() {
    let t = table();
    let mut proofs = 0usize;
    for size in 1..=300u64 {
        let src = t.tree(size);
        let r = root(&src, size).expect("infallible");
        for index in 0..size {
            let proof = inclusion_proof(&src, index, size).expect("in range");
            assert_eq!(
                verify_inclusion(&t.leaf(index), index, size, &proof, &r),
                Ok(()),
                "leaf {index} of {size}"
            );
            proofs += 1;
        }
    }
    assert_eq!(proofs, 300 * 301 / 2);
}

#[test]
fn every_consistency_proof_up_to_130_verifies() {
    let t = table();
    let roots: Vec<Hash> = (0..=130).map(root_of).collect();
    for new in 1..=130u64 {
        let src = t.tree(new);
        for old in 1..=new {
            let proof = consistency_proof(&src, old, new).expect("in range");
            assert_eq!(
                verify_consistency(old, new, &proof, &roots[old as usize], &roots[new as usize]),
                Ok(()),
                "{old} -> {new}"
            );
            assert_eq!(
                root_from_consistency_proof(old, new, &proof, &roots[old as usize]),
                Ok(roots[new as usize])
            );
        }
    }
}

#[test]
fn proofs_and_roots_equal_the_rfc_definitions() {
    let leaves = table().leaves();
    for n in 0..=48usize {
        let d = &leaves[..n];
        assert_eq!(
            root(d, n as u64).expect("infallible"),
            reference::mth(d),
            "MTH {n}"
        );
        assert_eq!(root_of(n as u64), reference::mth(d), "MTH via table {n}");
        for m in 0..n {
            assert_eq!(
                inclusion_proof(d, m as u64, n as u64).expect("in range"),
                reference::path(m, d),
                "PATH({m}, D[{n}])"
            );
            let proof = consistency_proof(d, m as u64 + 1, n as u64).expect("in range");
            assert_eq!(
                proof,
                reference::proof(m + 1, d),
                "PROOF({}, D[{n}])",
                m + 1
            );
        }
    }
}

#[test]
fn generation_only_reads_complete_subtrees() {
    struct Recording<'a> {
        leaves: &'a [Hash],
        size: u64,
        asked: RefCell<Vec<(u32, u64)>>,
    }
    impl SubtreeSource for Recording<'_> {
        type Error = Infallible;
        fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
            self.asked.borrow_mut().push((level, index));
            let leaves = &self.leaves[..self.size as usize];
            // The slice source would also panic, but check explicitly for a clear message.
            assert!(
                is_complete(level, index, self.size),
                "incomplete ({level}, {index})"
            );
            leaves.subtree(level, index)
        }
    }
    let leaves = table().leaves();
    for size in 1..=40u64 {
        let src = Recording {
            leaves,
            size,
            asked: RefCell::new(Vec::new()),
        };
        let _ = root(&src, size);
        let _ = Frontier::load(&src, size);
        for index in 0..size {
            let _ = inclusion_proof(&src, index, size);
        }
        for old in 1..=size {
            let _ = consistency_proof(&src, old, size);
        }
        let asked = src.asked.into_inner();
        assert!(!asked.is_empty());
        assert!(asked.iter().all(|&(l, i)| is_complete(l, i, size)));
    }
}

#[test]
#[should_panic(expected = "not complete")]
fn slice_source_refuses_incomplete_subtrees() {
    let leaves = &table().leaves()[..5];
    let _ = leaves.subtree(1, 2);
}

#[test]
fn frontier_agrees_with_the_tree_at_every_size() {
    let t = table();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), empty_root());
    assert_eq!(Frontier::load(&t.tree(0), 0).expect("infallible"), frontier);
    let mut completed = Vec::with_capacity(64);
    let buffer = completed.as_ptr();
    for index in 0..TABLE_LEAVES as u64 {
        completed.push([7u8; 32]); // must be cleared by push
        frontier.push(t.leaf(index), &mut completed);
        let size = index + 1;
        assert_eq!(frontier.size(), size);
        assert_eq!(frontier.root(), root_of(size), "root at size {size}");
        assert_eq!(
            completed.len(),
            index.trailing_ones() as usize,
            "leaf {index}"
        );
        for (i, h) in completed.iter().enumerate() {
            let level = i as u32 + 1;
            let sub = index >> level;
            assert_eq!(
                *h, t.levels[level as usize][sub as usize],
                "({level}, {sub})"
            );
            assert_eq!(completing_leaf(level, sub), index);
        }
        assert_eq!(
            Frontier::load(&t.tree(size), size).expect("infallible"),
            frontier
        );
    }
    assert_eq!(completed.as_ptr(), buffer, "push reallocated `completed`");
}

#[test]
fn completing_leaf_edges() {
    assert_eq!(completing_leaf(1, 0), 1);
    assert_eq!(completing_leaf(1, 1), 3);
    assert_eq!(completing_leaf(3, 2), 23);
    assert_eq!(completing_leaf(0, 9), 9);
    assert_eq!(completing_leaf(63, 1), u64::MAX);
    assert_eq!(completing_leaf(64, 0), u64::MAX);
    assert_eq!(completing_leaf(200, 5), u64::MAX);
    assert_eq!(completing_leaf(1, u64::MAX), u64::MAX);
}

/// A tree whose leaves are all the same hash: its subtree hashes depend only on the level, so
/// trees of any `u64` size can be proven and verified consistently.
struct Uniform {
    by_level: Vec<Hash>,
    size: u64,
}

impl Uniform {
    fn new(size: u64) -> Self {
        let mut by_level = vec![leaf_hash(b"uniform")];
        for l in 1..64 {
            let h = by_level[l - 1];
            by_level.push(node_hash(&h, &h));
        }
        Self { by_level, size }
    }
}

impl SubtreeSource for Uniform {
    type Error = Infallible;
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
        assert!(
            is_complete(level, index, self.size),
            "incomplete ({level}, {index})"
        );
        Ok(self.by_level[level as usize])
    }
}

/// Sizes biased towards the awkward ends of `u64`.
fn any_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1..=16u64,
        any::<u64>().prop_map(|s| s.max(1)),
        (0..64u32).prop_map(|b| 1u64 << b),
        (0..64u32).prop_map(|b| (1u64 << b).wrapping_sub(1).max(1)),
        Just(u64::MAX),
        Just(u64::MAX - 1),
    ]
}

/// A tree size inside the memoised table, and a leaf in it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1..=300u64).prop_flat_map(|size| (Just(size), 0..size))
}

/// Two sizes `1 <= old < new` inside the memoised table.
fn old_and_new() -> impl Strategy<Value = (u64, u64)> {
    (2..=300u64).prop_flat_map(|new| (1..new, Just(new)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bit_flip_breaks_inclusion(
        (size, index) in size_and_index(),
        target in any::<prop::sample::Index>(),
        bit in 0..256usize,
    ) {
        let t = table();
        let src = t.tree(size);
        let mut proof = inclusion_proof(&src, index, size).expect("in range");
        let mut r = root(&src, size).expect("infallible");
        let mut leaf = t.leaf(index);
        match target.index(proof.len() + 2) {
            0 => flip(&mut r, bit),
            1 => flip(&mut leaf, bit),
            i => flip(&mut proof[i - 2], bit),
        }
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &r).is_err());
    }

    #[test]
    fn wrong_index_size_or_length_breaks_inclusion(
        (size, index) in size_and_index(),
        other_index in 0..600u64,
        other_size in 1..=600u64,
        pos in any::<prop::sample::Index>(),
        extra in any::<[u8; 32]>(),
    ) {
        let t = table();
        let proof = inclusion_proof(&t.tree(size), index, size).expect("in range");
        let r = root_of(size);
        let leaf = t.leaf(index);
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &r), Ok(()));

        if other_index != index {
            let result = verify_inclusion(&leaf, other_index, size, &proof, &r);
            prop_assert!(result.is_err());
            if other_index >= size {
                prop_assert_eq!(
                    result,
                    Err(VerifyError::IndexNotBelowSize { index: other_index, size })
                );
            }
        }
        // Claiming the leaf is in a tree of another size (with that tree's true root) only
        // works if the proof is that tree's proof too, which never happens for other sizes.
        if other_size != size && index < other_size {
            let other_root = root_of(other_size);
            let honest = inclusion_proof(&t.tree(other_size), index, other_size)
                .expect("in range");
            let result = verify_inclusion(&leaf, index, other_size, &proof, &other_root);
            prop_assert_eq!(result.is_ok(), honest == proof);
            prop_assert!(result.is_err());
        }

        let mut shorter = proof.clone();
        if !shorter.is_empty() {
            shorter.remove(pos.index(shorter.len()));
            let result = verify_inclusion(&leaf, index, size, &shorter, &r);
            prop_assert!(matches!(result, Err(VerifyError::ProofTooShort { .. })), "got {:?}", result);
        }
        let mut longer = proof.clone();
        longer.insert(pos.index(longer.len() + 1), extra);
        let result = verify_inclusion(&leaf, index, size, &longer, &r);
        prop_assert!(matches!(result, Err(VerifyError::ProofTooLong { .. })), "got {:?}", result);
    }

    #[test]
    fn any_bit_flip_breaks_consistency(
        (old, new) in old_and_new(),
        target in any::<prop::sample::Index>(),
        bit in 0..256usize,
    ) {
        let t = table();
        let mut proof = consistency_proof(&t.tree(new), old, new).expect("in range");
        let mut old_root = root_of(old);
        let mut new_root = root_of(new);
        match target.index(proof.len() + 2) {
            0 => flip(&mut old_root, bit),
            1 => flip(&mut new_root, bit),
            i => flip(&mut proof[i - 2], bit),
        }
        prop_assert!(verify_consistency(old, new, &proof, &old_root, &new_root).is_err());
    }

    #[test]
    fn wrong_sizes_or_length_break_consistency(
        (old, new) in old_and_new(),
        other_old in 1..=300u64,
        other_new in 1..=300u64,
        pos in any::<prop::sample::Index>(),
        extra in any::<[u8; 32]>(),
    ) {
        let t = table();
        let proof = consistency_proof(&t.tree(new), old, new).expect("in range");
        let (old_root, new_root) = (root_of(old), root_of(new));
        prop_assert_eq!(verify_consistency(old, new, &proof, &old_root, &new_root), Ok(()));

        if other_old != old && other_old < new {
            let honest = consistency_proof(&t.tree(new), other_old, new).expect("in range");
            let result = verify_consistency(other_old, new, &proof, &root_of(other_old), &new_root);
            prop_assert_eq!(result.is_ok(), honest == proof);
            prop_assert!(result.is_err());
        }
        if other_new != new && old < other_new {
            let honest = consistency_proof(&t.tree(other_new), old, other_new).expect("in range");
            let result = verify_consistency(old, other_new, &proof, &old_root, &root_of(other_new));
            prop_assert_eq!(result.is_ok(), honest == proof);
            prop_assert!(result.is_err());
        }
        if other_old > new {
            prop_assert_eq!(
                verify_consistency(other_old, new, &proof, &old_root, &new_root),
                Err(VerifyError::SizesOutOfOrder { old_size: other_old, new_size: new })
            );
        }

        let mut shorter = proof.clone();
        if !shorter.is_empty() {
            shorter.remove(pos.index(shorter.len()));
            let result = verify_consistency(old, new, &shorter, &old_root, &new_root);
            prop_assert!(matches!(result, Err(VerifyError::ProofTooShort { .. })), "got {:?}", result);
        }
        let mut longer = proof.clone();
        longer.insert(pos.index(longer.len() + 1), extra);
        let result = verify_consistency(old, new, &longer, &old_root, &new_root);
        prop_assert!(matches!(result, Err(VerifyError::ProofTooLong { .. })), "got {:?}", result);
    }

    #[test]
    fn huge_trees_prove_and_verify(size in any_size(), a in any::<u64>(), b in any::<u64>()) {
        let src = Uniform::new(size);
        let r = root(&src, size).expect("infallible");
        let index = a % size;
        let proof = inclusion_proof(&src, index, size).expect("in range");
        prop_assert!(proof.len() <= 128);
        prop_assert_eq!(
            verify_inclusion(&src.by_level[0], index, size, &proof, &r),
            Ok(())
        );
        prop_assert_eq!(
            root_from_inclusion_proof(&src.by_level[0], index, size, &proof),
            Ok(r)
        );

        let old = b % size + 1;
        let old_root = root(&src, old).expect("infallible");
        let proof = consistency_proof(&src, old, size).expect("in range");
        prop_assert_eq!(verify_consistency(old, size, &proof, &old_root, &r), Ok(()));

        let loaded = Frontier::load(&src, size).expect("infallible");
        prop_assert_eq!(loaded.size(), size);
        prop_assert_eq!(loaded.root(), r);
    }

    #[test]
    fn verifiers_never_panic(
        index in prop_oneof![any::<u64>(), Just(0u64), Just(u64::MAX)],
        size in prop_oneof![any::<u64>(), Just(0u64), Just(1u64), Just(u64::MAX)],
        proof in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..70),
        leaf in prop::collection::vec(any::<u8>(), 0..40),
        r1 in prop::collection::vec(any::<u8>(), 0..40),
        r2 in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let _ = verify_inclusion(&leaf, index, size, &proof, &r1);
        let _ = root_from_inclusion_proof(&leaf, index, size, &proof);
        let _ = verify_consistency(index, size, &proof, &r1, &r2);
        let _ = root_from_consistency_proof(index, size, &proof, &r1);
    }

    #[test]
    fn well_shaped_garbage_never_panics(
        size in any_size(),
        a in any::<u64>(),
        len in 0..130usize,
        seed in any::<[u8; 32]>(),
    ) {
        // Right-length hashes get past the shape checks and exercise the path arithmetic.
        let proof: Vec<Hash> = (0..len).map(|i| node_hash(&seed, &[i as u8; 32])).collect();
        let index = a % size;
        let _ = verify_inclusion(&seed, index, size, &proof, &seed);
        let old = a % size + 1;
        let _ = verify_consistency(old, size, &proof, &seed, &seed);
    }
}
