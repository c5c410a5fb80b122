//! The tool table: what a client sees before it calls anything — each tool's name,
//! description and argument schema (the argument structs' doc comments are the schema's
//! descriptions), the resources, the server's name and instructions — and how a call is read:
//! its name parsed once into a [`ToolName`], its arguments strictly into the tool's argument
//! type ([`Call::parse`]; an unknown or malformed argument is an error naming it). Nothing here
//! reads the log or the clock.

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, Resource, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

// The tools' arguments: their doc comments are the descriptions in the JSON schemas a client
// sees, and they are deserialised strictly (an unknown argument is an error, not ignored).

/// May a principal do a capability at this stake now?
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideArgs {
    /// The principal asking to act, for example `agent:bot`.
    pub subject: String,
    /// What it asks to do: a capability of the ladder (see the `ladder` tool), for example
    /// `propose` or `act:low`.
    pub capability: String,
    /// What is at stake, a number ≥ 0 in the installation's unit.
    pub stake: f64,
    /// Decide for this truster, with its own (stricter) profile; default: the policy's.
    #[serde(default)]
    pub truster: Option<String>,
    /// `true`: answer with a receipt of the decision — the decision signed by the log's key,
    /// with a proof of each entry it rests on — which anyone checks with the log's key alone
    /// (`stepwise receipt verify`).
    #[serde(default)]
    pub receipt: Option<bool>,
}

/// A principal's standing on the ladder.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    /// The principal, for example `agent:bot`.
    pub subject: String,
}

/// A principal's trust figure.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustArgs {
    /// The principal to assess.
    pub subject: String,
    /// From this principal's own point of view; default: everyone's.
    #[serde(default)]
    pub truster: Option<String>,
    /// Only evidence recorded in this scope (vouches for all scopes count too).
    #[serde(default)]
    pub scope: Option<String>,
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LadderArgs {}

// Serialised, with `kind`, `at` and the promisor (or author) added, a promise's or an outcome's
// arguments are the event's JSON object, checked by the same validation as every recorded event.

/// A promise by the calling principal.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseArgs {
    /// A unique id for the promise, for example `deploy-2026-12-02-1`.
    pub id: String,
    /// To whom the promise is made: the principal who will judge it (and the only one who may
    /// record its outcome).
    pub promisee: String,
    /// What kind of action, for example `deploy:staging`.
    pub scope: String,
    /// What is at stake, a number ≥ 0.
    pub stake: Number,
    /// The instant (RFC 3339, for example `2026-12-03T12:00:00Z`) by which the outcome is due;
    /// after it, a promise with no outcome counts as broken.
    pub due: String,
    /// Free text (at most 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a promise turned out.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
// Doc comments on the variants would turn the schema's plain `enum` of strings into a `oneOf`
// that clients see; `OutcomeArgs::result` describes the values instead.
#[allow(missing_docs)]
pub enum OutcomeResult {
    Kept,
    Broken,
    Partial,
}

/// The outcome of a promise made to the calling principal.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeArgs {
    /// The promise's id.
    pub promise: String,
    /// `kept`, `broken` or `partial`.
    pub result: OutcomeResult,
    /// With `partial`: the part kept, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Number>,
    /// Free text (at most 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The promises that await judgement.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromisesOpenArgs {
    /// Only those made to this principal: its review queue. Default: all.
    #[serde(default)]
    pub promisee: Option<String>,
    /// At most this many, oldest first (1 to 1000; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Continue after this log index: the `next_cursor` of the page before.
    #[serde(default)]
    pub cursor: Option<u64>,
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

/// Every tool, one row each: its name, description, argument schema and whether it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolName {
    /// `decide`.
    Decide,
    /// `explain`.
    Explain,
    /// `trust`.
    Trust,
    /// `ladder`.
    Ladder,
    /// `promise`.
    Promise,
    /// `outcome`.
    Outcome,
    /// `promises_open`.
    PromisesOpen,
}

impl ToolName {
    /// Every tool, in the order a client lists them.
    pub const ALL: [ToolName; 7] = [
        ToolName::Decide,
        ToolName::Explain,
        ToolName::Trust,
        ToolName::Ladder,
        ToolName::Promise,
        ToolName::Outcome,
        ToolName::PromisesOpen,
    ];

