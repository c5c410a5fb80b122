//! Evidence: the typed events stepwise records, their JSON wire form and their canonical bytes.
//!
//! Everything here is checked on its own, without the log: field presence, types, ranges and
//! sizes. Rules that need the log (duplicate promise ids, who may record an outcome, signatures)
//! live in [`crate::ledger`]. This module never does I/O and never reads the clock.

mod canonical;
mod fields;
mod id;
pub mod jcs;
mod kind;
pub mod seal;
mod time;

use fields::{Fields, Keys, Object};

pub use id::Id;
pub use kind::Kind;
pub use seal::Seal;
pub use time::Time;

use serde_json::{Map, Value};

/// Version of the entry format new logs write, as `"v"`: the stamped event with every principal
/// named by a pseudonym and its free text, signature and promise id by commitments
/// ([`seal`]). See docs/LOG.md.
pub const FORMAT_V3: u64 = 3;
/// Version of stamped entries in the clear (`recorded_at`, and `history` for imported history),
/// written before format 3 and still read, verified and folded.
pub const FORMAT_V2: u64 = 2;
/// Version of entries written before trusted time (the event alone, no stamp), still read,
/// verified and folded; also the form of the bytes an author signs (the event without `sig`
/// and without the ledger's stamp), so a signature never depends on when the log hears it.
pub const FORMAT_V1: u64 = 1;
/// Longest identifier (principal, scope, promise id), in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest free-text `note`, in bytes.
pub const MAX_NOTE_LEN: usize = 1024;
/// Largest event accepted on the wire, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;
/// Largest stake: beyond this a double no longer counts units exactly.
pub const MAX_STAKE: f64 = 1e15;

/// Checks a stake asked about (a decision's, a gated call's): a finite number ≥ 0. The one
/// check of such a stake, whichever door it came through; `field` names it in the error.
pub fn check_stake(field: &str, stake: f64) -> Result<f64, FieldError> {
    if stake.is_finite() && stake >= 0.0 {
        Ok(stake)
    } else {
        Err(FieldError::new(
            field,
            format!("{stake} must be a finite number ≥ 0"),
        ))
    }
}

/// A field of an event was missing or wrong. The message names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct FieldError {
    /// The field, as named on the wire.
    pub field: String,
    /// What is wrong with it, and what was expected.
    pub problem: String,
    /// What kind of refusal it is, for programs: [`Refusal::InvalidEvent`] unless a rule has
    /// its own.
    pub code: Refusal,
}

/// Why an event was refused, as a stable code for programs (each is also a code of the API's
/// error table, with its HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The event itself is malformed or breaks a ledger rule.
    InvalidEvent,
    /// The event's `at` lies outside the log's time window.
    AtOutOfWindow,
    /// The entry would be longer than a tlog-tiles entry bundle can carry (65,535 bytes).
    EntryTooLarge,
    /// An approval whose approver may not approve that call now (`LadderState::may_approve`).
    ApprovalRefused,
}

impl Refusal {
    /// The stable text of the code.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::InvalidEvent => "invalid_event",
            Refusal::AtOutOfWindow => "at_out_of_window",
            Refusal::EntryTooLarge => "entry_too_large",
            Refusal::ApprovalRefused => "approval_refused",
        }
    }
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            code: Refusal::InvalidEvent,
        }
    }

    /// The same problem under a code of its own.
    pub fn with_code(mut self, code: Refusal) -> Self {
        self.code = code;
        self
    }
}

/// Why a principal was forgotten, as an erasure entry says (nothing else about it is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErasureReason {
    /// The principal, or someone acting for it, asked (GDPR Art. 17).
    Request,
    /// A court or an authority ordered it.
    Legal,
    /// The operator's own retention policy.
    Policy,
}

impl ErasureReason {
    /// Every reason.
    pub const ALL: [ErasureReason; 3] = [Self::Request, Self::Legal, Self::Policy];

    /// The reason's code, as written in the entry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Legal => "legal",
            Self::Policy => "policy",
        }
    }

    /// The reason whose code is `s`; the error names `field`.
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{s:?} is not a reason; expected one of request, legal, policy"),
                )
            })
    }
}

/// What happened to a promise, as recorded by the party it was made to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutcomeResult {
    /// Kept in full.
    Kept,
    /// Broken.
    Broken,
    /// Kept in part: `fraction` of it, in [0, 1].
    Partial(f64),
}

