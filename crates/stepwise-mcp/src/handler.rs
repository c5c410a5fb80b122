//! The one MCP server of stepwise, over any transport: a call's tool and arguments are read
//! once ([`Call::parse`]), turned into the engine's question, and answered through a
//! [`Backend`] — the server's live engine for `/mcp`, a fold of the data directory for
//! `stepwise mcp` on stdio. A denial is a normal result; a bad argument, a refused event or a
//! missing right is a tool error with the engine's error body (`code`, `message`, `field`).

use crate::tools::{
    self, Answer, Call, DecideArgs, POLICY_URI, PromisesOpenArgs, ToolName, TrustArgs,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ResourceContents, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;
use stepwise::evidence::Id;
use stepwise::ladder::Ladder;
use stepwise::ledger::merkle::Hash;
use stepwise_api::DecisionView;
use stepwise_engine::question::{Decide, Explain, OpenPromises, Question, Trust, optional_id};
use stepwise_engine::{Error, Prefix, Recorder, now};

/// Who calls a tool: whom it records as, and why it may not record, if it may not.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whom its events are recorded as.
    pub recorder: Recorder,
    /// Why it may not record (a reader key), or `None`.
    pub may_not_record: Option<Error>,
}

/// What one entry recorded through a tool answers.
#[derive(Debug, Clone)]
pub struct RecordedEntry {
    /// Its log index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The log size of the commit that holds it.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
}

/// Where a transport's answers come from.
pub trait Backend: Clone + Send + Sync + 'static {
    /// The caller of this request (HTTP: its key) or session (stdio: `--principal`).
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData>;

    /// How the server names the calling principal in its instructions.
    fn who(&self) -> String;

    /// The engine's answer to `question`.
    fn ask<Q: Question>(
        &self,
        question: Q,
    ) -> impl Future<Output = Result<Q::Answer, Error>> + Send;

    /// Waits until answers include a log of `min_log_size` entries at least, when a question
    /// names one (`log_behind` when they do not within the backend's wait).
    fn caught_up(
        &self,
        min_log_size: Option<u64>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The policy's ladder.
    fn ladder(&self) -> Result<Ladder, Error>;

    /// Records `event` (a JSON object) as `recorder`, once durable.
    fn record(
        &self,
        recorder: &Recorder,
        event: Value,
    ) -> impl Future<Output = Result<RecordedEntry, Error>> + Send;

    /// The text of the policy, and of the latest signed checkpoint.
    fn resource(&self, uri: &str) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// The receipt of `decision` (a decision's JSON, in ids): signed by the log's key, with
    /// the proofs of the entries it rests on.
    fn receipt(
        &self,
        decision: Value,
    ) -> impl Future<Output = Result<stepwise::ledger::receipt::Receipt, Error>> + Send;

    /// Ids ↔ the log's names: what answers are opened with, so that they name principals by
    /// their ids.
    fn names(&self) -> std::sync::Arc<stepwise_engine::Names>;

    /// A decision in words, put before its JSON (the command line's text), if this transport
    /// gives words.
    fn decision_words(&self, _decision: &DecisionView) -> Option<String> {
        None
    }
}

/// The MCP server over a backend.
#[derive(Clone)]
pub struct Handler<B: Backend>(pub B);

/// A tool error as the client sees it: the message (naming the field at fault), and the
/// engine's error body (`code`, `message`, `field`).
fn tool_error(e: &Error) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "error: {}",
        e.body.message
    ))]);
    result.structured_content = serde_json::to_value(&e.body).ok();
    result
}

/// A view as a tool's answer.
fn view(value: &impl Serialize) -> Result<Answer, Error> {
    serde_json::to_value(value)
        .map(Answer::json)
        .map_err(|e| Error::internal(format!("serialising the answer: {e}")))
}

