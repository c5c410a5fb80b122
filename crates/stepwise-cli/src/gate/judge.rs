//! Judges that are not people: a gated tool's `check` command judges the promises its calls
//! left, in the promisee's name.
//!
//! The policy names the checking principal as the tool's promisee and the command that checks
//! a call's result (`check = ["./check", "{promise}"]`). When a promise falls due (the tool's
//! `due` after the call; the log's `due` adds the tool's `grace`), the gate runs the command:
//! exit 0 records `kept`, exit 1 `broken`, both authored by the promisee (P3: the party the
//! promise was made to judges it); any other exit, a timeout or a command that cannot start
//! records nothing and is tried again after `check_retry`, at most [`CHECK_ATTEMPTS`] times.
//! A promise nobody judged by the end of its grace counts as broken, as any other.
//! `stepwise gate check` runs the same checks on demand.

use anyhow::{Context as _, Result, anyhow};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use stepwise::evidence::{Event, Id, Time};
use stepwise::policy::{CHECK_ATTEMPTS, GateTool};
use stepwise_engine::{Engine, Recorder};

/// A promise a check can judge: an open promise of the gate's principal to a checking tool's
/// promisee, in the tool's scope.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The promise's id, in the clear.
    pub id: String,
    /// The tool whose check judges it.
    pub tool: String,
    /// Its stake.
    pub stake: f64,
    /// When the check is due: the log's `due` less the tool's grace.
    pub check_at: Time,
    /// The promise's log index.
    pub index: u64,
}

/// What a check made of a promise.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The promise.
    pub promise: String,
    /// The tool.
    pub tool: String,
    /// `kept`, `broken`, or `undecided` (nothing recorded).
    pub result: String,
    /// The command's exit status, if it exited.
    pub exit: Option<i32>,
    /// The outcome's log index, when one was recorded.
    pub index: Option<u64>,
    /// Why nothing was recorded, for `undecided`.
    pub error: Option<String>,
}

/// The open promises of `principal` that the tools' checks judge, by when their checks are
/// due. A promise in the scope and to the promisee of several checked tools is judged by the
/// first of them in the policy's (alphabetical) order.
pub fn pending(
    engine: &Engine,
    principal: &Id,
    tools: &[(String, GateTool)],
    now: Time,
) -> Vec<Pending> {
    let names = engine.names();
    let promisor = names.name(principal);
    let mut found = Vec::new();
    for (name, tool) in tools.iter().filter(|(_, t)| t.check.is_some()) {
        let promisee = names.name(&tool.promisee);
        let rows = engine.live().read(|state| {
            state
                .trust()
                .awaiting_judgement(Some(&promisee), None, usize::MAX, now)
                .0
        });
        for row in rows
            .into_iter()
            .filter(|r| r.promisor == promisor && r.scope == tool.scope)
        {
            if found.iter().any(|p: &Pending| p.index == row.index) {
                continue;
            }
            let check_at = row
                .due
                .as_micros()
                .saturating_sub(tool.grace_micros)
                .max(row.made.as_micros());
            found.push(Pending {
                index: row.index,
                id: names.open_text(row.id.as_str()).into_owned(),
                tool: name.clone(),
                stake: row.stake,
                check_at: Time::from_micros(check_at).unwrap_or(row.due),
            });
        }
    }
    found.sort_by_key(|p| p.check_at);
    found
}

/// The check's command line for `pending`, its placeholders filled in.
fn command_line(tool: &GateTool, pending: &Pending, principal: &Id) -> Vec<String> {
    let check = tool.check.as_deref().unwrap_or_default();
    check
        .iter()
        .map(|arg| {
            arg.replace("{promise}", &pending.id)
                .replace("{tool}", &pending.tool)
                .replace("{principal}", principal.as_str())
                .replace("{stake}", &pending.stake.to_string())
                .replace("{promisee}", tool.promisee.as_str())
                .replace("{due}", &pending.check_at.to_string())
        })
        .collect()
}

