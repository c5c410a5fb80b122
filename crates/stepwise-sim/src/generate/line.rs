//! One event as one JSON line of `stepwise import`, written into a reused buffer.
//!
//! Only the fields DESIGN.md names, with the values the generator chose: ids are `gen:N`
//! (principals) and `gen:pN` (promises), numbers are written as short decimals. Nothing here
//! allocates once the buffer has grown to a line's length.

use std::fmt::{self, Write as _};
use stepwise::evidence::Time;

/// The principal id of index `n`.
pub(super) const PRINCIPAL_PREFIX: &str = "gen:";
/// The promise id of number `n` is this followed by `n`.
pub(super) const PROMISE_PREFIX: &str = "gen:p";

/// `{"kind":"KIND","at":"AT"`: the opening of every event.
pub(super) fn open(line: &mut String, kind: &str, at: i64) -> fmt::Result {
    line.push_str("{\"kind\":\"");
    line.push_str(kind);
    line.push('"');
    instant(line, "at", at)
}

/// `,"FIELD":"INSTANT"` (microseconds since the epoch, within `Time`'s range).
pub(super) fn instant(line: &mut String, field: &str, micros: i64) -> fmt::Result {
    let at = Time::from_micros(micros).ok_or(fmt::Error)?;
    write!(line, ",\"{field}\":\"{at}\"")
}

/// `,"FIELD":"gen:N"`.
pub(super) fn principal(line: &mut String, field: &str, n: u64) -> fmt::Result {
    write!(line, ",\"{field}\":\"{PRINCIPAL_PREFIX}{n}\"")
}

/// `,"FIELD":"gen:pN"`.
pub(super) fn promise(line: &mut String, field: &str, n: u64) -> fmt::Result {
    write!(line, ",\"{field}\":\"{PROMISE_PREFIX}{n}\"")
}

/// `,"FIELD":"TEXT"` for text that needs no escaping (scopes, results).
pub(super) fn text(line: &mut String, field: &str, text: &str) -> fmt::Result {
    write!(line, ",\"{field}\":\"{text}\"")
}

/// `,"FIELD":N`.
pub(super) fn whole(line: &mut String, field: &str, n: u64) -> fmt::Result {
    write!(line, ",\"{field}\":{n}")
}

/// `,"FIELD":V` for V = `hundredths` / 100 (`hundredths` ≤ 100), negated when `negative`:
/// `0.05`, `-0.3`, `1`.
pub(super) fn hundredths(
    line: &mut String,
    field: &str,
    hundredths: u32,
    negative: bool,
) -> fmt::Result {
    write!(line, ",\"{field}\":")?;
    if negative {
        line.push('-');
    }
    match hundredths {
        100.. => line.push('1'),
        n if n % 10 == 0 => write!(line, "0.{}", n / 10)?,
        n => write!(line, "0.{n:02}")?,
    }
    Ok(())
}

/// The closing brace.
pub(super) fn close(line: &mut String) {
    line.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_json_it_means() -> fmt::Result {
        let mut line = String::new();
        open(&mut line, "rating", 1_000_500_000)?;
        principal(&mut line, "rater", 7)?;
        hundredths(&mut line, "value", 30, true)?;
        hundredths(&mut line, "weight", 5, false)?;
        hundredths(&mut line, "x", 100, false)?;
        promise(&mut line, "promise", 12)?;
        whole(&mut line, "stake", 40)?;
        text(&mut line, "scope", "trade")?;
        close(&mut line);
        assert_eq!(
            line,
            r#"{"kind":"rating","at":"1970-01-01T00:16:40.5Z","rater":"gen:7","value":-0.3,"weight":0.05,"x":1,"promise":"gen:p12","stake":40,"scope":"trade"}"#
        );
        assert!(instant(&mut line, "due", -1).is_err(), "before 1970");
        Ok(())
    }
}