impl<B: Backend> Handler<B> {
    /// Runs one call as `caller`; any error is the tool's error, never the session's.
    async fn call(
        &self,
        caller: &Caller,
        name: &str,
        args: Option<rmcp::model::JsonObject>,
    ) -> Result<Answer, Error> {
        let tool =
            ToolName::parse(name).ok_or_else(|| Error::bad_request(tools::unknown_tool(name)))?;
        // The right first: a reader learns what it lacks before anything else.
        if tool.records()
            && let Some(refused) = &caller.may_not_record
        {
            return Err(refused.clone());
        }
        let refused = |e: tools::ArgumentError| {
            let mut refused = Error::bad_request(e.message);
            refused.body.field = e.field;
            refused
        };
        let mut args = args;
        let min_log_size = tools::take_min_log_size(tool, &mut args).map_err(refused)?;
        let call = Call::parse(tool, args).map_err(refused)?;
        let backend = &self.0;
        backend.caught_up(min_log_size).await?;
        match call {
            Call::Decide(DecideArgs {
                subject,
                capability,
                stake,
                truster,
                receipt,
            }) => {
                let question = Decide::new(
                    Id::parse("subject", &subject)?,
                    &capability,
                    stake,
                    optional_id("truster", truster.as_deref())?,
                    Prefix::ALL,
                )?;
                let decision = backend.ask(Explained(question)).await?;
                let mut answer = view(&decision)?;
                if receipt == Some(true) {
                    let opened = answer.opened(&backend.names()).json;
                    let receipt = backend.receipt(opened).await?;
                    answer = view(&stepwise_api::ReceiptView::from(receipt))?;
                }
                answer.summary = backend.decision_words(&decision);
                Ok(answer)
            }
            Call::Explain(a) => {
                let subject = Id::parse("subject", &a.subject)?;
                view(
                    &backend
                        .ask(Explain {
                            subject,
                            prefix: Prefix::ALL,
                        })
                        .await?,
                )
            }
            Call::Trust(TrustArgs {
                subject,
                truster,
                scope,
            }) => {
                let question = Trust {
                    subject: Id::parse("subject", &subject)?,
                    truster: optional_id("truster", truster.as_deref())?,
                    scope: optional_id("scope", scope.as_deref())?,
                    prefix: Prefix::ALL,
                };
                view(&backend.ask(question).await?)
            }
            Call::Ladder => view(&stepwise_api::ladder_view(&backend.ladder()?)),
            Call::Promise(a) => self.record(caller, "promise", &a).await,
            Call::Outcome(a) => self.record(caller, "outcome", &a).await,
            Call::PromisesOpen(PromisesOpenArgs {
                promisee,
                limit,
                cursor,
            }) => {
                let question = OpenPromises::new(
                    optional_id("promisee", promisee.as_deref())?,
                    cursor,
                    limit,
                    Prefix::ALL,
                )?;
                view(&backend.ask(question).await?)
            }
        }
    }

    /// Records one event of `kind` from a tool's arguments as the caller: the promisor of a
    /// promise, the author of an outcome; the arguments, serialised with `kind`, `at` and the
    /// promisor added, are the event's JSON object. Answers as `stepwise record --json` does.
    async fn record(
        &self,
        caller: &Caller,
        kind: &str,
        fields: &impl Serialize,
    ) -> Result<Answer, Error> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(fields) else {
            return Err(Error::internal(format!(
                "the {kind} arguments did not serialise to a JSON object"
            )));
        };
        map.insert("kind".into(), kind.into());
        map.insert("at".into(), now().to_string().into());
        // A caller with no principal has no one to record as; the append path says so.
        if kind == "promise"
            && let Some(principal) = &caller.recorder.principal
        {
            map.insert("promisor".into(), principal.as_str().into());
        }
        let recorded = self.0.record(&caller.recorder, Value::Object(map)).await?;
        Ok(recorded_answer(kind, &recorded))
    }
}

/// A recorded entry as a tool answers it: a line of words, and the JSON `stepwise record
/// --json` prints.
fn recorded_answer(kind: &str, recorded: &RecordedEntry) -> Answer {
    let mut json = Map::new();
    json.insert("index".into(), recorded.index.into());
    json.insert("kind".into(), kind.into());
    json.insert(
        "leaf_hash".into(),
        stepwise_api::hex(&recorded.leaf_hash).into(),
    );
    json.insert("size".into(), recorded.size.into());
    json.insert("root".into(), stepwise_api::hex(&recorded.root).into());
    Answer {
        summary: Some(format!(
            "recorded {kind} at index {} (log size {})",
            recorded.index, recorded.size
        )),
        json: Value::Object(json),
    }
}

/// A decision explained, whatever the question's `explain`: what the `decide` tool answers.
struct Explained(Decide);

impl Question for Explained {
    type Answer = DecisionView;
    fn prefix(&self) -> Prefix {
        self.0.prefix
    }
    fn answer(
        self,
        state: &stepwise::ladder::LadderState,
        at: stepwise::evidence::Time,
    ) -> DecisionView {
        self.0.view(state, at)
    }
}

impl<B: Backend> ServerHandler for Handler<B> {
    fn get_info(&self) -> ServerConfig {
        tools::server_config(&self.0.who())
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
        let caller = self.0.caller(&context)?;
        let answer = self.call(&caller, &request.name, request.arguments).await;
        Ok(match answer {
            Ok(answer) => answer.opened(&self.0.names()).into_result(),
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
        // Every caller may read the policy and the checkpoint.
        self.0.caller(&context)?;
        let uri = request.uri;
        let text = self
            .0
            .resource(&uri)
            .await
            .map_err(|e| ErrorData::internal_error(e.body.message, None))?;
        let Some(text) = text else {
            return Err(ErrorData::resource_not_found(
                tools::unknown_resource(&uri),
                None,
            ));
        };
        let mut contents = ResourceContents::text(text, uri.clone());
        if uri == POLICY_URI {
            contents = contents.with_mime_type("application/toml");
        }
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}
