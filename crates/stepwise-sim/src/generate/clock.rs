//! When events happen: Bitcoin OTC's activity curve over the span, with bursty days.
//!
//! The span is cut into slots of a day (at most [`MAX_SLOTS`]). Each tenth of the span holds
//! its share of the events in [`TREND`], OTC's share of ratings in each tenth of its span; within
//! a tenth, a slot's share is proportional to a burst factor `exp(σ·z)`, `z` an AR(1) Gaussian
//! series from slot to slot ([`BURST_SIGMA`], [`BURST_PERSISTENCE`]). (A span shorter than ten
//! days has slots in fewer tenths, which share the events.) The event counts of all slots are fixed
//! at the start (one integer per slot); within a slot the events are spread in order, each at a
//! random point of its own sub-interval, so time never goes back. Memory: the slot table,
//! whatever the number of events.

use super::rng::Rng;

/// Bitcoin OTC's share of ratings in each tenth of its span (2010-11-08 to 2016-01-25), to three
/// decimals: a rise to the 2011 bubble, a second and larger wave in 2012–2013, a long decline.
/// Measured by `shape::activity` over the data set (a test checks these against it).
pub const TREND: [f64; 10] = [
    0.067, 0.141, 0.088, 0.171, 0.204, 0.177, 0.079, 0.044, 0.020, 0.009,
];

/// The spread of the log of a day's burst factor. With [`BURST_PERSISTENCE`] it gives OTC's
/// bursts over its trend: the busiest tenth of the days holds 35.5% of the events (OTC: 35.1%),
/// and the coefficient of variation of daily counts is 1.13 (OTC: 1.16).
pub const BURST_SIGMA: f64 = 0.7;

/// How much of a day's burst carries into the next (AR(1) coefficient of its logarithm): OTC's
/// day-to-day autocorrelation of log activity over the trend is 0.48.
pub const BURST_PERSISTENCE: f64 = 0.5;

/// The most slots the span is cut into (a day each, longer when the span is longer than this
/// many days).
pub const MAX_SLOTS: u64 = 100_000;

const DAY: i64 = 86_400_000_000;

/// The sum of [`TREND`] (1 up to rounding).
const TREND_TOTAL: f64 = {
    let mut sum = 0.0;
    let mut i = 0;
    while i < TREND.len() {
        sum += TREND[i];
        i += 1;
    }
    sum
};

/// The instants of the events, in order.
pub(super) struct Clock {
    start: i64,
    width: i64,
    /// The number of events in all slots up to and including each one.
    ends: Vec<u64>,
    slot: usize,
    /// Events already placed in this slot.
    placed: u64,
    last: i64,
}

/// The tenth of the span slot `j` of `slots` lies in (by its middle).
fn tenth(j: i64, slots: i64) -> usize {
    (((j as f64 + 0.5) / slots as f64 * 10.0) as usize).min(9)
}

impl Clock {
    /// `events` instants from `start` to before `start + span` (micros; `span` > 0), bursts
    /// drawn from `rng`.
    pub(super) fn new(events: u64, start: i64, span: i64, rng: &mut Rng) -> Self {
        let slots = (span / DAY).clamp(1, MAX_SLOTS as i64);
        let width = (span / slots).max(1);
        let mut z = 0.0;
        let persistence = BURST_PERSISTENCE;
        let fresh = (1.0 - persistence * persistence).sqrt();
        let bursts: Vec<f64> = (0..slots)
            .map(|_| {
                z = persistence * z + fresh * rng.normal();
                (BURST_SIGMA * z).exp()
            })
            .collect();
        // Each tenth of the span gets its share of the trend exactly; bursts only move events
        // between the slots of a tenth.
        let mut in_tenth = [0.0; 10];
        for (j, burst) in (0..slots).zip(&bursts) {
            in_tenth[tenth(j, slots)] += burst;
        }
        let mut sum = 0.0;
        let ends = (0..slots)
            .zip(&bursts)
            .map(|(j, burst)| {
                let t = tenth(j, slots);
                if in_tenth[t] > 0.0 {
                    sum += TREND[t] * burst / in_tenth[t];
                }
                ((sum / TREND_TOTAL) * events as f64).round() as u64
            })
            .collect::<Vec<_>>();
        let mut clock = Self {
            start,
            width,
            ends,
            slot: 0,
            placed: 0,
            last: start,
        };
        // The last slot ends the log whatever rounding did.
        if let Some(last) = clock.ends.last_mut() {
            *last = events;
        }
        clock
    }

    /// The instant of the next event (never earlier than the one before). Past the last
    /// event, the end of the span.
    pub(super) fn next(&mut self, rng: &mut Rng) -> i64 {
        while self.slot + 1 < self.ends.len() && self.done_in_slot() {
            self.slot += 1;
            self.placed = 0;
        }
        let before = if self.slot == 0 {
            0
        } else {
            self.ends[self.slot - 1]
        };
        let count = self.ends[self.slot].saturating_sub(before).max(1);
        let offset = (self.placed as f64 + rng.unit()) / count as f64 * self.width as f64;
        self.placed += 1;
        let offset = (offset as i64).min(self.width - 1);
        let at = self.start + self.slot as i64 * self.width + offset;
        self.last = self.last.max(at);
        self.last
    }

    fn done_in_slot(&self) -> bool {
        let before = if self.slot == 0 {
            0
        } else {
            self.ends[self.slot - 1]
        };
        before + self.placed >= self.ends[self.slot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenth_holds_its_share_of_the_trend() {
        let mut rng = Rng::new(5, 0);
        let clock = Clock::new(1_000_000, 0, 1_000 * DAY, &mut rng);
        let mut before = 0;
        for (t, share) in TREND.iter().enumerate() {
            let end = clock.ends[100 * t + 99];
            let held = (end - before) as f64 / 1e6;
            assert!(
                (held - share / TREND_TOTAL).abs() < 1e-4,
                "tenth {t}: {held}"
            );
            before = end;
        }
        assert_eq!(clock.ends.last(), Some(&1_000_000));
    }

    #[test]
    fn instants_never_go_back_and_stay_within_the_span() {
        let mut rng = Rng::new(3, 0);
        let span = 30 * DAY;
        let mut clock = Clock::new(5_000, 1_000, span, &mut rng);
        let mut last = 0;
        for _ in 0..5_000 {
            let at = clock.next(&mut rng);
            assert!(at >= last && at >= 1_000 && at < 1_000 + span, "{at}");
            last = at;
        }
        // A span shorter than a day is one slot.
        let mut short = Clock::new(3, 0, 10, &mut rng);
        assert!((0..3).all(|_| short.next(&mut rng) < 10));
    }
}
