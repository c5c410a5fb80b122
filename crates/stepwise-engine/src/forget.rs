//! Forgetting a principal, for every door: erase what is kept beside the log, append the
//! erasure entry through the engine's appender, scrub the files (`stepwise_store::forget` has
//! the steps and why a crash between them loses nothing).

use crate::{Engine, Error, OpenError, now};
use std::sync::Arc;
use stepwise::evidence::ErasureReason;
use stepwise::ledger::Origin;
use stepwise_api::{Code, ForgetView};
use stepwise_store::forget::{self, ForgetError};
use stepwise_store::names::Names;
use stepwise_store::{Ledger, Store};

impl Engine {
    /// Forgets principal `id` (admin only, at every door), finishing first any erasure a crash
    /// cut short. `not_found` when the log knows no such principal (also when it was forgotten
    /// already); `in_clear_entries` when entries name it in the clear (everything
    /// else of it is forgotten all the same).
    pub async fn forget(&self, id: &str, reason: ErasureReason) -> Result<ForgetView, Error> {
        let finished = self.finish_erasures().await?;
        let names = Arc::clone(&self.names);
        let wanted = id.to_owned();
        let erased = self
            .pool
            .with(move |store| {
                forget::erase(store, &names, &wanted, reason).map_err(|e| match e {
                    ForgetError::Unknown(_) => Error::not_found(e.to_string()),
                    ForgetError::Store(e) => Error::from(e),
                })
            })
            .await?;
        let mut erasure_entry = None;
        if let Some(pseudonym) = &erased.pseudonym {
            let event = forget::erasure_event(pseudonym, reason, now())?;
            let written = self.append(vec![event], Origin::Live).await?;
            erasure_entry = written.results.into_iter().next().and_then(Result::ok);
            let (names, pseudonym) = (Arc::clone(&self.names), pseudonym.clone());
            self.pool
                .with(move |store| Ok::<_, Error>(forget::finish(store, &names, &pseudonym)?))
                .await?;
        }
        if let Some(message) = erased.in_clear_message() {
            return Err(Error::new(Code::InClearEntries, message));
        }
        Ok(ForgetView {
            id: id.to_owned(),
            pseudonym: erased.pseudonym,
            erasure_entry,
            in_clear_entries: erased.in_clear,
            finished,
        })
    }

    /// Appends the entries of erasures a crash cut short, and finishes them.
    async fn finish_erasures(&self) -> Result<Vec<String>, Error> {
        let pending = self
            .pool
            .with(|store| Ok::<_, Error>(forget::pending(store, now())?))
            .await?;
        let mut finished = Vec::new();
        for (pseudonym, event) in pending {
            self.append(vec![event], Origin::Live).await?;
            let (names, p) = (Arc::clone(&self.names), pseudonym.clone());
            self.pool
                .with(move |store| Ok::<_, Error>(forget::finish(store, &names, &p)?))
                .await?;
            finished.push(pseudonym);
        }
        Ok(finished)
    }
}

/// At start, before the fold: finishes the erasures a crash cut short, with `ledger`.
pub(crate) fn finish_at_open(
    ledger: &mut Ledger<Box<dyn Store>>,
    names: &Names,
    store: &mut dyn Store,
) -> Result<(), OpenError> {
    for (pseudonym, event) in forget::pending(ledger.store(), now())? {
        ledger.append(vec![event])?;
        forget::finish(store, names, &pseudonym)?;
    }
    Ok(())
}
