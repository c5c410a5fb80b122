//! `stepwise serve` as a platform meets it: a real server process on a free port, real HTTP
//! requests, real signals, real stores (SQLite, and PostgreSQL on 127.0.0.1:5432). Who may call
//! what, the limits and the error shapes are tested in process in the server crate.

use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(super) fn stepwise(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("stepwise runs")
}

pub(super) fn stepwise_ok(data: &Path, args: &[&str]) -> String {
    let out = stepwise(data, args);
    assert!(
        out.status.success(),
        "stepwise {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `stepwise ARGS --json`, which must succeed, parsed.
fn cli_json(data: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&stepwise_ok(data, &args)).expect("JSON")
}

/// Creates a key with the command line; returns its text.
pub(super) fn key(data: &Path, role: &str, principal: Option<&str>, store: Option<&str>) -> String {
    let mut args = vec!["key", "create", "--role", role, "--json"];
    if let Some(p) = principal {
        args.extend(["--principal", p]);
    }
    if let Some(s) = store {
        args.extend(["--store", s]);
    }
    let out: Value = serde_json::from_str(&stepwise_ok(data, &args)).expect("JSON");
    out["key"].as_str().expect("key").to_owned()
}

/// A running `stepwise serve`; killed when dropped.
pub(super) struct Server {
    child: Child,
    pub(super) addr: SocketAddr,
}

impl Server {
    pub(super) fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("server prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("no address in {line:?}; stderr: {err}")
            });
        Self { child, addr }
    }

    pub(super) fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        request(self.addr, method, path, key, body)
    }

    /// Sends SIGTERM and waits for the process to end; returns its exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) struct Reply {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub(super) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(k) = key {
        head.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    // A refused oversized body may close the connection before it is all sent.
    let _ = stream.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The instant `hours` before this test process started (negative: after), RFC 3339. Live
/// evidence is dated near the moment the log records it: within its window of 24 h back.
pub(super) fn ago(hours: f64) -> String {
    use stepwise::ledger::Clock as _;
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let started = *STARTED.get_or_init(|| stepwise::ledger::SystemClock.now().as_micros());
    stepwise::evidence::Time::from_micros(started - (hours * 3_600e6) as i64)
        .expect("time")
        .to_string()
}

/// A promise made six hours ago, due in eighteen.
pub(super) fn promise(id: &str, promisor: &str, promisee: &str, stake: u32) -> Value {
    json!({"kind": "promise", "at": ago(6.0), "id": id, "promisor": promisor,
           "promisee": promisee, "scope": "deploy", "stake": stake, "due": ago(-18.0)})
}

/// An outcome recorded two hours ago.
pub(super) fn outcome(id: &str, result: &str) -> Value {
    json!({"kind": "outcome", "at": ago(2.0), "promise": id, "result": result})
}

pub(super) struct Keys {
    pub(super) admin: String,
    pub(super) ann: String,
    pub(super) bob: String,
    pub(super) reader: String,
}

pub(super) fn setup() -> (tempfile::TempDir, PathBuf, Keys) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let keys = Keys {
        admin: key(&data, "admin", None, None),
        ann: key(&data, "recorder", Some("user:ann"), None),
        bob: key(&data, "recorder", Some("user:bob"), None),
        reader: key(&data, "reader", None, None),
    };
    (dir, data, keys)
}

/// A `stepwise serve` on a fresh data directory with `setup`'s four keys: what the cases of one
/// story share, in order, each starting from the log the case before it left.
struct Served {
    // Declared first, so dropped first: the server stops before its directory goes.
    server: Server,
    data: PathBuf,
    keys: Keys,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(extra: &[&str]) -> Self {
        let (dir, data, keys) = setup();
        let server = Server::start(&data, extra);
        Self {
            server,
            data,
            keys,
            _dir: dir,
        }
    }

    /// `GET path` with the reader key.
    fn read(&self, path: &str) -> Reply {
        self.server
            .request("GET", path, Some(&self.keys.reader), None)
    }

    /// `POST path` of `body` with `key`.
    fn post(&self, key: &str, path: &str, body: &str) -> Reply {
        self.server.request("POST", path, Some(key), Some(body))
    }
}

/// One server answers every endpoint; what it answers about the log, trust and decisions is
/// what the command line answers on the same data directory. The cases run in order on one
/// server: each starts from the log of three events the second case records.
#[test]
fn every_endpoint_answers_and_decisions_match_the_command_line() {
    let served = Served::start(&[]);
    the_health_check_answers_without_a_key(&served);
    recorded_events_answer_their_indexes_and_the_checkpoint(&served);
    an_event_is_stored_with_its_author_from_the_key(&served);
    the_checkpoint_and_proofs_agree_with_the_command_line(&served);
    trust_decide_and_explain_at_an_instant_equal_the_command_lines_answers(&served);
    without_at_the_live_state_answers_and_the_bare_verdict_agrees(&served);
    the_rank_is_refreshed_in_the_background_and_the_policy_is_served(&served);
    bad_input_names_the_field_and_unknown_routes_and_methods_answer_json(&served);
    metrics_and_the_openapi_document_need_no_key(&served);
}

fn the_health_check_answers_without_a_key(s: &Served) {
    assert_eq!(
        s.server.request("GET", "/healthz", None, None).json()["status"],
        "ok"
    );
}

/// Ann promises Bob; Bob (the promisee) records the outcome, and a promise of his own.
fn recorded_events_answer_their_indexes_and_the_checkpoint(s: &Served) {
    let p1 = promise("p1", "user:ann", "user:bob", 5).to_string();
    let r = s.post(&s.keys.ann, "/v1/events", &p1);
    assert_eq!(r.status, 201, "{}", r.body);
    // Entry 0 is the policy entry, recorded when the server started.
    assert_eq!(r.json()["results"][0]["index"], 1);
    let batch = json!([
        outcome("p1", "kept"),
        promise("p2", "user:bob", "user:ann", 3)
    ]);
    let r = s.post(&s.keys.bob, "/v1/events", &batch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["recorded"], 2);
    assert_eq!(v["results"][0]["index"], 2);
    assert_eq!(v["results"][1]["index"], 3);
    assert_eq!(v["checkpoint"]["size"], 4);
}

