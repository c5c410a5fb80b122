//! Instants: whole microseconds since the Unix epoch, read and written as RFC 3339 in UTC.

use super::FieldError;
use std::fmt;

/// An instant, in whole microseconds since 1970-01-01T00:00:00Z.
///
/// Written as RFC 3339 in UTC (`2026-11-25T12:00:00Z`, fraction only when non-zero); any RFC 3339
/// offset is accepted on input and converted, so one instant has one canonical text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(i64);

impl Time {
    /// Earliest accepted instant: 1970-01-01T00:00:00Z.
    pub const MIN: Time = Time(0);
    /// Latest accepted instant: 9999-12-30T22:00:00Z, the latest RFC 3339 text jiff (and so
    /// this crate) reads back, so that every instant's text parses again.
    pub const MAX: Time = Time(253_402_207_200_000_000);

    /// The instant `micros` microseconds after the Unix epoch, if within range.
    pub fn from_micros(micros: i64) -> Option<Self> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&micros)
            .then_some(Self(micros))
    }

    /// The instant `secs` (possibly fractional) seconds after the Unix epoch, rounded to the
    /// nearest microsecond, if within range.
    pub fn from_unix_seconds(secs: f64) -> Option<Self> {
        let micros = (secs * 1e6).round();
        if !micros.is_finite() || micros < Self::MIN.0 as f64 || micros > Self::MAX.0 as f64 {
            return None;
        }
        Self::from_micros(micros as i64)
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 text; `field` names it in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let ts: jiff::Timestamp = s.parse().map_err(|e| {
            FieldError::new(
                field,
                format!("{s:?} is not an RFC 3339 instant such as 2026-11-25T12:00:00Z ({e})"),
            )
        })?;
        Self::from_micros(ts.as_microsecond()).ok_or_else(|| {
            FieldError::new(
                field,
                format!("{s:?} is outside the accepted range 1970-01-01 to 9999-12-30"),
            )
        })
    }
}

/// RFC 3339 in UTC, as jiff prints it (`2026-11-25T12:00:00Z`, a fraction of a second only when
/// non-zero, without trailing zeros), written by hand: every appended entry prints two or three
/// instants, and a general-purpose printer cost a noticeable share of an append.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (buf, len) = self.rfc3339();
        // Only ASCII digits and punctuation were written.
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

impl Time {
    /// The RFC 3339 text (see the `Display` impl) in a buffer, and its length.
    pub(super) fn rfc3339(self) -> ([u8; 27], usize) {
        // Howard Hinnant's days-to-civil algorithm; the range (1970–9999) keeps it non-negative.
        let (secs, micros) = (self.0.div_euclid(1_000_000), self.0.rem_euclid(1_000_000));
        let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut n: i64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, of_day / 3_600);
        put(14, 2, of_day / 60 % 60);
        put(17, 2, of_day % 60);
        let end = if micros == 0 {
            19
        } else {
            put(20, 6, micros);
            let mut end = 26;
            while buf[end - 1] == b'0' {
                end -= 1;
            }
            end
        };
        buf[end] = b'Z';
        (buf, end + 1)
    }
}
