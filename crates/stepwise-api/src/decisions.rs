//! The decision log of `stepwise gate`: every call it decided, allowed or denied, with what was
//! asked, the verdict, the reason codes, what became of the call, and what replays the verdict
//! (`log_size` and `at`). Kept in the store beside the Merkle log (not evidence, so not in it),
//! read by `stepwise decisions` and `GET /v1/decisions`.

use crate::views::DecisionView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What became of a gated call.
pub mod result {
    /// Refused: not forwarded to the upstream server.
    pub const DENIED: &str = "denied";
    /// Forwarded; the upstream answered; a promise was recorded for its promisee to judge.
    pub const FORWARDED: &str = "forwarded";
    /// Forwarded; the upstream answered with a tool error (`isError`), so the call did not do
    /// what was asked: no promise.
    pub const TOOL_ERROR: &str = "tool_error";
    /// Forwarded; the upstream failed (a protocol error, or it exited during the call): no
    /// promise.
    pub const UPSTREAM_FAILED: &str = "upstream_failed";
    /// Forwarded and answered, but the promise could not be recorded (`error` says why).
    pub const UNRECORDED: &str = "unrecorded";
}

/// The reason code of a call to a tool the policy does not name.
pub const TOOL_NOT_IN_POLICY: &str = "tool_not_in_policy";

/// The reason code of a call the ladder allows alone, refused because with the agent's calls
/// not yet answered it would put more at stake at once than its limit (`[ladder]
/// limit_exposure`). The ladder's own codes follow it.
pub const CALLS_IN_FLIGHT: &str = "calls_in_flight";

/// One decision of the gate, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateDecision {
    /// The calling principal (the agent).
    pub principal: String,
    /// The upstream tool called.
    pub tool: String,
    /// The capability the policy gives the tool; `null` for a tool it does not name.
    pub capability: Option<String>,
    /// The call's stake; `null` for a tool the policy does not name.
    pub stake: Option<f64>,
    /// Who judges the call's result; `null` for a tool the policy does not name.
    pub promisee: Option<String>,
    /// The verdict.
    pub allowed: bool,
    /// The reason codes, the deciding one first: `tool_not_in_policy` for a tool the policy does
    /// not name; otherwise those of `POST /v1/decide`, after `calls_in_flight` when the gate
    /// refused what the ladder allowed because of calls not yet answered.
    pub reasons: Vec<String>,
    /// For a refusal: `false` never, `true` not yet; `null` when allowed.
    pub retryable: Option<bool>,
    /// For a refusal that time alone will lift: from when (RFC 3339).
    pub earliest_retry: Option<String>,
    /// The principal's level when decided.
    pub level: Option<usize>,
    /// Log indexes of the evidence behind the verdict.
    pub evidence: Vec<u64>,
    /// The instant decided at (RFC 3339); with `log_size`, what replays the verdict:
    /// `stepwise decide PRINCIPAL CAPABILITY --stake STAKE --log-size N --at AT`.
    pub at: String,
    /// Log size the verdict was computed at.
    pub log_size: u64,
    /// What became of the call: `denied`, `forwarded`, `tool_error`, `upstream_failed` or
    /// `unrecorded`.
    pub result: String,
    /// The id of the promise recorded for a forwarded call.
    pub promise: Option<String>,
    /// Its log index.
    pub promise_index: Option<u64>,
    /// What went wrong, for `upstream_failed` and `unrecorded`.
    pub error: Option<String>,
}

impl GateDecision {
    /// The record of a call to `tool` decided as `view` says, about to be `result`.
    pub fn new(tool: &str, promisee: &str, view: &DecisionView, result: &str) -> Self {
        Self {
            principal: view.subject.clone(),
            tool: tool.to_owned(),
            capability: Some(view.capability.clone()),
            stake: Some(view.stake),
            promisee: Some(promisee.to_owned()),
            allowed: view.allowed,
            reasons: view.reasons.iter().map(|r| r.code.clone()).collect(),
            retryable: view.retryable,
            earliest_retry: view.earliest_retry.clone(),
            level: Some(view.level.index),
            evidence: view.evidence.clone(),
            at: view.at.clone(),
            log_size: view.log_size,
            result: result.to_owned(),
            promise: None,
            promise_index: None,
            error: None,
        }
    }

    /// The record of a call to `tool`, which the policy does not name, by `principal`.
    pub fn not_in_policy(principal: &str, tool: &str, at: String, log_size: u64) -> Self {
        Self {
            principal: principal.to_owned(),
            tool: tool.to_owned(),
            capability: None,
            stake: None,
            promisee: None,
            allowed: false,
            reasons: vec![TOOL_NOT_IN_POLICY.to_owned()],
            retryable: Some(false),
            earliest_retry: None,
            level: None,
            evidence: Vec::new(),
            at,
            log_size,
            result: result::DENIED.to_owned(),
            promise: None,
            promise_index: None,
            error: None,
        }
    }
}

/// A kept decision with its place in the decision log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DecisionEntry {
    /// Its place in the decision log, from 1 (what `cursor` pages by).
    pub seq: u64,
    /// The decision.
    #[serde(flatten)]
    pub decision: GateDecision,
}

/// Query of the decision log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionsQuery {
    /// Only this principal's decisions.
    pub principal: Option<String>,
    /// Only those decided at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Continue after this `seq`: the `next_cursor` of the page before.
    pub cursor: Option<u64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A page of the decision log, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionsView {
    /// The page, oldest first.
    pub decisions: Vec<DecisionEntry>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<u64>,
}

impl DecisionsView {
    /// The page of `records` as read for a page of `limit` (read `limit + 1`: one more tells
    /// that another page follows). A body that is not a decision is an error naming its `seq`.
    pub fn from_records(
        records: Vec<stepwise_store::DecisionRecord>,
        limit: usize,
    ) -> Result<Self, String> {
        let more = records.len() > limit;
        let decisions = records
            .into_iter()
            .take(limit)
            .map(|r| {
                serde_json::from_str(&r.body)
                    .map(|decision| DecisionEntry {
                        seq: r.seq,
                        decision,
                    })
                    .map_err(|e| format!("decision {} is not a decision record: {e}", r.seq))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = more.then(|| decisions.last().map(|d| d.seq)).flatten();
        Ok(Self {
            decisions,
            next_cursor,
        })
    }
}
