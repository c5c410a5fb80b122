//! `/mcp`: the Model Context Protocol over streamable HTTP, for agents, on rmcp's tower
//! service. The tools, resources and the server itself are `stepwise-mcp`'s, shared with
//! `stepwise mcp`; this door gives them its backend: the engine's live state, so an answer is
//! the JSON the API gives for the same question, and the caller of each request.
//!
//! Every request is authenticated as every API request is (`Authorization: Bearer <key>`, 401
//! otherwise) and counts against its key's rate; the key's principal is the calling principal.
//! Reads need a reader key, as the API's reads do; `promise` and `outcome` need a recorder key
//! and go through the one append path of `POST /v1/events`, so every rule of the ledger holds.
//! The server keeps no MCP session: each request stands alone (rmcp's stateless mode, with
//! JSON replies), so any process serving the same log answers any request.

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, Code};
use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;
use std::sync::Arc;
use stepwise::ladder::Ladder;
use stepwise_engine::question::Question;
use stepwise_engine::{Error, Recorder};
use stepwise_mcp::tools::{CHECKPOINT_URI, POLICY_URI};
use stepwise_mcp::{Backend, Caller as McpCaller, Handler, RecordedEntry};
use stepwise_store::keys::Role;

/// The `/mcp` route over `app`: authentication first, then rmcp's streamable HTTP service.
pub(crate) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(app.limits.max_body)
        // The `Host` check guards servers that trust whoever reaches them (DNS rebinding from
        // a browser); every request here must carry a key, and the API answers any host.
        .disable_allowed_hosts();
    let served = Arc::clone(app);
    let service = StreamableHttpService::new(
        move || {
            Ok(Handler(Endpoint {
                app: Arc::clone(&served),
            }))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(app),
            authenticate,
        ))
}

/// Lets through only a request with a valid key within its rate (401 or 429 otherwise, as the
/// API answers) and a body within the server's limit (413), and hands the caller on to the
/// tools in the request's extensions.
async fn authenticate(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    caller: Result<Caller, ApiError>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.limits.max_body) {
        return ApiError::new(
            Code::PayloadTooLarge,
            "the request body is larger than the server's limit (`stepwise serve --max-body`)",
        )
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The backend of `/mcp`: the server's engine; the caller comes with each request.
#[derive(Clone)]
struct Endpoint {
    app: Arc<App>,
}

impl Backend for Endpoint {
    fn names(&self) -> Arc<stepwise_engine::Names> {
        Arc::clone(self.app.engine.names())
    }

    async fn receipt(
        &self,
        decision: serde_json::Value,
    ) -> Result<stepwise::ledger::receipt::Receipt, Error> {
        self.app.engine.receipt(decision).await
    }

    /// The caller [`authenticate`] put in the HTTP request rmcp hands on.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<McpCaller, ErrorData> {
        let caller = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .ok_or_else(|| {
                ErrorData::internal_error("the request reached MCP unauthenticated", None)
            })?;
        Ok(McpCaller {
            recorder: caller.recorder(),
            may_not_record: caller.require(Role::Recorder).err().map(|e| e.0),
        })
    }

    fn who(&self) -> String {
        "the principal your API key records as".into()
    }

    async fn ask<Q: Question>(&self, question: Q) -> Result<Q::Answer, Error> {
        self.app.engine.ask(question).await
    }

    async fn caught_up(&self, min_log_size: Option<u64>) -> Result<(), Error> {
        self.app.engine.caught_up(min_log_size).await
    }

    fn ladder(&self) -> Result<Ladder, Error> {
        Ok(self.app.engine.policy().ladder.clone())
    }

    async fn record(&self, recorder: &Recorder, event: Value) -> Result<RecordedEntry, Error> {
        let recorded = self.app.engine.record_one(recorder, &event).await?;
        let index = recorded.index;
        let entry = self
            .app
            .engine
            .pool()
            .with(move |s| {
                s.entry(index)?
                    .ok_or_else(|| Error::not_found(format!("no entry {index}")))
            })
            .await?;
        Ok(RecordedEntry {
            index,
            leaf_hash: entry.leaf_hash,
            size: recorded.checkpoint.size,
            root: recorded.checkpoint.root,
        })
    }

    async fn resource(&self, uri: &str) -> Result<Option<String>, Error> {
        Ok(match uri {
            POLICY_URI => Some(self.app.engine.policy_text().to_owned()),
            CHECKPOINT_URI => Some(self.app.engine.live().checkpoint().note),
            _ => None,
        })
    }
}
