//! What the evidence says: trust figures, decisions, explanations, the network rank and the
//! policy they follow. Each answer comes from the live state when it is the fold asked for,
//! otherwise from a replay of the log.

use super::{Shared, batch_size, body, json, now, optional_id, optional_time, path, query};
use crate::app::{App, Ask};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use stepwise::evidence::{Id, Time};
use stepwise::ladder::{Decision, LadderState};
use stepwise::ledger::replay::Prefix;
use stepwise_api::{
    self as wire, AtQuery, DecideBatchItem, DecideReply, DecideRequest, DecisionView, ErrorBody,
    ExplainView, PolicyView, PromisesQuery, PromisesView, RankQuery, RankRow, RankView, TrustQuery,
    TrustView, VerdictView,
};

/// How long an answer from the live state may take.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cost {
    /// Microseconds (a decision): answered on the async thread.
    Quick,
    /// Milliseconds (sorting every principal's rank): answered on a blocking thread.
    Heavy,
}

/// Runs `f` on the fold `ask` asks for: the first `log_size` entries of the log (default: all)
/// up to instant `at` (default: now), with the network rank of the first `rank_log_size`
/// (default: the latest published), as `stepwise … --log-size --rank-log-size --at` does: every
/// answer reports them, and asking again with them gives it again, byte for byte, whatever was
/// appended since. The live state in memory answers the latest log size and rank at any
/// instant from its latest event on; anything else is replayed from the store.
async fn with_state<R: Send + 'static, F: FnOnce(&LadderState, Time) -> R + Send + 'static>(
    app: &Arc<App>,
    ask: Ask,
    cost: Cost,
    f: F,
) -> Result<R, ApiError> {
    let now = now();
    let attempt = if cost == Cost::Quick {
        app.live.answer(ask, now, f)
    } else {
        let live = Arc::clone(&app.live);
        tokio::task::spawn_blocking(move || live.answer(ask, now, f))
            .await
            .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))?
    };
    match attempt {
        Ok(answer) => Ok(answer),
        Err(f) => replay(app, ask, now, f).await,
    }
}

/// An earlier log size, rank or instant: the log is folded from the store, at most two such
/// replays at once. A rank the server published and still keeps is used as it was (the very
/// bits answered); otherwise the rank of the prefix asked for is computed.
async fn replay<R: Send + 'static>(
    app: &Arc<App>,
    ask: Ask,
    now: Time,
    f: impl FnOnce(&LadderState, Time) -> R + Send + 'static,
) -> Result<R, ApiError> {
    let _permit = app
        .replays
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let model = app.policy.model.clone();
    let ladder = app.policy.ladder.clone();
    let Ask {
        log_size,
        rank_log_size,
        at,
    } = ask;
    // A kept rank is the rank of that prefix as long as no entry in it is dated after `at`.
    let retained = rank_log_size
        .and_then(|k| app.live.retained_rank(k))
        .filter(|r| at.is_none_or(|at| r.latest.is_none_or(|latest| latest <= at)));
    app.pool
        .with(move |store| {
            let size = store.size()?;
            if let Some(n) = log_size.filter(|&n| n > size) {
                return Err(ApiError::field(
                    "log_size",
                    format!("{n} is larger than the log ({size} entries)"),
                ));
            }
            let n = log_size.unwrap_or(size);
            if let Some(k) = rank_log_size.filter(|&k| k > n) {
                return Err(ApiError::field(
                    "rank_log_size",
                    format!("{k} is larger than the log size answered from ({n})"),
                ));
            }
            let prefix = Prefix {
                log_size,
                until: at,
                rank_log_size: if retained.is_some() {
                    None
                } else {
                    rank_log_size
                },
            };
            let mut state = LadderState::replay(&*store, model, ladder, prefix, &mut |_| {})?;
            if let Some(rank) = retained {
                state.publish_rank(rank);
            }
            let at = at.unwrap_or_else(|| state.trust().instant_for(now));
            Ok(f(&state, at))
        })
        .await
}

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
    let q = query(q)?;
    let truster = optional_id("truster", q.truster.as_deref())?;
    let scope = optional_id("scope", q.scope.as_deref())?;
    let at = optional_time("at", q.at.as_deref())?;
    let ask = Ask {
        log_size: q.log_size,
        rank_log_size: q.rank_log_size,
        at,
    };
    Ok(Json(trust_view(&app, subject, truster, scope, ask).await?))
}

/// A principal's trust figure from the fold `ask` asks for: `GET /v1/principals/{id}/trust`
/// and the MCP `trust` tool.
pub(super) async fn trust_view(
    app: &Arc<App>,
    subject: Id,
    truster: Option<Id>,
    scope: Option<Id>,
    ask: Ask,
) -> Result<TrustView, ApiError> {
    with_state(app, ask, Cost::Quick, move |state, at| {
        let report = state
            .trust()
            .trust(&subject, truster.as_ref(), scope.as_ref(), at);
        TrustView::new(&report, &subject, truster.as_ref(), scope.as_ref(), at)
    })
    .await
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
    // Written straight to bytes (the same JSON as the views serialise to, without building
    // them), within the read of the state.
    let reply = decide_with(&app, request, |d, size, explain| {
        let mut out = Vec::with_capacity(if explain { 2048 } else { 256 });
        if explain {
            wire::write_decision(d, size, &mut out);
        } else {
            // Serialising a verdict into a `Vec` cannot fail.
            let _ = serde_json::to_writer(&mut out, &VerdictView::new(d, size));
        }
        out
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
            Ok(request) => decide_one(&app, request).await,
            Err(e) => Err(ApiError::bad_request(format!("request {i}: {e}"))),
        };
        answers.push(match answer {
            Ok(reply) => DecideBatchItem::Decided(reply),
            Err(e) => DecideBatchItem::Refused { error: e.body },
        });
    }
    Ok(Json(answers))
}

