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
//! ```

use super::PolicyError;
use crate::evidence::{Id, check_stake};
use crate::ladder::Ladder;
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
}

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
                let due_micros = parse_duration(&raw.due)
                    .map_err(|e| PolicyError(format!("{}: {e}", key("due"))))?;
                if due_micros <= 0 {
                    return Err(PolicyError(format!(
                        "{}: must be longer than 0",
                        key("due")
                    )));
                }
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
        ] {
            let e = Policy::from_toml(&text).expect_err(&text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
