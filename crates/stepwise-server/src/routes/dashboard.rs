//! What the dashboard reads (any client may): who a key is, the principals table, the
//! overview, a principal's standing through time and its vouches, and the live stream. Each
//! handler turns its request into the engine's read (`stepwise_engine::reads`) and the answer
//! into JSON; the stream forwards the engine's news.

use super::{Shared, path, query};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use stepwise::evidence::Id;
use stepwise_api::{
    ErrorBody, OverviewView, PrincipalsQuery, PrincipalsView, SeriesQuery, SeriesView, VouchesView,
    WhoAmI, hex,
};
use stepwise_engine::board::News;
use stepwise_engine::reads::{PrincipalsPage, Series};
use stepwise_store::names::Names;

/// The key this request was made with: its role and the principal it records as.
#[utoipa::path(get, path = "/v1/whoami", tag = "dashboard",
    responses(
        (status = 200, description = "The key", body = WhoAmI),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        key_id: caller.key_id,
        role: caller.role.as_str().to_owned(),
        principal: caller.principal.map(|p| p.to_string()),
    })
}

/// The principals, a page at a time: by id prefix, sorted by id, level, expected trust or
/// network rank. Served from a table the server recomputes in the background after the log
/// grows (its `log_size` says which log it reflects).
#[utoipa::path(get, path = "/v1/principals", tag = "dashboard",
    params(PrincipalsQuery),
    responses(
        (status = 200, description = "A page of principals", body = PrincipalsView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn principals(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<PrincipalsQuery>, QueryRejection>,
) -> Result<Json<PrincipalsView>, ApiError> {
    let q = query(q)?;
    let page = PrincipalsPage::new(q.prefix, q.sort, q.cursor.as_deref(), q.limit)?;
    Ok(Json(app.engine.principals(page).await?))
}

/// The log and the ladder at a glance: log size and latest checkpoint, principals per level,
/// the latest entries, promotions and demotions, and the promises past due.
#[utoipa::path(get, path = "/v1/overview", tag = "dashboard",
    responses(
        (status = 200, description = "The overview", body = OverviewView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn overview(State(app): Shared, _caller: Caller) -> Result<Json<OverviewView>, ApiError> {
    Ok(Json(app.engine.overview().await?))
}

/// A principal's standing (expected trust from direct evidence, as the ladder reads it) and
/// level through time, at evenly spaced instants from its first evidence to now, with every
/// promotion and demotion. Computed in one pass over the standing marks the server keeps for
/// it (one after each event about it) and its timeline: no replay.
#[utoipa::path(get, path = "/v1/principals/{id}/series", tag = "dashboard",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$"), SeriesQuery),
    responses(
        (status = 200, description = "The series", body = SeriesView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn series(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<SeriesView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    let series = Series::new(subject, query(q)?.points)?;
    Ok(Json(app.engine.series(&series)?))
}

/// The active vouches a principal received and gave, and whether each voucher's word counts.
#[utoipa::path(get, path = "/v1/principals/{id}/vouches", tag = "dashboard",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$")),
    responses(
        (status = 200, description = "The vouches", body = VouchesView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn vouches(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<VouchesView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    Ok(Json(app.engine.vouches(&subject)))
}

/// Server-sent events as the log grows: `log` (`{"log_size", "root"}`) once on connecting and
/// after every growth, `step` (a promotion or demotion, as in the overview's `recent_steps`)
/// for every one folded, and `lagged` (`{"missed": n}`) when the listener fell so far behind
/// that announcements were dropped (read the overview again). A comment every 15 s keeps the
/// connection open.
#[utoipa::path(get, path = "/v1/stream", tag = "dashboard",
    responses(
        (status = 200, description = "The stream", body = String, content_type = "text/event-stream"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stream(
    State(app): Shared,
    _caller: Caller,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let listener = app.engine.live().listen();
    let checkpoint = app.engine.live().checkpoint();
    let first = News::Log {
        log_size: checkpoint.size,
        root: hex(&checkpoint.root),
    };
    let closing = app.closing.subscribe();
    let names = std::sync::Arc::clone(app.engine.names());
    let events = futures_util::stream::unfold(
        (Some(first), listener, closing),
        move |(pending, mut listener, mut closing)| {
            let names = std::sync::Arc::clone(&names);
            async move {
                use tokio::sync::broadcast::error::RecvError;
                let event = match pending {
                    Some(news) => announce(&news, &names),
                    None => {
                        let received = tokio::select! {
                            received = listener.recv() => received,
                            // The server is shutting down (or gone): the stream ends.
                            _ = closing.wait_for(|closing| *closing) => return None,
                        };
                        match received {
                            Ok(news) => announce(&news, &names),
                            Err(RecvError::Lagged(missed)) => SseEvent::default()
                                .event("lagged")
                                .data(format!("{{\"missed\":{missed}}}")),
                            Err(RecvError::Closed) => return None,
                        }
                    }
                };
                Some((Ok(event), (None, listener, closing)))
            }
        },
    );
    Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}

/// One announcement, principals named by their ids.
fn announce(news: &News, names: &Names) -> SseEvent {
    match news {
        News::Log { log_size, root } => SseEvent::default()
            .event("log")
            .data(format!("{{\"log_size\":{log_size},\"root\":\"{root}\"}}")),
        News::Step(step) => SseEvent::default()
            .event("step")
            .data(names.open_json(&serde_json::to_string(&**step).unwrap_or_default())),
    }
}
