//! A pipelined append: while the store writes one batch on a thread of its own, the next is
//! sealed, checked, hashed and signed against the log as that write will leave it. Each batch
//! is still one durable transaction with its own checkpoint, in order; the ledger learns a
//! batch (its registry, its tree, its names) only once its write has committed. A write that
//! fails hands its batch and the one prepared after it back to [`Ledger::append_as`], which
//! deals with other writers and with storage errors as for any append.

use super::prepare::{Prepared, Write};
use super::{Appended, Ledger, LedgerError, State, check_batch_len, recorded_events};
use crate::names::Sealed;
use crate::{LogStore, PrincipalRecord, PrivateStore, StoreError};
use std::sync::mpsc;
use stepwise::evidence::Event;
use stepwise::ledger::Origin;
use stepwise::ledger::registry::Staged;

/// A batch prepared, with what it was prepared from.
struct Ready {
    prepared: Prepared,
    /// The batch as given to a ledger that seals (empty for one in the clear).
    given: Vec<Event>,
    /// The events as recorded (sealed, stamped), for [`Appended::events`].
    events: Vec<Event>,
}

impl Ready {
    /// The batch to append again: as given to a ledger that seals, as recorded to one in the
    /// clear (which changed nothing in it that a retry does not overwrite).
    fn again(self) -> Vec<Event> {
        if self.given.is_empty() {
            self.events
        } else {
            self.given
        }
    }
}

/// A batch whose rows are with the store.
struct InFlight {
    ready: Ready,
    /// What it changes in the registry, merged once it is written.
    staged: Staged,
    /// The principals it names for the first time: the next batch names them alike.
    principals: Vec<PrincipalRecord>,
}

/// How a stretch of pipelined appends ended.
enum Ended {
    /// `next` had no more batches.
    Done,
    /// A write failed: these batches, as given, are to be appended one at a time.
    HandedBack(Vec<Vec<Event>>),
}

impl<S: LogStore + PrivateStore + Send> Ledger<S> {
    /// Appends the batches `next` hands out, in order, until it hands out `None`, and tells
    /// `done` each batch's [`Appended`] in the same order, once it is durable: as
    /// [`Ledger::append_as`] each batch would, but writing one batch while the next is
    /// prepared, on two threads. On `Err`, the batches `done` was told of are durable and
    /// nothing after them was recorded.
    pub fn append_stream(
        &mut self,
        origin: Origin,
        next: &mut dyn FnMut() -> Option<Vec<Event>>,
        done: &mut dyn FnMut(Appended),
    ) -> Result<(), LedgerError> {
        loop {
            match self.pipeline(origin, next, done)? {
                Ended::Done => return Ok(()),
                Ended::HandedBack(batches) => {
                    for batch in batches {
                        done(self.append_as(batch, origin)?);
                    }
                }
            }
        }
    }

    /// Appends batches from `next` with a writer thread until `next` ends or a write fails.
    fn pipeline(
        &mut self,
        origin: Origin,
        next: &mut dyn FnMut() -> Option<Vec<Event>>,
        done: &mut dyn FnMut(Appended),
    ) -> Result<Ended, LedgerError> {
        let Ledger { store, state } = self;
        std::thread::scope(|scope| {
            let (to_writer, writes) = mpsc::sync_channel::<Write>(1);
            let (to_preparer, written) = mpsc::sync_channel(1);
            scope.spawn(move || {
                for write in writes {
                    let result = store.append_with(&write.batch());
                    if to_preparer.send((write, result)).is_err() {
                        break;
                    }
                }
            });
            let mut in_flight: Option<InFlight> = None;
            loop {
                let given = next();
                // Staged over the batch in flight, whose changes count as made.
                let mut staged = (in_flight.as_mut()).map_or_else(Staged::default, |f| {
                    Staged::over(std::mem::take(&mut f.staged))
                });
                let prepared = given.map(|given| {
                    check_batch_len(given.len())?;
                    let (pending, tip) = match &in_flight {
                        Some(f) => (&f.principals[..], f.ready.prepared.tip()),
                        None => (&[][..], state.tip()),
                    };
                    let (mut sealed, given) = match &state.names {
                        Some(names) => (names.seal_after(&given, pending)?, given),
                        None => (Sealed::as_is(given), Vec::new()),
                    };
                    let principals = std::mem::take(&mut sealed.principals);
                    let prepared = state.prepare(
                        tip,
                        &mut staged,
                        &mut sealed.events,
                        &given,
                        principals,
                        origin,
                    )?;
                    Ok::<_, LedgerError>(Ready {
                        prepared,
                        given,
                        events: sealed.events,
                    })
                });
                // The batch in flight is written before the next is sent or anything returns.
                let durable = match in_flight.take() {
                    Some(flight) => {
                        let (write, result) = written.recv().map_err(|_| gone())?;
                        if result.is_err() {
                            // Appended again one at a time, each batch meets the same cause and
                            // deals with it (another writer's entries or principals) or returns
                            // it.
                            return hand_back(flight, prepared);
                        }
                        // What the next batch was staged over is this one's, merged below.
                        let below = staged.take_below().unwrap_or_default();
                        let mut ready = flight.ready;
                        ready.prepared.write = Some(write);
                        // Its new principals are named so before the next batch is sent (or
                        // it is told and nothing after it is sent).
                        let names = state.names.as_ref();
                        if let Err(e) = names.map_or(Ok(()), |n| n.adopt(&flight.principals)) {
                            done(appended(state, ready, below));
                            return Err(e.into());
                        }
                        Some((ready, below))
                    }
                    None => None,
                };
                // The next batch goes to the store at once, and is written while the one before
                // it is taken in.
                let (mut refused, mut failed, mut ended) = (None, None, false);
                match prepared {
                    None => ended = true,
                    Some(Err(e)) => failed = Some(e),
                    Some(Ok(mut ready)) => match ready.prepared.write.take() {
                        Some(write) => {
                            let principals = write.principals.clone();
                            to_writer.send(write).map_err(|_| gone())?;
                            in_flight = Some(InFlight {
                                ready,
                                staged,
                                principals,
                            });
                        }
                        // Nothing to write: every event was refused.
                        None => refused = Some((ready, staged)),
                    },
                }
                if let Some((ready, below)) = durable {
                    done(appended(state, ready, below));
                }
                if let Some((ready, staged)) = refused {
                    done(appended(state, ready, staged));
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                if ended {
                    return Ok(Ended::Done);
                }
            }
        })
    }
}

/// What the append of `ready` answers, once it is written (or holds nothing to write): the
/// ledger takes it in, with what it `staged`.
fn appended(state: &mut State, ready: Ready, staged: Staged) -> Appended {
    let mut appended = state.settle(ready.prepared, staged);
    appended.events = recorded_events(ready.events);
    appended
}

/// The write of `flight` failed: it and the batch prepared after it (if any) are to be
/// appended again one at a time.
fn hand_back(
    flight: InFlight,
    next: Option<Result<Ready, LedgerError>>,
) -> Result<Ended, LedgerError> {
    let mut batches = vec![flight.ready.again()];
    if let Some(next) = next {
        batches.push(next?.again());
    }
    Ok(Ended::HandedBack(batches))
}

fn gone() -> LedgerError {
    StoreError::Corrupt("the ledger's writer thread stopped".into()).into()
}
