//! `/ui/`: the dashboard, a page of static assets embedded in the binary that talks to the JSON
//! API with the user's key, as any other client does. Every `/ui/…` address that is not an
//! asset answers the page itself, which reads its view from the address (so views can be
//! linked and bookmarked). The assets hold no data and need no key; the API calls they make do.
//!
//! `STEPWISE_UI_DIR`, when set, serves the assets from that folder instead, read at each
//! request: for working on the pages without rebuilding the server.

use crate::app::App;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

/// The embedded assets: (path under `/ui/assets/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", JS, include_bytes!("../../ui/app.js")),
    ("dom.js", JS, include_bytes!("../../ui/dom.js")),
    ("session.js", JS, include_bytes!("../../ui/session.js")),
    (
        "views/entry.js",
        JS,
        include_bytes!("../../ui/views/entry.js"),
    ),
    (
        "views/ladder.js",
        JS,
        include_bytes!("../../ui/views/ladder.js"),
    ),
    (
        "views/overview.js",
        JS,
        include_bytes!("../../ui/views/overview.js"),
    ),
    (
        "views/principal.js",
        JS,
        include_bytes!("../../ui/views/principal.js"),
    ),
    (
        "views/principals.js",
        JS,
        include_bytes!("../../ui/views/principals.js"),
    ),
    (
        "views/receipt.js",
        JS,
        include_bytes!("../../ui/views/receipt.js"),
    ),
    (
        "views/review.js",
        JS,
        include_bytes!("../../ui/views/review.js"),
    ),
    ("style.css", CSS, include_bytes!("../../ui/style.css")),
    ("receipt.js", JS, include_bytes!("../../ui/receipt.js")),
    ("verify.js", JS, include_bytes!("../../ui/verify.js")),
    (
        "vendor/uplot/uPlot.iife.min.js",
        JS,
        include_bytes!("../../ui/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        CSS,
        include_bytes!("../../ui/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/uplot/LICENSE",
        TEXT,
        include_bytes!("../../ui/vendor/uplot/LICENSE"),
    ),
];

/// The page every view is drawn in.
const INDEX: &[u8] = include_bytes!("../../ui/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// Scripts and styles from this server only; the page talks to this server only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(page))
        .route("/ui/assets/{*path}", get(asset))
        .route("/ui/{*view}", get(page))
}

async fn page() -> Response {
    match read("index.html", INDEX) {
        Some(bytes) => reply(HTML, bytes, "no-cache"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    let Some(&(name, kind, bytes)) = ASSETS.iter().find(|(name, ..)| *name == path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    match read(name, bytes) {
        Some(bytes) => reply(kind, bytes, "no-cache"),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The asset's bytes: embedded, or from `STEPWISE_UI_DIR` when that is set.
fn read(name: &str, embedded: &'static [u8]) -> Option<std::borrow::Cow<'static, [u8]>> {
    match std::env::var_os("STEPWISE_UI_DIR") {
        Some(dir) => std::fs::read(std::path::Path::new(&dir).join(name))
            .ok()
            .map(Into::into),
        None => Some(embedded.into()),
    }
}

fn reply(
    kind: &'static str,
    bytes: std::borrow::Cow<'static, [u8]>,
    cache: &'static str,
) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        bytes.into_owned(),
    )
        .into_response()
}
