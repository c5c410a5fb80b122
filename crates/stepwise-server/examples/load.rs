//! HTTP load generator for `stepwise serve`: `POST /v1/decide` against `GET /healthz` on the same
//! server in the same run, batched ingest over `POST /v1/events`, and group commit of
//! single-event appends at 1 and at N concurrent connections.
//!
//! It starts the `stepwise` binary as a separate process on a fresh data directory holding the
//! Bitcoin OTC import (so decisions are about real principals, taken from `GET /v1/rank`),
//! creates the keys with the command line, and drives a fixed number of HTTP/1.1 keep-alive
//! connections from one tokio thread with a minimal client of its own. Every measurement is
//! bounded in requests and in time and repeated; figures are medians over the rounds, and decide
//! and healthz rounds alternate so that noise on a shared machine hits both. Any non-2xx reply
//! (or an append reply that refused an event) makes the run fail with a count and the first
//! reply. Beside throughput and latency it reports the CPU time the server and the client spent
//! per request (from `/proc`), which a busy shared machine disturbs much less than throughput,
//! and the commit counters of `GET /metrics`. The server runs unmodified, with only its rate
//! limit lifted: this program must never change what it measures.
//!
//! From the repository root (PostgreSQL: a fresh, empty database; no OTC import there):
//!
//! ```sh
//! cargo build --release
//! cargo run --release -p stepwise-server --example load -- --json
//! cargo run --release -p stepwise-server --example load -- --phases ingest,group \
//!     --store postgres://postgres@127.0.0.1:5432/stepwise_load
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

