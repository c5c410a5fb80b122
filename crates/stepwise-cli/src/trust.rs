//! `stepwise trust` and `stepwise rank`: the trust model's figures, with what stands behind them;
//! `stepwise promises --open`: what awaits judgement.
//!
//! Each folds the stored log into a fresh trust state (only the events up to `--at` when it is
//! given, so a past figure is reproduced exactly) and then ask it one question.

use crate::output::Out;
use anyhow::{Context as _, Result, bail};
use clap::Args;
use stepwise::evidence::Id;
use stepwise::model::params::ModelParams;
use stepwise::model::state::TrustState;
use stepwise_api::TrustView;
use stepwise_engine::question::OpenPromises;
use stepwise_store::data_dir::DataDir;
use stepwise_store::replay::Prefix;

#[derive(Args)]
pub struct TrustArgs {
    /// The principal to assess.
    subject: String,
    /// Assess from this principal's own point of view (default: everyone's).
    #[arg(long)]
    truster: Option<String>,
    /// Only evidence recorded in this scope (vouches for all scopes count too).
    #[arg(long)]
    scope: Option<String>,
    #[command(flatten)]
    replay: crate::ladder::Replay,
}

#[derive(Args)]
pub struct RankArgs {
    /// How many principals to list (default: 20 in text, all with --json).
    #[arg(long)]
    top: Option<usize>,
    /// Pre-trusted principals, comma-separated (default: the policy's `[network] seeds`).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<String>>,
    /// Damping α, the weight of the pre-trusted set (default: the policy's `model.alpha`).
    #[arg(long)]
    alpha: Option<f64>,
}

#[derive(Args)]
pub struct PromisesArgs {
    /// List the promises with no outcome yet (required: settled promises are in the log).
    #[arg(long)]
    open: bool,
    /// Only those made to this principal: its review queue.
    #[arg(long)]
    promisee: Option<String>,
    /// At most this many, oldest first (1 to 1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Continue after this log index (the `next_cursor` of the page before).
    #[arg(long)]
    cursor: Option<u64>,
    #[command(flatten)]
    replay: crate::ladder::Replay,
}

