//! How the command speaks: text for people, JSON for scripts, errors on stderr.
//!
//! Everything goes through `Out` so that a closed pipe (`stepwise log get 3 | head -1`) ends the
//! command quietly instead of panicking, as `println!` would.

use serde_json::Value;
use std::io::{self, Write};
use std::sync::Arc;
use stepwise::evidence::FieldError;
use stepwise_store::names::Names;

/// The names of the log this command read, which its output is opened with.
static NAMES: std::sync::RwLock<Option<Arc<Names>>> = std::sync::RwLock::new(None);

/// From now on, output names principals by the ids `names` maps the log's pseudonyms to: a
/// command that opened a store says so once it has its names.
pub fn open_names_with(names: Arc<Names>) {
    if let Ok(mut slot) = NAMES.write() {
        *slot = Some(names);
    }
}

/// The names output is opened with, if a store was opened.
pub fn names() -> Option<Arc<Names>> {
    NAMES.read().ok().and_then(|n| n.clone())
}

/// Where results go.
pub struct Out {
    json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// True when the output is JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON, or runs `human` to print text: principals by their ids, never
    /// by the log's pseudonyms (see [`open_names_with`]).
    pub fn emit(
        &mut self,
        value: &Value,
        human: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(1024);
        if self.json {
            serde_json::to_writer_pretty(&mut buffer, value)?;
            writeln!(buffer)?;
        } else {
            human(&mut buffer)?;
        }
        let stdout = io::stdout();
        let mut w = stdout.lock();
        match (names(), std::str::from_utf8(&buffer)) {
            (Some(names), Ok(text)) if self.json => {
                w.write_all(names.open_json(text).as_bytes())?
            }
            (Some(names), Ok(text)) => w.write_all(names.open_text(text).as_bytes())?,
            _ => w.write_all(&buffer)?,
        }
        w.flush()
    }

    /// Reports an error on stderr: one line of text, or `{"error": …}` with `--json` (with
    /// the event field at fault and its stable code, such as `at_out_of_window`, when an event
    /// was refused).
    pub fn error(&mut self, e: &anyhow::Error) {
        let message = flagged(e);
        let mut err = io::stderr().lock();
        let _ = if self.json {
            writeln!(err, "{}", error_json(e))
        } else {
            writeln!(err, "error: {message}")
        };
    }
}

/// The engine names a request's fields as the wire does (`log_size: 99 is larger than the
/// log`); on the command line the same message names the flag (`--log-size 99 is larger than
/// the log`), or the argument (`CAPABILITY: …`).
fn flagged(e: &anyhow::Error) -> String {
    const FLAGS: [(&str, &str); 10] = [
        ("log_size", "--log-size"),
        ("min_log_size", "--min-log-size"),
        ("rank_log_size", "--rank-log-size"),
        ("at", "--at"),
        ("limit", "--limit"),
        ("cursor", "--cursor"),
        ("stake", "--stake"),
        ("truster", "--truster"),
        ("subject", "SUBJECT"),
        ("capability", "CAPABILITY"),
    ];
    let message = format!("{e:#}");
    let Some(field) = e
        .chain()
        .find_map(|c| c.downcast_ref::<stepwise_engine::Error>())
        .and_then(|engine| engine.body.field.as_deref())
    else {
        return message;
    };
    let Some(&(_, flag)) = FLAGS.iter().find(|(name, _)| *name == field) else {
        return message;
    };
    let said = format!("{field}: ");
    let named = if flag.starts_with("--") {
        format!("{flag} ")
    } else {
        format!("{flag}: ")
    };
    message.replacen(&said, &named, 1)
}

/// An error as JSON: `{"error": …}`, with the event field at fault and its stable code when an
/// event was refused (what `--json` prints on stderr, and the MCP tools return).
pub fn error_json(e: &anyhow::Error) -> Value {
    let mut body = serde_json::json!({ "error": format!("{e:#}") });
    if let Some(refusal) = e.chain().find_map(|c| c.downcast_ref::<FieldError>()) {
        body["field"] = refusal.field.clone().into();
        body["code"] = refusal.code.name().into();
    } else if let Some(engine) = e
        .chain()
        .find_map(|c| c.downcast_ref::<stepwise_engine::Error>())
    {
        body["code"] = engine.body.code.clone().into();
    }
    body
}

/// True when the error is a write to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A spinner on stderr for long work, hidden when stderr is not a terminal.
pub fn spinner() -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Lower-case hexadecimal (the same as the server's JSON uses).
pub use stepwise_api::hex;

/// The policy an answer was decided under, in words: the log entry that records it, or that
/// the log records none (a log begun before policy entries: the policy file decided).
pub fn policy_words(entry: Option<u64>) -> String {
    match entry {
        Some(index) => format!("as recorded at log entry {index} (replays keep it)"),
        None => "the policy file's (the log records no policy up to this size)".into(),
    }
}
