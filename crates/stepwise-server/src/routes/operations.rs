//! Health, metrics and the OpenAPI document: the endpoints that need no key.

use super::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use stepwise_api::Health;

/// The server is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server answers", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(State(app): Shared) -> Response {
    let (size, rank_size, principals) = app.engine.live().read(|s| {
        let trust = s.trust();
        (trust.log_size(), trust.rank_log_size(), trust.principals())
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.engine
            .metrics()
            .render(stepwise_engine::metrics::Gauges {
                log_size: size,
                rank_log_size: rank_size,
                principals,
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
