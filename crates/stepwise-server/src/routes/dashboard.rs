//! What the dashboard reads (any client may): who a key is, the principals table, the
//! overview, a principal's standing through time and its vouches, and the live stream. Each is
//! answered from views kept beside the live state (`stepwise_engine::board`): none walks the whole state,
//! replays the log, or computes the network rank inside the request.

use super::{Shared, path, query};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use stepwise::evidence::{Body, Event, Id};
use stepwise::model::VouchRow;
use stepwise_api::{
    CheckpointSummary, ErrorBody, EventSummary, LevelCount, OverdueView, OverviewView,
    PrincipalRow, PrincipalStep, PrincipalsQuery, PrincipalsView, PromiseRow, SeriesQuery,
    SeriesView, VouchView, VouchesView, WhoAmI, hex,
};
use stepwise_engine::board::{Cursor, News};
use stepwise_engine::reads::Series;

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
    let prefix = q.prefix.unwrap_or_default();
    if prefix.len() > stepwise::evidence::MAX_ID_LEN {
        return Err(ApiError::field(
            "prefix",
            format!(
                "is {} bytes long; an id is at most {}",
                prefix.len(),
                stepwise::evidence::MAX_ID_LEN
            ),
        ));
    }
    let sort = q.sort.unwrap_or_default();
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("{limit} is not between 1 and 500"),
        ));
    }
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            Cursor::decode(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a next_cursor this endpoint gave"))
        })
        .transpose()?;
    let table = app.engine.live().table();
    let small = table.rows.len() <= 16_384;
    let names = level_names(&app);
    // A page walks at most the whole order once (a prefix with sorting by a figure): a
    // blocking thread at scale, inline when the table is small.
    let answer = move || {
        let (rows, more, matched) = table.page(sort, &prefix, cursor.as_ref(), limit);
        PrincipalsView {
            next_cursor: more
                .then(|| rows.last().map(|r| Cursor::after(sort, r).encode()))
                .flatten(),
            principals: rows
                .into_iter()
                .map(|r| PrincipalRow {
                    principal: r.id.to_string(),
                    level: r.level,
                    level_name: names.get(r.level).cloned().unwrap_or_default(),
                    expected: r.expected,
                    uncertainty: r.uncertainty,
                    rank: r.rank,
                })
                .collect(),
            matched,
            total: table.rows.len(),
            log_size: table.log_size,
            at: table.at.to_string(),
        }
    };
    if small {
        Ok(Json(answer()))
    } else {
        tokio::task::spawn_blocking(answer)
            .await
            .map(Json)
            .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))
    }
}

fn level_names(app: &App) -> Vec<String> {
    app.engine
        .policy()
        .ladder
        .levels()
        .iter()
        .map(|l| l.name.clone())
        .collect()
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
    let checkpoint = app.engine.live().checkpoint();
    let size = checkpoint.size;
    let recent: Vec<(u64, Event)> = app
        .engine
        .pool()
        .with::<_, ApiError>(move |store| {
            let mut events = Vec::new();
            store.scan(size.saturating_sub(10), size, &mut |entry| {
                events.push((entry.index, stepwise_store::decode_entry(&entry)?));
                Ok(())
            })?;
            Ok(events)
        })
        .await?;
    let table = app.engine.live().table();
    let names = level_names(&app);
    let (principals, recent_steps) = app.engine.live().read_journal(|state, journal| {
        let trust = state.trust();
        let steps = journal
            .recent_steps()
            .take(10)
            .filter_map(|(s, step)| {
                Some(PrincipalStep::new(
                    state.ladder(),
                    trust.principal(*s)?,
                    step,
                ))
            })
            .collect::<Vec<_>>();
        (trust.principals(), steps)
    });
    Ok(Json(OverviewView {
        log_size: size,
        checkpoint: CheckpointSummary {
            size,
            root: hex(&checkpoint.root),
            note: checkpoint.note,
        },
        principals,
        levels: names
            .into_iter()
            .enumerate()
            .map(|(level, name)| LevelCount {
                level,
                name,
                principals: table.levels.get(level).copied().unwrap_or(0),
            })
            .collect(),
        recent_events: recent.iter().rev().map(|(i, e)| summary(*i, e)).collect(),
        recent_steps,
        overdue: OverdueView {
            count: table.overdue.0,
            promises: table.overdue.1.iter().map(PromiseRow::from).collect(),
        },
        table_log_size: table.log_size,
        at: table.at.to_string(),
    }))
}

/// One entry in brief.
fn summary(index: u64, event: &Event) -> EventSummary {
    let subject = match &event.body {
        Body::Promise { promisee, .. } => Some(promisee),
        Body::Vouch { subject, .. }
        | Body::Unvouch { subject, .. }
        | Body::Report { subject, .. }
        | Body::Rating { subject, .. } => Some(subject),
        Body::Key { principal, .. } => Some(principal),
        Body::Outcome { .. } => None,
    };
    EventSummary {
        index,
        kind: event.kind().name().to_owned(),
        author: event
            .author
            .as_ref()
            .map_or_else(String::new, Id::to_string),
        subject: subject.map(Id::to_string),
        at: event.at.to_string(),
    }
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
    Ok(Json(app.engine.series(&series)))
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
    Ok(Json(app.engine.live().read(|state| {
        let trust = state.trust();
        let view = |rows: Vec<VouchRow>| -> Vec<VouchView> {
            rows.into_iter()
                .filter_map(|v| {
                    Some(VouchView {
                        voucher: trust.principal(v.voucher)?.to_string(),
                        subject: trust.principal(v.subject)?.to_string(),
                        scope: v.scope.and_then(|s| trust.scope_name(s)).map(Id::to_string),
                        index: v.index,
                        counted: v.counted,
                    })
                })
                .collect()
        };
        let (received, given) =
            trust
                .principal_index(&subject)
                .map_or((Vec::new(), Vec::new()), |s| {
                    (
                        view(trust.vouches_received(s)),
                        view(trust.vouches_given(s)),
                    )
                });
        VouchesView {
            principal: subject.to_string(),
            received,
            given,
            log_size: trust.log_size(),
        }
    })))
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
    let events = futures_util::stream::unfold(
        (Some(first), listener, closing),
        |(pending, mut listener, mut closing)| async move {
            use tokio::sync::broadcast::error::RecvError;
            let event = match pending {
                Some(news) => announce(&news),
                None => {
                    let received = tokio::select! {
                        received = listener.recv() => received,
                        // The server is shutting down (or gone): the stream ends.
                        _ = closing.wait_for(|closing| *closing) => return None,
                    };
                    match received {
                        Ok(news) => announce(&news),
                        Err(RecvError::Lagged(missed)) => SseEvent::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{missed}}}")),
                        Err(RecvError::Closed) => return None,
                    }
                }
            };
            Some((Ok(event), (None, listener, closing)))
        },
    );
    Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}

fn announce(news: &News) -> SseEvent {
    match news {
        News::Log { log_size, root } => SseEvent::default()
            .event("log")
            .data(format!("{{\"log_size\":{log_size},\"root\":\"{root}\"}}")),
        News::Step(step) => SseEvent::default()
            .event("step")
            .data(serde_json::to_string(&**step).unwrap_or_default()),
    }
}
