//! RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification for the
//! evidence log: the one place that decides what a leaf, a node and a root hash are, so that a
//! checkpoint signed today can still be checked against proofs produced years later by any
//! RFC 6962 client. It must never panic or overflow on input from outside (sizes, indexes, proofs
//! and hashes handed to the verifiers are untrusted), never ask a [`SubtreeSource`] for a subtree
//! that is not yet complete (those hashes do not exist in the store and would change as the log
//! grows), and never accept a proof that RFC 9162 rejects.

use std::convert::Infallible;
use std::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Length in bytes of a [`Hash`](type@Hash).
pub const HASH_LEN: usize = 32;

/// Domain-separation prefix of leaf hashes (RFC 6962 §2.1), so a leaf can never pose as a node.
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes.
const NODE_PREFIX: u8 = 0x01;

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Where complete subtree hashes come from (a store, or memory).
///
/// Level 0 holds the leaf hashes; `subtree(level, index)` is the hash of leaves
/// `[index << level, (index + 1) << level)`. Callers in this module only ever ask for ranges that
/// are complete, i.e. fully inside the tree they are working on.
pub trait SubtreeSource {
    /// What can go wrong while reading a hash (I/O, a missing row, ...).
    type Error;

    /// The hash of the complete subtree of `2^level` leaves starting at leaf `index << level`.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// A plain slice of leaf hashes; higher levels are recomputed on every call, which costs
/// `2^level` hashes, so this is meant for tests and small trees.
///
/// # Panics
///
/// `subtree` panics if the requested range is not inside the slice: that is a bug in the caller,
/// and the infallible error type leaves no other way to report it.
impl SubtreeSource for [Hash] {
    type Error = Infallible;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
        let range = 1u64
            .checked_shl(level)
            .and_then(|width| {
                let start = index.checked_mul(width)?;
                Some((start, start.checked_add(width)?))
            })
            .and_then(|(start, end)| {
                Some(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
            });
        match range.and_then(|r| self.get(r)) {
            Some(leaves) => Ok(complete_subtree_hash(leaves)),
            None => panic!(
                "subtree (level {level}, index {index}) is not complete in a slice of {} leaves",
                self.len()
            ),
        }
    }
}

/// Same as the slice implementation.
impl SubtreeSource for Vec<Hash> {
    type Error = Infallible;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Infallible> {
        self.as_slice().subtree(level, index)
    }
}

/// Hash of a power-of-two run of leaf hashes. Recursion depth is at most 64.
fn complete_subtree_hash(leaves: &[Hash]) -> Hash {
    match leaves {
        [only] => *only,
        _ => {
            let (left, right) = leaves.split_at(leaves.len() / 2);
            node_hash(&complete_subtree_hash(left), &complete_subtree_hash(right))
        }
    }
}

/// The largest power of two strictly below `n`; `n` must be at least 2.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `[start, start + len)`, `len >= 1`, where the range is a node of the
/// RFC 6962 recursion (so `start` is a multiple of the smallest power of two `>= len`).
///
/// A range that is not a power of two long is the right edge of the tree and has no stored hash;
/// it is covered by complete subtrees, largest first, and folded right to left, which is exactly
/// what the RFC's recursive definition of MTH unrolls to.
fn range_hash<S: SubtreeSource + ?Sized>(src: &S, start: u64, len: u64) -> Result<Hash, S::Error> {
    let mut parts = [[0u8; HASH_LEN]; 64];
    let mut count = 0;
    let mut offset = start;
    let mut rest = len;
    while rest != 0 {
        let level = 63 - rest.leading_zeros();
        parts[count] = src.subtree(level, offset >> level)?;
        count += 1;
        offset += 1u64 << level;
        rest &= !(1u64 << level);
    }
    let mut parts = parts[..count].iter().rev();
    let mut acc = parts.next().copied().unwrap_or_else(empty_root);
    for left in parts {
        acc = node_hash(left, &acc);
    }
    Ok(acc)
}

/// The Merkle tree hash MTH(D\[0..size\]); [`empty_root`] for size 0.
pub fn root<S: SubtreeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// Why a proof could not be generated for the requested sizes or index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The leaf does not exist in a tree of that size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexNotBelowSize {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree cannot be consistent with a smaller later version of itself.
    #[error("old size {old_size} is larger than new size {new_size}")]
    OldLargerThanNew {
        /// The old (earlier) tree size.
        old_size: u64,
        /// The new (later) tree size.
        new_size: u64,
    },
    /// Every tree extends the empty tree, so RFC 6962 defines no proof for it.
    #[error("a consistency proof needs an old size of at least 1")]
    EmptyOldTree,
}

