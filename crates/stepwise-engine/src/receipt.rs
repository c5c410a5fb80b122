//! Decision receipts (`stepwise::ledger::receipt`) for the doors of a running engine: the
//! decision as the door shows it, signed by the log's key, with a C2SP tlog-proof for each
//! entry it rests on, against the latest checkpoint the witnesses' quorum cosigned that covers
//! the decision (waiting for one a little when witnesses are asked), or else the log's own.
//!
//! The engine also keeps that latest witnessed checkpoint: loaded from the store at open,
//! advanced by whoever submits checkpoints to the witnesses (`stepwise serve`).

use std::sync::atomic::Ordering;
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
        *self
            .witnessed
            .wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = wait;
        self.witnessed.submitting.store(true, Ordering::Release);
    }

    async fn witnessed_covering(&self, size: u64) -> Option<StoredCheckpoint> {
        let covers = |cp: &Option<StoredCheckpoint>| cp.as_ref().is_some_and(|c| c.size >= size);
        let mut latest = self.witnessed.latest.subscribe();
        if !self.witnessed.submitting.load(Ordering::Acquire) {
            return latest.borrow().clone().filter(|c| c.size >= size);
        }
        let wait = *self
            .witnessed
            .wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match tokio::time::timeout(wait, latest.wait_for(covers)).await {
            Ok(Ok(found)) => found.clone(),
            _ => None,
        }
    }
}

/// The engine's view of its witnesses.
pub(crate) struct Witnessed {
    latest: tokio::sync::watch::Sender<Option<StoredCheckpoint>>,
    submitting: std::sync::atomic::AtomicBool,
    wait: std::sync::Mutex<Duration>,
}

impl Witnessed {
    pub(crate) fn new(latest: Option<StoredCheckpoint>) -> Self {
        Self {
            latest: tokio::sync::watch::Sender::new(latest),
            submitting: std::sync::atomic::AtomicBool::new(false),
            wait: std::sync::Mutex::new(Duration::ZERO),
        }
    }
}
