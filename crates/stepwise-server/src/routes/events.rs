//! The log's entries: record evidence, read one entry.

use super::{Shared, batch_size, body, json, path, query};

use crate::auth::Caller;
use crate::error::{ApiError, Code};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;
use serde_json::value::RawValue;
use stepwise::evidence::{Event, FORMAT_V3};
use stepwise::ledger::Origin;
use stepwise_api::{
    AppendQuery, AppendResponse, AppendResult, CheckpointRef, ErrorBody, EventView, EventsBody, hex,
};
use stepwise_engine::{Error, authorize};
use stepwise_store::keys::Role;
use stepwise_store::names::open_entry;

/// Record evidence: one event (an object) or a batch (an array).
///
/// The reply comes once the recorded events are durable and gives their log indexes. A batch
/// is answered 200 with a result per event: the valid ones are recorded, each refused one says
/// why. A single event is answered 201, or 422 when refused. A key records only as its own
/// principal: an unsigned event with no `author` is recorded as the key's principal, and one
/// naming another author is refused (403) unless it carries that author's signature.
///
/// The log stamps each entry with the time it heard it (`recorded_at`); an event whose `at`
/// lies outside the policy's window around that time (`[time] max_backdate`, default 24 h
/// back; `max_ahead`, 5 min ahead) is refused with code `at_out_of_window`. An operator loads
/// older, dated evidence with `?history=true` and an admin key, in the names the data set
/// gives; those entries are marked `"history": true`.
#[utoipa::path(post, path = "/v1/events", tag = "log",
    params(AppendQuery),
    request_body(content = EventsBody, description = "An event (see docs/LOG.md), or an array of events"),
    responses(
        (status = 200, description = "Batch processed", body = AppendResponse),
        (status = 201, description = "Event recorded", body = AppendResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not allowed for this key", body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 422, description = "The event was refused", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody),
        (status = 503, description = "Unavailable; nothing recorded", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn append(
    State(app): Shared,
    caller: Caller,
    q: Result<Query<AppendQuery>, QueryRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Recorder)?;
    let origin = if query(q)?.history.unwrap_or(false) {
        caller.require(Role::Admin).map_err(|_| {
            ApiError::forbidden(format!(
                "key {} may not load history: `?history=true` takes an admin key (loading dated \
                 evidence is an operator's act)",
                caller.key_id
            ))
        })?;
        Origin::History
    } else {
        Origin::Live
    };
    let raw = body(raw)?;
    // Each event is read from its own slice of the body (`Event::from_json`), not from a tree
    // of the whole batch.
    let (items, single): (Vec<&RawValue>, bool) =
        match raw.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => (json(&raw)?, false),
            Some(b'{') => (vec![json(&raw)?], true),
            _ => {
                return Err(ApiError::bad_request(
                    "request body: expected an event object or an array of events",
                ));
            }
        };
    batch_size(items.len(), app.limits.max_batch, "events")?;
    let recorder = caller.recorder();
    // Parse every event; refusals keep their place in the results.
    let mut parsed: Vec<Option<Error>> = Vec::with_capacity(items.len());
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match Event::from_json(item.get()) {
            Ok(mut event) => {
                // History is the operator's: an admin key loads a data set in the names it
                // gives (it could create keys for them anyway), and the entries say so.
                if origin == Origin::Live {
                    authorize(&recorder, &mut event, if single { None } else { Some(i) })?;
                }
                events.push(event);
                parsed.push(None);
            }
            Err(e) => parsed.push(Some(Error::refused(e))),
        }
    }
    let written = if events.is_empty() {
        None
    } else {
        Some(app.engine.append(events, origin).await?)
    };
    let checkpoint = written
        .as_ref()
        .map_or_else(|| app.engine.live().checkpoint(), |w| w.checkpoint.clone());
    let mut ledger_results = written.map(|w| w.results.into_iter());
    // Each event's fate, typed: its index, or the error it was refused with.
    let fates: Vec<Result<u64, Error>> = parsed
        .into_iter()
        .map(|p| match p {
            Some(error) => Err(error),
            None => match ledger_results.as_mut().and_then(Iterator::next) {
                Some(Ok(index)) => Ok(index),
                Some(Err(e)) => Err(Error::refused(e)),
                None => Err(Error::new(
                    Code::Internal,
                    "the ledger gave no result for this event",
                )),
            },
        })
        .collect();
    if single && let Some(Err(error)) = fates.first() {
        return Err(ApiError(error.clone()));
    }
    let results: Vec<AppendResult> = fates
        .into_iter()
        .map(|fate| match fate {
            Ok(index) => AppendResult {
                index: Some(index),
                error: None,
            },
            Err(error) => AppendResult {
                index: None,
                error: Some(error.body),
            },
        })
        .collect();
    let recorded = results.iter().filter(|r| r.index.is_some()).count();
    let reply = AppendResponse {
        refused: results.len() - recorded,
        recorded,
        results,
        checkpoint: CheckpointRef {
            size: checkpoint.size,
            root: hex(&checkpoint.root),
        },
    };
    if single {
        return Ok((StatusCode::CREATED, Json(reply)).into_response());
    }
    Ok(Json(reply).into_response())
}

/// Read one event of the log.
#[utoipa::path(get, path = "/v1/events/{index}", tag = "log",
    params(("index" = u64, Path, description = "Log index, from 0")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 400, description = "Malformed index", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn event(
    State(app): Shared,
    _caller: Caller,
    index: Result<Path<u64>, PathRejection>,
) -> Result<Json<EventView>, ApiError> {
    let index = path(index)?;
    let size = app.engine.live().checkpoint().size;
    if index >= size {
        return Err(ApiError::not_found(format!(
            "no entry {index}: the log holds {size} entries"
        )));
    }
    let (entry, openings) = app
        .engine
        .pool()
        .with::<_, ApiError>(move |s| {
            let entry = s
                .entry(index)?
                .ok_or_else(|| ApiError::not_found(format!("no entry {index}")))?;
            let openings = s.openings(index, index + 1)?;
            Ok((entry, openings))
        })
        .await?;
    let event: Value = serde_json::from_slice(&entry.bytes).unwrap_or(Value::Null);
    let sealed = event.get("v").and_then(Value::as_u64) == Some(FORMAT_V3);
    let opened = sealed.then(|| {
        let openings: Vec<_> = openings.into_iter().map(|o| o.opening).collect();
        open_entry(&entry.bytes, &openings)
    });
    Ok(Json(EventView {
        index,
        bytes: base64::engine::general_purpose::STANDARD.encode(&entry.bytes),
        leaf_hash: hex(&entry.leaf_hash),
        event,
        erased: opened
            .as_ref()
            .map(|o| o.erased.iter().map(|f| (*f).to_owned()).collect())
            .unwrap_or_default(),
        opened: opened.map(|o| o.event),
    }))
}
