//! Who records evidence, and the rules every door's events meet before they reach the ledger:
//! nobody records in someone else's name, and nobody approves a call it may not approve
//! (`LadderState::may_approve`, asked of the live state when the approval is recorded).

use crate::{Engine, Error, Written};
use stepwise::evidence::{Body, Event, FieldError, Id, Refusal};
use stepwise::ladder::ApprovalRefusal;
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

    /// Whether `approver` may let `subject`'s call of `capability` at `stake` through now
    /// (`LadderState::may_approve` on the live state, the principals named by their ids): what
    /// a door asks before it asks an approver, and what recording an approval checks. Reads
    /// memory only.
    pub fn may_approve(
        &self,
        approver: &Id,
        subject: &Id,
        capability: &str,
        stake: f64,
    ) -> Result<(), ApprovalRefusal> {
        let (approver, subject) = (self.names.name(approver), self.names.name(subject));
        self.live.read(|state| {
            let at = state.trust().instant_for(crate::now());
            state.may_approve(&approver, &subject, capability, stake, at)
        })
    }

    /// `approver`'s approval record now (`TrustState::approval_record`), from the live state.
    pub fn approval_record(&self, approver: &Id) -> stepwise::model::ApprovalRecord {
        let approver = self.names.name(approver);
        self.live.read(|state| {
            let at = state.trust().instant_for(crate::now());
            state.approval_record(&approver, at)
        })
    }

    /// Takes out of `events` the approvals whose approver may not approve now (live evidence
    /// only: history is an operator's, loaded as it was), each refused with code
    /// `approval_refused`. Every append goes through it, so that no door records one.
    pub(crate) fn screen_approvals(&self, events: Vec<Event>, origin: Origin) -> Screened {
        // Most batches hold none: they pass as they are, not copied.
        if !events
            .iter()
            .any(|e| matches!(e.body, Body::Approval { .. }))
        {
            return Screened {
                events,
                refused: Refused(Vec::new()),
            };
        }
        let mut screened = Screened {
            events: Vec::with_capacity(events.len()),
            refused: Refused(Vec::new()),
        };
        for (i, event) in events.into_iter().enumerate() {
            match self.check_approval(&event, origin) {
                Ok(()) => screened.events.push(event),
                Err(e) => screened.refused.0.push((i, e)),
            }
        }
        screened
    }

    /// Refuses `event` if it is an approval its approver may not give now.
    fn check_approval(&self, event: &Event, origin: Origin) -> Result<(), FieldError> {
        let Body::Approval {
            approver,
            subject,
            capability,
            stake,
            ..
        } = &event.body
        else {
            return Ok(());
        };
        if origin == Origin::History {
            return Ok(());
        }
        self.may_approve(approver, subject, capability.as_str(), *stake)
            .map_err(|refusal| approval_refused(approver, subject, capability, *stake, &refusal))
    }
}

/// The refusal of an approval by `approver` of `subject`'s call, as the ledger's refusals are
/// told: the field `approver`, the code `approval_refused`, the refusal's own code in words.
pub fn approval_refused(
    approver: &Id,
    subject: &Id,
    capability: &Id,
    stake: f64,
    refusal: &ApprovalRefusal,
) -> FieldError {
    FieldError::new(
        "approver",
        format!(
            "{approver} may not approve {subject}'s call of {capability} at stake {stake}: \
             {refusal}"
        ),
    )
    .with_code(Refusal::ApprovalRefused)
}

/// A batch with the approvals that may not be recorded taken out ([`Engine::screen_approvals`]).
pub(crate) struct Screened {
    /// What goes to the ledger, in order.
    pub(crate) events: Vec<Event>,
    /// What was taken out.
    pub(crate) refused: Refused,
}

impl Screened {
    /// Whether nothing is left to append while something was refused: the ledger is not asked.
    pub(crate) fn nothing_left(&self) -> bool {
        self.events.is_empty() && !self.refused.0.is_empty()
    }
}

/// The places in a batch of the events taken out before the ledger, and why.
pub(crate) struct Refused(Vec<(usize, FieldError)>);

