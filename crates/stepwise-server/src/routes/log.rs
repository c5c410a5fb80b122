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
use stepwise::ledger::{check_consistency_request, check_inclusion_request, merkle};
use stepwise_api::{
    ConsistencyQuery, ConsistencyView, ErrorBody, InclusionQuery, InclusionView, hex,
};
use stepwise_store::{Store, StoredTree};

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

fn proof_error(e: merkle::ProofError<stepwise_store::StoreError>) -> ApiError {
    match e {
        merkle::ProofError::Source(e) => e.into(),
        other => ApiError::bad_request(other.to_string()),
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
            let tree = StoredTree(&*s);
            let proof = merkle::inclusion_proof(&tree, index, size).map_err(proof_error)?;
            let root = merkle::root(&tree, size)?;
            let leaf = s
                .entry(index)?
                .ok_or_else(|| ApiError::not_found(format!("no entry {index}")))?;
            Ok(Json(InclusionView {
                index,
                size,
                leaf_hash: hex(&leaf.leaf_hash),
                root: hex(&root),
                proof: proof.iter().map(|h| hex(h)).collect(),
            }))
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
            let tree = StoredTree(&*s);
            let proof = merkle::consistency_proof(&tree, old, new).map_err(proof_error)?;
            Ok(Json(ConsistencyView {
                old_size: old,
                new_size: new,
                old_root: hex(&merkle::root(&tree, old)?),
                new_root: hex(&merkle::root(&tree, new)?),
                proof: proof.iter().map(|h| hex(h)).collect(),
            }))
        })
        .await
}
