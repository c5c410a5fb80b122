//! HTTP load generator for `stepwise serve`: `POST /v1/decide` against `GET /healthz` and
//! against a fair peer (the same request answered with a constant reply of the same size; see
//! `decide.rs`) on the same server in the same run, batched ingest over `POST /v1/events`,
//! group commit of single-event appends at 1 and at N concurrent connections, and on request (`--phases mixed,batch`) trust
//! figures and decisions while other clients append, against each alone, decisions a
//! hundred per request against one per request, and (`--phases mcp`) the `decide` tool through
//! `POST /mcp` against `POST /v1/decide`.
//!
//! It starts the `stepwise` binary as a separate process on a fresh data directory holding the
//! Bitcoin OTC import, or Epinions with `--epinions` (so decisions are about real principals,
//! taken from `GET /v1/rank`),
//! creates the keys with the command line, and drives a fixed number of HTTP/1.1 keep-alive
//! connections from one tokio thread with a minimal client of its own. Every measurement is
//! bounded in requests and in time and repeated; figures are medians over the rounds, and decide
//! and healthz rounds alternate so that noise on a shared machine hits both. Any non-2xx reply
//! (or an append reply that refused an event) makes the run fail with a count and the first
//! reply. Beside throughput and latency it reports the CPU time the server and the client spent
//! per request (from `/proc`), which a busy shared machine disturbs much less than throughput,
//! and the commit counters of `GET /metrics`. The server runs unmodified, with only its rate
//! limit lifted (and, for the peer, built with the `bench-peer` feature, which adds its two
//! routes outside the API): this program must never change what it measures.
//!
//! From the repository root (PostgreSQL: a fresh, empty database; no OTC import there):
//!
//! ```sh
//! cargo build --release -p stepwise-cli --features bench-peer   # the server with the peer
//! cargo run --release -p stepwise-server --example load -- --json
//! cargo run --release -p stepwise-server --example load -- --phases ingest,group \
//!     --store postgres://postgres@127.0.0.1:5432/stepwise_load
//! cargo run --release -p stepwise-server --example load -- --phases mcp
//! cargo run --release -p stepwise-server --example load -- --phases mixed \
//!     --epinions ../shared/data/soc-sign-epinions.txt.gz
//! ```

use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

mod batch;
mod decide;
mod drive;
mod harness;
mod http;
mod mcp;
mod mixed;
mod phases;

use batch::*;
use decide::*;
use drive::*;
use harness::*;
use http::*;
use mcp::*;
use mixed::*;
use phases::*;

