//! The server's shared state: the writer that group-commits appends, the live trust state that
//! follows the log, and a pool of store handles for reads.
//!
//! The log is the truth; the live state is a view that only ever moves forward by folding
//! entries read back from the store, whoever wrote them (this process, another server on the
//! same PostgreSQL database, or the `stepwise` command on the same SQLite file).

pub mod board;
mod keys;
mod live;
mod pool;
mod writer;

pub use keys::{KEY_TTL, KeyCache};
pub use live::{Ask, Live, RETAINED_RANKS, spawn_follower, spawn_ranker};
pub use pool::{Opener, POOL_SIZE, Pool};
pub use writer::{Writer, Written};

use crate::limits::{Limits, RateLimiter};
use crate::metrics::Metrics;
use std::sync::Arc;
use stepwise::policy::Policy;

/// Everything a request handler can reach.
pub struct App {
    /// The operator's policy (ladder, model, ledger rules).
    pub policy: Policy,
    /// The policy file's text, as served.
    pub policy_text: String,
    /// The log's verifier key, in signed-note form.
    pub verifier_key: String,
    /// Appends.
    pub writer: Writer,
    /// The live trust state.
    pub live: Arc<Live>,
    /// Store handles for reads.
    pub pool: Arc<Pool>,
    /// API keys seen recently.
    pub keys: KeyCache,
    /// Per-key request budgets.
    pub limiter: RateLimiter,
    /// Request and commit figures.
    pub metrics: Arc<Metrics>,
    /// Size limits and timeouts.
    pub limits: Limits,
    /// Bounds how many past-instant replays (`at` in the past) run at once.
    pub replays: tokio::sync::Semaphore,
    /// The OpenAPI document, as served.
    pub openapi: axum::body::Bytes,
}