const USAGE: &str = "\
usage: cargo run --release -p stepwise-server --example load -- [options]

  --bin PATH              the stepwise binary (default: target/release/stepwise)
  --otc PATH              the Bitcoin OTC ratings (default: ../shared/data/soc-sign-bitcoinotc.csv.gz)
  --work DIR              where to create the data directory (default: a temporary directory)
  --store URL             run the server on this PostgreSQL database (must be empty; no import)
  --phases LIST           any of decide,ingest,group (default: all three)
  --connections N         connections for decide and healthz (default 8)
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
  --verdict               ask decide for the bare verdict (\"explain\": false) instead of the explanation
  --json                  print the results as JSON (the table goes to standard error)";

/// What one run measures, and how hard.
#[derive(Debug, Clone)]
struct Options {
    bin: PathBuf,
    otc: PathBuf,
    work: Option<PathBuf>,
    store: Option<String>,
    decide: bool,
    ingest: bool,
    group: bool,
    connections: usize,
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
    verdict: bool,
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Rating,
    Promise,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut o = Self {
            bin: PathBuf::from("target/release/stepwise"),
            otc: PathBuf::from("../shared/data/soc-sign-bitcoinotc.csv.gz"),
            work: None,
            store: None,
            decide: true,
            ingest: true,
            group: true,
            connections: 8,
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
            verdict: false,
            json: false,
        };
        while let Some(flag) = args.next() {
            if flag == "--json" {
                o.json = true;
                continue;
            }
            if flag == "--verdict" {
                o.verdict = true;
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
                "--work" => o.work = Some(value.into()),
                "--store" => o.store = Some(value),
                "--phases" => {
                    (o.decide, o.ingest, o.group) = (false, false, false);
                    for phase in value.split(',') {
                        match phase {
                            "decide" => o.decide = true,
                            "ingest" => o.ingest = true,
                            "group" => o.group = true,
                            other => {
                                return Err(format!(
                                    "--phases: {other:?} is not decide, ingest or group"
                                ));
                            }
                        }
                    }
                }
                "--connections" => o.connections = number(&flag, &value)?,
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
            ("--client-threads", o.client_threads),
            ("--rounds", o.rounds),
            ("--batch", o.batch),
            ("--batch-connections", o.batch_connections),
            ("--group", o.group_connections),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, n)| *n == 0) {
            return Err(format!("{flag} must be at least 1"));
        }
        if o.requests == 0 || o.batches == 0 || o.appends == 0 {
            return Err("--requests, --batches and --appends must be at least 1".into());
        }
        if !(o.seconds > 0.0 && o.append_seconds > 0.0 && o.warmup >= 0.0) {
            return Err("--seconds and --append-seconds must be > 0, --warmup ≥ 0".into());
        }
        if o.store.is_some() && o.decide {
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
    let data = temp.path().join("data");
    let cli = Cli {
        bin: o.bin.clone(),
        data: data.clone(),
        store: o.store.clone(),
    };

    let prepared = Instant::now();
    if o.store.is_none() {
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
            "group": o.group_connections, "appends": o.appends,
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

struct Keys {
    reader: String,
    recorder: String,
}

/// The run's own directory (data directory and server log); removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(parent: Option<&Path>) -> Result<Self, String> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!("stepwise-load-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("creating the work directory {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `stepwise` command line on the run's data directory.
struct Cli {
    bin: PathBuf,
    data: PathBuf,
    store: Option<String>,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "stepwise {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("stepwise {}: {e}", args.join(" ")))
    }

    /// Creates an API key; returns its text.
    fn key(&self, role: &str, principal: Option<&str>) -> Result<String, String> {
        let mut args = vec!["key", "create", "--role", role, "--json"];
        if let Some(p) = principal {
            args.extend(["--principal", p]);
        }
        if let Some(s) = &self.store {
            args.extend(["--store", s]);
        }
        let out = self.run(&args)?;
        let value: Value = serde_json::from_str(&out)
            .map_err(|e| format!("`key create` printed no JSON ({e}): {out:?}"))?;
        value["key"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`key create` printed no key: {out:?}"))
    }
}

/// The `stepwise serve` process; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(o: &Options, data: &Path, log: &Path) -> Result<Self, String> {
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(&o.bin);
        command
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            // Lift the per-key rate limit: it would measure the limiter, not the server.
            .args(["--rate", "1e9", "--burst", "1e9"]);
        if let Some(store) = &o.store {
            command.args(["--store", store]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", o.bin.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout of the server")?;
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_owned(),
        };
        match (read, addr) {
            (Ok(_), Some(addr)) => {
                server.addr = addr;
                Ok(server)
            }
            _ => Err(format!(
                "the server printed no address ({line:?}): {}",
                server.log_tail()
            )),
        }
    }

    /// The end of the server's standard error, for failure messages.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        if tail.is_empty() {
            "(empty)".into()
        } else {
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The results, as a table and as JSON.
struct Report {
    table: String,
    json: Value,
}

async fn measure(o: &Options, addr: SocketAddr, keys: &Keys) -> Result<Report, String> {
    let mut table = String::new();
    let mut out = json!({});
    let subjects = subjects(addr, &keys.reader).await?;
    table.push_str(&format!(
        "server {addr}; {} principals; client: {} tokio thread(s); machine: {} cores, shared with the server\n\n",
        subjects.len(),
        o.client_threads,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    ));
    out["principals"] = json!(subjects.len());
    if o.decide {
        let (text, value) = decide_against_healthz(o, addr, &keys.reader, &subjects).await?;
        table.push_str(&text);
        out["decide"] = value;
    }
    let mut ids = 0_u64;
    let events = |count: usize, ids: &mut u64| -> Vec<String> {
        (0..count)
            .map(|_| {
                *ids += 1;
                event(o.event, *ids, &subjects)
            })
            .collect()
    };
    if o.ingest {
        let (text, value) = ingest(o, addr, &keys.recorder, &mut |n| events(n, &mut ids)).await?;
        table.push_str(&text);
        out["ingest"] = value;
    }
    if o.group {
        let (text, value) =
            group_commit(o, addr, &keys.recorder, &mut |n| events(n, &mut ids)).await?;
        table.push_str(&text);
        out["group_commit"] = value;
    }
    let log_size = metrics(addr).await?.log_size;
    table.push_str(&format!("\nlog size at the end: {log_size}\n"));
    out["log_size_at_end"] = json!(log_size);
    Ok(Report { table, json: out })
}

/// Every ranked principal (the OTC users), or made-up subjects on an empty log.
async fn subjects(addr: SocketAddr, reader: &str) -> Result<Vec<String>, String> {
    let request = get(addr, "/v1/rank?top=10000", Some(reader));
    let reply = Connection::open(addr)
        .await?
        .exchange(&request)
        .await
        .map_err(|e| format!("GET /v1/rank: {e}"))?;
    if !reply.is_success() {
        return Err(format!("GET /v1/rank: {}", reply.describe()));
    }
    let value: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("GET /v1/rank: not JSON: {e}"))?;
    let mut subjects: Vec<String> = value["principals"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["principal"].as_str().map(str::to_owned))
                .filter(|p| p != RECORDER)
                .collect()
        })
        .unwrap_or_default();
    if subjects.is_empty() {
        subjects = (1..=1000).map(|i| format!("load:subject-{i}")).collect();
    }
    Ok(subjects)
}

