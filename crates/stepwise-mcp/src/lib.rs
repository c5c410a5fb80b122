//! stepwise over the Model Context Protocol, for agents: one tool table ([`tools`]) and one
//! server ([`Handler`]) for every transport — `stepwise mcp` on stdio and `/mcp` of `stepwise
//! serve` over streamable HTTP — each transport giving only a [`Backend`]: who calls, and where
//! the engine's answers come from.
//!
//! Architecture Invariant: a tool's call is read once, into [`tools::Call`]; no transport
//! matches tool names itself.

mod handler;
pub mod tools;

pub use handler::{Backend, Caller, Handler, RecordedEntry};