/// Runs the check of `pending` once and records its verdict in the promisee's name.
pub async fn judge(engine: &Engine, tool: &GateTool, pending: &Pending, principal: &Id) -> Judged {
    let line = command_line(tool, pending, principal);
    let described = line.join(" ");
    let mut judged = Judged {
        promise: pending.id.clone(),
        tool: pending.tool.clone(),
        result: "undecided".into(),
        exit: None,
        index: None,
        error: None,
    };
    let exit = match run(&line, tool.check_timeout_micros).await {
        Ok(code) => code,
        Err(e) => {
            judged.error = Some(format!("the check `{described}` {e:#}"));
            return judged;
        }
    };
    judged.exit = exit;
    let result = match exit {
        Some(0) => "kept",
        Some(1) => "broken",
        other => {
            judged.error = Some(format!(
                "the check `{described}` exited with {}: neither kept (0) nor broken (1)",
                other.map_or("a signal".to_owned(), |c| format!("status {c}"))
            ));
            return judged;
        }
    };
    let recorded = Event::from_value(&json!({
        "kind": "outcome",
        "at": crate::record::now().to_string(),
        "promise": pending.id,
        "result": result,
        "note": format!("stepwise gate: judged by `{described}`"),
    }))
    .map_err(anyhow::Error::from)
    .and_then(|event| {
        let recorder = Recorder {
            credential: format!("the check of {:?}", pending.tool),
            principal: Some(tool.promisee.clone()),
        };
        Ok(engine.record_here(&recorder, event)?)
    });
    match recorded {
        Ok(r) => {
            judged.result = result.into();
            judged.index = Some(r.index);
        }
        Err(e) => judged.error = Some(format!("recording the outcome: {e:#}")),
    }
    judged
}

/// Runs `line` with no input, its output on the gate's stderr, for at most `timeout_micros`;
/// its exit status (`None`: ended by a signal).
async fn run(line: &[String], timeout_micros: i64) -> Result<Option<i32>> {
    let (program, args) = line.split_first().ok_or_else(|| anyhow!("is empty"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .kill_on_drop(true)
        .spawn()
        .context("could not start")?;
    let timeout = Duration::from_micros(u64::try_from(timeout_micros).unwrap_or(0));
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => Ok(status.context("could not be waited for")?.code()),
        Err(_) => {
            let _ = child.kill().await;
            Err(anyhow!(
                "ran longer than check_timeout ({}) and was stopped",
                stepwise::model::params::format_duration(timeout_micros)
            ))
        }
    }
}

/// Runs every check as it falls due, for as long as the gate runs: a promise whose check
/// decided nothing is tried again after its tool's `check_retry`, at most [`CHECK_ATTEMPTS`]
/// times.
pub async fn schedule(engine: &Engine, principal: &Id, tools: Vec<(String, GateTool)>) {
    if tools.iter().all(|(_, t)| t.check.is_none()) {
        return;
    }
    // Attempts so far and when the next may run, by promise.
    let mut tried: HashMap<String, (u32, Time)> = HashMap::new();
    loop {
        let now = crate::record::now();
        let due = pending(engine, principal, &tools, now);
        tried.retain(|id, _| due.iter().any(|p| p.id == *id));
        for pending in due {
            if pending.check_at > now {
                break;
            }
            let (attempts, next) = tried.get(&pending.id).copied().unwrap_or((0, now));
            if attempts >= CHECK_ATTEMPTS || next > now {
                continue;
            }
            let Some((_, tool)) = tools.iter().find(|(n, _)| *n == pending.tool) else {
                continue;
            };
            let judged = judge(engine, tool, &pending, principal).await;
            if let Some(error) = &judged.error {
                eprintln!(
                    "stepwise gate: the promise {} was not judged (attempt {} of {CHECK_ATTEMPTS}): {error}",
                    pending.id,
                    attempts + 1
                );
            }
            let retry = crate::record::now()
                .as_micros()
                .saturating_add(tool.check_retry_micros);
            tried.insert(
                pending.id.clone(),
                (attempts + 1, Time::from_micros(retry).unwrap_or(Time::MAX)),
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