/// When the load started, and a day later: events are dated then, as live evidence is (the log
/// accepts `at` within its window around the moment it records them).
fn dates() -> &'static (String, String) {
    use stepwise::ledger::Clock as _;
    static DATES: OnceLock<(String, String)> = OnceLock::new();
    DATES.get_or_init(|| {
        let now = stepwise::ledger::SystemClock.now();
        let due =
            stepwise::evidence::Time::from_micros(now.as_micros() + 86_400_000_000).unwrap_or(now);
        (now.to_string(), due.to_string())
    })
}

fn event(kind: EventKind, n: u64, subjects: &[String]) -> String {
    // Spread over the principals with a stride co-prime to any plausible count.
    let subject = &subjects[usize::try_from(n.wrapping_mul(7919)).unwrap_or(0) % subjects.len()];
    let (at, due) = dates();
    match kind {
        EventKind::Rating => {
            const VALUES: [&str; 6] = ["1", "0.8", "0.5", "0.2", "-0.5", "-1"];
            let value = VALUES[usize::try_from(n % 6).unwrap_or(0)];
            format!(
                r#"{{"kind":"rating","at":"{at}","rater":"{RECORDER}","subject":"{subject}","value":{value}}}"#
            )
        }
        EventKind::Promise => format!(
            r#"{{"kind":"promise","at":"{at}","id":"load-{pid}-{n}","promisor":"{RECORDER}","promisee":"{subject}","scope":"load","stake":1,"due":"{due}"}}"#,
            pid = std::process::id()
        ),
    }
}

async fn decide_against_healthz(
    o: &Options,
    addr: SocketAddr,
    reader: &str,
    subjects: &[String],
) -> Result<(String, Value), String> {
    const CAPABILITIES: [&str; 2] = ["read", "propose"];
    const STAKES: [&str; 5] = ["0", "1", "5", "20", "100"];
    let decides: Vec<Vec<u8>> = (0..8192_usize)
        .map(|i| {
            let body = format!(
                r#"{{"subject":"{}","capability":"{}","stake":{}{}}}"#,
                subjects[i.wrapping_mul(7919) % subjects.len()],
                CAPABILITIES[i % 2],
                STAKES[(i / 2) % STAKES.len()],
                if o.verdict { r#","explain":false"# } else { "" }
            );
            post(addr, "/v1/decide", reader, &body)
        })
        .collect();
    let decide = Load::new("decide", decides, Check::Decision);
    let healthz = Load::new("healthz", vec![get(addr, "/healthz", None)], Check::Status);

    // One decision, shown so a reader of the output sees what was asked and answered.
    let sample = Connection::open(addr)
        .await?
        .exchange(&decide.requests[0])
        .await?;
    if !sample.is_success() || !Check::Decision.passes(&sample.body) {
        return Err(format!("POST /v1/decide: {}", sample.describe()));
    }
    let allowed = {
        let mut allowed = 0;
        let mut conn = Connection::open(addr).await?;
        for request in decide.requests.iter().take(500) {
            let reply = conn.exchange(request).await?;
            if reply.body.windows(14).any(|w| w == br#""allowed":true"#) {
                allowed += 1;
            }
        }
        allowed
    };

    let bound = Bound {
        seconds: o.seconds,
        requests: o.requests,
    };
    let warm = Bound {
        seconds: o.warmup,
        requests: o.requests,
    };
    if o.warmup > 0.0 {
        drive(addr, &healthz, o.connections, warm)
            .await?
            .checked()?;
        drive(addr, &decide, o.connections, warm).await?.checked()?;
    }
    let mut rounds_h = Vec::new();
    let mut rounds_d = Vec::new();
    for round in 0..o.rounds {
        // Alternate which goes first, so a trend in the noise favours neither.
        if round % 2 == 0 {
            rounds_h.push(
                drive(addr, &healthz, o.connections, bound)
                    .await?
                    .checked()?,
            );
            rounds_d.push(
                drive(addr, &decide, o.connections, bound)
                    .await?
                    .checked()?,
            );
        } else {
            rounds_d.push(
                drive(addr, &decide, o.connections, bound)
                    .await?
                    .checked()?,
            );
            rounds_h.push(
                drive(addr, &healthz, o.connections, bound)
                    .await?
                    .checked()?,
            );
        }
        eprintln!(
            "load: round {}: healthz {:.0} req/s, decide {:.0} req/s",
            round + 1,
            rounds_h[round].per_second(),
            rounds_d[round].per_second()
        );
    }
    let h = Summary::of(&rounds_h);
    let d = Summary::of(&rounds_d);
    let ratios: Vec<f64> = rounds_h
        .iter()
        .zip(&rounds_d)
        .map(|(h, d)| d.per_second() / h.per_second())
        .collect();
    let ratio = d.per_second / h.per_second;
    let mut text = format!(
        "decide against healthz: {} connections, {} rounds of at most {} s or {} requests, medians\n\
         (sample decision: {}; {allowed} of 500 sampled decisions allowed)\n\n\
         | endpoint | req/s | p50 | p99 | server CPU per request | client CPU per request | reply body | requests |\n\
         |---|---|---|---|---|---|---|---|\n",
        o.connections,
        o.rounds,
        o.seconds,
        o.requests,
        String::from_utf8_lossy(&sample.body),
    );
    for (name, s) in [("GET /healthz", &h), ("POST /v1/decide", &d)] {
        text.push_str(&format!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.1} µs | {:.0} B | {} |\n",
            s.per_second,
            s.p50_us,
            s.p99_us,
            s.server_cpu_us,
            s.client_cpu_us,
            s.body_bytes,
            s.requests
        ));
    }
    text.push_str(&format!(
        "\ndecide / healthz throughput: {ratio:.2} (ratio of medians; per round: {}; target ≥ 0.80)\n\
         server CPU per request, healthz / decide: {:.2}\n\n",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        h.server_cpu_us / d.server_cpu_us,
    ));
    let value = json!({
        "healthz": h.json(&rounds_h),
        "decide": d.json(&rounds_d),
        "ratio": ratio,
        "ratio_median_of_rounds": median(&ratios),
        "server_cpu_ratio_healthz_over_decide": h.server_cpu_us / d.server_cpu_us,
        "ratios": ratios,
        "sampled_allowed_of_500": allowed,
    });
    Ok((text, value))
}

