//! `stepwise decisions`: the decision log of `stepwise gate`, oldest first, a page at a time.

use crate::output::Out;
use anyhow::Result;
use clap::Args;
use stepwise::evidence::{Id, Time};
use stepwise_api::decisions::ShadowReport;
use stepwise_engine::reads::DecisionsPage;
use stepwise_store::data_dir::DataDir;

#[derive(Args)]
pub struct DecisionsArgs {
    /// Only this principal's decisions.
    #[arg(long, value_name = "ID")]
    principal: Option<String>,
    /// Only those decided at or after this instant (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// At most this many, oldest first (1 to 1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Continue after this decision (the `next_cursor` of the page before).
    #[arg(long)]
    cursor: Option<u64>,
    /// Instead of the decisions, a summary of every one from `--since` (default: all) to
    /// `--until`: calls, what shadow mode would have refused by reason and by tool, and which
    /// principals climbed (`stepwise gate --shadow`).
    #[arg(long, conflicts_with_all = ["cursor", "limit"])]
    shadow_report: bool,
    /// With --shadow-report: only decisions before this instant (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "shadow_report")]
    until: Option<String>,
}

pub fn run(data: &DataDir, args: DecisionsArgs, out: &mut Out) -> Result<bool> {
    let principal = args
        .principal
        .map(|p| Id::parse("--principal", &p))
        .transpose()?;
    let since = args.since.map(|t| Time::parse("--since", &t)).transpose()?;
    if args.shadow_report {
        let until = args.until.map(|t| Time::parse("--until", &t)).transpose()?;
        return shadow_report(data, principal, since, until, out);
    }
    let page = DecisionsPage::new(principal, since, args.cursor, Some(args.limit))?;
    let view = page.read(&data.open_store()?)?;
    out.emit(&serde_json::to_value(&view)?, |w| {
        if view.decisions.is_empty() {
            return writeln!(w, "no decision of the gate matches");
        }
        for entry in &view.decisions {
            let d = &entry.decision;
            let asked = match (&d.capability, d.stake) {
                (Some(capability), Some(stake)) => format!("{capability} at stake {stake}"),
                _ => "a tool the policy does not name".to_owned(),
            };
            writeln!(
                w,
                "#{:<5} {} {} {} {:?} ({asked}): {}",
                entry.seq,
                d.at,
                d.principal,
                if d.allowed { "ALLOWED" } else { "DENIED" },
                d.tool,
                d.reasons.join(", "),
            )?;
            let mut what = format!("        {}", d.result);
            if let Some(promise) = &d.promise {
                what += &format!(
                    ": promise {promise} at log index {} for {} to judge",
                    d.promise_index.unwrap_or_default(),
                    d.promisee.as_deref().unwrap_or("?")
                );
            }
            if let Some(error) = &d.error {
                what += &format!(": {error}");
            }
            if let (Some(capability), Some(stake)) = (&d.capability, d.stake) {
                what += &format!(
                    "; replay: stepwise decide {} {capability} --stake {stake} --log-size {} --at {}",
                    d.principal, d.log_size, d.at
                );
            }
            writeln!(w, "{what}")?;
        }
        if let Some(next) = view.next_cursor {
            writeln!(w, "more: --cursor {next}")?;
        }
        Ok(())
    })?;
    Ok(true)
}

/// `--shadow-report`: every decision of the period, read a page at a time, summed up.
fn shadow_report(
    data: &DataDir,
    principal: Option<Id>,
    since: Option<Time>,
    until: Option<Time>,
    out: &mut Out,
) -> Result<bool> {
    let store = data.open_store()?;
    let mut decisions = Vec::new();
    let mut cursor = None;
    loop {
        let page = DecisionsPage::new(principal.clone(), since, cursor, Some(1000))?;
        let view = page.read(&store)?;
        for entry in view.decisions {
            let before =
                Time::parse("at", &entry.decision.at).is_ok_and(|at| until.is_none_or(|u| at < u));
            if before {
                decisions.push(entry.decision);
            }
        }
        match view.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let report = ShadowReport::of(&decisions);
    out.emit(&serde_json::to_value(&report)?, |w| {
        let (Some(from), Some(to)) = (&report.from, &report.to) else {
            return writeln!(w, "no decision of the gate in this period");
        };
        writeln!(
            w,
            "{} call(s) from {from} to {to} ({} in shadow mode): {} allowed, {} would have been \
             refused, {} refused",
            report.calls, report.shadow_calls, report.allowed, report.would_deny, report.denied
        )?;
        for (reason, n) in &report.refused_by_reason {
            writeln!(w, "  refused for {reason}: {n}")?;
        }
        for (tool, tally) in &report.by_tool {
            writeln!(
                w,
                "  tool {tool:?}: {} call(s), {} refused",
                tally.calls, tally.refused
            )?;
        }
        if report.climbed.is_empty() {
            writeln!(w, "  no principal climbed")?;
        }
        for c in &report.climbed {
            writeln!(
                w,
                "  {} climbed from level {} to {}",
                c.principal, c.from_level, c.to_level
            )?;
        }
        Ok(())
    })?;
    Ok(true)
}