/// One of the event kinds of DESIGN.md "Evidence", with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `promisor` commits to `promisee` to do something in `scope`, at `stake`, by `due`.
    Promise {
        /// Unique across the log.
        id: Id,
        /// Who promises (and records the promise).
        promisor: Id,
        /// To whom; the only one who may record its outcome.
        promisee: Id,
        /// What kind of action, e.g. `deploy:staging`.
        scope: Id,
        /// What is at stake, ≥ 0, in the operator's unit.
        stake: f64,
        /// When the outcome is due; a promise with no outcome by then counts as broken.
        due: Time,
    },
    /// The outcome of a promise.
    Outcome {
        /// The promise's id.
        promise: Id,
        /// Kept, broken or partial.
        result: OutcomeResult,
    },
    /// `voucher` vouches for `subject` (in `scope`, or in every scope when `None`).
    Vouch {
        /// Who vouches.
        voucher: Id,
        /// For whom.
        subject: Id,
        /// In which scope; `None` for all.
        scope: Option<Id>,
        /// How strongly, in (0, 1].
        weight: f64,
    },
    /// Withdraws a vouch.
    Unvouch {
        /// Who withdraws.
        voucher: Id,
        /// From whom.
        subject: Id,
        /// The vouch's scope; `None` for all.
        scope: Option<Id>,
    },
    /// A complaint by `reporter` against `subject`.
    Report {
        /// Who reports.
        reporter: Id,
        /// Against whom.
        subject: Id,
        /// In which scope; `None` for all.
        scope: Option<Id>,
        /// How serious, in (0, 1].
        severity: f64,
        /// The log index of the evidence the report points to, if any.
        evidence: Option<u64>,
    },
    /// A rating imported from elsewhere (for example a signed trust network).
    Rating {
        /// Who rates.
        rater: Id,
        /// Whom.
        subject: Id,
        /// In [-1, 1]: −1 distrust, +1 trust.
        value: f64,
        /// In which scope; `None` for all.
        scope: Option<Id>,
    },
    /// Registers `principal`'s ed25519 public key; later events by it must be signed with it.
    Key {
        /// Whose key.
        principal: Id,
        /// The 32-byte ed25519 public key.
        public_key: [u8; 32],
    },
    /// The log forgot `principal` (a pseudonym): its secret and the openings of what names it
    /// were erased. Written only by the operator's `forget`; it changes no trust.
    Erasure {
        /// The forgotten principal's pseudonym.
        principal: Id,
        /// Why.
        reason: ErasureReason,
    },
    /// The policy in force from here on: the SHA-256 of its file, whose text is kept beside
    /// the log. Written only by the log itself, when a server or the command line starts with
    /// a policy other than the last one recorded, or on `stepwise policy apply`; it changes no
    /// trust, but every answer cites the policy entry it was decided under.
    Policy {
        /// SHA-256 of the policy file's bytes, 64 lowercase hex digits.
        sha256: String,
    },
    /// `approver` lets through a call of `subject`'s that the ladder refused "not yet", before
    /// the promise the call makes: an approver lends its own trust, and pays when that promise
    /// is broken (docs/MODEL.md "Approvals").
    Approval {
        /// Who lets the call through (and records this).
        approver: Id,
        /// Whose call it is: the promisor of the promise it allows.
        subject: Id,
        /// The id the call's promise will carry (unused until then).
        promise: Id,
        /// The capability the call asked for, in the policy's vocabulary.
        capability: Id,
        /// The stake the call asked for, ≥ 0.
        stake: f64,
        /// The refusal it overrides: its place in the gate's decision log, if any.
        decision: Option<u64>,
    },
}

/// What the ledger adds to an event when it appends it: when the log heard it, and whether an
/// operator imported it as history (its `at` then is the data set's date, not a live claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// When the ledger appended the entry: the appending process's UTC clock, never decreasing
    /// along the log.
    pub recorded_at: Time,
    /// Imported on purpose as history, outside the time window on `at`.
    pub history: bool,
}

/// An event as recorded: who recorded it, when, what, and optionally the author's signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened (the author's claim).
    pub at: Time,
    /// The principal who records it. `None` only before the ledger fills in the default: the
    /// party allowed to record this kind.
    pub author: Option<Id>,
    /// What happened.
    pub body: Body,
    /// Free text, at most [`MAX_NOTE_LEN`] bytes (in a format-3 entry: `None`, and its
    /// commitment is in `seal`).
    pub note: Option<String>,
    /// The author's ed25519 signature over the event's signing bytes
    /// ([`Event::signing_bytes`]).
    pub sig: Option<[u8; 64]>,
    /// The ledger's stamp: `None` for an event not yet appended (and for format-1 entries,
    /// written before the log stamped time).
    pub stamp: Option<Stamp>,
    /// Format 3: the commitments in place of `note` and `sig` (which are then `None`); `None`
    /// for an event in the clear (a client's, or a format-1/2 entry).
    pub seal: Option<Box<Seal>>,
}

