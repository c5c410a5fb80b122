//! The store crate's integration tests, in one binary: the laws that need a stored log (replay
//! equals incremental for the model and the ladder, an answer replays exactly), the ledger's
//! rules, the store suite on SQLite and PostgreSQL, and tamper evidence. The crash test
//! (`tests/crash.rs`) is a binary of its own: it runs itself as the child it kills.

mod common;
mod ladder_laws;
mod ledger_rules;
mod model_laws;
mod store_suite;
mod tamper;
