//! `[log]`: how `stepwise serve` opens the log to those who read it through the C2SP
//! tlog-tiles API (docs/API.md, "Reading the log as tiles").
//!
//! ```toml
//! [log]
//! tiles_prefix = "/tlog"   # where the checkpoint, tiles and entry bundles are served
//! public = false           # true: anyone may read them, with no key
//! ```

use super::PolicyError;
use serde::Deserialize;

/// The `[log]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPolicy {
    /// The path under which the tiles API is served: `<prefix>/checkpoint`,
    /// `<prefix>/tile/…`. Starts with `/`, has no trailing `/`.
    pub tiles_prefix: String,
    /// Anyone may read the tiles, with no key.
    pub public: bool,
    /// Open the tiles to anyone even though format-1/2 entries of the log name principals in
    /// the clear (`public = "despite_clear_names"`): every reader learns those names.
    pub public_despite_clear_names: bool,
}

impl Default for LogPolicy {
    fn default() -> Self {
        Self {
            tiles_prefix: "/tlog".into(),
            public: false,
            public_despite_clear_names: false,
        }
    }
}

/// Paths the server's other routes take; the tiles may not be served under them.
const TAKEN: [&str; 6] = [
    "/v1",
    "/ui",
    "/mcp",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    tiles_prefix: Option<String>,
    public: Option<toml::Value>,
}

impl RawLog {
    pub(super) fn into_log(self) -> Result<LogPolicy, PolicyError> {
        let mut log = LogPolicy::default();
        if let Some(prefix) = self.tiles_prefix {
            check_prefix(&prefix)?;
            log.tiles_prefix = prefix;
        }
        match self.public {
            None => {}
            Some(toml::Value::Boolean(public)) => log.public = public,
            Some(toml::Value::String(s)) if s == "despite_clear_names" => {
                log.public = true;
                log.public_despite_clear_names = true;
            }
            Some(other) => {
                return Err(PolicyError(format!(
                    "log.public = {other}: must be true, false or \"despite_clear_names\""
                )));
            }
        }
        Ok(log)
    }
}

fn check_prefix(prefix: &str) -> Result<(), PolicyError> {
    let fail = |problem: &str| {
        Err(PolicyError(format!(
            "log.tiles_prefix = {prefix:?}: {problem}"
        )))
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-_.".contains(c);
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return fail("must start with `/` and name a path (no trailing `/`), like \"/tlog\"");
    }
    if prefix.len() > 64 || !prefix.chars().all(allowed) || prefix.contains("//") {
        return fail("may hold only letters, digits, `-`, `_`, `.` and single `/`, 64 at most");
    }
    if prefix.split('/').any(|part| part == "." || part == "..") {
        return fail("may not hold `.` or `..` segments");
    }
    let clashes = TAKEN
        .iter()
        .find(|taken| prefix == **taken || prefix.starts_with(&format!("{taken}/")));
    if let Some(taken) = clashes {
        return fail(&format!("{taken} is taken by the server's other routes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LogPolicy, PolicyError> {
        toml::from_str::<RawLog>(text)
            .map_err(|e| PolicyError(e.to_string()))?
            .into_log()
    }

    #[test]
    fn the_defaults_keep_the_tiles_behind_keys_at_tlog() {
        assert_eq!(parse(""), Ok(LogPolicy::default()));
        let log = parse("tiles_prefix = \"/logs/a-1\"\npublic = true").expect("a good [log]");
        assert_eq!(log.tiles_prefix, "/logs/a-1");
        assert!(log.public && !log.public_despite_clear_names);
        let forced = parse("public = \"despite_clear_names\"").expect("forced");
        assert!(forced.public && forced.public_despite_clear_names);
    }

    #[test]
    fn a_bad_prefix_or_public_is_refused_with_the_key_named() {
        for text in [
            "tiles_prefix = \"tlog\"",
            "tiles_prefix = \"/\"",
            "tiles_prefix = \"/tlog/\"",
            "tiles_prefix = \"/a//b\"",
            "tiles_prefix = \"/a/../b\"",
            "tiles_prefix = \"/t log\"",
            "tiles_prefix = \"/v1\"",
            "tiles_prefix = \"/ui/tiles\"",
            "public = \"yes\"",
            "public = 1",
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.0.starts_with("log."), "{text}: {e}");
        }
        assert!(parse("tiles_prefix = \"/v1x\"").is_ok());
    }
}
