//! `[gate]`: which tools of an upstream MCP server `stepwise gate` lets an agent call, each as a
//! capability of the ladder at a stake, and who judges the promise each allowed call records.
//!
//! ```toml
//! [gate]
//! principal = "agent:bot"          # who calls (the command's --principal overrides it)
//!
//! [gate.tools."deploy"]
//! capability = "act:high"          # a capability some level of the ladder grants
//! stake_arg = "amount"             # the stake is this argument of the call (a number ≥ 0) …
//! promisee = "user:ann"            # who judges the result (records the promise's outcome)
//! due = "24h"                      # by when, after the call
//!
//! [gate.tools."echo"]
//! capability = "propose"
//! stake = 1                        # … or a fixed stake
//! promisee = "user:ann"
//! due = "1h"
//! scope = "tool:echo"              # the promise's scope (default: the capability)
//! budget = { calls = 100, per = "1d" }  # at most this many calls (and/or `stake`) per window
//!
//! [gate.tools."migrate"]
//! capability = "act:low"
//! stake = 20
//! promisee = "ci:checks"           # a checking principal: the gate judges in its name …
//! check = ["./check-migration", "{promise}"]  # … by this command's exit: 0 kept, 1 broken
//! due = "10m"                      # the check runs when the promise falls due
//! grace = "1h"                     # unjudged this long after `due`, it counts as broken
//! approvers = ["user:ann"]         # who may let a call through that the ladder says "not yet" to
//! approval_timeout = "5m"          # how long a held call waits for an approver
//! ```
//!
//! The promise's `due` in the log is the tool's `due` plus its `grace`: the instant an unjudged
//! promise counts as broken. A `check` runs at the tool's `due`.

use super::PolicyError;
use super::budget::RawBudget;
use crate::evidence::{Id, check_stake};
use crate::ladder::{Budget, Ladder};
use crate::model::params::parse_duration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where a gated call's stake comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StakeSource {
    /// The same stake for every call.
    Fixed(f64),
    /// The call's argument of this name, which must be a number ≥ 0.
    Argument(String),
}

/// How one upstream tool is gated.
#[derive(Debug, Clone, PartialEq)]
pub struct GateTool {
    /// The capability a call asks for.
    pub capability: String,
    /// Its stake.
    pub stake: StakeSource,
    /// Who judges an allowed call: the promisee of the promise it records.
    pub promisee: Id,
    /// How long after the call its outcome is due, in microseconds (> 0).
    pub due_micros: i64,
    /// The scope of the promise.
    pub scope: Id,
    /// How long after `due` an unjudged promise waits before it counts as broken, in
    /// microseconds (≥ 0).
    pub grace_micros: i64,
    /// The tool's own budget over time, counted over the calls the gate forwarded.
    pub budget: Option<Budget>,
    /// The command that judges an allowed call's promise in the promisee's name, with its
    /// placeholders ([`CHECK_PLACEHOLDERS`]); `None`: the promisee judges by other means.
    pub check: Option<Vec<String>>,
    /// How long a check may run, in microseconds.
    pub check_timeout_micros: i64,
    /// How long to wait before running a check again that neither kept nor broke the promise
    /// (any exit status but 0 and 1), in microseconds; at most [`CHECK_ATTEMPTS`] runs.
    pub check_retry_micros: i64,
    /// Who may approve a call the ladder refuses "not yet" (each only what it may do itself).
    pub approvers: Vec<Id>,
    /// How long a call held for approval waits, in microseconds.
    pub approval_timeout_micros: i64,
    /// The definition of the upstream tool the operator accepted (`stepwise gate accept-tool`
    /// writes it, and the log's policy entry records it): the SHA-256 of its canonical JSON.
    pub pin: Option<String>,
}

/// The placeholders a `check` command's arguments may hold: the promise's id, the tool, the
/// calling principal, the stake, the promisee (the checker) and the tool's due instant.
pub const CHECK_PLACEHOLDERS: [&str; 6] = [
    "{promise}",
    "{tool}",
    "{principal}",
    "{stake}",
    "{promisee}",
    "{due}",
];

/// How many times a check runs at most for one promise before the gate leaves the promise to
/// fall due unjudged.
pub const CHECK_ATTEMPTS: u32 = 5;

/// The `[gate]` table: the gated tools by name (a tool not named is refused).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GatePolicy {
    /// The calling principal when the command names none.
    pub principal: Option<Id>,
    /// The tools, by their upstream name.
    pub tools: BTreeMap<String, GateTool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    principal: Option<String>,
    #[serde(default)]
    tools: BTreeMap<String, RawGateTool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateTool {
    capability: String,
    stake: Option<f64>,
    stake_arg: Option<String>,
    promisee: String,
    due: String,
    scope: Option<String>,
    grace: Option<String>,
    budget: Option<RawBudget>,
    check: Option<Vec<String>>,
    check_timeout: Option<String>,
    check_retry: Option<String>,
    #[serde(default)]
    approvers: Vec<String>,
    approval_timeout: Option<String>,
    pin: Option<String>,
}

