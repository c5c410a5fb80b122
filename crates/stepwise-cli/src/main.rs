//! The `stepwise` command: record and import trust evidence, and prove and verify the log.
//!
//! Exit codes: 0 success; 1 a negative answer (verification found tampering, an import refused
//! some lines, or `decide` denied); 2 a usage, input or environment error, with a message on stderr, in
//! which case nothing was recorded. Output is for people by default and JSON with `--json`.

mod approvals;
mod decisions;
mod eval;
mod forget;
mod gate;
mod generate;
mod import;
mod ladder;
mod log;
mod mcp;
mod monitor;
mod output;
mod policy;
mod receipt;
mod record;
mod replay;
mod serve;
mod simulate;
mod stdio;
mod trust;
mod witness;

use anyhow::Result;
use clap::{Parser, Subcommand};
use output::Out;
use std::path::PathBuf;
use std::process::ExitCode;
use stepwise_store::data_dir::DataDir;

/// The allocator of every `stepwise` process: jemalloc, for the server's live state above all
/// (millions of small lists and ids, held for the process's life). Where it does not build
/// (MSVC), the system's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// stepwise: a graduated-trust engine. Trust is earned step by step from recorded evidence.
#[derive(Parser)]
#[command(name = "stepwise", version, about, max_term_width = 100)]
struct Cli {
    /// The data directory (policy, log key, ledger).
    #[arg(
        long,
        global = true,
        env = "STEPWISE_DATA",
        default_value = "./stepwise-data"
    )]
    data: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Wait (up to 2 s) until the log holds at least this many entries before answering: a
    /// write's index + 1, recorded through a server, read back here (exit 2, `log_behind`,
    /// when it does not).
    #[arg(long, global = true, value_name = "N")]
    min_log_size: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the data directory: a new log key, the default policy and an empty log.
    Init {
        /// The log's origin line and key name (default: `stepwise.local/log/<random>`).
        #[arg(long)]
        origin: Option<String>,
        /// A principal the operator trusts from the start (repeatable): written to the policy's
        /// `[network] seeds`, where network rank starts.
        #[arg(long = "seed", value_name = "ID")]
        seeds: Vec<String>,
    },
    /// Append one event to the log and print its index.
    Record(record::RecordArgs),
    /// Append events from a file: JSON lines, or a Bitcoin OTC style ratings CSV.
    Import(import::ImportArgs),
    /// Write a large, realistic log as JSON lines to standard output, for `import - --history`.
    Generate(generate::GenerateArgs),
    /// Create an ed25519 key for a principal, to sign its events with `record --sign-with`.
    Keygen {
        /// The principal the key belongs to.
        principal: String,
        /// Where to write the private key (created; never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Read, prove and verify the log.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// How much a principal can be trusted, and the evidence behind the figure.
    Trust(trust::TrustArgs),
    /// Network rank (EigenTrust): who the network as a whole trusts most.
    Rank(trust::RankArgs),
    /// The promises that await judgement (`--open`), oldest first, overdue ones marked;
    /// `--promisee P` for one principal's review queue.
    Promises(trust::PromisesArgs),
    /// May SUBJECT do CAPABILITY at this stake now? Exit 0 allowed, 1 denied; reasons and the
    /// next step always.
    Decide(ladder::DecideArgs),
    /// A principal's level, its timeline of promotions and demotions, and the next-step checklist.
    Explain(ladder::ExplainArgs),
    /// The policy's ladder: levels, stakes, capabilities and what it takes to enter each.
    Ladder,
    /// Put a policy in force: check it, make it the data directory's, record it in the log.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Check a decision receipt with the log's key alone.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Judge the trust model on a real signed network in time order, against baselines.
    Eval(eval::EvalArgs),
    /// Run the HTTP server (JSON API; see docs/API.md) until SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
    /// Serve the Model Context Protocol on stdio for an agent: tools decide, explain, trust,
    /// ladder, promise, outcome and promises_open; resources the policy and the checkpoint.
    Mcp(mcp::McpArgs),
    /// An MCP proxy that gives an agent's tools graduated autonomy: starts the upstream MCP
    /// server given after `--` and lets a call through only when the ladder allows it,
    /// recording a promise for each (see docs/AGENTS.md).
    Gate(gate::GateArgs),
    /// The decision log of `stepwise gate`: every call it allowed or denied, oldest first.
    Decisions(decisions::DecisionsArgs),
    /// The calls `stepwise gate` holds for an approver (list), or an approver's answer
    /// (`approve` / `decline SEQ --as ID`).
    Approvals(approvals::ApprovalsArgs),
    /// Manage the server's API keys.
    #[command(subcommand)]
    Key(serve::KeyCommand),
    /// Forget a principal: erase its secret, the openings of every entry naming it, its keys'
    /// principal and its name in the decision log; append an erasure entry. Every proof still
    /// verifies. Exit 2 when no principal has this id (see docs/PRIVACY.md).
    Forget(forget::ForgetArgs),
    /// Run an attack scenario under stepwise's ladder and two baselines, same world and seed.
    Simulate(simulate::SimulateArgs),
    /// A C2SP tlog-witness: cosign other logs' checkpoints that extend what it cosigned.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
}

