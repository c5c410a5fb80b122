//! stepwise: a graduated-trust engine — its pure core.
//!
//! stepwise answers *may this principal do this, at this stake, now — and if not, what is the
//! next step?* from recorded evidence. This crate holds the evidence model ([`evidence`]), the
//! rules and formats of the tamper-evident Merkle log it is kept in ([`ledger`]), the trust
//! model ([`model`]), the ladder and its decisions ([`ladder`]) and the operator's policy
//! ([`policy`]). It does no I/O: no database, no files, no clock, no async runtime. Storage
//! (the ledger over SQLite or PostgreSQL, replay, the data directory) is `stepwise-store`.
//!
//! ```
//! use stepwise::evidence::{Event, Id, Time};
//! use stepwise::ladder::{Ladder, LadderState};
//! use stepwise::model::params::ModelParams;
//!
//! // Fold evidence (in log order) into a state, then ask it a question at an instant.
//! let mut state = LadderState::new(ModelParams::default(), Ladder::default());
//! let promise = Event::from_json(r#"{"kind":"promise","at":"2026-11-25T12:00:00Z","id":"p1",
//!     "promisor":"agent:bot","promisee":"user:ann","scope":"deploy","stake":5,
//!     "due":"2026-11-26T12:00:00Z"}"#).unwrap();
//! let kept = Event::from_json(r#"{"kind":"outcome","at":"2026-11-25T13:00:00Z","promise":"p1",
//!     "result":"kept","author":"user:ann"}"#).unwrap();
//! state.apply(0, &promise);
//! state.apply(1, &kept);
//! let now = Time::parse("now", "2026-11-25T14:00:00Z").unwrap();
//! let bot = Id::parse("subject", "agent:bot").unwrap();
//! let decision = state.decide(&bot, "read", 1.0, None, now);
//! assert!(decision.allowed);
//! ```

pub mod evidence;
pub mod ladder;
pub mod ledger;
pub mod model;
pub mod policy;

/// The hash map of the large tables (the registry's, the model's, the names'), keyed by ids,
/// pseudonyms and digests: foldhash, randomly seeded per map as std's SipHash is, and several
/// times faster on keys of 10 to 40 bytes (a pseudonym is 33): every event looks up and
/// inserts a few of them.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;
/// The hash set beside [`HashMap`].
pub type HashSet<K> = std::collections::HashSet<K, foldhash::quality::RandomState>;

/// Appends `item` to `list`, growing a short list one slot at a time: most of the state's
/// per-principal and per-pair lists hold one to three items, and a list's first growth makes
/// room for four (a `ThinVec`'s as a `Vec`'s) (a quarter to three quarters of it unused, per list, for millions of lists).
/// From four items on it grows as a `Vec` does.
pub(crate) fn push_tight<T>(list: &mut thin_vec::ThinVec<T>, item: T) {
    if list.len() == list.capacity() && list.len() < 4 {
        list.reserve_exact(1);
    }
    list.push(item);
}
