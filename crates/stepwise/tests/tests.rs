//! The core's integration tests, in one binary (one link, one process to start): the laws of
//! the rank and the Merkle tree as property tests, the ladder as stories, RFC 6962 known
//! answers and the house rules. The laws that need a stored log (replay equals incremental,
//! the ledger's rules, the store suite, tamper evidence, crashes) are `stepwise-store`'s.

mod approvals;
mod house;
mod ladder_stories;
mod merkle_laws;
mod outside_input;
mod rank_laws;
mod rfc6962_vectors;
mod tidy;
