//! The library's integration tests, in one binary (one link, one process to start): the laws
//! of the model, ladder, rank and Merkle tree as property tests, the ladder as stories, the
//! ledger's rules, the store suite on SQLite and PostgreSQL, RFC 6962 known answers, tamper
//! evidence and the house rules. The crash test (`tests/crash.rs`) is a binary of its own: it
//! runs itself as the child it kills.

mod common;
mod ladder_laws;
mod ladder_stories;
mod ledger_rules;
mod merkle_laws;
mod model_laws;
mod rank_laws;
mod rfc6962_vectors;
mod store_suite;
mod tamper;
mod tidy;