async fn ingest(
    o: &Options,
    addr: SocketAddr,
    recorder: &str,
    events: &mut dyn FnMut(usize) -> Vec<String>,
) -> Result<(String, Value), String> {
    let batch = |events: &mut dyn FnMut(usize) -> Vec<String>| {
        post(
            addr,
            "/v1/events",
            recorder,
            &format!("[{}]", events(o.batch).join(",")),
        )
    };
    let bound = Bound {
        seconds: o.seconds,
        requests: o.batches,
    };
    // Warm-up: one batch per connection.
    let warm: Vec<Vec<u8>> = (0..o.batch_connections).map(|_| batch(events)).collect();
    let warm_load = Load::new("warm-up batches", warm, Check::NoneRefused);
    drive(
        addr,
        &warm_load,
        o.batch_connections,
        Bound {
            seconds: 60.0,
            requests: warm_load.requests.len() as u64,
        },
    )
    .await?
    .checked()?;

    let mut rounds = Vec::new();
    let mut commits = Vec::new();
    for round in 0..o.rounds {
        // Generated before the clock starts, so the client's formatting is not timed.
        let bodies: Vec<Vec<u8>> = (0..o.batches).map(|_| batch(events)).collect();
        let load = Load::new("batches", bodies, Check::NoneRefused);
        let before = metrics(addr).await?;
        let r = drive(addr, &load, o.batch_connections, bound)
            .await?
            .checked()?;
        let after = metrics(addr).await?;
        eprintln!(
            "load: ingest round {}: {:.0} events/s",
            round + 1,
            r.per_second() * o.batch as f64
        );
        commits.push(after.since(&before));
        rounds.push(r);
    }
    let s = Summary::of(&rounds);
    let events_per_second = s.per_second * o.batch as f64;
    let c = Commits::sum(&commits);
    let text = format!(
        "batched ingest: batches of {} {} events, {} connection(s), {} rounds of at most {} batches or {} s, medians\n\n\
         | events/s | batches/s | p50 per batch | p99 per batch | server CPU per event | requests per commit |\n\
         |---|---|---|---|---|---|\n\
         | {events_per_second:.0} | {:.1} | {:.1} ms | {:.1} ms | {:.1} µs | {:.2} ({} requests, {} commits) |\n\n",
        o.batch,
        kind_name(o.event),
        o.batch_connections,
        o.rounds,
        o.batches,
        o.seconds,
        s.per_second,
        s.p50_us / 1000.0,
        s.p99_us / 1000.0,
        s.server_cpu_us / o.batch as f64,
        c.per_commit(),
        c.requests,
        c.commits,
    );
    let value = json!({
        "batch": o.batch,
        "events_per_second": events_per_second,
        "batches": s.json(&rounds),
        "commits": c.json(),
    });
    Ok((text, value))
}

