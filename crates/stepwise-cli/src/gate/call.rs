//! One gated call, from the client's request to its answer: the policy's tool, its pin, its
//! stake, the ladder's verdict (with the calls in flight and the tool's budget), then the
//! upstream and the promise; or a refusal that says why — forwarded all the same in shadow mode.

use super::approve::Asked;
use super::{Inner, Verdict, lock};
use anyhow::{anyhow, bail};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, MetaObject, PaginatedRequestParams, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{Peer, RequestContext, ServiceError};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::sync::Arc;
use stepwise::evidence::check_stake;
use stepwise::ladder::BudgetUse;
use stepwise::model::params::format_duration;
use stepwise::policy::{GateTool, StakeSource};
use stepwise_api::decisions::{
    BUDGET_EXHAUSTED, CALLS_IN_FLIGHT, GateDecision, TOOL_CHANGED, TOOL_NOT_IN_POLICY, result,
};
use stepwise_engine::telemetry::{self, CallOutcome, CallSpan};

tokio::task_local! {
    /// The span of the call being answered, while telemetry is on (`stepwise.gate.call`): the
    /// engine's decision is recorded as its child, and the one place every decided call passes,
    /// [`Inner::keep`], ends it with what became of the call.
    static CALL: RefCell<Option<CallSpan>>;
}

/// Runs `f` (the ladder's decision) with the call's span in scope.
pub(super) fn in_call_span<R>(f: impl FnOnce() -> R) -> R {
    let Some(span) = CALL.try_with(|c| c.borrow_mut().take()).ok().flatten() else {
        return f();
    };
    let answer = span.in_scope(f);
    let _ = CALL.try_with(|c| *c.borrow_mut() = Some(span));
    answer
}

/// Ends the call's span with what became of the call, as `decision` keeps it.
pub(super) fn end_call_span(decision: &GateDecision) {
    if let Some(span) = CALL.try_with(|c| c.borrow_mut().take()).ok().flatten() {
        span.end(&CallOutcome {
            result: &decision.result,
            promise: decision.promise.as_deref(),
            approver: decision.approver.as_deref(),
            error: decision.error.as_deref(),
        });
    }
}

/// An approver's word that let a call through.
struct Approval {
    approver: stepwise::evidence::Id,
    index: u64,
    promise: String,
}

/// The gate: shared by every call of the session.
#[derive(Clone)]
pub(super) struct Gate(pub(super) Arc<Inner>);

impl Gate {
    async fn call(
        &self,
        request: CallToolRequestParams,
        peer: &Peer<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let inner = Arc::clone(&self.0);
        let Some(tool) = inner.tools.get(&name).cloned() else {
            let (decision, text) = inner.not_in_policy(&name);
            let meta = json!({ "decision": decision });
            return self.refuse(request, decision, text, meta).await;
        };
        if inner.upstream.is_stale()
            && let Err(e) = inner.list_upstream().await
        {
            eprintln!("stepwise gate: warning: listing the upstream's tools to pin them: {e:#}");
        }
        if let Some(words) = inner.changed(&name) {
            let (decision, text) = inner.tool_changed(&name, &tool, words);
            let meta = json!({ "decision": decision });
            return self.refuse(request, decision, text, meta).await;
        }
        let stake = match stake_of(&name, &tool, request.arguments.as_ref()) {
            Ok(stake) => stake,
            Err(e) => {
                return Ok(refusal(
                    format!("stepwise gate: the call was not made: {e:#}"),
                    json!({ "error": format!("{e:#}") }),
                )
                .into());
            }
        };
        let verdict = match inner.decide(&name, &tool, stake) {
            Ok(verdict) => verdict,
            Err(e) => return Err(ErrorData::internal_error(format!("deciding: {e:#}"), None)),
        };
        let (view, reservation) = match verdict {
            Verdict::Allowed(view, reservation) => (view, reservation),
            Verdict::Denied(view) => {
                let mut also = None;
                if view.retryable == Some(true) && !tool.approvers.is_empty() && !inner.shadow {
                    match self.ask_approval(&name, &tool, &view, peer).await? {
                        Asked::Approved {
                            approver,
                            index,
                            promise,
                            reservation,
                        } => {
                            let approval = Approval {
                                approver,
                                index,
                                promise,
                            };
                            return self
                                .forward_allowed(
                                    request,
                                    &name,
                                    &tool,
                                    &view,
                                    reservation,
                                    Some(approval),
                                )
                                .await;
                        }
                        Asked::Refused(answer) => return Ok(answer),
                        Asked::NoApprover(line) => also = Some(line),
                    }
                }
                let decision =
                    GateDecision::new(&name, tool.promisee.as_str(), &view, result::DENIED);
                let mut words = Vec::new();
                crate::ladder::write_decision(&mut words, &view)
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let mut text = format!(
                    "stepwise gate: the call to {name:?} was not made.\n{}",
                    String::from_utf8_lossy(&words)
                );
                if let Some(line) = also {
                    text = format!("{}\n{line}", text.trim_end());
                }
                let meta = json!({ "decision": view });
                return self.refuse(request, decision, text, meta).await;
            }
            Verdict::Crowded(view, calls, in_flight) => {
                let mut decision =
                    GateDecision::new(&name, tool.promisee.as_str(), &view, result::DENIED);
                decision.allowed = false;
                decision.reasons.insert(0, CALLS_IN_FLIGHT.to_owned());
                decision.retryable = Some(true);
                let text = format!(
                    "stepwise gate: the call to {name:?} was not made: {} call(s) not yet answered \
                     hold {in_flight} at stake; with this one ({stake}) and the {} of open \
                     promises, {} would be at stake at once, above the limit of {} at level {} \
                     ({}) ({CALLS_IN_FLIGHT}). retry: not yet — when those calls have finished.",
                    calls,
                    view.exposure,
                    view.exposure + in_flight + stake,
                    view.limit,
                    view.level.index,
                    view.level.name,
                );
                let meta = json!({ "decision": view });
                return self.refuse(request, decision, text, meta).await;
            }
            Verdict::OverBudget(view, used) => {
                let (decision, text) = over_budget(&name, &tool, &view, &used);
                let meta = json!({ "decision": view, "budget": decision.budget });
                return self.refuse(request, decision, text, meta).await;
            }
        };
        self.forward_allowed(request, &name, &tool, &view, reservation, None)
            .await
    }

