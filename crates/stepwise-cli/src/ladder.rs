//! `stepwise decide`, `stepwise explain` and `stepwise ladder`: the question users ask, with
//! its reasons and the next step, always.
//!
//! `decide` exits 0 when allowed and 1 when denied, so shell scripts can branch on it.

use crate::output::Out;
use anyhow::Result;
use clap::Args;
use serde_json::Value;
use std::io::Write;
use stepwise::evidence::{Id, Time};
use stepwise::ladder::LadderState;
use stepwise_api::{self as wire, DecisionView, NextStepView};
use stepwise_engine::Prefix;
use stepwise_engine::question::{self, Decide, Explain, Question};
use stepwise_store::data_dir::DataDir;

fn to_json(view: &impl serde::Serialize) -> Result<Value> {
    Ok(serde_json::to_value(view)?)
}

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
    /// Also write a receipt of the decision to FILE, which anyone checks with the log's key
    /// alone (`stepwise receipt verify`).
    #[arg(long, value_name = "FILE")]
    receipt: Option<std::path::PathBuf>,
    #[command(flatten)]
    replay: Replay,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The principal.
    subject: String,
    #[command(flatten)]
    replay: Replay,
}

/// Which part of the log an answer is computed from, and at what instant: together with the
/// log size every answer reports, what replays it exactly. The default: the whole log, now.
#[derive(Args, Default)]
pub struct Replay {
    /// The instant, RFC 3339 (default: now). Only events dated up to then count.
    #[arg(long)]
    at: Option<String>,
    /// Answer from the first N entries of the log only (default: all). With the `log_size` and
    /// `at` an answer reported, gives that answer again, whatever was appended since.
    #[arg(long, value_name = "N")]
    log_size: Option<u64>,
    /// With the network rank of the first K entries (default: of the entries answered from),
    /// as an answer from `stepwise serve`, whose rank is refreshed in the background, reported
    /// it (`rank_log_size`).
    #[arg(long, value_name = "K")]
    rank_log_size: Option<u64>,
}

impl Replay {
    /// The fold this asks for, in the engine's one type (the instant parsed; the sizes are
    /// checked against the log when it is folded).
    pub fn prefix(&self) -> Result<Prefix> {
        Ok(question::prefix(
            self.log_size,
            self.rank_log_size,
            self.at.as_deref(),
        )?)
    }
}