    /// The tool's name as a client calls it.
    pub fn name(self) -> &'static str {
        match self {
            ToolName::Decide => "decide",
            ToolName::Explain => "explain",
            ToolName::Trust => "trust",
            ToolName::Ladder => "ladder",
            ToolName::Promise => "promise",
            ToolName::Outcome => "outcome",
            ToolName::PromisesOpen => "promises_open",
        }
    }

    /// The tool called `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether a call records evidence (and so needs a recorder's rights).
    pub fn records(self) -> bool {
        matches!(self, ToolName::Promise | ToolName::Outcome)
    }

    /// The tool as a client lists it.
    pub fn tool(self) -> Tool {
        let (description, schema) = match self {
            ToolName::Decide => (DECIDE, schema_for_type::<DecideArgs>()),
            ToolName::Explain => (EXPLAIN, schema_for_type::<ExplainArgs>()),
            ToolName::Trust => (TRUST, schema_for_type::<TrustArgs>()),
            ToolName::Ladder => (LADDER, schema_for_type::<LadderArgs>()),
            ToolName::Promise => (PROMISE, schema_for_type::<PromiseArgs>()),
            ToolName::Outcome => (OUTCOME, schema_for_type::<OutcomeArgs>()),
            ToolName::PromisesOpen => (PROMISES_OPEN, schema_for_type::<PromisesOpenArgs>()),
        };
        let annotations = if self.records() {
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(false)
        } else {
            ToolAnnotations::new()
                .read_only(true)
                .idempotent(true)
                .open_world(false)
        };
        let mut schema = schema;
        if !self.records() {
            // Every question may name the log size its answer must include.
            let properties = std::sync::Arc::make_mut(&mut schema)
                .entry("properties")
                .or_insert_with(|| Value::Object(JsonObject::new()));
            if let Value::Object(properties) = properties {
                properties.insert(MIN_LOG_SIZE.into(), min_log_size_schema());
            }
        }
        Tool::new(self.name(), description, schema).annotate(annotations)
    }
}

/// The argument every question takes: "read your writes".
pub const MIN_LOG_SIZE: &str = "min_log_size";

fn min_log_size_schema() -> Value {
    serde_json::json!({
        "type": "integer",
        "minimum": 0,
        "description": "Answer only from a log of at least this many entries: a write's `index` \
            + 1, to read it back through another server. A server behind waits for it a \
            moment, then answers `log_behind`."
    })
}

/// Takes `min_log_size` out of a question's arguments (before they are read strictly); a
/// tool that records takes none.
pub fn take_min_log_size(
    tool: ToolName,
    args: &mut Option<JsonObject>,
) -> Result<Option<u64>, ArgumentError> {
    if tool.records() {
        return Ok(None);
    }
    let Some(value) = args.as_mut().and_then(|a| a.remove(MIN_LOG_SIZE)) else {
        return Ok(None);
    };
    value.as_u64().map(Some).ok_or_else(|| ArgumentError {
        message: format!(
            "{}: argument `min_log_size`: expected a log size (a whole number ≥ 0), not {value}",
            tool.name()
        ),
        field: Some(MIN_LOG_SIZE.into()),
    })
}

/// The tools, in the order a client lists them.
pub fn tools() -> Vec<Tool> {
    ToolName::ALL.into_iter().map(ToolName::tool).collect()
}

/// A call, its tool named and its arguments read: parsed once, then answered by the handler.
pub enum Call {
    /// `decide`.
    Decide(DecideArgs),
    /// `explain`.
    Explain(ExplainArgs),
    /// `trust`.
    Trust(TrustArgs),
    /// `ladder`.
    Ladder,
    /// `promise`.
    Promise(PromiseArgs),
    /// `outcome`.
    Outcome(OutcomeArgs),
    /// `promises_open`.
    PromisesOpen(PromisesOpenArgs),
}

