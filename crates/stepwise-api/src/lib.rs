//! stepwise's wire types: the JSON that crosses the boundary, with its OpenAPI schema.
//!
//! The library's types stay free of serialisation concerns; these views and messages are built
//! from them, and every interface speaks them: the HTTP server answers with them, the command
//! line prints them with `--json`, so a script reads the same document whichever it asked. This
//! crate holds no behaviour beyond mapping domain values to their wire form.

pub mod codes;
pub mod dashboard;
pub mod decision_json;
pub mod decisions;
pub mod messages;
pub mod views;

pub use codes::Code;
pub use dashboard::*;
pub use decision_json::write_decision;
pub use decisions::{
    ApprovalAnswer, ApprovalsQuery, ApprovalsView, DecisionEntry, DecisionsQuery, DecisionsView,
    GateDecision,
};
pub use messages::*;
pub use views::*;
