//! The world: honest principals, clients and attackers dealing round by round, every promise
//! recorded as evidence and judged by the system under test; and the randomness it draws on.

use super::*;

// ---------------------------------------------------------------------------------------------
// Randomness: a hash of (seed, round, agent, purpose), so draws never depend on what came before.

/// One step of splitmix64: a well-mixed 64-bit hash of `x` (also the eval's seeded shuffle).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn draw(seed: u64, round: u32, agent: u64, purpose: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ u64::from(round)) ^ agent) ^ purpose)
}

/// A draw in [0, 1).
pub(super) fn unit(seed: u64, round: u32, agent: u64, purpose: u64) -> f64 {
    (draw(seed, round, agent, purpose) >> 11) as f64 / (1u64 << 53) as f64
}

pub(super) const DRAW_STAKE: u64 = 1;
pub(super) const DRAW_CLIENT: u64 = 2;
pub(super) const DRAW_KEEP: u64 = 3;

// ---------------------------------------------------------------------------------------------
// The world.

pub(super) fn id(text: &str) -> Id {
    // Every id here is generated from a fixed prefix and numbers: printable ASCII, short.
    Id::parse("id", text).expect("generated ids are valid")
}

pub(super) fn time(micros: i64) -> Time {
    Time::from_micros(micros).unwrap_or(Time::MAX)
}

/// The largest honest stake tier within `limit`, if any.
pub(super) fn climb_stake(limit: f64) -> Option<f64> {
    STAKE_TIERS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| *s <= limit)
        .reduce(f64::max)
}

/// A promise to make: who promises whom, at what stake, and how it will end.
pub(super) struct Deal {
    pub(super) promisor: Id,
    pub(super) promisee: Id,
    pub(super) stake: f64,
    pub(super) kept: bool,
    pub(super) party: Party,
}

/// A promise made this morning, waiting for its outcome this afternoon.
pub(super) struct Pending {
    pub(super) promise: Id,
    pub(super) deal: Deal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Party {
    Honest,
    Attacker,
    /// A fake promise among colluders: evidence, but neither gain nor request.
    Fake,
}

#[derive(Default)]
pub(super) struct Tally {
    pub(super) attacker_gain: f64,
    pub(super) honest_gain: f64,
    pub(super) attacker_requests: u64,
    pub(super) attacker_allowed: u64,
    pub(super) honest_requests: u64,
    pub(super) honest_allowed: u64,
    pub(super) late_requests: u64,
    pub(super) late_allowed: u64,
    pub(super) short: u64,
    pub(super) late_short: u64,
    pub(super) short_after_fall: u64,
    pub(super) attacker_betrayals: u64,
    pub(super) honest_kept: u64,
}

/// Instants within a round: one microsecond apart, in the order asked for.
pub(super) struct Clock {
    pub(super) day: i64,
    pub(super) seq: i64,
}

impl Clock {
    pub(super) fn at(&mut self, phase: i64) -> Time {
        self.seq += 1;
        time(self.day + phase + self.seq)
    }
}

pub(super) struct World {
    pub(super) seed: u64,
    pub(super) rounds: u32,
    pub(super) honest: Vec<Id>,
    pub(super) clients: Vec<Id>,
    pub(super) attackers: Vec<Attacker>,
    pub(super) victims: Vec<usize>,
    /// The client who colludes with the front (`insider`).
    pub(super) insider: Option<usize>,
    pub(super) scope: Id,
    pub(super) promises: u64,
}

impl World {
    pub(super) fn new(config: &Config) -> Self {
        let make = |role: Role, count: usize, first: usize| -> Vec<Attacker> {
            (first..first + count)
                .map(|n| Attacker::new(role, n))
                .collect()
        };
        let attackers = match config.scenario {
            Scenario::Honest => Vec::new(),
            Scenario::OnOff => make(Role::OnOff, 3, 0),
            Scenario::SlowCon => make(Role::SlowCon, 3, 0),
            Scenario::Whitewash => make(Role::Whitewash, 3, 0),
            Scenario::Sybil => {
                let mut ring = make(Role::SybilFront, 1, 0);
                ring.extend(make(Role::SybilSupporter, 9, 1));
                ring
            }
            Scenario::Badmouth => make(Role::Badmouther, 3, 0),
            Scenario::BallotStuff => {
                let mut ring = make(Role::BallotTarget, 1, 0);
                ring.extend(make(Role::Accomplice, 1, 1));
                ring.extend(make(Role::Colluder, 8, 2));
                ring
            }
            Scenario::Camouflage => make(Role::Camouflage, 3, 0),
            Scenario::Slice => make(Role::Slicer, 3, 0),
            Scenario::ExitScam => make(Role::ExitScam, 3, 0),
            Scenario::PromiseeRing => {
                let mut ring = make(Role::RingFront, 1, 0);
                ring.extend(make(Role::RingMember, RING, 1));
                ring
            }
            Scenario::OldRing => {
                let mut ring = make(Role::RingFront, 1, 0);
                ring[0].born = config.rounds / 2;
                ring.extend(make(Role::OldRingMember, RING, 1));
                ring
            }
            Scenario::RatingRing => {
                let mut ring = make(Role::RatingFront, 1, 0);
                ring.extend(make(Role::Rater, RING, 1));
                ring
            }
            Scenario::Insider => make(Role::RingFront, 1, 0),
        };
        Self {
            seed: config.seed,
            rounds: config.rounds,
            honest: (0..HONEST).map(|i| id(&format!("honest:{i}"))).collect(),
            clients: (0..CLIENTS).map(|i| id(&format!("client:{i}"))).collect(),
            attackers,
            victims: (0..5.min(HONEST)).collect(),
            insider: (config.scenario == Scenario::Insider).then_some(0),
            scope: id("trade"),
            promises: 0,
        }
    }

