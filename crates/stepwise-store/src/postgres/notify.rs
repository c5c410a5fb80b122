//! Appends announced: every append's transaction notifies the channel `stepwise_log` with the
//! new log size (PostgreSQL delivers it at commit, and never for a batch rolled back), and a
//! follower's connection listens, so that other processes fold a write as soon as it is
//! durable instead of at their next poll ([`crate::LogStore::wait_for_append`]).

use super::Connection;
use crate::{Growth, StoreError};
use postgres::fallible_iterator::FallibleIterator as _;
use std::time::Duration;

/// Waits up to `timeout` for announcements on `conn`, listening first if it does not yet.
pub(super) fn wait(conn: &mut Connection, timeout: Duration) -> Result<Growth, StoreError> {
    if !conn.listening {
        conn.client.batch_execute("LISTEN stepwise_log")?;
        conn.listening = true;
        // What was appended before the LISTEN was announced to nobody here.
        return Ok(Growth::Announced(None));
    }
    let mut notifications = conn.client.notifications();
    // `None` also when the connection is lost: the caller's next read finds out.
    let Some(first) = notifications.timeout_iter(timeout).next()? else {
        return Ok(Growth::Quiet);
    };
    // Whatever else has arrived too: one catch-up folds them all.
    let mut largest = size_of(first.payload());
    let mut pending = notifications.iter();
    while let Some(next) = pending.next()? {
        largest = largest.max(size_of(next.payload()));
    }
    Ok(Growth::Announced(largest))
}

/// The size an announcement carries (`None`, "some size", if it is not a number: then the
/// reader reads the size itself).
fn size_of(payload: &str) -> Option<u64> {
    payload.parse().ok()
}
