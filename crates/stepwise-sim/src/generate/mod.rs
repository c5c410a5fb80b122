//! Large, realistic logs: a power-law trust graph of N principals, its ratings, promises and
//! their outcomes, vouches and reports, spread over time as Bitcoin OTC's were, written as the
//! JSON lines `stepwise import` reads, in a stream.
//!
//! It is for loading 10^6 to 10^8 events into a store to measure what scale costs (import,
//! disk, start-up, memory). It must never hold what it wrote: memory is a slot table for time
//! and a bounded queue of open promises ([`OPEN_PROMISES`]), whatever the number of events; and
//! it must never write an event the ledger refuses (no self-rating, an outcome only by the
//! promisee after its promise, values in range, promise ids unique, every instant before
//! `until`). The same [`Config`] gives the same bytes.
//!
//! ```
//! use stepwise_sim::generate::{Config, Generator};
//!
//! let config = Config { seed: 7, ..Config::new(1_000) };
//! let mut log = Vec::new();
//! let written = Generator::new(&config)?.write_to(&mut log)?;
//! assert_eq!(written, 1_000);
//! assert_eq!(log.iter().filter(|&&b| b == b'\n').count(), 1_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it draws, and from which figures
//!
//! Figures measured on the real data sets by [`shape`] (`crates/stepwise-sim/tests/generate.rs`
//! measures them again from `../shared/data` at test time and fails when a constant here strays
//! from them, or when a generated log leaves the band between the two data sets):
//!
//! | figure | Bitcoin OTC | Epinions | here |
//! |---|---|---|---|
//! | edges per principal | 6.05 | 6.39 | [`EDGES_PER_PRINCIPAL`] = 6.39 sets the default number of principals |
//! | share of negative ratings | 10.0% | 14.7% | [`NEGATIVE_ABOUT_GOOD`], [`NEGATIVE_ABOUT_BAD`], set to land near the middle, 12.4% |
//! | subjects rated mostly negatively | 9.4%, rated negatively 82% of the time (the others 5.1%) | — | [`BAD_SHARE`] |
//! | edges whose reverse is an edge | 79% | 31% | [`ANSWERED`] |
//! | principals seen after a share p of the ratings | ≈ p^0.9 | — | [`JOIN_EXPONENT`] |
//! | principals whose first edge is received | 88% | — | [`NEWCOMER_RATED_FIRST`] |
//! | rating values by sign | −10 is 68% of negatives, +1 63% of positives | ±1 only | [`NEGATIVE_VALUES`], [`POSITIVE_VALUES`] |
//! | activity over the span | [`TREND`], bursty days | no times | [`TREND`], [`BURST_SIGMA`], [`BURST_PERSISTENCE`] |
//!
//! The degree laws [`GIVING`] and [`RECEIVING`] were fitted by hand, over a grid of exponents
//! and offsets, until every degree figure of a generated log lay between the two data sets'.
//! Measured (by `shape`) on the generated log of 10^6 events, seed 1 (10^5 and 3·10^6 events
//! give the same figures within 0.002: the shape does not change with the size):
//!
//! | figure (given / received) | Bitcoin OTC | Epinions | generated |
//! |---|---|---|---|
//! | share of edges held by the top 1% of principals | 0.264 / 0.228 | 0.381 / 0.408 | 0.302 / 0.287 |
//! | … by the top 10% | 0.664 / 0.606 | 0.818 / 0.819 | 0.722 / 0.685 |
//! | principals with no edge | 0.181 / 0.004 | 0.278 / 0.359 | 0.232 / 0.034 |
//! | median degree (of those with one) | 2 / 2 | 1 / 2 | 2 / 2 |
//! | power-law exponent α of degrees ≥ 10 | 2.11 / 2.19 | 1.81 / 1.86 | 1.98 / 2.00 |
//! | reciprocity | 0.79 | 0.31 | 0.55 |
//! | share of negative ratings | 0.100 | 0.147 | 0.124 |
//! | events on the busiest 10% of days | 0.351 | — | 0.355 |
//!
//! **Principals** are `gen:0` … `gen:{N−1}` and join over the span in that order (2 at the
//! start, then a share p^0.9 of the rest after a share p of the events); a newcomer's first
//! edge names it, as the subject 88% of the time. Each further edge draws its truster from the
//! [`GIVING`] law and its subject from the [`RECEIVING`] law over those who have joined
//! (oldest first: an old principal is drawn more as others join, as under preferential
//! attachment). [`BAD_SHARE`] of the principals outside the first 1% are bad: evidence about
//! them is mostly negative, as about OTC's mostly-negatively-rated users.
//!
//! **The mix** (chosen: the real data sets hold ratings only): of the edges, [`RATING_SHARE`]
//! are ratings, [`PROMISE_SHARE`] promises, [`VOUCH_SHARE`] vouches and the rest reports.
//! A promise is made by the subject to the truster, at a stake of `10^(4u³)` (half at most 3,
//! 9% 1,000 or more), due one hour to 30 days later (log-uniform), in one of [`SCOPES`]. The
//! promisee judges it later ([`UNJUDGED`] are never judged): a good promisor's promise is kept
//! 85% of the time, partly kept 8% and broken 7%; a bad one's 25%, 15% and 60%. Kept and
//! partial outcomes come before the due time, broken ones around it. Vouches (weight 0.3–1) go
//! to good subjects when one is drawn within 8 tries, reports (severity 0.5–1 against the bad,
//! 0.1–0.5 otherwise) to bad ones within 24 tries. Ratings, vouches and reports name no scope;
//! no event is signed.

