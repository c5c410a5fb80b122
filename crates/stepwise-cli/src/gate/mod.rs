//! `stepwise gate`: an MCP proxy that gives an agent's tools graduated autonomy.
//!
//! The gate starts the upstream MCP server given after `--` (stdio) and offers its tools to the
//! client on its own stdio. Each call is decided before it is forwarded: the policy's
//! `[gate.tools."<name>"]` makes the call a request for a capability at a stake (fixed, or read
//! from an argument), decided by the ladder for the calling principal from the live state in
//! memory (the log folded once at start, then followed every `--follow-ms` by a thread, as the
//! server does: the decision path never reads the store).
//!
//! * Allowed: the call is forwarded and the upstream result passes back unchanged, but for
//!   `_meta.stepwise` (the promise recorded, the decision's place in the decision log). A promise
//!   by the principal to the tool's promisee is recorded once the upstream has answered, so a
//!   call that never happened promises nothing; a tool error (`isError`) promises nothing either.
//! * Denied: the call is not forwarded; the client gets a tool error that says why, the next
//!   step, and whether and when to retry (the words of `stepwise decide`).
//! * A tool the policy does not name is denied (`tool_not_in_policy`). A stake argument missing
//!   or not a number ≥ 0 is a tool error naming it, nothing recorded. The upstream's own errors
//!   pass through; an upstream that exits is reported as a tool error and started again at the
//!   next call.
//!
//! Every decision is kept in the store's decision log (`stepwise decisions`), with what replays
//! it. Nothing may write to stdout but the protocol itself.

mod upstream;

use anyhow::{Context as _, Result, anyhow, bail};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, MetaObject, PaginatedRequestParams, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, ServiceError};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use stepwise::evidence::{Event, Id, Time, check_stake};
use stepwise::policy::{GateTool, StakeSource};
use stepwise_api::DecisionView;
use stepwise_api::decisions::{CALLS_IN_FLIGHT, GateDecision, TOOL_NOT_IN_POLICY, result};
use stepwise_engine::question::Decide;
use stepwise_engine::{Engine, Options, Prefix, Recorder};
use stepwise_store::data_dir::DataDir;
use stepwise_store::{DecisionStore as _, SqliteStore};
use upstream::Upstream;

#[derive(clap::Args)]
pub struct GateArgs {
    /// The calling principal (the agent): whose calls are decided, and the promisor of the
    /// promises allowed calls record. Default: the policy's `[gate] principal`.
    #[arg(long, value_name = "ID")]
    principal: Option<String>,
    /// How often to read what other processes appended to the log (a promisee's outcomes), in
    /// milliseconds: a decision counts evidence recorded elsewhere from at most this long ago.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    follow_ms: u64,
    /// The upstream MCP server to start, and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Serves the gate on stdin and stdout until the client closes stdin.
pub fn run(data: &DataDir, args: GateArgs) -> Result<bool> {
    let policy = data.policy()?;
    let principal = match (&args.principal, &policy.gate.principal) {
        (Some(p), _) => Id::parse("--principal", p)?,
        (None, Some(p)) => p.clone(),
        (None, None) => bail!(
            "--principal: no calling principal; name the agent with --principal ID or with \
             `principal` under [gate] in the policy"
        ),
    };
    if policy.gate.tools.is_empty() {
        eprintln!(
            "stepwise gate: warning: the policy names no tool under [gate.tools]; every call \
             will be refused (tool_not_in_policy)"
        );
    }
    // The decision log is not evidence: its commits need not wait for the disk (a crash of the
    // gate loses none; the next promise's commit syncs them), which keeps them off the call's
    // critical path.
    drop(crate::open_for_writing(data)?);
    let store = data.open_store()?.without_sync_wait()?;
    // Decisions are answered from memory: what other processes append (the promisee's
    // outcomes above all) is folded in by the engine's follower, never on the decision path.
    // The gate's own promises are committed on the calling thread (one client: no writer
    // thread to hand them to) and folded as they are committed.
    let options = Options {
        follow_interval: Duration::from_millis(args.follow_ms),
        group_commit: false,
        ranker: false,
        tabler: false,
        ..Options::default()
    };
    let engine = Engine::open(data, &options).context("opening the engine")?;
    // One thread: a call's store work (a read before deciding, one synced commit for a promise,
    // one unsynced for the decision) runs on it between the messages it waits for, which costs
    // less than handing each to another thread and waking this one again.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let upstream = Upstream::start(args.command).await?;
        let gate = Gate(Arc::new(Inner {
            recorder: Recorder {
                credential: "--principal".into(),
                principal: Some(principal.clone()),
            },
            principal,
            tools: policy.gate.tools,
            engine,
            store: Mutex::new(store),
            upstream,
            promises: AtomicU64::new(0),
            limit_exposure: policy.ladder.rules().limit_exposure,
            in_flight: Mutex::new(InFlight::default()),
        }));
        crate::stdio::serve(gate).await?;
        Ok(true)
    })
}

