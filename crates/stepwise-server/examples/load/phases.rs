//! The phases of the load: batched ingest, group commit (the decide, batch and mixed phases
//! have files of their own); the events
//! they send and the counters they read.

use super::*;

/// The results, as a table and as JSON.
pub(crate) struct Report {
    pub(crate) table: String,
    pub(crate) json: Value,
}

pub(crate) async fn measure(o: &Options, addr: SocketAddr, keys: &Keys) -> Result<Report, String> {
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
        let (text, value) = decide_against_peers(o, addr, &keys.reader, &subjects).await?;
        table.push_str(&text);
        out["decide"] = value;
    }
    if o.mcp {
        let (text, value) = decide_over_mcp(o, addr, &keys.reader, &subjects).await?;
        table.push_str(&text);
        out["mcp"] = value;
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
    if o.batch_phase {
        let (text, value) = batch(o, addr, &keys.reader, &subjects).await?;
        table.push_str(&text);
        out["batch"] = value;
    }
    if o.mixed {
        let (text, value) = mixed(o, addr, keys, &subjects).await?;
        table.push_str(&text);
        out["mixed"] = value;
    }
    let log_size = metrics(addr).await?.log_size;
    table.push_str(&format!("\nlog size at the end: {log_size}\n"));
    out["log_size_at_end"] = json!(log_size);
    Ok(Report { table, json: out })
}

/// Every ranked principal (the OTC users), or made-up subjects on an empty log.
pub(crate) async fn subjects(addr: SocketAddr, reader: &str) -> Result<Vec<String>, String> {
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
pub(crate) fn dates() -> &'static (String, String) {
    use stepwise::ledger::Clock as _;
    static DATES: OnceLock<(String, String)> = OnceLock::new();
    DATES.get_or_init(|| {
        let now = stepwise::ledger::SystemClock.now();
        let due =
            stepwise::evidence::Time::from_micros(now.as_micros() + 86_400_000_000).unwrap_or(now);
        (now.to_string(), due.to_string())
    })
}

pub(crate) fn event(kind: EventKind, n: u64, subjects: &[String]) -> String {
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

pub(crate) async fn ingest(
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

pub(crate) async fn group_commit(
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
    // With witnesses: how far behind the log the witnessed checkpoint is once appends stop.
    let end = metrics(addr).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = metrics(addr).await?;
    let shown = |size: Option<u64>| size.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
    let mut text = format!(
        "witnessed log size at the end of the rounds: {} of {}; one second later: {} of {}\n\n",
        shown(end.witnessed_log_size),
        end.log_size,
        shown(settled.witnessed_log_size),
        settled.log_size
    );
    text += &format!(
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

pub(crate) fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Rating => "rating",
        EventKind::Promise => "promise",
    }
}

/// The commit counters of `GET /metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Commits {
    pub(crate) commits: u64,
    pub(crate) requests: u64,
    pub(crate) events: u64,
    pub(crate) log_size: u64,
    pub(crate) rank_log_size: u64,
    pub(crate) rank_refreshes: u64,
    pub(crate) witnessed_log_size: Option<u64>,
}

impl Commits {
    pub(crate) fn since(&self, before: &Self) -> Self {
        Self {
            commits: self.commits - before.commits,
            requests: self.requests - before.requests,
            events: self.events - before.events,
            log_size: self.log_size,
            ..*self
        }
    }

    pub(crate) fn sum(all: &[Self]) -> Self {
        all.iter().fold(Self::default(), |a, c| Self {
            commits: a.commits + c.commits,
            requests: a.requests + c.requests,
            events: a.events + c.events,
            log_size: c.log_size,
            ..*c
        })
    }

    pub(crate) fn per_commit(&self) -> f64 {
        self.requests as f64 / self.commits.max(1) as f64
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "stepwise_commits_total": self.commits,
            "stepwise_committed_requests_total": self.requests,
            "stepwise_committed_events_total": self.events,
            "requests_per_commit": self.per_commit(),
        })
    }
}

pub(crate) async fn metrics(addr: SocketAddr) -> Result<Commits, String> {
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
        rank_log_size: counter("stepwise_rank_log_size")?,
        rank_refreshes: counter("stepwise_rank_refreshes_total")?,
        // A server older than witnessing (a "before" binary) has none: reported as unknown.
        witnessed_log_size: counter("stepwise_witnessed_log_size").ok(),
    })
}
