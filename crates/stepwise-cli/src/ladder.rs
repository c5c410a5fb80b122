//! `stepwise decide`, `stepwise explain` and `stepwise ladder`: the question users ask, with
//! its reasons and the next step, always.
//!
//! `decide` exits 0 when allowed and 1 when denied, so shell scripts can branch on it.

use crate::output::Out;
use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};
use std::io::Write;
use stepwise::data_dir::DataDir;
use stepwise::evidence::{Id, Time};
use stepwise::ladder::{Decision, LadderState, Step, StepCause};

#[derive(Args)]
pub struct DecideArgs {
    /// The principal asking to act.
    subject: String,
    /// What it asks to do (a capability of the ladder).
    capability: String,
    /// What is at stake.
    #[arg(long, allow_hyphen_values = true)]
    stake: f64,
    /// Decide for this truster, with its own profile (stricter only).
    #[arg(long)]
    truster: Option<String>,
    /// The instant, RFC 3339 (default: now). Only evidence recorded up to then counts.
    #[arg(long)]
    at: Option<String>,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The principal.
    subject: String,
    /// The instant, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
}

fn instant(at: Option<String>) -> Result<(Time, Option<Time>)> {
    Ok(match at {
        Some(text) => {
            let at = Time::parse("--at", &text)?;
            (at, Some(at))
        }
        None => (crate::record::now()?, None),
    })
}