/// A duration of the policy: `default` when absent; `positive` when it must be longer than 0.
fn duration(
    key: &str,
    text: Option<&str>,
    default: i64,
    positive: bool,
) -> Result<i64, PolicyError> {
    let micros = match text {
        None => return Ok(default),
        Some(t) => parse_duration(t).map_err(|e| PolicyError(format!("{key}: {e}")))?,
    };
    if positive && micros <= 0 {
        return Err(PolicyError(format!("{key}: must be longer than 0")));
    }
    Ok(micros)
}

/// How long a held call waits: 5 minutes by default, at most a day (how far back the doors
/// read the decision log for held calls).
fn approval_timeout(key: &str, text: Option<&str>) -> Result<i64, PolicyError> {
    const DAY: i64 = 24 * 3_600_000_000;
    let micros = duration(key, text, 300_000_000, true)?;
    if micros > DAY {
        return Err(PolicyError(format!(
            "{key}: at most 24h (a call is held at most a day)"
        )));
    }
    Ok(micros)
}

/// Checks a `check` command: a program, and arguments whose `{…}` are known placeholders.
fn check_command(key: &str, command: Vec<String>) -> Result<Vec<String>, PolicyError> {
    if command.first().is_none_or(String::is_empty) {
        return Err(PolicyError(format!(
            "{key}: must name a program, e.g. [\"./check\", \"{{promise}}\"]"
        )));
    }
    for arg in &command {
        let mut rest = arg.as_str();
        while let Some(open) = rest.find('{') {
            let tail = &rest[open..];
            let Some(known) = CHECK_PLACEHOLDERS.iter().find(|p| tail.starts_with(*p)) else {
                return Err(PolicyError(format!(
                    "{key}: {arg:?} holds an unknown placeholder; the placeholders are {}",
                    CHECK_PLACEHOLDERS.join(", ")
                )));
            };
            rest = &tail[known.len()..];
        }
    }
    Ok(command)
}

/// A tool's accepted definition: the SHA-256 of its canonical JSON, 64 lowercase hex digits.
fn pin(key: &str, text: String) -> Result<String, PolicyError> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(PolicyError(format!(
            "{key}: expected the SHA-256 of a tool's definition, 64 lowercase hex digits, not {text:?}"
        )));
    }
    Ok(text)
}

fn id(key: &str, text: &str) -> Result<Id, PolicyError> {
    Id::parse(key, text).map_err(|e| PolicyError(e.to_string()))
}

impl RawGate {
    /// Checks every tool against `ladder`: a capability no level grants would refuse every
    /// call, so it is an error here rather than a surprise at the first call.
    pub(super) fn into_gate(self, ladder: &Ladder) -> Result<GatePolicy, PolicyError> {
        let principal = self
            .principal
            .map(|p| id("gate.principal", &p))
            .transpose()?;
        let tools = self
            .tools
            .into_iter()
            .map(|(name, raw)| {
                let key = |f: &str| format!("gate.tools.{name:?}.{f}");
                if ladder.level_granting(&raw.capability).is_none() {
                    return Err(PolicyError(format!(
                        "{}: no level of the ladder grants {:?}",
                        key("capability"),
                        raw.capability
                    )));
                }
                let stake = match (raw.stake, raw.stake_arg) {
                    (Some(s), None) => StakeSource::Fixed(
                        check_stake(&key("stake"), s)
                            .map_err(|e| PolicyError(format!("{}: {}", e.field, e.problem)))?,
                    ),
                    (None, Some(arg)) if !arg.is_empty() => StakeSource::Argument(arg),
                    (None, Some(_)) => {
                        return Err(PolicyError(format!(
                            "{}: must name an argument",
                            key("stake_arg")
                        )));
                    }
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(PolicyError(format!(
                            "gate.tools.{name:?}: give either `stake` (a number) or `stake_arg` \
                             (the argument that holds it), not {}",
                            if raw.stake.is_some() {
                                "both"
                            } else {
                                "neither"
                            }
                        )));
                    }
                };
                let due_micros = duration(&key("due"), Some(&raw.due), 0, true)?;
                let approvers = raw
                    .approvers
                    .iter()
                    .map(|a| id(&key("approvers"), a))
                    .collect::<Result<Vec<_>, _>>()?;
                let scope = id(
                    &key("scope"),
                    raw.scope.as_deref().unwrap_or(&raw.capability),
                )?;
                let tool = GateTool {
                    capability: raw.capability,
                    stake,
                    promisee: id(&key("promisee"), &raw.promisee)?,
                    due_micros,
                    scope,
                    grace_micros: duration(&key("grace"), raw.grace.as_deref(), 0, false)?,
                    budget: raw
                        .budget
                        .map(|b| b.into_budget(&key("budget")))
                        .transpose()?,
                    check: raw
                        .check
                        .map(|c| check_command(&key("check"), c))
                        .transpose()?,
                    check_timeout_micros: duration(
                        &key("check_timeout"),
                        raw.check_timeout.as_deref(),
                        60_000_000,
                        true,
                    )?,
                    check_retry_micros: duration(
                        &key("check_retry"),
                        raw.check_retry.as_deref(),
                        60_000_000,
                        true,
                    )?,
                    approvers,
                    approval_timeout_micros: approval_timeout(
                        &key("approval_timeout"),
                        raw.approval_timeout.as_deref(),
                    )?,
                    pin: raw.pin.map(|p| pin(&key("pin"), p)).transpose()?,
                };
                Ok((name, tool))
            })
            .collect::<Result<_, _>>()?;
        Ok(GatePolicy { principal, tools })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{Policy, StakeSource};

