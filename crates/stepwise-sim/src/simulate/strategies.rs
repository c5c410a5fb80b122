//! The attackers: their roles, and how each decides what to do with real clients each round.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    OnOff,
    SlowCon,
    Whitewash,
    SybilFront,
    SybilSupporter,
    Badmouther,
    BallotTarget,
    Accomplice,
    Colluder,
    Camouflage,
    Slicer,
    ExitScam,
    /// The front of `promisee-ring`, `old-ring` and `insider`.
    RingFront,
    /// A member of the promisee ring, fresh at round 0.
    RingMember,
    /// A member of the old ring: deals with the next member every round from round 0.
    OldRingMember,
    RatingFront,
    Rater,
}

impl Role {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Role::OnOff => "on-off",
            Role::SlowCon => "slow-con",
            Role::Whitewash => "whitewash",
            Role::SybilFront => "sybil-front",
            Role::SybilSupporter => "sybil",
            Role::Badmouther => "badmouth",
            Role::BallotTarget => "ballot-target",
            Role::Accomplice => "accomplice",
            Role::Colluder => "colluder",
            Role::Camouflage => "camouflage",
            Role::Slicer => "slice",
            Role::ExitScam => "exit-scam",
            Role::RingFront => "ring-front",
            Role::RingMember | Role::OldRingMember => "ring",
            Role::RatingFront => "rated-front",
            Role::Rater => "rater",
        }
    }
}

pub(super) struct Attacker {
    pub(super) role: Role,
    /// Its number among attackers (for random draws and staggering).
    pub(super) n: usize,
    pub(super) generation: u32,
    pub(super) id: Id,
    /// The round its current identity appeared.
    pub(super) born: u32,
    /// Whether it left the market (slow-con and exit-scam after their betrayal).
    pub(super) gone: bool,
    /// Whether it re-enters under a new identity at the end of this round (whitewash).
    pub(super) rejoin: bool,
    /// Whether it has vouched (accomplice).
    pub(super) vouched: bool,
    /// The largest limit it has ever had (ballot target).
    pub(super) best_limit: f64,
}

impl Attacker {
    pub(super) fn new(role: Role, n: usize) -> Self {
        Self {
            role,
            n,
            generation: 0,
            id: id(&format!("{}:{n}", role.prefix())),
            born: 0,
            gone: false,
            rejoin: false,
            vouched: false,
            best_limit: 0.0,
        }
    }

    pub(super) fn slot(&self) -> u64 {
        1_000 + self.n as u64
    }
}

/// What an attacker does with real clients this round.
pub(super) enum Move {
    Idle,
    Climb,
    Betray,
    /// Betray every client at once: one promise to each, as large as allowed.
    Scam,
}

impl World {
    /// A client for attacker `a` in round `r`, avoiding its victim client (camouflage).
    pub(super) fn client_for(&self, a: &Attacker, r: u32) -> usize {
        let pick = (draw(self.seed, r, a.slot(), DRAW_CLIENT) % CLIENTS as u64) as usize;
        if a.role == Role::Camouflage && pick == self.victim_client(a) {
            (pick + 1) % CLIENTS
        } else {
            pick
        }
    }

    pub(super) fn victim_client(&self, a: &Attacker) -> usize {
        CLIENTS - 1 - a.n % CLIENTS
    }

    /// The client attacker `a` betrays in round `r`: its victim (camouflage), otherwise one
    /// drawn at random, never the insider.
    pub(super) fn betrayed_client(&self, a: &Attacker, r: u32) -> usize {
        if a.role == Role::Camouflage {
            return self.victim_client(a);
        }
        let pick = (draw(self.seed, r, a.slot(), DRAW_CLIENT) % CLIENTS as u64) as usize;
        if self.insider == Some(pick) {
            (pick + 1) % CLIENTS
        } else {
            pick
        }
    }

    /// What attacker `a` does with real clients this round, given its limit.
    pub(super) fn decide_move(&self, a: &mut Attacker, r: u32, limit: f64) -> Move {
        a.best_limit = a.best_limit.max(limit);
        match a.role {
            Role::OnOff => {
                if r % 15 < 10 {
                    Move::Climb
                } else {
                    Move::Betray
                }
            }
            Role::SlowCon => {
                if a.gone {
                    Move::Idle
                } else if r >= self.rounds * 3 / 4 {
                    a.gone = true;
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Whitewash => {
                if limit >= 1_000.0 || r.saturating_sub(a.born) >= 30 || limit <= 0.0 {
                    a.rejoin = true;
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::ExitScam => {
                if a.gone {
                    Move::Idle
                } else if limit >= 1_000.0 || r >= self.rounds / 2 {
                    a.gone = true;
                    Move::Scam
                } else {
                    Move::Climb
                }
            }
            Role::SybilFront => Move::Betray,
            Role::BallotTarget => {
                let goal = if a.best_limit >= MAX_EXPOSURE || r < self.rounds / 2 {
                    MAX_EXPOSURE
                } else {
                    1_000.0
                };
                if limit >= goal {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Camouflage => {
                if (r + 4 * a.n as u32) % 12 == 11 {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::Slicer => {
                // First up to a limit of 1,000 (or half the run), then betray whenever back at
                // the best limit it ever had.
                let ready = a.best_limit >= 1_000.0 || r >= self.rounds / 2;
                if ready && limit >= a.best_limit && limit > NEWCOMER_STAKE {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::RingFront => {
                // Betray at 1,000 or more; once half its time is gone without that, at any
                // limit it is given.
                let patience = a.born + (self.rounds - a.born) / 2;
                if r < a.born || limit <= 0.0 {
                    Move::Idle
                } else if limit >= 1_000.0 || (r >= patience && a.best_limit < 1_000.0) {
                    Move::Betray
                } else {
                    Move::Idle
                }
            }
            Role::RatingFront => {
                if r % 10 == 9 {
                    Move::Betray
                } else {
                    Move::Climb
                }
            }
            Role::SybilSupporter
            | Role::Badmouther
            | Role::Accomplice
            | Role::Colluder
            | Role::RingMember
            | Role::OldRingMember
            | Role::Rater => Move::Idle,
        }
    }
}
