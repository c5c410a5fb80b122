//! The kinds of event, as named on the wire, and the fields each has.

use super::FieldError;
use std::fmt;

/// The kinds of event, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `promise`
    Promise,
    /// `outcome`
    Outcome,
    /// `vouch`
    Vouch,
    /// `unvouch`
    Unvouch,
    /// `report`
    Report,
    /// `rating`
    Rating,
    /// `key`
    Key,
    /// `erasure`
    Erasure,
    /// `policy`
    Policy,
    /// `approval`
    Approval,
}

impl Kind {
    /// Every kind, in the order of DESIGN.md (the log's own kinds, then `approval`).
    pub const ALL: [Kind; 10] = [
        Kind::Promise,
        Kind::Outcome,
        Kind::Vouch,
        Kind::Unvouch,
        Kind::Report,
        Kind::Rating,
        Kind::Key,
        Kind::Erasure,
        Kind::Policy,
        Kind::Approval,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Promise => "promise",
            Kind::Outcome => "outcome",
            Kind::Vouch => "vouch",
            Kind::Unvouch => "unvouch",
            Kind::Report => "report",
            Kind::Rating => "rating",
            Kind::Key => "key",
            Kind::Erasure => "erasure",
            Kind::Policy => "policy",
            Kind::Approval => "approval",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, FieldError> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            FieldError::new(
                "kind",
                format!(
                    "unknown kind {s:?}; expected one of promise, outcome, vouch, unvouch, report, rating, key, erasure, policy, approval"
                ),
            )
        })
    }

    /// The fields of this kind (besides the common `v`, `kind`, `at`, `author`, `note`, `sig`).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Promise => &["id", "promisor", "promisee", "scope", "stake", "due"],
            Kind::Outcome => &["promise", "result", "fraction"],
            Kind::Vouch => &["voucher", "subject", "scope", "weight"],
            Kind::Unvouch => &["voucher", "subject", "scope"],
            Kind::Report => &["reporter", "subject", "scope", "severity", "evidence"],
            Kind::Rating => &["rater", "subject", "value", "scope"],
            Kind::Key => &["principal", "public_key"],
            Kind::Erasure => &["principal", "reason"],
            Kind::Policy => &["sha256"],
            Kind::Approval => &[
                "approver",
                "subject",
                "promise",
                "capability",
                "stake",
                "decision",
            ],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
