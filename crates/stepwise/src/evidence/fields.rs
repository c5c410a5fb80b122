//! Reading typed fields out of an event's JSON object, naming the field in every error.
//!
//! A client's event is read from a parsed JSON value. A stored entry is read straight from its
//! text: its fields are located once, each value left as the slice of text it is, and only the
//! values the event keeps are turned into strings and numbers — no tree of the whole object is
//! built, which is most of what decoding an entry would cost (a server starting folds every
//! entry of its log).

use super::{FieldError, Id, Time};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// An event's JSON object: a client's, parsed, or a stored entry's, located in its text.
pub(super) enum Object<'a> {
    Parsed(&'a Map<String, Value>),
    Located(Vec<(&'a str, &'a RawValue)>),
}

/// One field's value.
#[derive(Clone, Copy)]
pub(super) enum Field<'a> {
    Parsed(&'a Value),
    Located(&'a RawValue),
}

impl<'a> Object<'a> {
    /// Locates the fields of the JSON object `text`. Every key is a plain string (no escapes,
    /// as in every canonical entry) and appears once.
    pub(super) fn locate(text: &'a str) -> Result<Self, serde_json::Error> {
        let Located(fields) = serde_json::from_str(text)?;
        Ok(Object::Located(fields))
    }

    pub(super) fn get(&self, key: &str) -> Option<Field<'_>> {
        match self {
            Object::Parsed(map) => map.get(key).map(Field::Parsed),
            Object::Located(fields) => fields
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| Field::Located(v)),
        }
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn keys(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Object::Parsed(map) => Box::new(map.keys().map(String::as_str)),
            Object::Located(fields) => Box::new(fields.iter().map(|(k, _)| *k)),
        }
    }
}

/// A JSON object's fields in the order written, each value the slice of text it is.
struct Located<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Located<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Located<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut fields: Vec<(&'de str, &'de RawValue)> = Vec::with_capacity(16);
                while let Some(key) = map.next_key::<&'de str>()? {
                    if fields.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    fields.push((key, map.next_value()?));
                }
                Ok(Located(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl<'a> Field<'a> {
    pub(super) fn as_str(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Parsed(v) => v.as_str().map(Cow::Borrowed),
            Field::Located(raw) => {
                let text = raw.get();
                if !text.starts_with('"') {
                    return None;
                }
                // Borrowed when the string has no escapes, as almost every one has none.
                serde_json::from_str::<&str>(text)
                    .map(Cow::Borrowed)
                    .or_else(|_| serde_json::from_str::<String>(text).map(Cow::Owned))
                    .ok()
            }
        }
    }

    pub(super) fn as_f64(self) -> Option<f64> {
        match self {
            Field::Parsed(v) => v.as_f64(),
            Field::Located(raw) => number(raw.get()).and_then(|n| n.parse().ok()),
        }
    }

    pub(super) fn as_u64(self) -> Option<u64> {
        match self {
            Field::Parsed(v) => v.as_u64(),
            // A JSON number in digits alone (no fraction, no exponent), as serde_json reads
            // an integer.
            Field::Located(raw) => number(raw.get()).and_then(|n| n.parse().ok()),
        }
    }

    pub(super) fn as_bool(self) -> Option<bool> {
        match self {
            Field::Parsed(v) => v.as_bool(),
            Field::Located(raw) => match raw.get() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
        }
    }
}

/// `text` when it is a JSON number (the located value's text was checked as JSON when it was
/// located: a number is the only value that starts with a minus sign or a digit).
fn number(text: &str) -> Option<&str> {
    text.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        .then_some(text)
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Parsed(v) => v.fmt(f),
            Field::Located(raw) => f.write_str(raw.get()),
        }
    }
}

/// Reads typed fields out of a JSON object, naming the field in every error.
pub(super) struct Fields<'a>(pub(super) &'a Object<'a>);

