//! API keys: who is calling, with which role, within which budget.
//!
//! A request names its key as `Authorization: Bearer <key>`. Only the key's SHA-256 is stored
//! and compared; records are cached for a few seconds so a busy key costs no store read, which
//! bounds how long a revoked key keeps working elsewhere to [`KEY_TTL`](crate::app::KEY_TTL)
//! (at once in the process that revoked it).

use crate::app::App;
use crate::error::{ApiError, Code};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use std::sync::Arc;
use stepwise::evidence::Id;
use stepwise_store::keys::{Role, check_key_text, key_hash};

/// Whether `role` includes what `needed` allows: admin ⊇ recorder ⊇ reader.
pub fn allows(role: Role, needed: Role) -> bool {
    let rank = |r: Role| match r {
        Role::Reader => 0,
        Role::Recorder => 1,
        Role::Admin => 2,
    };
    rank(role) >= rank(needed)
}

/// The authenticated caller of a request, within its rate budget.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's public id.
    pub key_id: String,
    /// Its role.
    pub role: Role,
    /// The principal it records as, if any.
    pub principal: Option<Id>,
}

impl Caller {
    /// Who records when this key appends: its principal, named by its key in a refusal.
    pub fn recorder(&self) -> stepwise_engine::Recorder {
        stepwise_engine::Recorder {
            credential: format!("key {}", self.key_id),
            principal: self.principal.clone(),
        }
    }

    /// 403 unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if allows(self.role, needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs a {} key; key {} is a {} key",
                needed.as_str(),
                self.key_id,
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing API key: send `Authorization: Bearer <key>` (create one with `stepwise key create`)",
                )
            })?
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let key = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <key>`")
            })?;
        // A text no key could have is refused without asking the store.
        check_key_text(key).map_err(|e| ApiError::unauthorized(e.to_string()))?;
        let record = app
            .keys
            .lookup(app.engine.pool(), key_hash(key))
            .await?
            .filter(|r| !r.revoked)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        if let Err(wait) = app.limiter.take(&record.id) {
            app.engine.metrics().rate_limited();
            let mut e = ApiError::new(
                Code::RateLimited,
                format!(
                    "key {} is over its rate of {} requests per second; retry in {wait} s",
                    record.id, app.limits.rate
                ),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
        Ok(Caller {
            key_id: record.id,
            role: record.role,
            principal: record.principal,
        })
    }
}