    /// Forwards an allowed (or approved) call and records its promise (under the id the
    /// approval names, when approved).
    async fn forward_allowed(
        &self,
        request: CallToolRequestParams,
        name: &str,
        tool: &GateTool,
        view: &stepwise_api::DecisionView,
        reservation: super::Reservation,
        approval: Option<Approval>,
    ) -> Result<CallToolResponse, ErrorData> {
        let inner = &self.0;
        // What became of the call is set below, once it is known.
        let mut decision = GateDecision::new(name, tool.promisee.as_str(), view, result::DENIED);
        if let Some(a) = &approval {
            decision.approver = Some(a.approver.to_string());
            decision.approval_index = Some(a.index);
        }
        let mut result = match self.forward(request).await {
            Ok(result) => result,
            Err(failure) => {
                decision.result = result::UPSTREAM_FAILED.into();
                decision.error = Some(failure.message());
                let seq = inner.keep(&decision);
                return match failure {
                    Failure::Upstream(e) => Err(e),
                    other => Ok(refusal(
                        other.message(),
                        json!({ "error": other.message(), "decision_seq": seq }),
                    )
                    .into()),
                };
            }
        };
        if result.is_error == Some(true) {
            decision.result = result::TOOL_ERROR.into();
            inner.keep(&decision);
            return Ok(result.into());
        }
        let id = approval.as_ref().map(|a| a.promise.clone());
        match inner.promise(name, tool, reservation, id) {
            Ok((id, index)) => {
                decision.result = result::FORWARDED.into();
                decision.promise = Some(id);
                decision.promise_index = Some(index);
            }
            Err(e) => {
                decision.result = result::UNRECORDED.into();
                decision.error = Some(format!("{e:#}"));
                eprintln!(
                    "stepwise gate: warning: the promise of a call to {name:?} was not recorded: {e:#}"
                );
            }
        }
        let seq = inner.keep(&decision);
        let MetaObject(object) = result
            .meta
            .get_or_insert_with(|| MetaObject(JsonObject::new()));
        object.insert(
            "stepwise".into(),
            json!({
                "promise": decision.promise,
                "promise_index": decision.promise_index,
                "promisee": tool.promisee.as_str(),
                "approver": decision.approver,
                "approval_index": decision.approval_index,
                "error": decision.error,
                "decision_seq": seq,
            }),
        );
        Ok(result.into())
    }