impl Event {
    /// The kind of this event.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::Promise { .. } => Kind::Promise,
            Body::Outcome { .. } => Kind::Outcome,
            Body::Vouch { .. } => Kind::Vouch,
            Body::Unvouch { .. } => Kind::Unvouch,
            Body::Report { .. } => Kind::Report,
            Body::Rating { .. } => Kind::Rating,
            Body::Key { .. } => Kind::Key,
            Body::Erasure { .. } => Kind::Erasure,
            Body::Policy { .. } => Kind::Policy,
            Body::Approval { .. } => Kind::Approval,
        }
    }

    /// The party allowed to record this event, when the event alone says who it is (every kind
    /// but `outcome`, whose recorder is the promisee named in the promise).
    pub fn natural_author(&self) -> Option<&Id> {
        match &self.body {
            Body::Promise { promisor, .. } => Some(promisor),
            Body::Outcome { .. } => None,
            Body::Vouch { voucher, .. } | Body::Unvouch { voucher, .. } => Some(voucher),
            Body::Report { reporter, .. } => Some(reporter),
            Body::Rating { rater, .. } => Some(rater),
            Body::Key { principal, .. } => Some(principal),
            Body::Approval { approver, .. } => Some(approver),
            Body::Erasure { .. } | Body::Policy { .. } => None,
        }
    }

    /// Parses and checks one event from JSON text, as a client sends it: without the ledger's
    /// stamp (`recorded_at`, `history` are refused).
    pub fn from_json(text: &str) -> Result<Self, FieldError> {
        Self::from_text(text, Source::Client)
    }

    /// Decodes the canonical bytes of a stored entry: format 3 (sealed), 2 (stamped) or 1
    /// (written before trusted time).
    pub fn from_entry(bytes: &[u8]) -> Result<Self, FieldError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| FieldError::new("(entry)", "is not valid UTF-8"))?;
        Self::from_text(text, Source::Entry)
    }

    fn from_text(text: &str, source: Source) -> Result<Self, FieldError> {
        // A stored entry may be a little longer than what its client sent: the ledger adds the
        // default author and its stamp.
        let limit = match source {
            Source::Client => MAX_EVENT_BYTES,
            Source::Entry => 2 * MAX_EVENT_BYTES,
        };
        if text.len() > limit {
            return Err(FieldError::new(
                "(event)",
                format!("is {} bytes long; the limit is {limit}", text.len()),
            ));
        }
        let invalid =
            |e: serde_json::Error| FieldError::new("(event)", format!("is not valid JSON: {e}"));
        if !text.trim_start().starts_with('{')
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        {
            return Err(FieldError::new("(event)", "must be a JSON object"));
        }
        // Read in place: the fields located, not parsed into a tree.
        let keys = match source {
            Source::Client => Keys::Any,
            Source::Entry => Keys::Plain,
        };
        Self::parse(&Object::locate(text, keys).map_err(invalid)?, source)
    }

    /// Checks one event given as a JSON value, as a client sends it (no stamp).
    pub fn from_value(value: &Value) -> Result<Self, FieldError> {
        Self::from_value_as(value, Source::Client)
    }

    fn from_value_as(value: &Value, source: Source) -> Result<Self, FieldError> {
        let Value::Object(map) = value else {
            return Err(FieldError::new("(event)", "must be a JSON object"));
        };
        Self::parse(&Object::Parsed(map), source)
    }

    fn parse(map: &Object<'_>, source: Source) -> Result<Self, FieldError> {
        let fields = Fields(map);
        let kind = Kind::parse(&fields.str("kind")?)?;
        let version = match (map.get("v"), source) {
            (None, Source::Client) => FORMAT_V2,
            (None, Source::Entry) => return Err(FieldError::new("v", "is missing")),
            (Some(v), _) if v.as_u64() == Some(FORMAT_V1) => FORMAT_V1,
            (Some(v), _) if v.as_u64() == Some(FORMAT_V2) => FORMAT_V2,
            (Some(v), Source::Entry) if v.as_u64() == Some(FORMAT_V3) => FORMAT_V3,
            (Some(v), Source::Client) if v.as_u64() == Some(FORMAT_V3) => {
                return Err(FieldError::new(
                    "v",
                    "3 is the log's sealed form, which the ledger writes; send the event in the \
                     clear (without `v`)",
                ));
            }
            (Some(v), _) => {
                return Err(FieldError::new(
                    "v",
                    format!(
                        "unsupported format version {v}; this build reads versions {FORMAT_V1} to {FORMAT_V3}"
                    ),
                ));
            }
        };
        let sealed = version == FORMAT_V3;
        if kind == Kind::Policy && source == Source::Client {
            return Err(FieldError::new(
                "kind",
                "policy entries are written by the log itself, when its policy changes \
                 (`stepwise policy apply`)",
            ));
        }
        if kind == Kind::Erasure && !sealed {
            return Err(FieldError::new(
                "kind",
                "erasure entries are written only by `stepwise forget` (DELETE \
                 /v1/principals/{id}), in format 3",
            ));
        }
        for key in map.keys() {
            let hidden = matches!(key, "note" | "sig");
            let committed = matches!(key, "note_commit" | "sig_commit");
            if hidden && sealed {
                return Err(FieldError::new(
                    key,
                    format!("is not a field of format 3 (the leaf holds `{key}_commit`)"),
                ));
            }
            if committed && !sealed {
                return Err(FieldError::new(
                    key,
                    "is a field of format 3 only (a sealed entry's commitment)",
                ));
            }
            if committed {
                continue;
            }
            let stamp = matches!(key, "recorded_at" | "history");
            if stamp && source == Source::Client {
                return Err(FieldError::new(
                    key,
                    "is stamped by the ledger, never sent: the log records when it heard each \
                     event (an operator loads dated history with `stepwise import --history` or \
                     POST /v1/events?history=true)",
                ));
            }
            if stamp && version == FORMAT_V1 {
                return Err(FieldError::new(
                    key,
                    "is not a field of format 1 (entries written before the log stamped time)",
                ));
            }
            let common = matches!(key, "v" | "kind" | "at" | "author" | "note" | "sig");
            if !stamp && !common && !kind.fields().contains(&key) {
                return Err(FieldError::new(
                    key,
                    format!(
                        "is not a field of a {kind} event (its fields: {})",
                        kind.fields().join(", ")
                    ),
                ));
            }
        }
        let body = match kind {
            Kind::Promise => {
                let promisor = fields.id("promisor")?;
                let promisee = fields.id("promisee")?;
                if promisor == promisee {
                    return Err(FieldError::new(
                        "promisee",
                        "must differ from the promisor: a promise to oneself proves nothing",
                    ));
                }
                Body::Promise {
                    id: fields.id("id")?,
                    promisor,
                    promisee,
                    scope: fields.id("scope")?,
                    stake: fields.number_in("stake", 0.0, MAX_STAKE, true)?,
                    due: fields.time("due")?,
                }
            }
            Kind::Outcome => {
                let result = match &*fields.str("result")? {
                    "kept" => OutcomeResult::Kept,
                    "broken" => OutcomeResult::Broken,
                    "partial" => {
                        OutcomeResult::Partial(fields.number_in("fraction", 0.0, 1.0, true)?)
                    }
                    other => {
                        return Err(FieldError::new(
                            "result",
                            format!("{other:?} is not one of kept, broken, partial"),
                        ));
                    }
                };
                if !matches!(result, OutcomeResult::Partial(_)) && map.contains_key("fraction") {
                    return Err(FieldError::new(
                        "fraction",
                        "is only allowed with result \"partial\"",
                    ));
                }
                Body::Outcome {
                    promise: fields.id("promise")?,
                    result,
                }
            }
            Kind::Vouch => {
                let (voucher, subject) = fields.pair("voucher", "subject")?;
                Body::Vouch {
                    voucher,
                    subject,
                    scope: fields.optional_id("scope")?,
                    weight: fields.number_in("weight", 0.0, 1.0, false)?,
                }
            }
            Kind::Unvouch => {
                let (voucher, subject) = fields.pair("voucher", "subject")?;
                Body::Unvouch {
                    voucher,
                    subject,
                    scope: fields.optional_id("scope")?,
                }
            }
            Kind::Report => {
                let (reporter, subject) = fields.pair("reporter", "subject")?;
                Body::Report {
                    reporter,
                    subject,
                    scope: fields.optional_id("scope")?,
                    severity: fields.number_in("severity", 0.0, 1.0, false)?,
                    evidence: fields.optional_index("evidence", "a log index")?,
                }
            }
            Kind::Rating => {
                let (rater, subject) = fields.pair("rater", "subject")?;
                Body::Rating {
                    rater,
                    subject,
                    value: fields.number_in("value", -1.0, 1.0, true)?,
                    scope: fields.optional_id("scope")?,
                }
            }
            Kind::Key => Body::Key {
                principal: fields.id("principal")?,
                public_key: fields.bytes::<32>("public_key")?,
            },
            Kind::Erasure => {
                let principal = fields.id("principal")?;
                if !seal::is_pseudonym(principal.as_str()) {
                    return Err(FieldError::new(
                        "principal",
                        format!("{principal} is not a pseudonym (`~` and 32 hex digits)"),
                    ));
                }
                if map.contains_key("author") {
                    return Err(FieldError::new(
                        "author",
                        "an erasure is the log's own act: it has no author",
                    ));
                }
                Body::Erasure {
                    principal,
                    reason: ErasureReason::parse("reason", &fields.str("reason")?)?,
                }
            }
            Kind::Approval => {
                let approver = fields.id("approver")?;
                let subject = fields.id("subject")?;
                if approver == subject {
                    return Err(FieldError::new(
                        "subject",
                        "must differ from `approver`: nobody lends itself trust it does not have",
                    ));
                }
                Body::Approval {
                    approver,
                    subject,
                    promise: fields.id("promise")?,
                    capability: fields.id("capability")?,
                    stake: fields.number_in("stake", 0.0, MAX_STAKE, true)?,
                    decision: fields
                        .optional_index("decision", "a place in the gate's decision log")?,
                }
            }
            Kind::Policy => {
                let sha256 = fields.str("sha256")?;
                let hex = sha256.len() == 64
                    && sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !hex {
                    return Err(FieldError::new(
                        "sha256",
                        "must be a SHA-256 in 64 lowercase hex digits",
                    ));
                }
                if map.contains_key("author") {
                    return Err(FieldError::new(
                        "author",
                        "a policy entry is the log's own act: it has no author",
                    ));
                }
                Body::Policy {
                    sha256: sha256.into_owned(),
                }
            }
        };
        let note = match map.get("note").map(|v| v.as_str()) {
            None => None,
            Some(Some(s)) if s.len() <= MAX_NOTE_LEN => Some(s.into_owned()),
            Some(Some(s)) => {
                return Err(FieldError::new(
                    "note",
                    format!("is {} bytes long; the limit is {MAX_NOTE_LEN}", s.len()),
                ));
            }
            Some(None) => return Err(FieldError::new("note", "must be a string")),
        };
        let stamp = match (source, version) {
            (Source::Entry, FORMAT_V2 | FORMAT_V3) => Some(Stamp {
                recorded_at: fields.time("recorded_at")?,
                history: match map.get("history").map(|v| v.as_bool()) {
                    None => false,
                    Some(Some(b)) => b,
                    Some(None) => {
                        return Err(FieldError::new("history", "must be true or absent"));
                    }
                },
            }),
            _ => None,
        };
        let event = Event {
            at: fields.time("at")?,
            author: fields.optional_id("author")?,
            body,
            note,
            sig: match map.get("sig") {
                None => None,
                Some(_) => Some(fields.bytes::<64>("sig")?),
            },
            stamp,
            seal: if sealed {
                let commitment = |key: &str| match map.get(key) {
                    None => Ok(None),
                    Some(_) => fields.bytes::<32>(key).map(Some),
                };
                Some(Box::new(Seal {
                    note: commitment("note_commit")?,
                    sig: commitment("sig_commit")?,
                    ..Seal::default()
                }))
            } else {
                None
            },
        };
        if source == Source::Client {
            reserved_names(&event)?;
        }
        // Format 1 allowed a promise due at the instant it was made; nothing new may be.
        if let Body::Promise { due, .. } = &event.body {
            let too_early = if version == FORMAT_V1 && source == Source::Entry {
                *due < event.at
            } else {
                *due <= event.at
            };
            if too_early {
                return Err(FieldError::new(
                    "due",
                    format!(
                        "{due} must be after the promise's own time `at` {}",
                        event.at
                    ),
                ));
            }
        }
        Ok(event)
    }

    /// The event as a JSON value in its wire form (`v` included).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        for (key, field) in self.fields(true) {
            map.insert(key.to_owned(), field.to_value());
        }
        Value::Object(map)
    }

    /// The canonical (RFC 8785) bytes of the event: what the ledger stores and hashes. Sealed,
    /// they are format 3; with a stamp, format 2 (`recorded_at`, `history` included); without,
    /// format 1.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        self.write_canonical(true)
    }

    /// The bytes the author signs: the event in format 1 without `sig`, that is without the
    /// ledger's stamp, which the author cannot know when signing.
    pub fn signing_bytes(&self) -> Vec<u8> {
        self.write_canonical(false)
    }
}