/// One decision request, checked and answered with its view: an item of
/// `POST /v1/decide/batch`, and the MCP `decide` tool.
pub(super) async fn decide_one(
    app: &Arc<App>,
    request: DecideRequest,
) -> Result<DecideReply, ApiError> {
    decide_with(app, request, |d, size, explain| {
        if explain {
            DecideReply::Explained(Box::new(DecisionView::new(d, size)))
        } else {
            DecideReply::Verdict(VerdictView::new(d, size))
        }
    })
    .await
}

/// One decision request, checked and decided; `answer` turns the decision, the log size it was
/// computed at and whether it is to be explained into the reply.
async fn decide_with<R: Send + 'static>(
    app: &Arc<App>,
    request: DecideRequest,
    answer: impl FnOnce(&Decision<'_>, u64, bool) -> R + Send + 'static,
) -> Result<R, ApiError> {
    let subject = Id::parse("subject", &request.subject)?;
    if request.capability.is_empty() || request.capability.len() > stepwise::evidence::MAX_ID_LEN {
        return Err(ApiError::field(
            "capability",
            format!("must be 1 to {} bytes long", stepwise::evidence::MAX_ID_LEN),
        ));
    }
    if !(request.stake.is_finite() && request.stake >= 0.0) {
        return Err(ApiError::field(
            "stake",
            format!("{} must be a finite number ≥ 0", request.stake),
        ));
    }
    let truster = optional_id("truster", request.truster.as_deref())?;
    let at = optional_time("at", request.at.as_deref())?;
    let (capability, stake) = (request.capability, request.stake);
    let explain = request.explain.unwrap_or(true);
    let ask = Ask {
        log_size: request.log_size,
        rank_log_size: request.rank_log_size,
        at,
    };
    with_state(app, ask, Cost::Quick, move |state, at| {
        let d = state.decide(&subject, &capability, stake, truster.as_ref(), at);
        answer(&d, state.trust().log_size(), explain)
    })
    .await
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
    let q = query(q)?;
    let at = optional_time("at", q.at.as_deref())?;
    let ask = Ask {
        log_size: q.log_size,
        at,
        ..Ask::default()
    };
    Ok(Json(explain_view(&app, subject, ask).await?))
}

/// A principal's standing from the fold `ask` asks for: `GET /v1/principals/{id}/explain` and
/// the MCP `explain` tool.
pub(super) async fn explain_view(
    app: &Arc<App>,
    subject: Id,
    ask: Ask,
) -> Result<ExplainView, ApiError> {
    with_state(app, ask, Cost::Quick, move |state, at| {
        ExplainView::new(&state.explain(&subject, at), state.trust().log_size())
    })
    .await
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
    let q = query(q)?;
    if q.open != Some(true) {
        return Err(ApiError::field(
            "open",
            "must be true: only promises with no outcome are listed (settled ones are in the log)",
        ));
    }
    let promisee = optional_id("promisee", q.promisee.as_deref())?;
    let at = optional_time("at", q.at.as_deref())?;
    let page = open_promises(&app, promisee, q.cursor, q.limit, at).await?;
    Ok(Json(page))
}

/// A page of the promises with no outcome yet (at most `limit`, default 100, after log index
/// `cursor`), at instant `at` (default now): `GET /v1/promises?open=true` and the MCP
/// `promises_open` tool.
pub(super) async fn open_promises(
    app: &Arc<App>,
    promisee: Option<Id>,
    cursor: Option<u64>,
    limit: Option<usize>,
    at: Option<Time>,
) -> Result<PromisesView, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("{limit} is not between 1 and 1000"),
        ));
    }
    let ask = Ask {
        at,
        ..Ask::default()
    };
    // Walks every open promise: a blocking thread, like the rank.
    with_state(app, ask, Cost::Heavy, move |state, at| {
        let trust = state.trust();
        let (rows, more) = trust.awaiting_judgement(promisee.as_ref(), cursor, limit, at);
        PromisesView::new(rows, more, at, trust.log_size())
    })
    .await
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
    let top = query(q)?.top.unwrap_or(20);
    if top > 10_000 {
        return Err(ApiError::field("top", format!("{top} is more than 10000")));
    }
    // The published rank (kept fresh in the background); listing its top sorts every score.
    with_state(&app, Ask::default(), Cost::Heavy, move |state, _| {
        let trust = state.trust();
        let rank = trust.rank();
        let ranking = rank.ranking;
        Json(RankView {
            principals: ranking
                .top(top)
                .into_iter()
                .filter_map(|(i, score)| {
                    Some(RankRow {
                        principal: trust.principal(i)?.to_string(),
                        score,
                    })
                })
                .collect(),
            total: ranking.scores.len(),
            converged: ranking.converged,
            log_size: trust.log_size(),
            rank_log_size: rank.log_size,
        })
    })
    .await
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
        toml: app.policy_text.clone(),
        ladder: wire::ladder_view(&app.policy.ladder),
        verifier_key: app.verifier_key.clone(),
    })
}
