//! Calls held for approval, and their answers: the one rule every door applies
//! (`GET /v1/approvals`, `POST /v1/approvals/{seq}`, `stepwise approvals`, the dashboard).
//!
//! `stepwise gate` holds a call the ladder refuses "not yet" when its tool names approvers: it
//! keeps a `held` record in the decision log (the call, the approvers who may do it themselves,
//! `expires_at`, the id its promise will take) and waits for a record that `answers` it. An
//! approver answers with its own credential: approving records an `approval` event in the log,
//! authored by the approver and citing the held decision (the engine refuses it unless the
//! approver may do the same itself now, and has not broken too many approved promises), then the
//! `approved` answer; declining keeps a `declined` answer. The first answer counts; a held call
//! past `expires_at` can no longer be answered. The decision log is not evidence: the approval
//! in the log is.

use crate::{Engine, Error, Recorder};
use serde_json::json;
use stepwise::evidence::{Id, Time};
use stepwise_api::decisions::{DecisionEntry, GateDecision, result};
use stepwise_store::{DecisionQuery, DecisionStore};

/// The longest a call may be held (`approval_timeout` is at most this): how far back the
/// decision log is read for calls still held.
pub const MAX_HOLD_MICROS: i64 = 24 * 3_600_000_000;

/// Every decision record from `since` on, oldest first.
fn records_since(store: &dyn DecisionStore, since: Time) -> Result<Vec<DecisionEntry>, Error> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.decisions(&DecisionQuery {
            principal: None,
            since: Some(since),
            after,
            limit: 1000,
        })?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.seq;
        for r in page {
            let decision: GateDecision = serde_json::from_str(&r.body).map_err(|e| {
                Error::internal(format!("decision {} is not a decision record: {e}", r.seq))
            })?;
            out.push(DecisionEntry {
                seq: r.seq,
                decision,
            });
        }
    }
}

/// Whether a held call waits still at `now`.
fn waiting(held: &GateDecision, now: Time) -> bool {
    held.expires_at
        .as_deref()
        .and_then(|t| Time::parse("expires_at", t).ok())
        .is_some_and(|until| now < until)
}

/// The calls held for approval at `now` and not answered, oldest first; only those `approver`
/// may answer, when given.
pub fn pending(
    store: &dyn DecisionStore,
    now: Time,
    approver: Option<&Id>,
) -> Result<Vec<DecisionEntry>, Error> {
    let since = Time::from_micros(now.as_micros().saturating_sub(MAX_HOLD_MICROS)).unwrap_or(now);
    let records = records_since(store, since)?;
    let answered: Vec<u64> = records.iter().filter_map(|r| r.decision.answers).collect();
    Ok(records
        .into_iter()
        .filter(|r| {
            r.decision.result == result::HELD
                && !answered.contains(&r.seq)
                && waiting(&r.decision, now)
                && approver.is_none_or(|a| r.decision.approvers.iter().any(|x| x == a.as_str()))
        })
        .collect())
}

/// The first record answering held call `seq` of `principal`, if any.
pub fn answer_of(
    store: &dyn DecisionStore,
    principal: &str,
    seq: u64,
) -> Result<Option<DecisionEntry>, Error> {
    let page = store.decisions(&DecisionQuery {
        principal: Some(principal),
        since: None,
        after: seq,
        limit: 1000,
    })?;
    for r in page {
        let decision: GateDecision = serde_json::from_str(&r.body).map_err(|e| {
            Error::internal(format!("decision {} is not a decision record: {e}", r.seq))
        })?;
        if decision.answers == Some(seq) {
            return Ok(Some(DecisionEntry {
                seq: r.seq,
                decision,
            }));
        }
    }
    Ok(None)
}

