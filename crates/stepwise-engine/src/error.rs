//! The engine's one error: a [`Code`] from the table (its status and retry advice), a message
//! for people that names what was wrong and what to do, and the field at fault when there is
//! one. Every door answers with it in its own wire form; none builds its own.

use stepwise::evidence::FieldError;
use stepwise_api::{Code, ErrorBody};
use stepwise_store::StoreError;

/// Why the engine did not answer a question or record an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The code, with its status and retry advice.
    pub code: Code,
    /// The body as every door shows it: `code`, `message`, `field`.
    pub body: ErrorBody,
    /// Seconds to wait before retrying, for the codes worth retrying.
    pub retry_after: Option<u64>,
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            body: ErrorBody {
                code: code.name().to_owned(),
                message: message.into(),
                field: None,
            },
            retry_after: code.retry_after(),
        }
    }

    /// The request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, message)
    }

    /// The request is malformed, naming the field at fault: `"{field}: {problem}"`.
    pub fn field(field: &str, problem: impl std::fmt::Display) -> Self {
        let mut e = Self::bad_request(format!("{field}: {problem}"));
        e.body.field = Some(field.to_owned());
        e
    }

    /// No such entry, key or principal.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// A held call answered already, or past its time.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Code::AlreadyAnswered, message)
    }

    /// No valid key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    /// The caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// The engine cannot take this now (shutting down, the store unavailable): retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    /// The log has not reached a question's `min_log_size` here: `size` entries folded (or
    /// stored) after waiting `waited`.
    pub fn log_behind(size: u64, min: u64, waited: std::time::Duration) -> Self {
        let mut error = Self::new(
            Code::LogBehind,
            format!(
                "min_log_size: this process has {size} entries of the log, not yet {min}, after \
                 waiting {} s; retry, here or where they were recorded",
                waited.as_secs_f64()
            ),
        );
        error.body.field = Some("min_log_size".to_owned());
        error
    }

    /// A fault of stepwise; the message says what failed, never a secret.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {message}");
        Self::new(Code::Internal, message.to_string())
    }

    /// An event refused by the ledger or by its own validation (422), naming the field.
    pub fn refused(e: FieldError) -> Self {
        let mut error = Self::new(
            Code::of_refusal(e.code),
            format!("{}: {}", e.field, e.problem),
        );
        error.body.field = Some(e.field);
        error
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.message)
    }
}

impl std::error::Error for Error {}

/// By variant: a damaged store is an error that retrying will not mend; a conflict, a
/// duplicate (a fresh random key id taken) or a failing database is worth retrying.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(_) => {
                tracing::error!("the store is damaged: {e}");
                Self::new(
                    Code::StoreCorrupt,
                    format!("{e}; an operator must run `stepwise log verify`"),
                )
            }
            // The ledger retries these itself; one that reaches a door ran out of retries.
            StoreError::Forgotten(_) | StoreError::Taken(_) | StoreError::Erased(_) => {
                Self::unavailable(e.to_string())
            }
            StoreError::Conflict { .. } | StoreError::Duplicate(_) | StoreError::Database(_) => {
                Self::unavailable(format!("the store failed: {e}"))
            }
        }
    }
}

/// A request field that does not parse (an id, an instant): a malformed request naming it.
impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Self::field(&e.field, &e.problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_store_is_not_worth_retrying_and_a_lost_one_is() {
        let corrupt = Error::from(StoreError::Corrupt("entry 3 does not decode".into()));
        assert_eq!((corrupt.code.status(), corrupt.retry_after), (500, None));
        assert_eq!(corrupt.body.code, "store_corrupt");
        let lost = Error::from(StoreError::Database("connection reset".into()));
        assert_eq!((lost.code.status(), lost.retry_after), (503, Some(1)));
        let raced = Error::from(StoreError::Conflict {
            expected: 1,
            actual: 2,
        });
        assert_eq!(
            (raced.code.status(), raced.body.code.as_str()),
            (503, "unavailable")
        );
    }

    #[test]
    fn a_refused_event_names_its_field_under_the_refusals_code() {
        let e = Error::refused(
            FieldError::new("at", "too early")
                .with_code(stepwise::evidence::Refusal::AtOutOfWindow),
        );
        assert_eq!(e.code, Code::AtOutOfWindow);
        assert_eq!(e.body.field.as_deref(), Some("at"));
        assert_eq!(e.body.message, "at: too early");
    }
}
