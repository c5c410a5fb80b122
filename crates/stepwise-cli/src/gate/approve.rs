//! Approvals: a call the ladder refuses "not yet" is put to an approver instead of refused, when
//! its tool names approvers and one of them may do the same itself (nobody lends trust it does
//! not have; `Engine::may_approve`).
//!
//! The gate keeps a `held` record in the decision log (the approvers who may, `expires_at`, the
//! id the call's promise will take) and asks:
//!
//! * by MCP elicitation, when the client declares it and `--user` names an approver who may: an
//!   accepted request records the approval in the log in the user's name;
//! * otherwise on the approvers' queue (`GET /v1/approvals`, `stepwise approvals`, the
//!   dashboard's review page), holding the call until an approver answers
//!   (`stepwise_engine::approvals`) or `approval_timeout` passes.
//!
//! Approved, the call goes through and its promise and its record name the approver; declined or
//! unanswered, it is a tool error that says so (retryable: asking again may find an approver).

use super::call::{Gate, refusal};
use super::{Inner, Reservation, lock};
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{CallToolResponse, ElicitRequestParams, ElicitationAction};
use rmcp::service::{ElicitationMode, Peer};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use stepwise::evidence::{Id, Time};
use stepwise::policy::GateTool;
use stepwise_api::DecisionView;
use stepwise_api::decisions::{APPROVAL_DECLINED, APPROVAL_TIMEOUT, GateDecision, result};
use stepwise_engine::Recorder;
use stepwise_engine::approvals::{answer, answer_of, approval_event};

/// What became of a call put to an approver.
pub(super) enum Asked {
    /// Approved by `approver`, whose approval is at `index`: the call goes through with its
    /// promise under `promise`.
    Approved {
        approver: Id,
        index: u64,
        promise: String,
        reservation: Reservation,
    },
    /// Not approved: the answer to give (a tool error).
    Refused(CallToolResponse),
    /// Nobody may approve it: refuse as the ladder says, with this line added.
    NoApprover(String),
}