    /// A call the gate refuses: kept in the decision log and answered with `text` as a tool
    /// error (`meta` under `_meta.stepwise`). In shadow mode it is kept as `would_deny`,
    /// forwarded all the same, and answered with the upstream's result, `_meta.stepwise`
    /// saying what the gate would have done.
    async fn refuse(
        &self,
        request: CallToolRequestParams,
        mut decision: GateDecision,
        text: String,
        meta: Value,
    ) -> Result<CallToolResponse, ErrorData> {
        let inner = &self.0;
        let mut meta = meta;
        if !inner.shadow {
            meta["decision_seq"] = json!(inner.keep(&decision));
            return Ok(refusal(text, meta).into());
        }
        decision.result = result::WOULD_DENY.into();
        meta["decision_seq"] = json!(inner.keep(&decision));
        meta["would_deny"] = json!(decision.reasons);
        meta["words"] = json!(text);
        match self.forward(request).await {
            Ok(mut answer) => {
                let MetaObject(object) = answer
                    .meta
                    .get_or_insert_with(|| MetaObject(JsonObject::new()));
                object.insert("stepwise".into(), meta);
                Ok(answer.into())
            }
            Err(Failure::Upstream(e)) => Err(e),
            Err(other) => {
                meta["error"] = json!(other.message());
                Ok(refusal(other.message(), meta).into())
            }
        }
    }

    /// Forwards the call to the upstream server; a session that broke is ended, so the next
    /// call starts the server again.
    async fn forward(&self, request: CallToolRequestParams) -> Result<CallToolResult, Failure> {
        let upstream = &self.0.upstream;
        let session = upstream
            .session()
            .await
            .map_err(|e| Failure::Start(format!("{e:#}")))?;
        match session.peer.call_tool(request).await {
            Ok(result) => Ok(result),
            Err(ServiceError::McpError(e)) => Err(Failure::Upstream(e)),
            Err(e) => {
                upstream.lost(session.number).await;
                Err(Failure::Exited(format!(
                    "stepwise gate: the upstream server `{}` failed during the call ({e}); the \
                     call may not have completed and nothing was recorded; the gate starts the \
                     server again at the next call",
                    upstream.describe()
                )))
            }
        }
    }
}

/// Why a forwarded call has no result.
enum Failure {
    /// The upstream answered with a protocol error: passed through as it is.
    Upstream(ErrorData),
    /// The upstream could not be started.
    Start(String),
    /// The upstream exited or its transport broke during the call.
    Exited(String),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Self::Upstream(e) => {
                format!("the upstream server answered with an error: {}", e.message)
            }
            Self::Start(e) => format!("stepwise gate: the call was not made: {e}"),
            Self::Exited(e) => e.clone(),
        }
    }
}

impl ServerHandler for Gate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "stepwise-gate",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "These tools are behind stepwise gate: each call is decided by the trust ladder \
                 for {} before it runs. A refused call is a tool error that says why, the next \
                 step, and whether and when to retry; an allowed one records a promise that \
                 its promisee judges (kept promises earn larger stakes).",
                self.0.principal
            ))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let upstream = &self.0.upstream;
        let session = upstream
            .session()
            .await
            .map_err(|e| ErrorData::internal_error(format!("{e:#}"), None))?;
        let mut listed = match session.peer.list_tools(request).await {
            Ok(listed) => listed,
            Err(ServiceError::McpError(e)) => return Err(e),
            Err(e) => {
                upstream.lost(session.number).await;
                return Err(ErrorData::internal_error(
                    format!("the upstream server `{}` failed: {e}", upstream.describe()),
                    None,
                ));
            }
        };
        if let Err(e) = self.0.note_tools(&listed.tools) {
            eprintln!("stepwise gate: warning: pinning the upstream's tools: {e:#}");
        }
        let changed: Vec<String> = listed
            .tools
            .iter()
            .filter(|t| lock(&self.0.changed).contains_key(t.name.as_ref()))
            .map(|t| t.name.to_string())
            .collect();
        for tool in &mut listed.tools {
            let note = match self.0.tools.get(tool.name.as_ref()) {
                Some(_) if changed.iter().any(|c| *c == tool.name) => format!(
                    "[stepwise gate: this tool's definition changed since the gate pinned it; \
                     calls are refused ({TOOL_CHANGED}) until an operator accepts the change]"
                ),
                Some(gated) => format!(
                    "[stepwise gate: each call asks for {:?} at {}; a refusal says what it takes]",
                    gated.capability,
                    match &gated.stake {
                        StakeSource::Fixed(s) => format!("stake {s}"),
                        StakeSource::Argument(a) => format!("the stake in `{a}`"),
                    }
                ),
                None => format!(
                    "[stepwise gate: not in the policy; calls are refused ({TOOL_NOT_IN_POLICY})]"
                ),
            };
            let description = tool.description.as_deref().unwrap_or_default();
            tool.description = Some(if description.is_empty() {
                note.into()
            } else {
                format!("{description}\n\n{note}").into()
            });
        }
        Ok(listed)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // A call the client cancels is dropped where it stands: its stake stops counting, and a
        // call to the upstream in flight is cancelled there too.
        let name = telemetry::enabled().then(|| request.name.to_string());
        let answer = async {
            tokio::select! {
                answer = self.call(request, &context.peer) => answer,
                () = context.ct.cancelled() => Err(ErrorData::internal_error(
                    "the client cancelled the call",
                    None,
                )),
            }
        };
        let Some(name) = name else {
            return answer.await;
        };
        let span = CallSpan::start(self.0.principal.as_str(), &name);
        CALL.scope(RefCell::new(Some(span)), answer).await
    }
}

