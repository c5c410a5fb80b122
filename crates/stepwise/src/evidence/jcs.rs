//! RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value.
//!
//! Canonical bytes are what the ledger hashes and what authors sign, so this module must never
//! depend on map iteration order, locale or float formatting defaults. Object keys are sorted by
//! their UTF-16 code units, strings use the minimal escaping of ECMAScript's `JSON.stringify`, and
//! numbers are written as ECMAScript's `Number.prototype.toString` would write them.

use serde_json::Value;
use std::fmt::Write as _;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// JSON numbers must be finite IEEE 754 doubles in JCS.
    #[error("number {0} cannot be represented exactly as an IEEE 754 double")]
    NotADouble(String),
}

/// Canonical bytes of any JSON value.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value)?;
    Ok(out.into_bytes())
}

fn write_value(out: &mut String, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let f = n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| CanonicalError::NotADouble(n.to_string()))?;
            // Integers beyond 2^53 silently change value as doubles; refuse rather than rewrite.
            if let Some(i) = n
                .as_u64()
                .map(|u| u as f64)
                .or(n.as_i64().map(|i| i as f64))
                && i.abs() > MAX_SAFE_INTEGER
            {
                return Err(CanonicalError::NotADouble(n.to_string()));
            }
            write_number(out, f);
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The largest integer a double holds exactly (2^53 − 1), the I-JSON limit.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Writes a JSON string with JCS escaping: `"` `\` and control characters only.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    // Only ASCII characters are ever escaped, and in UTF-8 a byte below 0x80 is always an
    // ASCII character of its own: scanning bytes finds exactly the characters to escape, and
    // the runs between them are copied whole.
    while let Some(offset) = bytes[start..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let i = start + offset;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            c => {
                let _ = write!(out, "\\u{:04x}", c);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes a finite double as ECMAScript's `Number.prototype.toString` does.
///
/// Rust's `{:e}` already yields the shortest digits that round-trip (the same digits ECMAScript
/// requires); only the placement of the decimal point and exponent differs.
pub fn write_number(out: &mut String, value: f64) {
    debug_assert!(value.is_finite());
    if value == 0.0 {
        out.push('0');
        return;
    }
    // On the stack: every appended entry writes a number or two, and two heap allocations per
    // number were a visible share of an append.
    let mut sci = StackText::default();
    let _ = write!(sci, "{:e}", value.abs());
    let sci = sci.as_str();
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits = StackText::default();
    for c in mantissa.chars().filter(|c| *c != '.') {
        let _ = digits.write_char(c);
    }
    let digits = digits.as_str();
    let k = digits.len() as i32;
    // ECMAScript's n: the value is 0.d1d2…dk × 10^n.
    let n = exponent + 1;
    if value < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { "+" } else { "-" }, e.abs());
    }
}

/// A short text on the stack: the shortest round-trip form of a double has at most 17 digits,
/// so `d.ddddddddddddddddde-308` fits in 32 bytes.
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s were copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(f: f64) -> String {
        let mut s = String::new();
        write_number(&mut s, f);
        s
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Cases from RFC 8785 appendix B and ECMAScript's Number::toString.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (4.35, "4.35"),
            (0.002, "0.002"),
            (333333333.3333333, "333333333.3333333"),
            (-1.2345e-12, "-1.2345e-12"),
        ];
        for (value, want) in cases {
            assert_eq!(number(*value), *want, "for {value:e}");
        }
    }

    #[test]
    fn every_double_reads_back_from_its_text() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value = f64::from_bits(x);
            if !value.is_finite() {
                continue;
            }
            let text = number(value);
            assert_eq!(text.parse::<f64>(), Ok(value), "{text}");
        }
    }

    #[test]
    fn keys_sort_by_utf16_and_strings_escape_minimally() {
        let value: Value = serde_json::from_str(
            r#"{"b":[1,2.50,"x\u001fy"],"a":{"z":null,"\ufb01":1,"\u20ac":true,"\ud83d\ude00":false},"A":"\"\\\n/é"}"#,
        )
        .expect("valid JSON");
        let got = String::from_utf8(to_vec(&value).expect("canonical")).expect("utf-8");
        assert_eq!(
            got,
            "{\"A\":\"\\\"\\\\\\n/é\",\"a\":{\"z\":null,\"€\":true,\"😀\":false,\"ﬁ\":1},\"b\":[1,2.5,\"x\\u001fy\"]}"
        );
    }

    /// Strings of any characters, ASCII controls, quotes and backslashes among them.
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let special = proptest::sample::select(
            (0_u8..0x20)
                .chain(*b"\"\\\x7f/")
                .map(char::from)
                .collect::<Vec<_>>(),
        );
        proptest::collection::vec(prop_oneof![any::<char>(), special], 0..40)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest::proptest! {
        /// A string is written as JCS writes it (serde_json escapes the same characters, the
        /// same way: `"`, `\`, the five short escapes, `\u00xx` for other controls), and reads
        /// back as itself, whatever it holds: controls, quotes, multi-byte characters.
        #[test]
        fn a_string_is_escaped_as_jcs_says(s in any_text()) {
            let mut out = String::new();
            write_string(&mut out, &s);
            proptest::prop_assert_eq!(&out, &serde_json::to_string(&s).expect("a string"));
            let back: String = serde_json::from_str(&out).expect("valid JSON");
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn integers_beyond_two_to_the_53_are_refused() {
        let value: Value = serde_json::from_str("[9007199254740993]").expect("valid JSON");
        assert!(to_vec(&value).is_err());
    }
}
