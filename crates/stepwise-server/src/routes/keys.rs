//! API keys (admin): create, list, revoke.

use super::{Shared, body, json, now, optional_id, path};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stepwise_api::{ErrorBody, KeyRequest, KeyView, NewKey};
use stepwise_store::keys::{KeyRecord, Role};

/// Create an API key (admin).
#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    request_body = KeyRequest,
    responses(
        (status = 201, description = "The key, shown once", body = NewKey),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(app): Shared,
    caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let request: KeyRequest = json(&body(raw)?)?;
    let role = Role::from(request.role);
    let principal = optional_id("principal", request.principal.as_deref())?;
    let key = stepwise_store::keys::generate_key()
        .map_err(|e| ApiError::internal(format!("could not create a key: {e}")))?;
    let record = KeyRecord::new(&key, role, principal, now());
    let stored = record.clone();
    app.engine
        .pool()
        .with::<_, ApiError>(move |s| Ok(s.put_key(&stored)?))
        .await?;
    app.keys.put(record.hash, Some(record.clone()));
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            key,
            record: (&record).into(),
        }),
    )
        .into_response())
}

/// Every API key's record (admin).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "The keys' records", body = [KeyView]),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(State(app): Shared, caller: Caller) -> Result<Json<Vec<KeyView>>, ApiError> {
    caller.require(Role::Admin)?;
    let keys = app
        .engine
        .pool()
        .with::<_, ApiError>(|s| Ok(s.keys()?))
        .await?;
    Ok(Json(keys.iter().map(KeyView::from).collect()))
}

/// Revoke an API key (admin). It stops working at once here, and within a few seconds on
/// other servers sharing the store.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(app): Shared,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let id = path(id)?;
    let target = id.clone();
    let found = app
        .engine
        .pool()
        .with::<_, ApiError>(move |s| Ok(s.revoke_key(&target)?))
        .await?;
    if !found {
        return Err(ApiError::not_found(format!("no key with id {id:?}")));
    }
    app.keys.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}
