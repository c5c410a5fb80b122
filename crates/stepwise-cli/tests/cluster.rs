//! Three `stepwise serve` processes on one PostgreSQL database: a write acknowledged by one is
//! answered by the others as soon as it is asked for with `min_log_size` (they are woken by
//! `NOTIFY`, not by polling, which is set to a minute here), a server killed leaves the others
//! answering, and the one restarted catches up and answers as they do.

use super::server::{Server, SharedLog, ago, promise, stepwise_ok};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Polling alone would take this long to fold another server's write.
const FOLLOW_MS: &str = "60000";

/// A read of one server, as a reader.
fn read(server: &Server, key: &str, path: &str) -> (u16, Value, Option<u64>, Option<String>) {
    let r = server.request("GET", path, Some(key), None);
    let size = r.header("stepwise-log-size").and_then(|s| s.parse().ok());
    let retry = r.header("retry-after").map(str::to_owned);
    (r.status, r.json(), size, retry)
}

struct Cluster {
    servers: Vec<Server>,
    data: PathBuf,
    url: String,
    ann: String,
    reader: String,
    _log: SharedLog,
}

impl Cluster {
    fn start() -> Self {
        let log = SharedLog::new();
        let (data, url) = (log.data.clone(), log.url.clone());
        let ann = log.key("recorder", Some("user:ann"));
        let reader = log.key("reader", None);
        let servers = (0..3).map(|_| start(&data, &url)).collect();
        Self {
            servers,
            data,
            url,
            ann,
            reader,
            _log: log,
        }
    }

    /// Records a promise of Ann's through server `at`; its log index.
    fn write(&self, at: usize, id: &str) -> u64 {
        let body = promise(id, "user:ann", "user:bob", 10).to_string();
        let r = self.servers[at].request("POST", "/v1/events", Some(&self.ann), Some(&body));
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["results"][0]["index"].as_u64().expect("index")
    }
}

fn start(data: &Path, url: &str) -> Server {
    let args = [
        "--store",
        url,
        "--follow-ms",
        FOLLOW_MS,
        "--catch-up-wait-ms",
        "1500",
    ];
    Server::start(data, &args)
}

#[test]
fn three_servers_on_one_postgres_read_each_others_writes_at_once() {
    let mut cluster = Cluster::start();
    a_write_through_one_is_answered_by_the_others_without_polling(&cluster);
    a_size_no_server_has_is_answered_503_with_the_size_it_has(&cluster);
    health_says_how_far_behind_the_store_a_server_is(&cluster);
    one_killed_the_others_answer_and_the_restarted_one_catches_up(&mut cluster);
    the_log_the_three_served_verifies(&cluster);
}

fn a_write_through_one_is_answered_by_the_others_without_polling(cluster: &Cluster) {
    for round in 0..5 {
        let index = cluster.write(round % 3, &format!("p{round}"));
        for (n, server) in cluster.servers.iter().enumerate() {
            let started = Instant::now();
            let path = format!("/v1/promises?open=true&min_log_size={}", index + 1);
            let (status, body, size, _) = read(server, &cluster.reader, &path);
            let took = started.elapsed();
            assert_eq!(status, 200, "server {n}: {body}");
            assert!(size.is_some_and(|s| s > index), "server {n}: {size:?}");
            let ids: Vec<&str> = (body["promises"].as_array().expect("promises").iter())
                .filter_map(|p| p["id"].as_str())
                .collect();
            assert!(
                ids.contains(&format!("p{round}").as_str()),
                "server {n}: {ids:?}"
            );
            // Woken by the store, not by its minute-long poll (nor by the wait's bound).
            assert!(
                took < Duration::from_millis(1000),
                "server {n} took {took:?}"
            );
        }
    }
}

fn a_size_no_server_has_is_answered_503_with_the_size_it_has(cluster: &Cluster) {
    let server = &cluster.servers[1];
    let (status, body, size, retry) = read(
        server,
        &cluster.reader,
        "/v1/promises?open=true&min_log_size=1000000",
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "log_behind");
    assert_eq!(body["field"], "min_log_size");
    assert_eq!(retry.as_deref(), Some("1"));
    let folded = size.expect("the size it has").to_string();
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains(&folded) && message.contains("1000000"),
        "{message}"
    );
    let (status, body, _, _) = read(
        server,
        &cluster.reader,
        "/v1/promises?open=true&min_log_size=ten",
    );
    assert_eq!(
        (status, &body["field"]),
        (400, &json!("min_log_size")),
        "{body}"
    );
}

fn health_says_how_far_behind_the_store_a_server_is(cluster: &Cluster) {
    let index = cluster.write(0, "health");
    for server in &cluster.servers {
        let path = format!("/healthz?min_log_size={}", index + 1);
        let r = server.request("GET", &path, None, None);
        assert_eq!(r.status, 200, "{}", r.body);
        let health = r.json();
        assert_eq!(health["status"], "ok");
        assert!(
            health["log_size"].as_u64().is_some_and(|n| n > index),
            "{health}"
        );
        let (folded, stored) = (&health["log_size"], &health["store_log_size"]);
        let behind = health["behind"].as_u64().expect("behind");
        assert_eq!(
            stored.as_u64().expect("stored") - folded.as_u64().expect("folded"),
            behind
        );
    }
}

fn one_killed_the_others_answer_and_the_restarted_one_catches_up(cluster: &mut Cluster) {
    drop(cluster.servers.remove(2));
    let mut last = 0;
    for round in 0..4 {
        last = cluster.write(round % 2, &format!("after-kill-{round}"));
    }
    let min = format!("/v1/promises?open=true&min_log_size={}", last + 1);
    for server in &cluster.servers {
        assert_eq!(read(server, &cluster.reader, &min).0, 200);
    }
    cluster.servers.push(start(&cluster.data, &cluster.url));
    let restarted = &cluster.servers[2];
    let (status, body, _, _) = read(restarted, &cluster.reader, &min);
    assert_eq!(status, 200, "{body}");
    // At one log size and instant, the three give one answer.
    let size = last + 1;
    let ask = json!({"subject": "user:ann", "capability": "act:low", "stake": 5,
                     "at": ago(-1.0), "log_size": size})
    .to_string();
    let answers: Vec<Value> = (cluster.servers.iter())
        .map(|s| {
            let r = s.request("POST", "/v1/decide", Some(&cluster.reader), Some(&ask));
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()
        })
        .collect();
    assert_eq!(answers[0]["log_size"], size);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    let promises = |s: &Server| read(s, &cluster.reader, &min).1["promises"].clone();
    assert_eq!(promises(&cluster.servers[0]), promises(restarted));
}

fn the_log_the_three_served_verifies(cluster: &Cluster) {
    let verify = ["log", "verify", "--store", &cluster.url, "--json"];
    let report: Value = serde_json::from_str(&stepwise_ok(&cluster.data, &verify)).expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["entries"].as_u64().is_some_and(|n| n > 10),
        "{report}"
    );
}
