//! The HTTP handlers, one per endpoint, each with its OpenAPI description.

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, Code};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;
use std::sync::Arc;
use stepwise::evidence::{Event, Id, Time};
use stepwise::keys::{KeyRecord, Role};
use stepwise::ladder::LadderState;
use stepwise::ledger::replay::Prefix;
use stepwise::ledger::{Origin, merkle};
use stepwise::store::{Store, StoredTree};
use stepwise_api::{
    self as wire, AppendQuery, AppendResponse, AppendResult, AtQuery, CheckpointRef,
    ConsistencyQuery, ConsistencyView, DecideReply, DecideRequest, DecisionView, ErrorBody,
    EventView, EventsBody, ExplainView, Health, InclusionQuery, InclusionView, KeyRequest, KeyView,
    NewKey, PolicyView, RankQuery, RankRow, RankView, TrustQuery, TrustView, VerdictView, hex,
};

type Shared = State<Arc<App>>;

/// The current instant, by the clock the ledger stamps entries with.
pub fn now() -> Time {
    use stepwise::ledger::Clock as _;
    stepwise::ledger::SystemClock.now()
}

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

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|e| ApiError::bad_request(format!("path: {}", e.body_text())))
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

fn optional_id(field: &str, text: Option<&str>) -> Result<Option<Id>, ApiError> {
    Ok(text.map(|t| Id::parse(field, t)).transpose()?)
}

fn optional_time(field: &str, text: Option<&str>) -> Result<Option<Time>, ApiError> {
    Ok(text.map(|t| Time::parse(field, t)).transpose()?)
}

/// How long an answer from the live state may take.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cost {
    /// Microseconds (a decision): answered on the async thread.
    Quick,
    /// May recompute the network rank after the log grew: answered on a blocking thread.
    Heavy,
}

/// Runs `f` on the fold of the first `log_size` entries of the log (default: all) up to
/// instant `at` (default: now), as `stepwise … --log-size --at` does: every answer reports its
/// log size and instant, and asking again with both gives it again, byte for byte, whatever
/// was appended since. The live state in memory answers the latest log size at any instant
/// from its latest event on; anything else is replayed from the store.
async fn with_state<R: Send + 'static, F: FnOnce(&LadderState, Time) -> R + Send + 'static>(
    app: &Arc<App>,
    log_size: Option<u64>,
    at: Option<Time>,
    cost: Cost,
    f: F,
) -> Result<R, ApiError> {
    let now = now();
    let attempt = if cost == Cost::Quick {
        app.live.answer(log_size, at, now, f)
    } else {
        let live = Arc::clone(&app.live);
        tokio::task::spawn_blocking(move || live.answer(log_size, at, now, f))
            .await
            .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))?
    };
    match attempt {
        Ok(answer) => Ok(answer),
        Err(f) => replay(app, log_size, at, now, f).await,
    }
}

