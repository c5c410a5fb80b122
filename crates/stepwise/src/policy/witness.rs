//! `[witness]`: the witnesses `stepwise serve` asks to cosign its checkpoints (C2SP
//! tlog-witness; docs/LOG.md, "Witnesses").
//!
//! ```toml
//! [witness]
//! policy = "witnesses.txt"  # a C2SP tlog-policy file: `witness NAME VKEY URL`, groups, quorum
//! receipt_wait = "3s"       # how long a receipt waits for its checkpoint to be witnessed
//! timeout = "5s"            # how long a witness has to answer
//! ```

use super::PolicyError;
use crate::model::params::parse_duration;
use serde::Deserialize;

/// The `[witness]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessSettings {
    /// The tlog-policy file naming the witnesses and the quorum; relative paths are read from
    /// the data directory. `None`: no witnesses.
    pub policy: Option<String>,
    /// How long a receipt waits for a checkpoint that covers its decision to meet the quorum,
    /// in microseconds.
    pub receipt_wait_micros: i64,
    /// How long a witness has to answer one request, in microseconds.
    pub timeout_micros: i64,
}

impl Default for WitnessSettings {
    fn default() -> Self {
        Self {
            policy: None,
            receipt_wait_micros: 3_000_000,
            timeout_micros: 5_000_000,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitness {
    policy: Option<String>,
    receipt_wait: Option<String>,
    timeout: Option<String>,
}

impl RawWitness {
    pub(super) fn into_settings(self) -> Result<WitnessSettings, PolicyError> {
        let mut settings = WitnessSettings::default();
        if let Some(policy) = self.policy {
            if policy.trim().is_empty() {
                return Err(PolicyError("witness.policy: names no file".into()));
            }
            settings.policy = Some(policy);
        }
        let duration = |key: &str, text: &str, max: i64| {
            parse_duration(text)
                .map_err(|e| PolicyError(format!("witness.{key}: {e}")))
                .and_then(|micros| {
                    if (1..=max).contains(&micros) {
                        Ok(micros)
                    } else {
                        Err(PolicyError(format!(
                            "witness.{key} = {text:?}: must be above zero and at most {}s",
                            max / 1_000_000
                        )))
                    }
                })
        };
        if let Some(wait) = self.receipt_wait {
            settings.receipt_wait_micros = duration("receipt_wait", &wait, 60_000_000)?;
        }
        if let Some(timeout) = self.timeout {
            settings.timeout_micros = duration("timeout", &timeout, 300_000_000)?;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WitnessSettings, PolicyError> {
        toml::from_str::<RawWitness>(text)
            .map_err(|e| PolicyError(e.to_string()))?
            .into_settings()
    }

    #[test]
    fn witnesses_are_off_by_default_and_bad_values_name_their_key() {
        assert_eq!(parse(""), Ok(WitnessSettings::default()));
        let s = parse("policy = \"w.txt\"\nreceipt_wait = \"0.5s\"\ntimeout = \"2s\"").expect("ok");
        assert_eq!(s.policy.as_deref(), Some("w.txt"));
        assert_eq!(
            (s.receipt_wait_micros, s.timeout_micros),
            (500_000, 2_000_000)
        );
        for bad in [
            "policy = \"\"",
            "timeout = \"0s\"",
            "receipt_wait = \"2m\"",
            "timeout = \"soon\"",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.0.starts_with("witness."), "{bad}: {e}");
        }
    }
}