/// The event as stored, with its author filled in from the key; past the log, none.
fn an_event_is_stored_with_its_author_from_the_key(s: &Served) {
    let r = s.read("/v1/events/2");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["event"]["author"], "user:bob");
    assert_eq!(s.read("/v1/events/4").status, 404);
}

/// The checkpoint is the signed note the command line prints, and proofs agree with it.
fn the_checkpoint_and_proofs_agree_with_the_command_line(s: &Served) {
    let r = s.read("/v1/log/checkpoint");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let proof = s.read("/v1/log/proof/inclusion?index=1").json();
    assert_eq!(proof["size"], 4);
    assert!(r.body.contains("\n4\n"));
    let cli_proof = cli_json(&s.data, &["log", "proof", "inclusion", "1"]);
    assert_eq!(proof["proof"], cli_proof["proof"]);
    assert_eq!(proof["root"], cli_proof["root"]);
    let cons = s.read("/v1/log/proof/consistency?old=1&new=3").json();
    let cli_cons = cli_json(&s.data, &["log", "proof", "consistency", "1", "3"]);
    assert_eq!(cons["proof"], cli_cons["proof"]);
    assert_eq!(
        s.read("/v1/log/proof/consistency?old=0").json()["field"],
        "old"
    );
}

/// Trust, decide and explain at an instant equal the command line's answers: after the latest
/// event (answered from the live state) and between two events (a replay).
fn trust_decide_and_explain_at_an_instant_equal_the_command_lines_answers(s: &Served) {
    let (later, between) = (ago(-9.0 * 24.0), ago(4.0));
    for at in [later.as_str(), between.as_str()] {
        let trust = s
            .read(&format!("/v1/principals/user:ann/trust?at={at}"))
            .json();
        // The server's network rank is refreshed in the background: the command line answers
        // with the rank the server used.
        let rank_size = trust["rank_log_size"].to_string();
        let cli_trust = [
            "trust",
            "user:ann",
            "--at",
            at,
            "--rank-log-size",
            &rank_size,
        ];
        assert_eq!(trust, cli_json(&s.data, &cli_trust));
        let ask = json!({"subject": "user:ann", "capability": "act:low", "stake": 5, "at": at});
        let decision = s
            .post(&s.keys.reader, "/v1/decide", &ask.to_string())
            .json();
        let cli_decide = [
            "decide", "user:ann", "act:low", "--stake", "5", "--at", at, "--json",
        ];
        let cli = stepwise(&s.data, &cli_decide);
        let cli_decision: Value = serde_json::from_slice(&cli.stdout).expect("JSON");
        assert_eq!(decision, cli_decision);
        assert_eq!(decision["log_size"], 4);
        let explain = s
            .read(&format!("/v1/principals/user:ann/explain?at={at}"))
            .json();
        assert_eq!(
            explain,
            cli_json(&s.data, &["explain", "user:ann", "--at", at])
        );
    }
    // Four hours ago the promise was made but its outcome not yet recorded.
    let before = s
        .read(&format!("/v1/principals/user:ann/trust?at={between}"))
        .json();
    assert_eq!(before["counts"]["kept"], 0);
}

/// Without `at`: the live state, now; the bare verdict says the same without words.
fn without_at_the_live_state_answers_and_the_bare_verdict_agrees(s: &Served) {
    let ask = r#"{"subject":"user:ann","capability":"propose","stake":1000000}"#;
    let now = s.post(&s.keys.reader, "/v1/decide", ask).json();
    assert_eq!(now["allowed"], false);
    assert_eq!(now["reasons"][0]["code"], "stake_above_limit");
    assert!(now["next_step"]["requirements"].is_array());
    let bare = r#"{"subject":"user:ann","capability":"propose","stake":1000000,"explain":false}"#;
    let verdict = s.post(&s.keys.reader, "/v1/decide", bare).json();
    assert_eq!(verdict["allowed"], false);
    assert_eq!(verdict["reasons"][0], "stake_above_limit");
    assert_eq!(verdict["level"], now["level"]["index"]);
    assert_eq!(verdict["log_size"], 4);
    assert!(verdict.get("next_step").is_none());
}

/// The rank is refreshed in the background (at most every second by default).
fn the_rank_is_refreshed_in_the_background_and_the_policy_is_served(s: &Served) {
    let started = Instant::now();
    let rank = loop {
        let rank = s.read("/v1/rank?top=1").json();
        if rank["rank_log_size"] == 4 || started.elapsed() > Duration::from_secs(10) {
            break rank;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(rank["rank_log_size"], 4, "{rank}");
    assert_eq!(
        rank["policy_entry"], 0,
        "the rank cites its policy too: {rank}"
    );
    assert_eq!(rank["principals"].as_array().map(Vec::len), Some(1));
    assert_eq!(rank["total"], 2);
    let policy = s.read("/v1/policy").json();
    assert_eq!(policy["ladder"][0]["name"], "newcomer");
    assert!(
        policy["toml"]
            .as_str()
            .is_some_and(|t| t.contains("[ladder]"))
    );
}

/// Bad input names the field; unknown routes and methods answer JSON; a refused single event
/// says which field and why, and nothing is recorded.
fn bad_input_names_the_field_and_unknown_routes_and_methods_answer_json(s: &Served) {
    let negative = r#"{"subject":"user:ann","capability":"act:low","stake":-1}"#;
    let r = s.post(&s.keys.reader, "/v1/decide", negative);
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("stake")));
    let r = s.post(&s.keys.reader, "/v1/decide", "{not json");
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = s.read("/v1/nothing");
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = s
        .server
        .request("DELETE", "/v1/decide", Some(&s.keys.reader), None);
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "method_not_allowed");
    let unknown = outcome("p-none", "kept").to_string();
    let r = s.post(&s.keys.bob, "/v1/events", &unknown);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["field"], "promise");
}

