//! `stepwise record <kind>` and `stepwise keygen`: one event from flags, optionally signed.
//!
//! The flags are turned into the same JSON object a client would send, so an event recorded from
//! the shell passes exactly the validation of an imported or served one.

use crate::output::{Out, hex};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{Number, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use stepwise::evidence::{Event, Id, Time, base64_encode};
use stepwise::ledger::note::LogSigner;
use stepwise_store::data_dir::DataDir;

#[derive(Args)]
pub struct RecordArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    kind: KindArgs,
}

/// Fields every event may carry.
#[derive(Args)]
struct Common {
    /// When it happened, RFC 3339 (default: now).
    #[arg(long, global = true, help_heading = "Any event")]
    at: Option<String>,
    /// Who records it (default: the party allowed to record this kind).
    #[arg(long, global = true, help_heading = "Any event")]
    author: Option<String>,
    /// Free text (at most 1024 bytes).
    #[arg(long, global = true, help_heading = "Any event")]
    note: Option<String>,
    /// Sign the event with this principal key file (made by `stepwise keygen`); the author
    /// defaults to the key's principal.
    #[arg(
        long,
        global = true,
        help_heading = "Any event",
        conflicts_with = "sig"
    )]
    sign_with: Option<PathBuf>,
    /// A signature made elsewhere: base64 ed25519 over the event's canonical bytes without `sig`.
    #[arg(long, global = true, help_heading = "Any event")]
    sig: Option<String>,
}

/// One subcommand per event kind; serialised, it is the event's JSON object (less the common
/// fields), so validation stays in one place: `Event::from_value`. Numbers are taken as JSON
/// numbers, so that validation, not the shell, judges their range.
#[derive(Subcommand, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum KindArgs {
    /// A promise by PROMISOR to PROMISEE, in SCOPE, at STAKE, due by DUE.
    Promise {
        /// Unique id of the promise.
        #[arg(long)]
        id: String,
        /// Who promises (and records the promise).
        #[arg(long)]
        promisor: String,
        /// To whom (the only one who may record its outcome).
        #[arg(long)]
        promisee: String,
        /// What kind of action, for example deploy:staging.
        #[arg(long)]
        scope: String,
        /// What is at stake, ≥ 0, in your unit.
        #[arg(long, allow_hyphen_values = true)]
        stake: Number,
        /// RFC 3339 instant by which the outcome is due.
        #[arg(long)]
        due: String,
    },
    /// The outcome of a promise, recorded by its promisee.
    Outcome {
        /// The promise's id.
        #[arg(long)]
        promise: String,
        /// kept, broken or partial.
        #[arg(long)]
        result: String,
        /// With `partial`: the part kept, in [0, 1].
        #[arg(long, allow_hyphen_values = true)]
        #[serde(skip_serializing_if = "Option::is_none")]
        fraction: Option<Number>,
    },
    /// VOUCHER vouches for SUBJECT.
    Vouch {
        /// Who vouches.
        #[arg(long)]
        voucher: String,
        /// About whom.
        #[arg(long)]
        subject: String,
        /// Limit the vouch to one scope (default: all).
        #[arg(long)]
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// Strength, in (0, 1].
        #[arg(long, default_value = "1", allow_hyphen_values = true)]
        weight: Number,
    },
    /// VOUCHER withdraws a vouch for SUBJECT.
    Unvouch {
        /// Who vouches.
        #[arg(long)]
        voucher: String,
        /// About whom.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// REPORTER complains about SUBJECT.
    Report {
        /// Who reports.
        #[arg(long)]
        reporter: String,
        /// About whom.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// How serious, in (0, 1].
        #[arg(long, allow_hyphen_values = true)]
        severity: Number,
        /// Log index of the evidence the report points to.
        #[arg(long, allow_hyphen_values = true)]
        #[serde(skip_serializing_if = "Option::is_none")]
        evidence: Option<Number>,
    },
    /// RATER rates SUBJECT with VALUE in [-1, 1].
    Rating {
        /// Who rates.
        #[arg(long)]
        rater: String,
        /// About whom.
        #[arg(long)]
        subject: String,
        /// The rating, in [-1, 1].
        #[arg(long, allow_hyphen_values = true)]
        value: Number,
        #[arg(long)]
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// Registers PRINCIPAL's ed25519 public key (base64); its later events must be signed.
    Key {
        /// Whose key it is.
        #[arg(long)]
        principal: String,
        /// The 32-byte ed25519 public key, base64.
        #[arg(long)]
        public_key: String,
    },
}

/// The current instant, as the CLI's default `at`.
/// The current instant, by the clock the ledger stamps entries with.
pub fn now() -> Time {
    use stepwise::ledger::Clock as _;
    stepwise::ledger::SystemClock.now()
}

pub fn run(data: &DataDir, args: RecordArgs, out: &mut Out) -> Result<bool> {
    let Value::Object(mut map) = serde_json::to_value(&args.kind)? else {
        bail!("an event kind did not serialise to a JSON object");
    };
    let common = args.common;
    map.insert(
        "at".into(),
        Value::String(common.at.unwrap_or_else(|| now().to_string())),
    );
    let signer = common
        .sign_with
        .as_deref()
        .map(read_principal_key)
        .transpose()?;
    let author = common
        .author
        .or_else(|| signer.as_ref().map(|s| s.name().to_owned()));
    if let Some(author) = author {
        map.insert("author".into(), Value::String(author));
    }
    if let Some(note) = common.note {
        map.insert("note".into(), Value::String(note));
    }
    if let Some(sig) = common.sig {
        map.insert("sig".into(), Value::String(sig));
    }
    let mut event = Event::from_value(&Value::Object(map))?;
    if let Some(signer) = &signer {
        if event.author.is_none() {
            event.author = event.natural_author().cloned();
        }
        event.sig = Some(signer.sign_bytes(&event.signing_bytes()));
    }
    let recorded = append(data, event)?;
    out.emit(&recorded.to_json(), |w| {
        writeln!(
            w,
            "recorded {} at index {} (log size {})",
            recorded.kind, recorded.index, recorded.size
        )
    })?;
    Ok(true)
}

/// What an append reports: where the event went, and the log it is now part of.
pub struct Recorded {
    /// The event's kind.
    pub kind: stepwise::evidence::Kind,
    /// Its index in the log.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: stepwise::ledger::merkle::Hash,
    /// The log's size after the append.
    pub size: u64,
    /// The log's root hash after the append.
    pub root: stepwise::ledger::merkle::Hash,
}

impl Recorded {
    /// The JSON `stepwise record --json` prints.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "index": self.index,
            "kind": self.kind.name(),
            "leaf_hash": hex(&self.leaf_hash),
            "size": self.size,
            "root": hex(&self.root),
        })
    }
}

