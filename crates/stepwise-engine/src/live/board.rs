//! What the dashboard reads beside the live trust state, kept as the log is folded so that no
//! request walks the whole state or replays the log:
//!
//! * the **journal**: for every principal, a standing mark after each event about it (its
//!   standing through time, for the chart; paged out of memory by `live::marks`), and the
//!   latest promotions and demotions of anyone;
//! * the **news**: each growth of the log and each promotion or demotion as it is folded, for
//!   the live stream (`GET /v1/stream`);
//! * the **table**: every principal's level, standing and rank, sorted four ways, recomputed
//!   by a background thread after the log grows (`GET /v1/principals`, `GET /v1/overview`).
//!
//! All are views of the log; none is stored, and each is rebuilt by folding the log again.

use super::marks::{Mark, Marks};
use super::{Live, Rest};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stepwise::evidence::{Id, Time};
use stepwise::ladder::{Applied, LadderState, Step};
use stepwise::model::OpenPromiseRow;
use stepwise_api::{PrincipalSort, PrincipalStep};

/// How many of the latest steps the journal keeps for the overview.
pub const RECENT_STEPS: usize = 32;

/// Standing marks and the latest steps, appended as events are folded.
#[derive(Debug, Default)]
pub struct Journal {
    marks: Marks,
    recent: VecDeque<(u32, Step)>,
}

impl Journal {
    /// Notes what folding the event at `at` changed (`applied`), `state` being the state just
    /// after it: a mark and the new steps of the principal it was about, and of an approver it
    /// charged; returns the new steps of each, in that order.
    pub fn note<'s>(
        &mut self,
        state: &'s LadderState,
        at: Time,
        applied: Applied,
    ) -> [(u32, &'s [Step]); 2] {
        let subject = applied
            .subject
            .map(|s| self.note_one(state, at, s, applied.new_steps));
        let approver =
            (applied.approver).map(|a| self.note_one(state, at, a, applied.approver_new_steps));
        [subject.unwrap_or((0, &[])), approver.unwrap_or((0, &[]))]
    }

    /// Notes a mark of principal `s` at `at` and its `new_steps` last steps.
    fn note_one<'s>(
        &mut self,
        state: &'s LadderState,
        at: Time,
        s: u32,
        new_steps: usize,
    ) -> (u32, &'s [Step]) {
        self.marks.push(s, at, state.trust().standing_mark(s));
        let timeline = state.timeline_of(s);
        let new = &timeline[timeline.len().saturating_sub(new_steps)..];
        for step in new {
            if self.recent.len() == RECENT_STEPS {
                self.recent.pop_front();
            }
            self.recent.push_back((s, *step));
        }
        (s, new)
    }

    /// The standing marks of principal `s`, in log order (read from where they are paged).
    pub fn marks(&self, s: u32) -> std::io::Result<Vec<Mark>> {
        self.marks.of(s)
    }

    /// The latest steps of anyone, newest first.
    pub fn recent_steps(&self) -> impl Iterator<Item = &(u32, Step)> {
        self.recent.iter().rev()
    }
}

/// What the live stream announces.
#[derive(Debug, Clone)]
pub enum News {
    /// The log grew to `log_size` entries under this root (hex).
    Log {
        /// Entries.
        log_size: u64,
        /// Root hash, hex.
        root: String,
    },
    /// A principal was promoted or demoted.
    Step(Arc<PrincipalStep>),
}

/// How many announcements wait for a slow listener before it misses some (it is told).
pub const NEWS_BACKLOG: usize = 1024;

/// One principal's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The principal.
    pub id: Id,
    /// Its level.
    pub level: usize,
    /// Expected trust of its standing.
    pub expected: f64,
    /// Uncertainty of its standing.
    pub uncertainty: f64,
    /// Network rank score.
    pub rank: f64,
}

/// Every principal's row, with the four orders the API lists them in.
#[derive(Debug)]
pub struct Table {
    /// Log size of the state when the computation began: each row reflects at least this much
    /// of the log (the state may move on between chunks; the tabler then computes again).
    pub log_size: u64,
    /// The instant levels and standing were computed at.
    pub at: Time,
    /// Rows by principal number.
    pub rows: Vec<Row>,
    orders: [Vec<u32>; 4],
    /// Principals per level.
    pub levels: Vec<usize>,
    /// Promises past due and with no outcome at `at`: how many, and the oldest ten.
    pub overdue: (usize, Vec<OpenPromiseRow>),
}

impl Default for Table {
    /// The table of an empty log.
    fn default() -> Self {
        Self {
            log_size: 0,
            at: Time::MIN,
            rows: Vec::new(),
            orders: Default::default(),
            levels: Vec::new(),
            overdue: (0, Vec::new()),
        }
    }
}

/// How soon after the log grows the table is recomputed (when computing it is quick).
pub const TABLE_INTERVAL: Duration = Duration::from_millis(250);

/// Rows computed under one read lock: short enough that folds waiting for the lock, and the
/// decisions queued behind them, wait milliseconds.
const CHUNK: usize = 4096;

