//! The reads that are not questions of the trust state at a prefix: a principal's standing
//! through time (from the journal kept beside the live state) and a page of the gate's decision
//! log (from the store). Each is checked once, here, whichever door asks.

use crate::{Engine, Error, now};
use stepwise::evidence::{Id, Time};
use stepwise::ladder::Step;
use stepwise_api::{DecisionsView, SeriesPoint, SeriesView, StepView};
use stepwise_store::{DecisionQuery, DecisionStore};

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

impl Engine {
    /// `series`: one pass over the principal's own standing marks and timeline, no replay.
    pub fn series(&self, series: &Series) -> SeriesView {
        let now = now();
        self.live.read_journal(|state, journal| {
            let trust = state.trust();
            let to = trust.instant_for(now);
            let s = trust.principal_index(&series.subject);
            let marks = s.map_or(&[][..], |s| journal.marks(s));
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
            SeriesView {
                principal: series.subject.to_string(),
                from: from.to_string(),
                to: to.to_string(),
                points: out,
                steps: steps.iter().map(StepView::from).collect(),
                log_size: trust.log_size(),
            }
        })
    }

    /// A page of the gate's decision log, read on a blocking thread.
    pub async fn decisions(&self, page: DecisionsPage) -> Result<DecisionsView, Error> {
        self.pool.with(move |store| page.read(&*store)).await
    }
}
