//! Errors as the API returns them: the engine's [`Error`] (a code of the one table, with its
//! message and field) answered with its status, `Retry-After` where retrying helps, and the
//! error body as JSON. The HTTP door adds nothing to an error but its wire form.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use stepwise_api::{Code, ErrorBody};
use stepwise_engine::Error;

/// An error on its way to the client: the engine's, in HTTP's clothes.
#[derive(Debug)]
pub struct ApiError(pub Error);

/// The constructors of the engine's error, answering as an `ApiError`.
macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*);)+) => {
        impl ApiError {
            $($(#[$doc])* pub fn $name($($arg: $ty),*) -> Self {
                Self(Error::$name($($arg),*))
            })+
        }
    };
}

constructors! {
    /// An error with `code` and `message`.
    new(code: Code, message: impl Into<String>);
    /// 400: the request is malformed.
    bad_request(message: impl Into<String>);
    /// 400 naming the field at fault.
    field(field: &str, problem: impl std::fmt::Display);
    /// 404.
    not_found(message: impl Into<String>);
    /// 401.
    unauthorized(message: impl Into<String>);
    /// 403.
    forbidden(message: impl Into<String>);
    /// 503: the server cannot take this now (shutting down, store unavailable).
    unavailable(message: impl Into<String>);
    /// 500: a fault of the server; the message says what failed, never a secret.
    internal(message: impl std::fmt::Display);
}

impl std::ops::Deref for ApiError {
    type Target = Error;
    fn deref(&self) -> &Error {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Error {
        &mut self.0
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<stepwise_store::StoreError> for ApiError {
    fn from(e: stepwise_store::StoreError) -> Self {
        Self(e.into())
    }
}

impl From<stepwise::evidence::FieldError> for ApiError {
    fn from(e: stepwise::evidence::FieldError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Error {
            code,
            body,
            retry_after,
        } = self.0;
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after
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
    fn every_code_answers_with_a_status_http_knows_and_retry_after_where_it_helps() {
        for &code in Code::ALL {
            let response = ApiError::new(code, "x").into_response();
            assert_eq!(response.status().as_u16(), code.status(), "{code:?}");
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                code.retry_after().is_some(),
                "{code:?}"
            );
        }
    }
}
