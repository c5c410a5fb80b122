//! `stepwise witness serve` and `stepwise witness key`: a C2SP tlog-witness, so that two
//! operators can witness each other's logs (docs/LOG.md, "Witnesses").

use crate::output::Out;
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use stepwise::ledger::cosign::CosignerAlgorithm;
use stepwise::ledger::note::LogVerifier;
use stepwise::ledger::witness_policy::WitnessPolicy;
use stepwise_server::witness;

/// `stepwise witness …`
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Run a witness: cosign each checkpoint of the given logs that extends, by a verified
    /// consistency proof, the last one it cosigned for that log (its key is created on first
    /// start; its state is a SQLite file beside the key).
    Serve {
        /// Address to listen on (port 0: any free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:7879")]
        addr: SocketAddr,
        /// A log to witness: its verifier key (`<origin>+<key id>+<key>`), or a file holding it
        /// (repeatable).
        #[arg(long = "log", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Print the witness's verifier key (creating the key if new): what a log's tlog-policy
    /// file names it by.
    Key(KeyArgs),
}

/// Where the witness's key is, and what it is made as when new.
#[derive(clap::Args)]
pub struct KeyArgs {
    /// The witness's directory: its key (`witness.key`) and state (`witness.db`).
    #[arg(long, default_value = "stepwise-witness")]
    dir: PathBuf,
    /// The witness's name, a schema-less URL (used when its key is created).
    #[arg(long)]
    name: Option<String>,
    /// The kind of cosignature its key makes (chosen when it is created; default ml-dsa-44,
    /// as C2SP tlog-cosignature recommends).
    #[arg(long, value_enum)]
    algorithm: Option<Algorithm>,
}

impl KeyArgs {
    /// The witness's key, created when new.
    fn key(&self) -> Result<stepwise::ledger::cosign::CosignerKey> {
        Ok(witness::key(
            &self.dir,
            self.name.as_deref(),
            self.algorithm.map(Into::into),
        )?)
    }
}

/// The kinds of cosignature (C2SP tlog-cosignature).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Algorithm {
    /// ML-DSA-44 (FIPS 204), post-quantum.
    #[value(name = "ml-dsa-44")]
    MlDsa44,
    /// Ed25519 `cosignature/v1`.
    Ed25519,
}

impl From<Algorithm> for CosignerAlgorithm {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::MlDsa44 => Self::MlDsa44,
            Algorithm::Ed25519 => Self::Ed25519,
        }
    }
}

/// Runs a `witness` subcommand.
pub fn run(cmd: WitnessCommand, out: &mut Out) -> Result<bool> {
    match cmd {
        WitnessCommand::Key(args) => {
            let key = args.key()?;
            let vkey = key.verifier().encode();
            out.emit(&json!({ "name": key.name(), "vkey": vkey }), |w| {
                writeln!(w, "{vkey}")
            })?;
            Ok(true)
        }
        WitnessCommand::Serve { addr, logs, key } => serve(addr, &logs, &key),
    }
}

/// Reads a C2SP tlog-policy file.
pub fn witness_policy(path: &Path) -> Result<WitnessPolicy> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    WitnessPolicy::parse(&text).with_context(|| path.display().to_string())
}

/// A verifier key given on the command line, or read from the file it names.
pub fn log_key(text: &str, flag: &str) -> Result<LogVerifier> {
    let key_text = if Path::new(text).is_file() {
        std::fs::read_to_string(text).with_context(|| format!("{flag}: reading {text}"))?
    } else {
        text.to_owned()
    };
    LogVerifier::parse(key_text.trim()).with_context(|| flag.to_owned())
}

fn serve(addr: SocketAddr, logs: &[String], key_args: &KeyArgs) -> Result<bool> {
    let logs = logs
        .iter()
        .map(|l| log_key(l, "--log"))
        .collect::<Result<Vec<_>>>()?;
    if let Some(twice) = logs
        .iter()
        .enumerate()
        .find(|(i, l)| logs[..*i].iter().any(|o| o.public_key() == l.public_key()))
    {
        bail!("--log: the key of {} is given twice", twice.1.name());
    }
    let key = key_args.key()?;
    let runtime = crate::serve::service_runtime()?;
    let vkey = key.verifier().encode();
    let origins: Vec<String> = logs.iter().map(|l| l.name().to_owned()).collect();
    let router = witness::router(&key_args.dir, key, logs)?;
    runtime.block_on(witness::serve(
        addr,
        router,
        |addr| {
            println!(
                "stepwise witness: listening on http://{addr} (key {vkey}; logs: {})",
                origins.join(", ")
            );
        },
        stepwise_server::shutdown_signal(),
    ))?;
    Ok(true)
}
