//! Requests and replies of the HTTP API (besides the views in [`crate::views`]), and the error
//! body every failure answers with.

use crate::views::{DecisionView, LevelView, RankRow, VerdictView, hex};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepwise::evidence::Id;
use stepwise::ledger::{ConsistencyProof, InclusionProof};
use stepwise_store::keys::{KeyRecord, Role};
use utoipa::{IntoParams, ToSchema};

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `invalid_request`,
    /// `invalid_event`, `at_out_of_window`, `entry_too_large`, `approval_refused`, `not_found`,
    /// `in_clear_entries`, `already_answered`, `method_not_allowed`,
    /// `payload_too_large`, `batch_too_large`, `rate_limited`, `timeout`, `log_behind`,
    /// `unavailable`, `store_corrupt`, `internal`.
    pub code: String,
    /// What went wrong, in words, naming the field at fault when there is one.
    pub message: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Liveness, and how far behind the store this process is.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`; `store_unreachable` (with status 503) when the last read of the store failed.
    pub status: &'static str,
    /// Entries of the log this process has folded: what its answers are computed from.
    pub log_size: u64,
    /// The largest log size this process has seen the store hold: announced by the store
    /// (PostgreSQL), read by its follower, or written by itself.
    pub store_log_size: u64,
    /// `store_log_size − log_size`: entries, written by any process, not folded here yet.
    pub behind: u64,
}

/// One event's place in the log, or why it was refused.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppendResult {
    /// The event's log index, when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Why it was refused, when it was (code `invalid_event`, naming the field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// A checkpoint's size and root.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointRef {
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
}

/// What an append did. Every index given is durable.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppendResponse {
    /// One result per event, in the order sent.
    pub results: Vec<AppendResult>,
    /// How many were recorded.
    pub recorded: usize,
    /// How many were refused.
    pub refused: usize,
    /// The checkpoint signed for the commit that carried them.
    pub checkpoint: CheckpointRef,
}

/// The body of an append: one event, or a batch of events, each as in `docs/LOG.md`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventsBody {
    /// One event.
    One(serde_json::Map<String, Value>),
    /// A batch, recorded in order.
    Many(Vec<serde_json::Map<String, Value>>),
}

/// Query of an append.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppendQuery {
    /// `true`: load dated history (admin keys only). Each event may be dated any time up to
    /// `max_ahead` past now, and its entry is marked `"history": true`.
    pub history: Option<bool>,
}

/// A stored event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Its log index.
    pub index: u64,
    /// Its canonical bytes, base64.
    pub bytes: String,
    /// `SHA-256(0x00 ‖ bytes)`, hex.
    pub leaf_hash: String,
    /// The event, decoded: the leaf as it is (in format 3, principals by pseudonym — shown to a
    /// key by their ids — and commitments in place of the note, signature and promise id).
    #[schema(value_type = Object)]
    pub event: Value,
    /// Format 3: the event opened, with the note, signature and promise id its commitments hide
    /// (those whose openings are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub opened: Option<Value>,
    /// Format 3: the hidden fields whose openings were erased (their principal was forgotten).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<String>,
}

/// Query of an inclusion proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry.
    pub index: u64,
    /// Tree size (default: the newest checkpoint's).
    pub size: Option<u64>,
}

/// An inclusion proof (RFC 6962 §2.1.1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionView {
    /// The entry.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// The entry's leaf hash, hex.
    pub leaf_hash: String,
    /// The root at `size`, hex.
    pub root: String,
    /// The audit path, leaf side first, hex.
    pub proof: Vec<String>,
}

impl From<&InclusionProof> for InclusionView {
    fn from(p: &InclusionProof) -> Self {
        Self {
            index: p.index,
            size: p.size,
            leaf_hash: hex(&p.leaf_hash),
            root: hex(&p.root),
            proof: p.hashes.iter().map(|h| hex(h)).collect(),
        }
    }
}

/// Query of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older size (≥ 1).
    pub old: u64,
    /// The newer size (default: the newest checkpoint's).
    pub new: Option<u64>,
}

/// A consistency proof (RFC 6962 §2.1.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyView {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// Root at the older size, hex.
    pub old_root: String,
    /// Root at the newer size, hex.
    pub new_root: String,
    /// The proof, hex.
    pub proof: Vec<String>,
}

impl From<&ConsistencyProof> for ConsistencyView {
    fn from(p: &ConsistencyProof) -> Self {
        Self {
            old_size: p.old_size,
            new_size: p.new_size,
            old_root: hex(&p.old_root),
            new_root: hex(&p.new_root),
            proof: p.hashes.iter().map(|h| hex(h)).collect(),
        }
    }
}

/// Query of a trust figure.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrustQuery {
    /// From this principal's point of view (default: everyone's).
    #[param(pattern = r"^[!-~]{1,128}$")]
    pub truster: Option<String>,
    /// Only evidence in this scope.
    #[param(pattern = r"^[!-~]{1,128}$")]
    pub scope: Option<String>,
    /// The instant, RFC 3339 (default: now); only events dated up to then count.
    #[param(format = DateTime)]
    pub at: Option<String>,
    /// Answer from the first `log_size` entries only (default: all): with `at`, replays an
    /// earlier answer exactly.
    pub log_size: Option<u64>,
    /// With `log_size`: the network rank of the first `rank_log_size` entries (default: of the
    /// first `log_size`), as an earlier answer reported it.
    pub rank_log_size: Option<u64>,
}

/// A decision request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The principal asking to act.
    #[schema(pattern = r"^[!-~]{1,128}$")]
    pub subject: String,
    /// What it asks to do (a capability of the ladder).
    #[schema(min_length = 1, max_length = 128)]
    pub capability: String,
    /// What is at stake (≥ 0).
    #[schema(minimum = 0)]
    pub stake: f64,
    /// Decide for this truster, with its own (stricter) profile.
    #[serde(default)]
    #[schema(pattern = r"^[!-~]{1,128}$")]
    pub truster: Option<String>,
    /// The instant, RFC 3339 (default: now); only events dated up to then count.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub at: Option<String>,
    /// Decide from the first `log_size` entries only (default: all): with `at`, replays an
    /// earlier decision exactly.
    #[serde(default)]
    pub log_size: Option<u64>,
    /// With `log_size`: the network rank of the first `rank_log_size` entries (default: of the
    /// first `log_size`), as an earlier decision reported it.
    #[serde(default)]
    pub rank_log_size: Option<u64>,
    /// `false`: answer with the verdict alone (no reasons in words, no next step).
    #[serde(default)]
    pub explain: Option<bool>,
    /// `true`: answer with a receipt of the explained decision, which anyone checks with the
    /// log's key alone (`stepwise receipt verify`).
    #[serde(default)]
    pub receipt: Option<bool>,
}

/// A decision receipt: the decision, the log's signature over it, and a C2SP tlog-proof for
/// each entry it rests on (docs/API.md, "Receipts"); the wire form of
/// `stepwise::ledger::receipt::Receipt`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    /// `stepwise-receipt/v1`.
    pub format: String,
    /// The decision, as `POST /v1/decide` answers it.
    #[schema(value_type = DecisionView)]
    pub decision: serde_json::Value,
    /// What re-deriving the decision from the log takes (`stepwise receipt verify --replay`):
    /// the policy's text and the pseudonyms of the principals involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReceiptReplayView>,
    /// A C2SP signed note by the log's key: the format, then the decision's canonical JSON
    /// (RFC 8785), then that of `replay.pseudonyms`.
    pub signed: String,
    /// One C2SP tlog-proof per entry the decision rests on (its bytes in the `extra` line):
    /// the policy entry, then each cited entry, in order.
    pub proofs: Vec<String>,
}

/// A receipt's replay data (`stepwise::ledger::receipt::ReplayData`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptReplayView {
    /// The text of the policy the decision was made under (its SHA-256 is the policy entry's).
    pub policy: String,
    /// Principal id → the 32 hex digits of its pseudonym (without its `~`); principals not
    /// listed are named in the clear.
    pub pseudonyms: std::collections::BTreeMap<String, String>,
}

impl From<stepwise::ledger::receipt::Receipt> for ReceiptView {
    fn from(r: stepwise::ledger::receipt::Receipt) -> Self {
        Self {
            format: r.format,
            decision: r.decision,
            replay: r.replay.map(|d| ReceiptReplayView {
                policy: d.policy,
                pseudonyms: d.pseudonyms,
            }),
            signed: r.signed,
            proofs: r.proofs,
        }
    }
}

/// A decision, explained (the default) or as a bare verdict (`"explain": false`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DecideReply {
    /// The verdict with its reasons, next step and evidence: as `stepwise decide --json`.
    Explained(Box<DecisionView>),
    /// The verdict alone.
    Verdict(VerdictView),
    /// A receipt of the explained decision (`"receipt": true`).
    Receipt(Box<ReceiptView>),
}

/// One answer of `POST /v1/decide/batch`: the decision, or why its request was refused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DecideBatchItem {
    /// The decision, as `POST /v1/decide` answers it.
    Decided(DecideReply),
    /// The request was refused (the status it would have had alone is in `error.code`).
    Refused {
        /// Why.
        error: ErrorBody,
    },
}

/// Query of an explanation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// The instant, RFC 3339 (default: now); only events dated up to then count.
    #[param(format = DateTime)]
    pub at: Option<String>,
    /// Answer from the first `log_size` entries only (default: all): with `at`, replays an
    /// earlier answer exactly.
    pub log_size: Option<u64>,
}

/// Query of the network rank.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankQuery {
    /// How many principals to list, highest first (default 20, at most 10000).
    pub top: Option<usize>,
}

/// The network rank (EigenTrust over the live state).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RankView {
    /// The highest-ranked principals, highest first.
    pub principals: Vec<RankRow>,
    /// How many principals are ranked in all.
    pub total: usize,
    /// Whether the iteration converged.
    pub converged: bool,
    /// Log size of the state served (the rank may be behind it: `rank_log_size`).
    pub log_size: u64,
    /// The policy entry the state was folded under (its seeds and rank settings); `null`: the
    /// log records no policy up to `log_size`.
    pub policy_entry: Option<u64>,
    /// Log size the rank was computed at.
    pub rank_log_size: u64,
}

/// Query of the promises that await judgement.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromisesQuery {
    /// Must be `true`: the promises with no outcome yet (settled promises live in the log).
    pub open: Option<bool>,
    /// Only those made to this principal (its review queue).
    pub promisee: Option<String>,
    /// Continue after this log index: the `next_cursor` of the page before.
    pub cursor: Option<u64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
    /// The instant overdue promises are marked as of (RFC 3339; default now).
    pub at: Option<String>,
}

/// A promise with no outcome yet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromiseRow {
    /// The promise's id (what an outcome names).
    pub id: String,
    /// Who made it.
    pub promisor: String,
    /// Who judges it: the only principal who may record its outcome.
    pub promisee: String,
    /// In what scope.
    pub scope: String,
    /// At what stake.
    pub stake: f64,
    /// When it was made (RFC 3339).
    pub made: String,
    /// When it falls due (RFC 3339).
    pub due: String,
    /// Past due at `at`: it counts as broken until its outcome is recorded.
    pub overdue: bool,
    /// Its log index.
    pub index: u64,
    /// Who approved the call the promise was made for (`stepwise gate`'s approvals), if anyone:
    /// it answers for the promise too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
}

impl From<&stepwise::model::OpenPromiseRow> for PromiseRow {
    fn from(r: &stepwise::model::OpenPromiseRow) -> Self {
        Self {
            id: r.id.to_string(),
            promisor: r.promisor.to_string(),
            promisee: r.promisee.to_string(),
            scope: r.scope.to_string(),
            stake: r.stake,
            made: r.made.to_string(),
            due: r.due.to_string(),
            overdue: r.overdue,
            index: r.index,
            approver: r.approver.as_ref().map(ToString::to_string),
        }
    }
}

/// Promises that await judgement, oldest first, a page at a time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromisesView {
    /// The page, oldest first.
    pub promises: Vec<PromiseRow>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<u64>,
    /// The instant overdue promises were marked as of (RFC 3339).
    pub at: String,
    /// Log size of the state served.
    pub log_size: u64,
}

impl PromisesView {
    /// A page of `rows` (`more` when others follow), as of `at`, from a state at `log_size`.
    pub fn new(
        rows: Vec<stepwise::model::OpenPromiseRow>,
        more: bool,
        at: stepwise::evidence::Time,
        log_size: u64,
    ) -> Self {
        let next_cursor = more.then(|| rows.last().map(|r| r.index)).flatten();
        Self {
            promises: rows.into_iter().map(|r| PromiseRow::from(&r)).collect(),
            next_cursor,
            at: at.to_string(),
            log_size,
        }
    }
}

/// The policy in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyView {
    /// The policy file (TOML), as the server read it at start.
    pub toml: String,
    /// The ladder it defines.
    pub ladder: Vec<LevelView>,
    /// The log's verifier key (signed-note form), to check checkpoints with.
    pub verifier_key: String,
}

/// A request for a new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// What the key may do.
    pub role: RoleName,
    /// The principal the key records as (recorders and admins that record).
    #[serde(default)]
    #[schema(pattern = r"^[!-~]{1,128}$")]
    pub principal: Option<String>,
}

/// A key's role: `admin` (keys, and everything a recorder may), `recorder` (records as its
/// principal, and reads) or `reader` (reads only).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Manages keys; records and reads.
    Admin,
    /// Records as its principal; reads.
    Recorder,
    /// Reads.
    Reader,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Recorder => Role::Recorder,
            RoleName::Reader => Role::Reader,
        }
    }
}

/// An API key's record (never the key itself).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// Public id.
    pub id: String,
    /// Role.
    pub role: String,
    /// The principal it records as.
    pub principal: Option<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<&KeyRecord> for KeyView {
    fn from(r: &KeyRecord) -> Self {
        Self {
            id: r.id.clone(),
            role: r.role.as_str().to_owned(),
            principal: r.principal.as_ref().map(Id::to_string),
            created: r.created.to_string(),
            revoked: r.revoked,
        }
    }
}

/// A new key: shown once, stored only hashed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    /// The key, to send as `Authorization: Bearer <key>`. It cannot be shown again.
    pub key: String,
    /// Its record.
    #[serde(flatten)]
    pub record: KeyView,
}

/// What forgetting a principal did (`DELETE /v1/principals/{id}`, `stepwise forget --json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForgetView {
    /// The id forgotten: from now on it answers as a principal with no evidence.
    pub id: String,
    /// Its pseudonym, the only name its erasure entry and its old entries carry.
    pub pseudonym: Option<String>,
    /// The log index of the erasure entry.
    pub erasure_entry: Option<u64>,
    /// Format-1/2 entries that name it in the clear and stay (then the answer is the error
    /// `in_clear_entries`, which lists them).
    pub in_clear_entries: Vec<u64>,
    /// Earlier erasures, cut short by a crash, that this call finished (their pseudonyms).
    pub finished: Vec<String>,
}

/// Query of `DELETE /v1/principals/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForgetQuery {
    /// Why: `request` (the principal asked; the default), `legal` (ordered), `policy` (the
    /// operator's retention rule). Written in the erasure entry.
    pub reason: Option<String>,
}

/// A principal's pseudonym and the secret it is derived from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    /// The principal.
    pub id: String,
    /// Its name in the log.
    pub pseudonym: String,
    /// Its 32-byte secret, base64.
    pub secret: String,
}
