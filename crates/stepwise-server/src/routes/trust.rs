//! What the evidence says: trust figures, decisions, explanations, the network rank and the
//! policy they follow. Each handler turns its request into the engine's question and the
//! answer into JSON; the engine answers from the live state when it is the fold asked for,
//! otherwise from a replay of the log.

use super::{Shared, batch_size, body, json, path, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use stepwise::evidence::Id;
use stepwise_api::{
    self as wire, AtQuery, DecideBatchItem, DecideReply, DecideRequest, ErrorBody, ExplainView,
    PolicyView, PromisesQuery, PromisesView, RankQuery, RankView, TrustQuery, TrustView,
    VerdictView,
};
use stepwise_engine::question::{
    self as q, Cost, Decide, Explain, OpenPromises, Question as _, Rank, Trust, optional_id,
};

/// How much a principal can be trusted, with the evidence behind the figure.
#[utoipa::path(get, path = "/v1/principals/{id}/trust", tag = "trust",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$"), TrustQuery),
    responses(
        (status = 200, description = "The trust figure", body = TrustView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn trust(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> Result<Json<TrustView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    let query = query(q)?;
    let question = Trust {
        subject,
        truster: optional_id("truster", query.truster.as_deref())?,
        scope: optional_id("scope", query.scope.as_deref())?,
        prefix: q::prefix(query.log_size, query.rank_log_size, query.at.as_deref())?,
    };
    Ok(Json(app.engine.ask(question).await?))
}

/// May this principal do this, at this stake, now? Always with reasons and the next step.
#[utoipa::path(post, path = "/v1/decide", tag = "trust",
    request_body = DecideRequest,
    responses(
        (status = 200, description = "The decision (allowed or not)", body = DecideReply),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn decide(
    State(app): Shared,
    _caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: DecideRequest = json(&body(raw)?)?;
    let mut question = Decide::from_request(&request)?;
    question.name_with(app.engine.names());
    if question.receipt {
        return receipt(&app, question).await;
    }
    // Written straight to bytes (the same JSON as the views serialise to, without building
    // them), within the read of the state.
    let reply = app
        .engine
        .answer_with(question.prefix, Cost::Quick, move |state, at| {
            question.decide(state, at, |d, size| {
                let mut out = Vec::with_capacity(if question.explain { 2048 } else { 256 });
                if question.explain {
                    wire::write_decision(d, size, &mut out);
                } else {
                    // Serialising a verdict into a `Vec` cannot fail.
                    let _ = serde_json::to_writer(&mut out, &VerdictView::new(d, size));
                }
                out
            })
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::from(reply),
    )
        .into_response())
}

/// The receipt of the explained decision `question` asks for: the decision as this door shows
/// it (in ids), signed, with the proofs of the entries it rests on.
async fn receipt(app: &crate::app::App, mut question: Decide) -> Result<Response, ApiError> {
    question.explain = true;
    let view = app.engine.ask(question).await?;
    let DecideReply::Explained(view) = view else {
        return Err(ApiError::internal("a receipt needs the explained decision"));
    };
    let text = serde_json::to_string(&view).map_err(ApiError::internal)?;
    let opened = app.engine.names().open_json(&text);
    let decision: serde_json::Value = serde_json::from_str(&opened).map_err(ApiError::internal)?;
    let receipt = app.engine.receipt(decision).await?;
    Ok(Json(DecideReply::Receipt(Box::new(receipt.into()))).into_response())
}

/// Many decisions in one request: an array of decision requests, answered by an array of
/// their answers in the same order, each as `POST /v1/decide` would answer it alone — or, for
/// a request that would be refused, `{"error": …}` in its place. Up to `stepwise serve
/// --max-batch` requests (default 1,000).
#[utoipa::path(post, path = "/v1/decide/batch", tag = "trust",
    request_body(content = Vec<DecideRequest>, description = "Decision requests"),
    responses(
        (status = 200, description = "One answer per request, in order", body = [DecideBatchItem]),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn decide_batch(
    State(app): Shared,
    _caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<DecideBatchItem>>, ApiError> {
    let items: Vec<serde_json::Value> = json(&body(raw)?)?;
    batch_size(items.len(), app.limits.max_batch, "decision requests")?;
    let mut answers = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let answer = match serde_json::from_value::<DecideRequest>(item) {
            Ok(request) => decide_one(&app, &request).await,
            Err(e) => Err(ApiError::bad_request(format!("request {i}: {e}"))),
        };
        answers.push(match answer {
            Ok(reply) => DecideBatchItem::Decided(reply),
            Err(e) => DecideBatchItem::Refused { error: e.0.body },
        });
    }
    Ok(Json(answers))
}

/// One decision request, checked and answered with its view: an item of
/// `POST /v1/decide/batch`.
async fn decide_one(
    app: &crate::app::App,
    request: &DecideRequest,
) -> Result<DecideReply, ApiError> {
    if request.receipt == Some(true) {
        return Err(ApiError::field(
            "receipt",
            "receipts come one decision at a time, from POST /v1/decide",
        ));
    }
    Ok(app.engine.ask(Decide::from_request(request)?).await?)
}

/// A principal's level, its timeline of promotions and demotions, and the next-step checklist.
#[utoipa::path(get, path = "/v1/principals/{id}/explain", tag = "trust",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$"), AtQuery),
    responses(
        (status = 200, description = "The explanation", body = ExplainView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn explain(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<ExplainView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    let query = query(q)?;
    let prefix = q::prefix(query.log_size, None, query.at.as_deref())?;
    Ok(Json(app.engine.ask(Explain { subject, prefix }).await?))
}

/// The promises with no outcome yet, oldest first, overdue ones marked: what awaits judgement
/// (with `promisee`, that principal's review queue). A page at a time: pass `next_cursor` as
/// `cursor` for the next.
#[utoipa::path(get, path = "/v1/promises", tag = "trust",
    params(PromisesQuery),
    responses(
        (status = 200, description = "A page of open promises", body = PromisesView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn promises(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<PromisesQuery>, QueryRejection>,
) -> Result<Json<PromisesView>, ApiError> {
    let query = query(q)?;
    if query.open != Some(true) {
        return Err(ApiError::field(
            "open",
            "must be true: only promises with no outcome are listed (settled ones are in the log)",
        ));
    }
    let question = OpenPromises::new(
        optional_id("promisee", query.promisee.as_deref())?,
        query.cursor,
        query.limit,
        q::prefix(None, None, query.at.as_deref())?,
    )?;
    Ok(Json(app.engine.ask(question).await?))
}

/// Who the network as a whole trusts most.
#[utoipa::path(get, path = "/v1/rank", tag = "trust",
    params(RankQuery),
    responses(
        (status = 200, description = "The rank", body = RankView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rank(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<RankQuery>, QueryRejection>,
) -> Result<Json<RankView>, ApiError> {
    let question = Rank::new(query(q)?.top)?;
    Ok(Json(app.engine.ask(question).await?))
}

/// The policy: ladder, model settings, ledger rules, and the log's verifier key.
#[utoipa::path(get, path = "/v1/policy", tag = "trust",
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn policy(State(app): Shared, _caller: Caller) -> Json<PolicyView> {
    Json(PolicyView {
        toml: app.engine.policy_text().to_owned(),
        ladder: wire::ladder_view(&app.engine.policy().ladder),
        verifier_key: app.engine.verifier_key().to_owned(),
    })
}
