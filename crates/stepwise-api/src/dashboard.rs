//! The views the dashboard reads (and any client may): who a key is, the principals table,
//! the overview, a principal's standing through time and its vouches, and the steps on the
//! ladder that the live stream announces.

use crate::views::CauseView;
use crate::{PromiseRow, cause_text};
use serde::{Deserialize, Serialize};
use stepwise::evidence::Id;
use stepwise::ladder::{Ladder, Step};
use utoipa::{IntoParams, ToSchema};

/// The key a request was made with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The key's public id.
    pub key_id: String,
    /// Its role: `reader`, `recorder` or `admin`.
    pub role: String,
    /// The principal it records as, if any: whose review queue is its own.
    pub principal: Option<String>,
}

/// How to list principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalSort {
    /// By id, ascending.
    #[default]
    Id,
    /// Highest level first, then highest expected trust, then id.
    Level,
    /// Highest expected trust (standing) first, then id.
    Trust,
    /// Highest network rank first, then id.
    Rank,
}

/// Query of the principals table.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrincipalsQuery {
    /// Only principals whose id starts with this.
    #[param(max_length = 128)]
    pub prefix: Option<String>,
    /// `id` (default), `level`, `trust` or `rank`.
    #[param(inline)]
    pub sort: Option<PrincipalSort>,
    /// `next_cursor` of the page before.
    #[param(max_length = 300)]
    pub cursor: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// One principal in the table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrincipalRow {
    /// The principal.
    pub principal: String,
    /// Its level.
    pub level: usize,
    /// The level's name.
    pub level_name: String,
    /// Expected trust of its standing (direct evidence, as the ladder reads it).
    pub expected: f64,
    /// Uncertainty of that standing.
    pub uncertainty: f64,
    /// Its network rank score (scores sum to 1 over every principal).
    pub rank: f64,
}

/// A page of the principals table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrincipalsView {
    /// The page, in the order asked.
    pub principals: Vec<PrincipalRow>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
    /// Principals whose id starts with the prefix (all of them without one).
    pub matched: usize,
    /// Principals in the table.
    pub total: usize,
    /// Log size the table was computed from: the server recomputes it in the background after
    /// the log grows, so it may be a little behind the log.
    pub log_size: u64,
    /// The instant levels and standing were computed at (RFC 3339).
    pub at: String,
}

/// A promotion or demotion of one principal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrincipalStep {
    /// Who moved.
    pub principal: String,
    /// When (RFC 3339).
    pub at: String,
    /// Level before.
    pub from: usize,
    /// Level after (above `from`: a promotion).
    pub to: usize,
    /// The name of `from`.
    pub from_name: String,
    /// The name of `to`.
    pub to_name: String,
    /// Why.
    pub cause: CauseView,
    /// Why, in words.
    pub text: String,
}

impl PrincipalStep {
    /// `step` of `principal` under `ladder`.
    pub fn new(ladder: &Ladder, principal: &Id, step: &Step) -> Self {
        let name = |k: usize| {
            ladder
                .levels()
                .get(k)
                .map_or_else(String::new, |l| l.name.clone())
        };
        Self {
            principal: principal.to_string(),
            at: step.at.to_string(),
            from: step.from,
            to: step.to,
            from_name: name(step.from),
            to_name: name(step.to),
            cause: (&step.cause).into(),
            text: cause_text(&step.cause),
        }
    }
}

/// The latest signed checkpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointSummary {
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// The signed note, as `GET /v1/log/checkpoint` serves it.
    pub note: String,
}

/// How many principals stand at one level.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelCount {
    /// The level.
    pub level: usize,
    /// Its name.
    pub name: String,
    /// Principals at it.
    pub principals: usize,
}

/// One log entry in brief.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventSummary {
    /// Its log index.
    pub index: u64,
    /// Its kind (`rating`, `promise`, `outcome`, …).
    pub kind: String,
    /// Who recorded it.
    pub author: String,
    /// Whom it is about, when it names a subject (a promise: its promisee).
    pub subject: Option<String>,
    /// Its instant (RFC 3339).
    pub at: String,
}

/// Promises past due with no outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OverdueView {
    /// How many.
    pub count: usize,
    /// The oldest (at most 10).
    pub promises: Vec<PromiseRow>,
}

/// The state of the log and the ladder at a glance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OverviewView {
    /// Log size.
    pub log_size: u64,
    /// The latest signed checkpoint.
    pub checkpoint: CheckpointSummary,
    /// Principals seen.
    pub principals: usize,
    /// Principals per level, lowest level first.
    pub levels: Vec<LevelCount>,
    /// The latest entries, newest first (at most 10).
    pub recent_events: Vec<EventSummary>,
    /// The latest promotions and demotions, newest first (at most 10).
    pub recent_steps: Vec<PrincipalStep>,
    /// Promises past due with no outcome.
    pub overdue: OverdueView,
    /// Log size the principals table (levels, overdue promises) was computed from.
    pub table_log_size: u64,
    /// The instant the table was computed at (RFC 3339).
    pub at: String,
}

/// Query of a principal's standing through time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// How many points, 2 to 1000 (default 200), evenly spaced from its first evidence to now
    /// (one point, now, for a principal with no evidence yet).
    #[param(minimum = 2, maximum = 1000)]
    pub points: Option<usize>,
}

/// A principal's standing and level at one instant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    /// The instant (RFC 3339).
    pub at: String,
    /// Expected trust of its standing then.
    pub expected: f64,
    /// Its level then.
    pub level: usize,
    /// Evidence about it recorded after the point before and up to this one.
    pub events: u32,
}

/// A principal's standing and level through time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeriesView {
    /// The principal.
    pub principal: String,
    /// The first point's instant (RFC 3339).
    pub from: String,
    /// The last point's instant (RFC 3339).
    pub to: String,
    /// The points, oldest first.
    pub points: Vec<SeriesPoint>,
    /// Every promotion and demotion, oldest first (as in the explanation's timeline).
    pub steps: Vec<crate::StepView>,
    /// Log size of the state served.
    pub log_size: u64,
}

/// One active vouch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VouchView {
    /// Who vouches.
    pub voucher: String,
    /// For whom.
    pub subject: String,
    /// In which scope; `null`: every scope.
    pub scope: Option<String>,
    /// Its log index.
    pub index: u64,
    /// Whether the voucher's word counts (a seed reaches it; always when no seeds are named).
    pub counted: bool,
}

/// The vouches a principal received and gave.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VouchesView {
    /// The principal.
    pub principal: String,
    /// Active vouches for it.
    pub received: Vec<VouchView>,
    /// Active vouches it gave.
    pub given: Vec<VouchView>,
    /// Log size of the state served.
    pub log_size: u64,
}
