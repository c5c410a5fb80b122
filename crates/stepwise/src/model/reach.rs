//! Reach from the seeds: which principals' word counts, kept exactly as the log is folded.
//!
//! Seeded network rank is positive exactly for the principals a seed reaches along trust; this
//! keeps that support itself, event by event, with no rank computed, so that the ladder (a fold,
//! where replay must equal incremental) can ask it at every event. An edge u → v appears the
//! first time u gives positive evidence about v: a kept or partly kept promise of v's that u
//! judged, a positive rating, a vouch. A principal is **reached** when an *extending* principal
//! has an edge to it, and **extends** reach when it is a seed, or when it is reached and at
//! least [`MIN_RECORDERS`] distinct reached principals gave positive evidence about it. So one
//! insider who deals with an attacker makes the attacker's own word count for nothing more: the
//! attacker has one reached recorder, and the ring behind it stays unreached. Reach only grows:
//! a principal reached once stays reached, and what it does later is judged by its own evidence.

use crate::HashSet;

/// Distinct reached principals whose positive evidence lets a reached principal extend reach.
pub const MIN_RECORDERS: u32 = 2;

const REACHED: u8 = 1;
const EXTENDING: u8 = 2;

/// The reach of the seeds over the principals seen so far (numbered as the state numbers them).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Reach {
    flags: Vec<u8>,
    /// Distinct reached principals that gave positive evidence about each principal.
    recorders: Vec<u32>,
    /// Each principal's edges: the principals it gave positive evidence about, first time first.
    out: Vec<Vec<u32>>,
    edges: HashSet<(u32, u32)>,
}

enum Job {
    Reach(u32),
    Check(u32),
}

impl Reach {
    /// Numbers the next principal; a seed reaches, and extends reach, from the start.
    pub(super) fn add_principal(&mut self, seed: bool) {
        self.flags.push(if seed { REACHED | EXTENDING } else { 0 });
        self.recorders.push(0);
        self.out.push(Vec::new());
    }

    /// Whether a seed reaches `who`.
    pub(super) fn reached(&self, who: u32) -> bool {
        self.flags
            .get(who as usize)
            .is_some_and(|f| f & REACHED != 0)
    }

    /// Whether `who` extends reach to those it gives positive evidence about.
    pub(super) fn extends(&self, who: u32) -> bool {
        self.flags
            .get(who as usize)
            .is_some_and(|f| f & EXTENDING != 0)
    }

    /// Whether `from` gave positive evidence about `to`.
    pub(super) fn has_edge(&self, from: u32, to: u32) -> bool {
        self.edges.contains(&(from, to))
    }

    /// `from` gave positive evidence about `to`.
    pub(super) fn positive(&mut self, from: u32, to: u32) {
        if from == to || !self.edges.insert((from, to)) {
            return;
        }
        self.out[from as usize].push(to);
        let mut work = vec![Job::Check(to)];
        if self.reached(from) {
            self.recorders[to as usize] += 1;
        }
        if self.extends(from) {
            work.push(Job::Reach(to));
        }
        self.run(work);
    }

    /// Spreads reach until nothing changes: each principal is reached once and starts to
    /// extend once, so all the work over a whole log is linear in its edges.
    fn run(&mut self, mut work: Vec<Job>) {
        while let Some(job) = work.pop() {
            match job {
                Job::Reach(v) => {
                    if self.reached(v) {
                        continue;
                    }
                    self.flags[v as usize] |= REACHED;
                    for &w in &self.out[v as usize] {
                        self.recorders[w as usize] += 1;
                        work.push(Job::Check(w));
                    }
                    work.push(Job::Check(v));
                }
                Job::Check(v) => {
                    if self.reached(v)
                        && !self.extends(v)
                        && self.recorders[v as usize] >= MIN_RECORDERS
                    {
                        self.flags[v as usize] |= EXTENDING;
                        work.extend(self.out[v as usize].iter().map(|&w| Job::Reach(w)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(n: u32, seeds: &[u32], edges: &[(u32, u32)]) -> Reach {
        let mut r = Reach::default();
        for i in 0..n {
            r.add_principal(seeds.contains(&i));
        }
        for &(a, b) in edges {
            r.positive(a, b);
        }
        r
    }

    #[test]
    fn a_ring_no_seed_reaches_stays_unreached_however_dense() {
        // 0 is the seed; 1 and 2 are members it dealt with; 3..13 a ring dealing only inside.
        let mut edges = vec![(0, 1), (0, 2), (1, 2)];
        for a in 3..13 {
            for b in 3..13 {
                edges.push((a, b));
            }
        }
        let r = reach(13, &[0], &edges);
        assert!(r.reached(1) && r.reached(2));
        assert!((3..13).all(|i| !r.reached(i)));
    }

    #[test]
    fn one_insider_does_not_open_the_ring_two_do() {
        // 0 seed, 1 and 2 reached members who each extend (two reached recorders each);
        // 3 the attacker, 4..8 its ring.
        let base = [(0, 1), (0, 2), (1, 2), (2, 1)];
        let ring: Vec<(u32, u32)> = (4..8).flat_map(|i| [(3, i), (i, 3)]).collect();
        let one: Vec<_> = base
            .iter()
            .copied()
            .chain([(1, 3)])
            .chain(ring.clone())
            .collect();
        let r = reach(8, &[0], &one);
        assert!(r.extends(1) && r.reached(3) && !r.extends(3));
        assert!(
            (4..8).all(|i| !r.reached(i)),
            "one insider: the ring stays out"
        );
        // The order of events does not matter: the second insider last opens it all.
        let mut two = one;
        two.push((2, 3));
        let r = reach(8, &[0], &two);
        assert!(r.extends(3) && (4..8).all(|i| r.reached(i)));
    }
}