/// An earlier log size or instant: the log is folded from the store, at most two such replays
/// at once.
async fn replay<R: Send + 'static>(
    app: &Arc<App>,
    log_size: Option<u64>,
    at: Option<Time>,
    now: Time,
    f: impl FnOnce(&LadderState, Time) -> R + Send + 'static,
) -> Result<R, ApiError> {
    let _permit = app
        .replays
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let model = app.policy.model.clone();
    let ladder = app.policy.ladder.clone();
    app.pool
        .with(move |store| {
            if let Some(n) = log_size {
                let size = store.size()?;
                if n > size {
                    return Err(ApiError::field(
                        "log_size",
                        format!("{n} is larger than the log ({size} entries)"),
                    ));
                }
            }
            let prefix = Prefix {
                log_size,
                until: at,
            };
            let state = LadderState::replay(&*store, model, ladder, prefix, &mut |_| {})?;
            let at = at.unwrap_or_else(|| state.trust().instant_for(now));
            Ok(f(&state, at))
        })
        .await
}

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
    let (size, principals) = app
        .live
        .read(|s| (s.trust().log_size(), s.trust().principals()));
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(size, principals),
    )
        .into_response()
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
        .into_response()
}

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
    let value: Value = json(&raw)?;
    let (items, single) = match value {
        Value::Array(items) => (items, false),
        object @ Value::Object(_) => (vec![object], true),
        _ => {
            return Err(ApiError::bad_request(
                "request body: expected an event object or an array of events",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("request body: the batch is empty"));
    }
    if items.len() > app.limits.max_batch {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!(
                "a batch holds at most {} events, not {} (`stepwise serve --max-batch`)",
                app.limits.max_batch,
                items.len()
            ),
        ));
    }
    // Parse every event; refusals keep their place in the results.
    let mut parsed: Vec<Option<ErrorBody>> = Vec::with_capacity(items.len());
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match Event::from_value(item) {
            Ok(mut event) => {
                // History is the operator's: an admin key loads a data set in the names it
                // gives (it could create keys for them anyway), and the entries say so.
                if origin == Origin::Live {
                    authorize(&caller, &mut event, if single { None } else { Some(i) })?;
                }
                events.push(event);
                parsed.push(None);
            }
            Err(e) => parsed.push(Some(refusal(e))),
        }
    }
    let written = if events.is_empty() {
        None
    } else {
        Some(app.writer.append(events, origin).await?)
    };
    let checkpoint = written
        .as_ref()
        .map_or_else(|| app.live.checkpoint(), |w| w.checkpoint.clone());
    let mut ledger_results = written.map(|w| w.results.into_iter());
    let results: Vec<AppendResult> = parsed
        .into_iter()
        .map(|p| match p {
            Some(error) => AppendResult {
                index: None,
                error: Some(error),
            },
            None => match ledger_results.as_mut().and_then(Iterator::next) {
                Some(Ok(index)) => AppendResult {
                    index: Some(index),
                    error: None,
                },
                Some(Err(e)) => AppendResult {
                    index: None,
                    error: Some(refusal(e)),
                },
                None => AppendResult {
                    index: None,
                    error: Some(ErrorBody {
                        code: Code::Internal.name().into(),
                        message: "the ledger gave no result for this event".into(),
                        field: None,
                    }),
                },
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
        if let Some(error) = reply.results.first().and_then(|r| r.error.as_ref()) {
            let mut e = ApiError::new(Code::of_refusal(&error.code), &error.message);
            e.body.field.clone_from(&error.field);
            return Err(e);
        }
        return Ok((StatusCode::CREATED, Json(reply)).into_response());
    }
    Ok(Json(reply).into_response())
}

fn refusal(e: stepwise::evidence::FieldError) -> ErrorBody {
    ErrorBody {
        code: Code::of_refusal(e.code).name().into(),
        message: format!("{}: {}", e.field, e.problem),
        field: Some(e.field),
    }
}

/// Nobody records in someone else's name: an unsigned event is authored by the key's principal
/// (filled in when absent); a signed one is checked by the ledger against its author's key.
fn authorize(caller: &Caller, event: &mut Event, position: Option<usize>) -> Result<(), ApiError> {
    if event.sig.is_some() {
        return Ok(());
    }
    let at = position.map_or(String::new(), |i| format!(" (event {i})"));
    let Some(principal) = &caller.principal else {
        return Err(ApiError::forbidden(format!(
            "key {} has no principal, so it may only relay signed events{at}",
            caller.key_id
        )));
    };
    match &event.author {
        None => event.author = Some(principal.clone()),
        Some(author) if author == principal => {}
        Some(author) => {
            return Err(ApiError::forbidden(format!(
                "key {} records as {principal}; it may not record an event authored by {author}{at} \
                 unless the event carries {author}'s signature",
                caller.key_id
            )));
        }
    }
    Ok(())
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
    let size = app.live.checkpoint().size;
    if index >= size {
        return Err(ApiError::not_found(format!(
            "no entry {index}: the log holds {size} entries"
        )));
    }
    let entry = app
        .pool
        .with(move |s| {
            s.entry(index)?
                .ok_or_else(|| ApiError::not_found(format!("no entry {index}")))
        })
        .await?;
    Ok(Json(EventView {
        index,
        bytes: base64::engine::general_purpose::STANDARD.encode(&entry.bytes),
        leaf_hash: hex(&entry.leaf_hash),
        event: serde_json::from_slice(&entry.bytes).unwrap_or(Value::Null),
    }))
}

/// The newest signed checkpoint, as a C2SP signed note (text).
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkpoint(State(app): Shared, _caller: Caller) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        app.live.checkpoint().note,
    )
        .into_response()
}

fn proof_error(e: merkle::ProofError<stepwise::store::StoreError>) -> ApiError {
    match e {
        merkle::ProofError::Source(e) => e.into(),
        other => ApiError::bad_request(other.to_string()),
    }
}

