//! An explained decision written straight to JSON: byte for byte what serialising
//! [`DecisionView::new`](crate::DecisionView::new) gives, without building the view first (no
//! owned strings, no JSON values, one buffer for the words). The server answers
//! `POST /v1/decide` with it; the view remains the schema and what the command line prints.

use serde::Serialize;
use stepwise::ladder::Decision;

/// Appends the JSON of `DecisionView::new(d, log_size)` to `out`.
pub fn write_decision(d: &Decision<'_>, log_size: u64, out: &mut Vec<u8>) {
    // One buffer for every text built from the decision, reused field after field.
    let mut text = String::with_capacity(256);
    out.extend_from_slice(b"{\"allowed\":");
    value(out, &d.allowed);
    out.extend_from_slice(b",\"subject\":");
    value(out, d.subject_id.as_str());
    out.extend_from_slice(b",\"capability\":");
    value(out, d.capability);
    out.extend_from_slice(b",\"stake\":");
    value(out, &d.stake);
    out.extend_from_slice(b",\"truster\":");
    value(out, &d.truster.map(stepwise::evidence::Id::as_str));
    out.extend_from_slice(b",\"at\":");
    words(out, &mut text, |t| {
        use std::fmt::Write as _;
        write!(t, "{}", d.at)
    });
    out.extend_from_slice(b",\"level\":{\"index\":");
    value(out, &d.level);
    out.extend_from_slice(b",\"name\":");
    value(out, d.level_name());
    out.extend_from_slice(b"},\"limit\":");
    value(out, &d.limit);
    out.extend_from_slice(b",\"exposure\":");
    value(out, &d.exposure);
    out.extend_from_slice(b",\"retryable\":");
    value(out, &d.retryable());
    out.extend_from_slice(b",\"earliest_retry\":");
    match d.earliest_retry() {
        None => out.extend_from_slice(b"null"),
        Some(when) => words(out, &mut text, |t| {
            use std::fmt::Write as _;
            write!(t, "{when}")
        }),
    }
    out.extend_from_slice(b",\"reasons\":[");
    for (i, r) in d.reasons().as_slice().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"code\":");
        value(out, r.code());
        out.extend_from_slice(b",\"message\":");
        words(out, &mut text, |t| d.write_reason(r, t));
        out.extend_from_slice(b",\"data\":");
        value(out, &d.reason_fields(r));
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"next_step\":");
    match d.next_step() {
        None => out.extend_from_slice(b"null"),
        Some(n) => {
            out.extend_from_slice(b"{\"level\":");
            value(out, &n.level);
            out.extend_from_slice(b",\"name\":");
            value(out, d.name_of(n.level));
            out.extend_from_slice(b",\"max_stake\":");
            value(out, &n.max_stake);
            out.extend_from_slice(b",\"requirements\":[");
            for (i, r) in n.requirements().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"name\":");
                value(out, r.name);
                out.extend_from_slice(b",\"current\":");
                value(out, &r.current.is_finite().then_some(r.current));
                out.extend_from_slice(b",\"needed\":");
                value(out, &r.needed);
                out.extend_from_slice(b",\"met\":");
                value(out, &r.met);
                out.extend_from_slice(b",\"message\":");
                words(out, &mut text, |t| d.write_requirement(r, t));
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
    }
    let evidence = d.evidence();
    out.extend_from_slice(b",\"evidence\":");
    value(out, &evidence);
    out.extend_from_slice(b",\"history\":");
    value(out, &d.history(&evidence));
    out.extend_from_slice(b",\"log_size\":");
    value(out, &log_size);
    out.extend_from_slice(b",\"policy_entry\":");
    value(out, &d.policy_entry);
    if let Some(k) = d.rank_log_size {
        out.extend_from_slice(b",\"rank_log_size\":");
        value(out, &k);
    }
    out.push(b'}');
}

