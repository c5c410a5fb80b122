//! The trust model: how evidence in the log becomes trust figures.
//!
//! `opinion` is subjective-logic arithmetic, `rank` is network reputation (EigenTrust) over the
//! graph of local trust, `decay` the evidence that fades, `reach` which principals the seeds
//! reach, `interner` the ids' dense indexes, `arena` the lists that grow without moving, `state` the fold of the log into everything a trust
//! query needs, `approvals` what an approver answers for, and `queries` those questions
//! (`promises`: the promises that await judgement; `history`: what a chart of a principal's
//! past reads).
//! Every formula and default is in docs/MODEL.md. Nothing here does I/O or reads the clock;
//! replaying a stored log is `stepwise-store`'s (`stepwise_store::replay`).

mod approvals;
mod arena;
mod decay;
mod history;
mod interner;
pub mod opinion;
pub mod params;
mod promises;
mod queries;
pub mod rank;
mod reach;
pub mod state;

pub use approvals::ApprovalRecord;
pub use history::{StandingMark, VouchRow};
pub use promises::OpenPromiseRow;
