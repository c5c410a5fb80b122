//! Decision receipts (`stepwise::ledger::receipt`) for the doors of a running engine: the
//! decision as the door shows it, signed by the log's key, with a C2SP tlog-proof for each
//! entry it rests on, against the latest checkpoint.

use crate::{Engine, Error};
use serde_json::Value;
use stepwise::ledger::receipt::{Receipt, TlogProof, resting_on};
use stepwise_store::receipt::tlog_proofs;

impl Engine {
    /// The receipt of `decision`: a decision's JSON in ids, as a door answers it (names opened:
    /// the receipt's holder reads it as it was answered, and the signature covers that).
    pub async fn receipt(&self, decision: Value) -> Result<Receipt, Error> {
        let checkpoint = self.live().checkpoint();
        let indexes = resting_on(&decision);
        let proofs = self
            .pool()
            .with::<Vec<TlogProof>, Error>(move |store| {
                Ok(tlog_proofs(&*store, &indexes, &checkpoint)?)
            })
            .await?;
        Receipt::new(decision, &self.signer, &proofs).map_err(Error::internal)
    }
}
