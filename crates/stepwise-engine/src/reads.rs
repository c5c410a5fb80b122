//! The reads that are not questions of the trust state at a prefix — what the dashboard reads
//! from the views kept beside the live state (the principals table, the overview, a
//! principal's standing through time, its vouches) and a page of the gate's decision log (from
//! the store). Each is checked once, here, whichever door asks; none walks the whole state,
//! replays the log, or computes the network rank.

use crate::board::Cursor;
use crate::{Engine, Error, now};
use stepwise::evidence::{Body, Event, Id, MAX_ID_LEN, Time};
use stepwise::ladder::Step;
use stepwise::model::VouchRow;
use stepwise_api::{
    CheckpointSummary, DecisionsView, EventSummary, LevelCount, OverdueView, OverviewView,
    PrincipalRow, PrincipalSort, PrincipalStep, PrincipalsView, PromiseRow, SeriesPoint,
    SeriesView, StepView, VouchView, VouchesView, hex,
};
use stepwise_store::{DecisionQuery, DecisionStore};

/// Most principals a page of the table lists.
pub const MAX_PRINCIPALS_PAGE: usize = 500;

/// A page of the principals table: ids starting with `prefix`, in `sort` order, after `cursor`.
#[derive(Debug, Clone)]
pub struct PrincipalsPage {
    /// Only ids that start with it.
    pub prefix: String,
    /// The order.
    pub sort: PrincipalSort,
    /// Continue after this row of the order.
    pub cursor: Option<Cursor>,
    /// At most this many (1 to [`MAX_PRINCIPALS_PAGE`]).
    pub limit: usize,
}

impl PrincipalsPage {
    /// The read, each field checked (`limit` defaults to 50).
    pub fn new(
        prefix: Option<String>,
        sort: Option<PrincipalSort>,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Self, Error> {
        let prefix = prefix.unwrap_or_default();
        if prefix.len() > MAX_ID_LEN {
            return Err(Error::field(
                "prefix",
                format!(
                    "is {} bytes long; an id is at most {MAX_ID_LEN}",
                    prefix.len()
                ),
            ));
        }
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_PRINCIPALS_PAGE).contains(&limit) {
            return Err(Error::field(
                "limit",
                format!("{limit} is not between 1 and {MAX_PRINCIPALS_PAGE}"),
            ));
        }
        let cursor = cursor
            .map(|c| {
                Cursor::decode(c).ok_or_else(|| {
                    Error::field("cursor", "is not a next_cursor this endpoint gave")
                })
            })
            .transpose()?;
        Ok(Self {
            prefix,
            sort: sort.unwrap_or_default(),
            cursor,
            limit,
        })
    }
}

/// A principal's standing and level at `points` instants evenly spaced from its first
/// evidence to now.
#[derive(Debug, Clone)]
pub struct Series {
    /// The principal.
    pub subject: Id,
    /// How many instants (2 to 1000).
    pub points: usize,
}

impl Series {
    /// The read, `points` checked (default 200).
    pub fn new(subject: Id, points: Option<usize>) -> Result<Self, Error> {
        let points = points.unwrap_or(200);
        if !(2..=1000).contains(&points) {
            return Err(Error::field(
                "points",
                format!("{points} is not between 2 and 1000"),
            ));
        }
        Ok(Self { subject, points })
    }
}

/// Most decision records a page lists.
pub const MAX_DECISIONS_PAGE: usize = 1_000;

/// A page of the gate's decision log, oldest first: one principal's when given, decided from
/// `since` on when given, after `cursor` (a `seq`).
#[derive(Debug, Clone)]
pub struct DecisionsPage {
    /// Only this principal's.
    pub principal: Option<Id>,
    /// Only those decided at or after this instant.
    pub since: Option<Time>,
    /// Only those after this `seq`.
    pub cursor: Option<u64>,
    /// At most this many (1 to [`MAX_DECISIONS_PAGE`]).
    pub limit: usize,
}