/// The metrics count the log and the routes; the OpenAPI document is served.
fn metrics_and_the_openapi_document_need_no_key(s: &Served) {
    let metrics = s.server.request("GET", "/metrics", None, None);
    assert!(
        metrics.body.contains("stepwise_log_size 4"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("route=\"/v1/decide\""));
    let doc = s.server.request("GET", "/openapi.json", None, None).json();
    assert_eq!(doc["openapi"], "3.1.0");
}

/// Writers that append one promise per request until told to stop; returns every
/// acknowledged (index, promise id).
fn write_stream(
    addr: SocketAddr,
    key: &str,
    principal: &str,
    stop: &Arc<AtomicBool>,
    tag: &str,
) -> std::thread::JoinHandle<Vec<(u64, String)>> {
    let (key, principal, stop, tag) = (
        key.to_owned(),
        principal.to_owned(),
        Arc::clone(stop),
        tag.to_owned(),
    );
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        for n in 0.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let id = format!("{tag}-{n}");
            let body = promise(&id, &principal, "user:zed", 1).to_string();
            let Ok(mut stream) = TcpStream::connect(addr) else {
                break;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let head = format!(
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(head.as_bytes()).is_err() {
                break;
            }
            let mut raw = String::new();
            if stream.read_to_string(&mut raw).is_err() || !raw.starts_with("HTTP/1.1 201") {
                // Refused or cut off: not acknowledged.
                continue;
            }
            let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            if let Some(index) = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["results"][0]["index"].as_u64())
            {
                acked.push((index, id));
            }
        }
        acked
    })
}

