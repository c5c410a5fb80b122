//! The stepwise HTTP server: the JSON API over the ledger, the trust model and the ladder.
//!
//! One process holds the live trust state in memory and answers decisions from it; appends go
//! through one writer thread that group-commits whatever requests are waiting, and every reply
//! to an append comes after its events are durable. Any number of processes may share one
//! PostgreSQL database: the database sequences appends, and each process follows the log to
//! keep its state current. See `docs/API.md`.

pub mod app;
pub mod auth;
pub mod error;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod routes;

use app::{App, Live, Pool, Writer};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use error::{ApiError, Code};
use limits::{Limits, RateLimiter};
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use stepwise::data_dir::{DataDir, DataDirError};
use stepwise::ladder::LadderState;
use stepwise::ledger::{Ledger, LedgerError, SystemClock};
use stepwise::store::{PostgresStore, SqliteStore, Store, StoreError};

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
    /// The data directory could not be read or created.
    #[error(transparent)]
    Data(#[from] DataDirError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The store option is not one this build knows.
    #[error("--store {0:?}: expected a postgres:// or postgresql:// URL")]
    StoreUrl(String),
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
    api.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&app),
        track,
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
    let response = match tokio::time::timeout(app.limits.timeout, next.run(request)).await {
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
    app.metrics
        .request(method, route, response.status().as_u16(), started.elapsed());
    response
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

/// Opens the ledger, folds the log into a live state and starts the writer (which opens the
/// ledger again with `open` if its connection to the store is lost).
fn start<S: Store + 'static>(
    open: impl Fn() -> Result<Ledger<S>, LedgerError> + Send + 'static,
    (model, ladder): (
        stepwise::model::params::ModelParams,
        stepwise::ladder::Ladder,
    ),
    metrics: &Arc<Metrics>,
) -> Result<(Writer, std::thread::JoinHandle<()>, Arc<Live>), ServeError> {
    let ledger = open()?;
    let checkpoint = ledger.checkpoint().clone();
    let empty = LadderState::new(model, ladder);
    let live = Arc::new(Live::start(
        empty,
        checkpoint,
        ledger.store(),
        routes::now(),
    )?);
    let (writer, thread) = Writer::spawn(ledger, open, Arc::clone(&live), Arc::clone(metrics))?;
    Ok((writer, thread, live))
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

/// A server that has folded its log and started its writer and follower, ready to answer
/// requests ([`Server::router`]), on a listener ([`run`]) or in process (tests).
pub struct Server {
    app: Arc<App>,
    writer: std::thread::JoinHandle<()>,
    follower: std::thread::JoinHandle<()>,
    ranker: std::thread::JoinHandle<()>,
    tabler: std::thread::JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Opens the data directory (created when new) and the store, folds the log and starts the
    /// writer and the follower. Blocking work (the PostgreSQL client is blocking): call it off
    /// the async threads.
    pub fn open(config: &Config) -> Result<Self, ServeError> {
        let data = DataDir::new(&config.data);
        if !data.is_initialized() {
            data.create(None)?;
        }
        let policy = data.policy()?;
        let policy_text = std::fs::read_to_string(data.policy_path()).unwrap_or_default();
        let signer = data.signer()?;
        let verifier_key = signer.verifier().encode();
        let metrics = Arc::new(Metrics::default());
        let stop = Arc::new(AtomicBool::new(false));

        // The writer owns the ledger; the follower and the read pool get handles of their own.
        let model = (policy.model.clone(), policy.ladder.clone());
        let (opener, (writer, writer_thread, live)): (app::Opener, _) = match &config.store {
            None => {
                let path = data.store_path();
                let (at, config) = (path.clone(), policy.ledger.clone());
                let open = move || {
                    Ledger::open(
                        SqliteStore::open(&at)?,
                        signer.clone(),
                        config.clone(),
                        Arc::new(SystemClock),
                    )
                };
                let started = start(open, model, &metrics)?;
                let opener: app::Opener =
                    Box::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>));
                (opener, started)
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let (at, config) = (url.clone(), policy.ledger.clone());
                let open = move || {
                    Ledger::open(
                        PostgresStore::connect(&at)?,
                        signer.clone(),
                        config.clone(),
                        Arc::new(SystemClock),
                    )
                };
                let started = start(open, model, &metrics)?;
                let url = url.clone();
                let opener: app::Opener =
                    Box::new(move || Ok(Box::new(PostgresStore::connect(&url)?) as Box<dyn Store>));
                (opener, started)
            }
            Some(other) => return Err(ServeError::StoreUrl(other.clone())),
        };
        let pool = Arc::new(Pool::new(opener));
        let follower_store = pool.open()?;
        live.catch_up(&*follower_store)?;
        let follower = app::spawn_follower(
            follower_store,
            Arc::clone(&pool),
            Arc::clone(&live),
            config.limits.follow_interval,
            Arc::clone(&stop),
        )?;
        let ranker = app::spawn_ranker(
            Arc::clone(&live),
            policy.network,
            Arc::clone(&metrics),
            Arc::clone(&stop),
        )?;
        let tabler = app::board::spawn_tabler(
            Arc::clone(&live),
            app::board::TABLE_INTERVAL,
            Arc::clone(&stop),
        )?;
        let app = Arc::new(App {
            policy,
            policy_text,
            verifier_key,
            writer,
            live,
            pool,
            keys: app::KeyCache::default(),
            limiter: RateLimiter::new(config.limits.rate, config.limits.burst),
            metrics,
            replays: tokio::sync::Semaphore::new(2),
            limits: config.limits.clone(),
            openapi: openapi::document().into(),
        });
        Ok(Server {
            app,
            writer: writer_thread,
            follower,
            ranker,
            tabler,
            stop,
        })
    }

    /// The routes over this server's state.
    pub fn router(&self) -> Router {
        router(Arc::clone(&self.app))
    }

    /// Stops the writer (after it has answered every request it took), the follower, the
    /// ranker and the tabler.
    /// Blocking: call it off the async threads, once every router is dropped.
    pub fn stop(self) {
        let Self {
            app,
            writer,
            follower,
            ranker,
            tabler,
            stop,
        } = self;
        drop(app);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = writer.join();
        let _ = follower.join();
        let _ = ranker.join();
        let _ = tabler.join();
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
    ready(listener.local_addr()?);
    let served = axum::serve(listener, server.router())
        .with_graceful_shutdown(shutdown)
        .await;
    // Every request has been answered; closing the writer's queue lets it finish and stop.
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    Ok(served?)
}