impl DecisionsPage {
    /// The read, `limit` checked (default 100).
    pub fn new(
        principal: Option<Id>,
        since: Option<Time>,
        cursor: Option<u64>,
        limit: Option<usize>,
    ) -> Result<Self, Error> {
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_DECISIONS_PAGE).contains(&limit) {
            return Err(Error::field(
                "limit",
                format!("{limit} is not between 1 and {MAX_DECISIONS_PAGE}"),
            ));
        }
        Ok(Self {
            principal,
            since,
            cursor,
            limit,
        })
    }

    /// The page, read from `store` (one more record than the page, to know whether more follow).
    pub fn read<S: DecisionStore + ?Sized>(&self, store: &S) -> Result<DecisionsView, Error> {
        let records = store.decisions(&DecisionQuery {
            principal: self.principal.as_ref().map(Id::as_str),
            since: self.since,
            after: self.cursor.unwrap_or(0),
            limit: self.limit + 1,
        })?;
        DecisionsView::from_records(records, self.limit).map_err(Error::internal)
    }
}

/// `n` instants evenly spaced from `from` to `to` (one when they are equal).
fn spaced(from: Time, to: Time, n: usize) -> Vec<Time> {
    let (a, b) = (from.as_micros(), to.as_micros());
    if b <= a {
        return vec![to];
    }
    let span = (b - a) as f64;
    (0..n)
        .filter_map(|i| {
            let t = a + (span * i as f64 / (n - 1) as f64).round() as i64;
            Time::from_micros(t.min(b))
        })
        .collect()
}

/// One entry in brief.
fn summary(index: u64, event: &Event) -> EventSummary {
    let subject = match &event.body {
        Body::Promise { promisee, .. } => Some(promisee),
        Body::Vouch { subject, .. }
        | Body::Unvouch { subject, .. }
        | Body::Report { subject, .. }
        | Body::Rating { subject, .. }
        | Body::Approval { subject, .. } => Some(subject),
        Body::Key { principal, .. } | Body::Erasure { principal, .. } => Some(principal),
        Body::Outcome { .. } | Body::Policy { .. } => None,
    };
    EventSummary {
        index,
        kind: event.kind().name().to_owned(),
        author: event
            .author
            .as_ref()
            .map_or_else(String::new, Id::to_string),
        subject: subject.map(Id::to_string),
        at: event.at.to_string(),
    }
}