mod clock;
mod line;
mod popularity;
mod rng;
pub mod shape;

pub use clock::{BURST_PERSISTENCE, BURST_SIGMA, MAX_SLOTS, TREND};

use clock::Clock;
use popularity::Popularity;
use rng::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io;
use stepwise::evidence::Time;

/// The default span: Bitcoin OTC's, 2010-11-08 to 2016-01-25.
pub const DEFAULT_SPAN_DAYS: u32 = 1_903;
/// The default end, 2026-01-01T00:00:00Z (microseconds since the epoch): fixed, so that a seed
/// alone gives the same log on any day.
pub const DEFAULT_UNTIL: i64 = 1_767_225_600_000_000;
/// How long before `until` the last event is, so that it is in the past of a clock that reads
/// `until` and is a little slow.
pub const END_MARGIN_SECONDS: i64 = 60;
/// Trust edges (ratings, promises, vouches, reports) per principal by default: Epinions' 6.39.
pub const EDGES_PER_PRINCIPAL: f64 = 6.39;
/// The most events: 10^15, well within what a double counts exactly (the clock shares them out
/// in doubles).
pub const MAX_EVENTS: u64 = 1_000_000_000_000_000;
/// The most principals: indexes are kept in 32 bits in the queue of open promises.
pub const MAX_PRINCIPALS: u64 = u32::MAX as u64;
/// The longest span, in days (about 270 years).
pub const MAX_SPAN_DAYS: u32 = 100_000;
/// The most open promises waiting for their outcome by default (6 MiB of them); past it the
/// one due first is judged at once.
pub const OPEN_PROMISES: usize = 1 << 18;

/// Shares of the kinds among new edges (outcomes come on top, one per judged promise).
pub const RATING_SHARE: f64 = 0.55;
/// See [`RATING_SHARE`].
pub const PROMISE_SHARE: f64 = 0.30;
/// See [`RATING_SHARE`]; reports take the rest, 0.05.
pub const VOUCH_SHARE: f64 = 0.10;
/// The share of promises never judged (they count as broken once due, by the model's rule).
pub const UNJUDGED: f64 = 0.10;

