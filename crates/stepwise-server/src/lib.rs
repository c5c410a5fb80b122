//! The stepwise HTTP server: the JSON API over the ledger, the trust model and the ladder.
//!
//! One process holds the live trust state in memory and answers decisions from it; appends go
//! through one writer thread that group-commits whatever requests are waiting, and every reply
//! to an append comes after its events are durable. Any number of processes may share one
//! PostgreSQL database: the database sequences appends, and each process follows the log to
//! keep its state current. See `docs/API.md`.

pub mod app;
pub mod auth;
pub mod client;
pub mod error;
pub mod limits;
pub mod openapi;
pub mod routes;
pub mod witness;
pub mod witnessing;

use app::App;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use error::{ApiError, Code};
use limits::{Limits, RateLimiter};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use stepwise_engine::{Engine, OpenError, Options};
use stepwise_store::data_dir::DataDir;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The data directory: policy and log key, and the SQLite store unless `store` is given.
    pub data: PathBuf,
    /// A `postgres://` URL: keep the log in PostgreSQL instead of SQLite.
    pub store: Option<String>,
    /// Limits.
    pub limits: Limits,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The engine could not start (data directory, store, ledger).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The policy asks for what this log cannot give (the reason says which key).
    #[error("{0}")]
    Policy(String),
}

/// The routes of [`routes::table`], with their middleware, over `app`.
fn router(app: Arc<App>) -> Router {
    let (api, _document) = routes::table().split_for_parts();
    // A peer of `POST /v1/decide` for the load example, outside the API and its document.
    #[cfg(feature = "bench-peer")]
    let api = api.merge(routes::peer::routes());
    // MCP over streamable HTTP: JSON-RPC, not a REST resource, so outside the document.
    let api = api.merge(routes::mcp::routes(&app));
    // The dashboard: static pages that call the API like any client.
    let api = api.merge(routes::ui::routes());
    // The log as C2SP tlog-tiles: static resources of a format of their own, outside the
    // document (docs/API.md, "Reading the log as tiles").
    let api = api.merge(routes::tiles::routes(&app.engine.policy().log.tiles_prefix));
    api.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&app),
        track,
    ))
    .layer(axum::middleware::map_response_with_state(
        Arc::clone(&app),
        open_names,
    ))
    .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
    .method_not_allowed_fallback(|| async {
        ApiError::new(
            Code::MethodNotAllowed,
            "this endpoint does not take that method; see /openapi.json",
        )
    })
    .layer(DefaultBodyLimit::max(app.limits.max_body))
    .with_state(app)
}

/// Times every request out after the configured limit and counts it in the metrics.
async fn track(
    State(app): State<Arc<App>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = method_name(request.method());
    // Read your writes: any request may name the log size its answer must include.
    let min_log_size = (request.uri().query().unwrap_or_default().split('&'))
        .find_map(|pair| pair.strip_prefix("min_log_size="))
        .map(stepwise_engine::question::min_log_size)
        .transpose();
    let answer = async {
        match min_log_size {
            Ok(min) => match app.engine.caught_up(min).await {
                Ok(()) => next.run(request).await,
                Err(e) => ApiError::from(e).into_response(),
            },
            Err(e) => ApiError::from(e).into_response(),
        }
    };
    let response = match tokio::time::timeout(app.limits.timeout, answer).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            Code::Timeout,
            format!(
                "the request took longer than {} s; an append may still have been recorded",
                app.limits.timeout.as_secs_f64()
            ),
        )
        .into_response(),
    };
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    app.engine
        .metrics()
        .request(method, route, response.status().as_u16(), started.elapsed());
    let mut response = response;
    // Every answer says the log size this process had folded when it was sent (an answer is
    // computed from that size or an earlier one it names) ...
    let folded = app.engine.live().read(|s| s.trust().log_size());
    (response.headers_mut()).insert(LOG_SIZE_HEADER, axum::http::HeaderValue::from(folded));
    // ... and how far the witnesses have cosigned the log (docs/LOG.md, "Witnesses").
    if let Some(size) = app.engine.witnessed_size() {
        response
            .headers_mut()
            .insert(WITNESSED_HEADER, axum::http::HeaderValue::from(size));
    }
    response
}

/// The header with the log size the answering process had folded (docs/API.md, "Many
/// servers, one log").
pub const LOG_SIZE_HEADER: &str = "stepwise-log-size";

/// The header with the size of the latest checkpoint the witnesses' quorum cosigned.
pub const WITNESSED_HEADER: &str = "stepwise-witnessed-size";

