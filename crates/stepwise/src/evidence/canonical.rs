//! The canonical bytes of an event (RFC 8785): the stored form of every format and the bytes an
//! author signs.

use super::Id;
use super::time::Time;
use super::{Body, Event, FORMAT_V1, FORMAT_V2, FORMAT_V3, OutcomeResult, base64_encode, jcs};
use serde_json::Value;

impl Event {
    pub(super) fn write_canonical(&self, as_stored: bool) -> Vec<u8> {
        let mut fields = self.fields(as_stored);
        // All keys are ASCII, so byte order is UTF-16 order as JCS requires.
        fields.sort_unstable_by_key(|(key, _)| *key);
        let mut out = String::with_capacity(256);
        out.push('{');
        for (i, (key, field)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
            field.write(&mut out);
        }
        out.push('}');
        out.into_bytes()
    }

    /// The fields as stored (`as_stored`), or as signed: without `sig` and the stamp.
    pub(super) fn fields(&self, as_stored: bool) -> Vec<(&'static str, Field<'_>)> {
        use Field::*;
        let mut f: Vec<(&'static str, Field<'_>)> = Vec::with_capacity(14);
        match self.stamp.filter(|_| as_stored) {
            Some(stamp) => {
                let v = if self.seal.is_some() {
                    FORMAT_V3
                } else {
                    FORMAT_V2
                };
                f.push(("v", UInt(v)));
                f.push(("recorded_at", At(stamp.recorded_at)));
                if stamp.history {
                    f.push(("history", Bool(true)));
                }
            }
            None => f.push(("v", UInt(FORMAT_V1))),
        }
        f.push(("kind", Str(self.kind().name())));
        f.push(("at", At(self.at)));
        if let Some(author) = &self.author {
            f.push(("author", Str(author.as_str())));
        }
        if let Some(note) = &self.note {
            f.push(("note", Str(note)));
        }
        if as_stored && let Some(sig) = &self.sig {
            f.push(("sig", Bytes(sig)));
        }
        if as_stored && let Some(seal) = &self.seal {
            if let Some(c) = &seal.note {
                f.push(("note_commit", Bytes(c)));
            }
            if let Some(c) = &seal.sig {
                f.push(("sig_commit", Bytes(c)));
            }
        }
        fn opt<'a>(f: &mut Vec<(&'static str, Field<'a>)>, key: &'static str, id: &'a Option<Id>) {
            if let Some(id) = id {
                f.push((key, Field::Str(id.as_str())));
            }
        }
        match &self.body {
            Body::Promise {
                id,
                promisor,
                promisee,
                scope,
                stake,
                due,
            } => {
                f.push(("id", Str(id.as_str())));
                f.push(("promisor", Str(promisor.as_str())));
                f.push(("promisee", Str(promisee.as_str())));
                f.push(("scope", Str(scope.as_str())));
                f.push(("stake", Num(*stake)));
                f.push(("due", At(*due)));
            }
            Body::Outcome { promise, result } => {
                f.push(("promise", Str(promise.as_str())));
                let name = match result {
                    OutcomeResult::Kept => "kept",
                    OutcomeResult::Broken => "broken",
                    OutcomeResult::Partial(fraction) => {
                        f.push(("fraction", Num(*fraction)));
                        "partial"
                    }
                };
                f.push(("result", Str(name)));
            }
            Body::Vouch {
                voucher,
                subject,
                scope,
                weight,
            } => {
                f.push(("voucher", Str(voucher.as_str())));
                f.push(("subject", Str(subject.as_str())));
                opt(&mut f, "scope", scope);
                f.push(("weight", Num(*weight)));
            }
            Body::Unvouch {
                voucher,
                subject,
                scope,
            } => {
                f.push(("voucher", Str(voucher.as_str())));
                f.push(("subject", Str(subject.as_str())));
                opt(&mut f, "scope", scope);
            }
            Body::Report {
                reporter,
                subject,
                scope,
                severity,
                evidence,
            } => {
                f.push(("reporter", Str(reporter.as_str())));
                f.push(("subject", Str(subject.as_str())));
                opt(&mut f, "scope", scope);
                f.push(("severity", Num(*severity)));
                if let Some(index) = evidence {
                    f.push(("evidence", UInt(*index)));
                }
            }
            Body::Rating {
                rater,
                subject,
                value,
                scope,
            } => {
                f.push(("rater", Str(rater.as_str())));
                f.push(("subject", Str(subject.as_str())));
                f.push(("value", Num(*value)));
                opt(&mut f, "scope", scope);
            }
            Body::Key {
                principal,
                public_key,
            } => {
                f.push(("principal", Str(principal.as_str())));
                f.push(("public_key", Bytes(public_key)));
            }
            Body::Erasure { principal, reason } => {
                f.push(("principal", Str(principal.as_str())));
                f.push(("reason", Str(reason.name())));
            }
            Body::Policy { sha256 } => f.push(("sha256", Str(sha256))),
            Body::Approval {
                approver,
                subject,
                promise,
                capability,
                stake,
                decision,
            } => {
                f.push(("approver", Str(approver.as_str())));
                f.push(("subject", Str(subject.as_str())));
                f.push(("promise", Str(promise.as_str())));
                f.push(("capability", Str(capability.as_str())));
                f.push(("stake", Num(*stake)));
                if let Some(place) = decision {
                    f.push(("decision", UInt(*place)));
                }
            }
        }
        f
    }
}

/// One field value of an event, ready to be written canonically.
pub(super) enum Field<'a> {
    Bool(bool),
    Str(&'a str),
    Num(f64),
    UInt(u64),
    At(Time),
    Bytes(&'a [u8]),
}

impl Field<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Field::Str(s) => jcs::write_string(out, s),
            Field::Num(n) => jcs::write_number(out, *n),
            Field::UInt(n) => {
                use std::fmt::Write as _;
                let _ = write!(out, "{n}");
            }
            Field::At(t) => {
                let (buf, len) = t.rfc3339();
                out.push('"');
                out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
                out.push('"');
            }
            Field::Bytes(b) => jcs::write_string(out, &base64_encode(b)),
        }
    }

    pub(super) fn to_value(&self) -> Value {
        match self {
            Field::Bool(b) => Value::from(*b),
            Field::Str(s) => Value::from(*s),
            Field::Num(n) => Value::from(*n),
            Field::UInt(n) => Value::from(*n),
            Field::At(t) => Value::from(t.to_string()),
            Field::Bytes(b) => Value::from(base64_encode(b)),
        }
    }
}