/// The share of principals (outside the first 1%) who are bad.
pub const BAD_SHARE: f64 = 0.094;
/// The chance a rating of a bad principal is negative (OTC: 82%).
pub const NEGATIVE_ABOUT_BAD: f64 = 0.82;
/// The chance a rating of a good principal is negative, set so that the share of negative
/// ratings lands between OTC's and Epinions' (OTC's good: 5.1%; Epinions is more negative).
pub const NEGATIVE_ABOUT_GOOD: f64 = 0.075;
/// After a share p of the events, `2 + (N−2)·p^JOIN_EXPONENT` principals have joined.
pub const JOIN_EXPONENT: f64 = 0.9;
/// The chance an edge drawn is answered by the next one, its subject giving evidence about its
/// truster: then about 2·ANSWERED / (1 + ANSWERED) = 55% of the edges are reciprocated, between
/// Epinions' 31% and OTC's 79%.
pub const ANSWERED: f64 = 0.38;
/// The chance a newcomer's first edge is received rather than given.
pub const NEWCOMER_RATED_FIRST: f64 = 0.88;

/// The law the truster of an edge is drawn from: Zipf–Mandelbrot exponent and offset.
pub const GIVING: (f64, f64) = (1.3, 0.02);
/// The law the subject of an edge is drawn from.
pub const RECEIVING: (f64, f64) = (1.4, 0.02);

/// Per mille of the positive ratings with value 0.1, 0.2, …, 1 (OTC's +1 … +10, rounded).
pub const POSITIVE_VALUES: [u32; 10] = [626, 174, 80, 30, 40, 8, 6, 9, 3, 24];
/// Per mille of the negative ratings with value −0.1, …, −1 (OTC's −1 … −10, rounded).
pub const NEGATIVE_VALUES: [u32; 10] = [169, 51, 26, 8, 50, 1, 4, 9, 6, 676];
/// The scopes of promises and their weights.
pub const SCOPES: [(&str, u32); 6] = [
    ("trade", 40),
    ("payment", 25),
    ("delivery", 15),
    ("review", 10),
    ("deploy:staging", 7),
    ("deploy:production", 3),
];

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SECOND;
const DAY: i64 = 24 * HOUR;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How many events (lines).
    pub events: u64,
    /// How many principals; by default `events` / [`events_per_principal`].
    pub principals: Option<u64>,
    /// The seed of every draw.
    pub seed: u64,
    /// Every event is before this instant, the last [`END_MARGIN_SECONDS`] before it.
    pub until: Time,
    /// The span of the events, in days, ending at `until`.
    pub span_days: u32,
    /// The most promises waiting for their outcome at once (by default [`OPEN_PROMISES`]); past
    /// it the one due first is judged at once.
    pub max_open: usize,
}

impl Config {
    /// `events` events with every other setting at its default: seed 0, principals from the
    /// events, OTC's span ending at [`DEFAULT_UNTIL`].
    pub fn new(events: u64) -> Self {
        Self {
            events,
            principals: None,
            seed: 0,
            until: Time::from_micros(DEFAULT_UNTIL).unwrap_or(Time::MAX),
            span_days: DEFAULT_SPAN_DAYS,
            max_open: OPEN_PROMISES,
        }
    }

    /// The number of principals: as given, or derived from the events.
    pub fn principals(&self) -> u64 {
        self.principals.unwrap_or_else(|| {
            ((self.events as f64 / events_per_principal()).round() as u64).max(2)
        })
    }
}

/// Events per principal by default: [`EDGES_PER_PRINCIPAL`] edges, plus the outcomes their
/// promises bring (about 8.3).
pub fn events_per_principal() -> f64 {
    EDGES_PER_PRINCIPAL * (1.0 + PROMISE_SHARE * (1.0 - UNJUDGED))
}

/// Why a [`Config`] cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// No events asked for, or more than the clock can count exactly.
    #[error("events must be 1 to {MAX_EVENTS}, not {0}")]
    Events(u64),
    /// Fewer than two principals: nobody to trust.
    #[error("principals must be at least 2 (one to trust, one to be trusted), not {0}")]
    TooFewPrincipals(u64),
    /// More principals than indexes.
    #[error("principals must be at most {MAX_PRINCIPALS}, not {0}")]
    TooManyPrincipals(u64),
    /// A span of no days, or too many.
    #[error("span_days must be 1 to {MAX_SPAN_DAYS}, not {0}")]
    Span(u32),
    /// The span would begin before 1970, or promises would fall due after 9999.
    #[error(
        "until {until} with span_days {days} reaches outside 1970–9999: the events must begin \
         after 1970-01-01 and their promises fall due before 9999; choose another until or a \
         shorter span"
    )]
    OutOfRange {
        /// The end asked for.
        until: Time,
        /// The span asked for.
        days: u32,
    },
}