impl Call {
    /// Reads the call of tool `tool` with `args`, strictly; an error names the argument at fault.
    pub fn parse(tool: ToolName, args: Option<JsonObject>) -> Result<Self, ArgumentError> {
        let name = tool.name();
        Ok(match tool {
            ToolName::Decide => Call::Decide(arguments(name, args)?),
            ToolName::Explain => Call::Explain(arguments(name, args)?),
            ToolName::Trust => Call::Trust(arguments(name, args)?),
            ToolName::Ladder => {
                let LadderArgs {} = arguments(name, args)?;
                Call::Ladder
            }
            ToolName::Promise => Call::Promise(arguments(name, args)?),
            ToolName::Outcome => Call::Outcome(arguments(name, args)?),
            ToolName::PromisesOpen => Call::PromisesOpen(arguments(name, args)?),
        })
    }
}

/// The message for a call of a tool that does not exist.
pub fn unknown_tool(name: &str) -> String {
    format!(
        "no tool named {name:?}; the tools are: {}",
        ToolName::ALL
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The policy resource's address.
pub const POLICY_URI: &str = "stepwise://policy";
/// The latest checkpoint resource's address.
pub const CHECKPOINT_URI: &str = "stepwise://checkpoint";

/// The resources, in the order a client lists them.
pub fn resources() -> Vec<Resource> {
    vec![
        Resource::new(POLICY_URI, "policy")
            .with_description("The policy (stepwise.toml): the ladder, the model's settings, the seeds, the time window.")
            .with_mime_type("application/toml"),
        Resource::new(CHECKPOINT_URI, "checkpoint")
            .with_description("The log's latest signed checkpoint (a C2SP signed note: origin, size, root hash, signature), as `stepwise log checkpoint` prints it.")
            .with_mime_type("text/plain"),
    ]
}

/// The message for a read of a resource that does not exist.
pub fn unknown_resource(uri: &str) -> String {
    format!("no resource {uri:?}; the resources are {POLICY_URI} and {CHECKPOINT_URI}")
}

/// What the server says of itself at initialisation; `who` names the calling principal.
pub fn server_config(who: &str) -> ServerConfig {
    ServerConfig::new(
        ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .build(),
    )
    .with_server_info(Implementation::new("stepwise", env!("CARGO_PKG_VERSION")))
    .with_instructions(format!(
        "stepwise: graduated trust from recorded evidence. You are {who}. Before a consequential \
         action, call `decide`; if refused, read `next_step`, `retryable` and \
         `earliest_retry`. Record what you undertake with `promise`; its promisee judges it \
         with `outcome`."
    ))
}

/// A tool's arguments that could not be read: the argument at fault (none when the arguments
/// as a whole are wrong, as a missing one) and the message naming it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ArgumentError {
    /// The argument's path, as `stake` or `fraction`.
    pub field: Option<String>,
    /// What was wrong, naming the tool and the argument.
    pub message: String,
}

/// The arguments of `tool`, deserialised strictly; an error names the argument at fault.
fn arguments<T: DeserializeOwned>(
    tool: &str,
    arguments: Option<JsonObject>,
) -> Result<T, ArgumentError> {
    let value = Value::Object(arguments.unwrap_or_default());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ArgumentError {
                field: None,
                message: format!("{tool}: {}", e.inner()),
            }
        } else {
            ArgumentError {
                message: format!("{tool}: argument `{path}`: {}", e.inner()),
                field: Some(path),
            }
        }
    })
}

/// What a tool answers: the JSON, and optionally words before it.
pub struct Answer {
    /// Words for a reader, before the JSON.
    pub summary: Option<String>,
    /// The answer.
    pub json: Value,
}

impl Answer {
    /// An answer that is JSON only.
    pub fn json(json: Value) -> Self {
        Self {
            summary: None,
            json,
        }
    }

    /// The answer naming principals by their ids, never by the log's pseudonyms.
    pub fn opened(self, names: &stepwise_engine::Names) -> Self {
        let text = self.json.to_string();
        let json = match names.open_json(&text) {
            std::borrow::Cow::Owned(opened) => serde_json::from_str(&opened).unwrap_or(self.json),
            std::borrow::Cow::Borrowed(_) => self.json,
        };
        Self {
            summary: self.summary.map(|s| names.open_text(&s).into_owned()),
            json,
        }
    }

    /// The result: the words, then the JSON as the CLI's `--json` prints it; an object is also
    /// the structured content (MCP allows only objects there, so the ladder's list is text only).
    pub fn into_result(self) -> CallToolResult {
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