/// A client names principals and promises by ids; names that begin with `~` are the log's own
/// (pseudonyms and sealed promise ids, format 3), so no client may give one.
fn reserved_names(event: &Event) -> Result<(), FieldError> {
    let promise_ids = match &event.body {
        Body::Promise { id, .. } => Some(("id", id)),
        Body::Outcome { promise, .. } | Body::Approval { promise, .. } => {
            Some(("promise", promise))
        }
        _ => None,
    };
    let principals = event
        .author
        .iter()
        .map(|a| ("author", a))
        .chain(body_fields(&event.body));
    for (field, id) in principals.chain(promise_ids) {
        if id.as_str().starts_with(seal::PSEUDONYM_PREFIX) {
            return Err(FieldError::new(
                field,
                format!(
                    "{id} begins with `~`, which marks the log's own pseudonyms; name principals \
                     and promises by their ids"
                ),
            ));
        }
    }
    Ok(())
}

/// The principal fields of a body, with their wire names.
fn body_fields(body: &Body) -> Vec<(&'static str, &Id)> {
    match body {
        Body::Promise {
            promisor, promisee, ..
        } => vec![("promisor", promisor), ("promisee", promisee)],
        Body::Outcome { .. } => vec![],
        Body::Vouch {
            voucher, subject, ..
        }
        | Body::Unvouch {
            voucher, subject, ..
        } => vec![("voucher", voucher), ("subject", subject)],
        Body::Report {
            reporter, subject, ..
        } => vec![("reporter", reporter), ("subject", subject)],
        Body::Rating { rater, subject, .. } => vec![("rater", rater), ("subject", subject)],
        Body::Approval {
            approver, subject, ..
        } => vec![("approver", approver), ("subject", subject)],
        Body::Key { principal, .. } | Body::Erasure { principal, .. } => {
            vec![("principal", principal)]
        }
        Body::Policy { .. } => vec![],
    }
}