/// How many events of each kind were written, and what became of the promises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// `rating` events.
    pub ratings: u64,
    /// Of which negative.
    pub negative_ratings: u64,
    /// `promise` events.
    pub promises: u64,
    /// `outcome` events.
    pub outcomes: u64,
    /// Of which `broken`.
    pub broken: u64,
    /// Of which `partial`.
    pub partial: u64,
    /// Outcomes written before their time because [`Config::max_open`] promises were waiting.
    pub judged_early: u64,
    /// Promises that will never be judged.
    pub unjudged: u64,
    /// `vouch` events.
    pub vouches: u64,
    /// `report` events.
    pub reports: u64,
}

/// A promise waiting for its outcome, in the order they fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Open {
    at: i64,
    promise: u64,
    promisee: u32,
    /// 0 kept, 100 broken, 1–99 partly kept, the fraction kept in hundredths.
    fate: u8,
}

const KEPT: u8 = 0;
const BROKEN: u8 = 100;

/// The log, written one event at a time.
pub struct Generator {
    events: u64,
    principals: u64,
    written: u64,
    joined: u64,
    promises: u64,
    bad_from: u64,
    bad_key: u64,
    rng: Rng,
    clock: Clock,
    giving: Popularity,
    receiving: Popularity,
    open: BinaryHeap<Reverse<Open>>,
    max_open: usize,
    /// The edge that answers the last one drawn, when it is to be answered.
    answer: Option<(u64, u64)>,
    tally: Tally,
}

impl Generator {
    /// The log `config` describes, or why it cannot be generated.
    pub fn new(config: &Config) -> Result<Self, GenerateError> {
        let principals = config.principals();
        if !(1..=MAX_EVENTS).contains(&config.events) {
            return Err(GenerateError::Events(config.events));
        }
        if principals < 2 {
            return Err(GenerateError::TooFewPrincipals(principals));
        }
        if principals > MAX_PRINCIPALS {
            return Err(GenerateError::TooManyPrincipals(principals));
        }
        if !(1..=MAX_SPAN_DAYS).contains(&config.span_days) {
            return Err(GenerateError::Span(config.span_days));
        }
        let span = i64::from(config.span_days) * DAY;
        let end = config.until.as_micros() - END_MARGIN_SECONDS * SECOND;
        // Promises fall due at most 30 days after they are made; their outcomes may come later.
        if end - span < 0 || config.until.as_micros() + 90 * DAY > Time::MAX.as_micros() {
            return Err(GenerateError::OutOfRange {
                until: config.until,
                days: config.span_days,
            });
        }
        let law = |(s, c)| Popularity::new(s, c);
        Ok(Self {
            events: config.events,
            principals,
            written: 0,
            joined: 2,
            promises: 0,
            bad_from: principals / 100,
            bad_key: rng::mix(config.seed ^ 0xBAD),
            rng: Rng::new(config.seed, 0),
            clock: Clock::new(
                config.events,
                end - span,
                span,
                &mut Rng::new(config.seed, 1),
            ),
            giving: law(GIVING),
            receiving: law(RECEIVING),
            open: BinaryHeap::new(),
            max_open: config.max_open.max(1),
            answer: None,
            tally: Tally::default(),
        })
    }

    /// The number of principals the log draws from.
    pub fn principals(&self) -> u64 {
        self.principals
    }

    /// What was written so far.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Promises waiting for an outcome (at the end: made, not judged within the log).
    pub fn open_promises(&self) -> usize {
        self.open.len()
    }

    /// Appends the next event and a newline to `line`; false once every event was written.
    pub fn write_next(&mut self, line: &mut String) -> bool {
        if self.written >= self.events || self.event(line).is_err() {
            return false;
        }
        line.push('\n');
        self.written += 1;
        true
    }

