//! `stepwise log monitor URL`: follows a log through its C2SP tlog-tiles API, as a Certificate
//! Transparency monitor follows a CT log. Each new checkpoint must carry the log's signature
//! (and, with `--witnesses`, a quorum of cosignatures); every entry is read from the entry
//! bundles, hashed, checked against the level-0 hash tiles, and the tree they make must have
//! the checkpoint's root, which also proves it extends the last checkpoint seen. Entries naming
//! a `--watch` pseudonym are reported. The first misbehaviour found ends the run with exit 1.

use crate::output::Out;
use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use clap::Args;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use stepwise::ledger::merkle::{Frontier, Hash, leaf_hash};
use stepwise::ledger::note::{Checkpoint, LogVerifier};
use stepwise::ledger::tiles::{TILE_WIDTH, Tile, TileKind, parse_bundle};
use stepwise::ledger::witness_policy::WitnessPolicy;
use stepwise_server::client::HttpClient;

/// `stepwise log monitor …`
#[derive(Args)]
pub struct MonitorArgs {
    /// The log's tiles prefix, such as `http://127.0.0.1:7878/tlog`.
    url: String,
    /// The log's verifier key (`<origin>+<key id>+<key>`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    log_key: String,
    /// A C2SP tlog-policy file: every checkpoint must be cosigned by a quorum of its witnesses.
    #[arg(long, value_name = "POLICY")]
    witnesses: Option<PathBuf>,
    /// Report every entry that names this pseudonym (repeatable).
    #[arg(long = "watch", value_name = "PSEUDONYM")]
    watch: Vec<String>,
    /// An API key, when the log's tiles are not public.
    #[arg(long, env = "STEPWISE_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Check once and stop (exit 0 when all is well).
    #[arg(long)]
    once: bool,
    /// Seconds between two looks at the checkpoint.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// A file keeping the last checkpoint verified (created when missing): a later run reads
    /// the log again from its first entry and must find that checkpoint's root on the way.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

/// What the monitor has verified so far.
pub struct Followed {
    frontier: Frontier,
    /// The last checkpoint verified: size and root.
    size: u64,
    root: Hash,
    /// A checkpoint verified by an earlier run (`--state`): the tree must pass through it.
    pinned: Option<(u64, Hash)>,
}

impl Default for Followed {
    fn default() -> Self {
        Self::new()
    }
}

impl Followed {
    /// Nothing read yet: the empty tree.
    pub fn new() -> Self {
        Self {
            frontier: Frontier::new(),
            size: 0,
            root: stepwise::ledger::merkle::empty_root(),
            pinned: None,
        }
    }
}

/// Runs the monitor: `Ok(true)` after `--once` with nothing wrong, `Ok(false)` (exit 1) at
/// the first misbehaviour, an error (exit 2) when the log cannot be read.
pub fn run(args: MonitorArgs, out: &mut Out) -> Result<bool> {
    let log = crate::witness::log_key(&args.log_key, "--log-key")?;
    let policy = args
        .witnesses
        .as_deref()
        .map(crate::witness::witness_policy)
        .transpose()?;
    for (flag, value) in [("--interval", args.interval), ("--timeout", args.timeout)] {
        if !(value > 0.0 && value <= 86_400.0) {
            bail!("{flag} {value} must be between 0 and 86400 seconds");
        }
    }
    let client = HttpClient::new(Duration::from_secs_f64(args.timeout)).with_bearer(args.key);
    let base = args.url.trim_end_matches('/').to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut followed = Followed::new();
    if let Some(path) = &args.state {
        followed.pinned = read_state(path, log.name())?;
    }
    loop {
        let step = runtime.block_on(look(
            &client,
            &base,
            &log,
            policy.as_ref(),
            &args.watch,
            &mut followed,
        ));
        match step {
            Ok(report) => {
                for line in report {
                    emit(out, &line)?;
                }
                if let Some(path) = &args.state {
                    write_state(path, log.name(), &followed)?;
                }
            }
            Err(Misbehaviour::Alarm(alarm)) => {
                emit(out, &json!({"alarm": alarm}))?;
                return Ok(false);
            }
            Err(Misbehaviour::Unreadable(e)) => return Err(e),
        }
        if args.once {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
}

fn emit(out: &mut Out, line: &Value) -> Result<()> {
    let compact = out.is_json();
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if compact {
        writeln!(w, "{line}")?;
    } else if let Some(alarm) = line["alarm"].as_str() {
        writeln!(w, "ALARM: {alarm}")?;
    } else if let Some(entry) = line["watched"].as_u64() {
        writeln!(
            w,
            "entry {entry} names {}: {}",
            line["pseudonym"].as_str().unwrap_or("?"),
            line["entry"]
        )?;
    } else {
        let by = line["cosigned_by"].as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        });
        writeln!(
            w,
            "checkpoint {} verified{}: {} new entries hash to its root and to the tiles",
            line["size"],
            by.map_or(String::new(), |by| format!(" (cosigned by {by})")),
            line["new_entries"]
        )?;
    }
    Ok(w.flush()?)
}

/// What went wrong reading a log.
pub enum Misbehaviour {
    /// The log did something a correct log never does.
    Alarm(String),
    /// The log could not be read (network, not found): not proof of anything.
    Unreadable(anyhow::Error),
}

fn unreadable(e: impl Into<anyhow::Error>) -> Misbehaviour {
    Misbehaviour::Unreadable(e.into())
}

/// `GET url`, which must answer 200.
pub async fn get(client: &HttpClient, url: &str) -> Result<Vec<u8>, Misbehaviour> {
    let answer = client.get(url).await.map_err(unreadable)?;
    if answer.status != 200 {
        return Err(unreadable(anyhow!(
            "{url}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim_end()
        )));
    }
    Ok(answer.body.to_vec())
}

/// One look: the checkpoint, then every entry up to it. Returns the lines to report.
async fn look(
    client: &HttpClient,
    base: &str,
    log: &LogVerifier,
    policy: Option<&WitnessPolicy>,
    watch: &[String],
    followed: &mut Followed,
) -> Result<Vec<Value>, Misbehaviour> {
    let (checkpoint, cosigned_by) = read_checkpoint(client, base, log, policy).await?;
    if checkpoint.size < followed.size {
        return Err(Misbehaviour::Alarm(format!(
            "the checkpoint went back from size {} to {}",
            followed.size, checkpoint.size
        )));
    }
    if checkpoint.size == followed.size {
        if checkpoint.root != followed.root {
            return Err(Misbehaviour::Alarm(format!(
                "two roots signed for size {}: a split view",
                checkpoint.size
            )));
        }
        return Ok(Vec::new());
    }
    let mut report = Vec::new();
    let from = followed.size;
    read_entries(client, base, followed, &checkpoint, |at, entry, _| {
        if !watch.is_empty() {
            let value: Value = serde_json::from_slice(entry).unwrap_or(Value::Null);
            for pseudonym in watch.iter().filter(|p| names(&value, p)) {
                report.push(json!({"watched": at, "pseudonym": pseudonym, "entry": value}));
            }
        }
    })
    .await?;
    report.push(json!({
        "size": checkpoint.size,
        "new_entries": checkpoint.size - from,
        "cosigned_by": cosigned_by,
    }));
    Ok(report)
}

/// Reads `<base>/checkpoint` and checks it: signed by `log`, and with `policy`, cosigned by a
/// quorum of its witnesses (whose names it returns).
pub async fn read_checkpoint(
    client: &HttpClient,
    base: &str,
    log: &LogVerifier,
    policy: Option<&WitnessPolicy>,
) -> Result<(Checkpoint, Option<Vec<String>>), Misbehaviour> {
    let note = get(client, &format!("{base}/checkpoint")).await?;
    let note = String::from_utf8(note)
        .map_err(|_| Misbehaviour::Alarm("the checkpoint is not UTF-8".into()))?;
    let alarm = |e: &dyn std::fmt::Display| Misbehaviour::Alarm(format!("checkpoint: {e}"));
    match policy {
        Some(policy) => {
            let witnessed = policy.verify(Some(log), &note).map_err(|e| alarm(&e))?;
            let by = witnessed.cosigned.into_iter().map(|(n, _)| n).collect();
            Ok((witnessed.checkpoint, Some(by)))
        }
        None => Ok((log.verify_checkpoint(&note).map_err(|e| alarm(&e))?, None)),
    }
}

/// Reads the entries from `followed`'s size up to `checkpoint`'s from the entry bundles,
/// checks each against the level-0 hash tile, hands each to `visit` (index, bytes, the subtree
/// hashes it completed) and checks that the tree they extend `followed` into has the
/// checkpoint's root. `followed` then stands at the checkpoint.
pub async fn read_entries(
    client: &HttpClient,
    base: &str,
    followed: &mut Followed,
    checkpoint: &Checkpoint,
    mut visit: impl FnMut(u64, &[u8], &[Hash]),
) -> Result<(), Misbehaviour> {
    let mut next = followed.size;
    let mut completed = Vec::new();
    while next < checkpoint.size {
        let index = next / TILE_WIDTH;
        let end = ((index + 1) * TILE_WIDTH).min(checkpoint.size);
        let width = u16::try_from(end - index * TILE_WIDTH).unwrap_or(0);
        let tile = |kind| Tile { kind, index, width };
        let bundle = get(
            client,
            &format!("{base}/{}", tile(TileKind::Entries).path()),
        )
        .await?;
        let hashes = get(
            client,
            &format!("{base}/{}", tile(TileKind::Hashes { level: 0 }).path()),
        )
        .await?;
        let entries = parse_bundle(&bundle)
            .map_err(|e| Misbehaviour::Alarm(format!("entry bundle {index}: {e}")))?;
        if entries.len() != usize::from(width) || hashes.len() != 32 * usize::from(width) {
            return Err(Misbehaviour::Alarm(format!(
                "tile {index} holds {} entries and {} hashes, the checkpoint needs {width}",
                entries.len(),
                hashes.len() / 32
            )));
        }
        let skip = usize::try_from(next - index * TILE_WIDTH).unwrap_or(0);
        for (k, entry) in entries.iter().enumerate().skip(skip) {
            let at = index * TILE_WIDTH + k as u64;
            let leaf = leaf_hash(entry);
            if hashes[32 * k..32 * k + 32] != leaf {
                return Err(Misbehaviour::Alarm(format!(
                    "entry {at} does not hash to the leaf hash of tile 0/{index}"
                )));
            }
            completed.clear();
            followed.frontier.push(leaf, &mut completed);
            if let Some((size, root)) = followed.pinned
                && followed.frontier.size() == size
            {
                if followed.frontier.root() != root {
                    return Err(Misbehaviour::Alarm(format!(
                        "the log's first {size} entries no longer have the root this monitor \
                         verified before (--state): the log rewrote its past"
                    )));
                }
                followed.pinned = None;
            }
            visit(at, entry, &completed);
        }
        next = end;
    }
    if let Some((size, _)) = followed.pinned
        && size > checkpoint.size
    {
        return Err(Misbehaviour::Alarm(format!(
            "the log's checkpoint has {} entries, fewer than the {size} this monitor verified \
             before (--state)",
            checkpoint.size
        )));
    }
    if followed.frontier.root() != checkpoint.root {
        return Err(Misbehaviour::Alarm(format!(
            "the entries up to {} do not hash to the checkpoint's root (the log rewrote its \
             past, or its tiles and its checkpoint disagree)",
            checkpoint.size
        )));
    }
    followed.size = checkpoint.size;
    followed.root = checkpoint.root;
    Ok(())
}

/// The checkpoint an earlier run verified, from `--state` (none when the file is missing).
fn read_state(path: &std::path::Path, origin: &str) -> Result<Option<(u64, Hash)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let state: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if state["origin"] != origin {
        bail!(
            "{}: the state of another log ({})",
            path.display(),
            state["origin"]
        );
    }
    let size = state["size"].as_u64();
    let root = state["root"]
        .as_str()
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
        .and_then(|r| Hash::try_from(r.as_slice()).ok());
    match (size, root) {
        (Some(size), Some(root)) => Ok(Some((size, root))),
        _ => bail!("{}: no `size` and base64 `root`", path.display()),
    }
}

/// Keeps the last checkpoint verified in `--state`, replaced atomically.
fn write_state(path: &std::path::Path, origin: &str, followed: &Followed) -> Result<()> {
    let state = json!({
        "origin": origin,
        "size": followed.size,
        "root": base64::engine::general_purpose::STANDARD.encode(followed.root),
    });
    let staged = path.with_extension("partial");
    std::fs::write(&staged, format!("{state}\n"))
        .and_then(|()| std::fs::rename(&staged, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// Whether a JSON value holds the string `name` anywhere.
fn names(value: &Value, name: &str) -> bool {
    match value {
        Value::String(s) => s == name,
        Value::Array(items) => items.iter().any(|v| names(v, name)),
        Value::Object(map) => map.values().any(|v| names(v, name)),
        _ => false,
    }
}
