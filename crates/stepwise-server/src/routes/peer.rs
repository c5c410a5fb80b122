//! A benchmarking peer of `POST /v1/decide`, compiled only with the non-default `bench-peer`
//! feature: never part of the API, its OpenAPI document or a default build.
//!
//! `/healthz` is a poor yardstick for a decision: it reads no key and no body. The load
//! example (`examples/load`, decide phase) therefore also measures this peer in the same run.
//! `POST /bench/peer/decide` does the request work `POST /v1/decide` does — the same route
//! middleware (timeout, metrics), the same key check (any role, as for a decision), the same
//! body read under the same size limit and the same parse into a [`DecideRequest`] — and
//! answers with a constant reply as large as the decision's: what a decision costs beyond it
//! is the decision itself, building its answer and serialising it. As a decision does, it
//! answers `"explain": false` with the verdict-sized reply and anything else with the
//! explained one. The two replies are set once with `PUT /bench/peer`
//! (`{"explained": "<reply>", "verdict": "<reply>"}`), by the load example after it measured
//! the decisions' mean reply sizes.

use super::{Shared, body, json};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::{Arc, OnceLock};
use stepwise_api::DecideRequest;

/// The peer's routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/bench/peer", put(set_replies))
        .route("/bench/peer/decide", post(decide))
}

/// The constant replies, set once per process.
static REPLIES: OnceLock<Replies> = OnceLock::new();

#[derive(Debug, Clone, PartialEq, Eq)]
struct Replies {
    explained: Bytes,
    verdict: Bytes,
}

/// The body of `PUT /bench/peer`: the reply bodies, verbatim.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetReplies {
    explained: String,
    verdict: String,
}

/// Sets the replies, and answers their sizes in bytes; setting them again is refused unless
/// they are the same.
async fn set_replies(
    _caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let SetReplies { explained, verdict } = json(&body(raw)?)?;
    let replies = Replies {
        explained: Bytes::from(explained),
        verdict: Bytes::from(verdict),
    };
    let set = REPLIES.get_or_init(|| replies.clone());
    if *set == replies {
        Ok(Json(serde_json::json!({
            "explained": set.explained.len(),
            "verdict": set.verdict.len(),
        })))
    } else {
        Err(ApiError::bad_request(
            "the peer's replies are already set to others (one set per server process)",
        ))
    }
}

/// The request work of `POST /v1/decide`, answered with a constant reply of a decision's size.
async fn decide(
    State(_app): Shared,
    _caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: DecideRequest = json(&body(raw)?)?;
    let replies = REPLIES
        .get()
        .ok_or_else(|| ApiError::bad_request("no replies yet: `PUT /bench/peer` first"))?;
    let reply = if request.explain.unwrap_or(true) {
        &replies.explained
    } else {
        &replies.verdict
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        reply.clone(),
    )
        .into_response())
}