    /// Writes every event left, one JSON line each; returns how many the log holds.
    pub fn write_to(&mut self, out: &mut impl io::Write) -> io::Result<u64> {
        let mut line = String::with_capacity(512);
        while self.write_next(&mut line) {
            out.write_all(line.as_bytes())?;
            line.clear();
        }
        Ok(self.written)
    }

    /// Whether principal `i` is one of the bad ones: a hash, not a table.
    fn is_bad(&self, i: u64) -> bool {
        // A share BAD_SHARE of all 64-bit hashes lie below this.
        const BELOW: u64 = (BAD_SHARE * 18_446_744_073_709_551_616.0) as u64;
        i >= self.bad_from && rng::mix(self.bad_key ^ i) < BELOW
    }

    fn event(&mut self, line: &mut String) -> fmt::Result {
        let at = self.clock.next(&mut self.rng);
        let due = self
            .open
            .peek()
            .is_some_and(|Reverse(o)| o.at <= at || self.open.len() >= self.max_open);
        if due && let Some(Reverse(open)) = self.open.pop() {
            return self.outcome(line, at, open);
        }
        let kind = self.rng.unit();
        let prefer_bad = if kind < RATING_SHARE + PROMISE_SHARE {
            None
        } else {
            Some(kind >= RATING_SHARE + PROMISE_SHARE + VOUCH_SHARE)
        };
        let (truster, subject) = self.edge(prefer_bad);
        if kind < RATING_SHARE {
            self.rating(line, at, truster, subject)
        } else if kind < RATING_SHARE + PROMISE_SHARE {
            self.promise(line, at, truster, subject)
        } else if prefer_bad == Some(false) {
            self.tally.vouches += 1;
            line::open(line, "vouch", at)?;
            line::principal(line, "voucher", truster)?;
            line::principal(line, "subject", subject)?;
            let weight = 30 + self.rng.below(71) as u32;
            line::hundredths(line, "weight", weight, false)?;
            line::close(line);
            Ok(())
        } else {
            self.tally.reports += 1;
            let severity = if self.is_bad(subject) {
                50 + self.rng.below(51)
            } else {
                10 + self.rng.below(41)
            };
            line::open(line, "report", at)?;
            line::principal(line, "reporter", truster)?;
            line::principal(line, "subject", subject)?;
            line::hundredths(line, "severity", severity as u32, false)?;
            line::close(line);
            Ok(())
        }
    }

    /// The truster and subject of a new edge (never one principal): the answer to the edge
    /// before, a newcomer's first, or a draw from the laws over those who have joined, the
    /// subject bad or good as preferred.
    fn edge(&mut self, prefer_bad: Option<bool>) -> (u64, u64) {
        if let Some(pair) = self.answer.take() {
            return pair;
        }
        let (truster, subject) = self.fresh_edge(prefer_bad);
        if self.rng.chance(ANSWERED) {
            self.answer = Some((subject, truster));
        }
        (truster, subject)
    }

    fn fresh_edge(&mut self, prefer_bad: Option<bool>) -> (u64, u64) {
        let progress = (self.written + 1) as f64 / self.events as f64;
        let due = 2 + ((self.principals - 2) as f64 * progress.powf(JOIN_EXPONENT)) as u64;
        if self.joined < due.min(self.principals) {
            let newcomer = self.joined;
            self.joined += 1;
            let u = self.rng.unit();
            return if self.rng.chance(NEWCOMER_RATED_FIRST) {
                (self.giving.pick(u, newcomer), newcomer)
            } else {
                (newcomer, self.receiving.pick(u, newcomer))
            };
        }
        let truster = self.giving.pick(self.rng.unit(), self.joined);
        let tries = match prefer_bad {
            None => 1,
            Some(false) => 8,
            Some(true) => 24,
        };
        let mut subject = truster;
        for drawn in 1..=32 {
            let s = self.receiving.pick(self.rng.unit(), self.joined);
            if s == truster {
                continue;
            }
            subject = s;
            if drawn >= tries || prefer_bad.is_none_or(|bad| self.is_bad(s) == bad) {
                break;
            }
        }
        if subject == truster {
            // 32 draws of oneself: only when very few have joined. Anyone else, uniformly.
            subject = (truster + 1 + self.rng.below(self.joined - 1)) % self.joined;
        }
        (truster, subject)
    }