/// Every key may read ids (the reader role is the least): a JSON answer names principals by
/// the ids they were given, never by the log's pseudonyms (`Names::open_json`). A forgotten
/// principal has no id any more and is shown by its pseudonym.
async fn open_names(State(app): State<Arc<App>>, response: Response) -> Response {
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("an answer could not be read back").into_response();
    };
    let opened = match std::str::from_utf8(&bytes) {
        Ok(text) => match app.engine.names().open_json(text) {
            std::borrow::Cow::Owned(text) => Some(text),
            std::borrow::Cow::Borrowed(_) => None,
        },
        Err(_) => None,
    };
    match opened {
        Some(text) => {
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(text))
        }
        None => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// A method's name without allocating (the API uses only these).
fn method_name(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// A server whose engine has folded its log and started its writer, follower, ranker and
/// tabler, ready to answer requests ([`Server::router`]), on a listener ([`run`]) or in
/// process (tests).
pub struct Server {
    app: Arc<App>,
    /// The witnesses of `[witness] policy`, if any.
    witnesses: Option<stepwise::ledger::witness_policy::WitnessPolicy>,
}

impl Server {
    /// Opens the data directory (created when new) and the store through the engine.
    /// Blocking work (the PostgreSQL client is blocking): call it off the async threads.
    pub fn open(config: &Config) -> Result<Self, ServeError> {
        let options = Options {
            store: config.store.clone(),
            follow_interval: config.limits.follow_interval,
            catch_up_wait: config.limits.catch_up_wait,
            ..Options::default()
        };
        let engine = Engine::open(&DataDir::new(&config.data), &options)?;
        let log = &engine.policy().log;
        if log.public && !log.public_despite_clear_names && engine.names().has_clear_names() {
            return Err(ServeError::Policy(
                "log.public = true: entries of this log written before format 3 name \
                 principals in the clear, and the tiles would show those names to anyone; \
                 serve them to key holders only (public = false), or set public = \
                 \"despite_clear_names\" to open them anyway (docs/PRIVACY.md)"
                    .into(),
            ));
        }
        let tiles_public = log.public;
        let witnesses = match &engine.policy().witness.policy {
            Some(file) => Some(witnessing::load_policy(&config.data, file)?),
            None => None,
        };
        let app = Arc::new(App {
            engine,
            tiles: app::TileCache::default(),
            tiles_public,
            keys: app::KeyCache::default(),
            limiter: RateLimiter::new(config.limits.rate, config.limits.burst),
            limits: config.limits.clone(),
            openapi: openapi::document().into(),
            closing: tokio::sync::watch::Sender::new(false),
        });
        Ok(Server { app, witnesses })
    }

    /// Starts submitting checkpoints to the witnesses of `[witness] policy`, if it names any
    /// (on the current tokio runtime, until the server closes).
    pub fn start_witnessing(&self) {
        let Some(policy) = self.witnesses.clone() else {
            return;
        };
        let settings = &self.app.engine.policy().witness;
        let micros = |m: i64| std::time::Duration::from_micros(u64::try_from(m).unwrap_or(0));
        self.app
            .engine
            .expect_witnesses(micros(settings.receipt_wait_micros));
        tokio::spawn(witnessing::run(
            Arc::clone(&self.app),
            policy,
            micros(settings.timeout_micros),
        ));
    }

    /// The routes over this server's state.
    pub fn router(&self) -> Router {
        router(Arc::clone(&self.app))
    }

    /// Stops the engine: its writer after it has answered every request it took, then the
    /// follower, the ranker and the tabler. Blocking: call it off the async threads.
    pub fn stop(self) {
        self.app.engine.stop();
    }
}

/// Runs the server until `shutdown` resolves: stops accepting, finishes the requests in
/// flight (every acknowledged event is durable before its reply), then stops the writer.
/// `ready` hears the address once the server listens.
pub async fn run(
    config: Config,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = config.addr;
    let server = tokio::task::spawn_blocking(move || Server::open(&config))
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    server.start_witnessing();
    ready(listener.local_addr()?);
    let app = Arc::clone(&server.app);
    let shutdown = async move {
        shutdown.await;
        // Live streams end now; every other request in flight is answered.
        app.closing.send_replace(true);
    };
    // Answers and stream events go out as written, not held back by Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, server.router())
        .with_graceful_shutdown(shutdown)
        .await;
    // Every request has been answered; closing the writer's queue lets it finish and stop.
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    Ok(served?)
}
