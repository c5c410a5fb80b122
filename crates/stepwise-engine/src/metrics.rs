//! Prometheus metrics, written by hand in the text exposition format (a few counters and
//! histograms need no library).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in LATENCY_BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in LATENCY_BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// One method of one route: latency, and counts by status.
struct MethodStats {
    method: &'static str,
    latency: Histogram,
    statuses: Vec<(u16, u64)>,
}

#[derive(Default)]
struct Inner {
    /// Route → its methods (found without allocating once a route has been seen).
    routes: BTreeMap<String, Vec<MethodStats>>,
    commits: u64,
    committed_events: u64,
    committed_requests: u64,
    commit_latency: Histogram,
    rate_limited: u64,
    clock_behind: u64,
    rank_refreshes: u64,
    rank_latency: Histogram,
    table_refreshes: u64,
    table_latency: Histogram,
}

/// The figures `render` reads from the engine's state rather than counts itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Entries folded into the live state.
    pub log_size: u64,
    /// The log size of the network rank.
    pub rank_log_size: u64,
    /// Principals in the live state.
    pub principals: usize,
    /// Truster–subject pairs in the live state.
    pub pairs: usize,
    /// The size of the latest checkpoint the witnesses' quorum cosigned (0: none).
    pub witnessed_log_size: u64,
}

/// Request and commit figures.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request served.
    pub fn request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let mut m = self.lock();
        if !m.routes.contains_key(route) {
            m.routes.insert(route.to_owned(), Vec::new());
        }
        let Some(methods) = m.routes.get_mut(route) else {
            return;
        };
        let stats = match methods.iter().position(|s| s.method == method) {
            Some(i) => &mut methods[i],
            None => {
                methods.push(MethodStats {
                    method,
                    latency: Histogram::default(),
                    statuses: Vec::new(),
                });
                let last = methods.len() - 1;
                &mut methods[last]
            }
        };
        stats.latency.observe(took.as_secs_f64());
        match stats.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => stats.statuses.push((status, 1)),
        }
    }

    /// One commit of `requests` requests carrying `events` events.
    pub fn commit(&self, requests: usize, events: usize, took: Duration) {
        let mut m = self.lock();
        m.commits += 1;
        m.committed_requests += requests as u64;
        m.committed_events += events as u64;
        m.commit_latency.observe(took.as_secs_f64());
    }

    /// A commit stamped with the log's latest `recorded_at` because the clock read earlier
    /// (it stepped back, or another server's clock runs ahead).
    pub fn clock_behind(&self) {
        self.lock().clock_behind += 1;
    }

    /// One refresh of the network rank, which took `took`.
    pub fn rank_refresh(&self, took: Duration) {
        let mut m = self.lock();
        m.rank_refreshes += 1;
        m.rank_latency.observe(took.as_secs_f64());
    }

    /// One refresh of the principals table (the dashboard's), which took `took`.
    pub fn table_refresh(&self, took: Duration) {
        let mut m = self.lock();
        m.table_refreshes += 1;
        m.table_latency.observe(took.as_secs_f64());
    }

    /// One request refused for its key's rate.
    pub fn rate_limited(&self) {
        self.lock().rate_limited += 1;
    }

    /// The exposition text, with the gauges given by the caller.
    pub fn render(&self, gauges: Gauges) -> String {
        let Gauges {
            log_size,
            rank_log_size,
            principals,
            pairs,
            witnessed_log_size,
        } = gauges;
        let m = self.lock();
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP stepwise_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE stepwise_http_requests_total counter\n");
        for (route, methods) in &m.routes {
            for stats in methods {
                for (status, n) in &stats.statuses {
                    let _ = writeln!(
                        out,
                        "stepwise_http_requests_total{{method=\"{}\",route=\"{route}\",status=\"{status}\"}} {n}",
                        stats.method
                    );
                }
            }
        }
        out.push_str("# HELP stepwise_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE stepwise_http_request_duration_seconds histogram\n");
        for (route, methods) in &m.routes {
            for stats in methods {
                stats.latency.write(
                    &mut out,
                    "stepwise_http_request_duration_seconds",
                    &format!("method=\"{}\",route=\"{route}\"", stats.method),
                );
            }
        }
        let _ = write!(
            out,
            "# HELP stepwise_commits_total Durable commits (each one transaction and one sync).\n\
             # TYPE stepwise_commits_total counter\n\
             stepwise_commits_total {}\n\
             # HELP stepwise_committed_events_total Events offered to the ledger in commits.\n\
             # TYPE stepwise_committed_events_total counter\n\
             stepwise_committed_events_total {}\n\
             # HELP stepwise_committed_requests_total Append requests carried by commits (group commit).\n\
             # TYPE stepwise_committed_requests_total counter\n\
             stepwise_committed_requests_total {}\n\
             # HELP stepwise_rate_limited_total Requests refused with 429.\n\
             # TYPE stepwise_rate_limited_total counter\n\
             stepwise_rate_limited_total {}\n\
             # HELP stepwise_clock_behind_total Commits whose clock read earlier than the log's latest recorded time (stamped with that time instead).\n\
             # TYPE stepwise_clock_behind_total counter\n\
             stepwise_clock_behind_total {}\n\
             # HELP stepwise_commit_duration_seconds Time to validate, sign and commit a batch.\n\
             # TYPE stepwise_commit_duration_seconds histogram\n",
            m.commits, m.committed_events, m.committed_requests, m.rate_limited, m.clock_behind,
        );
        m.commit_latency
            .write(&mut out, "stepwise_commit_duration_seconds", "");
        refreshes(
            &mut out,
            "rank",
            "the network rank",
            m.rank_refreshes,
            &m.rank_latency,
        );
        refreshes(
            &mut out,
            "table",
            "the principals table",
            m.table_refreshes,
            &m.table_latency,
        );
        let _ = write!(
            out,
            "# HELP stepwise_log_size Entries in the log as folded into the live state.\n\
             # TYPE stepwise_log_size gauge\n\
             stepwise_log_size {log_size}\n\
             # HELP stepwise_rank_log_size Log size of the network rank answers use now.\n\
             # TYPE stepwise_rank_log_size gauge\n\
             stepwise_rank_log_size {rank_log_size}\n\
             # HELP stepwise_principals Principals in the live trust state.\n\
             # TYPE stepwise_principals gauge\n\
             stepwise_principals {principals}\n\
             # HELP stepwise_pairs Truster–subject pairs with evidence in the live trust state.\n\
             # TYPE stepwise_pairs gauge\n\
             stepwise_pairs {pairs}\n\
             # HELP stepwise_witnessed_log_size Size of the latest checkpoint the witnesses' quorum cosigned (0: none yet, or no witnesses).\n\
             # TYPE stepwise_witnessed_log_size gauge\n\
             stepwise_witnessed_log_size {witnessed_log_size}\n"
        );
        out
    }
}

