//! stepwise: a graduated-trust engine.
//!
//! stepwise answers *may this principal do this, at this stake, now — and if not, what is the
//! next step?* from recorded evidence. This crate holds the evidence model ([`evidence`]), the
//! tamper-evident Merkle log it is kept in ([`ledger`]), storage ([`store`]), the operator's
//! policy ([`policy`]) and the on-disk layout of a stepwise data directory ([`data_dir`]).
//!
//! ```
//! use std::sync::Arc;
//! use stepwise::evidence::{Event, Time};
//! use stepwise::ledger::{Ledger, LedgerConfig, ManualClock, note::LogSigner};
//! use stepwise::store::SqliteStore;
//!
//! // The log stamps each entry with its clock's time (binaries pass `SystemClock`); an event's
//! // own time `at` must lie within the policy's window around it (24 h back, 5 min ahead).
//! let clock = Arc::new(ManualClock::new(Time::parse("now", "2026-11-25T14:00:00Z").unwrap()));
//! let signer = LogSigner::generate("example.org/log").unwrap();
//! let store = SqliteStore::in_memory().unwrap();
//! let mut ledger = Ledger::open(store, signer, LedgerConfig::default(), clock).unwrap();
//! let promise = Event::from_json(r#"{"kind":"promise","at":"2026-11-25T12:00:00Z","id":"p1",
//!     "promisor":"agent:bot","promisee":"user:ann","scope":"deploy","stake":5,
//!     "due":"2026-11-26T12:00:00Z"}"#).unwrap();
//! let kept = Event::from_json(r#"{"kind":"outcome","at":"2026-11-25T13:00:00Z","promise":"p1",
//!     "result":"kept"}"#).unwrap();
//! let appended = ledger.append(vec![promise, kept]).unwrap();
//! assert_eq!(appended.results.iter().map(|r| *r.as_ref().unwrap()).collect::<Vec<_>>(), [0, 1]);
//! assert_eq!(appended.recorded_at.unwrap().to_string(), "2026-11-25T14:00:00Z");
//! let proof = ledger.inclusion_proof(1, 2).unwrap();
//! stepwise::ledger::merkle::verify_inclusion(&proof.leaf_hash, 1, 2, &proof.hashes, &proof.root).unwrap();
//! ```

pub mod data_dir;
pub mod evidence;
pub mod keys;
pub mod ladder;
pub mod ledger;
pub mod model;
pub mod policy;
pub mod store;
