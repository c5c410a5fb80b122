//! The evidence ledger's rules and formats (P9), with no storage: RFC 6962 hashing and proofs
//! (`merkle`), C2SP signed notes and checkpoints (`note`), the rules that need the log
//! (`registry`), the policy's window on an event's time (`TimeWindow`), where the time comes
//! from (`Clock`), and the proofs a log hands out.
//!
//! The writer that applies them to a store (`Ledger`) is in the `stepwise-store` crate: this
//! module decides what is valid and how it is hashed and signed, never where bytes go. It never
//! reads the clock except through a [`Clock`] its caller passed in.

pub mod cosign;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod registry;
pub mod tiles;
pub mod witness;
pub mod witness_policy;

use crate::evidence::{FieldError, Id, Refusal, Time};
use merkle::Hash;

/// Which principals hold special powers over the ledger, and how far an event's `at` may lie
/// from the time the log hears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerConfig {
    /// May record `key` events for other principals (for example an identity service).
    pub operators: Vec<Id>,
    /// The window on `at` around each entry's `recorded_at`.
    pub window: TimeWindow,
}

/// How far before and after the moment the log hears it an event may say it happened (policy
/// `[time]`). History imported on purpose is exempt from `max_backdate`, never from
/// `max_ahead`: the future is not history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Longest backdating accepted, in microseconds (default 24 h).
    pub max_backdate: i64,
    /// Furthest ahead accepted, in microseconds, for clients whose clocks run fast (default
    /// 5 min).
    pub max_ahead: i64,
}

impl Default for TimeWindow {
    fn default() -> Self {
        Self {
            max_backdate: 24 * 3_600_000_000,
            max_ahead: 5 * 60_000_000,
        }
    }
}

impl TimeWindow {
    /// Checks an event dated `at`, recorded at `recorded_at`, as history or not. The error has
    /// the code [`Refusal::AtOutOfWindow`] and names `at`, both bounds and the recorded
    /// time.
    pub fn check(&self, at: Time, recorded_at: Time, history: bool) -> Result<(), FieldError> {
        let r = recorded_at.as_micros();
        let earliest = Time::from_micros(r.saturating_sub(self.max_backdate)).unwrap_or(Time::MIN);
        let latest = Time::from_micros(r.saturating_add(self.max_ahead)).unwrap_or(Time::MAX);
        if at <= latest && (at >= earliest || history) {
            return Ok(());
        }
        // Refused: only now are the words built (this check runs on every appended event).
        let window = format!(
            "the log recorded this event at {recorded_at} and accepts `at` from {earliest} to \
             {latest} (policy [time] max_backdate = {}, max_ahead = {})",
            duration_text(self.max_backdate),
            duration_text(self.max_ahead)
        );
        let problem = if at > latest && history {
            format!(
                "{at} is in the future: history may be dated at most max_ahead = {} past the \
                 moment it is recorded ({recorded_at}), so up to {latest}",
                duration_text(self.max_ahead)
            )
        } else if at > latest {
            format!("{at} is ahead of the log's time window: {window}")
        } else {
            format!(
                "{at} is before the log's time window: {window}; an operator loads older, dated \
                 events as history (`stepwise import --history`, or POST /v1/events?history=true \
                 with an admin key)"
            )
        };
        Err(FieldError::new("at", problem).with_code(Refusal::AtOutOfWindow))
    }
}

/// A duration in the policy's notation: whole days (from two on), hours, minutes or seconds.
fn duration_text(micros: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
    ];
    for (unit, name) in UNITS {
        if micros != 0 && micros % unit == 0 && (name != "d" || micros >= 2 * unit) {
            return format!("{}{name}", micros / unit);
        }
    }
    format!("{}s", micros as f64 / 1e6)
}

/// Where the ledger reads the time it stamps entries with. The library never reads the clock
/// itself: the binaries pass [`SystemClock`], tests a clock they set.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Time;
}

/// The operating system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_micros()).ok())
            .unwrap_or(0);
        Time::from_micros(micros).unwrap_or(if micros < 0 { Time::MIN } else { Time::MAX })
    }
}

/// A clock that says what it was last set to: for tests, and for tools that replay a known
/// timeline.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: Time) -> Self {
        Self(std::sync::atomic::AtomicI64::new(at.as_micros()))
    }

    /// Sets the clock to `at` (backwards too: clocks step back).
    pub fn set(&self, at: Time) {
        self.0
            .store(at.as_micros(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        Time::from_micros(self.0.load(std::sync::atomic::Ordering::SeqCst)).unwrap_or(Time::MIN)
    }
}

/// How an appended batch is dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Evidence as it happens: `at` must lie within the policy's window around `recorded_at`.
    Live,
    /// A data set with its own dates, loaded on purpose by an operator: any `at` up to
    /// `max_ahead` past `recorded_at`, and each entry marked `"history": true`.
    History,
}

/// Checks that a log of `log_size` entries has a tree of `size` entries (`field` names the
/// size asked for).
pub fn check_tree_size(field: &str, size: u64, log_size: u64) -> Result<(), FieldError> {
    if size > log_size {
        return Err(FieldError::new(
            field,
            format!("{size} is larger than the log ({log_size} entries)"),
        ));
    }
    Ok(())
}

/// Checks a request for the proof that entry `index` is in the tree of `size` entries, of a log
/// of `log_size`: the one check, for the ledger and for every door that serves proofs.
pub fn check_inclusion_request(index: u64, size: u64, log_size: u64) -> Result<(), FieldError> {
    check_tree_size("size", size, log_size)?;
    if index >= size {
        return Err(FieldError::new(
            "index",
            format!("entry {index} is not in a tree of {size} entries"),
        ));
    }
    Ok(())
}

/// Checks a request for the proof that the tree of `old` entries is a prefix of the tree of
/// `new`, of a log of `log_size`.
pub fn check_consistency_request(old: u64, new: u64, log_size: u64) -> Result<(), FieldError> {
    check_tree_size("new", new, log_size)?;
    if old == 0 || old > new {
        return Err(FieldError::new(
            "old",
            format!("a consistency proof needs 1 ≤ old ≤ new, not {old} and {new}"),
        ));
    }
    Ok(())
}

/// Proof that entry `index` is in the tree of `size` entries with root `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
    /// The tree's root at `size`.
    pub root: Hash,
    /// The audit path, leaf side first.
    pub hashes: Vec<Hash>,
}

/// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// Root at `old_size`.
    pub old_root: Hash,
    /// Root at `new_size`.
    pub new_root: Hash,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

/// The SHA-256 of a policy file's text, as a `policy` entry records it: 64 lowercase hex digits.
pub fn policy_sha256(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_request_the_log_cannot_answer_names_its_field() {
        // (index or old, size or new, log size) → the field at fault, or none.
        let inclusion = [
            ((0, 3, 3), None),
            ((3, 3, 3), Some("index")),
            ((0, 4, 3), Some("size")),
        ];
        for ((index, size, log), field) in inclusion {
            let got = check_inclusion_request(index, size, log)
                .err()
                .map(|e| e.field);
            assert_eq!(
                got.as_deref(),
                field,
                "inclusion {index} in {size} of {log}"
            );
        }
        let consistency = [
            ((1, 3, 3), None),
            ((0, 3, 3), Some("old")),
            ((4, 3, 3), Some("old")),
            ((1, 4, 3), Some("new")),
        ];
        for ((old, new, log), field) in consistency {
            let got = check_consistency_request(old, new, log)
                .err()
                .map(|e| e.field);
            assert_eq!(got.as_deref(), field, "consistency {old} to {new} of {log}");
        }
    }
}
