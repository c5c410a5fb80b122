//! May this approver let that call through? A call the ladder refused "not yet" may go ahead
//! when an approver approves it, and nobody lends trust it does not have: the approver must be
//! someone else, may itself do that capability at that stake now, and has an approval record
//! (docs/MODEL.md "Approvals") at or above the policy's floor.
//!
//! `LadderState::may_approve` reads in-memory state only, as a decision does; the engine asks
//! it before it records an approval, and a door before it asks an approver.

use super::climb::LadderState;
use super::decision::Denial;
use crate::evidence::{Id, Time};
use crate::model::ApprovalRecord;
use std::fmt;

/// Why an approver may not approve a call.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalRefusal {
    /// The approver is the principal whose call it is.
    ApproverIsSubject,
    /// The approver may not itself do this capability at this stake now.
    ApproverNotAllowed {
        /// The deciding reason of its own decision.
        denial: Denial,
        /// That reason in words.
        reason: String,
        /// The approver's level.
        level: usize,
        /// The limit that applied to it.
        limit: f64,
    },
    /// The approver's approval record is below the policy's `approval_floor`: too many of the
    /// promises it approved were broken, and not long enough ago.
    ApproverRecordTooLow {
        /// Its record, `E_a`.
        expected: f64,
        /// The floor.
        floor: f64,
        /// The (decayed) weight of its approved promises kept.
        kept_weight: f64,
        /// The (decayed, `λ`-weighted) weight of its approved promises broken.
        broken_weight: f64,
        /// Its approved promises broken, as counted.
        broken: u32,
    },
}

impl ApprovalRefusal {
    /// Every code, in the order the checks are made.
    pub const CODES: [&'static str; 3] = [
        "approver_is_subject",
        "approver_not_allowed",
        "approver_record_too_low",
    ];

    /// A stable code for programs.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalRefusal::ApproverIsSubject => Self::CODES[0],
            ApprovalRefusal::ApproverNotAllowed { .. } => Self::CODES[1],
            ApprovalRefusal::ApproverRecordTooLow { .. } => Self::CODES[2],
        }
    }

    /// The refused approval's figures as JSON (sorted keys; `{}` when there are none).
    pub fn data(&self) -> serde_json::Value {
        match self {
            ApprovalRefusal::ApproverIsSubject => serde_json::json!({}),
            ApprovalRefusal::ApproverNotAllowed {
                denial,
                level,
                limit,
                ..
            } => serde_json::json!({"denial": denial.code(), "level": level, "limit": limit}),
            ApprovalRefusal::ApproverRecordTooLow {
                expected,
                floor,
                kept_weight,
                broken_weight,
                broken,
            } => serde_json::json!({
                "broken": broken,
                "broken_weight": broken_weight,
                "expected": expected,
                "floor": floor,
                "kept_weight": kept_weight,
            }),
        }
    }
}

/// In words, after "the approver may not approve: ".
impl fmt::Display for ApprovalRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApprovalRefusal::ApproverIsSubject => f.write_str(
                "approver_is_subject: nobody approves its own call (nobody lends itself trust it \
                 does not have)",
            ),
            ApprovalRefusal::ApproverNotAllowed { denial, reason, .. } => write!(
                f,
                "approver_not_allowed: it may not make this call itself ({}: {reason}); nobody \
                 lends trust it does not have",
                denial.code()
            ),
            ApprovalRefusal::ApproverRecordTooLow {
                expected,
                floor,
                kept_weight,
                broken_weight,
                broken,
            } => write!(
                f,
                "approver_record_too_low: its approval record {expected:.3} is below the floor \
                 {floor} ({broken} approved promises broken; broken weight {broken_weight:.2} \
                 against kept {kept_weight:.2}, both fading with time)"
            ),
        }
    }
}

impl std::error::Error for ApprovalRefusal {}

impl LadderState {
    /// Whether `approver` may let `subject`'s call of `capability` at `stake` through at `at`:
    /// it is not `subject`, it may itself do `capability` at `stake` now (the decision it
    /// would get, with no truster), and its approval record is at least the policy's
    /// `approval_floor`. The first check that fails is the refusal.
    pub fn may_approve(
        &self,
        approver: &Id,
        subject: &Id,
        capability: &str,
        stake: f64,
        at: Time,
    ) -> Result<(), ApprovalRefusal> {
        if approver == subject {
            return Err(ApprovalRefusal::ApproverIsSubject);
        }
        let own = self.decide(approver, capability, stake, None, at);
        if let Some(denial) = own.denial {
            return Err(ApprovalRefusal::ApproverNotAllowed {
                denial,
                reason: own.describe(&super::Reason::Denied(denial)),
                level: own.level,
                limit: own.limit,
            });
        }
        let record = self.approval_record(approver, at);
        let floor = self.trust().params().approval_floor;
        if record.expected < floor {
            return Err(ApprovalRefusal::ApproverRecordTooLow {
                expected: record.expected,
                floor,
                kept_weight: record.kept_weight,
                broken_weight: record.broken_weight,
                broken: record.broken,
            });
        }
        Ok(())
    }

    /// `approver`'s approval record at `at` (see [`crate::model::state::TrustState::approval_record`]).
    pub fn approval_record(&self, approver: &Id, at: Time) -> ApprovalRecord {
        self.trust().approval_record(approver, at)
    }
}