impl Gate {
    /// Puts the call the ladder refused (`view`) to an approver.
    pub(super) async fn ask_approval(
        &self,
        name: &str,
        tool: &GateTool,
        view: &DecisionView,
        peer: &Peer<RoleServer>,
    ) -> Result<Asked, ErrorData> {
        let inner = &self.0;
        let mut may = Vec::new();
        let mut may_not = Vec::new();
        for approver in &tool.approvers {
            match inner
                .engine
                .may_approve(approver, &inner.principal, &tool.capability, view.stake)
            {
                Ok(()) => may.push(approver.clone()),
                Err(refusal) => may_not.push(format!("{approver} ({refusal})")),
            }
        }
        if may.is_empty() {
            return Ok(Asked::NoApprover(format!(
                "approval: none of the tool's approvers may let it through: {}",
                may_not.join("; ")
            )));
        }
        let promise = inner.promise_id();
        let now = crate::record::now();
        let expires =
            Time::from_micros(now.as_micros().saturating_add(tool.approval_timeout_micros))
                .unwrap_or(Time::MAX);
        let user = inner.user.as_ref().filter(|u| may.contains(u));
        let elicit = user.is_some()
            && peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Form);
        let mut held = GateDecision::new(name, tool.promisee.as_str(), view, result::HELD);
        held.approvers = match (elicit, user) {
            (true, Some(u)) => vec![u.to_string()],
            _ => may.iter().map(Id::to_string).collect(),
        };
        held.expires_at = Some(expires.to_string());
        held.promise = Some(promise.clone());
        let Some(seq) = inner.keep(&held) else {
            return Ok(Asked::NoApprover(
                "approval: the decision log could not keep the held call".into(),
            ));
        };
        let answered = match (elicit, user) {
            (true, Some(user)) => self.elicit(peer, &held, seq, user, tool, view).await,
            _ => self.wait(&held, seq, expires).await,
        };
        let Some((approver, index)) = answered.approved else {
            let (code, words) = match answered.declined_by {
                Some(by) => (APPROVAL_DECLINED, format!("{by} declined it")),
                None => (
                    APPROVAL_TIMEOUT,
                    format!(
                        "no approver answered by {expires} (approvers: {})",
                        held.approvers.join(", ")
                    ),
                ),
            };
            let mut decision =
                GateDecision::new(name, tool.promisee.as_str(), view, result::DENIED);
            decision.reasons.insert(0, code.to_owned());
            decision.retryable = Some(true);
            decision.answers = Some(seq);
            let text = format!(
                "stepwise gate: the call to {name:?} was not made: the ladder says not yet, and \
                 it was put to an approver: {words} ({code}). retry: not yet — ask again, or \
                 earn the next step."
            );
            let kept = inner.keep(&decision);
            return Ok(Asked::Refused(
                refusal(
                    text,
                    json!({ "decision": view, "decision_seq": kept, "held": seq }),
                )
                .into(),
            ));
        };
        Ok(Asked::Approved {
            approver,
            index,
            promise,
            reservation: self.0.reserve(view.stake),
        })
    }

    /// Asks `user` by MCP elicitation; an acceptance records the approval in their name.
    async fn elicit(
        &self,
        peer: &Peer<RoleServer>,
        held: &GateDecision,
        seq: u64,
        user: &Id,
        tool: &GateTool,
        view: &DecisionView,
    ) -> Answered {
        let inner = &self.0;
        let deciding = view.reasons.first().map_or("", |r| r.message.as_str());
        let message = format!(
            "{} asks to call {:?} ({} at stake {}); the trust ladder says not yet: {deciding}. \
             Approve it as {user}? Your approval is recorded in the log in your name: if the \
             call's promise is broken, your approvals weigh less.",
            inner.principal, held.tool, tool.capability, view.stake
        );
        let schema = rmcp::model::ElicitationSchema::from_json_schema(
            json!({
                "type": "object",
                "properties": {
                    "note": {"type": "string", "description": "Why you approve it (optional; kept beside the log)"}
                }
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        );
        let Ok(schema) = schema else {
            return Answered::none();
        };
        let timeout =
            Duration::from_micros(u64::try_from(tool.approval_timeout_micros).unwrap_or(0));
        let asked = peer
            .create_elicitation_with_timeout(
                ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message,
                    requested_schema: schema,
                },
                Some(timeout),
            )
            .await;
        let now = crate::record::now();
        let (outcome, note) = match &asked {
            Ok(r) if r.action == ElicitationAction::Accept => (
                result::APPROVED,
                r.content
                    .as_ref()
                    .and_then(|c| c.get("note"))
                    .and_then(|n| n.as_str())
                    .map(str::to_owned),
            ),
            Ok(r) if r.action == ElicitationAction::Decline => (result::DECLINED, None),
            _ => (result::EXPIRED, None),
        };
        let mut reply = answer(held, seq, outcome, Some(user), now);
        let mut answered = Answered::none();
        if outcome == result::APPROVED {
            let mut event = approval_event(held, seq, user, now);
            if let Some(note) = note.filter(|n| !n.is_empty()) {
                event["note"] = json!(note);
            }
            let recorder = Recorder {
                credential: "--user".into(),
                principal: Some(user.clone()),
            };
            let recorded = stepwise::evidence::Event::from_value(&event)
                .map_err(anyhow::Error::from)
                .and_then(|e| Ok(inner.engine.record_here(&recorder, e)?));
            match recorded {
                Ok(r) => {
                    reply.approval_index = Some(r.index);
                    answered.approved = Some((user.clone(), r.index));
                }
                Err(e) => {
                    reply.result = result::EXPIRED.into();
                    reply.error = Some(format!("the approval was not recorded: {e:#}"));
                }
            }
        } else if outcome == result::DECLINED {
            answered.declined_by = Some(user.clone());
        }
        inner.keep(&reply);
        answered
    }

    /// Waits for an approver's answer to held call `seq` on the queue, until `expires`.
    async fn wait(&self, held: &GateDecision, seq: u64, expires: Time) -> Answered {
        let inner = Arc::clone(&self.0);
        loop {
            let found = answer_of(&*lock(&inner.store), inner.principal.as_str(), seq);
            match found {
                Ok(Some(entry)) => {
                    let d = entry.decision;
                    let by = d
                        .approver
                        .as_deref()
                        .and_then(|a| Id::parse("approver", a).ok());
                    return match (d.result.as_str(), by, d.approval_index) {
                        (result::APPROVED, Some(by), Some(index)) => Answered {
                            approved: Some((by, index)),
                            declined_by: None,
                        },
                        (result::DECLINED, by, _) => Answered {
                            approved: None,
                            declined_by: by,
                        },
                        _ => Answered::none(),
                    };
                }
                Ok(None) => {}
                Err(e) => eprintln!("stepwise gate: warning: reading the approvals: {e}"),
            }
            if crate::record::now() >= expires {
                inner.keep(&answer(
                    held,
                    seq,
                    result::EXPIRED,
                    None,
                    crate::record::now(),
                ));
                return Answered::none();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// An approver's answer, as the gate reads it.
struct Answered {
    approved: Option<(Id, u64)>,
    declined_by: Option<Id>,
}

impl Answered {
    fn none() -> Self {
        Self {
            approved: None,
            declined_by: None,
        }
    }
}

impl Inner {
    /// Counts an approved call's stake in flight, as an allowed call's is.
    pub(super) fn reserve(self: &Arc<Self>, stake: f64) -> Reservation {
        let mut in_flight = lock(&self.in_flight);
        in_flight.calls += 1;
        in_flight.stake += stake;
        Reservation {
            inner: Arc::clone(self),
            stake,
            released: false,
        }
    }
}
