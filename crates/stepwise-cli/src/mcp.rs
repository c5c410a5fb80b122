//! `stepwise mcp`: the data directory as a Model Context Protocol server over stdio, for agents.
//!
//! Tools: `decide`, `explain`, `trust`, `ladder` and `promises_open` answer with the same JSON as
//! the CLI's `--json` (the view types of `stepwise-api`, built by the same functions); `promise`
//! and `outcome` record evidence as the calling principal (`--principal`) through the one append
//! path of `stepwise record`, so every rule of the ledger holds: an outcome recorded by anyone but
//! the promise's promisee is refused. Resources: the policy and the latest signed checkpoint.
//!
//! Each call folds the store afresh, as each CLI command does: simple, always current with what
//! other writers appended, and slower than the server's state in memory on a large log. A denial
//! is a normal result; bad arguments and refused events are tool errors naming the field, with
//! nothing recorded. Nothing here may write to stdout but the protocol itself.

use crate::ladder::{self, Replay};
use anyhow::{Context as _, Result, bail};
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use stepwise::data_dir::DataDir;
use stepwise::evidence::{Event, Id};

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
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .context("starting the MCP session on stdio")?;
        service.waiting().await.context("the MCP session")?;
        Ok(true)
    })
}

/// One session's server: the data directory and who is calling.
#[derive(Clone)]
struct McpServer {
    data: DataDir,
    principal: Id,
}

// The tools' arguments: their doc comments are the descriptions in the JSON schemas a client
// sees, and they are deserialised strictly (an unknown argument is an error, not ignored).

/// May a principal do a capability at this stake now?
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DecideArgs {
    /// The principal asking to act, for example `agent:bot`.
    subject: String,
    /// What it asks to do: a capability of the ladder (see the `ladder` tool), for example
    /// `propose` or `act:low`.
    capability: String,
    /// What is at stake, a number ≥ 0 in the installation's unit.
    stake: f64,
    /// Decide for this truster, with its own (stricter) profile; default: the policy's.
    #[serde(default)]
    truster: Option<String>,
}

/// A principal's standing on the ladder.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExplainArgs {
    /// The principal, for example `agent:bot`.
    subject: String,
}

/// A principal's trust figure.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TrustArgs {
    /// The principal to assess.
    subject: String,
    /// From this principal's own point of view; default: everyone's.
    #[serde(default)]
    truster: Option<String>,
    /// Only evidence recorded in this scope (vouches for all scopes count too).
    #[serde(default)]
    scope: Option<String>,
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LadderArgs {}

// Serialised, with `kind`, `at` and the promisor (or author) added, a promise's or an outcome's
// arguments are the event's JSON object, checked by the same validation as every recorded event.

/// A promise by the calling principal.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PromiseArgs {
    /// A unique id for the promise, for example `deploy-2026-12-02-1`.
    id: String,
    /// To whom the promise is made: the principal who will judge it (and the only one who may
    /// record its outcome).
    promisee: String,
    /// What kind of action, for example `deploy:staging`.
    scope: String,
    /// What is at stake, a number ≥ 0.
    stake: Number,
    /// The instant (RFC 3339, for example `2026-12-03T12:00:00Z`) by which the outcome is due;
    /// after it, a promise with no outcome counts as broken.
    due: String,
    /// Free text (at most 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// How a promise turned out.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum OutcomeResult {
    Kept,
    Broken,
    Partial,
}

/// The outcome of a promise made to the calling principal.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OutcomeArgs {
    /// The promise's id.
    promise: String,
    /// `kept`, `broken` or `partial`.
    result: OutcomeResult,
    /// With `partial`: the part kept, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fraction: Option<Number>,
    /// Free text (at most 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The promises that await judgement.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PromisesOpenArgs {
    /// Only those made to this principal: its review queue. Default: all.
    #[serde(default)]
    promisee: Option<String>,
    /// At most this many, oldest first (1 to 1000; default 100).
    #[serde(default)]
    limit: Option<usize>,
    /// Continue after this log index: the `next_cursor` of the page before.
    #[serde(default)]
    cursor: Option<u64>,
}

