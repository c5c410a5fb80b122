//! Who records evidence, and the rule every door applies before an event reaches the ledger:
//! nobody records in someone else's name.

use crate::{Engine, Error};
use stepwise::evidence::{Event, Id};
use stepwise::ledger::Origin;
use stepwise_store::StoredCheckpoint;

/// Who is recording: the principal a door vouches for (an API key's, the `--principal` of a
/// stdio door), and how the door names its credential in a refusal.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// What the refusal calls the credential: `key sw_…`, `--principal`.
    pub credential: String,
    /// The principal it records as; `None`: it may only relay events signed by their author.
    pub principal: Option<Id>,
}

/// Nobody records in someone else's name: an unsigned event is authored by the recorder's
/// principal (filled in when absent); a signed one is checked by the ledger against its author's
/// key. `position` is the event's place in a batch, for the message.
pub fn authorize(
    recorder: &Recorder,
    event: &mut Event,
    position: Option<usize>,
) -> Result<(), Error> {
    if event.sig.is_some() {
        return Ok(());
    }
    let at = position.map_or(String::new(), |i| format!(" (event {i})"));
    let credential = &recorder.credential;
    let Some(principal) = &recorder.principal else {
        return Err(Error::forbidden(format!(
            "{credential} has no principal, so it may only relay signed events{at}"
        )));
    };
    match &event.author {
        None => event.author = Some(principal.clone()),
        Some(author) if author == principal => {}
        Some(author) => {
            return Err(Error::forbidden(format!(
                "{credential} records as {principal}; it may not record an event authored by \
                 {author}{at} unless the event carries {author}'s signature"
            )));
        }
    }
    Ok(())
}

/// What recording one event answers: its index and the checkpoint of its commit.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The event's log index.
    pub index: u64,
    /// The checkpoint signed for the commit that holds it.
    pub checkpoint: StoredCheckpoint,
}

impl Engine {
    /// Records one live event as `recorder`, once it is durable: the same authorship and ledger
    /// rules as any other append. A refusal (422, naming the field) records nothing.
    pub async fn record_one(
        &self,
        recorder: &Recorder,
        value: &serde_json::Value,
    ) -> Result<Recorded, Error> {
        let mut event = Event::from_value(value).map_err(Error::refused)?;
        authorize(recorder, &mut event, None)?;
        let written = self.append(vec![event], Origin::Live).await?;
        one(written)
    }

    /// [`Engine::record_one`] for a caller outside the async runtime (an event already parsed).
    pub fn record_here(&self, recorder: &Recorder, mut event: Event) -> Result<Recorded, Error> {
        authorize(recorder, &mut event, None)?;
        one(self.append_here(vec![event], Origin::Live)?)
    }
}

/// The one event's result of a commit.
fn one(written: crate::Written) -> Result<Recorded, Error> {
    match written.results.into_iter().next() {
        Some(Ok(index)) => Ok(Recorded {
            index,
            checkpoint: written.checkpoint,
        }),
        Some(Err(e)) => Err(Error::refused(e)),
        None => Err(Error::internal("the ledger gave no result for the event")),
    }
}