/// A background job's refreshes: how many (`stepwise_{job}_refreshes_total`) and how long each
/// took (`stepwise_{job}_refresh_duration_seconds`).
fn refreshes(out: &mut String, job: &str, what: &str, count: u64, took: &Histogram) {
    let _ = write!(
        out,
        "# HELP stepwise_{job}_refreshes_total Refreshes of {what} (in the background).\n\
         # TYPE stepwise_{job}_refreshes_total counter\n\
         stepwise_{job}_refreshes_total {count}\n\
         # HELP stepwise_{job}_refresh_duration_seconds Time to compute {what}.\n\
         # TYPE stepwise_{job}_refresh_duration_seconds histogram\n",
    );
    took.write(out, &format!("stepwise_{job}_refresh_duration_seconds"), "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_counts_requests_and_fills_buckets_cumulatively() {
        let m = Metrics::default();
        m.request("GET", "/healthz", 200, Duration::from_micros(50));
        m.request("GET", "/healthz", 200, Duration::from_millis(3));
        m.commit(3, 30, Duration::from_millis(2));
        m.rank_refresh(Duration::from_millis(40));
        m.table_refresh(Duration::from_millis(300));
        m.table_refresh(Duration::from_millis(700));
        let text = m.render(Gauges {
            log_size: 30,
            rank_log_size: 25,
            principals: 4,
            pairs: 5,
            witnessed_log_size: 20,
        });
        assert!(text.contains("stepwise_pairs 5\n"));
        assert!(text.contains(
            "stepwise_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "stepwise_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.0001\"} 1"
        ));
        assert!(text.contains(
            "stepwise_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("stepwise_committed_requests_total 3"));
        assert!(text.contains("stepwise_commit_duration_seconds_count 1"));
        assert!(text.contains("stepwise_log_size 30"));
        assert!(text.contains("stepwise_rank_log_size 25"));
        assert!(text.contains("stepwise_witnessed_log_size 20"));
        assert!(text.contains("stepwise_rank_refreshes_total 1"));
        assert!(text.contains("stepwise_rank_refresh_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("# HELP stepwise_table_refreshes_total Refreshes of the principals"));
        assert!(text.contains("stepwise_table_refreshes_total 2\n"));
        assert!(text.contains("stepwise_table_refresh_duration_seconds_count 2\n"));
    }
}
