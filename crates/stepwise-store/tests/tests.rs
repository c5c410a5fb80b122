//! The store crate's integration tests, in one binary: the laws that need a stored log (replay
//! equals incremental for the model and the ladder, an answer replays exactly), the ledger's
//! rules, the store suite on SQLite and PostgreSQL, tamper evidence, and privacy (what `forget`
//! leaves behind). The crash tests (`tests/crash.rs`, `tests/forget_crash.rs`) are binaries of
//! their own: each runs itself as the child it kills.

mod approvals;
mod common;
mod ladder_laws;
mod ledger_rules;
mod model_laws;
mod pipeline;
mod privacy;
mod store_suite;
mod tamper;
