//! Pinned tools: the gate remembers what each upstream tool said it does, and refuses a tool
//! whose definition changed until an operator accepts the change.
//!
//! A tool's definition is its name, description and input schema; its pin is the SHA-256 of
//! their canonical JSON (RFC 8785). The first time the gate sees a tool it pins it; when the
//! upstream later offers another definition under the same name, calls to it are refused with
//! `tool_changed` (what changed, in words) until `stepwise gate accept-tool NAME` makes the new
//! definition the pin. The pins live in `gate-tools.json` in the data directory, written whole
//! to a temporary file and renamed over the old one, so a crash leaves the old pins or the new.
//! Every acceptance is kept in the tool's `accepted` history, and recorded in the log: the
//! policy pins the accepted definition (`pin` in the tool's `[gate.tools]` entry), and a
//! definition the policy pins is taken as accepted wherever the gate runs.

use anyhow::{Context as _, Result, bail};
use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of pins in a data directory.
pub fn path(data: &Path) -> PathBuf {
    data.join("gate-tools.json")
}

/// A tool's definition as pinned: what it does, as the upstream describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    /// SHA-256 of the canonical JSON of `definition`, hex.
    pub sha256: String,
    /// `{name, description, inputSchema}` as the upstream offered them.
    pub definition: Value,
    /// When the gate first saw it (RFC 3339).
    pub seen_at: String,
}

impl Definition {
    /// The definition of an upstream tool, seen at `at`.
    pub fn of(tool: &Tool, at: &str) -> Result<Self> {
        let definition = json!({
            "name": tool.name,
            "description": tool.description,
            "inputSchema": tool.input_schema,
        });
        let bytes = stepwise::evidence::jcs::to_vec(&definition)
            .map_err(|e| anyhow::anyhow!("the tool {:?}'s definition: {e}", tool.name))?;
        Ok(Self {
            sha256: Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            definition,
            seen_at: at.to_owned(),
        })
    }
}

/// One tool's pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    /// The definition calls are allowed under.
    pub pinned: Definition,
    /// Another definition the upstream offered since, awaiting an operator's acceptance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered: Option<Definition>,
    /// Every acceptance of a changed definition: `{sha256, accepted_at, replaced}`.
    #[serde(default)]
    pub accepted: Vec<Value>,
}

/// Every tool's pin, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pins {
    /// By tool name.
    pub tools: BTreeMap<String, Pin>,
}

/// What the gate makes of a tool's definition against its pin.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// As pinned (or pinned now, first seen).
    Same,
    /// Changed since it was pinned: what changed, in words.
    Changed(String),
}