    #[test]
    fn gated_tools_are_read_and_checked_by_name() {
        let p = Policy::from_toml(
            "[gate]\nprincipal = \"agent:bot\"\n\
             [gate.tools.deploy]\ncapability = \"act:high\"\nstake_arg = \"amount\"\n\
             promisee = \"user:ann\"\ndue = \"24h\"\n\
             [gate.tools.echo]\ncapability = \"propose\"\nstake = 1\npromisee = \"user:ann\"\n\
             due = \"1h\"\nscope = \"tool:echo\"\n",
        )
        .expect("parses");
        let deploy = &p.gate.tools["deploy"];
        assert_eq!(deploy.stake, StakeSource::Argument("amount".into()));
        assert_eq!(deploy.due_micros, 24 * 3_600_000_000);
        assert_eq!(deploy.scope.as_str(), "act:high");
        assert_eq!(p.gate.tools["echo"].stake, StakeSource::Fixed(1.0));
        assert_eq!(p.gate.tools["echo"].scope.as_str(), "tool:echo");
        assert_eq!(deploy.grace_micros, 0);
        assert_eq!(deploy.check, None);
        assert_eq!(deploy.approval_timeout_micros, 300_000_000);
        let checked = Policy::from_toml(
            "[gate.tools.t]\ncapability = \"propose\"\nstake = 1\npromisee = \"ci:checks\"\n\
             due = \"10m\"\ngrace = \"1h\"\ncheck = [\"./c\", \"--id={promise}\", \"{stake}\"]\n\
             budget = { calls = 3, per = \"1d\" }\napprovers = [\"user:ann\"]\n",
        )
        .expect("parses");
        let t = &checked.gate.tools["t"];
        assert_eq!(t.grace_micros, 3_600_000_000);
        assert_eq!(t.check.as_ref().map(Vec::len), Some(3));
        assert_eq!(t.budget.and_then(|b| b.calls), Some(3));
        assert_eq!(t.approvers[0].as_str(), "user:ann");
        assert_eq!(t.pin, None);
        let pinned = Policy::from_toml(&format!(
            "[gate.tools.t]\ncapability = \"propose\"\nstake = 1\npromisee = \"user:ann\"\n\
             due = \"1h\"\npin = \"{}\"\n",
            "ab".repeat(32)
        ))
        .expect("parses");
        assert_eq!(
            pinned.gate.tools["t"].pin.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            p.gate.principal.as_ref().map(|i| i.as_str()),
            Some("agent:bot")
        );

        let tool = |body: &str| format!("[gate.tools.t]\npromisee = \"user:ann\"\n{body}");
        for (text, needle) in [
            (tool("capability = \"fly\"\nstake = 1\ndue = \"1h\"\n"), "no level of the ladder grants \"fly\""),
            (tool("capability = \"propose\"\ndue = \"1h\"\n"), "not neither"),
            (tool("capability = \"propose\"\nstake = 1\nstake_arg = \"a\"\ndue = \"1h\"\n"), "not both"),
            (tool("capability = \"propose\"\nstake = -1\ndue = \"1h\"\n"), "gate.tools.\"t\".stake"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"soon\"\n"), "gate.tools.\"t\".due"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"0s\"\n"), "longer than 0"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\nstakes = 2\n"), "stakes"),
            ("[gate.tools.t]\ncapability = \"propose\"\nstake = 1\ndue = \"1h\"\npromisee = \"a b\"\n".into(), "gate.tools.\"t\".promisee"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\ncheck = []\n"), "gate.tools.\"t\".check: must name a program"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\ncheck = [\"c\", \"{id}\"]\n"), "unknown placeholder"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\ngrace = \"x\"\n"), "gate.tools.\"t\".grace"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\nbudget = { per = \"1d\" }\n"), "gate.tools.\"t\".budget"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\napprovers = [\"a b\"]\n"), "gate.tools.\"t\".approvers"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\napproval_timeout = \"0s\"\n"), "longer than 0"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\napproval_timeout = \"2d\"\n"), "at most 24h"),
            (tool("capability = \"propose\"\nstake = 1\ndue = \"1h\"\npin = \"ABC\"\n"), "gate.tools.\"t\".pin: expected the SHA-256"),
        ] {
            let e = Policy::from_toml(&text).expect_err(&text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
