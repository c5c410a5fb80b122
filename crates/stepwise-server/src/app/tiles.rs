//! Full tiles of the tiles API (`routes::tiles`) served recently: they never change, so they
//! are kept in memory, up to [`CACHE_BYTES`], the oldest first out.

use axum::body::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use stepwise::ledger::tiles::Tile;

/// Bytes of full tiles kept in memory (a full hash tile is 8 KiB; a bundle of 256 entries is
/// typically 50 to 150 KiB).
const CACHE_BYTES: usize = 64 << 20;

/// Full tiles served recently, the oldest first out once they hold more than 64 MiB.
#[derive(Default)]
pub struct TileCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    tiles: HashMap<Tile, Bytes>,
    order: VecDeque<Tile>,
    bytes: usize,
}

impl TileCache {
    pub(crate) fn get(&self, tile: &Tile) -> Option<Bytes> {
        self.lock().tiles.get(tile).cloned()
    }

    pub(crate) fn put(&self, tile: Tile, bytes: Bytes) {
        let mut inner = self.lock();
        if inner.tiles.contains_key(&tile) || bytes.len() > CACHE_BYTES {
            return;
        }
        inner.bytes += bytes.len();
        inner.order.push_back(tile);
        inner.tiles.insert(tile, bytes);
        while inner.bytes > CACHE_BYTES {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.tiles.remove(&old) {
                inner.bytes -= gone.len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