/// A table without its rank column ([`Table::unranked`]).
pub(super) struct Unranked {
    log_size: u64,
    at: Time,
    rows: Vec<Row>,
    levels: usize,
    overdue: (usize, Vec<OpenPromiseRow>),
}

impl Unranked {
    /// The table, each row ranked by the rank `live` has published (one rank for every row).
    pub(super) fn ranked(mut self, live: &Live) -> Table {
        live.read(|s| {
            let ranking = s.trust().ranking();
            for (i, row) in self.rows.iter_mut().enumerate() {
                row.rank = ranking.scores.get(i).copied().unwrap_or(0.0);
            }
        });
        Table::new(self.log_size, self.at, self.rows, self.levels, self.overdue)
    }
}

impl Table {
    /// The table of the live state at instant `now` (read a chunk at a time).
    pub fn compute(live: &Live, now: Time) -> Self {
        Self::unranked(live, now).ranked(live)
    }

    /// Every row of the table at instant `now` but the network rank, which
    /// [`Unranked::ranked`] fills in from the rank published then: what needs no rank can be
    /// computed while the rank is.
    pub(super) fn unranked(live: &Live, now: Time) -> Unranked {
        let (log_size, count, at, levels) = live.read(|s| {
            (
                s.trust().log_size(),
                s.trust().principals(),
                s.trust().instant_for(now),
                s.ladder().levels().len(),
            )
        });
        let mut rows = Vec::with_capacity(count);
        let mut steps = Vec::new();
        while rows.len() < count {
            let from = rows.len();
            live.read(|s| {
                let trust = s.trust();
                for i in from..count.min(from + CHUNK) {
                    let n = i as u32;
                    let Some(id) = trust.principal(n) else { break };
                    steps.clear();
                    let level = s.position_at(Some(n), at, &mut steps).level;
                    let standing = trust.standing(n, at);
                    rows.push(Row {
                        // Listed, sorted and searched by the ids doors show (a forgotten
                        // principal by its pseudonym).
                        id: live
                            .names()
                            .id_of(id.as_str())
                            .unwrap_or_else(|| id.clone()),
                        level,
                        expected: standing.expected(),
                        uncertainty: standing.uncertainty,
                        rank: 0.0,
                    });
                }
            });
        }
        let overdue = live.read(|s| s.trust().past_due(at, 10));
        Unranked {
            log_size,
            at,
            rows,
            levels,
            overdue,
        }
    }

    /// The table of `rows` (by principal number) on a ladder of `levels` levels.
    fn new(
        log_size: u64,
        at: Time,
        rows: Vec<Row>,
        levels: usize,
        overdue: (usize, Vec<OpenPromiseRow>),
    ) -> Self {
        let mut per_level = vec![0; levels];
        for row in &rows {
            if let Some(n) = per_level.get_mut(row.level) {
                *n += 1;
            }
        }
        let mut table = Self {
            log_size,
            at,
            rows,
            orders: Default::default(),
            levels: per_level,
            overdue,
        };
        for sort in [
            PrincipalSort::Id,
            PrincipalSort::Level,
            PrincipalSort::Trust,
            PrincipalSort::Rank,
        ] {
            let mut order: Vec<u32> = (0..table.rows.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| {
                key(sort, &table.rows[a as usize]).cmp(&key(sort, &table.rows[b as usize]))
            });
            table.orders[slot(sort)] = order;
        }
        table
    }

    /// A page of the rows whose id starts with `prefix`, in `sort`'s order, after the row
    /// `after` names; with whether more follow and how many rows match.
    pub fn page(
        &self,
        sort: PrincipalSort,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> (Vec<&Row>, bool, usize) {
        let order = &self.orders[slot(sort)];
        let matches = |r: &Row| r.id.as_str().starts_with(prefix);
        // By id, the matches are one run of the order: found by bisection.
        let (run, matched) = if sort == PrincipalSort::Id {
            let lo = order.partition_point(|&i| self.rows[i as usize].id.as_str() < prefix);
            let hi = lo + order[lo..].partition_point(|&i| matches(&self.rows[i as usize]));
            (&order[lo..hi], hi - lo)
        } else if prefix.is_empty() {
            (&order[..], order.len())
        } else {
            let matched = self.rows.iter().filter(|r| matches(r)).count();
            (&order[..], matched)
        };
        let start = after.map_or(0, |c| {
            run.partition_point(|&i| key(sort, &self.rows[i as usize]) <= c.key())
        });
        let mut page = Vec::with_capacity(limit.min(matched));
        let mut more = false;
        for &i in &run[start..] {
            let row = &self.rows[i as usize];
            if !matches(row) {
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(row);
        }
        (page, more, matched)
    }
}

fn slot(sort: PrincipalSort) -> usize {
    match sort {
        PrincipalSort::Id => 0,
        PrincipalSort::Level => 1,
        PrincipalSort::Trust => 2,
        PrincipalSort::Rank => 3,
    }
}

/// Where a row sorts: highest level and figures first (negated), ties by id.
#[derive(Debug)]
struct SortKey<'r>(i64, f64, &'r str);

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .cmp(&other.0)
            .then(self.1.total_cmp(&other.1))
            .then(self.2.cmp(other.2))
    }
}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SortKey<'_> {}