impl<'a> Fields<'a> {
    pub(super) fn get(&self, field: &str) -> Result<Field<'a>, FieldError> {
        self.0
            .get(field)
            .ok_or_else(|| FieldError::new(field, "is missing"))
    }

    pub(super) fn str(&self, field: &str) -> Result<Cow<'a, str>, FieldError> {
        self.get(field)?
            .as_str()
            .ok_or_else(|| FieldError::new(field, "must be a string"))
    }

    pub(super) fn id(&self, field: &str) -> Result<Id, FieldError> {
        Id::parse(field, &self.str(field)?)
    }

    pub(super) fn optional_id(&self, field: &str) -> Result<Option<Id>, FieldError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(_) => self.id(field).map(Some),
        }
    }

    /// Two distinct principals, such as a voucher and the subject vouched for.
    pub(super) fn pair(&self, actor: &str, subject: &str) -> Result<(Id, Id), FieldError> {
        let a = self.id(actor)?;
        let s = self.id(subject)?;
        if a == s {
            return Err(FieldError::new(
                subject,
                format!(
                    "must differ from `{actor}`: nobody can vouch for, report or rate themselves"
                ),
            ));
        }
        Ok((a, s))
    }

    /// A whole number ≥ 0 that JSON numbers carry exactly (a log index, a place in the gate's
    /// decision log), if present.
    pub(super) fn optional_index(
        &self,
        field: &str,
        what: &str,
    ) -> Result<Option<u64>, FieldError> {
        let Some(v) = self.0.get(field) else {
            return Ok(None);
        };
        v.as_u64()
            .filter(|i| (*i as f64) <= super::jcs::MAX_SAFE_INTEGER)
            .map(Some)
            .ok_or_else(|| {
                FieldError::new(field, format!("{v} is not {what} (a whole number ≥ 0)"))
            })
    }

    pub(super) fn time(&self, field: &str) -> Result<Time, FieldError> {
        Time::parse(field, &self.str(field)?)
    }

    /// A finite number in [lo, hi], or (lo, hi] when `lo_inclusive` is false.
    pub(super) fn number_in(
        &self,
        field: &str,
        lo: f64,
        hi: f64,
        lo_inclusive: bool,
    ) -> Result<f64, FieldError> {
        let value = self.get(field)?;
        let n = value
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| FieldError::new(field, format!("{value} is not a finite number")))?;
        let above_lo = if lo_inclusive { n >= lo } else { n > lo };
        if !above_lo || n > hi {
            let range = if lo_inclusive {
                format!("[{lo}, {hi}]")
            } else {
                format!("({lo}, {hi}]")
            };
            return Err(FieldError::new(field, format!("{n} is outside {range}")));
        }
        // -0.0 and 0.0 are one canonical number; keep one of them.
        Ok(if n == 0.0 { 0.0 } else { n })
    }

    pub(super) fn bytes<const N: usize>(&self, field: &str) -> Result<[u8; N], FieldError> {
        use base64::Engine as _;
        let text = self.str(field)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| FieldError::new(field, format!("is not standard base64: {e}")))?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
            FieldError::new(
                field,
                format!("decodes to {} bytes; expected {N}", bytes.len()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, Source, Stamp, Time};
    use proptest::prelude::*;

    /// Events of every kind a client sends, with the strings and numbers that are hardest to
    /// read in place: escapes, non-ASCII text, fractions, exponents, negative values.
    const CLIENT: [&str; 10] = [
        r#"{"kind":"promise","at":"2026-11-25T12:00:00Z","id":"p-1","promisor":"agent:a","promisee":"user:b","scope":"deploy:staging","stake":10.25,"due":"2026-11-26T12:00:00Z","note":"a \"quoted\" note\nwith é and \u0001"}"#,
        r#"{"kind":"outcome","at":"2026-11-25T13:00:00Z","promise":"p-1","result":"partial","fraction":0.333}"#,
        r#"{"kind":"outcome","at":"2026-11-25T13:00:00Z","promise":"p-2","result":"broken","author":"user:b"}"#,
        r#"{"kind":"vouch","at":"2026-11-25T12:00:00Z","voucher":"user:a","subject":"user:b","weight":1e-3,"scope":"review"}"#,
        r#"{"kind":"unvouch","at":"2026-11-25T12:00:00Z","voucher":"user:a","subject":"user:b"}"#,
        r#"{"kind":"report","at":"2026-11-25T12:00:00Z","reporter":"user:a","subject":"user:b","severity":0.75,"evidence":9007199254740991}"#,
        r#"{"kind":"rating","at":"2026-11-25T12:00:00.123456Z","rater":"user:a","subject":"user:b","value":-0.5}"#,
        r#"{"kind":"key","at":"2026-11-25T12:00:00Z","principal":"user:a","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}"#,
        r#"{"kind":"approval","at":"2026-11-25T12:00:00Z","approver":"user:ann","subject":"agent:bot","promise":"gate-7","capability":"deploy","stake":5,"decision":17}"#,
        r#"{"kind":"rating","at":"2026-11-25T12:00:00Z","rater":"user:a","subject":"user:b","value":1,"sig":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="}"#,
    ];

    /// Sealed entries (format 3) as the log stores them.
    const SEALED: [&str; 3] = [
        r#"{"at":"2026-11-25T12:00:00Z","author":"~e01858a2f363f35528f65534baf7220c","due":"2026-11-26T12:00:00Z","id":"~96df76904babaa77d9bbe7c9bb58c68a","kind":"promise","note_commit":"d0Px4k/ToR85iRsCLtAK9Y8IxUjUVs357YdVscrlsVg=","promisee":"~9eb2be2184a8c485e0c90d952e821336","promisor":"~e01858a2f363f35528f65534baf7220c","recorded_at":"2026-11-25T12:00:03.25Z","scope":"deploy:staging","stake":10,"v":3}"#,
        r#"{"at":"2026-11-25T12:00:00Z","kind":"erasure","principal":"~e01858a2f363f35528f65534baf7220c","reason":"request","recorded_at":"2026-11-25T12:00:03.25Z","v":3}"#,
        r#"{"at":"2026-12-06T12:00:00Z","kind":"policy","recorded_at":"2026-12-06T12:00:00Z","sha256":"0000000000000000000000000000000000000000000000000000000000000000","v":3}"#,
    ];

    /// Every entry above, in formats 1 (no stamp), 2 (stamped, and as history) and 3.
    fn entries() -> Vec<Vec<u8>> {
        let recorded_at = Time::from_micros(1_764_072_000_000_000).expect("an instant");
        let mut all = Vec::new();
        for json in CLIENT {
            let mut event = Event::from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            all.push(event.canonical_bytes());
            for history in [false, true] {
                event.stamp = Some(Stamp {
                    recorded_at,
                    history,
                });
                all.push(event.canonical_bytes());
            }
        }
        all.extend(SEALED.iter().map(|e| e.as_bytes().to_vec()));
        all
    }

    /// The entry decoded through a JSON tree, as entries were decoded before.
    fn parsed(bytes: &[u8]) -> Option<Event> {
        let value = serde_json::from_slice(bytes).ok()?;
        Event::from_value_as(&value, Source::Entry).ok()
    }

    #[test]
    fn an_entry_read_in_place_is_the_entry_parsed() {
        for bytes in entries() {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let located = Event::from_entry(&bytes).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(Some(&located), parsed(&bytes).as_ref(), "{text}");
            assert_eq!(located.canonical_bytes(), bytes, "{text}");
        }
    }

    #[test]
    fn a_key_given_twice_or_escaped_is_refused() {
        for text in [
            r#"{"at":"2026-12-06T12:00:00Z","kind":"policy","kind":"policy","recorded_at":"2026-12-06T12:00:00Z","sha256":"0000000000000000000000000000000000000000000000000000000000000000","v":3}"#,
            r#"{"at":"2026-12-06T12:00:00Z","\u006bind":"policy","recorded_at":"2026-12-06T12:00:00Z","sha256":"0000000000000000000000000000000000000000000000000000000000000000","v":3}"#,
        ] {
            let e = Event::from_entry(text.as_bytes()).expect_err(text);
            assert_eq!(e.field, "(event)", "{text}: {e}");
        }
    }

    proptest! {
        /// An entry changed at one byte decodes in place only to what the JSON tree gives.
        #[test]
        fn what_decodes_in_place_decodes_alike_through_a_tree(
            k in any::<usize>(),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let all = entries();
            let mut bytes = all[k % all.len()].clone();
            let i = at % bytes.len();
            bytes[i] = byte;
            if let Ok(located) = Event::from_entry(&bytes) {
                prop_assert_eq!(Some(located), parsed(&bytes));
            }
        }
    }
}
