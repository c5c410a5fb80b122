//! The server's shared state: the engine (the live trust state and everything that keeps it
//! current, behind typed questions), and what only an HTTP door needs beside it: API keys seen
//! recently, per-key request budgets, size limits, the OpenAPI document and the word to close
//! streams on shutdown.

mod keys;
mod tiles;

pub use keys::{KEY_TTL, KeyCache};
pub use tiles::TileCache;

use crate::limits::{Limits, RateLimiter};
use stepwise_engine::Engine;

/// Everything a request handler can reach.
pub struct App {
    /// The engine every route asks.
    pub engine: Engine,
    /// API keys seen recently.
    pub keys: KeyCache,
    /// Per-key request budgets.
    pub limiter: RateLimiter,
    /// Size limits and timeouts.
    pub limits: Limits,
    /// The OpenAPI document, as served.
    pub openapi: axum::body::Bytes,
    /// Full tiles of the tiles API served recently.
    pub tiles: TileCache,
    /// Whether anyone may read the tiles API, with no key (`[log] public`).
    pub tiles_public: bool,
    /// Set when the server starts shutting down: streams that never end by themselves (the
    /// live stream) end then, so that a graceful shutdown does not wait for their clients.
    pub closing: tokio::sync::watch::Sender<bool>,
}