const DECIDE: &str = "May SUBJECT do CAPABILITY at STAKE now? Answers from the evidence in the \
log: `allowed`, the `reasons` (the deciding one first, each with a stable `code`), the \
principal's `level` and `limit`, and `next_step` (what it takes to reach the next level, each \
requirement marked met or not). A refusal is a normal result, not an error: `retryable` false \
means no record can allow this under the policy (do not retry; ask a human or choose a smaller \
stake or another capability); true means not yet (meet the next step first), and \
`earliest_retry` is the instant from which time alone allows it, when it does. `log_size` and \
`at` replay the answer exactly.";

const EXPLAIN: &str = "A principal's standing on the ladder: its level, the stakes and \
capabilities it allows, what is already at stake in open promises, its timeline of promotions \
and demotions with their causes, and the next-step checklist. Use it to plan how to earn a \
capability.";

const TRUST: &str = "How much a principal can be trusted: the expected trust in [0, 1], the \
subjective-logic opinion (belief, disbelief, uncertainty, base rate), the evidence counts (kept, \
broken, partial, overdue promises; ratings; reports; vouches), the network rank, and the log \
entries cited. Optionally from one truster's point of view, or within one scope.";

const LADDER: &str = "The policy's ladder: each level's name, the largest stake it allows, its \
capabilities, and what it takes to enter it. Every principal starts at level 0.";

const PROMISE: &str = "Record a promise made by you (the calling principal) to PROMISEE: to do \
something in SCOPE at STAKE by DUE. Kept promises are how a principal climbs the ladder; the \
promisee judges the outcome later. Returns the log `index` of the recorded event. A bad argument \
is an error naming the field, and nothing is recorded.";

const OUTCOME: &str = "Record the outcome of promise PROMISE: kept, broken, or partial (with \
`fraction`, the part kept). Only the promise's promisee may record it, never the promisor: the \
call is refused unless you (the calling principal) are the promisee. Returns the log `index`.";

const PROMISES_OPEN: &str = "The promises that await judgement (no outcome recorded yet), oldest \
first, optionally only those made to PROMISEE (a review queue). Those past their due instant are \
marked `overdue`: they count as broken until judged. Page with `next_cursor`.";

/// The tools, in the order a client lists them.
fn tools() -> Vec<Tool> {
    let reads = ToolAnnotations::new()
        .read_only(true)
        .idempotent(true)
        .open_world(false);
    let records = ToolAnnotations::new()
        .read_only(false)
        .destructive(false)
        .idempotent(false)
        .open_world(false);
    vec![
        Tool::new("decide", DECIDE, schema_for_type::<DecideArgs>()).annotate(reads.clone()),
        Tool::new("explain", EXPLAIN, schema_for_type::<ExplainArgs>()).annotate(reads.clone()),
        Tool::new("trust", TRUST, schema_for_type::<TrustArgs>()).annotate(reads.clone()),
        Tool::new("ladder", LADDER, schema_for_type::<LadderArgs>()).annotate(reads.clone()),
        Tool::new("promise", PROMISE, schema_for_type::<PromiseArgs>()).annotate(records.clone()),
        Tool::new("outcome", OUTCOME, schema_for_type::<OutcomeArgs>()).annotate(records),
        Tool::new(
            "promises_open",
            PROMISES_OPEN,
            schema_for_type::<PromisesOpenArgs>(),
        )
        .annotate(reads),
    ]
}

const POLICY_URI: &str = "stepwise://policy";
const CHECKPOINT_URI: &str = "stepwise://checkpoint";

/// What a tool answers: the JSON, and optionally words before it.
struct Answer {
    summary: Option<String>,
    json: Value,
}

impl Answer {
    fn json(json: Value) -> Self {
        Self {
            summary: None,
            json,
        }
    }

