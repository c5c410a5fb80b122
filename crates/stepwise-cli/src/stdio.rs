//! Standard input and output as the MCP transport of `stepwise mcp` and `stepwise gate`.
//!
//! Tokio reads stdin and writes stdout on its blocking thread pool, one hand-off per read and per
//! write. When both are pipes — as when an MCP client starts the command — they are read and
//! written as non-blocking pipes on the runtime's own event loop instead, which takes those
//! hand-offs off every message. Anything else (a terminal, a file, a socket) gets tokio's
//! standard streams.

use anyhow::{Context as _, Result};
use rmcp::{ServerHandler, ServiceExt as _};
use std::os::fd::AsFd as _;
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves `handler` on stdin and stdout until the client closes stdin.
pub async fn serve(handler: impl ServerHandler) -> Result<()> {
    let service = handler
        .serve(transport())
        .await
        .context("starting the MCP session on stdio")?;
    service.waiting().await.context("the MCP session")?;
    Ok(())
}

/// A reader of stdin and a writer of stdout; must be called inside a Tokio runtime.
fn transport() -> (
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
) {
    let pipes = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd)
        .and_then(|rx| {
            let tx = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .and_then(tokio::net::unix::pipe::Sender::from_owned_fd)?;
            Ok((rx, tx))
        });
    match pipes {
        Ok((rx, tx)) => (Box::new(rx), Box::new(tx)),
        Err(_) => (Box::new(tokio::io::stdin()), Box::new(tokio::io::stdout())),
    }
}
