//! Evidence that fades: positive and negative sums that decay exponentially with their own
//! half-lives, brought up to date lazily (an update is O(1); a read decays to the instant asked
//! for). Sums of exponentials do not depend on the order of their terms, so evidence dated
//! earlier than the last update is folded in exactly.

use super::opinion::Evidence;
use super::params::ModelParams;
use thin_vec::ThinVec;

/// Positive and negative evidence that decay with their own half-lives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Decaying {
    pub(super) positive: f64,
    pub(super) negative: f64,
    /// The instant both sums are expressed at (microseconds since the epoch).
    pub(super) at: i64,
}

pub(super) fn decay(elapsed: i64, half_life: i64) -> f64 {
    if elapsed <= 0 {
        1.0
    } else {
        (-(elapsed as f64) / half_life as f64).exp2()
    }
}

impl Decaying {
    /// Adds evidence observed at `at`. Sums of exponentially decaying terms do not depend on
    /// the order they are added in, so out-of-order instants are folded in exactly.
    pub(super) fn add(&mut self, at: i64, positive: f64, negative: f64, p: &ModelParams) {
        if self.positive == 0.0 && self.negative == 0.0 {
            self.at = self.at.max(at);
        }
        if at > self.at {
            self.positive *= decay(at - self.at, p.half_life_positive);
            self.negative *= decay(at - self.at, p.half_life_negative);
            self.at = at;
        }
        self.positive += positive * decay(self.at - at, p.half_life_positive);
        self.negative += negative * decay(self.at - at, p.half_life_negative);
    }

    /// The evidence as of `at`. An instant before the last update does not un-see later
    /// evidence: past instants are answered by a state folded up to them.
    pub(super) fn value(&self, at: i64, p: &ModelParams) -> Evidence {
        // A sum that is zero (most principals have no negative evidence) stays what it is,
        // sign included, without the cost of an exponential: with half-lives > 0 (checked by
        // `ModelParams::check`) a decay factor is in [0, 1].
        let faded = |sum: f64, half_life| {
            if sum == 0.0 {
                sum
            } else {
                sum * decay(at - self.at, half_life)
            }
        };
        Evidence {
            positive: faded(self.positive, p.half_life_positive),
            negative: faded(self.negative, p.half_life_negative),
        }
    }
}

pub(super) fn find(list: &[(u32, Decaying)], scope: u32) -> Option<&Decaying> {
    list.iter().find(|(s, _)| *s == scope).map(|(_, d)| d)
}

pub(super) fn scoped(list: &mut ThinVec<(u32, Decaying)>, scope: u32) -> &mut Decaying {
    let i = match list.iter().position(|(s, _)| *s == scope) {
        Some(i) => i,
        None => {
            crate::push_tight(list, (scope, Decaying::default()));
            list.len() - 1
        }
    };
    &mut list[i].1
}
