//! `stepwise decide`, `stepwise explain` and `stepwise ladder`: the question users ask, with
//! its reasons and the next step, always.
//!
//! `decide` exits 0 when allowed and 1 when denied, so shell scripts can branch on it.

use crate::output::Out;
use anyhow::{Result, bail};
use clap::Args;
use serde_json::Value;
use std::io::Write;
use stepwise::data_dir::DataDir;
use stepwise::evidence::{Id, Time};
use stepwise::ladder::LadderState;
use stepwise::ledger::replay::Prefix;
use stepwise::store::Store as _;
use stepwise_api::{self as wire, DecisionView, ExplainView, NextStepView};

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
    /// Folds the part of the data directory's log this asks for with `fold`; returns the state
    /// and the instant to answer at (the one given, or now: see `TrustState::instant_for`).
    pub fn fold<T>(
        &self,
        data: &DataDir,
        fold: impl FnOnce(&stepwise::store::SqliteStore, Prefix, &mut dyn FnMut(u64)) -> Result<T>,
        instant_for: impl FnOnce(&T, Time) -> Time,
    ) -> Result<(T, Time)> {
        let until = self
            .at
            .as_deref()
            .map(|text| Time::parse("--at", text))
            .transpose()?;
        let store = data.open_store()?;
        let size = store.size()?;
        if let Some(n) = self.log_size.filter(|&n| n > size) {
            bail!("--log-size {n} is larger than the log ({size} entries)");
        }
        let n = self.log_size.unwrap_or(size);
        if let Some(k) = self.rank_log_size.filter(|&k| k > n) {
            bail!("--rank-log-size {k} is larger than the log size answered from ({n})");
        }
        let prefix = Prefix {
            log_size: self.log_size,
            until,
            rank_log_size: self.rank_log_size,
        };
        let bar = crate::output::spinner();
        let state = fold(&store, prefix, &mut |n| {
            bar.set_message(format!("{n} entries read"));
            bar.tick();
        })?;
        bar.finish_and_clear();
        let at = until.unwrap_or_else(|| instant_for(&state, crate::record::now()));
        Ok((state, at))
    }
}

pub fn fold(data: &DataDir, replay: &Replay) -> Result<(LadderState, Time)> {
    let policy = data.policy()?;
    replay.fold(
        data,
        |store, prefix, progress| {
            Ok(LadderState::replay(
                store,
                policy.model,
                policy.ladder,
                prefix,
                progress,
            )?)
        },
        |state, now| state.trust().instant_for(now),
    )
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
    if !(args.stake.is_finite() && args.stake >= 0.0) {
        bail!("--stake {} must be a finite number ≥ 0", args.stake);
    }
    let view = decision(
        data,
        &args.replay,
        &subject,
        &args.capability,
        args.stake,
        truster.as_ref(),
    )?;
    out.emit(&to_json(&view)?, |w| write_decision(w, &view))?;
    Ok(view.allowed)
}

/// The decision on one request, as every interface prints it (`stepwise decide`, the MCP
/// `decide` tool): folded from the part of the log `replay` asks for. The stake must already be
/// checked (finite, ≥ 0).
pub fn decision(
    data: &DataDir,
    replay: &Replay,
    subject: &Id,
    capability: &str,
    stake: f64,
    truster: Option<&Id>,
) -> Result<DecisionView> {
    let (state, at) = fold(data, replay)?;
    let d = state.decide(subject, capability, stake, truster, at);
    Ok(DecisionView::new(&d, state.trust().log_size()))
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
    )
}

pub fn explain(data: &DataDir, args: ExplainArgs, out: &mut Out) -> Result<bool> {
    let subject = Id::parse("SUBJECT", &args.subject)?;
    let (state, at) = fold(data, &args.replay)?;
    let explanation = state.explain(&subject, at);
    let steps = &explanation.timeline;
    let view = ExplainView::new(&explanation, state.trust().log_size());
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