impl Pins {
    /// Reads the pins of a data directory (none yet: empty).
    pub fn load(data: &Path) -> Result<Self> {
        let file = path(data);
        match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a file of pinned tools", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    /// Writes the pins whole: a temporary file, synced, renamed over the old one.
    pub fn save(&self, data: &Path) -> Result<()> {
        let file = path(data);
        let temporary = file.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(self)?;
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&temporary)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&temporary, &file)
        };
        write().with_context(|| format!("writing {}", file.display()))
    }

    /// Checks `seen` against the pin of its tool: pins it when new, keeps it as offered when
    /// changed — unless it is the definition the policy `accepted` (its `pin`, recorded in the
    /// log), which it takes as the pin. Whether the pins changed (to be saved), and what was
    /// seen.
    pub fn see(&mut self, seen: Definition, accepted: Option<&str>) -> (bool, Seen) {
        let name = seen.definition["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if accepted == Some(seen.sha256.as_str())
            && let Some(pin) = self.tools.get_mut(&name)
            && pin.pinned.sha256 != seen.sha256
        {
            pin.accepted.push(json!({
                "sha256": seen.sha256,
                "accepted_at": seen.seen_at,
                "replaced": pin.pinned.sha256,
                "by": "policy",
            }));
            pin.pinned = seen;
            pin.offered = None;
            return (true, Seen::Same);
        }
        let Some(pin) = self.tools.get_mut(&name) else {
            self.tools.insert(
                name,
                Pin {
                    pinned: seen,
                    offered: None,
                    accepted: Vec::new(),
                },
            );
            return (true, Seen::Same);
        };
        if pin.pinned.sha256 == seen.sha256 {
            let withdrawn = pin.offered.take().is_some();
            return (withdrawn, Seen::Same);
        }
        let words = describe_change(&pin.pinned.definition, &seen.definition);
        let new = pin.offered.as_ref().is_none_or(|o| o.sha256 != seen.sha256);
        if new {
            pin.offered = Some(seen);
        }
        (new, Seen::Changed(words))
    }

    /// Makes the definition the upstream offered for `name` its pin, at `at`; what changed.
    pub fn accept(&mut self, name: &str, at: &str) -> Result<String> {
        let Some(pin) = self.tools.get_mut(name) else {
            let known: Vec<&str> = self.tools.keys().map(String::as_str).collect();
            bail!(
                "NAME: the gate has not seen a tool {name:?} (the tools it has pinned: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        };
        let Some(offered) = pin.offered.take() else {
            bail!(
                "NAME: {name:?} has not changed since it was pinned ({}); nothing to accept",
                pin.pinned.sha256
            );
        };
        let words = describe_change(&pin.pinned.definition, &offered.definition);
        pin.accepted.push(json!({
            "sha256": offered.sha256,
            "accepted_at": at,
            "replaced": pin.pinned.sha256,
        }));
        pin.pinned = offered;
        Ok(words)
    }
}

/// What changed between two definitions of a tool, in words: the description, and the input
/// schema's properties added, removed or changed and its required list.
pub fn describe_change(old: &Value, new: &Value) -> String {
    let mut changes = Vec::new();
    if old["description"] != new["description"] {
        changes.push("its description changed".to_owned());
    }
    let (old_schema, new_schema) = (&old["inputSchema"], &new["inputSchema"]);
    if old_schema != new_schema {
        let properties = |schema: &Value| {
            schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        let (before, after) = (properties(old_schema), properties(new_schema));
        let named = |names: Vec<&String>| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        let changed: Vec<&String> = after
            .keys()
            .filter(|k| before.get(*k).is_some_and(|v| Some(v) != after.get(*k)))
            .collect();
        let before_count = changes.len();
        if !added.is_empty() {
            changes.push(format!("input {} added", named(added)));
        }
        if !removed.is_empty() {
            changes.push(format!("input {} removed", named(removed)));
        }
        if !changed.is_empty() {
            changes.push(format!("input {} changed", named(changed)));
        }
        if old_schema["required"] != new_schema["required"] {
            changes.push(format!(
                "required inputs were {} and are now {}",
                old_schema["required"], new_schema["required"]
            ));
        }
        if changes.len() == before_count {
            changes.push("its input schema changed".to_owned());
        }
    }
    if changes.is_empty() {
        "its definition changed".to_owned()
    } else {
        changes.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(description: &str, schema: Value) -> Tool {
        let Value::Object(schema) = schema else {
            panic!("an object")
        };
        Tool::new(
            "deploy",
            description.to_owned(),
            std::sync::Arc::new(schema),
        )
    }

    #[test]
    fn a_tool_is_pinned_once_and_a_change_waits_for_acceptance() {
        let dir = tempfile::tempdir().expect("dir");
        let schema = json!({"type": "object", "properties": {"service": {"type": "string"}}});
        let first = Definition::of(&tool("Deploys.", schema.clone()), "t0").expect("def");
        let mut pins = Pins::load(dir.path()).expect("none yet");
        assert_eq!(pins.see(first.clone(), None), (true, Seen::Same));
        assert_eq!(pins.see(first.clone(), None), (false, Seen::Same));
        pins.save(dir.path()).expect("save");
        let mut pins = Pins::load(dir.path()).expect("load");

        let changed = json!({"type": "object", "properties": {
            "service": {"type": "string"}, "force": {"type": "boolean"}}, "required": ["force"]});
        let second = Definition::of(&tool("Deploys anything.", changed), "t1").expect("def");
        let (dirty, seen) = pins.see(second.clone(), None);
        assert!(dirty);
        let Seen::Changed(words) = seen else {
            panic!("changed")
        };
        assert!(words.contains("description changed"), "{words}");
        assert!(words.contains("input `force` added"), "{words}");
        assert!(words.contains("required inputs were null"), "{words}");
        // Seen again: nothing new to save, still refused.
        assert!(matches!(
            pins.see(second.clone(), None),
            (false, Seen::Changed(_))
        ));

        let e = pins.accept("nope", "t2").expect_err("unknown").to_string();
        assert!(e.contains("has not seen a tool \"nope\""), "{e}");
        let words = pins.accept("deploy", "t2").expect("accepted");
        assert!(words.contains("`force` added"), "{words}");
        assert_eq!(pins.see(second, None), (false, Seen::Same));
        assert_eq!(pins.tools["deploy"].accepted.len(), 1);
        let e = pins
            .accept("deploy", "t3")
            .expect_err("nothing")
            .to_string();
        assert!(e.contains("nothing to accept"), "{e}");
        // An upstream that goes back to the first definition is changed again ...
        assert!(matches!(
            pins.see(first.clone(), None),
            (true, Seen::Changed(_))
        ));
        // ... unless the policy pins that definition: accepted in the log, taken as the pin.
        let (dirty, seen) = pins.see(first.clone(), Some(&first.sha256));
        assert_eq!((dirty, seen), (true, Seen::Same));
        assert_eq!(pins.tools["deploy"].pinned.sha256, first.sha256);
        assert_eq!(
            pins.tools["deploy"].accepted.last().expect("kept")["by"],
            "policy"
        );
        // A pin the policy names for another definition accepts nothing else.
        let other =
            Definition::of(&tool("Deletes.", json!({"type": "object"})), "t4").expect("def");
        assert!(matches!(
            pins.see(other, Some(&first.sha256)),
            (true, Seen::Changed(_))
        ));
    }
}