const USAGE: &str = "\
usage: cargo run --release -p stepwise-server --example load -- [options]

  --bin PATH              the stepwise binary (default: target/release/stepwise)
  --otc PATH              the Bitcoin OTC ratings (default: ../shared/data/soc-sign-bitcoinotc.csv.gz)
  --epinions PATH         import this SNAP signed network (Epinions) instead of Bitcoin OTC
  --work DIR              where to create the data directory (default: a temporary directory)
  --data DIR              serve this data directory as it is, no import (a generated log:
                          `stepwise generate ... | stepwise import - --history`); keys are added
  --store URL             run the server on this PostgreSQL database (must be empty; no import)
  --phases LIST           any of decide,ingest,group,mixed,batch,mcp (default: decide,ingest,group)
  --connections N         connections for decide and healthz; in the mixed phase, half ask for
                          trust and half decide (default 8)
  --writers N             connections appending single ratings in the mixed phase (default 2)
  --trust-connections N   in the mixed phase, connections asking for trust (default: half of
                          --connections); the rest decide; 0: every connection decides
  --witnesses N           start N `stepwise witness serve` processes and have the server submit
                          every checkpoint to them, quorum all (default 0: no witnesses)
  --rank-refresh S        the policy's [network] refresh_interval, in seconds (default: as
                          `stepwise init` writes it)
  --client-threads N      tokio threads of this client (default 1)
  --rounds N              measured rounds of each kind (default 5)
  --seconds S             longest decide/healthz round (default 5)
  --requests N            most requests in a decide/healthz round (default 200000)
  --warmup S              warm-up per kind before the rounds (default 1)
  --batch N               events per batch (default 1000)
  --batches N             most batches per ingest round (default 50)
  --batch-connections N   connections sending batches (default 1)
  --group N               concurrent connections for single-event appends (default 16)
  --appends N             most single-event appends per round (default 20000)
  --append-seconds S      longest single-event round (default 3)
  --event rating|promise  what the recorder records (default rating)
  --decisions KIND        explained, verdict (\"explain\": false) or both (default both)
  --verdict               the same as --decisions verdict
  --json                  print the results as JSON (the table goes to standard error)";

/// What one run measures, and how hard.
#[derive(Debug, Clone)]
struct Options {
    bin: PathBuf,
    otc: PathBuf,
    epinions: Option<PathBuf>,
    work: Option<PathBuf>,
    data: Option<PathBuf>,
    store: Option<String>,
    decide: bool,
    mcp: bool,
    ingest: bool,
    group: bool,
    mixed: bool,
    batch_phase: bool,
    connections: usize,
    writers: usize,
    trust_connections: Option<usize>,
    rank_refresh: Option<f64>,
    witnesses: usize,
    client_threads: usize,
    rounds: usize,
    seconds: f64,
    requests: u64,
    warmup: f64,
    batch: usize,
    batches: u64,
    batch_connections: usize,
    group_connections: usize,
    appends: u64,
    append_seconds: f64,
    event: EventKind,
    decisions: Decisions,
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Rating,
    Promise,
}

impl Options {
    /// How long a measured round lasts, and how many requests it may send.
    fn round(&self) -> Bound {
        Bound {
            seconds: self.seconds,
            requests: self.requests,
        }
    }

    /// The warm-up round, if one is asked for.
    fn warm_up(&self) -> Option<Bound> {
        (self.warmup > 0.0).then_some(Bound {
            seconds: self.warmup,
            requests: self.requests,
        })
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut o = Self {
            bin: PathBuf::from("target/release/stepwise"),
            otc: PathBuf::from("../shared/data/soc-sign-bitcoinotc.csv.gz"),
            epinions: None,
            data: None,
            work: None,
            store: None,
            decide: true,
            mcp: false,
            ingest: true,
            group: true,
            mixed: false,
            batch_phase: false,
            connections: 8,
            writers: 2,
            trust_connections: None,
            rank_refresh: None,
            witnesses: 0,
            client_threads: 1,
            rounds: 5,
            seconds: 5.0,
            requests: 200_000,
            warmup: 1.0,
            batch: 1000,
            batches: 50,
            batch_connections: 1,
            group_connections: 16,
            appends: 20_000,
            append_seconds: 3.0,
            event: EventKind::Rating,
            decisions: Decisions::Both,
            json: false,
        };
        while let Some(flag) = args.next() {
            if flag == "--json" {
                o.json = true;
                continue;
            }
            if flag == "--verdict" {
                o.decisions = Decisions::Verdict;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_owned());
            }
            if !USAGE.contains(&format!("  {flag} ")) {
                return Err(format!("unknown option {flag}\n\n{USAGE}"));
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
            match flag.as_str() {
                "--bin" => o.bin = value.into(),
                "--otc" => o.otc = value.into(),
                "--epinions" => o.epinions = Some(value.into()),
                "--work" => o.work = Some(value.into()),
                "--data" => o.data = Some(value.into()),
                "--store" => o.store = Some(value),
                "--phases" => {
                    (o.decide, o.ingest, o.group, o.mixed, o.batch_phase, o.mcp) =
                        (false, false, false, false, false, false);
                    for phase in value.split(',') {
                        match phase {
                            "decide" => o.decide = true,
                            "ingest" => o.ingest = true,
                            "group" => o.group = true,
                            "mixed" => o.mixed = true,
                            "batch" => o.batch_phase = true,
                            "mcp" => o.mcp = true,
                            other => {
                                return Err(format!(
                                    "--phases: {other:?} is not decide, ingest, group, mixed, batch or mcp"
                                ));
                            }
                        }
                    }
                }
                "--connections" => o.connections = number(&flag, &value)?,
                "--writers" => o.writers = number(&flag, &value)?,
                "--trust-connections" => o.trust_connections = Some(number(&flag, &value)?),
                "--rank-refresh" => o.rank_refresh = Some(number(&flag, &value)?),
                "--witnesses" => o.witnesses = number::<usize>(&flag, &value)?,
                "--client-threads" => o.client_threads = number(&flag, &value)?,
                "--rounds" => o.rounds = number(&flag, &value)?,
                "--seconds" => o.seconds = number(&flag, &value)?,
                "--requests" => o.requests = number(&flag, &value)?,
                "--warmup" => o.warmup = number(&flag, &value)?,
                "--batch" => o.batch = number(&flag, &value)?,
                "--batches" => o.batches = number(&flag, &value)?,
                "--batch-connections" => o.batch_connections = number(&flag, &value)?,
                "--group" => o.group_connections = number(&flag, &value)?,
                "--appends" => o.appends = number(&flag, &value)?,
                "--append-seconds" => o.append_seconds = number(&flag, &value)?,
                "--decisions" => {
                    o.decisions = match value.as_str() {
                        "explained" => Decisions::Explained,
                        "verdict" => Decisions::Verdict,
                        "both" => Decisions::Both,
                        other => {
                            return Err(format!(
                                "--decisions: {other:?} is not explained, verdict or both"
                            ));
                        }
                    }
                }
                "--event" => {
                    o.event = match value.as_str() {
                        "rating" => EventKind::Rating,
                        "promise" => EventKind::Promise,
                        other => {
                            return Err(format!("--event: {other:?} is not rating or promise"));
                        }
                    }
                }
                other => return Err(format!("unknown option {other}\n\n{USAGE}")),
            }
        }
        let positive = [
            ("--connections", o.connections),
            ("--writers", o.writers),
            ("--client-threads", o.client_threads),
            ("--rounds", o.rounds),
            ("--batch", o.batch),
            ("--batch-connections", o.batch_connections),
            ("--group", o.group_connections),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, n)| *n == 0) {
            return Err(format!("{flag} must be at least 1"));
        }
        if o.trust_connections.is_some_and(|n| n >= o.connections) {
            return Err("--trust-connections must be fewer than --connections".into());
        }
        if o.requests == 0 || o.batches == 0 || o.appends == 0 {
            return Err("--requests, --batches and --appends must be at least 1".into());
        }
        if !(o.seconds > 0.0 && o.append_seconds > 0.0 && o.warmup >= 0.0) {
            return Err("--seconds and --append-seconds must be > 0, --warmup ≥ 0".into());
        }
        if o.store.is_some() && (o.decide || o.mixed || o.batch_phase || o.mcp) {
            return Err(
                "--store: the OTC import goes to the SQLite store only; add --phases ingest,group"
                    .into(),
            );
        }
        Ok(o)
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value:?}: expected a number"))
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The principal the recorder key records as.
const RECORDER: &str = "load:recorder";

fn run(o: &Options) -> Result<(), String> {
    if !o.bin.is_file() {
        return Err(format!(
            "no stepwise binary at {}: build it with `cargo build --release` or pass --bin",
            o.bin.display()
        ));
    }
    let temp = WorkDir::create(o.work.as_deref())?;
    let data = (o.data.clone()).unwrap_or_else(|| temp.path().join("data"));
    let cli = Cli {
        bin: o.bin.clone(),
        data: data.clone(),
        store: o.store.clone(),
    };

    let prepared = Instant::now();
    if o.data.is_some() {
        eprintln!("load: serving {} as it is", data.display());
    } else if let (None, Some(epinions)) = (&o.store, &o.epinions) {
        if !epinions.is_file() {
            return Err(format!("no file at {}: --epinions", epinions.display()));
        }
        // SNAP's signed networks carry no time: every rating is dated one instant, as
        // history. Self-loops are refused (nobody rates themselves), so the import exits 1.
        let report = cli.import(&[
            &epinions.display().to_string(),
            "--format",
            "snap-signed",
            "--at",
            "2020-01-01T00:00:00Z",
            "--id-prefix",
            "ep:",
            "--history",
        ])?;
        eprintln!(
            "load: Epinions imported: {} ratings recorded, {} lines refused",
            report["recorded"],
            report["rejected"].as_array().map_or(0, Vec::len)
        );
    } else if o.store.is_none() {
        if !o.otc.is_file() {
            return Err(format!(
                "no Bitcoin OTC file at {}: pass --otc",
                o.otc.display()
            ));
        }
        let otc = o.otc.display().to_string();
        cli.run(&[
            "import",
            &otc,
            "--format",
            "bitcoin-otc",
            "--id-prefix",
            "otc:",
            "--history",
        ])?;
    }
    let reader = cli.key("reader", None)?;
    let recorder = cli.key("recorder", Some(RECORDER))?;
    if let Some(seconds) = o.rank_refresh {
        let policy = data.join("stepwise.toml");
        let text =
            std::fs::read_to_string(&policy).map_err(|e| format!("{}: {e}", policy.display()))?;
        let text = text.replace(
            "refresh_interval = \"1s\"",
            &format!("refresh_interval = \"{seconds}s\""),
        );
        std::fs::write(&policy, text).map_err(|e| format!("{}: {e}", policy.display()))?;
    }
    let _witnesses = Witnesses::start(o, &data, temp.path())?;
    eprintln!(
        "load: data directory {} prepared in {:.1} s",
        data.display(),
        prepared.elapsed().as_secs_f64()
    );

    let log = temp.path().join("server.log");
    let server = Server::start(o, &data, &log)?;
    eprintln!("load: server pid {} at {}", server.child.id(), server.addr);
    let _ = SERVER_PID.set(server.child.id());

    let runtime = if o.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.client_threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("starting the client runtime: {e}"))?;
    let keys = Keys { reader, recorder };
    let measured = runtime.block_on(measure(o, server.addr, &keys));
    let report = match measured {
        Ok(report) => report,
        Err(e) => return Err(format!("{e}\n(server log: {})", server.log_tail())),
    };
    if o.json {
        let mut value = report.json;
        value["machine"] = machine();
        value["options"] = json!({
            "connections": o.connections, "client_threads": o.client_threads,
            "rounds": o.rounds, "seconds": o.seconds, "requests": o.requests,
            "batch": o.batch, "batches": o.batches, "batch_connections": o.batch_connections,
            "group": o.group_connections, "appends": o.appends, "writers": o.writers,
            "data_set": match (&o.data, &o.epinions) {
                (Some(dir), _) => dir.display().to_string(),
                (None, Some(_)) => "epinions".to_owned(),
                (None, None) => "bitcoin-otc".to_owned(),
            },
            "rank_refresh_seconds": o.rank_refresh,
            "witnesses": o.witnesses,
            "append_seconds": o.append_seconds,
            "event": if o.event == EventKind::Rating { "rating" } else { "promise" },
            "store": if o.store.is_some() { "postgres" } else { "sqlite" },
        });
        // The table still goes to standard error, for the person watching.
        eprint!("{}", report.table);
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report.table);
    }
    Ok(())
}
