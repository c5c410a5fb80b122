//! The one writer: a thread that owns the ledger and group-commits whatever appends are
//! waiting, answering each request once its events are durable and folded. Each request's
//! events are sealed (format 3) on the requesting thread before they are queued, so that
//! requests arriving together are sealed side by side and the one writing thread does not.

use crate::Error;
use crate::Live;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use stepwise::evidence::{Event, FieldError};
use stepwise::ledger::Origin;
use stepwise_store::names::{Names, Sealed};
use stepwise_store::{Ledger, LedgerError, MAX_BATCH};
use stepwise_store::{Store, StoreError, StoredCheckpoint};
use tokio::sync::{mpsc, oneshot};

/// What the writer answers for one request's events.
pub struct Written {
    /// For each event, its index or why the ledger refused it.
    pub results: Vec<Result<u64, FieldError>>,
    /// The checkpoint signed for the commit.
    pub checkpoint: StoredCheckpoint,
}

struct Job {
    events: Vec<Event>,
    /// `events` sealed by the ledger's names, when the ledger writes format 3.
    sealed: Option<Sealed>,
    origin: Origin,
    reply: oneshot::Sender<Result<Written, Error>>,
}

/// What the writer's queue carries: appends, and at the end the word to stop.
enum Message {
    Append(Job),
    /// Answer every job taken before this, then stop.
    Stop,
}

/// The handle requests use to append.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Message>,
    /// The ledger's names, which seal each request's events before it is queued.
    names: Option<Arc<Names>>,
}

