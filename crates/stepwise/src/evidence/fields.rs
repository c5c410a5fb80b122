//! Reading typed fields out of an event's JSON object, naming the field in every error.

use super::{FieldError, Id, Time};
use serde_json::{Map, Value};

/// Reads typed fields out of a JSON object, naming the field in every error.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl Fields<'_> {
    pub(super) fn get(&self, field: &str) -> Result<&Value, FieldError> {
        self.0
            .get(field)
            .ok_or_else(|| FieldError::new(field, "is missing"))
    }

    pub(super) fn str(&self, field: &str) -> Result<&str, FieldError> {
        self.get(field)?
            .as_str()
            .ok_or_else(|| FieldError::new(field, "must be a string"))
    }

    pub(super) fn id(&self, field: &str) -> Result<Id, FieldError> {
        Id::parse(field, self.str(field)?)
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
        Time::parse(field, self.str(field)?)
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
            .decode(text)
            .map_err(|e| FieldError::new(field, format!("is not standard base64: {e}")))?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
            FieldError::new(
                field,
                format!("decodes to {} bytes; expected {N}", bytes.len()),
            )
        })
    }
}