/// A tool error: the text for the agent, and what the gate adds under `_meta.stepwise`.
pub(super) fn refusal(text: String, stepwise: Value) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.meta = Some(meta(stepwise));
    result
}

fn meta(stepwise: Value) -> MetaObject {
    let mut object = JsonObject::new();
    object.insert("stepwise".into(), stepwise);
    MetaObject(object)
}

/// The stake of a call to `name`: the policy's, or the number in the argument it names.
fn stake_of(name: &str, tool: &GateTool, args: Option<&JsonObject>) -> anyhow::Result<f64> {
    let arg = match &tool.stake {
        StakeSource::Fixed(stake) => return Ok(*stake),
        StakeSource::Argument(arg) => arg,
    };
    match args.and_then(|a| a.get(arg)) {
        None => bail!(
            "{name}: argument `{arg}` is missing; the policy reads the call's stake from it \
             (a number ≥ 0)"
        ),
        Some(v) => v
            .as_f64()
            .and_then(|s| check_stake(arg, s).ok())
            .ok_or_else(|| {
                anyhow!(
                    "{name}: argument `{arg}` is {v}, not a number ≥ 0; the policy reads the \
                     call's stake from it"
                )
            }),
    }
}

/// The record and the words of a call the ladder allows but the tool's budget does not.
fn over_budget(
    name: &str,
    tool: &GateTool,
    view: &stepwise_api::DecisionView,
    used: &BudgetUse,
) -> (GateDecision, String) {
    let mut decision = GateDecision::new(name, tool.promisee.as_str(), view, result::DENIED);
    let budget = used.budget;
    let per = format_duration(budget.per);
    decision.allowed = false;
    decision.reasons.insert(0, BUDGET_EXHAUSTED.to_owned());
    decision.retryable = Some(used.retry_at.is_some());
    decision.earliest_retry = used.retry_at.map(|t| t.to_string());
    decision.budget = Some(json!({
        "of": "tool",
        "stake_used": used.stake_used,
        "stake_limit": budget.stake,
        "calls_used": used.calls_used,
        "calls": budget.calls,
        "per": per,
    }));
    let mut limits = Vec::new();
    if let Some(calls) = budget.calls {
        limits.push(format!("{calls} call(s)"));
    }
    if let Some(stake) = budget.stake {
        limits.push(format!("{stake} at stake"));
    }
    let retry = match used.retry_at {
        Some(t) => format!("not yet — at {t}, when enough of the window has freed up"),
        None => format!(
            "never at this budget — the stake {} alone is more than it allows",
            view.stake
        ),
    };
    let text = format!(
        "stepwise gate: the call to {name:?} was not made: the tool's budget is spent: {} \
         call(s) and {} at stake within the last {per}, at most {} per {per} \
         ({BUDGET_EXHAUSTED}). retry: {retry}.",
        used.calls_used,
        used.stake_used,
        limits.join(" and "),
    );
    (decision, text)
}

impl Inner {
    /// The record and the words of a call to a tool whose definition changed since the gate
    /// pinned it.
    fn tool_changed(&self, name: &str, tool: &GateTool, words: String) -> (GateDecision, String) {
        let (at, log_size) = self.engine.live().read(|s| {
            let trust = s.trust();
            (trust.instant_for(crate::record::now()), trust.log_size())
        });
        let mut decision = GateDecision::refused_before_deciding(
            self.principal.as_str(),
            name,
            TOOL_CHANGED,
            true,
            at.to_string(),
            log_size,
        );
        decision.capability = Some(tool.capability.clone());
        decision.promisee = Some(tool.promisee.to_string());
        let text = format!(
            "stepwise gate: the call to {name:?} was not made: the upstream's definition of this \
             tool changed since the gate pinned it: {words} ({TOOL_CHANGED}). retry: not yet — \
             once an operator has checked the change and accepted it (`stepwise gate \
             accept-tool {name}`)."
        );
        decision.error = Some(words);
        (decision, text)
    }
}