/// Folds the part of the data directory's log `prefix` asks for (checked against the log by the
/// engine), with a spinner; returns the state and the instant to answer at (the one given, or
/// now: see `TrustState::instant_for`).
pub fn fold_prefix(data: &DataDir, prefix: Prefix) -> Result<(LadderState, Time)> {
    let (store, names, policy) = data.open_named()?;
    let sha256 =
        stepwise_store::ledger::policy_sha256(&std::fs::read_to_string(data.policy_path())?);
    let policies = question::Policies {
        current: &policy,
        sha256: &sha256,
        names: &names,
    };
    let bar = crate::output::spinner();
    let folded = question::replay(&store, policies, prefix, crate::record::now(), &mut |n| {
        bar.set_message(format!("{n} entries read"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    // Answers follow the policy the log records; an edit of the file counts once recorded.
    if prefix.log_size.is_none()
        && let Some((index, recorded)) = folded.0.trust().policy_entry()
        && recorded != sha256
    {
        eprintln!(
            "stepwise: {} is not the policy the log records (entry {index}); answers follow \
             the log's until `stepwise policy apply` records the file",
            data.policy_path().display()
        );
    }
    crate::output::open_names_with(names);
    Ok(folded)
}

/// Folds the part of the data directory's log `replay` asks for.
pub fn fold(data: &DataDir, replay: &Replay) -> Result<(LadderState, Time)> {
    fold_prefix(data, replay.prefix()?)
}

/// Answers `question` from a fold of the data directory's log: the engine's question, asked of
/// a replay, as a one-shot command asks it.
pub fn ask<Q: Question>(data: &DataDir, mut question: Q) -> Result<Q::Answer> {
    let (state, at) = fold_prefix(data, question.prefix())?;
    question.name_with(&names());
    Ok(question.answer(&state, at))
}

/// The names of the log last folded (ids ↔ pseudonyms).
pub fn names() -> std::sync::Arc<stepwise_store::names::Names> {
    crate::output::names().unwrap_or_default()
}

/// The evidence line of an answer: the cited entries, and which were imported as history.
/// The policy's seeds as JSON: a list of ids.
fn seeds_json(seeds: &[Id]) -> Value {
    seeds.iter().map(|s| Value::from(s.as_str())).collect()
}

/// The seeds in words, or what follows from naming none.
fn write_seeds(w: &mut dyn Write, seeds: &Value) -> std::io::Result<()> {
    match seeds.as_array().map(Vec::as_slice) {
        Some([]) | None => writeln!(w, "seeds: {}", wire::NO_SEEDS),
        Some(list) => {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            writeln!(
                w,
                "seeds: {} (network rank starts from them)",
                names.join(", ")
            )
        }
    }
}

pub fn write_evidence(w: &mut dyn Write, evidence: &[u64], history: &[u64]) -> std::io::Result<()> {
    let list = |xs: &[u64]| xs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if evidence.is_empty() {
        return writeln!(w, "evidence: none in the log");
    }
    writeln!(w, "evidence: log entries {}", list(evidence))?;
    if !history.is_empty() {
        writeln!(
            w,
            "  of which imported as history (dated by their data set, not held to the log's time window): {}",
            list(history)
        )?;
    }
    Ok(())
}

fn write_next_step(w: &mut dyn Write, next: Option<&NextStepView>) -> std::io::Result<()> {
    match next {
        None => writeln!(w, "next step: none — this is the top of the ladder"),
        Some(n) => {
            writeln!(
                w,
                "next step: level {} ({}, stakes up to {}):",
                n.level, n.name, n.max_stake
            )?;
            for r in &n.requirements {
                let mark = if r.met { "x" } else { " " };
                writeln!(w, "  [{mark}] {}", r.message)?;
            }
            Ok(())
        }
    }
}

pub fn decide(data: &DataDir, args: DecideArgs, out: &mut Out) -> Result<bool> {
    let subject = Id::parse("SUBJECT", &args.subject)?;
    let truster = args
        .truster
        .map(|t| Id::parse("--truster", &t))
        .transpose()?;
    let question = Decide::new(
        subject,
        &args.capability,
        args.stake,
        truster,
        args.replay.prefix()?,
    )?;
    let view = decision(data, &question)?;
    let json = to_json(&view)?;
    if let Some(path) = &args.receipt {
        crate::receipt::write(data, &json, path)?;
    }
    out.emit(&json, |w| write_decision(w, &view))?;
    Ok(view.allowed)
}

/// The decision on one question, as every interface prints it (`stepwise decide`, the MCP
/// `decide` tool): folded from the part of the log the question asks of.
pub fn decision(data: &DataDir, question: &Decide) -> Result<DecisionView> {
    let (state, at) = fold_prefix(data, question.prefix)?;
    let mut question = question.clone();
    question.name_with(&names());
    Ok(question.view(&state, at))
}

/// A decision in words: the verdict, the reasons, whether and when to retry, the next step and
/// the evidence.
pub fn write_decision(w: &mut dyn Write, view: &DecisionView) -> std::io::Result<()> {
    let at = &view.at;
    writeln!(
        w,
        "{}: {} {} {} at stake {} (level {} {}, limit {}{})",
        if view.allowed { "ALLOWED" } else { "DENIED" },
        view.subject,
        if view.allowed { "may" } else { "may not" },
        view.capability,
        view.stake,
        view.level.index,
        view.level.name,
        view.limit,
        if view.exposure > 0.0 {
            format!(", {} already at stake", view.exposure)
        } else {
            String::new()
        }
    )?;
    writeln!(w, "reasons:")?;
    for r in &view.reasons {
        writeln!(w, "  - {}", r.message)?;
    }
    match (view.retryable, &view.earliest_retry) {
        (Some(false), _) => writeln!(w, "retry: never — no record allows this under the policy")?,
        (Some(true), Some(when)) => writeln!(
            w,
            "retry: not yet — time alone allows it from {when}, if nothing changes"
        )?,
        (Some(true), None) => writeln!(w, "retry: not yet — after the next step below")?,
        (None, _) => {}
    }
    write_next_step(w, view.next_step.as_ref())?;
    write_evidence(w, &view.evidence, &view.history)?;
    writeln!(
        w,
        "log size: {} (replay with --log-size {} --at {at})",
        view.log_size, view.log_size
    )?;
    writeln!(
        w,
        "policy: {}",
        crate::output::policy_words(view.policy_entry)
    )
}

pub fn explain(data: &DataDir, args: ExplainArgs, out: &mut Out) -> Result<bool> {
    let (state, at) = fold(data, &args.replay)?;
    let subject = names().name(&Id::parse("SUBJECT", &args.subject)?);
    let explanation = state.explain(&subject, at);
    let steps = &explanation.timeline;
    let view = Explain {
        subject: subject.clone(),
        prefix: Prefix::ALL,
    }
    .answer(&state, at);
    let levels = state.ladder().levels();
    let seeds = seeds_json(explanation.seeds());
    out.emit(&to_json(&view)?, |w| {
        writeln!(
            w,
            "{subject} at {at}: level {} ({}), stakes up to {}",
            view.level.index, view.level.name, view.max_stake
        )?;
        if view.limit < view.max_stake {
            writeln!(
                w,
                "limit now: {} (promises broken at level 0 in a cool-down still running)",
                view.limit
            )?;
        }
        if view.exposure > 0.0 {
            writeln!(
                w,
                "at stake: {} in open promises, so at most {} more now",
                view.exposure,
                (view.limit - view.exposure).max(0.0)
            )?;
        }
        writeln!(w, "may: {}", view.capabilities.join(", "))?;
        writeln!(
            w,
            "standing: expected trust {:.3}, uncertainty {:.3}",
            view.expected, view.uncertainty
        )?;
        if steps.is_empty() {
            writeln!(w, "timeline: no promotion or demotion yet")?;
        } else {
            writeln!(w, "timeline:")?;
            for s in steps {
                let arrow = if s.to > s.from { "↑" } else { "↓" };
                writeln!(
                    w,
                    "  {}  {arrow} {} → {}  {}",
                    s.at,
                    levels[s.from].name,
                    levels[s.to].name,
                    wire::cause_text(&s.cause)
                )?;
            }
        }
        write_next_step(w, view.next_step.as_ref())?;
        write_evidence(w, &view.evidence, &view.history)?;
        write_seeds(w, &seeds)?;
        writeln!(
            w,
            "log size: {} (replay with --log-size {} --at {at})",
            view.log_size, view.log_size
        )?;
        writeln!(
            w,
            "policy: {}",
            crate::output::policy_words(view.policy_entry)
        )
    })?;
    Ok(true)
}

pub fn ladder(data: &DataDir, out: &mut Out) -> Result<bool> {
    let policy = data.policy()?;
    let ladder = policy.ladder;
    let day = stepwise::model::params::DAY_MICROS as f64;
    let rows = to_json(&wire::ladder_view(&ladder))?;
    let rules = ladder.rules();
    let seeds = seeds_json(&policy.model.seeds);
    out.emit(&rows, |w| {
        writeln!(w, "{:>3}  {:<14} {:>10}  {:<44}  capabilities", "lvl", "name", "max stake", "to enter")?;
        for (k, l) in ladder.levels().iter().enumerate() {
            let r = &l.requires;
            let needs = if k == 0 {
                "everyone starts here".to_owned()
            } else {
                let mut parts = vec![
                    format!("{} kept ≥{} from {} promisees", r.kept, r.kept_min_stake, r.min_counterparties),
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
            "a broken promise demotes 1 step (+1 per {}× the level's max stake), then {}; margin {}; floor {}",
            rules.demotion_stake_fraction,
            if rules.scale_by_stake {
                format!(
                    "up to {:.0}d cool-down, scaled by its stake over the level's max stake",
                    rules.cooldown as f64 / day
                )
            } else {
                format!("{:.0}d cool-down", rules.cooldown as f64 / day)
            },
            rules.margin,
            rules.floor_expected
        )?;
        writeln!(
            w,
            "{}",
            if rules.limit_exposure {
                "max stake bounds what is at risk at once: the stake asked plus open promises not yet due"
            } else {
                "max stake bounds each promise alone"
            }
        )?;
        if rules.bound_level_0_losses {
            writeln!(
                w,
                "at level 0 (no step down) a broken promise takes half the share of the limit it betrayed, until its cool-down ends"
            )?;
        }
        write_seeds(w, &seeds)
    })?;
    Ok(true)
}