/// The held call `seq`, checked: it is a held call, not answered, still waiting at `now`, and
/// `approver` is one of its approvers.
fn held_call(
    store: &dyn DecisionStore,
    seq: u64,
    approver: &Id,
    now: Time,
) -> Result<GateDecision, Error> {
    let record = store
        .decisions(&DecisionQuery {
            principal: None,
            since: None,
            after: seq.saturating_sub(1),
            limit: 1,
        })?
        .into_iter()
        .find(|r| r.seq == seq)
        .ok_or_else(|| Error::not_found(format!("no decision {seq} in the decision log")))?;
    let held: GateDecision = serde_json::from_str(&record.body)
        .map_err(|e| Error::internal(format!("decision {seq} is not a decision record: {e}")))?;
    if held.result != result::HELD {
        return Err(Error::field(
            "seq",
            format!(
                "decision {seq} is not a call held for approval (its result is {:?})",
                held.result
            ),
        ));
    }
    if !held.approvers.iter().any(|a| a == approver.as_str()) {
        return Err(Error::forbidden(format!(
            "{approver} is not among the approvers of decision {seq} ({}): the policy names \
             them, each one that may do the same itself",
            held.approvers.join(", ")
        )));
    }
    let answered = answer_of(store, &held.principal, seq)?;
    let answered_expired = answered
        .as_ref()
        .is_some_and(|a| a.decision.result == result::EXPIRED);
    if let Some(answer) = answered.filter(|a| a.decision.result != result::EXPIRED) {
        return Err(Error::conflict(format!(
            "decision {seq} was answered already: {} by {} (decision {})",
            answer.decision.result,
            answer.decision.approver.as_deref().unwrap_or("the gate"),
            answer.seq
        )));
    }
    if answered_expired || !waiting(&held, now) {
        return Err(Error::conflict(format!(
            "decision {seq} waited until {} and is over: the call was refused; the agent may ask \
             again",
            held.expires_at.as_deref().unwrap_or("?")
        )));
    }
    Ok(held)
}

/// The approval event of `held` (seq `seq`) by `approver`, as JSON.
pub fn approval_event(held: &GateDecision, seq: u64, approver: &Id, at: Time) -> serde_json::Value {
    json!({
        "kind": "approval",
        "at": at.to_string(),
        "approver": approver.as_str(),
        "subject": held.principal,
        "promise": held.promise,
        "capability": held.capability,
        "stake": held.stake,
        "decision": seq,
    })
}

/// The answer record of `held` (seq `seq`): `result` by `approver`.
pub fn answer(
    held: &GateDecision,
    seq: u64,
    outcome: &str,
    approver: Option<&Id>,
    at: Time,
) -> GateDecision {
    let mut answer = held.clone();
    answer.result = outcome.to_owned();
    answer.answers = Some(seq);
    answer.approver = approver.map(|a| a.to_string());
    answer.at = at.to_string();
    answer.approvers = Vec::new();
    answer.expires_at = None;
    answer
}

impl Engine {
    /// Answers held call `seq` as `recorder`'s principal: approving records the approval in the
    /// log (refused unless the approver may do the same itself now), then keeps the answer;
    /// declining keeps the answer. The answer record with its `seq`.
    pub async fn answer_held(
        &self,
        recorder: &Recorder,
        seq: u64,
        approve: bool,
    ) -> Result<DecisionEntry, Error> {
        let approver = recorder.principal.clone().ok_or_else(|| {
            Error::forbidden(format!(
                "{} has no principal, so it cannot approve or decline a call",
                recorder.credential
            ))
        })?;
        let now = crate::now();
        let held = {
            let approver = approver.clone();
            self.pool()
                .with(move |store| held_call(&*store, seq, &approver, now))
                .await?
        };
        let mut answer = answer(
            &held,
            seq,
            if approve {
                result::APPROVED
            } else {
                result::DECLINED
            },
            Some(&approver),
            now,
        );
        if approve {
            let recorded = self
                .record_one(recorder, &approval_event(&held, seq, &approver, now))
                .await?;
            answer.approval_index = Some(recorded.index);
        }
        let body = serde_json::to_string(&answer).map_err(|e| Error::internal(e.to_string()))?;
        let principal = answer.principal.clone();
        let kept = self
            .pool()
            .with(move |store| Ok::<_, Error>(store.put_decision(now, &principal, &body)?))
            .await?;
        Ok(DecisionEntry {
            seq: kept,
            decision: answer,
        })
    }
}