async fn group_commit(
    o: &Options,
    addr: SocketAddr,
    recorder: &str,
    events: &mut dyn FnMut(usize) -> Vec<String>,
) -> Result<(String, Value), String> {
    let bound = Bound {
        seconds: o.append_seconds,
        requests: o.appends,
    };
    let singles = |count: u64, events: &mut dyn FnMut(usize) -> Vec<String>| {
        events(usize::try_from(count).unwrap_or(usize::MAX))
            .into_iter()
            .map(|e| post(addr, "/v1/events", recorder, &e))
            .collect::<Vec<_>>()
    };
    let warm = Load::new("warm-up appends", singles(64, events), Check::Status);
    drive(
        addr,
        &warm,
        4,
        Bound {
            seconds: 10.0,
            requests: 64,
        },
    )
    .await?
    .checked()?;

    let widths = [1, o.group_connections];
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    let mut commits: [Vec<Commits>; 2] = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let load = Load::new("single appends", singles(o.appends, events), Check::Status);
            let before = metrics(addr).await?;
            let r = drive(addr, &load, widths[which], bound).await?.checked()?;
            let after = metrics(addr).await?;
            eprintln!(
                "load: single appends, {} connection(s), round {}: {:.0} events/s",
                widths[which],
                round + 1,
                r.per_second()
            );
            commits[which].push(after.since(&before));
            rounds[which].push(r);
        }
    }
    let mut text = format!(
        "single-event appends (group commit): {} rounds of at most {} appends or {} s, medians\n\n\
         | connections | events/s | p50 | p99 | server CPU per event | requests per commit |\n\
         |---|---|---|---|---|---|\n",
        o.rounds, o.appends, o.append_seconds
    );
    let mut value = Vec::new();
    for which in 0..2 {
        let s = Summary::of(&rounds[which]);
        let c = Commits::sum(&commits[which]);
        text.push_str(&format!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.0} µs | {:.2} ({} requests, {} commits) |\n",
            widths[which],
            s.per_second,
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            s.server_cpu_us,
            c.per_commit(),
            c.requests,
            c.commits
        ));
        value.push(json!({
            "connections": widths[which],
            "events_per_second": s.per_second,
            "appends": s.json(&rounds[which]),
            "commits": c.json(),
        }));
    }
    text.push('\n');
    Ok((text, Value::Array(value)))
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Rating => "rating",
        EventKind::Promise => "promise",
    }
}

/// The commit counters of `GET /metrics`.
#[derive(Debug, Clone, Copy, Default)]
struct Commits {
    commits: u64,
    requests: u64,
    events: u64,
    log_size: u64,
}

impl Commits {
    fn since(&self, before: &Self) -> Self {
        Self {
            commits: self.commits - before.commits,
            requests: self.requests - before.requests,
            events: self.events - before.events,
            log_size: self.log_size,
        }
    }

    fn sum(all: &[Self]) -> Self {
        all.iter().fold(Self::default(), |a, c| Self {
            commits: a.commits + c.commits,
            requests: a.requests + c.requests,
            events: a.events + c.events,
            log_size: c.log_size,
        })
    }

    fn per_commit(&self) -> f64 {
        self.requests as f64 / self.commits.max(1) as f64
    }

    fn json(&self) -> Value {
        json!({
            "stepwise_commits_total": self.commits,
            "stepwise_committed_requests_total": self.requests,
            "stepwise_committed_events_total": self.events,
            "requests_per_commit": self.per_commit(),
        })
    }
}

async fn metrics(addr: SocketAddr) -> Result<Commits, String> {
    let reply = Connection::open(addr)
        .await?
        .exchange(&get(addr, "/metrics", None))
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    if !reply.is_success() {
        return Err(format!("GET /metrics: {}", reply.describe()));
    }
    let text = String::from_utf8_lossy(&reply.body);
    let counter = |name: &str| -> Result<u64, String> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .ok_or_else(|| format!("GET /metrics has no {name}"))
    };
    Ok(Commits {
        commits: counter("stepwise_commits_total")?,
        requests: counter("stepwise_committed_requests_total")?,
        events: counter("stepwise_committed_events_total")?,
        log_size: counter("stepwise_log_size")?,
    })
}

