//! `stepwise approvals`: the calls `stepwise gate` holds for an approver, and the approver's
//! answer (`stepwise_engine::approvals`, the rule every door applies).

use crate::output::Out;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use stepwise::evidence::Id;
use stepwise_api::DecisionEntry;
use stepwise_engine::{Engine, Options, Recorder};
use stepwise_store::data_dir::DataDir;

#[derive(Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    answer: Option<Answer>,
    /// Only the calls this principal may answer.
    #[arg(long, value_name = "ID")]
    approver: Option<String>,
}

#[derive(Subcommand)]
enum Answer {
    /// Approve held call SEQ as APPROVER: records the approval in the log in its name (refused
    /// unless it may do the same itself now) and lets the call through.
    Approve(AnswerArgs),
    /// Decline held call SEQ as APPROVER: the call is refused.
    Decline(AnswerArgs),
}

#[derive(Args)]
struct AnswerArgs {
    /// The held call's place in the decision log (`seq`).
    seq: u64,
    /// Who answers: one of the call's approvers.
    #[arg(long = "as", value_name = "ID")]
    approver: String,
}

pub fn run(data: &DataDir, args: ApprovalsArgs, out: &mut Out) -> Result<bool> {
    let (approve, answer) = match args.answer {
        None => return list(data, args.approver, out),
        Some(Answer::Approve(a)) => (true, a),
        Some(Answer::Decline(a)) => (false, a),
    };
    let approver = Id::parse("--as", &answer.approver)?;
    drop(crate::open_for_writing(data)?);
    let options = Options {
        group_commit: false,
        ranker: false,
        tabler: false,
        ..Options::default()
    };
    let engine = Engine::open(data, &options).context("opening the engine")?;
    let recorder = Recorder {
        credential: "--as".into(),
        principal: Some(approver),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let answered = runtime.block_on(engine.answer_held(&recorder, answer.seq, approve));
    engine.stop();
    let entry = answered?;
    let d = &entry.decision;
    out.emit(&serde_json::to_value(&entry)?, |w| {
        write!(
            w,
            "{} decision {} ({} {:?} at stake {}) as {}",
            d.result,
            answer.seq,
            d.principal,
            d.tool,
            d.stake.unwrap_or_default(),
            d.approver.as_deref().unwrap_or("?")
        )?;
        match d.approval_index {
            Some(index) => writeln!(w, "; the approval is at log index {index}"),
            None => writeln!(w),
        }
    })?;
    Ok(true)
}

fn list(data: &DataDir, approver: Option<String>, out: &mut Out) -> Result<bool> {
    let approver = approver.map(|a| Id::parse("--approver", &a)).transpose()?;
    let store = data.open_store()?;
    let held: Vec<DecisionEntry> =
        stepwise_engine::approvals::pending(&store, crate::record::now(), approver.as_ref())?;
    out.emit(&serde_json::json!({ "approvals": held }), |w| {
        if held.is_empty() {
            return writeln!(w, "no call awaits an approver");
        }
        for entry in &held {
            let d = &entry.decision;
            writeln!(
                w,
                "#{:<5} {} asks for {:?} ({} at stake {}), refused {}; approvers: {}; waits until {}",
                entry.seq,
                d.principal,
                d.tool,
                d.capability.as_deref().unwrap_or("?"),
                d.stake.unwrap_or_default(),
                d.reasons.first().map_or("?", String::as_str),
                d.approvers.join(", "),
                d.expires_at.as_deref().unwrap_or("?"),
            )?;
        }
        writeln!(
            w,
            "answer: stepwise approvals approve|decline SEQ --as APPROVER"
        )
    })?;
    Ok(true)
}
