//! `stepwise decisions`: the decision log of `stepwise gate`, oldest first, a page at a time.

use crate::output::Out;
use anyhow::Result;
use clap::Args;
use stepwise::evidence::{Id, Time};
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
}

pub fn run(data: &DataDir, args: DecisionsArgs, out: &mut Out) -> Result<bool> {
    let principal = args
        .principal
        .map(|p| Id::parse("--principal", &p))
        .transpose()?;
    let since = args.since.map(|t| Time::parse("--since", &t)).transpose()?;
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
