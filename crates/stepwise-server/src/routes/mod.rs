//! The API, one module per resource, and the one table that lists its routes: the router and
//! the OpenAPI document are both made from [`table`], so neither can name a route the other
//! lacks.

mod approvals;
mod dashboard;
mod decisions;
mod events;
mod keys;
mod log;
pub(crate) mod mcp;
mod operations;
#[cfg(feature = "bench-peer")]
pub mod peer;
mod principals;
pub(crate) mod tiles;
mod trust;
pub(crate) mod ui;

use crate::app::App;
use crate::error::{ApiError, Code};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route with its handler and its OpenAPI description (paths and methods come from each
/// handler's `#[utoipa::path]`).
pub fn table() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::metrics))
        .routes(routes!(operations::openapi))
        .routes(routes!(events::append))
        .routes(routes!(events::event))
        .routes(routes!(log::checkpoint))
        .routes(routes!(log::inclusion))
        .routes(routes!(log::consistency))
        .routes(routes!(trust::trust))
        .routes(routes!(trust::decide))
        .routes(routes!(trust::decide_batch))
        .routes(routes!(trust::explain))
        .routes(routes!(trust::rank))
        .routes(routes!(trust::promises))
        .routes(routes!(trust::policy))
        .routes(routes!(decisions::decisions))
        .routes(routes!(approvals::approvals))
        .routes(routes!(approvals::answer))
        .routes(routes!(dashboard::whoami))
        .routes(routes!(dashboard::principals))
        .routes(routes!(dashboard::overview))
        .routes(routes!(dashboard::series))
        .routes(routes!(dashboard::vouches))
        .routes(routes!(dashboard::stream))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(principals::forget))
        .routes(routes!(principals::secret))
}

type Shared = State<Arc<App>>;

pub use stepwise_engine::now;
use stepwise_engine::question::{optional_id, optional_time};

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::PayloadTooLarge,
                "the request body is larger than the server's limit (`stepwise serve --max-body`)",
            )
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

/// A batch of `len` items (`what`) is refused when empty (400) or over `limit` (413).
fn batch_size(len: usize, limit: usize, what: &str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::bad_request("request body: the batch is empty"));
    }
    if len > limit {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!(
                "a batch holds at most {limit} {what}, not {len} (`stepwise serve --max-batch`)"
            ),
        ));
    }
    Ok(())
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|e| ApiError::bad_request(format!("path: {}", e.body_text())))
}

fn json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}