/// The gate: shared by every call of the session.
#[derive(Clone)]
struct Gate(Arc<Inner>);

struct Inner {
    principal: Id,
    /// Who records the promises of allowed calls: the principal.
    recorder: Recorder,
    tools: BTreeMap<String, GateTool>,
    /// The trust state, following the log; appends the promises of allowed calls.
    engine: Engine,
    /// Keeps the decision log.
    store: Mutex<SqliteStore>,
    upstream: Upstream,
    /// Promises recorded by this process, for unique ids.
    promises: AtomicU64,
    /// Whether the ladder bounds what is at stake at once (`[ladder] limit_exposure`).
    limit_exposure: bool,
    /// Allowed calls whose promise is not recorded yet. Held while deciding and while recording
    /// a promise, so that no two calls are allowed more than the limit between them.
    in_flight: Mutex<InFlight>,
}

/// Allowed calls not yet answered, and their stakes.
#[derive(Default)]
struct InFlight {
    calls: usize,
    stake: f64,
}

impl InFlight {
    fn release(&mut self, stake: f64) {
        self.calls = self.calls.saturating_sub(1);
        self.stake = if self.calls == 0 {
            0.0
        } else {
            (self.stake - stake).max(0.0)
        };
    }
}

/// What the gate makes of a call the policy names.
enum Verdict {
    /// The ladder refuses it.
    Denied(DecisionView),
    /// The ladder allows it, but with the calls not yet answered it would put more at stake at
    /// once than the limit: how many those calls are, and their stake.
    Crowded(DecisionView, usize, f64),
    /// Allowed, its stake counted as in flight until the reservation ends.
    Allowed(DecisionView, Reservation),
}

