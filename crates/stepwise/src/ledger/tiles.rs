//! C2SP tlog-tiles: the paths of hash tiles and entry bundles, and what each one spans.
//!
//! A tile is 256 consecutive hashes of one level of the tree: at level 0 leaf hashes, at level
//! `L` the hashes of complete subtrees of 256^L leaves. An entry bundle holds the entries of the
//! level-0 tile of the same index, each behind its length as a big-endian `u16`. The right edge
//! of the tree is served as partial tiles (`.p/<W>`, 1 to 255 hashes). Parsing is strict: a
//! path is accepted only in the one spelling the specification gives it, so that one tile never
//! has two addresses (and two cache entries).

use std::fmt;

/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;

/// The largest entry a bundle can carry: its length is written in two bytes. The ledger refuses
/// longer entries at append.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// The highest level a tile path may name (the specification's bound).
const MAX_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Hashes of the tree at `level` (tile level, not Merkle height: each is a subtree of
    /// 256^level leaves).
    Hashes {
        /// 0 to 63.
        level: u8,
    },
    /// The entries themselves (`tile/entries/…`).
    Entries,
}

/// One tile or bundle: its kind, its index within its level and its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Hashes of a level, or entries.
    pub kind: TileKind,
    /// Index of the tile within its level.
    pub index: u64,
    /// Hashes (entries) it holds: 256 for a full tile, 1 to 255 for a partial one.
    pub width: u16,
}

/// Why a path names no tile; the text says which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile path {path:?}: {problem}")]
pub struct TilePathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Tile {
    /// The tile at `path`, relative to the log's prefix (`tile/0/x001/234`,
    /// `tile/entries/000.p/7`).
    pub fn parse(path: &str) -> Result<Tile, TilePathError> {
        let fail = |problem| TilePathError {
            path: path.chars().take(120).collect(),
            problem,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| fail("a tile path starts with `tile/`"))?;
        let (first, rest) = rest
            .split_once('/')
            .ok_or_else(|| fail("a tile path is `tile/<L>/<N>` or `tile/entries/<N>`"))?;
        let kind = if first == "entries" {
            TileKind::Entries
        } else {
            let level = decimal(first)
                .filter(|l| *l <= u64::from(MAX_LEVEL))
                .ok_or_else(|| fail("the level is a number from 0 to 63, with no leading zero"))?;
            TileKind::Hashes { level: level as u8 }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = decimal(width)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(|| {
                        fail("a partial tile's width is a number from 1 to 255, with no leading zero")
                    })?;
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index).ok_or_else(|| {
            fail("the index is groups of three digits, each but the last written `x123`")
        })?;
        Ok(Tile { kind, index, width })
    }

    /// The path of this tile, relative to the log's prefix.
    pub fn path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".into(),
        };
        let mut path = format!("tile/{kind}/{}", index_path(self.index));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// True for a full tile (256 wide): it never changes once the log has it.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile level whose hashes the tile holds (entries: level 0).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// The positions, within its level of the tree, of the hashes (or entries) the tile holds:
    /// `index * 256 .. index * 256 + width`. `None` if they lie beyond any tree.
    pub fn span(&self) -> Option<std::ops::Range<u64>> {
        let start = self.index.checked_mul(TILE_WIDTH)?;
        Some(start..start.checked_add(u64::from(self.width))?)
    }

    /// True when a tree of `size` entries holds everything this tile spans: a full tile once
    /// its last subtree is complete, a partial one while its width is within the tree (a
    /// narrower one than the tree's right edge is the edge of an earlier, smaller tree).
    pub fn within(&self, size: u64) -> bool {
        let level_size = match 256u64.checked_pow(u32::from(self.level())) {
            Some(leaves) => size / leaves,
            None => 0,
        };
        self.span().is_some_and(|span| span.end <= level_size)
    }
}

/// The entries of an entry bundle: each behind its length as a big-endian `u16`. The error
/// says where the bytes stop making sense.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(format!("entry {} has a one-byte length", entries.len()));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(format!(
                "entry {} says {len} bytes, {} are left",
                entries.len(),
                tail.len()
            ));
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
        if entries.len() > TILE_WIDTH as usize {
            return Err(format!("more than {TILE_WIDTH} entries"));
        }
    }
    Ok(entries)
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A decimal number with no sign and no leading zero (but "0" itself).
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// `x001/x234/067` → 1234067; only the spelling [`index_path`] writes.
fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut n: u64 = 0;
    for (k, group) in leading.iter().chain([last]).enumerate() {
        let digits = if k < leading.len() {
            group.strip_prefix('x')?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    (index_path(n) == text).then_some(n)
}

/// The index's path elements: three digits each, all but the last led by `x`.
fn index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    #[test]
    fn paths_are_those_of_the_specification() {
        assert_eq!(hashes(0, 1_234_067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(hashes(1, 0, 17).path(), "tile/1/000.p/17");
        let bundle = Tile {
            kind: TileKind::Entries,
            index: 1000,
            width: 7,
        };
        assert_eq!(bundle.path(), "tile/entries/x001/000.p/7");
        for tile in [hashes(0, 1_234_067, 256), hashes(63, u64::MAX, 255), bundle] {
            assert_eq!(Tile::parse(&tile.path()), Ok(tile));
        }
    }

    #[test]
    fn any_other_spelling_is_refused_with_its_fault_named() {
        for (path, fault) in [
            ("tile/00/000", "level"),
            ("tile/64/000", "level"),
            ("tile/-1/000", "level"),
            ("tile/0/0000", "index"),
            ("tile/0/x000/001", "index"),
            ("tile/0/001/002", "index"),
            ("tile/0/x1/002", "index"),
            ("tile/0/x018/x446/x744/x073/x709/x551/616", "index"),
            ("tile/0/000.p/0", "width"),
            ("tile/0/000.p/256", "width"),
            ("tile/0/000.p/07", "width"),
            ("tile/0/000.p/", "width"),
            ("tiles/0/000", "starts with"),
            ("tile/entries", "tile path is"),
            ("tile/0/", "index"),
        ] {
            let e = Tile::parse(path).expect_err(path);
            assert!(e.to_string().contains(fault), "{path}: {e}");
        }
    }

    #[test]
    fn a_tile_is_within_a_tree_as_the_specification_counts_them() {
        // A tree of 70,000 entries: 273 full level-0 tiles and a partial of 112; one full
        // level-1 tile and a partial of 17; a partial level-2 tile of 1.
        let size = 70_000;
        assert!(hashes(0, 272, 256).within(size));
        assert!(!hashes(0, 273, 256).within(size));
        assert!(hashes(0, 273, 112).within(size));
        assert!(hashes(0, 273, 100).within(size));
        assert!(!hashes(0, 273, 113).within(size));
        assert!(hashes(1, 0, 256).within(size));
        assert!(hashes(1, 1, 17).within(size));
        assert!(!hashes(1, 1, 18).within(size));
        assert!(hashes(2, 0, 1).within(size));
        assert!(!hashes(2, 0, 2).within(size));
        assert!(!hashes(8, 0, 1).within(u64::MAX));
        assert!(!hashes(0, u64::MAX, 256).within(u64::MAX));
    }
}