/// Appends one event through the ledger, so that every rule and limit of the log holds (who may
/// record what, the time window, signatures): the one append path of `stepwise record` and the
/// MCP `promise` and `outcome` tools. A refused event is an error, and nothing is recorded.
pub fn append(data: &DataDir, event: Event) -> Result<Recorded> {
    let kind = event.kind();
    let mut ledger = crate::open_for_writing(data)?;
    let (index, appended) = append_to(&mut ledger, event)?;
    let entry = ledger.entry(index)?;
    let cp = &appended.checkpoint;
    Ok(Recorded {
        kind,
        index,
        leaf_hash: entry.leaf_hash,
        size: cp.size,
        root: cp.root,
    })
}

/// Waits until the data directory's store holds `min` entries at least (a write acknowledged
/// elsewhere, read back here); `log_behind` when it does not within the engine's
/// [`CATCH_UP_WAIT`](stepwise_engine::CATCH_UP_WAIT), as a server waits by default. Every
/// answer of the command line folds the store afresh, so it then includes them.
pub fn caught_up(data: &DataDir, min: u64) -> Result<()> {
    let mut store = data.open_store()?;
    let wait = stepwise_engine::CATCH_UP_WAIT;
    let size = stepwise_store::wait_for_size(&mut store, min, wait)?;
    if size < min {
        return Err(stepwise_engine::Error::log_behind(size, min, wait).into());
    }
    Ok(())
}

/// Appends one event to an open ledger: its index and what the ledger committed, or the
/// ledger's refusal naming the field at fault (nothing recorded).
pub fn append_to<S: stepwise_store::Store>(
    ledger: &mut stepwise_store::Ledger<S>,
    event: Event,
) -> Result<(u64, stepwise_store::Appended)> {
    let kind = event.kind();
    let appended = ledger.append(vec![event])?;
    crate::warn_clock(&appended);
    match appended.results.first() {
        Some(Ok(index)) => Ok((*index, appended)),
        Some(Err(e)) => {
            Err(anyhow::Error::new(e.clone()).context(format!("the {kind} event was refused")))
        }
        None => bail!("the ledger returned no result"),
    }
}

fn read_principal_key(path: &Path) -> Result<LogSigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    LogSigner::parse(text.trim()).with_context(|| format!("key file {}", path.display()))
}

pub fn keygen(principal: &str, path: &Path, out: &mut Out) -> Result<bool> {
    let principal = Id::parse("principal", principal)?;
    let signer = LogSigner::generate(principal.as_str())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    writeln!(file, "{}", signer.encode())?;
    file.sync_all()?;
    let public_key = base64_encode(&signer.verifier().public_key());
    out.emit(
        &serde_json::json!({
            "principal": principal.as_str(),
            "public_key": public_key,
            "key_file": path,
        }),
        |w| {
            writeln!(w, "wrote the private key of {principal} to {}", path.display())?;
            writeln!(w, "public key: {public_key}")?;
            writeln!(w, "register it with:")?;
            writeln!(
                w,
                "  stepwise record key --principal {principal} --public-key {public_key} --sign-with {}",
                path.display()
            )
        },
    )?;
    Ok(true)
}