/// What a 2xx reply must also say to count as a success.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Only the status.
    Status,
    /// A decision (it has `allowed`).
    Decision,
    /// An append that refused none of its events.
    NoneRefused,
}

impl Check {
    fn passes(self, body: &[u8]) -> bool {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        match self {
            Self::Status => true,
            Self::Decision => has(br#""allowed":"#),
            Self::NoneRefused => has(br#""refused":0,"#),
        }
    }
}

/// Requests to send, round robin.
struct Load {
    name: &'static str,
    requests: Arc<Vec<Vec<u8>>>,
    check: Check,
}

impl Load {
    fn new(name: &'static str, requests: Vec<Vec<u8>>, check: Check) -> Self {
        Self {
            name,
            requests: Arc::new(requests),
            check,
        }
    }
}

/// How long a round may last and how many requests it may send, whichever ends it first.
#[derive(Debug, Clone, Copy)]
struct Bound {
    seconds: f64,
    requests: u64,
}

/// One bounded round of one load.
struct Round {
    name: &'static str,
    /// Latencies of the completed requests, sorted, in nanoseconds.
    latencies: Vec<u64>,
    elapsed: Duration,
    failures: u64,
    first_failure: Option<String>,
    /// Bytes of reply bodies received.
    body_bytes: u64,
    /// CPU seconds (user and system) the server and this client spent during the round.
    cpu: Cpu,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn server_cpu_us(&self) -> f64 {
        self.cpu.server * 1e6 / self.latencies.len().max(1) as f64
    }

    fn client_cpu_us(&self) -> f64 {
        self.cpu.client * 1e6 / self.latencies.len().max(1) as f64
    }

    fn body_bytes(&self) -> f64 {
        self.body_bytes as f64 / self.latencies.len().max(1) as f64
    }

    fn percentile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[at] as f64 / 1000.0
    }

    /// The round, or an error naming how many replies failed and the first of them.
    fn checked(self) -> Result<Self, String> {
        if self.failures == 0 {
            return Ok(self);
        }
        Err(format!(
            "{} of {} {} requests failed (non-2xx or an unexpected body); first: {}",
            self.failures,
            self.latencies.len(),
            self.name,
            self.first_failure.as_deref().unwrap_or("?")
        ))
    }
}

/// Medians over rounds.
struct Summary {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    server_cpu_us: f64,
    client_cpu_us: f64,
    body_bytes: f64,
}

impl Summary {
    fn of(rounds: &[Round]) -> Self {
        let pick = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        Self {
            per_second: pick(&Round::per_second),
            p50_us: pick(&|r| r.percentile_us(0.50)),
            p99_us: pick(&|r| r.percentile_us(0.99)),
            requests: rounds.iter().map(|r| r.latencies.len() as u64).sum(),
            server_cpu_us: pick(&Round::server_cpu_us),
            client_cpu_us: pick(&Round::client_cpu_us),
            body_bytes: pick(&Round::body_bytes),
        }
    }