impl Writer {
    /// Starts the writer thread over `ledger`. It ends when every handle is dropped or
    /// [`Writer::close`] is called, after answering every job it took.
    ///
    /// When requests are waiting, a second thread folds each committed group into the live
    /// state (reading a store handle from `open_store` where it must; a new one after a
    /// database error) and answers its requests while the writer
    /// prepares and writes the next; with none waiting the writer folds and answers itself
    /// (one thread hand-off less for a lone client). Either way a request is answered only
    /// once its events are durable and folded, and groups are folded in the order committed.
    pub fn spawn<S: Store + 'static>(
        ledger: Ledger<S>,
        reopen: impl Fn() -> Result<Ledger<S>, LedgerError> + Send + 'static,
        open_store: impl Fn() -> Result<Box<dyn Store>, StoreError> + Send + 'static,
        live: Arc<Live>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, rx) = mpsc::channel(1024);
        let names = ledger.names().cloned();
        let store = open_store().map_err(std::io::Error::other)?;
        // One group may wait to be folded while the next is written; a third waits for that.
        let (to_fold, folds) = std::sync::mpsc::sync_channel::<Committed>(1);
        let folder = Folder {
            to_fold,
            in_flight: Arc::new(AtomicUsize::new(0)),
            live,
        };
        let (in_flight, live) = (Arc::clone(&folder.in_flight), Arc::clone(&folder.live));
        let folder_thread = std::thread::Builder::new()
            .name("stepwise-folder".into())
            .spawn(move || fold_loop(&folds, store, &open_store, &live, &in_flight))?;
        let handle = std::thread::Builder::new()
            .name("stepwise-writer".into())
            .spawn(move || {
                write_loop(ledger, reopen, rx, &folder, &metrics);
                // Every group committed is folded and answered before the writer ends.
                drop(folder);
                if let Err(panic) = folder_thread.join() {
                    std::panic::resume_unwind(panic);
                }
            })?;
        Ok((Self { jobs, names }, handle))
    }

    /// Appends `events`, dated as `origin` says; answers once they are durable
    /// (group-committed with whatever other requests of the same origin are waiting) and folded
    /// into the live state.
    pub async fn append(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let (reply, answer) = oneshot::channel();
        let sealed = self.seal(&events)?;
        self.jobs
            .send(Message::Append(Job {
                events,
                sealed,
                origin,
                reply,
            }))
            .await
            .map_err(|_| shutting_down())?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`Writer::append`] for a caller outside the async runtime: blocks until answered.
    pub fn append_blocking(&self, events: Vec<Event>, origin: Origin) -> Result<Written, Error> {
        let (reply, answer) = oneshot::channel();
        let sealed = self.seal(&events)?;
        self.jobs
            .blocking_send(Message::Append(Job {
                events,
                sealed,
                origin,
                reply,
            }))
            .map_err(|_| shutting_down())?;
        answer.blocking_recv().map_err(|_| stopped())?
    }

    /// `events` sealed for a ledger writing format 3; `None` for one writing format 2.
    fn seal(&self, events: &[Event]) -> Result<Option<Sealed>, Error> {
        let Some(names) = &self.names else {
            return Ok(None);
        };
        let sealed = names.seal(events).map_err(|e| append_failed(e.into()))?;
        Ok(Some(sealed))
    }

    /// Asks the writer to stop once it has answered every append sent before; appends sent
    /// after are refused as the engine shutting down. Waits (without the async runtime's
    /// blocking calls, which may not run inside it) while the queue is full.
    pub fn close(&self) {
        loop {
            match self.jobs.try_send(Message::Stop) {
                Err(mpsc::error::TrySendError::Full(_)) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                // Sent, or the writer is already gone and has nothing left to answer.
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    }
}

fn shutting_down() -> Error {
    Error::unavailable("the server is shutting down")
}

fn stopped() -> Error {
    Error::internal("the writer stopped before answering")
}

/// What a failed append is answered with. Only a lost connection can leave a commit's fate
/// unknown; say so. A damaged store is no reason to retry (500); anything else is (503).
pub(crate) fn append_failed(e: LedgerError) -> Error {
    match &e {
        LedgerError::Store(StoreError::Corrupt(what)) => {
            Error::from(StoreError::Corrupt(what.clone()))
        }
        LedgerError::Store(StoreError::Database(_)) => Error::unavailable(format!(
            "the store failed during the commit ({e}); the events may not have been \
             recorded: retry (a promise id refused as already used means it was)"
        )),
        _ => Error::unavailable(format!("nothing was recorded: {e}")),
    }
}

/// The writer's side of the queue.
struct Queue {
    rx: mpsc::Receiver<Message>,
    /// A job taken that did not fit the last group (too many events, or the other origin).
    carry: Option<Job>,
    /// Told to stop: take nothing more.
    stopping: bool,
}

impl Queue {
    /// The next group, waiting for its first job: every job waiting at this moment (up to the
    /// ledger's batch limit, and of one origin: history is never mixed with live evidence), so
    /// concurrent callers share one transaction and one fsync. `None` once told to stop.
    fn next(&mut self) -> Option<(Vec<Job>, Origin)> {
        let first = match self.carry.take() {
            Some(job) => job,
            None if self.stopping => return None,
            None => match self.rx.blocking_recv() {
                Some(Message::Append(job)) => job,
                Some(Message::Stop) | None => {
                    self.stopping = true;
                    return None;
                }
            },
        };
        let origin = first.origin;
        let mut total = first.events.len();
        let mut jobs = vec![first];
        while !self.stopping {
            let Ok(message) = self.rx.try_recv() else {
                break;
            };
            let Message::Append(job) = message else {
                self.stopping = true;
                break;
            };
            if total + job.events.len() > MAX_BATCH || job.origin != origin {
                self.carry = Some(job);
                break;
            }
            total += job.events.len();
            jobs.push(job);
        }
        Some((jobs, origin))
    }

    /// Stopping: refuses every append sent after the word to stop, and any sent from now on.
    /// Whether a request is waiting to be taken.
    fn waiting(&self) -> bool {
        self.carry.is_some() || !self.rx.is_empty()
    }

    fn refuse_the_rest(&mut self) {
        self.rx.close();
        while let Ok(message) = self.rx.try_recv() {
            if let Message::Append(job) = message {
                let _ = job.reply.send(Err(shutting_down()));
            }
        }
    }
}

/// A committed group on its way to be folded: what the ledger appended, and each request's
/// share of it with the channel its answer goes back on.
struct Committed {
    appended: stepwise_store::Appended,
    lengths: Vec<usize>,
    replies: Vec<oneshot::Sender<Result<Written, Error>>>,
}

impl Committed {
    /// Folds the group into the live state and answers its requests; a failed fold is logged
    /// and given back (the follower catches the state up from the store).
    fn fold_and_answer(self, store: &dyn Store, live: &Live) -> Result<(), StoreError> {
        let folded = live.fold_committed(&self.appended, store).map(drop);
        if let Err(e) = &folded {
            tracing::error!("folding the new entries failed: {e}");
        }
        let mut results = self.appended.results.into_iter();
        for (len, reply) in self.lengths.into_iter().zip(self.replies) {
            let _ = reply.send(Ok(Written {
                results: results.by_ref().take(len).collect(),
                checkpoint: self.appended.checkpoint.clone(),
            }));
        }
        folded
    }
}

/// The writer's way to the folding thread.
struct Folder {
    to_fold: std::sync::mpsc::SyncSender<Committed>,
    /// Groups sent to the folding thread and not yet answered.
    in_flight: Arc<AtomicUsize>,
    live: Arc<Live>,
}

impl Folder {
    /// Folds and answers `group` here when nothing else is waiting, on the folding thread
    /// otherwise (after the groups sent before it).
    fn fold(&self, group: Committed, store: &dyn Store, others_waiting: bool) {
        if !others_waiting && self.in_flight.load(Ordering::Acquire) == 0 {
            // The writer's store is opened again by the writer after a database error.
            let _ = group.fold_and_answer(store, &self.live);
            return;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        // The folding thread ends only after the writer: it takes every group sent.
        let _ = self.to_fold.send(group);
    }
}

/// Folds each group sent, in the order committed, and answers its requests.
fn fold_loop(
    folds: &std::sync::mpsc::Receiver<Committed>,
    mut store: Box<dyn Store>,
    open_store: &dyn Fn() -> Result<Box<dyn Store>, StoreError>,
    live: &Live,
    in_flight: &AtomicUsize,
) {
    for group in folds {
        let folded = group.fold_and_answer(&*store, live);
        in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Err(StoreError::Database(_)) = folded {
            match open_store() {
                Ok(fresh) => store = fresh,
                Err(e) => tracing::error!(
                    "reopening the folding thread's store failed (tried again at the next \
                     failure): {e}"
                ),
            }
        }
    }
}

/// Commits one group after another ([`Queue::next`]), each job answered once its group is
/// durable and folded into the live state ([`Folder::fold`]); once told to stop, refuses what
/// comes after.
fn write_loop<S: Store>(
    mut ledger: Ledger<S>,
    reopen: impl Fn() -> Result<Ledger<S>, LedgerError>,
    rx: mpsc::Receiver<Message>,
    folder: &Folder,
    metrics: &Metrics,
) {
    let mut queue = Queue {
        rx,
        carry: None,
        stopping: false,
    };
    while let Some((jobs, origin)) = queue.next() {
        let total = jobs.iter().map(|job| job.events.len()).sum();
        let mut lengths = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut events = Vec::with_capacity(total);
        let mut sealed = Group::new();
        for job in jobs {
            lengths.push(job.events.len());
            replies.push(job.reply);
            sealed.add(job.sealed);
            events.extend(job.events);
        }
        let started = std::time::Instant::now();
        let outcome = ledger.append_sealed(events, sealed.into_batch(), origin);
        metrics.commit(replies.len(), total, started.elapsed());
        match outcome {
            Ok(appended) => {
                if let Some(behind) = appended.clock_behind {
                    metrics.clock_behind();
                    tracing::warn!(
                        "the clock reads {:.3} s earlier than the log's latest recorded time; \
                         stamped the commit with that time (the log's time never goes back)",
                        behind as f64 / 1e6
                    );
                }
                let group = Committed {
                    appended,
                    lengths,
                    replies,
                };
                folder.fold(group, ledger.store(), queue.waiting());
            }
            Err(e) => {
                tracing::error!("append failed: {e}");
                let lost = matches!(e, LedgerError::Store(StoreError::Database(_)));
                let answer = append_failed(e);
                for reply in replies {
                    let _ = reply.send(Err(answer.clone()));
                }
                if lost {
                    match reopen() {
                        Ok(fresh) => ledger = fresh,
                        Err(e) => tracing::error!("reopening the store failed (will retry): {e}"),
                    }
                }
            }
        }
    }
    queue.refuse_the_rest();
}

/// The sealed events of a group's requests, one batch ([`Sealed::extend`]). Each request was
/// sealed alone, so two may have given the same new principal two secrets: the group is then
/// sealed again whole, by the ledger, as one batch (the store would refuse the second secret
/// as taken, and the batch be sealed again after a failed transaction).
struct Group {
    batch: Option<Sealed>,
    /// Whether the batch is every request's events sealed, with no principal created twice.
    whole: bool,
}

impl Group {
    fn new() -> Self {
        Self {
            batch: None,
            whole: true,
        }
    }

    fn add(&mut self, sealed: Option<Sealed>) {
        match (sealed, &mut self.batch) {
            (None, _) => self.whole = false,
            (Some(sealed), None) => self.batch = Some(sealed),
            (Some(sealed), Some(batch)) => self.whole &= batch.extend(sealed),
        }
    }

    fn into_batch(self) -> Option<Sealed> {
        self.batch.filter(|_| self.whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Engine};
    use stepwise::evidence::Time;

    fn engine(dir: &std::path::Path) -> Engine {
        crate::test_engine(dir, true)
    }

    /// A rating between two of a dozen principals, dated `at` (the writer's thread `t`, its
    /// `n`th event).
    fn rating(t: usize, n: usize, at: Time) -> Event {
        let json = format!(
            r#"{{"kind":"rating","at":"{at}","rater":"user:{}","subject":"user:{}","value":0.5}}"#,
            (t + n) % 12,
            (t + n + 1 + n % 5) % 12,
        );
        Event::from_json(&json).expect("rating")
    }

    /// Six threads append batches of one to 40 events, live and history, some pausing between
    /// appends: every request is answered with one result per event, each an index of its own,
    /// folded before it is answered; the indexes together are the whole log, and it verifies.
    #[test]
    fn concurrent_appends_through_the_writer_are_each_answered_once_folded() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = engine(dir.path());
        let start = engine.live().checkpoint().size;
        let indexes = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let engine = &engine;
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        for n in 0..25 {
                            let len = 1 + (t * 7 + n * 13) % 40;
                            let (origin, at) = if (t + n) % 4 == 0 {
                                let day_ago = crate::now().as_micros() - 86_400_000_000;
                                (Origin::History, Time::from_micros(day_ago).expect("time"))
                            } else {
                                (Origin::Live, crate::now())
                            };
                            let events = (0..len).map(|k| rating(t, n + k, at)).collect();
                            let written = engine.append_here(events, origin).expect("append");
                            assert_eq!(written.results.len(), len, "one result an event");
                            let folded = engine.live().read(|s| s.trust().log_size());
                            for result in written.results {
                                let index = result.expect("recorded");
                                assert!(index < folded, "{index} answered before folded");
                                mine.push(index);
                            }
                            if t % 2 == 0 {
                                std::thread::sleep(std::time::Duration::from_millis(3));
                            }
                        }
                        mine
                    })
                })
                .collect();
            let mut all: Vec<u64> = threads
                .into_iter()
                .flat_map(|t| t.join().expect("appender"))
                .collect();
            all.sort_unstable();
            all
        });
        let end = engine.live().checkpoint().size;
        assert_eq!(indexes, (start..end).collect::<Vec<_>>(), "each index once");
        let store = engine.pool().open().expect("store");
        let report = stepwise_store::verify(
            &*store,
            &stepwise::ledger::note::LogVerifier::parse(engine.verifier_key()).expect("key"),
            &engine.fold_policy().ledger,
            &mut |_| {},
        )
        .expect("verify");
        assert!(report.is_ok(), "{:?}", report.problems);
        // The dozen principals were each created once, however many requests named them first
        // side by side: the log names a dozen pseudonyms.
        let mut named = stepwise::HashSet::default();
        store
            .scan(start, end, &mut |entry| {
                let event = Event::from_entry(&entry.bytes).expect("an entry");
                if let stepwise::evidence::Body::Rating { rater, subject, .. } = event.body {
                    named.extend([rater, subject]);
                }
                Ok(())
            })
            .expect("scan");
        assert_eq!(named.len(), 12, "{named:?}");
    }

    /// A promise of `promisor`'s under id `id`, due in an hour.
    fn promise(id: &str, promisor: usize) -> Event {
        let at = crate::now();
        let due = Time::from_micros(at.as_micros() + 3_600_000_000).expect("due");
        let json = format!(
            r#"{{"kind":"promise","at":"{at}","id":"{id}","promisor":"user:{promisor}","promisee":"user:x","scope":"s","stake":1,"due":"{due}"}}"#
        );
        Event::from_json(&json).expect("promise")
    }

    /// Six requests sent side by side each end with a promise under one id, after 1,500 of
    /// their own, so that their seals overlap on their threads: the id is named once, one
    /// promise under it is recorded and the others are refused as a reuse of it.
    #[test]
    fn a_promise_id_sent_side_by_side_is_recorded_once() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = engine(dir.path());
        // The principals exist first: a batch that creates one is sealed again by the writer,
        // which would hide a seal that lost the race for the id.
        let known = (0..6).map(|t| promise(&format!("first-{t}"), t)).collect();
        engine.append_here(known, Origin::Live).expect("recorded");
        let barrier = std::sync::Barrier::new(6);
        let results: Vec<_> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let (engine, barrier) = (&engine, &barrier);
                    scope.spawn(move || {
                        let mut events: Vec<Event> = (0..1500)
                            .map(|k| promise(&format!("p-{t}-{k}"), t))
                            .collect();
                        events.push(promise("same", t));
                        barrier.wait();
                        let written = engine.append_here(events, Origin::Live).expect("answered");
                        written.results.into_iter().last().expect("a result")
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("appender"))
                .collect()
        });
        let recorded = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(recorded, 1, "{results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(refused.to_string().contains("already used"), "{refused}");
        }
    }

    /// Appends sent while the engine stops are each answered: recorded, or refused as the
    /// engine shutting down; none is left without an answer. Each thread appends until it is
    /// refused.
    #[test]
    fn stopping_answers_every_append_sent() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = engine(dir.path());
        let answers = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let engine = &engine;
                    scope.spawn(move || {
                        let mut answers = Vec::new();
                        for n in 0..100_000 {
                            let events = vec![rating(t, n, crate::now())];
                            let answer = engine.append_here(events, Origin::Live).map(|_| ());
                            let refused = answer.is_err();
                            answers.push(answer);
                            if refused {
                                break;
                            }
                        }
                        answers
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_millis(20));
            engine.stop();
            threads
                .into_iter()
                .map(|t| t.join().expect("appender"))
                .collect::<Vec<_>>()
        });
        for thread in &answers {
            let (last, before) = thread.split_last().expect("an answer");
            assert!(before.iter().all(Result::is_ok), "refused only at the end");
            let e = last
                .as_ref()
                .expect_err("each thread was refused in the end");
            assert_eq!(e.code, Code::Unavailable, "{e}");
        }
        assert!(answers.iter().any(|t| t.len() > 1), "some were recorded");
    }
}
