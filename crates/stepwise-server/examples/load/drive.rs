//! The driver: keep-alive connections issuing bounded, repeated rounds, their checks and
//! summaries, and the CPU time the server and the client spent.

use super::*;

/// What a 2xx reply must also say to count as a success.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Only the status.
    Status,
    /// A decision (it has `allowed`).
    Decision,
    /// An append that refused none of its events.
    NoneRefused,
}

impl Check {
    pub(crate) fn passes(self, body: &[u8]) -> bool {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        match self {
            Self::Status => true,
            Self::Decision => has(br#""allowed":"#),
            Self::NoneRefused => has(br#""refused":0,"#),
        }
    }
}

/// Requests to send, round robin.
pub(crate) struct Load {
    pub(crate) name: &'static str,
    pub(crate) requests: Arc<Vec<Vec<u8>>>,
    pub(crate) check: Check,
}

impl Load {
    pub(crate) fn new(name: &'static str, requests: Vec<Vec<u8>>, check: Check) -> Self {
        Self {
            name,
            requests: Arc::new(requests),
            check,
        }
    }
}

/// How long a round may last and how many requests it may send, whichever ends it first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) seconds: f64,
    pub(crate) requests: u64,
}

/// One bounded round of one load.
pub(crate) struct Round {
    pub(crate) name: &'static str,
    /// Latencies of the completed requests, sorted, in nanoseconds.
    pub(crate) latencies: Vec<u64>,
    pub(crate) elapsed: Duration,
    pub(crate) failures: u64,
    pub(crate) first_failure: Option<String>,
    /// Bytes of reply bodies received.
    pub(crate) body_bytes: u64,
    /// CPU seconds (user and system) the server and this client spent during the round.
    pub(crate) cpu: Cpu,
}

impl Round {
    pub(crate) fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.cpu.server * 1e6 / self.latencies.len().max(1) as f64
    }

    pub(crate) fn client_cpu_us(&self) -> f64 {
        self.cpu.client * 1e6 / self.latencies.len().max(1) as f64
    }

    pub(crate) fn body_bytes(&self) -> f64 {
        self.body_bytes as f64 / self.latencies.len().max(1) as f64
    }

    pub(crate) fn percentile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[at] as f64 / 1000.0
    }

    /// The round, or an error naming how many replies failed and the first of them.
    pub(crate) fn checked(self) -> Result<Self, String> {
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
pub(crate) struct Summary {
    pub(crate) per_second: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) requests: u64,
    pub(crate) server_cpu_us: f64,
    pub(crate) client_cpu_us: f64,
    pub(crate) body_bytes: f64,
}

impl Summary {
    pub(crate) fn of(rounds: &[Round]) -> Self {
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

    pub(crate) fn json(&self, rounds: &[Round]) -> Value {
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

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs `load` on `connections` keep-alive connections until `bound` ends the round.
pub(crate) async fn drive(
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
pub(crate) static SERVER_PID: OnceLock<u32> = OnceLock::new();

/// CPU time (user and system, all threads) of the server and of this client, in seconds, from
/// `/proc` (zero where it cannot be read). Throughput on a shared machine depends on what else
/// runs; CPU time per request much less so.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub(crate) server: f64,
    pub(crate) client: f64,
}

impl Cpu {
    pub(crate) fn now() -> Self {
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

    pub(crate) fn since(self, before: Self) -> Self {
        Self {
            server: self.server - before.server,
            client: self.client - before.client,
        }
    }
}
