//! Witnesses as two operators would run them: `stepwise serve` submits each checkpoint to
//! `stepwise witness serve` and to a second witness written here from the C2SP tlog-witness
//! and tlog-cosignature texts alone (none of stepwise's code on that end), and a log that shows
//! another history under the same key is refused by both and by every quorum client.

use super::server::{Keys, Server, ago, key, outcome, promise, request, setup, stepwise};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepwise::ledger::note::LogVerifier;
use stepwise::ledger::witness_policy::{QuorumError, WitnessPolicy};

/// What the second witness keeps: per origin, the size and root it last cosigned; and the
/// status of every answer it gave.
#[derive(Default)]
struct SpecState {
    size: u64,
    root: Vec<u8>,
    answers: Vec<u16>,
}

/// A tlog-witness written from the specifications for this test: one log, `Connection:
/// close` HTTP/1.1, its state in memory.
struct SpecWitness {
    addr: SocketAddr,
    vkey: String,
    state: Arc<Mutex<SpecState>>,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 9162, 2.1.4.2: verifies a consistency proof from (`m`, `old`) to (`n`, `new`).
fn consistent(m: u64, n: u64, proof: &[[u8; 32]], old: &[u8], new: &[u8]) -> bool {
    let node = |l: &[u8; 32], r: &[u8; 32]| sha256(&[&[1], l, r]);
    let mut path = proof.to_vec();
    if m.is_power_of_two() {
        let Ok(first) = <[u8; 32]>::try_from(old) else {
            return false;
        };
        path.insert(0, first);
    }
    let Some((&start, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == old && sr == new && snode == 0
}

impl SpecWitness {
    /// Starts it, following the log whose vkey is `log_vkey`.
    fn start(log_vkey: &str) -> Self {
        let mut parts = log_vkey.trim().splitn(3, '+');
        let (origin, id_hex, key) = (
            parts.next().expect("name").to_owned(),
            parts.next().expect("id").to_owned(),
            B64.decode(parts.next().expect("key")).expect("base64"),
        );
        assert_eq!(key[0], 0x01, "an Ed25519 log key");
        let log_key = VerifyingKey::try_from(&key[1..]).expect("key");
        let log_id = u32::from_str_radix(&id_hex, 16).expect("hex").to_be_bytes();
        let name = "spec.witness.test/w2".to_owned();
        let key = SigningKey::from_bytes(&[42; 32]);
        let public = key.verifying_key().to_bytes();
        let key_id: [u8; 4] = sha256(&[name.as_bytes(), b"\n", &[0x04], &public])[..4]
            .try_into()
            .expect("4 bytes");
        let mut vkey_material = vec![0x04];
        vkey_material.extend_from_slice(&public);
        let vkey = format!("{name}+{}+{}", hex(&key_id), B64.encode(vkey_material));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(SpecState {
            root: sha256(&[]).to_vec(),
            ..SpecState::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let Some(body) = read_request(&mut stream) else {
                    continue;
                };
                let mut st = shared.lock().expect("state");
                let (status, answer) = add_checkpoint(&body, &origin, &log_key, log_id, &mut st)
                    .map_or_else(
                        |(status, why)| (status, why),
                        |(checkpoint_text, time)| {
                            let msg = format!("cosignature/v1\ntime {time}\n{checkpoint_text}");
                            let mut blob = key_id.to_vec();
                            blob.extend_from_slice(&time.to_be_bytes());
                            blob.extend_from_slice(&key.sign(msg.as_bytes()).to_bytes());
                            (200, format!("\u{2014} {name} {}\n", B64.encode(blob)))
                        },
                    );
                st.answers.push(status);
                let kind = if status == 409 {
                    "text/x.tlog.size"
                } else {
                    "text/plain"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Self { addr, vkey, state }
    }
}

/// The body of a `POST /add-checkpoint`, or `None` for anything else.
fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    first.starts_with("POST /add-checkpoint ").then_some(body)
}

/// The witness's rules, in the order tlog-witness gives them: the checkpoint text to cosign
/// and the time, or the status and body of a refusal.
fn add_checkpoint(
    body: &[u8],
    origin: &str,
    log_key: &VerifyingKey,
    log_id: [u8; 4],
    st: &mut SpecState,
) -> Result<(String, u64), (u16, String)> {
    let bad = |why: &str| (400, format!("{why}\n"));
    let body = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
    let (head, note) = body
        .split_once("\n\n")
        .ok_or_else(|| bad("no blank line"))?;
    let mut lines = head.lines();
    let old: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("no old size"))?;
    let proof: Vec<[u8; 32]> = lines
        .map(|l| B64.decode(l).ok().and_then(|h| h.try_into().ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("a proof line is not a hash"))?;
    let (text, sigs) = note
        .split_once("\n\n")
        .ok_or_else(|| bad("no signatures"))?;
    let text = format!("{text}\n");
    let mut fields = text.lines();
    let (Some(cp_origin), Some(size), Some(root)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad("not a checkpoint"));
    };
    if cp_origin != origin {
        return Err((404, "unknown log\n".into()));
    }
    let signed = sigs.lines().any(|line| {
        let Some((_, b64)) = line
            .strip_prefix(&format!("\u{2014} {origin} "))
            .map(|b| ((), b))
        else {
            return false;
        };
        let Ok(blob) = B64.decode(b64) else {
            return false;
        };
        blob.len() == 68
            && blob[..4] == log_id
            && ed25519_dalek::Signature::from_slice(&blob[4..])
                .is_ok_and(|sig| log_key.verify(text.as_bytes(), &sig).is_ok())
    });
    if !signed {
        return Err((403, "not signed by the log\n".into()));
    }
    let size: u64 = size.parse().map_err(|_| bad("size"))?;
    let root = B64.decode(root).map_err(|_| bad("root"))?;
    if old > size {
        return Err(bad("old size above the checkpoint's"));
    }
    if old != st.size {
        return Err((409, format!("{}\n", st.size)));
    }
    let ok = match (old, old == size) {
        (0, _) => proof.is_empty() && (size > 0 || root == sha256(&[])),
        (_, true) => root == st.root,
        _ => consistent(old, size, &proof, &st.root, &root),
    };
    if !ok {
        return Err((422, "inconsistent\n".into()));
    }
    st.size = size;
    st.root = root;
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    Ok((text, time))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running `stepwise witness serve`; killed when dropped.
struct OurWitness {
    child: Child,
    addr: SocketAddr,
    vkey: String,
}

impl OurWitness {
    fn start(dir: &Path, log_pub: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .args([
                "witness",
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--name",
                "ours.test/w1",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--log")
            .arg(log_pub)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("witness starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the witness prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let vkey = line
            .split("(key ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .expect("the key in the line")
            .to_owned();
        Self { child, addr, vkey }
    }
}

impl Drop for OurWitness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the tlog-policy file naming both witnesses with quorum `quorum`, and points the
/// data directory's `[witness] policy` at it.
fn witness_both(data: &Path, ours: &OurWitness, spec: &SpecWitness, quorum: &str) {
    let policy = format!(
        "# both operators' witnesses\nwitness W1 {} http://{}\nwitness W2 {} http://{}/\n\
         group both all W1 W2\nquorum {quorum}\n",
        ours.vkey, ours.addr, spec.vkey, spec.addr
    );
    std::fs::write(data.join("witnesses.txt"), policy).expect("policy");
    let toml = data.join("stepwise.toml");
    let mut text = std::fs::read_to_string(&toml).expect("policy file");
    text.push_str("\n[witness]\npolicy = \"witnesses.txt\"\nreceipt_wait = \"20s\"\n");
    std::fs::write(toml, text).expect("write");
}

fn policy_of(data: &Path) -> WitnessPolicy {
    WitnessPolicy::parse(&std::fs::read(data.join("witnesses.txt")).expect("read")).expect("ok")
}

fn log_key(data: &Path) -> LogVerifier {
    LogVerifier::parse(&std::fs::read_to_string(data.join("log.pub")).expect("read")).expect("vkey")
}

/// Polls `/tlog/checkpoint` until `done` holds for its quorum check, or 30 s pass.
fn tlog_checkpoint_until(
    server: &Server,
    reader: &str,
    data: &Path,
    done: impl Fn(&str, &Result<u64, QuorumError>) -> bool,
) -> (String, Result<u64, QuorumError>) {
    let (policy, log) = (policy_of(data), log_key(data));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let note = server
            .request("GET", "/tlog/checkpoint", Some(reader), None)
            .body;
        let checked = policy.verify(Some(&log), &note).map(|w| w.checkpoint.size);
        if done(&note, &checked) || Instant::now() > deadline {
            return (note, checked);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A log witnessed by both witnesses (quorum: both), three entries long, with the cosigned
/// checkpoint of its three entries as `/tlog/checkpoint` serves it.
fn witnessed_story() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Keys,
    OurWitness,
    SpecWitness,
    Server,
    String,
) {
    let (dir, data, keys) = setup();
    let ours = OurWitness::start(&dir.path().join("w1"), &data.join("log.pub"));
    let spec = SpecWitness::start(&std::fs::read_to_string(data.join("log.pub")).expect("vkey"));
    witness_both(&data, &ours, &spec, "both");
    let server = Server::start(&data, &[]);
    record_story(&server, &keys);
    let (note, checked) = tlog_checkpoint_until(&server, &keys.reader, &data, |_, c| c == &Ok(3));
    assert_eq!(checked, Ok(3), "{note}");
    (dir, data, keys, ours, spec, server, note)
}

/// `POST /v1/decide` of Ann asking `capability` at `stake`, with a receipt.
fn receipt_of(server: &Server, reader: &str, capability: &str, stake: u32) -> super::server::Reply {
    let ask = json!({"subject": "user:ann", "capability": capability, "stake": stake,
        "receipt": true});
    let answer = server.request("POST", "/v1/decide", Some(reader), Some(&ask.to_string()));
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}

fn record_story(server: &Server, keys: &Keys) {
    let p1 = promise("p1", "user:ann", "user:bob", 5).to_string();
    assert_eq!(
        server
            .request("POST", "/v1/events", Some(&keys.ann), Some(&p1))
            .status,
        201
    );
    let kept = outcome("p1", "kept").to_string();
    assert_eq!(
        server
            .request("POST", "/v1/events", Some(&keys.bob), Some(&kept))
            .status,
        201
    );
}

/// Both witnesses cosign each new checkpoint beside the writer; the tiles' checkpoint and the
/// receipts carry the cosignatures; a receipt verifies against the quorum after the server is
/// gone, and fails against a quorum its witnesses do not make.
#[test]
fn checkpoints_are_cosigned_by_two_witnesses_and_receipts_carry_them() {
    let (dir, data, keys, ours, spec, server, note) = witnessed_story();
    // Our witness cosigns with ML-DSA-44 (its default, 2,420-byte signatures), the other with
    // Ed25519: the quorum takes both kinds.
    let line = |name: &str| note.lines().find(|l| l.contains(name)).map_or(0, str::len);
    assert!(
        line("ours.test/w1") > 3000 && line("spec.witness.test/w2") < 200,
        "{note}"
    );
    assert!(
        note.contains("\u{2014} ours.test/w1 ") && note.contains("\u{2014} spec.witness.test/w2 ")
    );
    // Every answer says how far the witnesses have cosigned.
    let answer = server.request("GET", "/v1/whoami", Some(&keys.reader), None);
    assert_eq!(answer.header("stepwise-witnessed-size"), Some("3"));
    // The same cosigned note at `/v1/log/checkpoint`, where it is the newest.
    assert_eq!(
        server
            .request("GET", "/v1/log/checkpoint", Some(&keys.reader), None)
            .body,
        note
    );

    let answer = receipt_of(&server, &keys.reader, "act:low", 1);
    let receipt = dir.path().join("receipt.json");
    std::fs::write(&receipt, &answer.body).expect("write");
    let metrics = server.request("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("stepwise_witnessed_log_size 3"),
        "{metrics}"
    );

    a_monitor_follows_the_log_and_sees_a_pseudonym(&server, &data, &keys.reader);
    drop(server);
    drop(ours);

    let verify = |policy: &Path| {
        stepwise(
            &data,
            &[
                "receipt",
                "verify",
                receipt.to_str().expect("path"),
                "--log-key",
                data.join("log.pub").to_str().expect("path"),
                "--witnesses",
                policy.to_str().expect("path"),
            ],
        )
    };
    let out = verify(&data.join("witnesses.txt"));
    let text = String::from_utf8_lossy(&out.stdout);
    let why = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}{why}");
    assert!(text.contains("cosigned by W1, W2"), "{text}");

    // A reader who also asks a third witness, which never saw this log, refuses it.
    use stepwise::ledger::cosign::{CosignerAlgorithm, CosignerKey};
    let third = CosignerKey::from_seed("third.test", CosignerAlgorithm::Ed25519, [3; 32])
        .expect("key")
        .verifier()
        .encode();
    let strict = dir.path().join("strict.txt");
    let base = std::fs::read_to_string(data.join("witnesses.txt")).expect("read");
    std::fs::write(
        &strict,
        base.replace(
            "quorum both",
            &format!("witness W3 {third}\ngroup all3 all W1 W2 W3\nquorum all3"),
        ),
    )
    .expect("write");
    let out = verify(&strict);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("lacks the witnesses' quorum"), "{text}");
    assert!(spec.state.lock().expect("state").answers.contains(&200));
}

/// The operator copies the log's key to a second store and writes another history: both
/// witnesses refuse its checkpoints (409, then 422 for the proof that cannot verify), it is
/// never served as witnessed, a quorum client refuses its checkpoint, and the witness keeps
/// serving the first history's.
#[test]
fn a_split_view_is_refused_by_the_witnesses_and_by_a_quorum_client() {
    let (dir, data, keys, ours, spec, honest, honest_note) = witnessed_story();
    // A monitor that keeps its state saw the honest history.
    let state = dir.path().join("monitor.json");
    let watched = |server: &Server, reader: &str| {
        let url = format!("http://{}/tlog", server.addr);
        let (key, state) = (data.join("log.pub"), state.to_str().expect("path"));
        let args = [
            "log",
            "monitor",
            &url,
            "--once",
            "--key",
            reader,
            "--state",
            state,
            "--log-key",
            key.to_str().expect("path"),
        ];
        stepwise(&data, &args)
    };
    assert_eq!(watched(&honest, &keys.reader).status.code(), Some(0));
    drop(honest);

    let (fork, forked, reader) = fork_of(&data, &dir.path().join("fork"));
    let refused = |st: &SpecState| st.answers.contains(&422);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !refused(&spec.state.lock().expect("state")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        refused(&spec.state.lock().expect("state")),
        "the spec witness refused with 422"
    );
    let (note, checked) = tlog_checkpoint_until(&forked, &reader, &fork, |_, _| true);
    assert!(
        matches!(checked, Err(QuorumError::NoQuorum { .. })),
        "{note}: {checked:?}"
    );
    let out = monitor(&forked, &fork, &reader, &[]);
    let alarm = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{alarm}");
    assert!(alarm.contains("lacks the witnesses' quorum"), "{alarm}");
    // Without witnesses, the monitor's state catches the other history.
    let out = watched(&forked, &reader);
    let alarm = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{alarm}");
    assert!(alarm.contains("rewrote its past"), "{alarm}");
    assert!(
        forked
            .request("GET", "/metrics", None, None)
            .body
            .contains("stepwise_witnessed_log_size 0")
    );

    submitted_by_hand(&forked, &reader, ours.addr);
    // What the witness serves monitors is still the honest log's checkpoint of size 3.
    let origin = log_key(&data).name().to_owned();
    let monitored = request(
        ours.addr,
        "GET",
        &format!("/{}/checkpoint", hex(&sha256(&[origin.as_bytes()]))),
        None,
        None,
    );
    assert_eq!(monitored.status, 200);
    let honest_root = honest_note.lines().nth(2).expect("root");
    assert_eq!(monitored.body.lines().nth(2), Some(honest_root));
}

/// A monitor follows the log through its tiles, with the witnesses' quorum, and sees Ann's
/// pseudonym in her promise.
fn a_monitor_follows_the_log_and_sees_a_pseudonym(server: &Server, data: &Path, reader: &str) {
    let ann = stepwise(data, &["log", "get", "1", "--json"]);
    let entry: serde_json::Value = serde_json::from_slice(&ann.stdout).expect("JSON");
    let pseudonym = entry["event"]["promisor"]
        .as_str()
        .expect("a pseudonym")
        .to_owned();
    assert_ne!(pseudonym, "user:ann", "format 3 names no one in the clear");
    let out = monitor(server, data, reader, &["--watch", &pseudonym]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(out.status.code(), Some(0), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l["watched"] == 1).count(),
        1,
        "{lines:?}"
    );
    let last = lines.last().expect("a line");
    assert_eq!(
        (last["size"].as_u64(), last["cosigned_by"].clone()),
        (Some(3), json!(["W1", "W2"]))
    );
}

/// The same log key, another history, longer than the witnessed one: a server on a copy of
/// `data`'s keys and policies with an empty store, with four ratings of its own. Returns its
/// data directory, the server and a reader key.
fn fork_of(data: &Path, fork: &Path) -> (std::path::PathBuf, Server, String) {
    std::fs::create_dir_all(fork).expect("dir");
    for file in ["log.key", "log.pub", "stepwise.toml", "witnesses.txt"] {
        std::fs::copy(data.join(file), fork.join(file)).expect("copy");
    }
    let mallory = key(fork, "recorder", Some("user:mallory"), None);
    let reader = key(fork, "reader", None, None);
    let forked = Server::start(fork, &[]);
    for n in 0..4 {
        let rating = json!({"kind": "rating", "at": ago(1.0), "rater": "user:mallory",
            "subject": format!("user:x{n}"), "value": 1});
        let r = forked.request(
            "POST",
            "/v1/events",
            Some(&mallory),
            Some(&rating.to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    (fork.to_owned(), forked, reader)
}

/// The fork's checkpoint submitted by hand to our witness, which cosigned size 3 of the other
/// history: 409 with its size from 0, 422 from its size.
fn submitted_by_hand(forked: &Server, reader: &str, witness: SocketAddr) {
    let cons = forked.request(
        "GET",
        "/v1/log/proof/consistency?old=3&new=5",
        Some(reader),
        None,
    );
    let proof: Vec<String> = cons.json()["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(|h| B64.encode(unhex(h.as_str().expect("hex"))))
        .collect();
    let newest = forked
        .request("GET", "/v1/log/checkpoint", Some(reader), None)
        .body;
    let from_zero = format!("old 0\n\n{newest}");
    let conflict = request(witness, "POST", "/add-checkpoint", None, Some(&from_zero));
    assert_eq!((conflict.status, conflict.body.as_str()), (409, "3\n"));
    assert_eq!(conflict.header("content-type"), Some("text/x.tlog.size"));
    let body = format!("old 3\n{}\n\n{newest}", proof.join("\n"));
    assert_eq!(
        request(witness, "POST", "/add-checkpoint", None, Some(&body)).status,
        422
    );
}

/// `stepwise log monitor` of the server's tiles, once, with the data directory's witnesses.
fn monitor(server: &Server, data: &Path, reader: &str, extra: &[&str]) -> std::process::Output {
    let url = format!("http://{}/tlog", server.addr);
    let mut args = vec!["log", "monitor", &url, "--once", "--json", "--key", reader];
    let (key, policy) = (data.join("log.pub"), data.join("witnesses.txt"));
    args.extend(["--log-key", key.to_str().expect("path")]);
    args.extend(["--witnesses", policy.to_str().expect("path")]);
    args.extend(extra);
    stepwise(data, &args)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// A receipt re-derives its decision from the log read through the tiles, even after the
/// operator changed the policy (the receipt carries the policy it was decided under, which the
/// log's policy entry pins); a receipt whose policy text was edited, or whose names were,
/// fails by name.
#[test]
fn a_receipt_replays_through_the_tiles_across_a_policy_change() {
    let (dir, data, keys) = setup();
    let server = Server::start(&data, &[]);
    record_story(&server, &keys);
    let receipt: serde_json::Value = receipt_of(&server, &keys.reader, "propose", 8).json();
    assert_eq!(receipt["decision"]["allowed"], true);
    drop(server);

    // The operator lowers level 0's largest stake below 8 and puts it in force.
    let toml = data.join("stepwise.toml");
    let text = std::fs::read_to_string(&toml).expect("policy");
    let lowered = text.replacen("max_stake = 10\n", "max_stake = 5\n", 1);
    assert_ne!(lowered, text);
    std::fs::write(&toml, lowered).expect("write");
    assert!(stepwise(&data, &["policy", "apply"]).status.success());
    let server = Server::start(&data, &[]);
    let now = receipt_of(&server, &keys.reader, "propose", 8);
    assert_eq!(
        now.json()["decision"]["allowed"],
        false,
        "the new policy refuses stake 8"
    );

    let url = format!("http://{}/tlog", server.addr);
    let verify = |doc: &serde_json::Value| {
        let file = dir.path().join("r.json");
        std::fs::write(&file, doc.to_string()).expect("write");
        let key = data.join("log.pub");
        let args = [
            "receipt",
            "verify",
            file.to_str().expect("path"),
            "--log-key",
            key.to_str().expect("path"),
            "--replay",
            &url,
            "--key",
            &keys.reader,
        ];
        let out = stepwise(&data, &args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = verify(&receipt);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("re-derives this decision"), "{text}");

    let mut edited = receipt.clone();
    let policy = format!(
        "{}# edited\n",
        edited["replay"]["policy"].as_str().expect("policy")
    );
    edited["replay"]["policy"] = policy.into();
    let (code, text) = verify(&edited);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("replay.policy"), "{text}");

    let mut renamed = receipt.clone();
    let ann = renamed["replay"]["pseudonyms"]["user:ann"]
        .as_str()
        .expect("a pseudonym");
    // Another pseudonym: the first hex digit changed, whatever it was.
    let first = if ann.starts_with('0') { "1" } else { "0" };
    let other = format!("{first}{}", &ann[1..]);
    assert_ne!(other, ann);
    renamed["replay"]["pseudonyms"]["user:ann"] = other.into();
    let (code, text) = verify(&renamed);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("signed"), "{text}");
}

/// A TLS-terminating proxy in front of `target` on a fresh port, with a self-signed certificate
/// for `localhost`: the port, and the certificate's PEM file (what a client must trust).
fn https_proxy(target: SocketAddr, dir: &Path) -> (u16, std::path::PathBuf) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let pem = dir.join("localhost.pem");
    std::fs::write(&pem, certified.cert.pem()).expect("write");
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                certified.signing_key.serialize_der(),
            )),
        )
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let (Ok(mut tls), Ok(mut plain)) = (
                        acceptor.accept(tcp).await,
                        tokio::net::TcpStream::connect(target).await,
                    ) else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    (port, pem)
}

/// The monitor and a receipt's replay read a log served over HTTPS, trusting its certificate
/// through `SSL_CERT_FILE`; a certificate nobody trusts is refused, and says so.
#[test]
fn a_log_is_read_over_https_with_the_roots_the_machine_trusts() {
    let (dir, data, keys) = setup();
    let server = Server::start(&data, &[]);
    record_story(&server, &keys);
    let (port, pem) = https_proxy(server.addr, dir.path());
    let url = format!("https://localhost:{port}/tlog");
    let run = |trust: &Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .env("SSL_CERT_FILE", trust)
            .env_remove("SSL_CERT_DIR")
            .output()
            .expect("runs")
    };
    let key = data.join("log.pub");
    let key = key.to_str().expect("path");
    let monitor = [
        "log",
        "monitor",
        &url,
        "--once",
        "--key",
        &keys.reader,
        "--log-key",
        key,
    ];
    let out = run(&pem, &monitor);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("checkpoint 3 verified"), "{text}");

    let answer = receipt_of(&server, &keys.reader, "propose", 3);
    let receipt = dir.path().join("r.json");
    std::fs::write(&receipt, &answer.body).expect("write");
    let replay = [
        "receipt",
        "verify",
        receipt.to_str().expect("path"),
        "--log-key",
        key,
        "--replay",
        &url,
        "--key",
        &keys.reader,
    ];
    let out = run(&pem, &replay);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Trusting nothing (an empty file of roots): the handshake fails, named.
    let empty = dir.path().join("none.pem");
    std::fs::write(&empty, "").expect("write");
    let out = run(&empty, &monitor);
    let why = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{why}");
    assert!(why.contains("certificate"), "{why}");
}