impl Engine {
    /// The ladder's level names, by level.
    fn level_names(&self) -> Vec<String> {
        self.policy
            .ladder
            .levels()
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// A page of the principals table as last published. A page walks at most the whole order
    /// once (a prefix with sorting by a figure): on a blocking thread at scale, inline when the
    /// table is small.
    pub async fn principals(&self, page: PrincipalsPage) -> Result<PrincipalsView, Error> {
        let table = self.live.table();
        let small = table.rows.len() <= 16_384;
        let names = self.level_names();
        let answer = move || {
            let (rows, more, matched) =
                table.page(page.sort, &page.prefix, page.cursor.as_ref(), page.limit);
            PrincipalsView {
                next_cursor: more
                    .then(|| rows.last().map(|r| Cursor::after(page.sort, r).encode()))
                    .flatten(),
                principals: rows
                    .into_iter()
                    .map(|r| PrincipalRow {
                        principal: r.id.to_string(),
                        level: r.level,
                        level_name: names.get(r.level).cloned().unwrap_or_default(),
                        expected: r.expected,
                        uncertainty: r.uncertainty,
                        rank: r.rank,
                    })
                    .collect(),
                matched,
                total: table.rows.len(),
                log_size: table.log_size,
                at: table.at.to_string(),
            }
        };
        if small {
            Ok(answer())
        } else {
            tokio::task::spawn_blocking(answer)
                .await
                .map_err(|e| Error::internal(format!("a blocking task failed: {e}")))
        }
    }

    /// The log and the ladder at a glance: log size and latest checkpoint, principals per
    /// level, the latest entries, promotions and demotions, and the promises past due.
    pub async fn overview(&self) -> Result<OverviewView, Error> {
        let checkpoint = self.live.checkpoint();
        let size = checkpoint.size;
        let recent: Vec<(u64, Event)> = self
            .pool
            .with::<_, Error>(move |store| {
                let mut events = Vec::new();
                store.scan(size.saturating_sub(10), size, &mut |entry| {
                    events.push((entry.index, stepwise_store::decode_entry(&entry)?));
                    Ok(())
                })?;
                Ok(events)
            })
            .await?;
        let table = self.live.table();
        let names = self.level_names();
        let (principals, recent_steps) = self.live.read_journal(|state, journal| {
            let trust = state.trust();
            let steps = journal
                .recent_steps()
                .take(10)
                .filter_map(|(s, step)| {
                    Some(PrincipalStep::new(
                        state.ladder(),
                        trust.principal(*s)?,
                        step,
                    ))
                })
                .collect::<Vec<_>>();
            (trust.principals(), steps)
        });
        Ok(OverviewView {
            log_size: size,
            checkpoint: CheckpointSummary {
                size,
                root: hex(&checkpoint.root),
                note: checkpoint.note,
            },
            principals,
            levels: names
                .into_iter()
                .enumerate()
                .map(|(level, name)| LevelCount {
                    level,
                    name,
                    principals: table.levels.get(level).copied().unwrap_or(0),
                })
                .collect(),
            recent_events: recent.iter().rev().map(|(i, e)| summary(*i, e)).collect(),
            recent_steps,
            overdue: OverdueView {
                count: table.overdue.0,
                promises: table.overdue.1.iter().map(PromiseRow::from).collect(),
            },
            table_log_size: table.log_size,
            at: table.at.to_string(),
        })
    }

    /// The active vouches `subject` received and gave, and whether each voucher's word counts.
    pub fn vouches(&self, subject: &Id) -> VouchesView {
        let named = self.names.name(subject);
        self.live.read(|state| {
            let trust = state.trust();
            let view = |rows: Vec<VouchRow>| -> Vec<VouchView> {
                rows.into_iter()
                    .filter_map(|v| {
                        Some(VouchView {
                            voucher: trust.principal(v.voucher)?.to_string(),
                            subject: trust.principal(v.subject)?.to_string(),
                            scope: v.scope.and_then(|s| trust.scope_name(s)).map(Id::to_string),
                            index: v.index,
                            counted: v.counted,
                        })
                    })
                    .collect()
            };
            let (received, given) =
                trust
                    .principal_index(&named)
                    .map_or((Vec::new(), Vec::new()), |s| {
                        (
                            view(trust.vouches_received(s)),
                            view(trust.vouches_given(s)),
                        )
                    });
            VouchesView {
                principal: subject.to_string(),
                received,
                given,
                log_size: trust.log_size(),
            }
        })
    }

    /// `series`: one pass over the principal's own standing marks and timeline, no replay.
    pub fn series(&self, series: &Series) -> Result<SeriesView, Error> {
        let now = now();
        self.live.read_journal(|state, journal| {
            let trust = state.trust();
            let to = trust.instant_for(now);
            let s = trust.principal_index(&self.names.name(&series.subject));
            let marks = s
                .map_or(Ok(Vec::new()), |s| journal.marks(s))
                .map_err(|e| {
                    Error::internal(format!("reading the standing marks of the dashboard: {e}"))
                })?;
            // What time alone did since the last event, as the explanation shows it.
            let mut steps: Vec<Step> = s.map_or(&[][..], |s| state.timeline_of(s)).to_vec();
            let level_now = state.position_at(s, to, &mut steps).level;
            let from = marks.first().map_or(to, |m| m.at.min(to));
            let instants = spaced(from, to, series.points);
            let mut out = Vec::with_capacity(instants.len());
            let (mut m, mut k, mut level) = (0, 0, 0);
            for &at in &instants {
                let seen = m;
                while m < marks.len() && marks[m].at <= at {
                    m += 1;
                }
                while k < steps.len() && steps[k].at <= at {
                    level = steps[k].to;
                    k += 1;
                }
                let mark = m.checked_sub(1).map(|last| &marks[last].mark);
                let expected = trust.standing_from(mark, s, at);
                out.push(SeriesPoint {
                    at: at.to_string(),
                    expected: expected.expected(),
                    level,
                    events: (m - seen) as u32,
                });
            }
            if let Some(last) = out.last_mut() {
                last.level = level_now;
            }
            Ok(SeriesView {
                principal: series.subject.to_string(),
                from: from.to_string(),
                to: to.to_string(),
                points: out,
                steps: steps.iter().map(StepView::from).collect(),
                log_size: trust.log_size(),
            })
        })
    }

    /// A page of the gate's decision log, read on a blocking thread.
    pub async fn decisions(&self, page: DecisionsPage) -> Result<DecisionsView, Error> {
        self.pool.with(move |store| page.read(&*store)).await
    }
}