    pub(super) fn next_promise_id(&mut self) -> Id {
        self.promises += 1;
        id(&format!("p{}", self.promises))
    }

    /// Makes `deal` at `at`: records its promise, due a day later, under `gate`.
    pub(super) fn make<G: Gate>(&mut self, gate: &mut G, at: Time, deal: Deal) -> Pending {
        let promise = self.next_promise_id();
        let due = time(at.as_micros().saturating_add(DAY_MICROS));
        gate.record(&Event {
            at,
            author: Some(deal.promisor.clone()),
            body: Body::Promise {
                id: promise.clone(),
                promisor: deal.promisor.clone(),
                promisee: deal.promisee.clone(),
                scope: self.scope.clone(),
                stake: deal.stake,
                due,
            },
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        });
        Pending { promise, deal }
    }

    pub(super) fn rate(at: Time, rater: &Id, subject: &Id, value: f64) -> Event {
        Event {
            at,
            author: Some(rater.clone()),
            body: Body::Rating {
                rater: rater.clone(),
                subject: subject.clone(),
                value,
                scope: None,
            },
            note: None,
            sig: None,
            stamp: None,
            seal: None,
        }
    }

    pub(super) fn run<G: Gate>(mut self, mut gate: G) -> SystemResult {
        let mut tally = Tally::default();
        let levels = gate.levels();
        let mut first_at: Vec<Vec<Option<u32>>> = vec![vec![None; levels]; self.honest.len()];
        let mut attacker_top: Option<usize> = None;
        // The highest level each honest principal has stood on (stepwise only).
        let mut honest_top: Vec<usize> = vec![0; self.honest.len()];
        let late = self.rounds / 2;
        for r in 0..self.rounds {
            let mut clock = Clock {
                day: START_MICROS + i64::from(r) * DAY_MICROS,
                seq: 0,
            };
            let mut pending: Vec<Pending> = Vec::new();
            self.background(&mut gate, &mut clock, r);

            // Honest requests.
            for (i, top) in honest_top.iter_mut().enumerate() {
                let u = unit(self.seed, r, i as u64, DRAW_STAKE);
                let mut want = STAKE_TIERS[STAKE_TIERS.len() - 1].0;
                let mut acc = 0.0;
                for (s, p) in STAKE_TIERS {
                    acc += p;
                    if u < acc {
                        want = s;
                        break;
                    }
                }
                let client = (draw(self.seed, r, i as u64, DRAW_CLIENT) % CLIENTS as u64) as usize;
                let kept = unit(self.seed, r, i as u64, DRAW_KEEP) < HONEST_KEEP;
                let at = clock.at(MORNING);
                let who = self.honest[i].clone();
                let limit = gate.limit(&who, at);
                let stake = if limit > 0.0 { want.min(limit) } else { want };
                let fallen = gate.level(&who, at).is_some_and(|level| {
                    *top = (*top).max(level);
                    level < *top
                });
                tally.honest_requests += 1;
                if r >= late {
                    tally.late_requests += 1;
                }
                let allowed = gate.allows(&who, stake, at);
                if !allowed || stake < want {
                    tally.short += 1;
                    tally.late_short += u64::from(r >= late);
                    tally.short_after_fall += u64::from(fallen);
                }
                if allowed {
                    tally.honest_allowed += 1;
                    if r >= late {
                        tally.late_allowed += 1;
                    }
                    let deal = Deal {
                        promisor: who,
                        promisee: self.clients[client].clone(),
                        stake,
                        kept,
                        party: Party::Honest,
                    };
                    pending.push(self.make(&mut gate, at, deal));
                }
            }

            // Attackers' requests to real clients.
            let mut attackers = std::mem::take(&mut self.attackers);
            for a in &mut attackers {
                let at = clock.at(MORNING);
                let limit = gate.limit(&a.id, at);
                if let Some(level) = gate.level(&a.id, at) {
                    attacker_top = Some(attacker_top.map_or(level, |t| t.max(level)));
                }
                let (kept, clients) = match self.decide_move(a, r, limit) {
                    Move::Idle => continue,
                    Move::Climb => (true, vec![self.client_for(a, r)]),
                    Move::Betray => (false, vec![self.betrayed_client(a, r)]),
                    Move::Scam => (false, (0..CLIENTS).collect()),
                };
                for (k, client) in clients.into_iter().enumerate() {
                    // Each further promise of an exit scam is asked a moment later, against
                    // the limit left after the ones already made.
                    let (at, limit) = if k == 0 {
                        (at, limit)
                    } else {
                        let at = clock.at(MORNING);
                        (at, gate.limit(&a.id, at))
                    };
                    let mut ask = |stake: f64| {
                        tally.attacker_requests += 1;
                        let allowed = gate.allows(&a.id, stake, at);
                        tally.attacker_allowed += u64::from(allowed);
                        allowed.then_some(stake)
                    };
                    let granted = if kept {
                        climb_stake(limit).and_then(&mut ask)
                    } else if a.role == Role::Slicer {
                        ask((SLICE * limit).floor())
                    } else {
                        // Ask for the most first; if refused, for exactly the limit.
                        ask(MAX_EXPOSURE).or_else(|| (limit > 0.0).then(|| ask(limit)).flatten())
                    };
                    if let Some(stake) = granted {
                        let deal = Deal {
                            promisor: a.id.clone(),
                            promisee: self.clients[client].clone(),
                            stake,
                            kept,
                            party: Party::Attacker,
                        };
                        pending.push(self.make(&mut gate, at, deal));
                    }
                }
            }
            self.attackers = attackers;
            self.stuff(&mut gate, &mut clock, &mut pending, r);

            // Outcomes and ratings, recorded by each promisee.
            for Pending { promise, deal: p } in pending {
                let at = clock.at(AFTERNOON);
                gate.record(&Event {
                    at,
                    author: Some(p.promisee.clone()),
                    body: Body::Outcome {
                        promise,
                        result: if p.kept {
                            OutcomeResult::Kept
                        } else {
                            OutcomeResult::Broken
                        },
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                    seal: None,
                });
                let at = clock.at(AFTERNOON);
                let value = if p.kept { 1.0 } else { -1.0 };
                gate.record(&Self::rate(at, &p.promisee, &p.promisor, value));
                match (p.party, p.kept) {
                    (Party::Honest, true) => {
                        tally.honest_gain += p.stake;
                        tally.honest_kept += 1;
                    }
                    (Party::Attacker, false) => {
                        tally.attacker_gain += p.stake;
                        tally.attacker_betrayals += 1;
                    }
                    _ => {}
                }
            }

            // Levels at the end of the round (stepwise only).
            let evening = clock.at(EVENING);
            for (i, who) in self.honest.iter().enumerate() {
                if let Some(level) = gate.level(who, evening) {
                    for slot in first_at[i].iter_mut().take(level + 1) {
                        slot.get_or_insert(r);
                    }
                }
            }
            for a in &mut self.attackers {
                if let Some(level) = gate.level(&a.id, evening) {
                    attacker_top = Some(attacker_top.map_or(level, |t| t.max(level)));
                }
                if a.rejoin {
                    a.rejoin = false;
                    a.generation += 1;
                    a.born = r + 1;
                    a.best_limit = 0.0;
                    a.id = id(&format!("{}:{}/{}", a.role.prefix(), a.n, a.generation));
                }
            }
        }
        let share_denied = |requests: u64, allowed: u64| {
            if requests == 0 {
                0.0
            } else {
                (requests - allowed) as f64 / requests as f64
            }
        };
        let stepwise = gate.name() == "stepwise";
        SystemResult {
            system: gate.name(),
            attacker_gain: tally.attacker_gain,
            honest_gain: tally.honest_gain,
            honest_friction: share_denied(tally.honest_requests, tally.honest_allowed),
            attacker_requests: tally.attacker_requests,
            attacker_allowed: tally.attacker_allowed,
            honest_requests: tally.honest_requests,
            honest_allowed: tally.honest_allowed,
            attacker_betrayals: tally.attacker_betrayals,
            honest_kept: tally.honest_kept,
            honest_friction_late: share_denied(tally.late_requests, tally.late_allowed),
            honest_shortfall: share_denied(
                tally.honest_requests,
                tally.honest_requests - tally.short,
            ),
            honest_shortfall_late: share_denied(
                tally.late_requests,
                tally.late_requests - tally.late_short,
            ),
            honest_shortfall_after_fall: share_denied(
                tally.honest_requests,
                tally.honest_requests - tally.short_after_fall,
            ),
            honest_demotions: self.honest.iter().map(|who| gate.demotions(who)).sum(),
            rounds_to_level: if stepwise {
                (0..levels)
                    .map(|k| median(first_at.iter().map(|f| f[k])))
                    .collect()
            } else {
                Vec::new()
            },
            attacker_top_level: if stepwise { attacker_top } else { None },
        }
    }

    /// The ids of the attackers playing `role`, in order.
    pub(super) fn ids(&self, role: Role) -> Vec<Id> {
        self.attackers
            .iter()
            .filter(|a| a.role == role)
            .map(|a| a.id.clone())
            .collect()
    }

    /// The scenario's morning events before the requests to real clients: vouches, ratings
    /// and reports.
    pub(super) fn background<G: Gate>(&mut self, gate: &mut G, clock: &mut Clock, r: u32) {
        let fronts = self.ids(Role::SybilFront);
        let supporters = self.ids(Role::SybilSupporter);
        for front in &fronts {
            for s in &supporters {
                if r == 0 {
                    for (voucher, subject) in [(s, front), (front, s)] {
                        gate.record(&Event {
                            at: clock.at(MORNING),
                            author: Some(voucher.clone()),
                            body: Body::Vouch {
                                voucher: voucher.clone(),
                                subject: subject.clone(),
                                scope: None,
                                weight: 1.0,
                            },
                            note: None,
                            sig: None,
                            stamp: None,
                            seal: None,
                        });
                    }
                }
                gate.record(&Self::rate(clock.at(MORNING), s, front, 1.0));
                gate.record(&Self::rate(clock.at(MORNING), front, s, 1.0));
            }
        }

        // Every badmouther reports and rates −1 every victim, every day.
        for who in &self.ids(Role::Badmouther) {
            for &victim in &self.victims {
                let victim = &self.honest[victim];
                gate.record(&Event {
                    at: clock.at(MORNING),
                    author: Some(who.clone()),
                    body: Body::Report {
                        reporter: who.clone(),
                        subject: victim.clone(),
                        scope: None,
                        severity: 1.0,
                        evidence: None,
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                    seal: None,
                });
                gate.record(&Self::rate(clock.at(MORNING), who, victim, -1.0));
            }
        }

        // Every rater rates the front and the next rater +1, every day.
        let raters = self.ids(Role::Rater);
        for front in &self.ids(Role::RatingFront) {
            for (k, rater) in raters.iter().enumerate() {
                let next = &raters[(k + 1) % raters.len()];
                gate.record(&Self::rate(clock.at(MORNING), rater, front, 1.0));
                gate.record(&Self::rate(clock.at(MORNING), rater, next, 1.0));
            }
        }

        let targets = self.ids(Role::BallotTarget);
        for a in &mut self.attackers {
            if a.role != Role::Accomplice || a.vouched {
                continue;
            }
            let at = clock.at(MORNING);
            if gate.limit(&a.id, at) < 1_000.0 {
                continue;
            }
            for t in &targets {
                gate.record(&Event {
                    at,
                    author: Some(a.id.clone()),
                    body: Body::Vouch {
                        voucher: a.id.clone(),
                        subject: t.clone(),
                        scope: None,
                        weight: 1.0,
                    },
                    note: None,
                    sig: None,
                    stamp: None,
                    seal: None,
                });
            }
            a.vouched = true;
        }
    }

    /// The fake promises of ballot-stuffing and of the rings, made after the morning's
    /// requests to real clients (so that they use what is left of the limit, not what the attack
    /// needs), each kept and rated +1 in the afternoon.
    pub(super) fn stuff<G: Gate>(
        &mut self,
        gate: &mut G,
        clock: &mut Clock,
        pending: &mut Vec<Pending>,
        r: u32,
    ) {
        let targets = self.ids(Role::BallotTarget);
        let accomplices = self.ids(Role::Accomplice);
        let colluders = self.ids(Role::Colluder);
        // The target is stuffed by the accomplice and every colluder; the accomplice by every
        // colluder. Fake promises go through the system like any other.
        let mut stuffing: Vec<(Id, Id)> = Vec::new();
        for t in &targets {
            for c in accomplices.iter().chain(&colluders) {
                stuffing.push((t.clone(), c.clone()));
            }
        }
        for acc in &accomplices {
            for c in &colluders {
                stuffing.push((acc.clone(), c.clone()));
            }
        }
        // The old ring deals with itself from round 0: each member promises the next.
        let old = self.ids(Role::OldRingMember);
        for (k, member) in old.iter().enumerate() {
            stuffing.push((member.clone(), old[(k + 1) % old.len()].clone()));
        }
        // The ring front, once in the market, promises each member in turn, or the insider.
        let mut ring = self.ids(Role::RingMember);
        ring.extend(old);
        ring.extend(self.insider.map(|c| self.clients[c].clone()));
        // Members take turns: each round starts one further along, so that a limit that
        // covers only a few promises still spreads them over the whole ring.
        for front in self.attackers.iter().filter(|a| a.role == Role::RingFront) {
            if r >= front.born {
                for k in 0..ring.len() {
                    let member = &ring[(r as usize + k) % ring.len()];
                    stuffing.push((front.id.clone(), member.clone()));
                }
            }
        }
        for (promisor, promisee) in stuffing {
            let at = clock.at(MORNING);
            let Some(stake) = climb_stake(gate.limit(&promisor, at)) else {
                continue;
            };
            if gate.allows(&promisor, stake, at) {
                let deal = Deal {
                    promisor,
                    promisee,
                    stake,
                    kept: true,
                    party: Party::Fake,
                };
                pending.push(self.make(gate, at, deal));
            }
        }
    }
}