fn fold(data: &DataDir, until: Option<Time>) -> Result<LadderState> {
    let policy = data.policy()?;
    let store = data.open_store()?;
    let bar = crate::output::spinner();
    let state = LadderState::replay(&store, policy.model, policy.ladder, until, &mut |n| {
        bar.set_message(format!("{n} entries read"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    Ok(state)
}

fn next_step_json(d: &Decision<'_>) -> Value {
    match d.next_step() {
        None => Value::Null,
        Some(n) => json!({
            "level": n.level,
            "name": d.name_of(n.level),
            "max_stake": n.max_stake,
            "requirements": n.requirements().iter().map(|r| json!({
                "name": r.name,
                "current": r.current,
                "needed": r.needed,
                "met": r.met,
                "message": d.describe_requirement(r),
            })).collect::<Vec<_>>(),
        }),
    }
}

fn write_next_step(w: &mut dyn Write, d: &Decision<'_>) -> std::io::Result<()> {
    match d.next_step() {
        None => writeln!(w, "next step: none — this is the top of the ladder"),
        Some(n) => {
            let name = d.name_of(n.level);
            writeln!(
                w,
                "next step: level {} ({name}, stakes up to {}):",
                n.level, n.max_stake
            )?;
            for r in n.requirements() {
                let mark = if r.met { "x" } else { " " };
                writeln!(w, "  [{mark}] {}", d.describe_requirement(r))?;
            }
            Ok(())
        }
    }
}

fn decision_json(d: &Decision<'_>, log_size: u64) -> Value {
    json!({
        "allowed": d.allowed,
        "subject": d.subject_id.as_str(),
        "capability": d.capability,
        "stake": d.stake,
        "truster": d.truster.map(Id::as_str),
        "at": d.at.to_string(),
        "level": {"index": d.level, "name": d.level_name()},
        "limit": d.limit,
        "reasons": d.reasons().as_slice().iter().map(|r| json!({
            "code": r.code(),
            "message": d.describe(r),
            "data": d.reason_data(r),
        })).collect::<Vec<_>>(),
        "next_step": next_step_json(d),
        "evidence": d.evidence(),
        "log_size": log_size,
    })
}

pub fn decide(data: &DataDir, args: DecideArgs, out: &mut Out) -> Result<bool> {
    let subject = Id::parse("SUBJECT", &args.subject)?;
    let truster = args
        .truster
        .map(|t| Id::parse("--truster", &t))
        .transpose()?;
    if !(args.stake.is_finite() && args.stake >= 0.0) {
        bail!("--stake {} must be a finite number ≥ 0", args.stake);
    }
    let (at, until) = instant(args.at)?;
    let state = fold(data, until)?;
    let d = state.decide(&subject, &args.capability, args.stake, truster.as_ref(), at);
    out.emit(&decision_json(&d, state.trust().log_size()), |w| {
        writeln!(
            w,
            "{}: {} {} {} at stake {} (level {} {}, limit {})",
            if d.allowed { "ALLOWED" } else { "DENIED" },
            subject,
            if d.allowed { "may" } else { "may not" },
            args.capability,
            args.stake,
            d.level,
            d.level_name(),
            d.limit
        )?;
        writeln!(w, "reasons:")?;
        for r in d.reasons().as_slice() {
            writeln!(w, "  - {}", d.describe(r))?;
        }
        write_next_step(w, &d)?;
        let evidence: Vec<String> = d.evidence().iter().map(u64::to_string).collect();
        writeln!(
            w,
            "evidence: {}",
            if evidence.is_empty() {
                "none in the log".into()
            } else {
                format!("log entries {}", evidence.join(", "))
            }
        )
    })?;
    Ok(d.allowed)
}

fn cause_json(cause: &StepCause) -> Value {
    match *cause {
        StepCause::Promoted { index } => json!({"kind": "promoted", "index": index}),
        StepCause::Broken { index, stake } => {
            json!({"kind": "broken_promise", "index": index, "stake": stake})
        }
        StepCause::Overdue { index, stake } => {
            json!({"kind": "overdue_promise", "index": index, "stake": stake})
        }
        StepCause::FellBelow {
            index,
            expected,
            uncertainty,
        } => {
            json!({"kind": "fell_below", "index": index, "expected": expected, "uncertainty": uncertainty})
        }
    }
}

fn cause_text(cause: &StepCause) -> String {
    match *cause {
        StepCause::Promoted { index: Some(i) } => format!("requirements met (entry {i})"),
        StepCause::Promoted { index: None } => "requirements met as time passed".into(),
        StepCause::Broken { index, stake } => {
            format!("broken promise of stake {stake} (entry {index})")
        }
        StepCause::Overdue { index, stake } => {
            format!("promise of stake {stake} left past due (entry {index})")
        }
        StepCause::FellBelow {
            index,
            expected,
            uncertainty,
        } => format!(
            "standing fell below the level (expected {expected:.3}, uncertainty {uncertainty:.3}){}",
            index.map_or(String::new(), |i| format!(" after entry {i}"))
        ),
    }
}

pub fn explain(data: &DataDir, args: ExplainArgs, out: &mut Out) -> Result<bool> {
    let subject = Id::parse("SUBJECT", &args.subject)?;
    let (at, until) = instant(args.at)?;
    let state = fold(data, until)?;
    // The stored timeline, then what time has done since the last event.
    let mut steps: Vec<Step> = state.timeline(&subject).to_vec();
    state.position_at(state.trust().principal_index(&subject), at, &mut steps);
    // `decide` on the lowest capability gives the standing and the next step.
    let first = state
        .ladder()
        .capabilities_at(0)
        .first()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let d = state.decide(&subject, &first, 0.0, None, at);
    let levels = state.ladder().levels();
    out.emit(
        &json!({
            "subject": subject.as_str(),
            "at": at.to_string(),
            "level": {"index": d.level, "name": d.level_name()},
            "max_stake": levels[d.level].max_stake,
            "capabilities": state.ladder().capabilities_at(d.level),
            "expected": d.expected,
            "uncertainty": d.uncertainty,
            "timeline": steps.iter().map(|s| json!({
                "at": s.at.to_string(),
                "from": s.from,
                "to": s.to,
                "cause": cause_json(&s.cause),
            })).collect::<Vec<_>>(),
            "next_step": next_step_json(&d),
            "evidence": d.evidence(),
            "log_size": state.trust().log_size(),
        }),
        |w| {
            writeln!(
                w,
                "{subject} at {at}: level {} ({}), stakes up to {}",
                d.level,
                d.level_name(),
                levels[d.level].max_stake
            )?;
            writeln!(
                w,
                "may: {}",
                state.ladder().capabilities_at(d.level).join(", ")
            )?;
            writeln!(
                w,
                "standing: expected trust {:.3}, uncertainty {:.3}",
                d.expected, d.uncertainty
            )?;
            if steps.is_empty() {
                writeln!(w, "timeline: no promotion or demotion yet")?;
            } else {
                writeln!(w, "timeline:")?;
                for s in &steps {
                    let arrow = if s.to > s.from { "↑" } else { "↓" };
                    writeln!(
                        w,
                        "  {}  {arrow} {} → {}  {}",
                        s.at,
                        levels[s.from].name,
                        levels[s.to].name,
                        cause_text(&s.cause)
                    )?;
                }
            }
            write_next_step(w, &d)
        },
    )?;
    Ok(true)
}

pub fn ladder(data: &DataDir, out: &mut Out) -> Result<bool> {
    let policy = data.policy()?;
    let ladder = policy.ladder;
    let day = stepwise::model::params::DAY_MICROS as f64;
    let rows: Vec<Value> = ladder
        .levels()
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let r = &l.requires;
            json!({
                "index": k,
                "name": l.name,
                "max_stake": l.max_stake,
                "capabilities": ladder.capabilities_at(k),
                "requires": if k == 0 { Value::Null } else { json!({
                    "kept": r.kept,
                    "kept_min_stake": r.kept_min_stake,
                    "min_expected": r.min_expected,
                    "max_uncertainty": r.max_uncertainty,
                    "min_tenure_days": r.min_tenure as f64 / day,
                    "clean_for_days": r.clean_for as f64 / day,
                    "vouches": r.vouches,
                    "vouchers_level": r.vouchers_level,
                })},
            })
        })
        .collect();
    let rules = ladder.rules();
    out.emit(&Value::Array(rows), |w| {
        writeln!(w, "{:>3}  {:<14} {:>10}  {:<44}  capabilities", "lvl", "name", "max stake", "to enter")?;
        for (k, l) in ladder.levels().iter().enumerate() {
            let r = &l.requires;
            let needs = if k == 0 {
                "everyone starts here".to_owned()
            } else {
                let mut parts = vec![
                    format!("{} kept ≥{}", r.kept, r.kept_min_stake),
                    format!("E≥{}", r.min_expected),
                    format!("u≤{}", r.max_uncertainty),
                    format!("{:.0}d at {}", r.min_tenure as f64 / day, k - 1),
                    format!("{:.0}d clean", r.clean_for as f64 / day),
                ];
                if r.vouches > 0 {
                    parts.push(format!("{} vouch(es) from ≥{}", r.vouches, r.vouchers_level));
                }
                parts.join(", ")
            };
            writeln!(w, "{k:>3}  {:<14} {:>10}  {needs:<44}  {}", l.name, l.max_stake, l.capabilities.join(", "))?;
        }
        writeln!(
            w,
            "a broken promise demotes 1 step (+1 per {}× the level's max stake), then {:.0}d cool-down; margin {}; floor {}",
            rules.demotion_stake_fraction,
            rules.cooldown as f64 / day,
            rules.margin,
            rules.floor_expected
        )
    })?;
    Ok(true)
}
