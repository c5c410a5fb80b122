//! The operator's policy file, `stepwise.toml`.
//!
//! Parsing is strict: an unknown key or an out-of-range value is refused with a message naming
//! the key, because a typo in a trust policy must never silently fall back to a default. This
//! module only parses and checks; it reads no files itself.

use crate::evidence::Id;
use crate::ledger::LedgerConfig;
use serde::Deserialize;

/// The policy written by `stepwise init`, with every setting documented.
pub const DEFAULT_POLICY: &str = r#"# stepwise policy.
#
# Every key is optional; an unknown key is an error, so typos never pass silently.

[ledger]
# Principals allowed to record `key` events for other principals, for example an identity
# service that registers agents' public keys. Everyone may always record their own first key.
operators = []
"#;

/// The parsed policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Ledger settings.
    pub ledger: LedgerConfig,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    ledger: RawLedger,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    #[serde(default)]
    operators: Vec<String>,
}

impl Policy {
    /// Parses and checks policy text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        let operators = raw
            .ledger
            .operators
            .iter()
            .map(|s| Id::parse("ledger.operators", s).map_err(|e| PolicyError(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ledger: LedgerConfig { operators },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_parses() {
        assert_eq!(Policy::from_toml(DEFAULT_POLICY), Ok(Policy::default()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Policy::from_toml("[ledger]\noperater = []\n").expect_err("typo");
        assert!(err.0.contains("operater"), "{err}");
        let err = Policy::from_toml("[ledgr]\n").expect_err("typo");
        assert!(err.0.contains("ledgr"), "{err}");
        let err = Policy::from_toml("[ledger]\noperators = [\"has space\"]\n").expect_err("bad id");
        assert!(err.0.contains("ledger.operators"), "{err}");
        let ok = Policy::from_toml("[ledger]\noperators = [\"svc:identity\"]\n").expect("valid");
        assert_eq!(ok.ledger.operators[0].as_str(), "svc:identity");
    }
}
