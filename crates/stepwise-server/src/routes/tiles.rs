//! The log as C2SP tlog-tiles, under the policy's `[log] tiles_prefix` (`/tlog` by default):
//! `<prefix>/checkpoint` (the signed note), `<prefix>/tile/<L>/<N>[.p/<W>]` (hash tiles) and
//! `<prefix>/tile/entries/<N>[.p/<W>]` (entry bundles: the leaves' bytes, sealed as they are,
//! so a reader sees pseudonyms and commitments, never ids).
//!
//! Any API key may read them; with `[log] public = true`, anyone. A tile exists once the
//! checkpoint this server serves covers it; it never changes after, so it is served with a
//! year-long, immutable cache lifetime, and full tiles are kept in memory. The checkpoint is
//! cached for a second at most. Entry bundles are gzipped for clients that accept it.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::io::Write as _;
use std::sync::Arc;
use stepwise::ledger::tiles::{Tile, TileKind};
use stepwise_store::Store;

/// The tiles API's routes, under `prefix`.
pub(crate) fn routes(prefix: &str) -> Router<Arc<App>> {
    Router::new()
        .route(&format!("{prefix}/checkpoint"), get(checkpoint))
        .route(&format!("{prefix}/tile/{{*path}}"), get(tile))
}

/// Refused with the caller's error unless the tiles are public or the caller has a key.
fn admit(app: &App, caller: Result<Caller, ApiError>) -> Result<(), ApiError> {
    if app.tiles_public {
        return Ok(());
    }
    caller.map(drop)
}

/// `Cache-Control` for what a key guards (`private`) or anyone may read (`public`).
fn cache_control(app: &App, lifetime: &'static str) -> HeaderValue {
    let scope = if app.tiles_public {
        "public"
    } else {
        "private"
    };
    HeaderValue::from_str(&format!("{scope}, {lifetime}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-store"))
}

async fn checkpoint(State(app): State<Arc<App>>, caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = admit(&app, caller) {
        return e.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, cache_control(&app, "max-age=1")),
        ],
        tiles_checkpoint(&app.engine).note,
    )
        .into_response()
}

/// The checkpoint `<prefix>/checkpoint` serves: with witnesses, the latest one their quorum
/// cosigned (as long as none has, the log's own); without, the newest.
fn tiles_checkpoint(engine: &stepwise_engine::Engine) -> stepwise_store::StoredCheckpoint {
    let witnessed = engine
        .witnessed()
        .filter(|_| engine.policy().witness.policy.is_some());
    witnessed.unwrap_or_else(|| engine.live().checkpoint())
}

async fn tile(
    State(app): State<Arc<App>>,
    caller: Result<Caller, ApiError>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    match serve_tile(&app, caller, &path, &headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn serve_tile(
    app: &Arc<App>,
    caller: Result<Caller, ApiError>,
    path: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    admit(app, caller)?;
    let tile =
        Tile::parse(&format!("tile/{path}")).map_err(|e| ApiError::not_found(e.to_string()))?;
    let size = app.engine.live().checkpoint().size;
    if !tile.within(size) {
        return Err(ApiError::not_found(format!(
            "{tile} is not in the log's tree of {size} entries (the checkpoint it serves)"
        )));
    }
    let bytes = match app.tiles.get(&tile) {
        Some(bytes) => bytes,
        None => {
            let bytes: Bytes = app
                .engine
                .pool()
                .with::<_, ApiError>(move |s: &mut dyn Store| {
                    Ok(stepwise_store::tiles::read_tile(&*s, &tile)?)
                })
                .await?
                .into();
            if tile.is_full() {
                app.tiles.put(tile, bytes.clone());
            }
            bytes
        }
    };
    let gzip = tile.kind == TileKind::Entries && accepts_gzip(headers);
    let body = if gzip { gzipped(&bytes)? } else { bytes };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CACHE_CONTROL,
                cache_control(app, "max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if tile.kind == TileKind::Entries {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    Ok(response)
}

/// Whether `Accept-Encoding` names gzip (without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn gzipped(bytes: &[u8]) -> Result<Bytes, ApiError> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("compressing an entry bundle: {e}")))
}
