//! The decision log of `stepwise gate`: every call it allowed or denied, kept in the store beside
//! the Merkle log.

use super::{Shared, optional_id, optional_time, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use stepwise_api::{DecisionsQuery, DecisionsView, ErrorBody};
use stepwise_engine::reads::DecisionsPage;

/// The gate's decisions, oldest first, optionally one principal's and from an instant on; a page
/// at a time: pass `next_cursor` as `cursor` for the next. Each replays with
/// `POST /v1/decide` at its `log_size` and `at`.
#[utoipa::path(get, path = "/v1/decisions", tag = "trust",
    params(DecisionsQuery),
    responses(
        (status = 200, description = "A page of the decision log", body = DecisionsView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn decisions(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<DecisionsQuery>, QueryRejection>,
) -> Result<Json<DecisionsView>, ApiError> {
    let q = query(q)?;
    let page = DecisionsPage::new(
        optional_id("principal", q.principal.as_deref())?,
        optional_time("since", q.since.as_deref())?,
        q.cursor,
        q.limit,
    )?;
    Ok(Json(app.engine.decisions(page).await?))
}
