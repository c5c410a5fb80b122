//! Limits on what one request, and one key, may ask of the server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Size limits, rates and timeouts; each has a flag on `stepwise serve`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (413 beyond).
    pub max_body: usize,
    /// Most events in one `POST /v1/events`, and most requests in one `POST /v1/decide/batch`
    /// (413 beyond).
    pub max_batch: usize,
    /// Requests per second each key may make on average (429 beyond).
    pub rate: f64,
    /// Requests a key may make at once before the rate applies.
    pub burst: f64,
    /// Longest a request may take (503 beyond).
    pub timeout: Duration,
    /// How often the log is re-read for entries written by other processes (on PostgreSQL
    /// they are folded when announced, and this is the fallback).
    pub follow_interval: Duration,
    /// How long a request naming a `min_log_size` not folded yet waits for it (503 beyond).
    pub catch_up_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 4 << 20,
            max_batch: 1_000,
            rate: 200.0,
            burst: 400.0,
            timeout: Duration::from_secs(30),
            follow_interval: Duration::from_millis(250),
            catch_up_wait: stepwise_engine::CATCH_UP_WAIT,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key: `burst` tokens, refilled at `rate` per second.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter allowing `rate` requests per second with bursts of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s budget; `Err(seconds)` says how long to wait.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            // Full buckets carry no state worth keeping.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert_eq!(limiter.take("k"), Ok(()));
        }
        assert_eq!(limiter.take("k"), Err(1));
        // Another key has its own budget.
        assert_eq!(limiter.take("other"), Ok(()));
    }

    #[test]
    fn the_budget_refills_with_time() {
        let limiter = RateLimiter::new(1000.0, 1.0);
        assert_eq!(limiter.take("k"), Ok(()));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(limiter.take("k"), Ok(()));
    }
}
