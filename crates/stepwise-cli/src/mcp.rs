//! `stepwise mcp`: the data directory as a Model Context Protocol server over stdio, for agents.
//!
//! Tools: `decide`, `explain`, `trust`, `ladder` and `promises_open` answer with the same JSON as
//! the CLI's `--json` (the view types of `stepwise-api`, built by the same functions); `promise`
//! and `outcome` record evidence as the calling principal (`--principal`) through the one append
//! path of `stepwise record`, so every rule of the ledger holds: an outcome recorded by anyone but
//! the promise's promisee is refused. Resources: the policy and the latest signed checkpoint.
//! What a client sees of them (names, descriptions, argument schemas) is defined once in
//! `stepwise_server::mcp`, shared with `/mcp` of `stepwise serve`.
//!
//! Each call folds the store afresh, as each CLI command does: simple, always current with what
//! other writers appended, and slower than the server's state in memory (`/mcp`) on a large log.
//! A denial is a normal result; bad arguments and refused events are tool errors naming the
//! field, with nothing recorded. Nothing here may write to stdout but the protocol itself.

use crate::ladder;
use anyhow::{Context as _, Result, bail};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ResourceContents, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::Value;
use stepwise::evidence::{Event, Id};
use stepwise_engine::Prefix;
use stepwise_engine::question::{Decide, Explain, OpenPromises, Trust};
use stepwise_server::mcp::{
    self as tools, Answer, CHECKPOINT_URI, DecideArgs, ExplainArgs, LadderArgs, OutcomeArgs,
    POLICY_URI, PromiseArgs, PromisesOpenArgs, TrustArgs,
};
use stepwise_store::data_dir::DataDir;

#[derive(clap::Args)]
pub struct McpArgs {
    /// The calling principal: the promisor of the promises it records, and the recorder of the
    /// outcomes it judges (only a promise's promisee may).
    #[arg(long, value_name = "ID")]
    principal: String,
}

/// Serves MCP on stdin and stdout until the client closes stdin.
pub fn run(data: &DataDir, args: McpArgs) -> Result<bool> {
    let principal = Id::parse("--principal", &args.principal)?;
    // A new data directory is created on first use, as by `stepwise record`.
    drop(crate::open_for_writing(data)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = McpServer {
            data: data.clone(),
            principal,
        };
        crate::stdio::serve(server).await?;
        Ok(true)
    })
}

/// One session's server: the data directory and who is calling.
#[derive(Clone)]
struct McpServer {
    data: DataDir,
    principal: Id,
}

/// A tool error as the client sees it: the message (naming the field at fault), and the JSON
/// the CLI's `--json` prints for an error.
fn tool_error(e: &anyhow::Error) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!("error: {e:#}"))]);
    result.structured_content = Some(crate::output::error_json(e));
    result
}

/// The arguments of `tool`, deserialised strictly; an error names the argument at fault.
fn arguments<T: DeserializeOwned>(tool: &str, arguments: Option<JsonObject>) -> Result<T> {
    Ok(tools::arguments(tool, arguments)?)
}

/// An optional principal argument.
fn optional_id(field: &str, value: Option<String>) -> Result<Option<Id>> {
    value
        .map(|v| Id::parse(field, &v))
        .transpose()
        .map_err(Into::into)
}

