//! The decision log of `stepwise gate`: every call it decided, allowed or denied, with what was
//! asked, the verdict, the reason codes, what became of the call, and what replays the verdict
//! (`log_size` and `at`). Kept in the store beside the Merkle log (not evidence, so not in it),
//! read by `stepwise decisions` and `GET /v1/decisions`.

use crate::views::DecisionView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// Shadow mode (`stepwise gate --shadow`): the gate would have refused it (`reasons` say
    /// why) but forwarded it; no promise.
    pub const WOULD_DENY: &str = "would_deny";
    /// Refused "not yet", held for one of `approvers` to approve (`GET /v1/approvals`) until
    /// `expires_at`; what became of it follows in a record that `answers` it.
    pub const HELD: &str = "held";
    /// The answer to a held call: approved by `approver`, whose approval is at log index
    /// `approval_index`.
    pub const APPROVED: &str = "approved";
    /// The answer to a held call: declined by `approver`.
    pub const DECLINED: &str = "declined";
    /// The answer to a held call: nobody approved it in time.
    pub const EXPIRED: &str = "expired";
}

/// The reason code of a call an approver declined (by MCP elicitation or on its review queue).
pub const APPROVAL_DECLINED: &str = "approval_declined";

/// The reason code of a held call nobody approved in time; asking again may find an approver.
pub const APPROVAL_TIMEOUT: &str = "approval_timeout";

/// The reason code of a call to a tool whose upstream definition changed since the gate pinned
/// it, until an operator accepts the change (`stepwise gate accept-tool NAME`).
pub const TOOL_CHANGED: &str = "tool_changed";

/// The reason code of a call beyond a budget over time: the tool's own (`[gate.tools."<name>"]
/// budget`) or, from the ladder, the level's.
pub const BUDGET_EXHAUSTED: &str = "budget_exhausted";

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
    /// What went wrong, for `upstream_failed` and `unrecorded`; for `tool_changed`, what
    /// changed.
    pub error: Option<String>,
    /// For `budget_exhausted`: the budget and what the window held before this call —
    /// `{"of": "tool"|"level", "stake_used", "stake_limit", "calls_used", "calls", "per"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub budget: Option<Value>,
    /// Decided in shadow mode: every call forwarded, refusals kept as `would_deny`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// For a call `held` for approval: who may approve it (each may do it itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// For a `held` call: until when it waits (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// For an answer (`approved`, `declined`, `expired`): the `seq` of the held call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<u64>,
    /// Who approved or declined the call (on a forwarded call: whose approval let it through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The approval's log index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_index: Option<u64>,
}

impl GateDecision {
    /// The record of a call to `tool` decided as `view` says, about to be `result`.
    pub fn new(tool: &str, promisee: &str, view: &DecisionView, result: &str) -> Self {
        // A level's budget: its figures are the deciding reason's.
        let budget = view
            .reasons
            .first()
            .filter(|r| r.code == BUDGET_EXHAUSTED)
            .map(|r| {
                let mut data = r.data.clone();
                if let Value::Object(map) = &mut data {
                    map.insert("of".into(), "level".into());
                    map.remove("stake");
                }
                data
            });
        Self {
            capability: Some(view.capability.clone()),
            stake: Some(view.stake),
            promisee: Some(promisee.to_owned()),
            allowed: view.allowed,
            reasons: view.reasons.iter().map(|r| r.code.clone()).collect(),
            retryable: view.retryable,
            earliest_retry: view.earliest_retry.clone(),
            level: Some(view.level.index),
            evidence: view.evidence.clone(),
            result: result.to_owned(),
            budget,
            ..Self::refused_before_deciding(
                &view.subject,
                tool,
                "",
                false,
                view.at.clone(),
                view.log_size,
            )
        }
    }

    /// The record of a call to `tool`, which the policy does not name, by `principal`.
    pub fn not_in_policy(principal: &str, tool: &str, at: String, log_size: u64) -> Self {
        Self::refused_before_deciding(principal, tool, TOOL_NOT_IN_POLICY, false, at, log_size)
    }

    /// The record of a call by `principal` to `tool` that the gate refused before asking the
    /// ladder, for the reason `code` (`retryable`: whether it may be allowed later).
    pub fn refused_before_deciding(
        principal: &str,
        tool: &str,
        code: &str,
        retryable: bool,
        at: String,
        log_size: u64,
    ) -> Self {
        Self {
            principal: principal.to_owned(),
            tool: tool.to_owned(),
            capability: None,
            stake: None,
            promisee: None,
            allowed: false,
            reasons: vec![code.to_owned()],
            retryable: Some(retryable),
            earliest_retry: None,
            level: None,
            evidence: Vec::new(),
            at,
            log_size,
            result: result::DENIED.to_owned(),
            promise: None,
            promise_index: None,
            error: None,
            budget: None,
            shadow: false,
            approvers: Vec::new(),
            expires_at: None,
            answers: None,
            approver: None,
            approval_index: None,
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

/// Query of the calls held for approval.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// Only the calls this principal may answer.
    pub approver: Option<String>,
}

/// The calls held for approval and not answered, oldest first (`GET /v1/approvals`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalsView {
    /// Each held call's record: `seq` is what `POST /v1/approvals/{seq}` answers.
    pub approvals: Vec<DecisionEntry>,
}

/// An approver's answer to a held call (`POST /v1/approvals/{seq}`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalAnswer {
    /// `true` approves (records an approval in the log, in the key's principal's name);
    /// `false` declines.
    pub approve: bool,
}

