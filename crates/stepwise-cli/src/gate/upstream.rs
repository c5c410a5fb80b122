//! The upstream MCP server behind the gate: a child process spoken to over its stdin and stdout,
//! started when the gate starts and again, on the next call, after it has exited.

use anyhow::{Context as _, Result, bail};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

/// The upstream server's command line, and the running session with it, if any, numbered by
/// how many were started before it.
pub struct Upstream {
    command: Vec<String>,
    running: Mutex<(u64, Option<RunningService<RoleClient, Client>>)>,
    /// Set when the upstream's tools may have changed since the gate last listed them: a new
    /// session, or the upstream said so (`notifications/tools/list_changed`).
    stale: Arc<AtomicBool>,
}

/// The gate as the upstream's client: it listens for the upstream's word that its tools
/// changed.
#[derive(Clone)]
struct Client {
    config: ClientConfig,
    stale: Arc<AtomicBool>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.stale.store(true, Ordering::Release);
    }
}

/// A handle on one session with the upstream server.
pub struct Session {
    /// Which session (see [`Upstream::lost`]).
    pub number: u64,
    /// The client side of it.
    pub peer: Peer<RoleClient>,
}

impl Upstream {
    /// Starts `command` (program and arguments) and completes the MCP handshake with it.
    pub async fn start(command: Vec<String>) -> Result<Self> {
        let stale = Arc::new(AtomicBool::new(true));
        let session = spawn(&command, &stale).await?;
        Ok(Self {
            command,
            running: Mutex::new((0, Some(session))),
            stale,
        })
    }

    /// Whether the tools may have changed since [`Upstream::listed`] was last called.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    /// Notes that the tools were just listed.
    pub fn listed(&self) {
        self.stale.store(false, Ordering::Release);
    }

    /// A handle on the running session, starting the server again if it has exited.
    pub async fn session(&self) -> Result<Session> {
        let mut running = self.running.lock().await;
        let (number, session) = &mut *running;
        if let Some(s) = session.as_ref()
            && !s.is_closed()
            && !s.peer().is_transport_closed()
        {
            return Ok(Session {
                number: *number,
                peer: s.peer().clone(),
            });
        }
        // Dropping the old session kills its process, if it is somehow still there.
        *session = None;
        let started = spawn(&self.command, &self.stale).await?;
        self.stale.store(true, Ordering::Release);
        *number += 1;
        let peer = started.peer().clone();
        *session = Some(started);
        Ok(Session {
            number: *number,
            peer,
        })
    }

    /// Ends session `number` (it failed: the server exited, or its transport broke), unless a
    /// newer one has replaced it already; the next call starts the server again.
    pub async fn lost(&self, number: u64) {
        let mut running = self.running.lock().await;
        if running.0 == number {
            running.1 = None;
        }
    }

    /// The command, as a person would type it.
    pub fn describe(&self) -> String {
        self.command.join(" ")
    }
}

async fn spawn(
    command: &[String],
    stale: &Arc<AtomicBool>,
) -> Result<RunningService<RoleClient, Client>> {
    let Some((program, args)) = command.split_first() else {
        bail!("no upstream command: give it after `--`, for example `stepwise gate -- npx server`");
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    let described = command.join(" ");
    // The upstream's stderr is the gate's: its diagnostics reach whoever runs the gate.
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting the upstream server `{described}`"))?;
    let client = Client {
        config: ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("stepwise-gate", env!("CARGO_PKG_VERSION")),
        ),
        stale: Arc::clone(stale),
    };
    client
        .serve(transport)
        .await
        .with_context(|| format!("the MCP handshake with the upstream server `{described}`"))
}