/// Failure to generate a proof.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The subtree source failed.
    #[error("could not read a subtree hash: {0}")]
    Source(E),
    /// The requested index or sizes do not describe a proof that exists.
    #[error("{reason}")]
    OutOfRange {
        /// What exactly is out of range.
        reason: RangeError,
    },
}

impl<E> ProofError<E> {
    fn range(reason: RangeError) -> Self {
        Self::OutOfRange { reason }
    }
}

/// The inclusion proof (audit path, RFC 6962 §2.1.1 PATH) of leaf `index` in the tree of `size`
/// leaves, deepest sibling first.
pub fn inclusion_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if index >= size {
        return Err(ProofError::range(RangeError::IndexNotBelowSize {
            index,
            size,
        }));
    }
    // Walk down from the root, collecting siblings top first, then reverse into RFC order.
    let mut proof = Vec::with_capacity(64);
    let (mut start, mut len, mut m) = (0u64, size, index);
    while len > 1 {
        let k = split_point(len);
        if m < k {
            proof.push(range_hash(src, start + k, len - k).map_err(ProofError::Source)?);
            len = k;
        } else {
            proof.push(range_hash(src, start, k).map_err(ProofError::Source)?);
            start += k;
            m -= k;
            len -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 6962 §2.1.2 PROOF) that the tree of `new_size` leaves extends the
/// tree of `old_size` leaves. Equal sizes give an empty proof; an old size of 0 is out of range.
pub fn consistency_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if old_size > new_size {
        return Err(ProofError::range(RangeError::OldLargerThanNew {
            old_size,
            new_size,
        }));
    }
    if old_size == 0 {
        return Err(ProofError::range(RangeError::EmptyOldTree));
    }
    // SUBPROOF(m, D[start..start+len], whole_old_tree), unrolled top-down; the node where the old
    // tree ends is emitted last here and so comes first after the reversal, as in the RFC.
    let mut proof = Vec::with_capacity(65);
    let (mut start, mut len, mut m) = (0u64, new_size, old_size);
    let mut whole_old_tree = true;
    while m != len {
        let k = split_point(len);
        if m <= k {
            proof.push(range_hash(src, start + k, len - k).map_err(ProofError::Source)?);
            len = k;
        } else {
            proof.push(range_hash(src, start, k).map_err(ProofError::Source)?);
            start += k;
            m -= k;
            len -= k;
            whole_old_tree = false;
        }
    }
    // When the old tree is itself a node of the new one, the verifier already has its hash.
    if !whole_old_tree {
        proof.push(range_hash(src, start, m).map_err(ProofError::Source)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Which hash argument of a verifier was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// The leaf hash of an inclusion proof.
    Leaf,
    /// The root of an inclusion proof.
    Root,
    /// The old root of a consistency proof.
    OldRoot,
    /// The new root of a consistency proof.
    NewRoot,
    /// The proof hash at this position.
    Proof(usize),
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leaf => f.write_str("the leaf hash"),
            Self::Root => f.write_str("the root hash"),
            Self::OldRoot => f.write_str("the old root hash"),
            Self::NewRoot => f.write_str("the new root hash"),
            Self::Proof(i) => write!(f, "proof hash {i}"),
        }
    }
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A hash argument is not [`HASH_LEN`] bytes long.
    #[error("{kind} is {len} bytes long, expected 32")]
    HashLength {
        /// Which argument.
        kind: HashKind,
        /// Its actual length.
        len: usize,
    },
    /// The leaf index is outside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexNotBelowSize {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old size {old_size} is larger than new size {new_size}")]
    SizesOutOfOrder {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        new_size: u64,
    },
    /// Consistency with the empty tree proves nothing and is rejected.
    #[error("a consistency proof needs an old size of at least 1")]
    EmptyOldTree,
    /// The proof has more hashes than the sizes call for.
    #[error("proof is too long: {actual} hashes where {expected} are expected")]
    ProofTooLong {
        /// How many hashes the sizes call for.
        expected: usize,
        /// How many were given.
        actual: usize,
    },
    /// The proof has fewer hashes than the sizes call for.
    #[error("proof is too short: {actual} hashes where {expected} are expected")]
    ProofTooShort {
        /// How many hashes the sizes call for.
        expected: usize,
        /// How many were given.
        actual: usize,
    },
    /// The inclusion proof leads to a different root.
    #[error("the inclusion proof leads to a different root than the one given")]
    RootMismatch,
    /// The consistency proof does not reproduce the old root.
    #[error("the consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the new root.
    #[error("the consistency proof does not reproduce the new root")]
    NewRootMismatch,
    /// Two trees of the same size must have the same root.
    #[error("both trees have size {size} but their roots differ")]
    EqualSizesDifferentRoots {
        /// The common size.
        size: u64,
    },
}

