//! The bytes of a C2SP tlog-tiles tile or entry bundle, read from the store: level-0 tiles and
//! bundles from one scan of the entries they span, higher tiles from the subtree hashes kept
//! beside the leaves that completed them. Which tiles exist is the caller's question
//! ([`Tile::within`] the size of a checkpoint it serves).

use crate::{LogStore, StoreError, StoredTree};
use stepwise::ledger::merkle::SubtreeSource;
use stepwise::ledger::tiles::{TILE_WIDTH, Tile, TileKind};

/// The bytes of `tile`: 32 bytes a hash, or each entry behind its length as a big-endian
/// `u16`. The store must hold every entry the tile spans.
pub fn read_tile(store: &(impl LogStore + ?Sized), tile: &Tile) -> Result<Vec<u8>, StoreError> {
    let span = tile
        .span()
        .ok_or_else(|| StoreError::Corrupt(format!("{tile} lies beyond any tree")))?;
    let width = span.end - span.start;
    match tile.kind {
        TileKind::Hashes { level: 0 } => {
            let mut bytes = Vec::with_capacity(32 * width as usize);
            scan_all(store, span, |entry| {
                bytes.extend_from_slice(&entry.leaf_hash);
                Ok(())
            })?;
            Ok(bytes)
        }
        TileKind::Hashes { level } => {
            let tree = StoredTree(store);
            let height = 8 * u32::from(level);
            let mut bytes = Vec::with_capacity(32 * width as usize);
            for i in span {
                bytes.extend_from_slice(&tree.subtree(height, i)?);
            }
            Ok(bytes)
        }
        TileKind::Entries => {
            let mut bytes = Vec::with_capacity(TILE_WIDTH as usize * 300);
            scan_all(store, span, |entry| {
                let len = u16::try_from(entry.bytes.len()).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "entry {} is {} bytes long, more than an entry bundle carries",
                        entry.index,
                        entry.bytes.len()
                    ))
                })?;
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(&entry.bytes);
                Ok(())
            })?;
            Ok(bytes)
        }
    }
}

/// Visits every entry of `span`, and fails if the store lacks one.
fn scan_all(
    store: &(impl LogStore + ?Sized),
    span: std::ops::Range<u64>,
    mut visit: impl FnMut(crate::Entry) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut next = span.start;
    store.scan(span.start, span.end, &mut |entry| {
        if entry.index != next {
            return Err(StoreError::Corrupt(format!("entry {next} is missing")));
        }
        next += 1;
        visit(entry)
    })?;
    if next != span.end {
        return Err(StoreError::Corrupt(format!("entry {next} is missing")));
    }
    Ok(())
}