/// Standard padded base64, the encoding of keys and signatures on the wire.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Who wrote the JSON being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A client: an event to append, without the ledger's stamp.
    Client,
    /// The ledger: a stored entry, format 1 or 2.
    Entry,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Event, FieldError> {
        Event::from_json(json)
    }

    #[test]
    fn a_promise_round_trips_through_canonical_bytes() {
        let event = parse(
            r#"{"kind":"promise","at":"2026-11-25T14:00:00+02:00","id":"p-1","promisor":"agent:a",
                "promisee":"user:b","scope":"deploy:staging","stake":10.50,"due":"2026-11-26T00:00:00Z"}"#,
        )
        .expect("valid");
        let bytes = event.canonical_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"at":"2026-11-25T12:00:00Z","due":"2026-11-26T00:00:00Z","id":"p-1","kind":"promise","promisee":"user:b","promisor":"agent:a","scope":"deploy:staging","stake":10.5,"v":1}"#
        );
        let again = Event::from_json(std::str::from_utf8(&bytes).expect("utf-8")).expect("valid");
        assert_eq!(again, event);
        assert_eq!(again.canonical_bytes(), bytes);
    }

    #[test]
    fn an_approval_round_trips_and_names_every_bad_field() {
        let json = r#"{"kind":"approval","at":"2026-11-25T12:00:00Z","approver":"user:ann","subject":"agent:bot",
            "promise":"gate-7","capability":"deploy","stake":5,"decision":17,"note":"looked fine"}"#;
        let event = parse(json).expect("valid");
        assert_eq!(event.kind(), Kind::Approval);
        assert_eq!(event.natural_author().map(Id::as_str), Some("user:ann"));
        let bytes = event.canonical_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"approver":"user:ann","at":"2026-11-25T12:00:00Z","capability":"deploy","decision":17,"kind":"approval","note":"looked fine","promise":"gate-7","stake":5,"subject":"agent:bot","v":1}"#
        );
        assert_eq!(bytes, jcs::to_vec(&event.to_value()).expect("canonical"));
        let again = Event::from_entry(&bytes).expect("decodes");
        assert_eq!((again.canonical_bytes(), &again), (bytes, &event));
        // Without a decision it is still an approval; `decision` is then absent, not null.
        let bare = json.replace(r#","decision":17"#, "");
        let bare = parse(&bare).expect("valid");
        assert!(
            !String::from_utf8(bare.canonical_bytes())
                .expect("utf-8")
                .contains("decision")
        );
        let base = r#""kind":"approval","at":"2026-01-01T00:00:00Z""#;
        for (fields, field) in [
            (
                r#""approver":"a","subject":"a","promise":"p","capability":"c","stake":1"#,
                "subject",
            ),
            (
                r#""subject":"b","promise":"p","capability":"c","stake":1"#,
                "approver",
            ),
            (
                r#""approver":"a","subject":"b","capability":"c","stake":1"#,
                "promise",
            ),
            (
                r#""approver":"a","subject":"b","promise":"p","capability":"two words","stake":1"#,
                "capability",
            ),
            (
                r#""approver":"a","subject":"b","promise":"p","capability":"c","stake":-1"#,
                "stake",
            ),
            (
                r#""approver":"a","subject":"b","promise":"p","capability":"c""#,
                "stake",
            ),
            (
                r#""approver":"a","subject":"b","promise":"p","capability":"c","stake":1,"decision":1.5"#,
                "decision",
            ),
            (
                r#""approver":"a","subject":"b","promise":"p","capability":"c","stake":1,"scope":"s""#,
                "scope",
            ),
            (
                r#""approver":"a","subject":"b","promise":"~0123456789abcdef0123456789abcdef","capability":"c","stake":1"#,
                "promise",
            ),
            (
                r#""approver":"~0123456789abcdef0123456789abcdef","subject":"b","promise":"p","capability":"c","stake":1"#,
                "approver",
            ),
        ] {
            let json = format!("{{{base},{fields}}}");
            let err = parse(&json).expect_err(&json);
            assert_eq!(err.field, field, "{json}: {err}");
        }
    }

    #[test]
    fn canonical_bytes_agree_with_generic_jcs() {
        let event = parse(
            r#"{"kind":"report","at":"2026-01-01T00:00:00.25Z","reporter":"r","subject":"s","severity":1e-7,
                "evidence":3,"note":"line\nbreak \"quoted\" é","author":"r"}"#,
        )
        .expect("valid");
        assert_eq!(
            event.canonical_bytes(),
            jcs::to_vec(&event.to_value()).expect("canonical")
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = r#""at":"2026-01-01T00:00:00Z","id":"p","promisor":"a","promisee":"b","scope":"s","due":"2026-02-01T00:00:00Z""#;
        let cases: &[(&str, &str)] = &[
            (r#"{"kind":"promise","stake":-1,BASE}"#, "stake"),
            (r#"{"kind":"promise","stake":"NaN",BASE}"#, "stake"),
            (r#"{"kind":"promise",BASE}"#, "stake"),
            (
                r#"{"kind":"promise","stake":1,"colour":"red",BASE}"#,
                "colour",
            ),
            (r#"{"kind":"promize","stake":1,BASE}"#, "kind"),
            (r#"{"kind":"promise","stake":1,"v":3,BASE}"#, "v"),
            (
                r#"{"kind":"promise","stake":1,"at":"2026-03-01T00:00:00Z","id":"p","promisor":"a","promisee":"b","scope":"s","due":"2026-02-01T00:00:00Z"}"#,
                "due",
            ),
            (
                r#"{"kind":"promise","stake":1,"at":"yesterday","id":"p","promisor":"a","promisee":"b","scope":"s","due":"2026-02-01T00:00:00Z"}"#,
                "at",
            ),
            (
                r#"{"kind":"promise","stake":1,"at":"2026-01-01T00:00:00Z","id":"p","promisor":"a","promisee":"a","scope":"s","due":"2026-02-01T00:00:00Z"}"#,
                "promisee",
            ),
            (
                r#"{"kind":"promise","stake":1,"at":"2026-01-01T00:00:00Z","id":"has space","promisor":"a","promisee":"b","scope":"s","due":"2026-02-01T00:00:00Z"}"#,
                "id",
            ),
            (
                r#"{"kind":"outcome","at":"2026-01-01T00:00:00Z","promise":"p","result":"partial","fraction":1.5}"#,
                "fraction",
            ),
            (
                r#"{"kind":"outcome","at":"2026-01-01T00:00:00Z","promise":"p","result":"kept","fraction":0.5}"#,
                "fraction",
            ),
            (
                r#"{"kind":"outcome","at":"2026-01-01T00:00:00Z","promise":"p","result":"maybe"}"#,
                "result",
            ),
            (
                r#"{"kind":"vouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"b","weight":0}"#,
                "weight",
            ),
            (
                r#"{"kind":"vouch","at":"2026-01-01T00:00:00Z","voucher":"a","subject":"a","weight":1}"#,
                "subject",
            ),
            (
                r#"{"kind":"report","at":"2026-01-01T00:00:00Z","reporter":"a","subject":"b","severity":2}"#,
                "severity",
            ),
            (
                r#"{"kind":"report","at":"2026-01-01T00:00:00Z","reporter":"a","subject":"b","severity":1,"evidence":-3}"#,
                "evidence",
            ),
            (
                r#"{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1.01}"#,
                "value",
            ),
            (
                r#"{"kind":"key","at":"2026-01-01T00:00:00Z","principal":"a","public_key":"AAAA"}"#,
                "public_key",
            ),
            (
                r#"{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1,"sig":"!!"}"#,
                "sig",
            ),
            (r#"[1,2]"#, "(event)"),
            (r#"{"kind":"rating""#, "(event)"),
        ];
        for (json, field) in cases {
            let json = json.replace("BASE", base);
            let err = parse(&json).expect_err(&json);
            assert_eq!(err.field, *field, "{json}: {err}");
        }
    }

    #[test]
    fn a_client_cannot_stamp_its_own_event() {
        let base =
            r#""kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1"#;
        for (extra, field) in [
            (r#","recorded_at":"2026-01-01T00:00:00Z""#, "recorded_at"),
            (r#","history":true"#, "history"),
        ] {
            let json = format!("{{{base}{extra}}}");
            let err = parse(&json).expect_err(&json);
            assert_eq!(err.field, field, "{err}");
            assert!(err.problem.contains("--history"), "{err}");
        }
        // Versions 1 and 2 name the same claim; any other is refused.
        for v in [1, 2] {
            assert!(parse(&format!(r#"{{{base},"v":{v}}}"#)).is_ok());
        }
    }

    #[test]
    fn a_new_promise_must_fall_due_after_it_is_made_and_an_old_one_stays_readable() {
        let due_at_once = r#"{"kind":"promise","at":"2026-01-01T00:00:00Z","id":"p","promisor":"a","promisee":"b","scope":"s","stake":1,"due":"2026-01-01T00:00:00Z"}"#;
        assert_eq!(parse(due_at_once).expect_err("due = at").field, "due");
        // Written before trusted time (format 1), such a promise was allowed: it still decodes.
        let stored = due_at_once.replace(r#""kind""#, r#""v":1,"kind""#);
        let event = Event::from_entry(stored.as_bytes()).expect("format 1 decodes");
        assert_eq!(event.stamp, None);
        // Stamped (format 2), it would be a ledger that broke its own rule.
        let stamped = due_at_once.replace(
            r#""kind""#,
            r#""v":2,"recorded_at":"2026-01-01T00:00:00Z","kind""#,
        );
        assert_eq!(
            Event::from_entry(stamped.as_bytes())
                .expect_err("due = at")
                .field,
            "due"
        );
    }

    #[test]
    fn a_stamped_entry_round_trips_and_its_signature_does_not_cover_the_stamp() {
        let mut event = parse(
            r#"{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1,"author":"a"}"#,
        )
        .expect("valid");
        let signed_before = event.signing_bytes();
        event.stamp = Some(Stamp {
            recorded_at: Time::parse("t", "2026-01-01T00:00:01.5Z").expect("time"),
            history: true,
        });
        let bytes = event.canonical_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"at":"2026-01-01T00:00:00Z","author":"a","history":true,"kind":"rating","rater":"a","recorded_at":"2026-01-01T00:00:01.5Z","subject":"b","v":2,"value":1}"#
        );
        assert_eq!(bytes, jcs::to_vec(&event.to_value()).expect("canonical"));
        let decoded = Event::from_entry(&bytes).expect("decodes");
        assert_eq!(decoded, event);
        // The author signs the claim (format 1, no stamp): the same bytes before and after.
        assert_eq!(event.signing_bytes(), signed_before);
        assert!(
            std::str::from_utf8(&signed_before)
                .expect("utf-8")
                .contains(r#""v":1"#)
        );
        // A stamped entry without its recorded time does not decode.
        let unstamped = std::str::from_utf8(&bytes)
            .expect("utf-8")
            .replace(r#","recorded_at":"2026-01-01T00:00:01.5Z""#, "");
        assert_eq!(
            Event::from_entry(unstamped.as_bytes())
                .expect_err("no stamp")
                .field,
            "recorded_at"
        );
    }

    #[test]
    fn huge_events_are_refused_before_parsing() {
        let json = format!(
            r#"{{"kind":"rating","at":"2026-01-01T00:00:00Z","rater":"a","subject":"b","value":1,"note":"{}"}}"#,
            "x".repeat(MAX_EVENT_BYTES)
        );
        assert_eq!(parse(&json).expect_err("too big").field, "(event)");
    }

    #[test]
    fn instants_print_as_jiff_prints_them() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut samples = vec![
            0,
            1,
            999_999,
            1_000_000,
            Time::MAX.as_micros(),
            951_782_400_000_000,
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let micros = (x % (Time::MAX.as_micros() as u64 + 1)) as i64;
            // Whole seconds and whole days too, where trailing zeros are trimmed.
            samples.extend([
                micros,
                micros / 1_000_000 * 1_000_000,
                micros / 86_400_000_000 * 86_400_000_000,
            ]);
        }
        for micros in samples {
            let jiff = jiff::Timestamp::from_microsecond(micros)
                .expect("in range")
                .to_string();
            let time = Time::from_micros(micros).expect("in range");
            assert_eq!(time.to_string(), jiff, "{micros}");
            assert_eq!(Time::parse("t", &jiff), Ok(time), "{jiff} reads back");
        }
    }

    #[test]
    fn unix_seconds_round_to_microseconds() {
        let t = Time::from_unix_seconds(1289241911.72836).expect("in range");
        assert_eq!(t.to_string(), "2010-11-08T18:45:11.72836Z");
        assert!(Time::from_unix_seconds(-1.0).is_none());
        assert!(Time::from_unix_seconds(f64::NAN).is_none());
    }
}