    fn rating(&mut self, line: &mut String, at: i64, rater: u64, subject: u64) -> fmt::Result {
        let p = if self.is_bad(subject) {
            NEGATIVE_ABOUT_BAD
        } else {
            NEGATIVE_ABOUT_GOOD
        };
        let negative = self.rng.chance(p);
        let table = if negative {
            &NEGATIVE_VALUES
        } else {
            &POSITIVE_VALUES
        };
        let magnitude = 1 + pick_weighted(table.iter().copied(), self.rng.below(1_000) as u32);
        self.tally.ratings += 1;
        self.tally.negative_ratings += u64::from(negative);
        line::open(line, "rating", at)?;
        line::principal(line, "rater", rater)?;
        line::principal(line, "subject", subject)?;
        line::hundredths(line, "value", 10 * magnitude as u32, negative)?;
        line::close(line);
        Ok(())
    }

    fn promise(&mut self, line: &mut String, at: i64, promisee: u64, promisor: u64) -> fmt::Result {
        let id = self.promises;
        self.promises += 1;
        self.tally.promises += 1;
        let total: u32 = SCOPES.iter().map(|s| s.1).sum();
        let scope = SCOPES[pick_weighted(
            SCOPES.iter().map(|s| s.1),
            self.rng.below(u64::from(total)) as u32,
        )]
        .0;
        let stake = 10f64.powf(4.0 * self.rng.unit().powi(3)).round().max(1.0) as u64;
        let term = (HOUR as f64 * 720f64.powf(self.rng.unit())) as i64;
        if self.rng.chance(UNJUDGED) {
            self.tally.unjudged += 1;
        } else {
            let bad = self.is_bad(promisor);
            let (kept, partial) = if bad { (0.25, 0.40) } else { (0.85, 0.93) };
            let u = self.rng.unit();
            let fate = if u < kept {
                KEPT
            } else if u < partial {
                5 + self.rng.below(91) as u8
            } else {
                BROKEN
            };
            let delay = if fate == BROKEN {
                0.5 + self.rng.unit()
            } else {
                0.05 + 0.95 * self.rng.unit()
            };
            self.open.push(Reverse(Open {
                at: at + (term as f64 * delay) as i64,
                promise: id,
                // The principals number at most MAX_PRINCIPALS = u32::MAX.
                promisee: promisee as u32,
                fate,
            }));
        }
        line::open(line, "promise", at)?;
        line::promise(line, "id", id)?;
        line::principal(line, "promisor", promisor)?;
        line::principal(line, "promisee", promisee)?;
        line::text(line, "scope", scope)?;
        line::whole(line, "stake", stake)?;
        line::instant(line, "due", at + term)?;
        line::close(line);
        Ok(())
    }

    fn outcome(&mut self, line: &mut String, at: i64, open: Open) -> fmt::Result {
        self.tally.outcomes += 1;
        self.tally.judged_early += u64::from(open.at > at);
        line::open(line, "outcome", at)?;
        line::principal(line, "author", u64::from(open.promisee))?;
        line::promise(line, "promise", open.promise)?;
        match open.fate {
            KEPT => line::text(line, "result", "kept")?,
            BROKEN => {
                self.tally.broken += 1;
                line::text(line, "result", "broken")?;
            }
            fraction => {
                self.tally.partial += 1;
                line::text(line, "result", "partial")?;
                line::hundredths(line, "fraction", u32::from(fraction), false)?;
            }
        }
        line::close(line);
        Ok(())
    }
}

/// The index whose cumulative weight first exceeds `draw` (the last when none does).
fn pick_weighted(weights: impl Iterator<Item = u32>, draw: u32) -> usize {
    let mut sum = 0;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        sum += w;
        last = i;
        if draw < sum {
            return i;
        }
    }
    last
}

/// Every event as a JSON line without its newline.
impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut line = String::with_capacity(256);
        self.write_next(&mut line).then(|| {
            line.pop();
            line
        })
    }
}
