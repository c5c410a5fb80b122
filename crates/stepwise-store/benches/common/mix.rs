//! The stream of live evidence the ingest benchmarks append (the `ledger` bench and the
//! `ingest_pairs` example share it).

use std::collections::VecDeque;
use stepwise::evidence::{Body, Event, Id, OutcomeResult, Time};

/// When the stream started: events are dated from then on, as live evidence is, so the ledger
/// stamps them with the system clock and checks its time window on every one.
pub fn started() -> i64 {
    use stepwise::ledger::Clock as _;
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *STARTED.get_or_init(|| stepwise::ledger::SystemClock.now().as_micros())
}

/// A deterministic stream of live evidence between a growing population of principals: 60%
/// ratings, 20% promises and 20% outcomes of earlier promises (kept, broken or partial), a
/// note on one event in five, and, on every tenth event that names two principals, one the
/// log has never named (8% of all events). Popular principals appear more often (the square
/// of a uniform draw picks the index).
pub struct Mix {
    n: u64,
    population: u64,
    rng: u64,
    /// Promises made and not yet judged, oldest first.
    open: VecDeque<Id>,
}

impl Mix {
    const SCOPES: [&str; 3] = ["deploy:staging", "deploy:prod", "review:code"];

    /// The stream from its start.
    pub fn new() -> Self {
        Self {
            n: 0,
            population: 200,
            rng: 0x9e37_79b9_7f4a_7c15,
            open: VecDeque::new(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn id(k: u64) -> Id {
        Id::parse("principal", &format!("user:{k}")).expect("id")
    }

    /// A known principal, popular ones more often.
    fn known(&mut self) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (u * u * self.population as f64) as u64
    }

    /// Two different principals; one of them new on every tenth event.
    fn pair(&mut self) -> (Id, Id) {
        let a = if self.n.is_multiple_of(10) {
            self.population += 1;
            self.population - 1
        } else {
            self.known()
        };
        let mut b = self.known();
        while b == a {
            b = self.known();
        }
        if self.next_u64().is_multiple_of(2) {
            (Self::id(a), Self::id(b))
        } else {
            (Self::id(b), Self::id(a))
        }
    }

    fn next(&mut self) -> Event {
        let at = started() + self.n as i64;
        let draw = self.next_u64() % 10;
        let body = if draw >= 8 && self.open.len() > 16 {
            let promise = self.open.pop_front().expect("an open promise");
            let result = match self.next_u64() % 20 {
                0..=15 => OutcomeResult::Kept,
                16..=18 => OutcomeResult::Broken,
                _ => OutcomeResult::Partial(0.5),
            };
            Body::Outcome { promise, result }
        } else if draw >= 6 {
            let (promisor, promisee) = self.pair();
            let id = Id::parse("id", &format!("p-{}", self.n)).expect("id");
            let scope = Self::SCOPES[(self.next_u64() % 3) as usize];
            self.open.push_back(id.clone());
            Body::Promise {
                id,
                promisor,
                promisee,
                scope: Id::parse("scope", scope).expect("scope"),
                stake: (1 + self.next_u64() % 100) as f64,
                due: Time::from_micros(at + 86_400_000_000).expect("due"),
            }
        } else {
            let (rater, subject) = self.pair();
            Body::Rating {
                rater,
                subject,
                value: ((self.next_u64() % 21) as f64 - 10.0) / 10.0,
                scope: None,
            }
        };
        let note = self
            .next_u64()
            .is_multiple_of(5)
            .then(|| format!("delivered order {} two days late; refund agreed", self.n));
        self.n += 1;
        let mut event = Event {
            at: Time::from_micros(at).expect("time"),
            author: None,
            body,
            note,
            sig: None,
            stamp: None,
            seal: None,
        };
        event.author = event.natural_author().cloned();
        event
    }

    /// The next `size` events.
    pub fn batch(&mut self, size: u64) -> Vec<Event> {
        (0..size).map(|_| self.next()).collect()
    }
}
