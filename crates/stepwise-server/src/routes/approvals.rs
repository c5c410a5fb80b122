//! Calls held for approval by `stepwise gate`, and an approver's answer
//! (`stepwise_engine::approvals`: the rule every door applies).

use super::{Shared, body, json, optional_id, path, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use stepwise_api::{ApprovalAnswer, ApprovalsQuery, ApprovalsView, DecisionEntry, ErrorBody};
use stepwise_store::keys::Role;

/// The calls held for approval and not answered yet, oldest first; only those `approver` may
/// answer, when given. Each names its approvers and until when it waits (`expires_at`).
#[utoipa::path(get, path = "/v1/approvals", tag = "trust",
    params(ApprovalsQuery),
    responses(
        (status = 200, description = "The calls awaiting an approver", body = ApprovalsView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn approvals(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Result<Json<ApprovalsView>, ApiError> {
    let q = query(q)?;
    let approver = optional_id("approver", q.approver.as_deref())?;
    let now = super::now();
    let approvals = app
        .engine
        .pool()
        .with::<_, ApiError>(move |s| {
            Ok(stepwise_engine::approvals::pending(
                &*s,
                now,
                approver.as_ref(),
            )?)
        })
        .await?;
    Ok(Json(ApprovalsView { approvals }))
}

/// Answers a held call as the key's principal (recorder): `{"approve": true}` records an
/// approval in the log in that principal's name — refused (422, `approver`) unless it may do
/// the same itself now and its approvals have not been broken too often — and lets the call
/// through; `{"approve": false}` declines it. 403 when the principal is not one of the call's
/// approvers; 409 when the call was answered already or waited past its time.
#[utoipa::path(post, path = "/v1/approvals/{seq}", tag = "trust",
    params(("seq" = u64, Path, description = "The held call's place in the decision log")),
    request_body = ApprovalAnswer,
    responses(
        (status = 200, description = "The answer, as kept in the decision log", body = DecisionEntry),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not a recorder key, or not one of the call's approvers", body = ErrorBody),
        (status = 404, description = "No such decision", body = ErrorBody),
        (status = 409, description = "Answered already, or past its time", body = ErrorBody),
        (status = 422, description = "The approver may not approve it", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn answer(
    State(app): Shared,
    caller: Caller,
    seq: Result<Path<u64>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<DecisionEntry>, ApiError> {
    caller.require(Role::Recorder)?;
    let seq = path(seq)?;
    let answer: ApprovalAnswer = json(&body(raw)?)?;
    let entry = app
        .engine
        .answer_held(&caller.recorder(), seq, answer.approve)
        .await?;
    Ok(Json(entry))
}
