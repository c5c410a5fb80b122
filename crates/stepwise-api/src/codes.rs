//! The one table of error codes: every code's stable name, HTTP status, whether retrying can
//! help, and what it means, in one place. The enum, the list of every code ([`Code::ALL`]) and
//! each lookup are generated from the table, so a new code cannot be left out of any of them;
//! a test holds docs/API.md's table of codes to these rows, word for word.
//!
//! Every door answers with these codes: the HTTP API as `ErrorBody::code` with the status, the
//! MCP tools in their error's structured content, the command line in `--json` errors.

use stepwise::evidence::Refusal;

/// Declares [`Code`] from its rows: variant, name, status, retry advice (seconds to wait, or
/// `None` where retrying will not help), meaning.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = ($name:literal, $status:literal, $retry:expr, $meaning:literal);)+) => {
        /// Every error an interface answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The stable text of the code.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)+ }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)+ }
            }

            /// Seconds a client should wait before retrying (the `Retry-After` header), for
            /// the codes where retrying can help; a rate-limited answer says its own wait.
            pub fn retry_after(self) -> Option<u64> {
                match self { $(Code::$variant => $retry,)+ }
            }

            /// What it means, in words (docs/API.md's table).
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)+ }
            }
        }
    };
}

codes! {
    /// No key, or an unknown or revoked one.
    Unauthorized = ("unauthorized", 401, None, "no key, or an unknown or revoked one");
    /// The key's role or principal does not allow this.
    Forbidden = ("forbidden", 403, None, "the key's role or principal does not allow this");
    /// The request is malformed (the field at fault named when there is one).
    InvalidRequest = ("invalid_request", 400, None, "malformed request; `field` names the parameter");
    /// The event is malformed or breaks a ledger rule.
    InvalidEvent = ("invalid_event", 422, None, "the event is malformed or breaks a ledger rule; `field` names it");
    /// The event's `at` lies outside the log's time window.
    AtOutOfWindow = ("at_out_of_window", 422, None, "the event's `at` lies outside the log's time window");
    /// The entry would be longer than a tlog-tiles entry bundle can carry.
    EntryTooLarge = ("entry_too_large", 422, None, "the entry would be over 65,535 bytes, the most a tlog-tiles entry bundle carries");
    /// An approval its approver may not give now: it is the call's subject, may not make the
    /// call itself, or its approval record is below the floor (the message names the approver
    /// and the refusal's code).
    ApprovalRefused = ("approval_refused", 422, None, "the approver may not approve this call now (`approver_is_subject`, `approver_not_allowed` or `approver_record_too_low`, named in the message)");
    /// No such entry, key, principal or endpoint.
    NotFound = ("not_found", 404, None, "no such entry, key, principal or endpoint");
    /// Forgotten as far as it can be: entries that name the principal in the clear (written
    /// before format 3, or keeping the clear name those gave it) stay, listed in the message.
    InClearEntries = ("in_clear_entries", 409, None, "forgotten as far as it can be; the entries listed name the principal in the clear and stay");
    /// A held call that was answered already, or waited past its time.
    AlreadyAnswered = ("already_answered", 409, None, "the held call was answered already, or waited past its time");
    /// The endpoint does not take this method.
    MethodNotAllowed = ("method_not_allowed", 405, None, "the endpoint does not take this method");
    /// The body is larger than the server's limit.
    PayloadTooLarge = ("payload_too_large", 413, None, "body over `--max-body`");
    /// The batch holds more events than the server's limit.
    BatchTooLarge = ("batch_too_large", 413, None, "batch over `--max-batch`");
    /// Over the key's rate; retry after the seconds given.
    RateLimited = ("rate_limited", 429, Some(1), "over the key's rate");
    /// The request took too long (an append may still have been recorded); retry.
    Timeout = ("timeout", 503, Some(1), "over `--timeout` (an append may still have been recorded)");
    /// The server has not yet folded the log to the request's `min_log_size` (a write
    /// acknowledged by another server); retry, here or elsewhere.
    LogBehind = ("log_behind", 503, Some(1), "the server has not folded `min_log_size` entries within its wait; the message names the size it has");
    /// The server cannot take this now (shutting down, the store unreachable or busy); retry.
    Unavailable = ("unavailable", 503, Some(1), "shutting down, or the store unreachable or busy");
    /// The store holds something it could not have written: retrying will not help; an
    /// operator must run `stepwise log verify`.
    StoreCorrupt = ("store_corrupt", 500, None, "the store holds what stepwise could not have written: an operator runs `stepwise log verify`");
    /// A fault of the server.
    Internal = ("internal", 500, None, "a fault of the server");
}

impl Code {
    /// The code of an event's refusal by the ledger.
    pub fn of_refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidEvent => Code::InvalidEvent,
            Refusal::AtOutOfWindow => Code::AtOutOfWindow,
            Refusal::EntryTooLarge => Code::EntryTooLarge,
            Refusal::ApprovalRefused => Code::ApprovalRefused,
        }
    }

    /// The code whose name is `name`, if any (an error body read back).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The row of docs/API.md's table of codes for this code.
    pub fn doc_row(self) -> String {
        let retry = if self.retry_after().is_some() {
            "yes"
        } else {
            "no"
        };
        format!(
            "| `{}` | {} | {retry} | {} |",
            self.name(),
            self.status(),
            self.meaning()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_name_and_retry_advice_only_where_retrying_helps() {
        let names: std::collections::HashSet<_> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for &code in Code::ALL {
            let retry = code.retry_after().is_some();
            assert_eq!(retry, matches!(code.status(), 429 | 503), "{code:?}");
            assert_eq!(Code::from_name(code.name()), Some(code));
        }
    }

    #[test]
    fn every_refusal_of_the_ledger_has_its_code_of_the_same_name() {
        for refusal in [
            Refusal::InvalidEvent,
            Refusal::AtOutOfWindow,
            Refusal::EntryTooLarge,
            Refusal::ApprovalRefused,
        ] {
            assert_eq!(Code::of_refusal(refusal).name(), refusal.name());
            assert_eq!(Code::of_refusal(refusal).status(), 422);
        }
    }
}
