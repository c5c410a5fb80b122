//! Decision receipts (`stepwise::ledger::receipt`) for the doors of a running engine: the
//! decision as the door shows it, signed by the log's key, with a C2SP tlog-proof for each
//! entry it rests on, against the latest checkpoint the witnesses' quorum cosigned that covers
//! the decision (waiting for one a little when witnesses are asked), or else the log's own.
//!
//! The engine also keeps that latest witnessed checkpoint: loaded from the store at open,
//! advanced by whoever submits checkpoints to the witnesses (`stepwise serve`).

use std::time::Duration;

use crate::{Engine, Error};
use serde_json::Value;
use stepwise::ledger::receipt::{Receipt, covering_size, resting_on};
use stepwise_store::StoredCheckpoint;
use stepwise_store::receipt::{replay_data, tlog_proofs};

impl Engine {
    /// The receipt of `decision`: a decision's JSON in ids, as a door answers it (names opened:
    /// the receipt's holder reads it as it was answered, and the signature covers that).
    pub async fn receipt(&self, decision: Value) -> Result<Receipt, Error> {
        let indexes = resting_on(&decision);
        let checkpoint = match self.witnessed_covering(covering_size(&decision)).await {
            Some(witnessed) => witnessed,
            None => self.live().checkpoint(),
        };
        let names = std::sync::Arc::clone(self.names());
        let asked = decision.clone();
        let (proofs, replay) = self
            .pool()
            .with::<_, Error>(move |store| {
                let proofs = tlog_proofs(&*store, &indexes, &checkpoint)?;
                let replay = replay_data(&*store, &names, &asked, &proofs)?;
                Ok((proofs, replay))
            })
            .await?;
        Receipt::with_replay(decision, replay, &self.signer, &proofs).map_err(Error::internal)
    }

    /// The latest checkpoint the witnesses' quorum cosigned, if any.
    pub fn witnessed(&self) -> Option<StoredCheckpoint> {
        self.witnessed.latest.borrow().clone()
    }

    /// Its size alone (no copy of its note: every HTTP answer reads it).
    pub fn witnessed_size(&self) -> Option<u64> {
        self.witnessed.latest.borrow().as_ref().map(|w| w.size)
    }

    /// Keeps a checkpoint the witnesses' quorum cosigned (its note carries the cosignatures):
    /// stored beside the log, then served as the latest when it is larger than the last.
    pub async fn put_witnessed(&self, checkpoint: StoredCheckpoint) -> Result<(), Error> {
        let stored = checkpoint.clone();
        self.pool()
            .with::<(), Error>(move |store| Ok(store.put_witnessed(&stored)?))
            .await?;
        self.witnessed.latest.send_if_modified(|latest| {
            let newer = latest.as_ref().is_none_or(|l| l.size <= checkpoint.size);
            if newer {
                *latest = Some(checkpoint);
            }
            newer
        });
        Ok(())
    }

    /// Says that checkpoints are being submitted to witnesses: from now on a receipt waits up
    /// to `wait` for a witnessed checkpoint that covers its decision.
    pub fn expect_witnesses(&self, wait: Duration) {
        let _ = self.witnessed.wait.set(wait);
    }

    async fn witnessed_covering(&self, size: u64) -> Option<StoredCheckpoint> {
        let covers = |cp: &Option<StoredCheckpoint>| cp.as_ref().is_some_and(|c| c.size >= size);
        let mut latest = self.witnessed.latest.subscribe();
        let Some(&wait) = self.witnessed.wait.get() else {
            return latest.borrow().clone().filter(|c| c.size >= size);
        };
        match tokio::time::timeout(wait, latest.wait_for(covers)).await {
            Ok(Ok(found)) => found.clone(),
            _ => None,
        }
    }
}

/// The engine's view of its witnesses.
pub(crate) struct Witnessed {
    latest: tokio::sync::watch::Sender<Option<StoredCheckpoint>>,
    /// How long a receipt waits for a witnessed checkpoint; set once checkpoints are being
    /// submitted (unset: nobody submits, so waiting would be in vain).
    wait: std::sync::OnceLock<Duration>,
}

impl Witnessed {
    pub(crate) fn new(latest: Option<StoredCheckpoint>) -> Self {
        Self {
            latest: tokio::sync::watch::Sender::new(latest),
            wait: std::sync::OnceLock::new(),
        }
    }
}
