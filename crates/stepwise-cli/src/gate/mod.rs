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
//! * Budgets: a tool's `budget` bounds the calls (and stake) it forwards per sliding window;
//!   a call beyond it is refused with `budget_exhausted` and when enough of the window frees up.
//!   A level's budget is the ladder's own (`budget_exhausted` from `decide`).
//! * Pinned tools (`pins`): a tool whose upstream definition changed since the gate first saw
//!   it is refused with `tool_changed` until `stepwise gate accept-tool NAME`.
//! * Checks (`judge`): a tool's `check` command judges its calls' promises in the promisee's
//!   name when they fall due; `stepwise gate check` runs them on demand.
//! * Shadow mode (`--shadow`): every call is forwarded; what the gate would have refused is
//!   kept as `would_deny` with its reasons (`stepwise decisions --shadow-report`).
//!
//! Every decision is kept in the store's decision log (`stepwise decisions`), with what replays
//! it. Nothing may write to stdout but the protocol itself.

mod approve;
mod call;
mod judge;
mod pins;
mod upstream;

use crate::output::Out;
use anyhow::{Context as _, Result, anyhow, bail};
use call::Gate;
use pins::{Definition, Pins, Seen};
use rmcp::model::{PaginatedRequestParams, Tool};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use stepwise::evidence::{Event, Id, Time};
use stepwise::ladder::{BudgetUse, budget::record_spent};
use stepwise::policy::{GateTool, Policy};
use stepwise_api::DecisionView;
use stepwise_api::decisions::{GateDecision, TOOL_NOT_IN_POLICY, result};
use stepwise_engine::question::Decide;
use stepwise_engine::{Engine, Options, Prefix, Recorder};
use stepwise_store::data_dir::DataDir;
use stepwise_store::{DecisionQuery, DecisionStore as _, SqliteStore};
use upstream::Upstream;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GateArgs {
    #[command(subcommand)]
    action: Option<GateAction>,
    /// The calling principal (the agent): whose calls are decided, and the promisor of the
    /// promises allowed calls record. Default: the policy's `[gate] principal`.
    #[arg(long, value_name = "ID")]
    principal: Option<String>,
    /// How often to read what other processes appended to the log (a promisee's outcomes), in
    /// milliseconds: a decision counts evidence recorded elsewhere from at most this long ago.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    follow_ms: u64,
    /// The client's user, one of the tools' approvers: a call the ladder refuses "not yet" is
    /// put to them by MCP elicitation when the client supports it (otherwise it waits on the
    /// approvers' queue: `stepwise approvals`).
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// Shadow mode: forward every call, decide each as usual, and keep in the decision log what
    /// the gate would have refused (`would_deny`, with the reasons) instead of refusing it. Allowed
    /// calls record their promises as usual. `stepwise decisions --shadow-report` sums it up.
    #[arg(long)]
    shadow: bool,
    /// The upstream MCP server to start, and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(clap::Subcommand)]
enum GateAction {
    /// Accept the changed definition of an upstream tool (what changed is printed): calls to it,
    /// refused with `tool_changed` since the upstream changed it, are allowed again. Exit 2 when
    /// the gate has not seen the tool or it has not changed.
    AcceptTool {
        /// The tool's name, as the upstream lists it.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Run the `check` of every promise gated calls left that a check judges, now, due or not
    /// (or of one promise), and record what each decides in its promisee's name. Exit 1 when a
    /// check decided nothing.
    Check {
        /// Only this promise.
        #[arg(long, value_name = "ID")]
        promise: Option<String>,
        /// The calling principal whose promises to check (default: the policy's `[gate]
        /// principal`).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
    },
}

/// `stepwise gate`: the gate on stdin and stdout until the client closes stdin, or one of its
/// commands.
pub fn run(data: &DataDir, args: GateArgs, out: &mut Out) -> Result<bool> {
    match args.action {
        Some(GateAction::AcceptTool { name }) => accept_tool(data, &name, out),
        Some(GateAction::Check { promise, principal }) => check(data, principal, promise, out),
        None => serve(data, args),
    }
}

/// The calling principal: `--principal`, else the policy's.
fn principal_of(arg: Option<&str>, policy: &Policy) -> Result<Id> {
    Ok(match (arg, &policy.gate.principal) {
        (Some(p), _) => Id::parse("--principal", p)?,
        (None, Some(p)) => p.clone(),
        (None, None) => bail!(
            "--principal: no calling principal; name the agent with --principal ID or with \
             `principal` under [gate] in the policy"
        ),
    })
}

/// The engine as the gate uses it: the log folded once, followed every `follow_ms`.
fn open_engine(data: &DataDir, follow_ms: u64) -> Result<Engine> {
    let options = Options {
        follow_interval: Duration::from_millis(follow_ms),
        group_commit: false,
        ranker: false,
        tabler: false,
        ..Options::default()
    };
    Engine::open(data, &options).context("opening the engine")
}

/// Accepts the changed definition of tool `name`: the pins file takes it (a running gate sees
/// it at its next call), and the policy pins it (`pin` in its `[gate.tools]` entry), which the
/// log records in a policy entry — the acceptance is in the log, where every replay finds it.
fn accept_tool(data: &DataDir, name: &str, out: &mut Out) -> Result<bool> {
    let mut pins = Pins::load(data.path())?;
    let changed = pins.accept(name, &crate::record::now().to_string())?;
    pins.save(data.path())?;
    let sha256 = pins.tools[name].pinned.sha256.clone();
    let entry = crate::policy::pin_tool(data, name, &sha256)?;
    out.emit(
        &json!({ "tool": name, "sha256": sha256, "changed": changed, "policy_entry": entry }),
        |w| {
            writeln!(
                w,
                "accepted the new definition of {name:?} ({sha256}): {changed}; calls to it are \
                 allowed again"
            )?;
            match entry {
                Some(i) => writeln!(w, "the policy pins it, recorded in the log at entry {i}"),
                None => writeln!(w, "the policy names no tool {name:?}: nothing recorded"),
            }
        },
    )?;
    Ok(true)
}

fn check(
    data: &DataDir,
    principal: Option<String>,
    promise: Option<String>,
    out: &mut Out,
) -> Result<bool> {
    let policy = data.policy()?;
    let principal = principal_of(principal.as_deref(), &policy)?;
    let tools: Vec<(String, GateTool)> = policy.gate.tools.into_iter().collect();
    if tools.iter().all(|(_, t)| t.check.is_none()) {
        bail!("the policy gives no tool under [gate.tools] a `check`: nothing judges promises");
    }
    drop(crate::open_for_writing(data)?);
    let engine = open_engine(data, 250)?;
    let mut pending = judge::pending(&engine, &principal, &tools, crate::record::now());
    if let Some(id) = &promise {
        pending.retain(|p| p.id == *id);
        if pending.is_empty() {
            bail!(
                "--promise: {id} is not an open promise of {principal} that a tool's check judges"
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let judged: Vec<judge::Judged> = runtime.block_on(async {
        let mut judged = Vec::new();
        for p in &pending {
            if let Some((_, tool)) = tools.iter().find(|(n, _)| *n == p.tool) {
                judged.push(judge::judge(&engine, tool, p, &principal).await);
            }
        }
        judged
    });
    engine.stop();
    let decided = judged.iter().all(|j| j.error.is_none());
    out.emit(&json!({ "judged": judged }), |w| {
        if judged.is_empty() {
            return writeln!(w, "no open promise of {principal} awaits a check");
        }
        for j in &judged {
            match (&j.index, &j.error) {
                (Some(index), _) => writeln!(
                    w,
                    "{} ({}): {}, recorded at log index {index}",
                    j.promise, j.tool, j.result
                )?,
                (None, Some(error)) => {
                    writeln!(w, "{} ({}): nothing recorded: {error}", j.promise, j.tool)?
                }
                (None, None) => writeln!(w, "{} ({}): {}", j.promise, j.tool, j.result)?,
            }
        }
        Ok(())
    })?;
    Ok(decided)
}

/// Serves the gate on stdin and stdout until the client closes stdin.
fn serve(data: &DataDir, args: GateArgs) -> Result<bool> {
    let policy = data.policy()?;
    let principal = principal_of(args.principal.as_deref(), &policy)?;
    let user = args
        .user
        .as_deref()
        .map(|u| Id::parse("--user", u))
        .transpose()?;
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
    let engine = open_engine(data, args.follow_ms)?;
    let _telemetry =
        stepwise_engine::telemetry::init_from_env("stepwise-gate").map_err(|e| anyhow!("{e}"))?;
    let spent = spent_by_tool(&store, &principal, &policy.gate.tools)?;
    // One thread: a call's store work (a read before deciding, one synced commit for a promise,
    // one unsynced for the decision) runs on it between the messages it waits for, which costs
    // less than handing each to another thread and waking this one again.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let upstream = Upstream::start(args.command).await?;
        let checked: Vec<(String, GateTool)> = policy
            .gate
            .tools
            .iter()
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
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
            shadow: args.shadow,
            user,
            spent: Mutex::new(spent),
            data: data.path().to_path_buf(),
            changed: Mutex::new(HashMap::new()),
        }));
        if let Err(e) = gate.0.list_upstream().await {
            eprintln!("stepwise gate: warning: listing the upstream's tools to pin them: {e:#}");
        }
        let judges = Arc::clone(&gate.0);
        tokio::spawn(async move {
            judge::schedule(&judges.engine, &judges.principal, checked).await;
        });
        crate::stdio::serve(gate).await?;
        Ok(true)
    })
}

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
    /// Shadow mode: forward every call; keep refusals as `would_deny`.
    shadow: bool,
    /// The client's user (`--user`): an approver asked by MCP elicitation.
    user: Option<Id>,
    /// Per tool with a budget: the calls it forwarded within the budget's window, (instant in
    /// microseconds, stake), oldest first.
    spent: Mutex<HashMap<String, Vec<(i64, f64)>>>,
    /// The data directory, where the pins are kept.
    data: PathBuf,
    /// The tools whose upstream definition changed since they were pinned: what the upstream
    /// offers now, and what changed, in words.
    changed: Mutex<HashMap<String, (Definition, String)>>,
}

