//! Recently seen API key records, so a busy key costs no store read.

use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepwise_engine::Pool;
use stepwise_store::keys::KeyRecord;

/// How long a key record (or its absence) is trusted before the store is asked again.
pub const KEY_TTL: Duration = Duration::from_secs(2);

/// Most records cached; beyond it the cache starts afresh (random keys cannot grow it).
const MAX_CACHED: usize = 50_000;

/// What the store said about a key hash (`None`: no such key), and when.
type Seen = (Option<KeyRecord>, Instant);

/// Recently seen key records, by hash.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], Seen>>,
}

impl KeyCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Option<KeyRecord>> {
        let entries = self.entries.lock().ok()?;
        let (record, at) = entries.get(hash)?;
        (at.elapsed() < KEY_TTL).then(|| record.clone())
    }

    /// Remembers what the store said about `hash`.
    pub fn put(&self, hash: [u8; 32], record: Option<KeyRecord>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
            entries.insert(hash, (record, Instant::now()));
        }
    }

    /// Forgets every cached record of key `id` (after a revocation).
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (r, _)| r.as_ref().is_none_or(|r| r.id != id));
        }
    }

    /// Forgets every cached record (after a principal was forgotten and its keys revoked).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// The record of the key with hash `hash`, from the cache or the store.
    pub async fn lookup(
        &self,
        pool: &Arc<Pool>,
        hash: [u8; 32],
    ) -> Result<Option<KeyRecord>, ApiError> {
        if let Some(found) = self.get(&hash) {
            return Ok(found);
        }
        let record = pool
            .with::<_, ApiError>(move |s| Ok(s.key_by_hash(&hash)?))
            .await?;
        self.put(hash, record.clone());
        Ok(record)
    }
}