/// What the gate did, or would have done, over a period: `stepwise decisions --shadow-report`,
/// how a team reads a week of `stepwise gate --shadow` before it lets the gate refuse.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ShadowReport {
    /// The first and last decision's instants (RFC 3339); `null` when there was none.
    pub from: Option<String>,
    /// See `from`.
    pub to: Option<String>,
    /// Every call decided.
    pub calls: u64,
    /// Of those, decided in shadow mode.
    pub shadow_calls: u64,
    /// Allowed by the gate.
    pub allowed: u64,
    /// Refused in shadow mode but forwarded all the same (`would_deny`).
    pub would_deny: u64,
    /// Refused (not in shadow mode).
    pub denied: u64,
    /// Refused "not yet" and held for an approver (what became of each is not counted again).
    pub held: u64,
    /// Refusals (`would_deny` and `denied`) by their deciding reason code.
    pub refused_by_reason: std::collections::BTreeMap<String, u64>,
    /// Per tool: its calls and their refusals.
    pub by_tool: std::collections::BTreeMap<String, ToolTally>,
    /// The principals whose level rose over the period: their first and last decision's level.
    pub climbed: Vec<Climb>,
}

/// One tool's calls in a [`ShadowReport`].
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
pub struct ToolTally {
    /// Calls decided.
    pub calls: u64,
    /// Of those, refused (`would_deny` or `denied`).
    pub refused: u64,
}

/// A principal that climbed in a [`ShadowReport`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Climb {
    /// The principal.
    pub principal: String,
    /// Its level at its first decision of the period.
    pub from_level: usize,
    /// Its level at its last.
    pub to_level: usize,
}

impl ShadowReport {
    /// The report of `decisions`, oldest first.
    pub fn of<'a>(decisions: impl IntoIterator<Item = &'a GateDecision>) -> Self {
        let mut report = Self::default();
        // Per principal: its first and last level, in the order first seen.
        let mut levels: Vec<(String, usize, usize)> = Vec::new();
        // An answer to a held call, and the call an approval let through, continue its record.
        let calls = decisions
            .into_iter()
            .filter(|d| d.answers.is_none() && d.approver.is_none());
        for d in calls {
            report.from.get_or_insert_with(|| d.at.clone());
            report.to = Some(d.at.clone());
            report.calls += 1;
            report.shadow_calls += u64::from(d.shadow);
            let refused = match d.result.as_str() {
                result::WOULD_DENY => {
                    report.would_deny += 1;
                    true
                }
                result::DENIED => {
                    report.denied += 1;
                    true
                }
                result::HELD => {
                    report.held += 1;
                    true
                }
                _ => {
                    report.allowed += 1;
                    false
                }
            };
            if refused {
                let reason = d.reasons.first().cloned().unwrap_or_default();
                *report.refused_by_reason.entry(reason).or_default() += 1;
            }
            let tally = report.by_tool.entry(d.tool.clone()).or_default();
            tally.calls += 1;
            tally.refused += u64::from(refused);
            if let Some(level) = d.level {
                match levels.iter_mut().find(|(p, ..)| *p == d.principal) {
                    Some((_, _, last)) => *last = level,
                    None => levels.push((d.principal.clone(), level, level)),
                }
            }
        }
        report.climbed = levels
            .into_iter()
            .filter(|(_, first, last)| last > first)
            .map(|(principal, from_level, to_level)| Climb {
                principal,
                from_level,
                to_level,
            })
            .collect();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(
        principal: &str,
        tool: &str,
        level: usize,
        result: &str,
        reason: &str,
    ) -> GateDecision {
        let mut d =
            GateDecision::refused_before_deciding(principal, tool, reason, true, "t".into(), 0);
        d.level = Some(level);
        d.result = result.into();
        d.shadow = result == result::WOULD_DENY;
        d
    }

    #[test]
    fn a_shadow_report_counts_what_would_have_been_refused_and_who_climbed() {
        let all = [
            decision(
                "agent:a",
                "deploy",
                0,
                result::WOULD_DENY,
                "capability_needs_level",
            ),
            decision("agent:a", "echo", 0, result::FORWARDED, "level"),
            decision(
                "agent:b",
                "deploy",
                1,
                result::WOULD_DENY,
                "budget_exhausted",
            ),
            decision("agent:a", "deploy", 1, result::FORWARDED, "level"),
            decision("agent:b", "deploy", 1, result::DENIED, "stake_above_limit"),
        ];
        let r = ShadowReport::of(&all);
        assert_eq!(
            (r.calls, r.shadow_calls, r.allowed, r.would_deny, r.denied),
            (5, 2, 2, 2, 1)
        );
        assert_eq!(r.refused_by_reason["capability_needs_level"], 1);
        assert_eq!(r.refused_by_reason["budget_exhausted"], 1);
        assert_eq!(r.by_tool["deploy"].calls, 4);
        assert_eq!(r.by_tool["deploy"].refused, 3);
        assert_eq!(r.climbed.len(), 1);
        assert_eq!(
            (
                r.climbed[0].principal.as_str(),
                r.climbed[0].from_level,
                r.climbed[0].to_level
            ),
            ("agent:a", 0, 1)
        );
        assert_eq!(ShadowReport::of(&[]).from, None);
    }
}
