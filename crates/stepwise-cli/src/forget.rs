//! `stepwise forget ID`: forget a principal (see `stepwise_store::forget` and docs/PRIVACY.md).

use crate::output::Out;
use anyhow::Result;
use clap::Args;
use stepwise::evidence::{ErasureReason, Id};
use stepwise_api::{Code, ForgetView};
use stepwise_engine::Error;
use stepwise_store::data_dir::DataDir;
use stepwise_store::forget::{self, ForgetError};

#[derive(Args)]
pub struct ForgetArgs {
    /// The principal to forget.
    id: String,
    /// Why, as the erasure entry records it: request (the principal asked), legal (ordered),
    /// policy (the operator's retention rule).
    #[arg(long, default_value = "request")]
    reason: String,
}

pub fn run(data: &DataDir, args: ForgetArgs, out: &mut Out) -> Result<bool> {
    Id::parse("ID", &args.id)?;
    let reason = ErasureReason::parse("--reason", &args.reason)?;
    if !data.is_initialized() {
        return Err(Error::not_found(format!(
            "no principal {} is known: {} holds no log",
            args.id,
            data.path().display()
        ))
        .into());
    }
    let mut ledger = data.open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?;
    let names = ledger
        .names()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the ledger was opened without its names"))?;
    // A forget cut short by a crash is finished first.
    let mut finished = Vec::new();
    for (pseudonym, event) in forget::pending(ledger.store(), crate::record::now())? {
        ledger.append(vec![event])?;
        forget::finish(ledger.store_mut(), &names, &pseudonym)?;
        finished.push(pseudonym);
    }
    let erased = match forget::erase(ledger.store_mut(), &names, &args.id, reason) {
        Ok(erased) => erased,
        Err(ForgetError::Unknown(id)) if !finished.is_empty() => {
            // The id was this crash's: its erasure is finished now.
            let view = ForgetView {
                id,
                pseudonym: None,
                erasure_entry: None,
                in_clear_entries: Vec::new(),
                finished,
            };
            out.emit(&serde_json::to_value(&view)?, |w| {
                writeln!(
                    w,
                    "finished the erasures a crash cut short: {}",
                    view.finished.join(", ")
                )
            })?;
            return Ok(true);
        }
        Err(ForgetError::Unknown(id)) => {
            return Err(Error::not_found(format!(
                "no principal {id} is known to this log (never seen, or forgotten already)"
            ))
            .into());
        }
        Err(ForgetError::Store(e)) => return Err(e.into()),
    };
    let mut erasure_entry = None;
    if let Some(pseudonym) = &erased.pseudonym {
        let event = forget::erasure_event(pseudonym, reason, crate::record::now())?;
        let appended = ledger.append(vec![event])?;
        erasure_entry = Some(appended.results.into_iter().next().unwrap_or_else(|| {
            Err(stepwise::evidence::FieldError::new(
                "(erasure)",
                "no result",
            ))
        })?);
        forget::finish(ledger.store_mut(), &names, pseudonym)?;
    }
    if let Some(message) = erased.in_clear_message() {
        return Err(Error::new(Code::InClearEntries, message).into());
    }
    let view = ForgetView {
        id: args.id,
        pseudonym: erased.pseudonym,
        erasure_entry,
        in_clear_entries: erased.in_clear,
        finished,
    };
    out.emit(&serde_json::to_value(&view)?, |w| {
        writeln!(w, "forgot {}", view.id)?;
        if let Some(p) = &view.pseudonym {
            writeln!(
                w,
                "its entries now name only {p}; erasure entry {}",
                view.erasure_entry.map_or("-".into(), |i| i.to_string())
            )?;
        }
        writeln!(
            w,
            "secret, openings, keys and decision-log name erased; the files scrubbed"
        )
    })?;
    Ok(true)
}