fn to_hash(bytes: &[u8], kind: HashKind) -> Result<Hash, VerifyError> {
    Hash::try_from(bytes).map_err(|_| VerifyError::HashLength {
        kind,
        len: bytes.len(),
    })
}

fn proof_hashes(proof: &[impl AsRef<[u8]>]) -> Result<Vec<Hash>, VerifyError> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| to_hash(p.as_ref(), HashKind::Proof(i)))
        .collect()
}

fn check_proof_len(expected: usize, actual: usize) -> Result<(), VerifyError> {
    match actual.cmp(&expected) {
        std::cmp::Ordering::Greater => Err(VerifyError::ProofTooLong { expected, actual }),
        std::cmp::Ordering::Less => Err(VerifyError::ProofTooShort { expected, actual }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Number of hashes in the inclusion proof of `index` in a tree whose last index is `last`:
/// the levels below the point where the leaf's path leaves the right edge, plus one per left
/// sibling met on the right edge above it.
fn inclusion_proof_len(index: u64, last: u64) -> usize {
    let inner = 64 - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Recomputes the root that an inclusion proof implies for `leaf_hash` at `index` in a tree of
/// `size` leaves (RFC 9162 §2.1.3.2 without the final comparison).
pub fn root_from_inclusion_proof(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[impl AsRef<[u8]>],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexNotBelowSize { index, size });
    }
    let leaf = to_hash(leaf_hash, HashKind::Leaf)?;
    let last = size - 1;
    let expected = inclusion_proof_len(index, last);
    check_proof_len(expected, proof.len())?;
    let proof = proof_hashes(proof)?;

    let (mut fn_, mut sn) = (index, last);
    let mut r = leaf;
    for p in &proof {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::ProofTooShort {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with the given `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[impl AsRef<[u8]>],
    root: &[u8],
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexNotBelowSize { index, size });
    }
    let root = to_hash(root, HashKind::Root)?;
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed == root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch)
    }
}

/// Number of hashes in the consistency proof between sizes `0 < old < new`: the inclusion proof
/// of the old tree's last leaf, minus the levels inside the old tree's rightmost complete
/// subtree, plus that subtree's own hash unless it is the whole old tree.
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let shift = old.trailing_zeros() as usize;
    let path = inclusion_proof_len(old - 1, new - 1);
    let seed = usize::from(!old.is_power_of_two());
    path.saturating_sub(shift) + seed
}

/// Recomputes the root that a consistency proof implies for the new tree, after checking that
/// it reproduces `old_root` (RFC 9162 §2.1.4.2 without the final comparison with the new root).
/// Useful to a client that learns the new root from the proof.
pub fn root_from_consistency_proof(
    old_size: u64,
    new_size: u64,
    proof: &[impl AsRef<[u8]>],
    old_root: &[u8],
) -> Result<Hash, VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree);
    }
    let old = to_hash(old_root, HashKind::OldRoot)?;
    if old_size == new_size {
        check_proof_len(0, proof.len())?;
        return Ok(old);
    }
    let expected = consistency_proof_len(old_size, new_size);
    check_proof_len(expected, proof.len())?;
    let proof = proof_hashes(proof)?;

    // When the old tree is a complete subtree its root is the first node of the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old, proof.as_slice())
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(VerifyError::ProofTooShort {
                    expected,
                    actual: 0,
                });
            }
        }
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::ProofTooShort {
            expected,
            actual: proof.len(),
        });
    }
    if fr != old {
        return Err(VerifyError::OldRootMismatch);
    }
    Ok(sr)
}

/// Verifies that the tree of `new_size` leaves with `new_root` extends the tree of `old_size`
/// leaves with `old_root` (RFC 9162 §2.1.4.2).
///
/// An old size of 0 is always rejected. Equal sizes need an empty proof and byte-identical roots
/// (compared as given, whatever their length, as the RFC test vectors expect).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[impl AsRef<[u8]>],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree);
    }
    if old_size == new_size {
        check_proof_len(0, proof.len())?;
        return if old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::EqualSizesDifferentRoots { size: old_size })
        };
    }
    let new = to_hash(new_root, HashKind::NewRoot)?;
    let computed = root_from_consistency_proof(old_size, new_size, proof, old_root)?;
    if computed == new {
        Ok(())
    } else {
        Err(VerifyError::NewRootMismatch)
    }
}

/// The right edge of the tree: the hashes of the complete subtrees that cover leaves
/// `[0, size)`, largest first (one per set bit of `size`, so at most 64).
///
/// Appending a leaf is O(1) amortised and reports which subtrees it completed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Loads the frontier of a tree of `size` leaves from a source of complete subtree hashes
    /// (one look-up per set bit of `size`).
    pub fn load<S: SubtreeSource + ?Sized>(src: &S, size: u64) -> Result<Self, S::Error> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut offset = 0u64;
        for level in (0..64u32).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                hashes.push(src.subtree(level, offset >> level)?);
                offset += width;
            }
        }
        Ok(Self { size, hashes })
    }

    /// Appends one leaf hash.
    ///
    /// Clears `completed`, then pushes into it the hashes of the subtrees this leaf completed,
    /// level 1 first (level 1 = the pair ending at this leaf, level 2 = the four ending at it,
    /// ...). The number pushed equals the number of trailing one bits of the new leaf's index.
    /// Does not allocate when `completed` has room for them.
    ///
    /// # Panics
    ///
    /// If the tree already holds `u64::MAX` leaves (a size no log can reach by appending).
    pub fn push(&mut self, leaf: Hash, completed: &mut Vec<Hash>) {
        completed.clear();
        let index = self.size;
        let new_size = match index.checked_add(1) {
            Some(s) => s,
            None => panic!("a Merkle tree cannot hold more than u64::MAX leaves"),
        };
        let mut acc = leaf;
        for _ in 0..index.trailing_ones() {
            // One hash per set bit of the old size, and the trailing ones are among those bits.
            let Some(left) = self.hashes.pop() else { break };
            acc = node_hash(&left, &acc);
            completed.push(acc);
        }
        self.hashes.push(acc);
        self.size = new_size;
    }

    /// The root of the tree so far ([`empty_root`] when it is empty).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Where the hash of complete subtree `(level, index)`, `level >= 1`, is completed: the index of
/// its last leaf, `((index + 1) << level) - 1`. The store keeps those hashes beside that leaf, so
/// this is how they are found. Saturates at `u64::MAX` for subtrees that end beyond any `u64`
/// leaf index (no such subtree exists in a real tree).
pub fn completing_leaf(level: u32, index: u64) -> u64 {
    if level >= 64 || index > (u64::MAX >> level) {
        return u64::MAX;
    }
    (index << level) | ((1u64 << level) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn proof_errors_read_well() {
        let tree = leaves(5);
        let msg = |e: ProofError<Infallible>| e.to_string();
        assert_eq!(
            msg(inclusion_proof(&tree, 9, 5).expect_err("out of range")),
            "leaf index 9 is not below tree size 5"
        );
        assert_eq!(
            msg(consistency_proof(&tree, 7, 3).expect_err("out of order")),
            "old size 7 is larger than new size 3"
        );
        assert_eq!(
            msg(consistency_proof(&tree, 0, 3).expect_err("empty old tree")),
            "a consistency proof needs an old size of at least 1"
        );
        assert!(matches!(
            consistency_proof(&tree, 0, 0),
            Err(ProofError::OutOfRange {
                reason: RangeError::EmptyOldTree
            })
        ));
        assert_eq!(
            consistency_proof(&tree, 4, 4).expect("equal sizes"),
            Vec::<Hash>::new()
        );
    }

    #[test]
    fn verify_errors_are_specific() {
        let tree = leaves(5);
        let r = root(&tree, 5).expect("infallible");
        let proof = inclusion_proof(&tree, 2, 5).expect("in range");
        assert_eq!(verify_inclusion(&tree[2], 2, 5, &proof, &r), Ok(()));
        assert_eq!(
            verify_inclusion(&tree[2][..31], 2, 5, &proof, &r),
            Err(VerifyError::HashLength {
                kind: HashKind::Leaf,
                len: 31
            })
        );
        assert_eq!(
            verify_inclusion(&tree[2], 2, 5, &proof, &[]),
            Err(VerifyError::HashLength {
                kind: HashKind::Root,
                len: 0
            })
        );
        let mut odd: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
        odd[1].push(0);
        let err = verify_inclusion(&tree[2], 2, 5, &odd, &r).expect_err("33 bytes");
        assert_eq!(
            err.to_string(),
            "proof hash 1 is 33 bytes long, expected 32"
        );
        assert_eq!(
            verify_inclusion(&tree[2], 3, 5, &proof, &r),
            Err(VerifyError::RootMismatch)
        );
        assert_eq!(
            verify_inclusion(&tree[2], 9, 5, &proof, &r).map_err(|e| e.to_string()),
            Err("leaf index 9 is not below tree size 5".to_owned())
        );
        assert_eq!(
            verify_inclusion(&tree[2], 2, u64::MAX, &proof, &r),
            Err(VerifyError::ProofTooShort {
                expected: 64,
                actual: 3
            })
        );

        let old = root(&tree, 3).expect("infallible");
        let proof = consistency_proof(&tree, 3, 5).expect("in range");
        assert_eq!(verify_consistency(3, 5, &proof, &old, &r), Ok(()));
        assert_eq!(
            verify_consistency(3, 5, &proof, &r, &r),
            Err(VerifyError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(3, 5, &proof, &old, &old),
            Err(VerifyError::NewRootMismatch)
        );
        assert_eq!(
            verify_consistency(5, 3, &proof, &old, &r),
            Err(VerifyError::SizesOutOfOrder {
                old_size: 5,
                new_size: 3
            })
        );
        assert_eq!(
            verify_consistency(0, 5, &proof, &old, &r),
            Err(VerifyError::EmptyOldTree)
        );
        assert_eq!(
            verify_consistency(5, 5, &[] as &[Hash], &old, &r),
            Err(VerifyError::EqualSizesDifferentRoots { size: 5 })
        );
        assert_eq!(verify_consistency(5, 5, &[] as &[Hash], &r, &r), Ok(()));
    }
}