/// Ends the process with a code: `Ok(true)` success, `Ok(false)` a negative answer.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::new(cli.json);
    let data = DataDir::new(&cli.data);
    if let Some(min) = cli.min_log_size
        && let Err(e) = record::caught_up(&data, min)
    {
        out.error(&e);
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Init { origin, seeds } => init(&data, origin.as_deref(), &seeds, &mut out),
        Command::Record(args) => record::run(&data, args, &mut out),
        Command::Import(args) => import::run(&data, args, &mut out),
        Command::Generate(args) => generate::run(args),
        Command::Keygen {
            principal,
            out: path,
        } => record::keygen(&principal, &path, &mut out),
        Command::Log(cmd) => log::run(&data, cmd, &mut out),
        Command::Trust(args) => trust::trust(&data, args, &mut out),
        Command::Rank(args) => trust::rank(&data, args, &mut out),
        Command::Promises(args) => trust::promises(&data, args, &mut out),
        Command::Decide(args) => ladder::decide(&data, args, &mut out),
        Command::Explain(args) => ladder::explain(&data, args, &mut out),
        Command::Ladder => ladder::ladder(&data, &mut out),
        Command::Policy(cmd) => policy::run(&data, cmd, &mut out),
        Command::Receipt(cmd) => receipt::run(cmd, &mut out),
        Command::Eval(args) => eval::run(&data, args, &mut out),
        Command::Simulate(args) => simulate::run(args, &mut out),
        Command::Serve(args) => serve::serve(&data, args),
        Command::Mcp(args) => mcp::run(&data, args),
        Command::Gate(args) => gate::run(&data, args, &mut out),
        Command::Decisions(args) => decisions::run(&data, args, &mut out),
        Command::Approvals(args) => approvals::run(&data, args, &mut out),
        Command::Key(cmd) => serve::key(&data, cmd, &mut out),
        Command::Forget(args) => forget::run(&data, args, &mut out),
        Command::Witness(cmd) => witness::run(cmd, &mut out),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(2)
        }
    }
}

fn init(data: &DataDir, origin: Option<&str>, seeds: &[String], out: &mut Out) -> Result<bool> {
    let seeds = seeds
        .iter()
        .map(|s| stepwise::evidence::Id::parse("--seed", s))
        .collect::<Result<Vec<_>, _>>()?;
    if !seeds.is_empty() && data.policy_path().exists() {
        anyhow::bail!(
            "--seed: {} already holds a policy; name the seeds in its [network] seeds instead",
            data.policy_path().display()
        );
    }
    let verifier = data.init(origin, &seeds)?;
    let seed_names: Vec<&str> = seeds.iter().map(|s| s.as_str()).collect();
    out.emit(
        &serde_json::json!({
            "data": data.path(),
            "origin": verifier.name(),
            "verifier_key": verifier.encode(),
            "seeds": seed_names,
        }),
        |w| {
            writeln!(w, "initialized stepwise data in {}", data.path().display())?;
            writeln!(w, "log origin:   {}", verifier.name())?;
            writeln!(w, "verifier key: {}", verifier.encode())?;
            writeln!(w, "policy:       {}", data.policy_path().display())?;
            if seed_names.is_empty() {
                writeln!(w, "seeds:        {}", stepwise_api::NO_SEEDS)
            } else {
                writeln!(w, "seeds:        {}", seed_names.join(", "))
            }
        },
    )?;
    Ok(true)
}

/// Opens the data directory for writing, creating it with defaults on first use.
fn open_for_writing(data: &DataDir) -> Result<stepwise_store::Ledger<stepwise_store::SqliteStore>> {
    if !data.is_initialized() {
        let verifier = data.init(None, &[])?;
        eprintln!(
            "stepwise: initialized new data directory {} (log origin {})",
            data.path().display(),
            verifier.name()
        );
    }
    let mut ledger = data.open_ledger(std::sync::Arc::new(stepwise::ledger::SystemClock))?;
    // What it appends is decided under this policy: the log says so first.
    ledger.record_policy(&std::fs::read_to_string(data.policy_path())?)?;
    Ok(ledger)
}

/// Warns on stderr when a commit was stamped with the log's latest time because the clock read
/// earlier (it stepped back, or a server sharing the log runs ahead).
fn warn_clock(appended: &stepwise_store::Appended) {
    if let Some(behind) = appended.clock_behind {
        eprintln!(
            "stepwise: warning: the clock reads {:.3} s earlier than the log's latest recorded time; \
             the entries were stamped with that time (the log's time never goes back)",
            behind as f64 / 1e6
        );
    }
}