#[test]
fn sigterm_during_writes_loses_no_acknowledged_event() {
    let (_dir, data, keys) = setup();
    let server = Server::start(&data, &["--rate", "100000", "--burst", "100000"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [(&keys.ann, "user:ann"), (&keys.bob, "user:bob")]
        .into_iter()
        .enumerate()
        .flat_map(|(w, (key, who))| (0..2).map(move |t| (key.clone(), who, format!("w{w}{t}"))))
        .map(|(key, who, tag)| write_stream(server.addr, &key, who, &stop, &tag))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let status = server.terminate();
    stop.store(true, Ordering::Relaxed);
    assert!(status.success(), "server exit status {status:?}");
    let acked: Vec<(u64, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    assert!(
        acked.len() > 20,
        "only {} writes acknowledged before SIGTERM",
        acked.len()
    );

    // Every acknowledged event is in the log at its index, and the log verifies.
    let verify = stepwise(&data, &["log", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let server = Server::start(&data, &["--rate", "100000", "--burst", "100000"]);
    for (index, id) in &acked {
        let r = server.request(
            "GET",
            &format!("/v1/events/{index}"),
            Some(&keys.reader),
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["event"]["id"], id.as_str(), "entry {index}");
    }
}

/// The live stream never ends by itself; a SIGTERM ends it, so the server still stops at once
/// with a dashboard open. The stream announces the log's growth on the way, and the dashboard
/// page is served from the binary.
#[test]
fn sigterm_ends_the_live_stream_and_the_server_stops() {
    let (_dir, data, keys) = setup();
    let server = Server::start(&data, &[]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    write!(
        stream,
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        keys.reader
    )
    .expect("request sent");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut seen = String::new();
    let mut read_until = |needle: &str, seen: &mut String| {
        while !seen.contains(needle) {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).expect("the stream answers") > 0,
                "the stream ended before {needle:?}: {seen}"
            );
            seen.push_str(&line);
        }
    };
    read_until("event: log", &mut seen);
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("text/event-stream"), "{seen}");
    let r = server.request(
        "POST",
        "/v1/events",
        Some(&keys.ann),
        Some(&json!({"kind": "rating", "at": ago(0.0), "rater": "user:ann", "subject": "user:bob", "value": 1}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let index = r.json()["results"][0]["index"].as_u64().expect("index");
    read_until(&format!("\"log_size\":{}", index + 1), &mut seen);
    let page = server.request("GET", "/ui/principals/user:ann", None, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/ui/assets/app.js"), "{}", page.body);

    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "server exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?} with a stream open",
        started.elapsed()
    );
    // The stream ended with the server (a chunked body's end, or the connection closed).
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    assert!(
        !rest.contains("event: log\ndata: {\"log_size\":0"),
        "{rest}"
    );
}

/// A fresh PostgreSQL database on the test server, dropped afterwards.
struct Database {
    admin: String,
    name: String,
}

impl Database {
    fn new() -> Self {
        let admin = std::env::var("STEPWISE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "stepwise_srv_{}_{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ u128::from(rand_tag())
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed for this test (scripts/ensure-postgres starts it): {e}")
        });
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        Self { admin, name }
    }

    fn url(&self) -> String {
        match self.admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => panic!("bad URL {}", self.admin),
        }
    }
}

fn rand_tag() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    u64::from_le_bytes(b)
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Two `stepwise serve` processes on one PostgreSQL database, with one log key and policy (the
/// same data directory), and the keys of two recorders and a reader in the database.
struct TwoServers {
    // Declared first, so dropped first: the servers stop before their database and directory go.
    a: Server,
    b: Server,
    url: String,
    data: PathBuf,
    ann: String,
    bob: String,
    reader: String,
    _log: SharedLog,
}

/// A fresh PostgreSQL database, and a data directory (one log key and policy) for every server
/// that shares it.
pub(super) struct SharedLog {
    pub(super) data: PathBuf,
    pub(super) url: String,
    _dir: tempfile::TempDir,
    _db: Database,
}

impl SharedLog {
    pub(super) fn new() -> Self {
        let db = Database::new();
        let url = db.url();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        stepwise_ok(&data, &["init"]);
        Self {
            data,
            url,
            _dir: dir,
            _db: db,
        }
    }

    /// A new API key of `role` (for `principal`), kept in the database.
    pub(super) fn key(&self, role: &str, principal: Option<&str>) -> String {
        key(&self.data, role, principal, Some(&self.url))
    }
}

impl TwoServers {
    fn start() -> Self {
        let log = SharedLog::new();
        let (data, url) = (log.data.clone(), log.url.clone());
        let ann = log.key("recorder", Some("user:ann"));
        let bob = log.key("recorder", Some("user:bob"));
        let reader = log.key("reader", None);
        let args = [
            "--store",
            &url,
            "--rate",
            "100000",
            "--burst",
            "100000",
            "--follow-ms",
            "50",
        ];
        let a = Server::start(&data, &args);
        let b = Server::start(&data, &args);
        Self {
            a,
            b,
            url,
            data,
            ann,
            bob,
            reader,
            _log: log,
        }
    }

    /// Ann and Bob write through both servers at once for two seconds; returns every
    /// acknowledged (index, promise id).
    fn write_through_both(&self) -> Vec<(u64, String)> {
        let stop = Arc::new(AtomicBool::new(false));
        let writers = vec![
            write_stream(self.a.addr, &self.ann, "user:ann", &stop, "a1"),
            write_stream(self.a.addr, &self.bob, "user:bob", &stop, "a2"),
            write_stream(self.b.addr, &self.ann, "user:ann", &stop, "b1"),
            write_stream(self.b.addr, &self.bob, "user:bob", &stop, "b2"),
        ];
        std::thread::sleep(Duration::from_millis(2000));
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer"))
            .collect()
    }
}

/// The cases run in order on the two servers and the log their concurrent writers left.
#[test]
fn two_servers_on_one_postgres_database_keep_one_consistent_log() {
    let servers = TwoServers::start();
    let acked = servers.write_through_both();
    many_writes_are_acknowledged_and_no_index_twice(&acked);
    both_servers_come_to_the_same_log_with_each_event_where_it_was_said_to_be(&servers, &acked);
    forgetting_on_one_server_is_folded_by_the_other(&servers, &acked);
    the_whole_log_verifies_against_the_log_key(&servers);
}

/// Bob forgotten through server a: server b drops his id when it folds the erasure entry, and
/// answers him as a principal with no evidence; his entries, on both, name only his pseudonym.
fn forgetting_on_one_server_is_folded_by_the_other(servers: &TwoServers, acked: &[(u64, String)]) {
    let reader = servers.reader.as_str();
    let admin = key(&servers.data, "admin", None, Some(&servers.url));
    let bobs = acked
        .iter()
        .find(|(_, id)| id.starts_with("a2") || id.starts_with("b2"));
    let (index, _) = bobs.expect("a promise of Bob's");
    let promisor = |server: &Server| {
        server
            .request("GET", &format!("/v1/events/{index}"), Some(reader), None)
            .json()["event"]["promisor"]
            .clone()
    };
    assert_eq!(promisor(&servers.b), "user:bob");
    let r = servers
        .a
        .request("DELETE", "/v1/principals/user:bob", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let pseudonym = r.json()["pseudonym"]
        .as_str()
        .expect("pseudonym")
        .to_owned();
    assert_eq!(promisor(&servers.a), pseudonym.as_str());
    let deadline = Instant::now() + Duration::from_secs(10);
    while promisor(&servers.b) != pseudonym.as_str() {
        assert!(Instant::now() < deadline, "server b still names user:bob");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Bob's own key was revoked with him; forgetting again is not found, on either server.
    let again = servers
        .b
        .request("DELETE", "/v1/principals/user:bob", Some(&admin), None);
    assert_eq!(again.status, 404, "{}", again.body);
    let bob = servers
        .b
        .request("GET", "/v1/whoami", Some(&servers.bob), None);
    assert_eq!(bob.status, 401, "{}", bob.body);
}

fn many_writes_are_acknowledged_and_no_index_twice(acked: &[(u64, String)]) {
    assert!(acked.len() > 20, "only {} writes acknowledged", acked.len());
    let mut indexes: Vec<u64> = acked.iter().map(|(i, _)| *i).collect();
    indexes.sort_unstable();
    let before = indexes.len();
    indexes.dedup();
    assert_eq!(indexes.len(), before, "an index was acknowledged twice");
}

fn both_servers_come_to_the_same_log_with_each_event_where_it_was_said_to_be(
    servers: &TwoServers,
    acked: &[(u64, String)],
) {
    let (a, b, reader) = (&servers.a, &servers.b, servers.reader.as_str());
    // The events and the policy entry the first server to start recorded.
    let size = acked.len() as u64 + 1;
    let deadline = Instant::now() + Duration::from_secs(10);
    for server in [a, b] {
        loop {
            let d = server
                .request(
                    "POST",
                    "/v1/decide",
                    Some(reader),
                    Some(r#"{"subject":"user:ann","capability":"read","stake":0}"#),
                )
                .json();
            if d["log_size"].as_u64() == Some(size) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a server stayed at log size {}",
                d["log_size"]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for (index, id) in acked {
        for server in [a, b] {
            let r = server.request("GET", &format!("/v1/events/{index}"), Some(reader), None);
            assert_eq!(r.json()["event"]["id"], id.as_str(), "entry {index}");
        }
    }
    let ca = a
        .request("GET", "/v1/log/checkpoint", Some(reader), None)
        .body;
    let cb = b
        .request("GET", "/v1/log/checkpoint", Some(reader), None)
        .body;
    assert_eq!(ca, cb);
    assert!(ca.contains(&format!("\n{size}\n")), "{ca}");
}

fn the_whole_log_verifies_against_the_log_key(servers: &TwoServers) {
    let data_dir = stepwise_store::data_dir::DataDir::new(&servers.data);
    let verifier = data_dir.verifier().expect("verifier");
    let policy = data_dir.policy().expect("policy");
    let store = stepwise_store::PostgresStore::connect(&servers.url).expect("connect");
    let report = stepwise_store::verify(&store, &verifier, &policy.ledger, &mut |_| {})
        .expect("verify runs");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn the_api_guide_runs_as_written() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md"))
        .expect("docs/API.md");
    let mut script = String::new();
    let mut in_block = false;
    for line in guide.lines() {
        match (in_block, line.trim_end()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, code) => {
                script.push_str(code);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(script.contains("curl"), "no sh blocks found in docs/API.md");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    stepwise_ok(&data, &["init"]);
    let server = Server::start(&data, &[]);
    // `stepwise` is the binary under test; curl fails on any error status, showing the body.
    let prelude = format!(
        "set -euo pipefail\nexport API=http://{}\nstepwise() {{ '{}' --data '{}' \"$@\"; }}\ncurl() {{ command curl --fail-with-body \"$@\"; echo; }}\n",
        server.addr,
        env!("CARGO_BIN_EXE_stepwise"),
        data.display()
    );
    // Files the guide writes (a receipt) go to the test's directory.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the guide failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Entry 0 is the policy entry, recorded when the server started.
    assert!(stdout.contains(r#""results":[{"index":1}]"#), "{stdout}");
    assert!(
        stdout.contains(r#""results":[{"index":2},{"index":3}]"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""allowed":true"#), "{stdout}");
    assert!(stdout.contains("re-derives this decision"), "{stdout}");
    assert!(
        stdout.contains("\n4\n"),
        "the checkpoint at size 4: {stdout}"
    );
    // Trusted time: a week-old date is refused; history loaded on purpose is cited as such.
    assert!(stdout.contains("\n422\n"), "{stdout}");
    assert!(stdout.contains(r#""history":[4]"#), "{stdout}");
    // Forgetting: Bob's secret, then Bob forgotten, then 404, then Bob a newcomer.
    assert!(
        stdout.contains(r#""id":"user:bob","pseudonym":"~"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""erasure_entry":"#), "{stdout}");
    assert!(stdout.contains("\n404\n"), "{stdout}");
    // Tiles: the entry bundle's entries, the policy entry first, then sealed events (format 3,
    // pseudonyms, no ids).
    let bundle: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"at\"") && l.contains("\"recorded_at\""))
        .collect();
    assert!(bundle.len() > 3, "no entries read from a bundle: {stdout}");
    assert!(bundle[0].contains("\"kind\":\"policy\""), "{}", bundle[0]);
    for entry in &bundle[1..] {
        assert!(entry.contains("\"~") && !entry.contains("user:"), "{entry}");
    }
}

#[test]
fn signed_events_are_relayed_and_their_signatures_checked() {
    use stepwise::evidence::{Event, base64_encode};
    use stepwise::ledger::note::LogSigner;
    let (_dir, data, keys) = setup();
    let server = Server::start(&data, &[]);
    let dee = LogSigner::generate("user:dee").expect("key");
    let sign = |signer: &LogSigner, value: Value| -> String {
        let mut event = Event::from_value(&value).expect("event");
        event.sig = Some(signer.sign_bytes(&event.signing_bytes()));
        event.to_value().to_string()
    };
    // Dee registers her key (the first key proves possession of itself); a gateway key with
    // no principal relays it, and then her signed promise.
    let register = json!({"kind": "key", "at": ago(7.0), "author": "user:dee",
        "principal": "user:dee", "public_key": base64_encode(&dee.verifier().public_key())});
    let r = server.request(
        "POST",
        "/v1/events",
        Some(&keys.admin),
        Some(&sign(&dee, register)),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut p = promise("d1", "user:dee", "user:ann", 2);
    p["author"] = json!("user:dee");
    let r = server.request(
        "POST",
        "/v1/events",
        Some(&keys.admin),
        Some(&sign(&dee, p.clone())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A signature by any other key is refused, naming `sig`; so is Dee's event unsigned.
    let mallory = LogSigner::generate("user:dee").expect("key");
    let mut forged = promise("d2", "user:dee", "user:ann", 2);
    forged["author"] = json!("user:dee");
    let r = server.request(
        "POST",
        "/v1/events",
        Some(&keys.ann),
        Some(&sign(&mallory, forged.clone())),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["field"], "sig");
    let r = server.request(
        "POST",
        "/v1/events",
        Some(&keys.ann),
        Some(&forged.to_string()),
    );
    assert_eq!(
        r.status, 403,
        "an unsigned event in Dee's name from Ann's key: {}",
        r.body
    );
}

/// A counter's value in the Prometheus text.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

#[test]
fn concurrent_appends_share_commits() {
    let (_dir, data, keys) = setup();
    let server = Server::start(&data, &["--rate", "100000", "--burst", "100000"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let (key, who) = if t % 2 == 0 {
                (&keys.ann, "user:ann")
            } else {
                (&keys.bob, "user:bob")
            };
            write_stream(server.addr, key, who, &stop, &format!("g{t}"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let acked: usize = writers
        .into_iter()
        .map(|w| w.join().expect("writer").len())
        .sum();
    let metrics = server.request("GET", "/metrics", None, None).body;
    let commits = counter(&metrics, "stepwise_commits_total");
    let requests = counter(&metrics, "stepwise_committed_requests_total");
    assert_eq!(
        requests as usize, acked,
        "every acknowledged request went through a commit"
    );
    assert!(
        requests > commits,
        "8 concurrent writers never shared a commit: {requests} requests in {commits} commits"
    );
}

#[test]
fn the_server_reconnects_after_losing_its_postgres_connections() {
    let db = Database::new();
    let url = db.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let ann = key(&data, "recorder", Some("user:ann"), Some(&url));
    let server = Server::start(&data, &["--store", &url]);
    let send = |id: &str| {
        server.request(
            "POST",
            "/v1/events",
            Some(&ann),
            Some(&promise(id, "user:ann", "user:bob", 1).to_string()),
        )
    };
    assert_eq!(send("r0").status, 201);
    // The database drops every connection of the server (a restart, a failover).
    let mut admin = postgres::Client::connect(&db.admin, postgres::NoTls).expect("connect");
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .expect("terminate")
        .get(0);
    assert!(
        killed >= 2,
        "the writer and the follower were connected ({killed})"
    );
    // At most one append is refused with 503 (its fate unknown, said so); then appends work.
    let first = send("r1");
    assert!(
        [201, 503].contains(&first.status),
        "{} {}",
        first.status,
        first.body
    );
    let mut ok = first.status == 201;
    for attempt in 0..5 {
        let r = send(&format!("r2-{attempt}"));
        if r.status == 201 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        ok,
        "appends never recovered after the connections were dropped"
    );
    let reader = key(&data, "reader", None, Some(&url));
    let mut read = server.request("GET", "/v1/log/checkpoint", Some(&reader), None);
    if read.status != 200 {
        // A pooled read handle that died answers once with 503, then is replaced.
        read = server.request("GET", "/v1/log/checkpoint", Some(&reader), None);
    }
    assert_eq!(read.status, 200, "{}", read.body);
    // The follower reconnected too: what another server appends reaches this one.
    let other = Server::start(&data, &["--store", &url]);
    let r = other.request(
        "POST",
        "/v1/events",
        Some(&ann),
        Some(&promise("from-b", "user:ann", "user:bob", 1).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let size = r.json()["checkpoint"]["size"].as_u64().expect("size");
    let deadline = Instant::now() + Duration::from_secs(10);
    let ask = r#"{"subject":"user:ann","capability":"read","stake":0,"explain":false}"#;
    loop {
        let d = server
            .request("POST", "/v1/decide", Some(&reader), Some(ask))
            .json();
        if d["log_size"].as_u64() == Some(size) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first server stayed at {}",
            d["log_size"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A rating of Bob by `rater`, dated `at`.
fn rating_of_bob(rater: &str, at: String) -> Value {
    json!({"kind": "rating", "at": at, "rater": rater, "subject": "user:bob", "value": 1})
}

/// Asks whether Bob may propose at stake 2, with `extra` fields in the question.
fn ask_about_bob(s: &Served, extra: Value) -> Reply {
    let mut body = json!({"subject": "user:bob", "capability": "propose", "stake": 2});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    s.post(&s.keys.reader, "/v1/decide", &body.to_string())
}

/// A decision, trust figure and explanation about Bob, answered live at log size 2.
struct AnswersAboutBob {
    decision: Reply,
    trust: Reply,
    explain: Reply,
}

/// The log dates what it records and refuses evidence outside its window; history is loaded
/// on purpose, with an admin key; every answer replays exactly from its log size and instant.
/// The cases run in order on one server, each starting from the log the case before it left.
#[test]
fn the_log_keeps_time_and_every_answer_replays_exactly() {
    let served = Served::start(&[]);
    events_dated_outside_the_window_are_refused_naming_at(&served);
    in_a_batch_the_window_is_kept_per_event_and_entries_carry_the_logs_stamp(&served);
    history_needs_an_admin_key_which_may_load_it_in_the_data_sets_names(&served);
    let answers = answers_now_cite_the_history_at_log_size_3(&served);
    later_evidence_is_recorded_some_backdated_to_before_the_answers(&served);
    answers_replay_byte_for_byte_from_their_log_size_and_instant(&served, &answers);
    the_command_line_replays_the_decision(&served, &answers);
    a_log_size_the_log_does_not_have_is_refused(&served);
    the_clock_was_never_behind(&served);
}

/// Outside the window: 422 with a stable code naming `at`; nothing is stored.
fn events_dated_outside_the_window_are_refused_naming_at(s: &Served) {
    for at in [
        ago(10.0 * 365.0 * 24.0),
        ago(-365.0 * 24.0),
        ago(25.0),
        ago(-0.1),
    ] {
        let rating = rating_of_bob("user:ann", at.clone()).to_string();
        let r = s.post(&s.keys.ann, "/v1/events", &rating);
        assert_eq!(r.status, 422, "{at}: {}", r.body);
        let e = r.json();
        assert_eq!(
            (e["code"].as_str(), e["field"].as_str()),
            (Some("at_out_of_window"), Some("at"))
        );
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(&at)),
            "{e}"
        );
    }
}

fn in_a_batch_the_window_is_kept_per_event_and_entries_carry_the_logs_stamp(s: &Served) {
    let batch = json!([
        rating_of_bob("user:ann", ago(1.0)),
        rating_of_bob("user:ann", ago(48.0))
    ]);
    let r = s.post(&s.keys.ann, "/v1/events", &batch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    // Entry 0 is the policy entry.
    assert_eq!(v["results"][0]["index"], 1);
    assert_eq!(v["results"][1]["error"]["code"], "at_out_of_window");
    assert_eq!(v["checkpoint"]["size"], 2);
    let entry = s.read("/v1/events/1").json();
    assert!(entry["event"]["recorded_at"].is_string(), "{entry}");
    assert_eq!(entry["event"]["v"], 3);
    // A key reads ids; the leaf itself names nobody.
    assert_eq!(entry["event"]["rater"], "user:ann", "{entry}");
    let leaf = <base64::engine::GeneralPurpose as base64::Engine>::decode(
        &base64::engine::general_purpose::STANDARD,
        entry["bytes"].as_str().expect("bytes"),
    )
    .expect("base64");
    let leaf = String::from_utf8(leaf).expect("utf-8");
    assert!(
        !leaf.contains("user:ann") && !leaf.contains("user:bob"),
        "{leaf}"
    );
}

fn history_needs_an_admin_key_which_may_load_it_in_the_data_sets_names(s: &Served) {
    let old = rating_of_bob("user:cat", "2019-01-01T00:00:00Z".into()).to_string();
    let r = s.post(&s.keys.ann, "/v1/events?history=true", &old);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("admin"), "{}", r.body);
    let r = s.post(&s.keys.admin, "/v1/events?history=true", &old);
    assert_eq!(r.status, 201, "{}", r.body);
    let entry = s.read("/v1/events/2").json();
    assert_eq!(entry["event"]["history"], true);
    assert_eq!(entry["event"]["author"], "user:cat");
}

fn answers_now_cite_the_history_at_log_size_3(s: &Served) -> AnswersAboutBob {
    let decision = ask_about_bob(s, json!({}));
    assert_eq!(decision.json()["history"], json!([2]));
    let trust = s.read("/v1/principals/user:bob/trust");
    let explain = s.read("/v1/principals/user:bob/explain");
    for r in [&decision, &trust, &explain] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["log_size"], 3);
    }
    AnswersAboutBob {
        decision,
        trust,
        explain,
    }
}

fn later_evidence_is_recorded_some_backdated_to_before_the_answers(s: &Served) {
    let bobs = json!([rating_of_bob("user:bob", ago(0.5))]).to_string();
    let r = s.post(&s.keys.bob, "/v1/events", &bobs);
    assert_eq!(r.status, 200);
    let history = json!([
        rating_of_bob("user:dan", ago(3.0)),
        rating_of_bob("user:eve", ago(-0.01))
    ]);
    let r = s.post(
        &s.keys.admin,
        "/v1/events?history=true",
        &history.to_string(),
    );
    assert_eq!(r.json()["recorded"], 2, "{}", r.body);
}

/// Each answer again, at its log size and instant, is the same bytes; without the log size,
/// the evidence recorded since counts.
fn answers_replay_byte_for_byte_from_their_log_size_and_instant(
    s: &Served,
    answers: &AnswersAboutBob,
) {
    let AnswersAboutBob {
        decision,
        trust,
        explain,
    } = answers;
    let at = decision.json()["at"].as_str().expect("at").to_owned();
    let replayed = ask_about_bob(s, json!({"log_size": 3, "at": at}));
    assert_eq!(
        replayed.body, decision.body,
        "the decision replays byte for byte"
    );
    let t_at = trust.json()["at"].as_str().expect("at").to_owned();
    let rank_size = trust.json()["rank_log_size"].clone();
    let again = s.read(&format!(
        "/v1/principals/user:bob/trust?log_size=3&rank_log_size={rank_size}&at={t_at}"
    ));
    assert_eq!(
        again.body, trust.body,
        "the trust figure replays byte for byte"
    );
    let e_at = explain.json()["at"].as_str().expect("at").to_owned();
    let again = s.read(&format!(
        "/v1/principals/user:bob/explain?log_size=3&at={e_at}"
    ));
    assert_eq!(
        again.body, explain.body,
        "the explanation replays byte for byte"
    );
    assert_ne!(ask_about_bob(s, json!({"at": at})).body, decision.body);
}

fn the_command_line_replays_the_decision(s: &Served, answers: &AnswersAboutBob) {
    let decision = answers.decision.json();
    let at = decision["at"].as_str().expect("at");
    let cli = stepwise(
        &s.data,
        &[
            "decide",
            "user:bob",
            "propose",
            "--stake",
            "2",
            "--log-size",
            "3",
            "--at",
            at,
            "--json",
        ],
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&cli.stdout).expect("JSON"),
        decision
    );
}

fn a_log_size_the_log_does_not_have_is_refused(s: &Served) {
    let r = ask_about_bob(s, json!({"log_size": 99}));
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("log_size"))
    );
}

fn the_clock_was_never_behind(s: &Served) {
    let metrics = s.server.request("GET", "/metrics", None, None);
    assert!(
        metrics.body.contains("stepwise_clock_behind_total 0"),
        "{}",
        metrics.body
    );
}

/// The issue's own story: a decision at (`log_size`, `at`), then the policy's `max_stake`
/// edited and the server restarted. The log records the new policy; the old question gets the
/// old answer, byte for byte, from the server and from the command line, citing the policy
/// entry it was decided under; a question about now is decided under the new one and cites it.
#[test]
fn a_policy_change_is_recorded_and_replays_keep_the_policy_they_had() {
    let (_dir, data, keys) = setup();
    let ask = |server: &Server, extra: Value| {
        let mut body = json!({"subject": "user:ann", "capability": "propose", "stake": 4});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = server.request(
            "POST",
            "/v1/decide",
            Some(&keys.reader),
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    let first = Server::start(&data, &[]);
    let p = promise("p1", "user:ann", "user:bob", 5).to_string();
    let r = first.request("POST", "/v1/events", Some(&keys.ann), Some(&p));
    assert_eq!(r.status, 201, "{}", r.body);
    let before = ask(&first, json!({}));
    let answer = before.json();
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["limit"], 10.0);
    assert_eq!(
        answer["policy_entry"], 0,
        "the policy recorded when the server started"
    );
    let (size, at) = (answer["log_size"].clone(), answer["at"].clone());
    assert_eq!(first.terminate().code(), Some(0));

    let policy = data.join("stepwise.toml");
    let text = std::fs::read_to_string(&policy).expect("policy");
    assert!(text.contains("max_stake = 10\n"));
    std::fs::write(
        &policy,
        text.replacen("max_stake = 10\n", "max_stake = 3\n", 1),
    )
    .expect("policy edited");
    let second = Server::start(&data, &[]);
    let now = ask(&second, json!({})).json();
    assert_eq!(now["allowed"], false, "{now}");
    assert_eq!(now["limit"], 3.0);
    assert_eq!(
        now["policy_entry"], size,
        "recorded right after the first server's log"
    );
    let entry = second.request(
        "GET",
        &format!("/v1/events/{size}"),
        Some(&keys.reader),
        None,
    );
    assert_eq!(entry.json()["event"]["kind"], "policy", "{}", entry.body);

    let replayed = ask(&second, json!({"log_size": size, "at": at}));
    assert_eq!(replayed.body, before.body, "the old answer, byte for byte");
    let at = at.as_str().expect("at");
    let size = size.to_string();
    let cli = stepwise(
        &data,
        &[
            "decide",
            "user:ann",
            "propose",
            "--stake",
            "4",
            "--log-size",
            &size,
            "--at",
            at,
            "--json",
        ],
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&cli.stdout).expect("JSON"),
        answer,
        "the command line replays it alike"
    );
}

/// `stepwise policy apply`: a refused file changes nothing; a good one becomes the data
/// directory's policy and is recorded once; an edit not yet applied is named, and answers
/// follow the log until it is.
#[test]
fn policy_apply_checks_records_once_and_an_unapplied_edit_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    stepwise_ok(&data, &["init"]);
    let policy = data.join("stepwise.toml");
    let text = std::fs::read_to_string(&policy).expect("policy");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[model]\nprior_weigth = 2\n").expect("write");
    let out = stepwise(&data, &["policy", "apply", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("prior_weigth") && said.contains("bad.toml"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&policy).expect("policy"), text);
    assert_eq!(
        cli_json(&data, &["log", "checkpoint"])["size"],
        0,
        "nothing appended"
    );

    let applied = cli_json(&data, &["policy", "apply"]);
    assert_eq!(
        (applied["recorded"].clone(), applied["policy_entry"].clone()),
        (json!(true), json!(0))
    );
    let again = cli_json(&data, &["policy", "apply"]);
    assert_eq!(
        (again["recorded"].clone(), again["policy_entry"].clone()),
        (json!(false), json!(0))
    );

    let stricter = dir.path().join("stricter.toml");
    std::fs::write(
        &stricter,
        text.replacen("max_stake = 10\n", "max_stake = 3\n", 1),
    )
    .expect("write");
    let decide = ["decide", "user:ann", "propose", "--stake", "4", "--json"];
    std::fs::write(
        &policy,
        text.replacen("max_stake = 10\n", "max_stake = 3\n", 1),
    )
    .expect("edited in place");
    let out = stepwise(&data, &decide);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("is not the policy the log records (entry 0)"),
        "{said}"
    );
    let d: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (d["limit"].clone(), d["policy_entry"].clone()),
        (json!(10.0), json!(0))
    );

    let applied = cli_json(
        &data,
        &["policy", "apply", stricter.to_str().expect("utf-8")],
    );
    assert_eq!(
        (applied["recorded"].clone(), applied["policy_entry"].clone()),
        (json!(true), json!(1))
    );
    let out = stepwise(&data, &decide);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (d["limit"].clone(), d["policy_entry"].clone()),
        (json!(3.0), json!(1))
    );
    stepwise_ok(&data, &["log", "verify"]);
}

/// `decide --receipt FILE` writes a receipt that `receipt verify` checks with the log's key
/// alone, after the data directory is gone; a changed receipt fails, naming what failed.
#[test]
fn a_receipt_verifies_offline_and_a_changed_one_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    stepwise_ok(&data, &["init"]);
    for rater in ["user:r1", "user:r2"] {
        stepwise_ok(
            &data,
            &[
                "record",
                "rating",
                "--rater",
                rater,
                "--subject",
                "user:ann",
                "--value",
                "1",
            ],
        );
    }
    let file = dir.path().join("decision.receipt.json");
    let file_arg = file.to_str().expect("utf-8");
    let decided = cli_json(
        &data,
        &[
            "decide",
            "user:ann",
            "propose",
            "--stake",
            "4",
            "--receipt",
            file_arg,
        ],
    );
    let vkey = std::fs::read_to_string(data.join("log.pub")).expect("log.pub");
    let vkey = vkey.trim().to_owned();
    std::fs::remove_dir_all(&data).expect("the data directory is gone");

    let verify = |path: &str, key: &str| {
        stepwise(
            &data,
            &["receipt", "verify", path, "--log-key", key, "--json"],
        )
    };
    let out = verify(file_arg, &vkey);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["decision"], decided,
        "the decision as it was answered"
    );
    assert_eq!(report["entries"], json!([0, 1, 2]));

    let text = std::fs::read_to_string(&file).expect("receipt");
    let changed = dir.path().join("changed.json");
    let changed_arg = changed.to_str().expect("utf-8");
    for (what, from, to, named) in [
        ("the stake", "\"stake\": 4.0", "\"stake\": 40.0", "signed:"),
        // Within the JSON a proof's lines are joined by the escape `\n`.
        ("a proof", "\\nindex 1\\n", "\\nindex 2\\n", "proofs[1]"),
    ] {
        assert!(text.contains(from), "{what}: {text}");
        std::fs::write(&changed, text.replacen(from, to, 1)).expect("write");
        let out = verify(changed_arg, &vkey);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let failures = report["failures"].to_string();
        assert!(failures.contains(named), "{what}: {failures}");
    }
    let other = stepwise::ledger::note::LogSigner::generate("other.example/log")
        .expect("key")
        .verifier()
        .encode();
    assert_eq!(verify(file_arg, &other).status.code(), Some(1));
    std::fs::write(&changed, "not a receipt").expect("write");
    let out = verify(changed_arg, &vkey);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a receipt"));
}