impl Refused {
    /// The answer to the whole batch: the ledger's results for the events appended (`written`;
    /// with nothing appended, none, under `checkpoint`), the refusals put back in their places.
    pub(crate) fn answer(
        self,
        written: Option<Written>,
        checkpoint: impl FnOnce() -> StoredCheckpoint,
    ) -> Written {
        let (mut appended, checkpoint) = match written {
            Some(w) => (w.results.into_iter(), w.checkpoint),
            None => (Vec::new().into_iter(), checkpoint()),
        };
        let total = appended.len() + self.0.len();
        let mut refused = self.0.into_iter().peekable();
        let results = (0..total)
            .filter_map(|i| match refused.next_if(|(at, _)| *at == i) {
                Some((_, e)) => Some(Err(e)),
                None => appended.next(),
            })
            .collect();
        Written {
            results,
            checkpoint,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;
    use stepwise::model::params::DAY_MICROS;

    fn engine(dir: &std::path::Path) -> Engine {
        crate::test_engine(dir, false)
    }

    fn event(json: String) -> Event {
        Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn approval(approver: &str, promise: &str) -> Event {
        event(format!(
            r#"{{"kind":"approval","at":"{}","approver":"{approver}","subject":"agent:bot","promise":"{promise}","capability":"act:low","stake":50}}"#,
            crate::now()
        ))
    }

    fn recorder(principal: &str) -> Recorder {
        Recorder {
            credential: "--principal".into(),
            principal: Some(Id::parse("p", principal).expect("id")),
        }
    }

    /// Ann keeps five promises to five clients, three days ago (history: older than the log's
    /// window): a contributor (level 1), who may make `act:low` calls of 50 herself.
    fn ann_contributes(engine: &Engine) {
        let days_ago = |d: i64| {
            stepwise::evidence::Time::from_micros(crate::now().as_micros() - d * DAY_MICROS / 100)
                .expect("time")
        };
        let mut events = Vec::new();
        for i in 0..5 {
            events.push(event(format!(
                r#"{{"kind":"promise","at":"{}","id":"ann-{i}","promisor":"user:ann","promisee":"client:{i}","scope":"work","stake":10,"due":"{}"}}"#,
                days_ago(300 - i),
                days_ago(200)
            )));
            events.push(event(format!(
                r#"{{"kind":"outcome","at":"{}","promise":"ann-{i}","result":"kept"}}"#,
                days_ago(290 - i)
            )));
        }
        let written = engine
            .append_here(events, Origin::History)
            .expect("history");
        assert!(
            written.results.iter().all(Result::is_ok),
            "{:?}",
            written.results
        );
    }

    #[test]
    fn an_approval_is_recorded_only_when_its_approver_may_give_it_whatever_the_door() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = engine(dir.path());
        ann_contributes(&engine);
        let (ann, bob, bot) = (
            Id::parse("p", "user:ann").expect("id"),
            Id::parse("p", "user:bob").expect("id"),
            Id::parse("p", "agent:bot").expect("id"),
        );
        assert_eq!(engine.may_approve(&ann, &bot, "act:low", 50.0), Ok(()));
        let refusal = engine
            .may_approve(&bob, &bot, "act:low", 50.0)
            .expect_err("newcomer");
        assert_eq!(refusal.code(), "approver_not_allowed");
        // One event through a door: refused with the code of the table, naming the approver.
        let size = engine.live().checkpoint().size;
        let e = engine
            .record_here(&recorder("user:bob"), approval("user:bob", "g-1"))
            .expect_err("bob may not");
        assert_eq!((e.code, e.code.status()), (Code::ApprovalRefused, 422));
        assert_eq!(e.body.field.as_deref(), Some("approver"));
        assert!(
            e.body.message.contains("user:bob") && e.body.message.contains("approver_not_allowed"),
            "{}",
            e.body.message
        );
        assert_eq!(engine.live().checkpoint().size, size, "nothing recorded");
        // A batch: the refused approval keeps its place among the events recorded.
        let batch = vec![
            approval("user:ann", "g-2"),
            approval("user:bob", "g-3"),
            approval("user:ann", "g-4"),
        ];
        let written = engine.append_here(batch, Origin::Live).expect("appended");
        let codes: Vec<_> = written
            .results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.code))
            .collect();
        assert_eq!(
            codes,
            [Ok(&size), Err(Refusal::ApprovalRefused), Ok(&(size + 1))]
        );
        assert_eq!(written.checkpoint.size, size + 2);
        assert_eq!(engine.approval_record(&ann).approvals, 2);
        // A batch of nothing but refusals asks the ledger nothing.
        let written = engine
            .append_here(vec![approval("user:bob", "g-5")], Origin::Live)
            .expect("answered");
        assert_eq!(written.results.len(), 1);
        assert_eq!(written.checkpoint.size, size + 2);
    }
}