impl McpServer {
    /// Runs one tool; any error is the tool's error, never the session's.
    fn call(&self, name: &str, args: Option<JsonObject>) -> Result<Answer> {
        let data = &self.data;
        match name {
            "decide" => {
                let a: DecideArgs = arguments(name, args)?;
                let question = Decide::new(
                    Id::parse("subject", &a.subject)?,
                    &a.capability,
                    a.stake,
                    optional_id("truster", a.truster)?,
                    Prefix::ALL,
                )?;
                let view = ladder::decision(data, &question)?;
                let mut words = Vec::new();
                ladder::write_decision(&mut words, &view)?;
                Ok(Answer {
                    summary: Some(String::from_utf8_lossy(&words).into_owned()),
                    json: serde_json::to_value(&view)?,
                })
            }
            "explain" => {
                let a: ExplainArgs = arguments(name, args)?;
                let question = Explain {
                    subject: Id::parse("subject", &a.subject)?,
                    prefix: Prefix::ALL,
                };
                Ok(Answer::json(serde_json::to_value(ladder::ask(
                    data, question,
                )?)?))
            }
            "trust" => {
                let a: TrustArgs = arguments(name, args)?;
                let question = Trust {
                    subject: Id::parse("subject", &a.subject)?,
                    truster: optional_id("truster", a.truster)?,
                    scope: optional_id("scope", a.scope)?,
                    prefix: Prefix::ALL,
                };
                Ok(Answer::json(serde_json::to_value(ladder::ask(
                    data, question,
                )?)?))
            }
            "ladder" => {
                let _: LadderArgs = arguments(name, args)?;
                let ladder = data.policy()?.ladder;
                Ok(Answer::json(serde_json::to_value(
                    stepwise_api::ladder_view(&ladder),
                )?))
            }
            "promise" => {
                let a: PromiseArgs = arguments(name, args)?;
                self.record("promise", serde_json::to_value(&a)?)
            }
            "outcome" => {
                let a: OutcomeArgs = arguments(name, args)?;
                self.record("outcome", serde_json::to_value(&a)?)
            }
            "promises_open" => {
                let a: PromisesOpenArgs = arguments(name, args)?;
                let question = OpenPromises::new(
                    optional_id("promisee", a.promisee)?,
                    a.cursor,
                    a.limit,
                    Prefix::ALL,
                )?;
                Ok(Answer::json(serde_json::to_value(ladder::ask(
                    data, question,
                )?)?))
            }
            other => bail!("{}", tools::unknown_tool(other)),
        }
    }

    /// Records one event of `kind` from a tool's arguments, as the calling principal: the
    /// promisor of a promise, the author of anything else. Validation names the field at fault.
    fn record(&self, kind: &str, fields: Value) -> Result<Answer> {
        let Value::Object(mut map) = fields else {
            bail!("the {kind} arguments did not serialise to a JSON object");
        };
        map.insert("kind".into(), kind.into());
        map.insert("at".into(), crate::record::now().to_string().into());
        let who = Value::from(self.principal.as_str());
        if kind == "promise" {
            map.insert("promisor".into(), who);
        } else {
            map.insert("author".into(), who);
        }
        let event = Event::from_value(&Value::Object(map))?;
        let recorded = crate::record::append(&self.data, event)?;
        Ok(Answer {
            summary: Some(format!(
                "recorded {} at index {} (log size {})",
                recorded.kind, recorded.index, recorded.size
            )),
            json: recorded.to_json(),
        })
    }

    /// The text of a resource.
    fn resource(&self, uri: &str) -> Result<Option<ResourceContents>> {
        Ok(Some(match uri {
            POLICY_URI => {
                let path = self.data.policy_path();
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading the policy {}", path.display()))?;
                ResourceContents::text(text, uri).with_mime_type("application/toml")
            }
            CHECKPOINT_URI => {
                // Reads only: nothing is appended, so the clock is never read.
                let ledger = self
                    .data
                    .open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?;
                ResourceContents::text(ledger.checkpoint().note.clone(), uri)
            }
            _ => return Ok(None),
        }))
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        tools::server_config(self.principal.as_str())
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
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let server = self.clone();
        let name = request.name.into_owned();
        let arguments = request.arguments;
        // Folding and appending read and write the store: blocking work, off the protocol task.
        let answer = tokio::task::spawn_blocking(move || server.call(&name, arguments))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the tool call failed: {e}"), None))?;
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let server = self.clone();
        let uri = request.uri;
        let contents = tokio::task::spawn_blocking(move || server.resource(&uri).map(|c| (c, uri)))
            .await
            .map_err(|e| {
                ErrorData::internal_error(format!("reading the resource failed: {e}"), None)
            })?;
        match contents {
            Ok((Some(contents), _)) => Ok(ReadResourceResult::new(vec![contents]).into()),
            Ok((None, uri)) => Err(ErrorData::resource_not_found(
                tools::unknown_resource(&uri),
                None,
            )),
            Err(e) => Err(ErrorData::internal_error(format!("{e:#}"), None)),
        }
    }
}
