//! `/mcp`: the Model Context Protocol over streamable HTTP, for agents, on rmcp's tower
//! service. The tools and resources are those of `stepwise mcp` (defined once in
//! [`crate::mcp`]), answered from this server's live state by the functions the API's routes
//! call, so an answer is the JSON the API gives for the same question.
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
use crate::mcp::{
    self as tools, Answer, CHECKPOINT_URI, DecideArgs, ExplainArgs, LadderArgs, OutcomeArgs,
    POLICY_URI, PromiseArgs, PromisesOpenArgs, TrustArgs,
};
use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ResourceContents, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use stepwise::evidence::Id;
use stepwise_api::{DecideRequest, hex};
use stepwise_engine::question::{
    Decide, Explain, OpenPromises, Question, Trust, optional_id, prefix,
};
use stepwise_engine::{Prefix, now};
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
            Ok(Endpoint {
                app: Arc::clone(&served),
            })
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

/// The MCP server of one request: the server's state; the caller comes with each request.
#[derive(Clone)]
struct Endpoint {
    app: Arc<App>,
}

/// The caller [`authenticate`] put in the HTTP request rmcp hands on.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request reached MCP unauthenticated", None))
}

/// A tool error as the client sees it: the message (naming the field at fault), and the API's
/// error JSON (`code`, `message`, `field`).
fn tool_error(e: &ApiError) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "error: {}",
        e.body.message
    ))]);
    result.structured_content = serde_json::to_value(&e.body).ok();
    result
}

/// The arguments of `tool`, deserialised strictly; an error is a 400-like refusal naming the
/// argument.
fn arguments<T: DeserializeOwned>(tool: &str, args: Option<JsonObject>) -> Result<T, ApiError> {
    tools::arguments(tool, args).map_err(|e| {
        let mut refused = ApiError::bad_request(e.message);
        refused.body.field = e.field;
        refused
    })
}

/// A view as a tool's answer.
fn view(value: &impl serde::Serialize) -> Result<Answer, ApiError> {
    serde_json::to_value(value)
        .map(Answer::json)
        .map_err(|e| ApiError::internal(format!("serialising the answer: {e}")))
}

fn optional(field: &str, value: Option<String>) -> Result<Option<Id>, ApiError> {
    Ok(optional_id(field, value.as_deref())?)
}

impl Endpoint {
    /// The engine's answer to `question`, as a tool's answer.
    async fn ask<Q: Question>(&self, question: Q) -> Result<Answer, ApiError>
    where
        Q::Answer: serde::Serialize,
    {
        view(&self.app.engine.ask(question).await?)
    }
}

impl Endpoint {
    /// Runs one tool as `caller`; any error is the tool's error, never the request's.
    async fn call(
        &self,
        caller: &Caller,
        name: &str,
        args: Option<JsonObject>,
    ) -> Result<Answer, ApiError> {
        let app = &self.app;
        match name {
            "decide" => {
                let a: DecideArgs = arguments(name, args)?;
                let request = DecideRequest {
                    subject: a.subject,
                    capability: a.capability,
                    stake: a.stake,
                    truster: a.truster,
                    at: None,
                    log_size: None,
                    rank_log_size: None,
                    explain: Some(true),
                };
                self.ask(Decide::from_request(&request)?).await
            }
            "explain" => {
                let a: ExplainArgs = arguments(name, args)?;
                let subject = Id::parse("subject", &a.subject)?;
                self.ask(Explain {
                    subject,
                    prefix: Prefix::ALL,
                })
                .await
            }
            "trust" => {
                let a: TrustArgs = arguments(name, args)?;
                let subject = Id::parse("subject", &a.subject)?;
                let truster = optional("truster", a.truster)?;
                let scope = optional("scope", a.scope)?;
                self.ask(Trust {
                    subject,
                    truster,
                    scope,
                    prefix: Prefix::ALL,
                })
                .await
            }
            "ladder" => {
                let _: LadderArgs = arguments(name, args)?;
                view(&stepwise_api::ladder_view(&app.engine.policy().ladder))
            }
            // The role first: a reader key learns what it lacks before anything else.
            "promise" => {
                caller.require(Role::Recorder)?;
                let a: PromiseArgs = arguments(name, args)?;
                self.record(caller, "promise", &a).await
            }
            "outcome" => {
                caller.require(Role::Recorder)?;
                let a: OutcomeArgs = arguments(name, args)?;
                self.record(caller, "outcome", &a).await
            }
            "promises_open" => {
                let a: PromisesOpenArgs = arguments(name, args)?;
                let promisee = optional("promisee", a.promisee)?;
                self.ask(OpenPromises::new(
                    promisee,
                    a.cursor,
                    a.limit,
                    prefix(None, None, None)?,
                )?)
                .await
            }
            other => Err(ApiError::bad_request(tools::unknown_tool(other))),
        }
    }

    /// Records one event of `kind` from a tool's arguments as the caller: the promisor of a
    /// promise, the author of an outcome. Answers as `stepwise record --json` does.
    async fn record(
        &self,
        caller: &Caller,
        kind: &str,
        fields: &impl serde::Serialize,
    ) -> Result<Answer, ApiError> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(fields) else {
            return Err(ApiError::internal(format!(
                "the {kind} arguments did not serialise to a JSON object"
            )));
        };
        map.insert("kind".into(), kind.into());
        map.insert("at".into(), now().to_string().into());
        if kind == "promise" {
            // A key with no principal has no one to promise as; the append path says so.
            if let Some(principal) = &caller.principal {
                map.insert("promisor".into(), principal.as_str().into());
            }
        }
        caller.require(Role::Recorder)?;
        let recorded = self
            .app
            .engine
            .record_one(&caller.recorder(), &Value::Object(map))
            .await?;
        let (index, checkpoint) = (recorded.index, recorded.checkpoint);
        let entry = self
            .app
            .engine
            .pool()
            .with::<_, ApiError>(move |s| {
                s.entry(index)?
                    .ok_or_else(|| ApiError::not_found(format!("no entry {index}")))
            })
            .await?;
        Ok(Answer {
            summary: Some(format!(
                "recorded {kind} at index {index} (log size {})",
                checkpoint.size
            )),
            json: serde_json::json!({
                "index": index,
                "kind": kind,
                "leaf_hash": hex(&entry.leaf_hash),
                "size": checkpoint.size,
                "root": hex(&checkpoint.root),
            }),
        })
    }

    /// The text of a resource.
    fn resource(&self, uri: &str) -> Option<ResourceContents> {
        Some(match uri {
            POLICY_URI => ResourceContents::text(self.app.engine.policy_text().to_owned(), uri)
                .with_mime_type("application/toml"),
            CHECKPOINT_URI => ResourceContents::text(self.app.engine.live().checkpoint().note, uri),
            _ => return None,
        })
    }
}

impl ServerHandler for Endpoint {
    fn get_info(&self) -> ServerConfig {
        tools::server_config("the principal your API key records as")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        let answer = self.call(&caller, &request.name, request.arguments).await;
        Ok(match answer {
            Ok(answer) => answer.into_result(),
            Err(e) => tool_error(&e),
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(tools::resources()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        // Every key is at least a reader, as `GET /v1/policy` and the checkpoint need.
        caller(&context)?;
        match self.resource(&request.uri) {
            Some(contents) => Ok(ReadResourceResult::new(vec![contents]).into()),
            None => Err(ErrorData::resource_not_found(
                tools::unknown_resource(&request.uri),
                None,
            )),
        }
    }
}