    fn json(&self, rounds: &[Round]) -> Value {
        json!({
            "per_second": self.per_second,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "requests": self.requests,
            "server_cpu_us_per_request": self.server_cpu_us,
            "client_cpu_us_per_request": self.client_cpu_us,
            "reply_body_bytes": self.body_bytes,
            "rounds": rounds.iter().map(|r| json!({
                "per_second": r.per_second(),
                "p50_us": r.percentile_us(0.50),
                "p99_us": r.percentile_us(0.99),
                "requests": r.latencies.len(),
                "seconds": r.elapsed.as_secs_f64(),
                "server_cpu_us_per_request": r.server_cpu_us(),
                "client_cpu_us_per_request": r.client_cpu_us(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs `load` on `connections` keep-alive connections until `bound` ends the round.
async fn drive(
    addr: SocketAddr,
    load: &Load,
    connections: usize,
    bound: Bound,
) -> Result<Round, String> {
    // Connect before the clock starts.
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(addr).await?);
    }
    let next = Arc::new(AtomicU64::new(0));
    let cpu_before = Cpu::now();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(bound.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in opened {
        let (next, requests, check) = (Arc::clone(&next), Arc::clone(&load.requests), load.check);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let (mut failures, mut first_failure, mut bytes) = (0_u64, None, 0_u64);
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bound.requests {
                    break;
                }
                let request = &requests[usize::try_from(i).unwrap_or(0) % requests.len()];
                let sent = Instant::now();
                let reply = conn.exchange(request).await?;
                latencies.push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
                bytes += reply.body.len() as u64;
                if !(reply.is_success() && check.passes(&reply.body)) {
                    failures += 1;
                    first_failure.get_or_insert_with(|| reply.describe());
                }
                if reply.close {
                    conn = Connection::open(addr).await?;
                }
            }
            Ok::<_, String>((latencies, Instant::now(), failures, first_failure, bytes))
        });
    }
    let mut round = Round {
        name: load.name,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        failures: 0,
        first_failure: None,
        body_bytes: 0,
        cpu: Cpu::default(),
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, ended, failures, first, bytes) =
            done.map_err(|e| format!("a connection task failed: {e}"))??;
        round.latencies.extend(latencies);
        round.body_bytes += bytes;
        round.elapsed = round.elapsed.max(ended - started);
        round.failures += failures;
        if round.first_failure.is_none() {
            round.first_failure = first;
        }
    }
    round.cpu = Cpu::now().since(cpu_before);
    round.latencies.sort_unstable();
    Ok(round)
}

/// The server's process id, once it runs.
static SERVER_PID: OnceLock<u32> = OnceLock::new();

/// CPU time (user and system, all threads) of the server and of this client, in seconds, from
/// `/proc` (zero where it cannot be read). Throughput on a shared machine depends on what else
/// runs; CPU time per request much less so.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    server: f64,
    client: f64,
}

impl Cpu {
    fn now() -> Self {
        let of = |pid: &str| -> Option<f64> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name (which may hold spaces): state is field 3,
            // utime 14 and stime 15, in clock ticks (100 per second on Linux).
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        };
        Self {
            server: SERVER_PID
                .get()
                .and_then(|pid| of(&pid.to_string()))
                .unwrap_or(0.0),
            client: of("self").unwrap_or(0.0),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            server: self.server - before.server,
            client: self.client - before.client,
        }
    }
}

fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> Vec<u8> {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").into_bytes()
}

fn post(addr: SocketAddr, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A reply: its status, its body, and whether the server will close the connection.
struct Reply {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

impl Reply {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(400).collect();
        format!("HTTP {} {body}", self.status)
    }
}

/// One HTTP/1.1 keep-alive connection: one request at a time, replies framed by
/// `Content-Length` (the server sends every reply this client asks for with one).
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    filled: usize,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Self {
            stream,
            buffer: vec![0; 64 << 10],
            filled: 0,
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Reply, String> {
        self.send(request)
            .await
            .map_err(|e| format!("sending a request: {e}"))?;
        self.receive().await
    }

    async fn send(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket has into the buffer (at least one byte).
    async fn fill(&mut self) -> Result<(), String> {
        if self.filled == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        loop {
            self.stream
                .readable()
                .await
                .map_err(|e| format!("reading a reply: {e}"))?;
            match self.stream.try_read(&mut self.buffer[self.filled..]) {
                Ok(0) => return Err("the server closed the connection mid-reply".into()),
                Ok(n) => {
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("reading a reply: {e}")),
            }
        }
    }

    async fn receive(&mut self) -> Result<Reply, String> {
        let head_end = loop {
            if let Some(at) = self.buffer[..self.filled]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|_| "a reply head is not UTF-8".to_owned())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
        let (mut length, mut close) = (None, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!(
                    "a reply came with Transfer-Encoding: {value}; this client reads only Content-Length"
                ));
            }
        }
        let length = length.ok_or_else(|| format!("a reply without Content-Length: {head:?}"))?;
        let end = head_end + length;
        while self.filled < end {
            if self.filled == self.buffer.len() {
                self.buffer.resize(end.max(self.buffer.len() * 2), 0);
            }
            self.fill().await?;
        }
        let body = self.buffer[head_end..end].to_vec();
        self.buffer.copy_within(end..self.filled, 0);
        self.filled -= end;
        Ok(Reply {
            status,
            body,
            close,
        })
    }
}

/// The machine, as the report needs it.
fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "cpu": cpu,
    })
}
