//! Identifiers: principals, scopes and promise ids, checked once and then trusted.

use super::{FieldError, MAX_ID_LEN};
use std::fmt;

/// A short printable identifier: a principal, a scope or a promise id.
///
/// 1 to 128 bytes of printable ASCII without spaces (`agent:deploy-bot`, `user:42`,
/// `deploy:staging`), so ids are unambiguous in logs, URLs and shell commands.
///
/// Shared, not copied: a clone is a reference count, so the same principal named in an event,
/// its sealed form, the names maps and the model costs one allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(std::sync::Arc<str>);

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Id {
    /// Checks and wraps an identifier; `field` names it in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        if s.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if s.len() > MAX_ID_LEN {
            return Err(FieldError::new(
                field,
                format!("is {} bytes long; the limit is {MAX_ID_LEN}", s.len()),
            ));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(FieldError::new(
                field,
                format!(
                    "{:?} contains {c:?}; identifiers are printable ASCII without spaces",
                    s
                ),
            ));
        }
        Ok(Self(s.into()))
    }

    /// Wraps text the caller built to be a valid id (checked in debug builds only): the log's
    /// names that format 3 derives, 33 printable characters each.
    pub(crate) fn derived(s: &str) -> Self {
        debug_assert!(Self::parse("id", s).is_ok(), "{s:?} is not a valid id");
        Self(s.into())
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An id hashes and compares as its text, so maps keyed by ids can be searched by `&str`.
impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}