    /// The result: the words, then the JSON as the CLI's `--json` prints it; an object is also
    /// the structured content (MCP allows only objects there, so the ladder's list is text only).
    fn into_result(self) -> CallToolResult {
        let pretty = serde_json::to_string_pretty(&self.json).unwrap_or_default();
        let mut content: Vec<ContentBlock> =
            self.summary.into_iter().map(ContentBlock::text).collect();
        content.push(ContentBlock::text(pretty));
        let mut result = CallToolResult::success(content);
        if self.json.is_object() {
            result.structured_content = Some(self.json);
        }
        result
    }
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
    let value = Value::Object(arguments.unwrap_or_default());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            anyhow::anyhow!("{tool}: {}", e.inner())
        } else {
            anyhow::anyhow!("{tool}: argument `{path}`: {}", e.inner())
        }
    })
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
        let now = Replay::default();
        match name {
            "decide" => {
                let a: DecideArgs = arguments(name, args)?;
                let subject = Id::parse("subject", &a.subject)?;
                let truster = optional_id("truster", a.truster)?;
                if !(a.stake.is_finite() && a.stake >= 0.0) {
                    bail!("stake: {} must be a finite number ≥ 0", a.stake);
                }
                let view = ladder::decision(
                    data,
                    &now,
                    &subject,
                    &a.capability,
                    a.stake,
                    truster.as_ref(),
                )?;
                let mut words = Vec::new();
                ladder::write_decision(&mut words, &view)?;
                Ok(Answer {
                    summary: Some(String::from_utf8_lossy(&words).into_owned()),
                    json: serde_json::to_value(&view)?,
                })
            }
            "explain" => {
                let a: ExplainArgs = arguments(name, args)?;
                let subject = Id::parse("subject", &a.subject)?;
                let (state, at) = ladder::fold(data, &now)?;
                let explanation = state.explain(&subject, at);
                let view = stepwise_api::ExplainView::new(&explanation, state.trust().log_size());
                Ok(Answer::json(serde_json::to_value(&view)?))
            }
            "trust" => {
                let a: TrustArgs = arguments(name, args)?;
                let subject = Id::parse("subject", &a.subject)?;
                let truster = optional_id("truster", a.truster)?;
                let scope = optional_id("scope", a.scope)?;
                let (state, at) = crate::trust::fold_until(data, &now)?;
                let report = state.trust(&subject, truster.as_ref(), scope.as_ref(), at);
                let view = stepwise_api::TrustView::new(
                    &report,
                    &subject,
                    truster.as_ref(),
                    scope.as_ref(),
                    at,
                );
                Ok(Answer::json(serde_json::to_value(&view)?))
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
                let promisee = optional_id("promisee", a.promisee)?;
                let (view, _) = crate::trust::open_promises(
                    data,
                    &now,
                    promisee.as_ref(),
                    a.cursor,
                    a.limit.unwrap_or(100),
                    "limit",
                )?;
                Ok(Answer::json(serde_json::to_value(&view)?))
            }
            other => bail!(
                "no tool named {other:?}; the tools are: {}",
                tools()
                    .iter()
                    .map(|t| t.name.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
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
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("stepwise", env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "stepwise: graduated trust from recorded evidence. You are {}. Before a consequential \
             action, call `decide`; if refused, read `next_step`, `retryable` and \
             `earliest_retry`. Record what you undertake with `promise`; its promisee judges it \
             with `outcome`.",
            self.principal
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
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
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(POLICY_URI, "policy")
                .with_description("The policy (stepwise.toml): the ladder, the model's settings, the seeds, the time window.")
                .with_mime_type("application/toml"),
            Resource::new(CHECKPOINT_URI, "checkpoint")
                .with_description("The log's latest signed checkpoint (a C2SP signed note: origin, size, root hash, signature), as `stepwise log checkpoint` prints it.")
                .with_mime_type("text/plain"),
        ]))
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
                format!("no resource {uri:?}; the resources are {POLICY_URI} and {CHECKPOINT_URI}"),
                None,
            )),
            Err(e) => Err(ErrorData::internal_error(format!("{e:#}"), None)),
        }
    }
}
