//! Store handles for reads: opened on demand, reused, and bounded in number.

use crate::Error;
use std::sync::{Arc, Mutex};
use stepwise_store::{Store, StoreError};

/// Opens a new handle on the store (a connection).
pub type Opener = Box<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync>;

/// Store handles for reads, opened on demand and reused; at most [`POOL_SIZE`] in use at once
/// (a database has a connection limit; callers beyond it wait their turn).
pub struct Pool {
    open: Opener,
    idle: Mutex<Vec<Box<dyn Store>>>,
    permits: tokio::sync::Semaphore,
}

/// Most store handles a server process uses for reads at once.
pub const POOL_SIZE: usize = 16;

impl Pool {
    /// A pool over `open`.
    pub fn new(open: Opener) -> Self {
        Self {
            open,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(POOL_SIZE),
        }
    }

    /// A new handle of its own (not from the pool), for a thread that keeps one.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        (self.open)()
    }

    /// Runs `f` with a store handle on a blocking thread. A handle that failed is dropped, not
    /// reused (its connection may be broken). `E` is the caller's error (the engine's, or a
    /// door's that wraps it).
    pub async fn with<R: Send + 'static, E: From<Error> + From<StoreError> + Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Store) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::unavailable("the server is shutting down"))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = pool.idle.lock().map(|mut v| v.pop()).ok().flatten();
            let mut store = match idle {
                Some(s) => s,
                None => (pool.open)()?,
            };
            let result = f(&mut *store);
            if result.is_ok()
                && let Ok(mut idle) = pool.idle.lock()
            {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| Error::internal(format!("a read task failed: {e}")))?
    }
}
