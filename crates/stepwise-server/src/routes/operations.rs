//! Health, metrics and the OpenAPI document: the endpoints that need no key.

use super::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use stepwise_api::Health;

/// The server is up, and how far behind the store it is, as its follower last saw the store
/// (no read of the store: this stays the cheapest answer).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server answers", body = Health),
        (status = 503, description = "The follower's last read of the store failed", body = Health)))]
pub async fn healthz(State(app): Shared) -> Response {
    let (log_size, store_log_size, failing) = app.engine.lag();
    let health = Health {
        status: if failing { "store_unreachable" } else { "ok" },
        log_size,
        store_log_size,
        behind: store_log_size - log_size,
    };
    let status = if failing {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::OK
    };
    (status, Json(health)).into_response()
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(State(app): Shared) -> Response {
    let (size, rank_size, principals, pairs) = app.engine.live().read(|s| {
        let trust = s.trust();
        let counts = (trust.principals(), trust.pairs());
        (trust.log_size(), trust.rank_log_size(), counts.0, counts.1)
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.engine
            .metrics()
            .render(stepwise_engine::metrics::Gauges {
                log_size: size,
                rank_log_size: rank_size,
                principals,
                pairs,
                witnessed_log_size: app.engine.witnessed_size().unwrap_or(0),
            }),
    )
        .into_response()
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi(State(app): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}