fn check_size(size: u64, log: u64, field: &str) -> Result<(), ApiError> {
    if size > log {
        return Err(ApiError::field(
            field,
            format!("{size} is larger than the log ({log} entries)"),
        ));
    }
    Ok(())
}

/// Proof that an entry is in the tree of a given size.
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "log",
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionView),
        (status = 400, description = "Out of range", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionView>, ApiError> {
    let q = query(q)?;
    let log = app.live.checkpoint().size;
    let size = q.size.unwrap_or(log);
    check_size(size, log, "size")?;
    if q.index >= size {
        return Err(ApiError::field(
            "index",
            format!("entry {} is not in a tree of {size} entries", q.index),
        ));
    }
    let index = q.index;
    app.pool
        .with(move |s: &mut dyn Store| {
            let tree = StoredTree(&*s);
            let proof = merkle::inclusion_proof(&tree, index, size).map_err(proof_error)?;
            let root = merkle::root(&tree, size)?;
            let leaf = s
                .entry(index)?
                .ok_or_else(|| ApiError::not_found(format!("no entry {index}")))?;
            Ok(Json(InclusionView {
                index,
                size,
                leaf_hash: hex(&leaf.leaf_hash),
                root: hex(&root),
                proof: proof.iter().map(|h| hex(h)).collect(),
            }))
        })
        .await
}

/// Proof that an older tree is a prefix of a newer one.
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "log",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyView),
        (status = 400, description = "Out of range", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn consistency(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let q = query(q)?;
    let log = app.live.checkpoint().size;
    let new = q.new.unwrap_or(log);
    check_size(new, log, "new")?;
    let old = q.old;
    if old == 0 || old > new {
        return Err(ApiError::field(
            "old",
            format!("a consistency proof needs 1 ≤ old ≤ new, not {old} and {new}"),
        ));
    }
    app.pool
        .with(move |s: &mut dyn Store| {
            let tree = StoredTree(&*s);
            let proof = merkle::consistency_proof(&tree, old, new).map_err(proof_error)?;
            Ok(Json(ConsistencyView {
                old_size: old,
                new_size: new,
                old_root: hex(&merkle::root(&tree, old)?),
                new_root: hex(&merkle::root(&tree, new)?),
                proof: proof.iter().map(|h| hex(h)).collect(),
            }))
        })
        .await
}

/// How much a principal can be trusted, with the evidence behind the figure.
#[utoipa::path(get, path = "/v1/principals/{id}/trust", tag = "trust",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$"), TrustQuery),
    responses(
        (status = 200, description = "The trust figure", body = TrustView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn trust(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> Result<Json<TrustView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    let q = query(q)?;
    let truster = optional_id("truster", q.truster.as_deref())?;
    let scope = optional_id("scope", q.scope.as_deref())?;
    let at = optional_time("at", q.at.as_deref())?;
    with_state(&app, q.log_size, at, Cost::Heavy, move |state, at| {
        let report = state
            .trust()
            .trust(&subject, truster.as_ref(), scope.as_ref(), at);
        Json(TrustView::new(
            &report,
            &subject,
            truster.as_ref(),
            scope.as_ref(),
            at,
        ))
    })
    .await
}

/// May this principal do this, at this stake, now? Always with reasons and the next step.
#[utoipa::path(post, path = "/v1/decide", tag = "trust",
    request_body = DecideRequest,
    responses(
        (status = 200, description = "The decision (allowed or not)", body = DecideReply),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn decide(
    State(app): Shared,
    _caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<DecideReply>, ApiError> {
    let request: DecideRequest = json(&body(raw)?)?;
    let subject = Id::parse("subject", &request.subject)?;
    if request.capability.is_empty() || request.capability.len() > stepwise::evidence::MAX_ID_LEN {
        return Err(ApiError::field(
            "capability",
            format!("must be 1 to {} bytes long", stepwise::evidence::MAX_ID_LEN),
        ));
    }
    if !(request.stake.is_finite() && request.stake >= 0.0) {
        return Err(ApiError::field(
            "stake",
            format!("{} must be a finite number ≥ 0", request.stake),
        ));
    }
    let truster = optional_id("truster", request.truster.as_deref())?;
    let at = optional_time("at", request.at.as_deref())?;
    let (capability, stake) = (request.capability, request.stake);
    let explain = request.explain.unwrap_or(true);
    with_state(&app, request.log_size, at, Cost::Quick, move |state, at| {
        let d = state.decide(&subject, &capability, stake, truster.as_ref(), at);
        let size = state.trust().log_size();
        Json(if explain {
            DecideReply::Explained(Box::new(DecisionView::new(&d, size)))
        } else {
            DecideReply::Verdict(VerdictView::new(&d, size))
        })
    })
    .await
}

/// A principal's level, its timeline of promotions and demotions, and the next-step checklist.
#[utoipa::path(get, path = "/v1/principals/{id}/explain", tag = "trust",
    params(("id" = String, Path, description = "The principal", pattern = r"^[!-~]{1,128}$"), AtQuery),
    responses(
        (status = 200, description = "The explanation", body = ExplainView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn explain(
    State(app): Shared,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<ExplainView>, ApiError> {
    let subject = Id::parse("id", &path(id)?)?;
    let q = query(q)?;
    let at = optional_time("at", q.at.as_deref())?;
    with_state(&app, q.log_size, at, Cost::Quick, move |state, at| {
        Json(ExplainView::new(
            &state.explain(&subject, at),
            state.trust().log_size(),
        ))
    })
    .await
}

/// Who the network as a whole trusts most.
#[utoipa::path(get, path = "/v1/rank", tag = "trust",
    params(RankQuery),
    responses(
        (status = 200, description = "The rank", body = RankView),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rank(
    State(app): Shared,
    _caller: Caller,
    q: Result<Query<RankQuery>, QueryRejection>,
) -> Result<Json<RankView>, ApiError> {
    let top = query(q)?.top.unwrap_or(20);
    if top > 10_000 {
        return Err(ApiError::field("top", format!("{top} is more than 10000")));
    }
    // The rank is computed on first use after the log changed.
    with_state(&app, None, None, Cost::Heavy, move |state, _| {
        let trust = state.trust();
        let ranking = trust.ranking();
        Json(RankView {
            principals: ranking
                .top(top)
                .into_iter()
                .filter_map(|(i, score)| {
                    Some(RankRow {
                        principal: trust.principal(i)?.to_string(),
                        score,
                    })
                })
                .collect(),
            total: ranking.scores.len(),
            converged: ranking.converged,
            log_size: trust.log_size(),
        })
    })
    .await
}

/// The policy: ladder, model settings, ledger rules, and the log's verifier key.
#[utoipa::path(get, path = "/v1/policy", tag = "trust",
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn policy(State(app): Shared, _caller: Caller) -> Json<PolicyView> {
    Json(PolicyView {
        toml: app.policy_text.clone(),
        ladder: wire::ladder_view(&app.policy.ladder),
        verifier_key: app.verifier_key.clone(),
    })
}

/// Create an API key (admin).
#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    request_body = KeyRequest,
    responses(
        (status = 201, description = "The key, shown once", body = NewKey),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(app): Shared,
    caller: Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let request: KeyRequest = json(&body(raw)?)?;
    let role = Role::from(request.role);
    let principal = optional_id("principal", request.principal.as_deref())?;
    let key = stepwise::keys::generate_key()
        .map_err(|e| ApiError::internal(format!("could not create a key: {e}")))?;
    let record = KeyRecord::new(&key, role, principal, now());
    let stored = record.clone();
    app.pool.with(move |s| Ok(s.put_key(&stored)?)).await?;
    app.keys.put(record.hash, Some(record.clone()));
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            key,
            record: (&record).into(),
        }),
    )
        .into_response())
}

/// Every API key's record (admin).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "The keys' records", body = [KeyView]),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(State(app): Shared, caller: Caller) -> Result<Json<Vec<KeyView>>, ApiError> {
    caller.require(Role::Admin)?;
    let keys = app.pool.with(|s| Ok(s.keys()?)).await?;
    Ok(Json(keys.iter().map(KeyView::from).collect()))
}

/// Revoke an API key (admin). It stops working at once here, and within a few seconds on
/// other servers sharing the store.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 429, description = "Over the key's rate", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(app): Shared,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let id = path(id)?;
    let target = id.clone();
    let found = app.pool.with(move |s| Ok(s.revoke_key(&target)?)).await?;
    if !found {
        return Err(ApiError::not_found(format!("no key with id {id:?}")));
    }
    app.keys.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}