/// Folds the data directory's whole log with `params`.
fn fold(data: &DataDir, params: ModelParams) -> Result<TrustState> {
    let (store, names, _) = data.open_named()?;
    crate::output::open_names_with(names);
    let bar = crate::output::spinner();
    let state = stepwise_store::replay::trust_state(&store, params, Prefix::ALL, &mut |n| {
        bar.set_message(format!("{n} entries read"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    Ok(state)
}

pub fn trust(data: &DataDir, args: TrustArgs, out: &mut Out) -> Result<bool> {
    let subject = Id::parse("SUBJECT", &args.subject)?;
    let truster = args
        .truster
        .map(|t| Id::parse("--truster", &t))
        .transpose()?;
    let scope = args.scope.map(|s| Id::parse("--scope", &s)).transpose()?;
    let (folded, at) = crate::ladder::fold(data, &args.replay)?;
    let names = crate::ladder::names();
    let (subject, truster) = (names.name(&subject), truster.map(|t| names.name(&t)));
    let state = folded.trust();
    let report = state.trust(&subject, truster.as_ref(), scope.as_ref(), at);
    let o = &report.opinion;
    let c = &report.counts;
    let relative = report.rank * state.principals().max(1) as f64;
    let known = state.principal_index(&subject).is_some();
    let view = TrustView::new(&report, &subject, truster.as_ref(), scope.as_ref(), at);
    out.emit(
        &serde_json::to_value(&view)?,
        |w| {
            let by = truster.as_ref().map_or("everyone".to_owned(), |t| t.to_string());
            let within = scope.as_ref().map_or("all scopes".to_owned(), |s| format!("scope {s}"));
            writeln!(w, "trust in {subject} by {by}, {within}, at {at}")?;
            if !known {
                writeln!(w, "(no evidence about {subject} in the log: a newcomer's trust)")?;
            }
            writeln!(w, "expected     {:.4}", o.expected())?;
            writeln!(
                w,
                "opinion      belief {:.4}, disbelief {:.4}, uncertainty {:.4}, base rate {:.4}",
                o.belief, o.disbelief, o.uncertainty, o.base_rate
            )?;
            writeln!(
                w,
                "evidence     positive {:.3}, negative {:.3} (through vouches: {:.3}, {:.3})",
                report.evidence.positive,
                report.evidence.negative,
                report.vouched.positive,
                report.vouched.negative
            )?;
            writeln!(
                w,
                "counted      {} kept, {} broken, {} partial, {} overdue; ratings {} positive, {} negative; {} reports; {} vouches",
                c.kept, c.broken, c.partial, c.overdue, c.ratings_positive, c.ratings_negative, c.reports, c.vouches
            )?;
            writeln!(w, "network rank {:.6} ({relative:.2}× the average)", report.rank)?;
            let shown: Vec<String> = report.indexes.iter().rev().take(10).rev().map(u64::to_string).collect();
            let more = if report.indexes_total > shown.len() {
                format!(" (last {} of {}; --json lists up to 1000)", shown.len(), report.indexes_total)
            } else {
                String::new()
            };
            writeln!(w, "cites        log entries {}{more}", if shown.is_empty() { "none".into() } else { shown.join(", ") })?;
            if !report.history.is_empty() {
                let history: Vec<String> = report.history.iter().map(u64::to_string).collect();
                writeln!(w, "             of which imported as history (dated by their data set, not held to the log's time window): {}", history.join(", "))?;
            }
            writeln!(w, "log size     {} (replay with --log-size {} --at {at})", report.log_size, report.log_size)?;
            writeln!(w, "policy       {}", crate::output::policy_words(report.policy_entry))
        },
    )?;
    Ok(true)
}

pub fn rank(data: &DataDir, args: RankArgs, out: &mut Out) -> Result<bool> {
    let mut params = data.policy()?.model;
    if let Some(seeds) = args.seeds {
        params.seeds = seeds
            .iter()
            .map(|s| Id::parse("--seeds", s.trim()))
            .collect::<Result<_, _>>()?;
    }
    if let Some(alpha) = args.alpha {
        params.rank.alpha = alpha;
    }
    params
        .check()
        .map_err(|e| anyhow::anyhow!("{}", e.replace("model.", "--")))?;
    // The seeds as the log names them (the policy's, or those given on the command line).
    let (_, names, _) = data.open_named()?;
    let asked = std::mem::take(&mut params.seeds);
    params.seeds = asked.iter().map(|s| names.name(s)).collect();
    let state = fold(data, params.clone())?;
    for (seed, named) in asked.iter().zip(&params.seeds) {
        if state.principal_index(named).is_none() {
            bail!("seed {seed} is not a principal in the log");
        }
    }
    let ranking = state.ranking();
    if ranking.scores.is_empty() {
        bail!("the log has no principals to rank yet");
    }
    let top = args.top.unwrap_or(if out.is_json() {
        ranking.scores.len()
    } else {
        20
    });
    let rows: Vec<(String, f64)> = ranking
        .top(top)
        .into_iter()
        .map(|(i, score)| {
            let id = state.principal(i).context("ranked principal")?;
            Ok((id.to_string(), score))
        })
        .collect::<Result<_>>()?;
    let n = ranking.scores.len() as f64;
    out.emit(
        &serde_json::Value::Array(
            rows.iter()
                .map(|(p, s)| serde_json::json!({"principal": p, "score": s}))
                .collect(),
        ),
        |w| {
            writeln!(
                w,
                "{:>5}  {:<24} {:>12}  {:>9}",
                "rank", "principal", "score", "× average"
            )?;
            for (i, (p, s)) in rows.iter().enumerate() {
                writeln!(w, "{:>5}  {p:<24} {s:>12.8}  {:>9.2}", i + 1, s * n)?;
            }
            writeln!(
                w,
                "{} principals; {} iterations, {}converged (L1 change {:.1e}); log size {}",
                ranking.scores.len(),
                ranking.iterations,
                if ranking.converged { "" } else { "NOT " },
                ranking.delta,
                state.log_size()
            )
        },
    )?;
    Ok(true)
}

pub fn promises(data: &DataDir, args: PromisesArgs, out: &mut Out) -> Result<bool> {
    if !args.open {
        bail!(
            "--open is required: only promises with no outcome are listed (settled ones are in the log: `stepwise log`)"
        );
    }
    let promisee = args
        .promisee
        .map(|p| Id::parse("--promisee", &p))
        .transpose()?;
    let question = OpenPromises::new(
        promisee.clone(),
        args.cursor,
        Some(args.limit),
        args.replay.prefix()?,
    )?;
    let view = crate::ladder::ask(data, question)?;
    let at = view.at.clone();
    out.emit(&serde_json::to_value(&view)?, |w| {
        let whose = promisee
            .as_ref()
            .map_or(String::new(), |p| format!(" made to {p}"));
        if view.promises.is_empty() {
            return writeln!(w, "no promise{whose} awaits judgement at {at}");
        }
        writeln!(
            w,
            "promises{whose} awaiting judgement at {at}, oldest first:"
        )?;
        for p in &view.promises {
            writeln!(
                w,
                "  #{:<6} {} by {} to {}, stake {} in {}, due {}{}",
                p.index,
                p.id,
                p.promisor,
                p.promisee,
                p.stake,
                p.scope,
                p.due,
                if p.overdue {
                    " — OVERDUE: counts as broken until judged"
                } else {
                    ""
                }
            )?;
        }
        if let Some(next) = view.next_cursor {
            writeln!(w, "more: --cursor {next}")?;
        }
        Ok(())
    })?;
    Ok(true)
}