/// An allowed call's stake, counted in flight until its promise is recorded or the call ends
/// (also when the client cancels it: dropping the reservation releases it).
struct Reservation {
    inner: Arc<Inner>,
    stake: f64,
    released: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.released {
            lock(&self.inner.in_flight).release(self.stake);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A tool error: the text for the agent, and what the gate adds under `_meta.stepwise`.
fn refusal(text: String, stepwise: Value) -> CallToolResult {
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
fn stake_of(name: &str, tool: &GateTool, args: Option<&JsonObject>) -> Result<f64> {
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

impl Inner {
    /// The decision on a call of `tool` at `stake` now, from the state in memory, with the
    /// stakes of the allowed calls not yet answered taken into account.
    fn decide(self: &Arc<Self>, tool: &GateTool, stake: f64) -> Result<Verdict> {
        let mut in_flight = lock(&self.in_flight);
        let question = Decide::new(
            self.principal.clone(),
            &tool.capability,
            stake,
            None,
            Prefix::ALL,
        )?;
        let view = self
            .engine
            .decide_here(&question)
            .ok_or_else(|| anyhow!("the live state could not answer for now"))?;
        if !view.allowed {
            return Ok(Verdict::Denied(view));
        }
        if self.limit_exposure
            && in_flight.calls > 0
            && view.exposure + in_flight.stake + stake > view.limit
        {
            return Ok(Verdict::Crowded(view, in_flight.calls, in_flight.stake));
        }
        in_flight.calls += 1;
        in_flight.stake += stake;
        Ok(Verdict::Allowed(
            view,
            Reservation {
                inner: Arc::clone(self),
                stake,
                released: false,
            },
        ))
    }

    /// Keeps `decision` in the decision log; its place there, or `None` (with a warning on
    /// stderr) when the store failed: the call's answer does not wait on the record.
    fn keep(&self, decision: &GateDecision) -> Option<u64> {
        let kept = serde_json::to_string(decision)
            .map_err(anyhow::Error::from)
            .and_then(|body| {
                let at = Time::parse("at", &decision.at)?;
                Ok(lock(&self.store).put_decision(at, &decision.principal, &body)?)
            });
        match kept {
            Ok(seq) => Some(seq),
            Err(e) => {
                eprintln!(
                    "stepwise gate: warning: the decision log did not keep a decision: {e:#}"
                );
                None
            }
        }
    }

    /// Records the promise of an allowed call to `name`: by the principal, to the tool's
    /// promisee, at `stake`, due the tool's `due` from now. Its id and log index.
    fn promise(
        &self,
        name: &str,
        tool: &GateTool,
        mut reservation: Reservation,
    ) -> Result<(String, u64)> {
        let stake = reservation.stake;
        let mut in_flight = lock(&self.in_flight);
        // Once recorded, the promise counts in the state's exposure instead.
        in_flight.release(stake);
        reservation.released = true;
        let now = crate::record::now();
        let due = now
            .as_micros()
            .checked_add(tool.due_micros)
            .and_then(Time::from_micros)
            .ok_or_else(|| anyhow!("{name}: `due` is too far in the future"))?;
        let id = format!(
            "gate-{:x}-{:x}-{}",
            now.as_micros(),
            std::process::id(),
            self.promises.fetch_add(1, Ordering::Relaxed)
        );
        let event = Event::from_value(&json!({
            "kind": "promise",
            "at": now.to_string(),
            "id": id,
            "promisor": self.principal.as_str(),
            "promisee": tool.promisee.as_str(),
            "scope": tool.scope.as_str(),
            "stake": stake,
            "due": due.to_string(),
            "note": format!("stepwise gate: a call to the tool {name:?}"),
        }))?;
        let recorded = self.engine.record_here(&self.recorder, event)?;
        Ok((id, recorded.index))
    }

    /// The answer to a call of a tool the policy does not name.
    fn not_in_policy(&self, name: &str) -> CallToolResult {
        let (at, log_size) = self.engine.live().read(|s| {
            let trust = s.trust();
            (trust.instant_for(crate::record::now()), trust.log_size())
        });
        let decision =
            GateDecision::not_in_policy(self.principal.as_str(), name, at.to_string(), log_size);
        let seq = self.keep(&decision);
        let gated: Vec<&str> = self.tools.keys().map(String::as_str).collect();
        refusal(
            format!(
                "stepwise gate: the call to {name:?} was not made: the policy does not name this \
                 tool ({TOOL_NOT_IN_POLICY}), so no record allows it. retry: never — ask the \
                 operator to add it under [gate.tools]. The tools the policy names: {}.",
                if gated.is_empty() {
                    "none".to_owned()
                } else {
                    gated.join(", ")
                }
            ),
            json!({ "decision": decision, "decision_seq": seq }),
        )
    }
}

impl Gate {
    async fn call(&self, request: CallToolRequestParams) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let inner = Arc::clone(&self.0);
        let Some(tool) = inner.tools.get(&name).cloned() else {
            return Ok(inner.not_in_policy(&name).into());
        };
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
        let verdict = match inner.decide(&tool, stake) {
            Ok(verdict) => verdict,
            Err(e) => return Err(ErrorData::internal_error(format!("deciding: {e:#}"), None)),
        };
        let (view, reservation) = match verdict {
            Verdict::Allowed(view, reservation) => (view, reservation),
            Verdict::Denied(view) => {
                let decision =
                    GateDecision::new(&name, tool.promisee.as_str(), &view, result::DENIED);
                let mut words = Vec::new();
                crate::ladder::write_decision(&mut words, &view)
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let text = format!(
                    "stepwise gate: the call to {name:?} was not made.\n{}",
                    String::from_utf8_lossy(&words)
                );
                let seq = inner.keep(&decision);
                return Ok(refusal(text, json!({ "decision": view, "decision_seq": seq })).into());
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
                let seq = inner.keep(&decision);
                return Ok(refusal(text, json!({ "decision": view, "decision_seq": seq })).into());
            }
        };
        // What became of the call is set below, once it is known.
        let mut decision = GateDecision::new(&name, tool.promisee.as_str(), &view, result::DENIED);
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
        match inner.promise(&name, &tool, reservation) {
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
                "error": decision.error,
                "decision_seq": seq,
            }),
        );
        Ok(result.into())
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
        for tool in &mut listed.tools {
            let note = match self.0.tools.get(tool.name.as_ref()) {
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
        tokio::select! {
            answer = self.call(request) => answer,
            () = context.ct.cancelled() => Err(ErrorData::internal_error(
                "the client cancelled the call",
                None,
            )),
        }
    }
}
