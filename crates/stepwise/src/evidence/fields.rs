//! Reading typed fields out of an event's JSON object, naming the field in every error.
//!
//! An event is read straight from its text: its fields are located once, each value left as
//! the slice of text it is, and only the values the event keeps are turned into strings and
//! numbers — no tree of the whole object is built, which is most of what reading an event would
//! cost (a server starting folds every entry of its log; a batch of a thousand events sent over
//! HTTP is a thousand objects). A door that already holds a parsed JSON value (MCP, the gate)
//! reads it as it is.

use super::{FieldError, Id, Time};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// An event's JSON object: parsed, or located in its text.
pub(super) enum Object<'a> {
    Parsed(&'a Map<String, Value>),
    Located(Vec<(Cow<'a, str>, &'a RawValue)>),
}

/// One field's value.
#[derive(Clone, Copy)]
pub(super) enum Field<'a> {
    Parsed(&'a Value),
    Located(&'a RawValue),
}

/// Which keys a located object may have.
#[derive(Clone, Copy)]
pub(super) enum Keys {
    /// A stored entry's: every key a plain string (no escapes, as in every canonical entry).
    Plain,
    /// A client's: any JSON string, its escapes read.
    Any,
}

impl<'a> Object<'a> {
    /// Locates the fields of the JSON object `text`, in the order written (the order a parsed
    /// object keeps too, so that an event's errors name the first bad field as written), each
    /// key appearing once.
    pub(super) fn locate(text: &'a str, keys: Keys) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let fields = Locate(keys).deserialize(&mut de)?;
        de.end()?;
        Ok(Object::Located(fields))
    }

    pub(super) fn get(&self, key: &str) -> Option<Field<'_>> {
        match self {
            Object::Parsed(map) => map.get(key).map(Field::Parsed),
            Object::Located(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Field::Located(v)),
        }
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn keys(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Object::Parsed(map) => Box::new(map.keys().map(String::as_str)),
            Object::Located(fields) => Box::new(fields.iter().map(|(k, _)| k.as_ref())),
        }
    }
}

/// Locates a JSON object's fields in the order written, each value the slice of text it is.
struct Locate(Keys);

impl<'de> DeserializeSeed<'de> for Locate {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Locate {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut fields: Self::Value = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!("duplicate field `{key}`")));
            }
            fields.push((key, map.next_value()?));
        }
        Ok(fields)
    }
}

/// One key: borrowed from the text when it has no escapes, read when it has (a client's only).
struct Key(Keys);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Keys::Plain => f.write_str("a field name without escapes"),
            Keys::Any => f.write_str("a field name"),
        }
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match self.0 {
            Keys::Any => Ok(Cow::Owned(v.to_owned())),
            Keys::Plain => Err(E::invalid_type(serde::de::Unexpected::Str(v), &self)),
        }
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

    /// A client's event read through a JSON tree, as clients' events were read before.
    fn client_parsed(text: &str) -> Result<Event, super::super::FieldError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| super::super::FieldError::new("(event)", e.to_string()))?;
        Event::from_value(&value)
    }

    #[test]
    fn a_clients_event_read_in_place_is_the_event_parsed_whatever_its_keys() {
        for json in CLIENT {
            let tree = client_parsed(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(Event::from_json(json).as_ref(), Ok(&tree), "{json}");
            // The same fields written in the reverse order, one key escaped.
            let fields: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(json).expect("an object");
            let reversed = fields
                .iter()
                .rev()
                .map(|(k, v)| {
                    let key = if k == "kind" {
                        r#""\u006bind""#.to_owned()
                    } else {
                        format!("{k:?}")
                    };
                    format!("{key}:{v}")
                })
                .collect::<Vec<_>>()
                .join(",");
            let reversed = format!("{{{reversed}}}");
            assert_eq!(
                Event::from_json(&reversed).as_ref(),
                Ok(&tree),
                "{reversed}"
            );
        }
    }

    #[test]
    fn a_clients_errors_name_the_first_bad_field_as_written() {
        // Two fields no event has: `zeta` comes first as written, `alpha` by name.
        let text = r#"{"zeta":1,"value":1,"subject":"user:b","rater":"user:a","kind":"rating","at":"2026-11-25T12:00:00Z","alpha":2}"#;
        let tree = client_parsed(text).expect_err("two bad fields");
        let read = Event::from_json(text).expect_err("two bad fields");
        assert_eq!((read.field.as_str(), &read), ("zeta", &tree));
    }

    #[test]
    fn a_clients_key_given_twice_is_refused() {
        let text = r#"{"kind":"rating","at":"2026-11-25T12:00:00Z","rater":"user:a","subject":"user:b","value":1,"value":-1}"#;
        let e = Event::from_json(text).expect_err("a key twice");
        assert_eq!(e.field, "(event)");
        assert!(e.to_string().contains("duplicate field `value`"), "{e}");
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

        /// A client's event changed at one byte is read in place as the JSON tree reads it:
        /// the same event, or refused both ways.
        #[test]
        fn a_clients_event_reads_alike_in_place_and_through_a_tree(
            k in any::<usize>(),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = CLIENT[k % CLIENT.len()].as_bytes().to_vec();
            let i = at % bytes.len();
            bytes[i] = byte;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let (read, tree) = (Event::from_json(text), client_parsed(text));
                match (&read, &tree) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(_), Err(_)) => {}
                    // The tree kept the last of a key given twice; read in place, it is refused.
                    (Err(e), Ok(_)) => prop_assert!(e.to_string().contains("duplicate field"), "{}: {}", text, e),
                    (Ok(_), Err(e)) => prop_assert!(false, "{}: read in place, but {}", text, e),
                }
            }
        }
    }
}
