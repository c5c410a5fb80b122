//! Tile paths and entry bundles as the tiles API and its readers meet them: one spelling per
//! tile (a parsed path prints back as itself), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::tiles::{Tile, parse_bundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = Tile::parse(path)
    {
        assert_eq!(tile.path(), path);
        let _ = tile.within(u64::MAX);
    }
    if let Ok(entries) = parse_bundle(data) {
        let total: usize = entries.iter().map(|e| e.len() + 2).sum();
        assert_eq!(total, data.len());
    }
});
