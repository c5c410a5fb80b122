//! The log as a whole: its signed checkpoint and the proofs that it holds an entry and only
//! ever grows.

use super::{Shared, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use stepwise::ledger::{check_consistency_request, check_inclusion_request};
use stepwise_api::{ConsistencyQuery, ConsistencyView, ErrorBody, InclusionQuery, InclusionView};
use stepwise_store::ledger::{consistency_proof_in, inclusion_proof_in};
use stepwise_store::{LedgerError, Store};

/// The newest signed checkpoint, as a C2SP signed note (text); with the witnesses'
/// cosignatures once their quorum has cosigned it.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkpoint(State(app): Shared, _caller: Caller) -> Response {
    let newest = app.engine.live().checkpoint();
    // The same checkpoint with the witnesses' cosignatures, once their quorum has given them.
    let note = match app.engine.witnessed() {
        Some(witnessed) if witnessed.size == newest.size && witnessed.root == newest.root => {
            witnessed.note
        }
        _ => newest.note,
    };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
}

/// A proof the store could not give: storage failed, or (the request checked against the
/// live checkpoint before) the store holds less than that checkpoint says.
fn proof_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::Store(e) => e.into(),
        LedgerError::OutOfRange(what) => ApiError::bad_request(what),
        LedgerError::Note(e) => ApiError::internal(e.to_string()),
    }
}

/// Proof that an entry is in the tree of a given size.
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "log",
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionView),
        (status = 400, description = "Out of range", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionView>, ApiError> {
    let q = query(q)?;
    let log = app.engine.live().checkpoint().size;
    let size = q.size.unwrap_or(log);
    check_inclusion_request(q.index, size, log)?;
    let index = q.index;
    app.engine
        .pool()
        .with::<_, ApiError>(move |s: &mut dyn Store| {
            let proof = inclusion_proof_in(&*s, index, size, log).map_err(proof_error)?;
            Ok(Json(InclusionView::from(&proof)))
        })
        .await
}

/// Proof that an older tree is a prefix of a newer one.
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "log",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyView),
        (status = 400, description = "Out of range", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn consistency(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let q = query(q)?;
    let log = app.engine.live().checkpoint().size;
    let new = q.new.unwrap_or(log);
    let old = q.old;
    check_consistency_request(old, new, log)?;
    app.engine
        .pool()
        .with::<_, ApiError>(move |s: &mut dyn Store| {
            let proof = consistency_proof_in(&*s, old, new, log).map_err(proof_error)?;
            Ok(Json(ConsistencyView::from(&proof)))
        })
        .await
}