fn key(sort: PrincipalSort, row: &Row) -> SortKey<'_> {
    let id = row.id.as_str();
    let level = -i64::try_from(row.level).unwrap_or(i64::MAX);
    match sort {
        PrincipalSort::Id => SortKey(0, 0.0, id),
        PrincipalSort::Level => SortKey(level, -row.expected, id),
        PrincipalSort::Trust => SortKey(0, -row.expected, id),
        PrincipalSort::Rank => SortKey(0, -row.rank, id),
    }
}

/// Where a page ended: the last row's sort key, so the next page starts after it in whatever
/// table is current then (a row that moved meanwhile may be seen twice or not at all, never
/// the rest of the table shifted by one).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    level: i64,
    figure: f64,
    id: String,
}

impl Cursor {
    /// The cursor after `row` in `sort`'s order.
    pub fn after(sort: PrincipalSort, row: &Row) -> Self {
        let SortKey(level, figure, id) = key(sort, row);
        Self {
            level,
            figure,
            id: id.to_owned(),
        }
    }

    fn key(&self) -> SortKey<'_> {
        SortKey(self.level, self.figure, &self.id)
    }

    /// Its text form: `<negated level>:<negated figure's bits in hex, exact>:<id>`.
    pub fn encode(&self) -> String {
        format!("{}:{:x}:{}", self.level, self.figure.to_bits(), self.id)
    }

    /// Reads the text form.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let level = parts.next()?.parse().ok()?;
        let figure = f64::from_bits(u64::from_str_radix(parts.next()?, 16).ok()?);
        let id = parts.next()?.to_owned();
        Some(Self { level, figure, id })
    }
}

/// Recomputes the table after the log grows: at most every `interval`, and never before its
/// `Rest` is over (so that at any scale it takes at most a fifth of a core). Stops when
/// `stop` is set.
pub fn spawn_tabler(
    live: Arc<Live>,
    interval: Duration,
    metrics: Arc<crate::Metrics>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stepwise-tabler".into())
        .spawn(move || {
            let mut rest = Rest::new(interval);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10).min(interval));
                let behind = live.read(|s| s.trust().log_size()) != live.table().log_size;
                if !behind || !rest.over() {
                    continue;
                }
                let started = Instant::now();
                let table = Table::compute(&live, crate::now());
                live.publish_table(table);
                metrics.table_refresh(started.elapsed());
                rest.took(started);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with many ties (a few levels and figures), ids that share prefixes.
    fn table() -> Table {
        let rows = (0..300_u32)
            .map(|i| Row {
                id: Id::parse("id", &format!("p:{}", (i * 7919) % 300)).expect("id"),
                level: (i % 3) as usize,
                expected: f64::from(i % 5) / 4.0,
                uncertainty: 0.5,
                rank: if i % 4 == 0 { 0.0 } else { f64::from(i % 11) },
            })
            .collect();
        Table::new(1, Time::MIN, rows, 3, (0, Vec::new()))
    }

    /// Every order, every prefix and page size: paging with the cursor gives exactly the
    /// whole filtered order, each row once, and `matched` counts it.
    #[test]
    fn pages_walk_each_order_once_whatever_the_page_size_and_prefix() {
        let table = table();
        for sort in [
            PrincipalSort::Id,
            PrincipalSort::Level,
            PrincipalSort::Trust,
            PrincipalSort::Rank,
        ] {
            for prefix in ["", "p:", "p:1", "p:29", "p:299", "q"] {
                let mut whole: Vec<&Row> = table
                    .rows
                    .iter()
                    .filter(|r| r.id.as_str().starts_with(prefix))
                    .collect();
                whole.sort_by(|a, b| key(sort, a).cmp(&key(sort, b)));
                for limit in [1, 7, 50, 500] {
                    let mut walked = Vec::new();
                    let mut cursor = None;
                    loop {
                        let (page, more, matched) =
                            table.page(sort, prefix, cursor.as_ref(), limit);
                        assert_eq!(matched, whole.len(), "{sort:?} {prefix:?}");
                        assert!(page.len() <= limit);
                        walked.extend(page.iter().map(|r| r.id.clone()));
                        if !more {
                            break;
                        }
                        let last = page.last().expect("a full page before more");
                        let text = Cursor::after(sort, last).encode();
                        cursor = Some(Cursor::decode(&text).expect("a cursor reads back"));
                    }
                    let expected: Vec<Id> = whole.iter().map(|r| r.id.clone()).collect();
                    assert_eq!(walked, expected, "{sort:?} prefix {prefix:?} limit {limit}");
                }
            }
        }
        assert_eq!(table.levels, [100, 100, 100]);
    }

    #[test]
    fn a_cursor_is_read_back_exactly_or_not_at_all() {
        let row = Row {
            id: Id::parse("id", "user:a:b").expect("id"),
            level: 2,
            expected: 0.1 + 0.2,
            uncertainty: 0.0,
            rank: 0.0,
        };
        let cursor = Cursor::after(PrincipalSort::Level, &row);
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "x:0:a", "1:zz:a", "1:0"] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }
}
