//! Errors as the API returns them: a status, a stable `code` for programs and a `message` for
//! people, always as JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use stepwise_api::ErrorBody;

/// Every error the API answers with: its stable code, HTTP status and whether to retry, mapped
/// once here. The codes are the `code` of [`ErrorBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 401: no key, or an unknown or revoked one.
    Unauthorized,
    /// 403: the key's role or principal does not allow this.
    Forbidden,
    /// 400: the request is malformed (the field at fault named when there is one).
    InvalidRequest,
    /// 422: the event is malformed or breaks a ledger rule.
    InvalidEvent,
    /// 422: the event's `at` lies outside the log's time window.
    AtOutOfWindow,
    /// 404: no such entry, key or endpoint.
    NotFound,
    /// 405: the endpoint does not take this method.
    MethodNotAllowed,
    /// 413: the body is larger than the server's limit.
    PayloadTooLarge,
    /// 413: the batch holds more events than the server's limit.
    BatchTooLarge,
    /// 429: over the key's rate; retry after the seconds given.
    RateLimited,
    /// 503: the request took too long (an append may still have been recorded); retry.
    Timeout,
    /// 503: the server cannot take this now (shutting down, the store unreachable or busy);
    /// retry.
    Unavailable,
    /// 500: the store holds something it could not have written: retrying will not help; an
    /// operator must run `stepwise log verify`.
    StoreCorrupt,
    /// 500: a fault of the server.
    Internal,
}

impl Code {
    /// Every code, in the order documented.
    pub const ALL: [Code; 14] = [
        Code::Unauthorized,
        Code::Forbidden,
        Code::InvalidRequest,
        Code::InvalidEvent,
        Code::AtOutOfWindow,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::PayloadTooLarge,
        Code::BatchTooLarge,
        Code::RateLimited,
        Code::Timeout,
        Code::Unavailable,
        Code::StoreCorrupt,
        Code::Internal,
    ];

    /// The stable text of the code.
    pub fn name(self) -> &'static str {
        match self {
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::InvalidRequest => "invalid_request",
            Code::InvalidEvent => "invalid_event",
            Code::AtOutOfWindow => "at_out_of_window",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::PayloadTooLarge => "payload_too_large",
            Code::BatchTooLarge => "batch_too_large",
            Code::RateLimited => "rate_limited",
            Code::Timeout => "timeout",
            Code::Unavailable => "unavailable",
            Code::StoreCorrupt => "store_corrupt",
            Code::Internal => "internal",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::InvalidRequest => StatusCode::BAD_REQUEST,
            Code::InvalidEvent | Code::AtOutOfWindow => StatusCode::UNPROCESSABLE_ENTITY,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::PayloadTooLarge | Code::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Timeout | Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreCorrupt | Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds a client should wait before retrying (the `Retry-After` header), for the codes
    /// where retrying can help; a rate-limited answer says its own wait.
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Code::RateLimited | Code::Timeout | Code::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The code of an event's refusal by the ledger (`FieldError::code`).
    pub fn of_refusal(code: &str) -> Self {
        if code == stepwise::evidence::FieldError::AT_OUT_OF_WINDOW {
            Code::AtOutOfWindow
        } else {
            Code::InvalidEvent
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
    /// Seconds to wait before retrying, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` (its status and retry advice) and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            body: ErrorBody {
                code: code.name().to_owned(),
                message: message.into(),
                field: None,
            },
            retry_after: code.retry_after(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, message)
    }

    /// 400 naming the field at fault.
    pub fn field(field: &str, problem: impl std::fmt::Display) -> Self {
        let mut e = Self::bad_request(format!("{field}: {problem}"));
        e.body.field = Some(field.to_owned());
        e
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// 503: the server cannot take this now (shutting down, store unavailable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    /// 500: a fault of the server; the message says what failed, never a secret.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {message}");
        Self::new(Code::Internal, message.to_string())
    }
}

/// By variant: a damaged store is a 500 that retrying will not mend; a conflict, a duplicate
/// (a fresh random key id taken) or a failing database is a 503 worth retrying.
impl From<stepwise::store::StoreError> for ApiError {
    fn from(e: stepwise::store::StoreError) -> Self {
        use stepwise::store::StoreError;
        match e {
            StoreError::Corrupt(_) => {
                tracing::error!("the store is damaged: {e}");
                Self::new(
                    Code::StoreCorrupt,
                    format!("{e}; an operator must run `stepwise log verify`"),
                )
            }
            StoreError::Conflict { .. } | StoreError::Duplicate(_) | StoreError::Database(_) => {
                Self::unavailable(format!("the store failed: {e}"))
            }
        }
    }
}

impl From<stepwise::evidence::FieldError> for ApiError {
    fn from(e: stepwise::evidence::FieldError) -> Self {
        Self::field(&e.field, &e.problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_name_a_status_and_retry_advice_only_where_retrying_helps() {
        let names: std::collections::HashSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for code in Code::ALL {
            let retry = code.retry_after().is_some();
            let status = code.status().as_u16();
            assert_eq!(retry, status == 429 || status == 503, "{code:?}");
        }
    }

    #[test]
    fn a_corrupt_store_is_not_worth_retrying_and_a_lost_one_is() {
        use stepwise::store::StoreError;
        let corrupt = ApiError::from(StoreError::Corrupt("entry 3 does not decode".into()));
        assert_eq!((corrupt.status.as_u16(), corrupt.retry_after), (500, None));
        assert_eq!(corrupt.body.code, "store_corrupt");
        let lost = ApiError::from(StoreError::Database("connection reset".into()));
        assert_eq!((lost.status.as_u16(), lost.retry_after), (503, Some(1)));
        let raced = ApiError::from(StoreError::Conflict {
            expected: 1,
            actual: 2,
        });
        assert_eq!(
            (raced.status.as_u16(), raced.body.code.as_str()),
            (503, "unavailable")
        );
    }
}