/// A value as serde_json writes it. Writing to a `Vec` cannot fail, nor can serialising these
/// values (numbers, booleans, strings and structs of them).
fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// The text `write` writes, as a JSON string (built in `text`, which is cleared first).
fn words(
    out: &mut Vec<u8>,
    text: &mut String,
    write: impl FnOnce(&mut String) -> std::fmt::Result,
) {
    text.clear();
    // Writing to a `String` cannot fail.
    let _ = write(text);
    value(out, text.as_str());
}

#[cfg(test)]
mod tests {
    use super::write_decision;
    use crate::DecisionView;
    use stepwise::evidence::{Event, Id, Time};
    use stepwise::ladder::{Ladder, LadderState};
    use stepwise::model::params::{DAY_MICROS, ModelParams};

    const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

    fn at(day: f64) -> Time {
        Time::from_micros(T0 + (day * DAY_MICROS as f64) as i64).expect("time")
    }

    /// Every decision of a small world — kept and broken promises, open ones, a cool-down,
    /// unknown subjects and capabilities, odd stakes and texts that need escaping — is written
    /// exactly as its view serialises.
    #[test]
    fn writes_the_bytes_the_view_serialises_to() {
        let mut state = LadderState::new(ModelParams::default(), Ladder::default());
        let mut index = 0;
        let mut record = |json: String| {
            let event = Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            state.apply(index, &event);
            index += 1;
        };
        let people = ["ann", "bob", "c\"q\\x", "dan"];
        for (k, day) in (0..40_u32).map(|k| (k as usize, f64::from(k) * 0.9)) {
            let quoted = |p: &str| serde_json::to_string(p).expect("json");
            let (who, to) = (
                quoted(people[k % 3]),
                quoted(people[(k % 3 + 1 + (k / 3) % 3) % 4]),
            );
            let result = if k % 7 == 6 && k % 3 == 1 {
                "broken"
            } else {
                "kept"
            };
            record(format!(
                r#"{{"kind":"promise","at":"{}","id":"p{k}","promisor":{who},"promisee":{to},"scope":"work","stake":{},"due":"{}"}}"#,
                at(day),
                5 + k,
                at(day + 3.0)
            ));
            if k % 5 != 4 {
                record(format!(
                    r#"{{"kind":"outcome","at":"{}","promise":"p{k}","result":"{result}"}}"#,
                    at(day + 0.5)
                ));
            }
            record(format!(
                r#"{{"kind":"rating","at":"{}","rater":{to},"subject":{who},"value":0.8}}"#,
                at(day + 0.6)
            ));
        }
        let capabilities = ["read", "propose", "act:high", "fly", "q\"u\\o\u{7}te"];
        let stakes = [
            0.0,
            1.0,
            5.5,
            20.0,
            100.0,
            1e9,
            f64::NAN,
            -1.0,
            f64::INFINITY,
        ];
        let mut checked = 0;
        let mut codes = std::collections::BTreeSet::<String>::new();
        for subject in people.iter().chain(&["nobody"]) {
            let subject = Id::parse("subject", subject).expect("id");
            for capability in capabilities {
                for &stake in &stakes {
                    for day in [1.0, 20.0, 38.0, 60.0] {
                        for truster in [None, Some(Id::parse("t", "ann").expect("id"))] {
                            let d = state.decide(
                                &subject,
                                capability,
                                stake,
                                truster.as_ref(),
                                at(day),
                            );
                            let view = DecisionView::new(&d, 77);
                            codes.extend(view.reasons.iter().map(|r| r.code.clone()));
                            let view = serde_json::to_vec(&view).expect("json");
                            let mut written = Vec::new();
                            write_decision(&d, 77, &mut written);
                            assert_eq!(
                                String::from_utf8_lossy(&written),
                                String::from_utf8_lossy(&view)
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 5 * 9 * 4 * 2);
        let expected = [
            "capability_granted",
            "capability_needs_level",
            "cooldown",
            "exposure_above_limit",
            "invalid_stake",
            "level",
            "stake_above_limit",
            "stake_within_limit",
            "unknown_capability",
        ];
        assert!(expected.iter().all(|c| codes.contains(*c)), "{codes:?}");
    }
}
