//! What a chart of a principal's past needs, read from the state without a replay: a
//! [`StandingMark`] taken after each event about a principal holds its evidence as it stood
//! then, which fades exactly as the state's own sum does, so its standing at any instant up to
//! the next mark follows from the mark alone. Also the vouches a principal gave and received.
//! Nothing here changes the state.

use super::decay::{Decaying, decay};
use super::opinion::Opinion;
use super::state::TrustState;
use crate::evidence::{Id, Time};

/// The evidence about one principal as it stood after one event (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StandingMark {
    total: Decaying,
}

impl StandingMark {
    /// The size of [`StandingMark::to_bytes`].
    pub const BYTES: usize = 24;

    /// The mark as bytes (its two sums and their instant, little-endian), to be kept outside
    /// memory and read back exactly by [`StandingMark::from_bytes`].
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut out = [0; Self::BYTES];
        out[..8].copy_from_slice(&self.total.positive.to_le_bytes());
        out[8..16].copy_from_slice(&self.total.negative.to_le_bytes());
        out[16..].copy_from_slice(&self.total.at.to_le_bytes());
        out
    }

    /// The mark [`StandingMark::to_bytes`] gave these bytes for.
    pub fn from_bytes(bytes: &[u8; Self::BYTES]) -> Self {
        let word = |i: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            w
        };
        StandingMark {
            total: Decaying {
                positive: f64::from_le_bytes(word(0)),
                negative: f64::from_le_bytes(word(8)),
                at: i64::from_le_bytes(word(16)),
            },
        }
    }
}

/// One active vouch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VouchRow {
    /// Who vouches.
    pub voucher: u32,
    /// For whom.
    pub subject: u32,
    /// In which scope (`None`: every scope).
    pub scope: Option<u32>,
    /// Its log index.
    pub index: u64,
    /// Whether the voucher's word counts (a seed reaches it; always, without seeds).
    pub counted: bool,
}

impl TrustState {
    /// The evidence about `subject` as it stands now, to read its standing later with
    /// [`TrustState::standing_from`].
    pub fn standing_mark(&self, subject: u32) -> StandingMark {
        StandingMark {
            total: self.people[subject as usize].total,
        }
    }

    /// `subject`'s standing at `at` as a mark taken at an earlier event implies: the mark's
    /// evidence faded to `at`, with the principal's promises that are open now and were past
    /// due at `at` counted as broken. A promise that was overdue at `at` but has been judged
    /// since is not counted (its outcome is, from the mark after it). No mark: no evidence
    /// yet; no subject: a principal never seen. For the latest mark and an instant after it,
    /// this is [`TrustState::standing`].
    pub fn standing_from(
        &self,
        mark: Option<&StandingMark>,
        subject: Option<u32>,
        at: Time,
    ) -> Opinion {
        let p = &self.params;
        let at = at.as_micros();
        let mut evidence = mark.map_or_else(Default::default, |m| m.total.value(at, p));
        if let Some(s) = subject {
            for o in &self.people[s as usize].open {
                if o.made <= at && o.due <= at {
                    evidence.negative += o.penalty * decay(at - o.made, p.half_life_negative);
                }
            }
        }
        Opinion::from_evidence(evidence, p.prior_weight, p.base_rate)
    }

    /// The active vouches for `subject`, in the order given.
    pub fn vouches_received(&self, subject: u32) -> Vec<VouchRow> {
        self.people[subject as usize]
            .vouched_by
            .iter()
            .map(|v| VouchRow {
                voucher: v.voucher,
                subject,
                scope: v.scope,
                index: v.index,
                counted: self.reached(v.voucher),
            })
            .collect()
    }

    /// The active vouches `voucher` gave, in log order (a walk over every principal's vouches).
    pub fn vouches_given(&self, voucher: u32) -> Vec<VouchRow> {
        let counted = self.reached(voucher);
        let mut rows: Vec<VouchRow> = self
            .people
            .iter()
            .enumerate()
            .flat_map(|(subject, person)| {
                person
                    .vouched_by
                    .iter()
                    .filter(|v| v.voucher == voucher)
                    .map(move |v| VouchRow {
                        voucher,
                        subject: subject as u32,
                        scope: v.scope,
                        index: v.index,
                        counted,
                    })
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.index);
        rows
    }

    /// The name of the scope numbered `scope`.
    pub fn scope_name(&self, scope: u32) -> Option<&Id> {
        self.scopes.ids.get(scope as usize)
    }
}
