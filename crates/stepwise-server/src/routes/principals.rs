//! A principal's privacy (admin): forget it, or hand it its own secret.

use super::{Shared, path, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use stepwise::evidence::{ErasureReason, Id, base64_encode};
use stepwise_api::{ErrorBody, ForgetQuery, ForgetView, SecretView};
use stepwise_store::keys::Role;

/// Forget a principal (admin).
///
/// Erases its secret (so its pseudonym links to nobody), the openings of every entry that names
/// it (notes, signatures, promise ids), the principal its API keys name (the keys are
/// revoked) and its id in the gate's decision log (replaced by its pseudonym); appends an
/// erasure entry naming only the pseudonym and the reason; scrubs the database's files. Every
/// entry, proof and checkpoint stays as it was, and decisions made before replay exactly. The
/// id then answers as a principal with no evidence. 404 when no principal has this id (also
/// when it was forgotten already); 409 `in_clear_entries` when entries of formats 1 and 2 name
/// it in the clear (everything else of it is forgotten all the same).
#[utoipa::path(delete, path = "/v1/principals/{id}", tag = "principals",
    params(("id" = String, Path, description = "The principal"), ForgetQuery),
    responses(
        (status = 200, description = "Forgotten", body = ForgetView),
        (status = 400, description = "Malformed id or reason", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "No such principal", body = ErrorBody),
        (status = 409, description = "Forgotten but for entries naming it in the clear", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn forget(
    State(app): Shared,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<ForgetQuery>, QueryRejection>,
) -> Result<Json<ForgetView>, ApiError> {
    caller.require(Role::Admin)?;
    let id = path(id)?;
    Id::parse("id", &id)?;
    let reason = match query(q)?.reason {
        Some(r) => ErasureReason::parse("reason", &r)?,
        None => ErasureReason::Request,
    };
    let forgotten = app.engine.forget(&id, reason).await;
    // Its keys are revoked in the store: no cached record may outlive that.
    app.keys.clear();
    Ok(Json(forgotten?))
}

/// A principal's own secret, so that it can find and check its entries in a copy of the log
/// (its pseudonym is `~` and the first 16 bytes, in hex, of HMAC-SHA256(secret,
/// "stepwise/v3/pseudonym" ‖ 0x00 ‖ id); see docs/PRIVACY.md). For an admin key, or the key of
/// the principal itself.
#[utoipa::path(get, path = "/v1/principals/{id}/secret", tag = "principals",
    params(("id" = String, Path, description = "The principal")),
    responses(
        (status = 200, description = "Its pseudonym and secret", body = SecretView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Neither an admin key nor the principal's own", body = ErrorBody),
        (status = 404, description = "No such principal, or named in the clear", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn secret(
    State(app): Shared,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SecretView>, ApiError> {
    let id = Id::parse("id", &path(id)?)?;
    if caller.principal.as_ref() != Some(&id) {
        caller.require(Role::Admin).map_err(|_| {
            ApiError::forbidden(format!(
                "key {} may not read {id}'s secret: only an admin key or {id}'s own key may",
                caller.key_id
            ))
        })?;
    }
    let wanted = id.clone();
    let record = app
        .engine
        .pool()
        .with::<_, ApiError>(move |s| Ok(s.principal(wanted.as_str())?))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{id} has no secret: the log has never named it, names it in the clear, or \
                 forgot it"
            ))
        })?;
    Ok(Json(SecretView {
        id: record.id,
        pseudonym: record.pseudonym,
        secret: base64_encode(&record.secret),
    }))
}