/// What each tool with a budget forwarded within its window, from the decision log: the calls
/// that reached the upstream (forwarded, or answered with an error), by the gate's principal.
fn spent_by_tool(
    store: &SqliteStore,
    principal: &Id,
    tools: &BTreeMap<String, GateTool>,
) -> Result<HashMap<String, Vec<(i64, f64)>>> {
    let mut spent: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    let Some(window) = tools.values().filter_map(|t| t.budget.map(|b| b.per)).max() else {
        return Ok(spent);
    };
    let now = crate::record::now().as_micros();
    let since = Time::from_micros(now.saturating_sub(window)).unwrap_or(Time::MIN);
    let mut after = 0;
    loop {
        let page = store.decisions(&DecisionQuery {
            // The decision log names principals by their ids.
            principal: Some(principal.as_str()),
            since: Some(since),
            after,
            limit: 1000,
        })?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for record in &page {
            let Ok(d) = serde_json::from_str::<GateDecision>(&record.body) else {
                continue;
            };
            let reached = [
                result::FORWARDED,
                result::TOOL_ERROR,
                result::UPSTREAM_FAILED,
                result::UNRECORDED,
            ]
            .contains(&d.result.as_str());
            let Some(budget) = tools.get(&d.tool).and_then(|t| t.budget) else {
                continue;
            };
            if let (true, Ok(at)) = (reached, Time::parse("at", &d.at)) {
                let list = spent.entry(d.tool.clone()).or_default();
                record_spent(list, at.as_micros(), d.stake.unwrap_or(0.0), budget.per);
            }
        }
    }
    Ok(spent)
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
    /// The ladder allows it, but the tool's budget over time is spent.
    OverBudget(DecisionView, BudgetUse),
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

impl Inner {
    /// The decision on a call of `tool` (named `name`) at `stake` now, from the state in
    /// memory, with the stakes of the allowed calls not yet answered and the tool's budget
    /// taken into account.
    fn decide(self: &Arc<Self>, name: &str, tool: &GateTool, stake: f64) -> Result<Verdict> {
        let mut in_flight = lock(&self.in_flight);
        let question = Decide::new(
            self.principal.clone(),
            &tool.capability,
            stake,
            None,
            Prefix::ALL,
        )?;
        let view = call::in_call_span(|| self.engine.decide_here(&question))
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
        if let Some(budget) = tool.budget {
            // Spent now, not when the upstream answers: two calls at once see each other.
            let now = crate::record::now();
            let mut spent = lock(&self.spent);
            let list = spent.entry(name.to_owned()).or_default();
            let used = budget.check(list, stake, now);
            if used.exhausted {
                return Ok(Verdict::OverBudget(view, used));
            }
            record_spent(list, now.as_micros(), stake, budget.per);
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
        let mut decision = decision.clone();
        decision.shadow = self.shadow;
        // A held call's record and its answers are not what became of the call.
        let steps = [
            result::HELD,
            result::APPROVED,
            result::DECLINED,
            result::EXPIRED,
        ];
        if !steps.contains(&decision.result.as_str()) {
            call::end_call_span(&decision);
        }
        let kept = serde_json::to_string(&decision)
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
        id: Option<String>,
    ) -> Result<(String, u64)> {
        let stake = reservation.stake;
        let mut in_flight = lock(&self.in_flight);
        // Once recorded, the promise counts in the state's exposure instead.
        in_flight.release(stake);
        reservation.released = true;
        let now = crate::record::now();
        let due = now
            .as_micros()
            .checked_add(tool.due_micros.saturating_add(tool.grace_micros))
            .and_then(Time::from_micros)
            .ok_or_else(|| anyhow!("{name}: `due` is too far in the future"))?;
        let id = id.unwrap_or_else(|| self.promise_id());
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

    /// A new promise id, unique across processes and calls.
    fn promise_id(&self) -> String {
        format!(
            "gate-{:x}-{:x}-{}",
            crate::record::now().as_micros(),
            std::process::id(),
            self.promises.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The record of a call of a tool the policy does not name, and the refusal's words.
    fn not_in_policy(&self, name: &str) -> (GateDecision, String) {
        let (at, log_size) = self.engine.live().read(|s| {
            let trust = s.trust();
            (trust.instant_for(crate::record::now()), trust.log_size())
        });
        let decision =
            GateDecision::not_in_policy(self.principal.as_str(), name, at.to_string(), log_size);
        let gated: Vec<&str> = self.tools.keys().map(String::as_str).collect();
        let text = format!(
            "stepwise gate: the call to {name:?} was not made: the policy does not name this \
             tool ({TOOL_NOT_IN_POLICY}), so no record allows it. retry: never — ask the \
             operator to add it under [gate.tools]. The tools the policy names: {}.",
            if gated.is_empty() {
                "none".to_owned()
            } else {
                gated.join(", ")
            }
        );
        (decision, text)
    }

    /// Lists every tool of the upstream and checks each against its pin.
    async fn list_upstream(&self) -> Result<()> {
        let session = self.upstream.session().await?;
        let mut tools = Vec::new();
        let mut cursor = None;
        loop {
            let page = session
                .peer
                .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
                .await
                .map_err(|e| anyhow!("listing the upstream's tools: {e}"))?;
            tools.extend(page.tools);
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        self.note_tools(&tools)?;
        self.upstream.listed();
        Ok(())
    }

    /// Checks the upstream's definitions of `tools` against their pins: a tool seen for the
    /// first time is pinned, a changed one is refused until an operator accepts it.
    fn note_tools(&self, tools: &[Tool]) -> Result<()> {
        let at = crate::record::now().to_string();
        let mut changed = lock(&self.changed);
        let mut pins = Pins::load(&self.data)?;
        let mut dirty = false;
        for tool in tools {
            let definition = Definition::of(tool, &at)?;
            let name = tool.name.to_string();
            let accepted = self.tools.get(&name).and_then(|t| t.pin.as_deref());
            let (new, seen) = pins.see(definition.clone(), accepted);
            dirty |= new;
            match seen {
                Seen::Same => changed.remove(&name),
                Seen::Changed(words) => changed.insert(name, (definition, words)),
            };
        }
        if dirty {
            pins.save(&self.data)?;
        }
        Ok(())
    }

    /// What changed in tool `name` since it was pinned, if it did and no operator has
    /// accepted the change since.
    fn changed(&self, name: &str) -> Option<String> {
        let mut changed = lock(&self.changed);
        let (offered, words) = changed.get(name)?;
        // An operator may have accepted it since (`stepwise gate accept-tool`).
        let accepted = Pins::load(&self.data)
            .ok()
            .and_then(|pins| {
                pins.tools
                    .get(name)
                    .map(|p| p.pinned.sha256 == offered.sha256)
            })
            .unwrap_or(false);
        if accepted {
            changed.remove(name);
            return None;
        }
        Some(words.clone())
    }
}
