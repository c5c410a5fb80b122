//! `stepwise mcp`: the data directory as a Model Context Protocol server over stdio, for agents.
//!
//! The tools, resources and the server are `stepwise-mcp`'s, shared with `/mcp` of `stepwise
//! serve`; this door gives them its backend: each question answered from a fresh fold of the
//! stored log (as each CLI command does: simple, always current with what other writers
//! appended, and slower than the server's state in memory on a large log), and each event
//! recorded as the calling principal (`--principal`) through the one append path of `stepwise
//! record`, so every rule of the ledger holds: an outcome recorded by anyone but the promise's
//! promisee is refused. A decision comes with its words, as `stepwise decide` prints them.
//! Nothing here may write to stdout but the protocol itself.

use crate::ladder;
use anyhow::{Context as _, Result};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;
use stepwise::evidence::{Event, Id};
use stepwise::ladder::Ladder;
use stepwise_api::DecisionView;
use stepwise_engine::question::Question;
use stepwise_engine::{Error, Recorder, authorize};
use stepwise_mcp::tools::{CHECKPOINT_URI, POLICY_URI};
use stepwise_mcp::{Backend, Caller, Handler, RecordedEntry};
use stepwise_store::data_dir::DataDir;

#[derive(clap::Args)]
pub struct McpArgs {
    /// The calling principal: the promisor of the promises it records, and the recorder of the
    /// outcomes it judges (only a promise's promisee may).
    #[arg(long, value_name = "ID")]
    principal: String,
}

/// Serves MCP on stdin and stdout until the client closes stdin.
pub fn run(data: &DataDir, args: McpArgs) -> Result<bool> {
    let principal = Id::parse("--principal", &args.principal)?;
    let _telemetry = stepwise_engine::telemetry::init_from_env("stepwise-mcp")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A new data directory is created on first use, as by `stepwise record`.
    drop(crate::open_for_writing(data)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let backend = Stdio {
            data: data.clone(),
            recorder: Recorder {
                credential: "--principal".into(),
                principal: Some(principal),
            },
        };
        crate::stdio::serve(Handler(backend)).await?;
        Ok(true)
    })
}

/// One session's backend: the data directory and who is calling.
#[derive(Clone)]
struct Stdio {
    data: DataDir,
    recorder: Recorder,
}

/// A CLI failure as the engine's error: the engine's own when it is one, otherwise the
/// message of a refused event (naming its field) or of a failed store.
fn engine_error(e: anyhow::Error) -> Error {
    if let Some(engine) = e.chain().find_map(|c| c.downcast_ref::<Error>()) {
        return engine.clone();
    }
    if let Some(refusal) = e
        .chain()
        .find_map(|c| c.downcast_ref::<stepwise::evidence::FieldError>())
    {
        return Error::refused(refusal.clone());
    }
    Error::unavailable(format!("{e:#}"))
}

/// Runs blocking work (a fold, an append) off the protocol task.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal(format!("the tool call failed: {e}")))?
}

impl Backend for Stdio {
    fn caller(&self, _context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        Ok(Caller {
            recorder: self.recorder.clone(),
            may_not_record: None,
        })
    }

    fn who(&self) -> String {
        self.recorder
            .principal
            .as_ref()
            .map_or_else(String::new, |p| p.to_string())
    }

    async fn ask<Q: Question>(&self, question: Q) -> Result<Q::Answer, Error> {
        let data = self.data.clone();
        blocking(move || ladder::ask(&data, question).map_err(engine_error)).await
    }

    async fn caught_up(&self, min_log_size: Option<u64>) -> Result<(), Error> {
        let Some(min) = min_log_size else {
            return Ok(());
        };
        let data = self.data.clone();
        blocking(move || crate::record::caught_up(&data, min).map_err(engine_error)).await
    }

    fn ladder(&self) -> Result<Ladder, Error> {
        Ok(self
            .data
            .policy()
            .map_err(|e| engine_error(e.into()))?
            .ladder)
    }

    async fn record(&self, recorder: &Recorder, event: Value) -> Result<RecordedEntry, Error> {
        let mut event = Event::from_value(&event).map_err(Error::refused)?;
        authorize(recorder, &mut event, None)?;
        let data = self.data.clone();
        blocking(move || {
            let recorded = crate::record::append(&data, event).map_err(engine_error)?;
            Ok(RecordedEntry {
                index: recorded.index,
                leaf_hash: recorded.leaf_hash,
                size: recorded.size,
                root: recorded.root,
            })
        })
        .await
    }

    async fn resource(&self, uri: &str) -> Result<Option<String>, Error> {
        let data = self.data.clone();
        let uri = uri.to_owned();
        blocking(move || {
            Ok(match uri.as_str() {
                POLICY_URI => {
                    let path = data.policy_path();
                    Some(std::fs::read_to_string(&path).map_err(|e| {
                        Error::unavailable(format!("reading the policy {}: {e}", path.display()))
                    })?)
                }
                CHECKPOINT_URI => {
                    // Reads only: nothing is appended, so the clock is never read.
                    let ledger = data
                        .open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))
                        .map_err(|e| engine_error(e.into()))?;
                    Some(ledger.checkpoint().note.clone())
                }
                _ => None,
            })
        })
        .await
    }

    fn names(&self) -> std::sync::Arc<stepwise_engine::Names> {
        ladder::names()
    }

    async fn receipt(&self, decision: Value) -> Result<stepwise::ledger::receipt::Receipt, Error> {
        let data = self.data.clone();
        blocking(move || crate::receipt::build(&data, decision).map_err(engine_error)).await
    }

    fn decision_words(&self, decision: &DecisionView) -> Option<String> {
        let mut words = Vec::new();
        ladder::write_decision(&mut words, decision).ok()?;
        Some(String::from_utf8_lossy(&words).into_owned())
    }
}
