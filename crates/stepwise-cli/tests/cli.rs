//! The `stepwise` binary as users and scripts meet it: real processes, real files, exit codes.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A scratch data directory and a way to run `stepwise` against it.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
        cmd.args(args)
            .env("STEPWISE_DATA", self.data())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("stepwise runs");
        if let Some(input) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("stepwise finishes")
    }

    /// Runs and expects `code`; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "stepwise {args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    fn json(&self, args: &[&str]) -> Value {
        self.json_code(args, 0)
    }

    /// `stepwise ARGS --json`, which must exit with `code`, parsed.
    fn json_code(&self, args: &[&str], code: i32) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.expect(&args, code)).expect("JSON output")
    }

    fn checkpoint(&self) -> String {
        self.expect(&["log", "checkpoint"], 0)
    }

    /// Loads `lines` (JSON events with their own dates) as history, as an operator loads a
    /// back-story: `stepwise import --history`.
    fn history(&self, lines: &[String]) {
        let file = self.path("history.jsonl");
        std::fs::write(&file, lines.join("\n")).expect("write");
        self.expect(&["import", "--history", file.to_str().expect("utf-8")], 0);
    }

    /// Loads, as history, a promise by `promisor` to `promisee` made at `made` (due at `due`),
    /// and its outcome `result` recorded by the promisee at `settled`.
    // Each argument is one field of the two events; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn promise_settled(
        &self,
        id: &str,
        promisor: &str,
        promisee: &str,
        stake: &str,
        made: &str,
        due: &str,
        result: &str,
        settled: &str,
    ) {
        self.history(&[
            format!(
                r#"{{"kind":"promise","at":"{made}","id":"{id}","promisor":"{promisor}","promisee":"{promisee}","scope":"deploy","stake":{stake},"due":"{due}"}}"#
            ),
            format!(r#"{{"kind":"outcome","at":"{settled}","promise":"{id}","result":"{result}"}}"#),
        ]);
    }
}

/// The instant `minutes` from now (negative: ago), in RFC 3339: live evidence is dated near the
/// moment the log records it.
fn minutes_from_now(minutes: i64) -> String {
    use stepwise::ledger::Clock as _;
    let now = stepwise::ledger::SystemClock.now().as_micros();
    stepwise::evidence::Time::from_micros(now + minutes * 60_000_000)
        .expect("time")
        .to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const PROMISE: &[&str] = &[
    "record",
    "promise",
    "--id",
    "p-1",
    "--promisor",
    "agent:bot",
    "--promisee",
    "user:ann",
    "--scope",
    "deploy:staging",
    "--stake",
    "10",
    "--due",
    "2099-11-26T12:00:00Z",
];

#[test]
fn init_creates_a_data_dir_once_and_never_overwrites_the_key() {
    let s = Sandbox::new();
    let out = s.json(&["init", "--origin", "example.org/log"]);
    assert_eq!(out["origin"], "example.org/log");
    for file in ["stepwise.toml", "log.key", "log.pub", "ledger.sqlite"] {
        assert!(s.data().join(file).exists(), "{file} missing");
    }
    let key = std::fs::read(s.data().join("log.key")).expect("key");
    let again = s.run(&["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("refusing to overwrite"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(s.data().join("log.key")).expect("key"), key);
    // The empty log already has a signed checkpoint.
    assert!(s.checkpoint().starts_with(
        "example.org/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.org/log "
    ));
}

#[test]
fn init_names_seeds_and_ladder_and_explain_say_when_there_are_none() {
    let s = Sandbox::new();
    let bad = s.run(&["init", "--seed", "two words"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--seed"), "{}", stderr(&bad));
    assert!(!s.data().exists(), "nothing created on bad input");
    let out = s.json(&["init", "--seed", "user:alice", "--seed", "org:acme"]);
    assert_eq!(out["seeds"], serde_json::json!(["user:alice", "org:acme"]));
    let policy = std::fs::read_to_string(s.data().join("stepwise.toml")).expect("policy");
    assert!(
        policy.contains("\nseeds = [\"user:alice\", \"org:acme\"]\n"),
        "{policy}"
    );
    let ladder = s.expect(&["ladder"], 0);
    assert!(
        ladder.contains("seeds: user:alice, org:acme (network rank starts from them)"),
        "{ladder}"
    );
    let explain = s.json(&["explain", "user:bob"]);
    assert_eq!(
        explain["seeds"],
        serde_json::json!(["user:alice", "org:acme"])
    );

    let none = Sandbox::new();
    none.expect(&["init"], 0);
    for args in [&["ladder"][..], &["explain", "user:bob"]] {
        let text = none.expect(args, 0);
        assert!(
            text.contains("seeds: none named ([network] seeds in the policy)")
                && text.contains("identities that trust only each other earn rank"),
            "{args:?}: {text}"
        );
    }
}

/// `stepwise promises --open`: what awaits judgement, oldest first, one promisee's queue with
/// `--promisee`, a page at a time; a judged promise leaves the list; bad flags exit 2.
#[test]
fn promises_open_lists_what_awaits_judgement() {
    let s = Sandbox::new();
    s.json(PROMISE);
    let mut second = PROMISE.to_vec();
    second[3] = "p-2";
    second[7] = "user:bob";
    s.json(&second);
    let mut third = PROMISE.to_vec();
    third[3] = "p-3";
    s.json(&third);
    s.json(&["record", "outcome", "--promise", "p-1", "--result", "kept"]);
    let ids = |page: &Value| -> Vec<String> {
        page["promises"]
            .as_array()
            .expect("promises")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let all = s.json(&["promises", "--open"]);
    assert_eq!(ids(&all), ["p-2", "p-3"]);
    let ann = s.json(&["promises", "--open", "--promisee", "user:ann"]);
    assert_eq!(ids(&ann), ["p-3"]);
    assert_eq!(ann["promises"][0]["overdue"], false);
    let first = s.json(&["promises", "--open", "--limit", "1"]);
    assert_eq!(ids(&first), ["p-2"]);
    let cursor = first["next_cursor"].to_string();
    let rest = s.json(&["promises", "--open", "--limit", "1", "--cursor", &cursor]);
    assert_eq!(ids(&rest), ["p-3"]);
    // In 2100 both are overdue, and the text says so.
    let text = s.expect(&["promises", "--open", "--at", "2100-01-01T00:00:00Z"], 0);
    assert_eq!(text.matches("OVERDUE").count(), 2, "{text}");
    for bad in [&["promises"][..], &["promises", "--open", "--limit", "0"]] {
        let out = s.run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&out).contains("--"), "{}", stderr(&out));
    }
}

#[test]
fn record_prints_the_index_and_the_log_size() {
    let s = Sandbox::new();
    // Entry 0 is the policy entry, recorded before the first event.
    let first = s.json(PROMISE);
    assert_eq!(first["index"], 1);
    assert_eq!(first["size"], 2);
    let outcome = s.expect(
        &["record", "outcome", "--promise", "p-1", "--result", "kept"],
        0,
    );
    assert_eq!(outcome.trim(), "recorded outcome at index 2 (log size 3)");
}

/// A sandbox whose log holds its policy entry (index 0), `PROMISE` (p-1, at index 1) and its
/// kept outcome (at index 2).
fn sandbox_with_a_kept_promise() -> Sandbox {
    let s = Sandbox::new();
    s.json(PROMISE);
    s.expect(
        &["record", "outcome", "--promise", "p-1", "--result", "kept"],
        0,
    );
    s
}

/// The words of a command line as a shell splits them: at spaces, a 'quoted phrase' one word.
fn words(line: &str) -> Vec<&str> {
    line.split('\'')
        .enumerate()
        .flat_map(|(i, part)| {
            if i % 2 == 1 {
                vec![part]
            } else {
                part.split_whitespace().collect()
            }
        })
        .collect()
}

/// `stepwise record` command lines refused, in a log holding `PROMISE` and its kept outcome, and
/// the same promisor's open promise `p-open`: the case, the command line and what the refusal
/// names.
const REFUSED_RECORDS: &[(&str, &str, &str)] = &[
    (
        "a_negative_stake",
        "record promise --id p-2 --promisor a --promisee b --scope s --stake -1 \
         --due 2030-01-01T00:00:00Z",
        "`stake`",
    ),
    (
        "a_stake_that_is_no_number",
        "record promise --id p-2 --promisor a --promisee b --scope s --stake NaN \
         --due 2030-01-01T00:00:00Z",
        "--stake",
    ),
    (
        "a_promise_id_already_recorded",
        "record promise --id p-1 --promisor agent:bot --promisee user:ann \
         --scope deploy:staging --stake 10 --due 2099-11-26T12:00:00Z",
        "`id`",
    ),
    (
        "a_second_outcome_of_one_promise",
        "record outcome --promise p-1 --result kept",
        "`promise`",
    ),
    (
        "an_outcome_of_no_promise",
        "record outcome --promise nope --result kept",
        "`promise`",
    ),
    (
        "an_outcome_by_the_promisor",
        "record outcome --promise p-open --result kept --author agent:bot",
        "`author`",
    ),
    (
        "a_rating_above_1",
        "record rating --rater a --subject b --value 2",
        "`value`",
    ),
    (
        "a_rating_dated_with_words",
        "record rating --rater a --subject b --value 1 --at 'last tuesday'",
        "`at`",
    ),
    (
        "a_vouch_of_weight_0",
        "record vouch --voucher a --subject b --weight 0",
        "`weight`",
    ),
    (
        "a_public_key_that_is_no_key",
        "record key --principal a --public-key AAAA",
        "`public_key`",
    ),
];

#[test]
fn record_refuses_bad_input_with_exit_2_naming_the_field_without_touching_the_log() {
    let s = sandbox_with_a_kept_promise();
    let mut open = PROMISE.to_vec();
    open[3] = "p-open";
    s.expect(&open, 0);
    let before = s.checkpoint();
    for (case, line, field) in REFUSED_RECORDS {
        let args = words(line);
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(2), "{case}: {args:?}");
        assert!(
            stderr(&out).contains(field),
            "{case}: {args:?}: {}",
            stderr(&out)
        );
        assert_eq!(s.checkpoint(), before, "{case}: {args:?} changed the log");
    }
}

/// The log's window on `at`: 24 h back and 5 min ahead of the moment it records the event.
#[test]
fn record_refuses_evidence_dated_outside_the_logs_window_and_tells_scripts_why() {
    let s = sandbox_with_a_kept_promise();
    let before = s.checkpoint();
    let (day_ago, soon) = (minutes_from_now(-25 * 60), minutes_from_now(10));
    let rating_at = |at| {
        [
            "record",
            "rating",
            "--rater",
            "a",
            "--subject",
            "b",
            "--value",
            "1",
            "--at",
            at,
        ]
    };
    let (backdated, ahead) = (rating_at(&day_ago), rating_at(&soon));
    for (args, field) in [
        (&backdated, "is before the log's time window"),
        (&ahead, "is ahead of the log's time window"),
    ] {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(field), "{args:?}: {}", stderr(&out));
        assert_eq!(s.checkpoint(), before, "{args:?} changed the log");
    }
    // Scripts get the refusal's field and stable code.
    let out = s.run(&[&backdated[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(
        (&err["field"], &err["code"]),
        (&"at".into(), &"at_out_of_window".into())
    );
    assert!(
        err["error"]
            .as_str()
            .expect("message")
            .contains("--history"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_too() {
    let s = sandbox_with_a_kept_promise();
    assert_eq!(
        s.run(&["record", "promise", "--id", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(s.run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn record_errors_are_json_for_scripts() {
    let s = sandbox_with_a_kept_promise();
    let self_rating = words("record rating --rater a --subject a --value 1 --json");
    let out = s.run(&self_rating);
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert!(
        err["error"]
            .as_str()
            .expect("message")
            .contains("`subject`")
    );
}

#[test]
fn import_records_good_lines_and_names_the_bad_ones() {
    let s = Sandbox::new();
    let (made, settled, due) = (
        minutes_from_now(-60),
        minutes_from_now(-30),
        minutes_from_now(24 * 60),
    );
    let lines = [
        format!(
            r#"{{"kind":"promise","at":"{made}","id":"p1","promisor":"a","promisee":"b","scope":"s","stake":5,"due":"{due}"}}"#
        ),
        format!(
            r#"{{"kind":"promise","at":"{made}","id":"p2","promisor":"a","promisee":"b","scope":"s","stake":-5,"due":"{due}"}}"#
        ),
        String::new(),
        "this is not json".into(),
        format!(
            r#"{{"kind":"outcome","at":"{settled}","promise":"p1","result":"partial","fraction":0.5}}"#
        ),
        format!(r#"{{"kind":"outcome","at":"{settled}","promise":"p1","result":"kept"}}"#),
        format!(r#"{{"kind":"rating","at":"{settled}","rater":"b","subject":"a","value":-0.3}}"#),
    ];
    let file = s.path("events.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let out = s.run(&[
        "import",
        file.to_str().expect("utf-8"),
        "--json",
        "--batch",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some lines were refused: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["recorded"], 3);
    // With the policy entry.
    assert_eq!(report["size"], 4);
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["error"].as_str().expect("error").to_owned(),
            )
        })
        .collect();
    assert_eq!(rejected.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 4, 6]);
    assert!(rejected[0].1.contains("`stake`"));
    assert!(rejected[2].1.contains("already has an outcome"));
    // The same events from standard input, into a fresh log, are recorded alike once opened
    // (the stamps, the moments each log heard them, differ; so do the pseudonyms and salts, each
    // log's own).
    let other = Sandbox::new();
    let out = other.run_with_stdin(&["import", "-", "--json"], Some(&lines.join("\n")));
    let again: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(again["recorded"], 3);
    for i in ["1", "2", "3"] {
        let unstamped = |s: &Sandbox| {
            let mut e = s.json(&["log", "get", i, "--open"])["opened"].clone();
            let stamp = e
                .as_object_mut()
                .and_then(|o| o.remove("recorded_at"))
                .expect("stamped");
            (e, stamp)
        };
        let (a, _) = unstamped(&s);
        let (b, _) = unstamped(&other);
        assert_eq!(a, b, "entry {i}");
    }
    s.expect(&["log", "verify"], 0);
}

#[test]
fn old_events_enter_only_as_history_imported_on_purpose() {
    let s = Sandbox::new();
    let lines = [
        r#"{"kind":"rating","at":"2019-01-01T00:00:00Z","rater":"a","subject":"b","value":0.5}"#,
        r#"{"kind":"rating","at":"2020-06-01T00:00:00Z","rater":"b","subject":"a","value":1}"#,
    ];
    let file = s.path("old.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let file = file.to_str().expect("utf-8");
    // Without --history: every line refused, the flag named, nothing recorded.
    let out = s.run(&["import", file]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("recorded 0 events, rejected 2 lines"),
        "{text}"
    );
    assert!(text.contains("stepwise import --history"), "{text}");
    let report = s.json_code(&["import", file], 1);
    assert_eq!(report["recorded"], 0);
    assert!(report["hint"].as_str().expect("hint").contains("--history"));
    // With it: recorded, and marked as history in the log.
    let report = s.json(&["import", "--history", file]);
    assert_eq!(report["recorded"], 2);
    // Entry 0 is the policy entry.
    let entry = s.json(&["log", "get", "2"]);
    assert_eq!(entry["event"]["history"], true);
    assert_eq!(entry["event"]["at"], "2020-06-01T00:00:00Z");
    assert!(entry["event"]["recorded_at"].as_str().expect("stamped") > "2026");
    s.expect(&["log", "verify"], 0);
    // Decisions that cite them say so.
    let t = s.json(&["trust", "a", "--at", "2021-01-01T00:00:00Z"]);
    assert_eq!(t["history"], serde_json::json!([2]));
    let text = s.expect(&["trust", "a", "--at", "2021-01-01T00:00:00Z"], 0);
    assert!(text.contains("imported as history"), "{text}");
}

#[test]
fn a_snap_signed_network_imports_as_ratings_dated_at_one_instant() {
    let s = Sandbox::new();
    let lines = [
        "# Directed signed network",
        "# FromNodeId\tToNodeId\tSign",
        "0\t1\t-1",
        "1\t2\t1",
        "3 3 1",
        "2\t0\t5",
        "1\t0",
    ];
    let file = s.path("signed.txt");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let file = file.to_str().expect("utf-8");
    // Without --at: refused before anything is read.
    let out = s.run(&["import", "--format", "snap-signed", file]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--at"), "{}", stderr(&out));
    let report = s.json_code(
        &[
            "import",
            "--format",
            "snap-signed",
            "--at",
            "2020-01-01T00:00:00Z",
            "--history",
            "--id-prefix",
            "ep:",
            file,
        ],
        1,
    );
    assert_eq!(report["recorded"], 2, "{report}");
    let rejected = report["rejected"].as_array().expect("rejected");
    let lines: Vec<u64> = rejected.iter().filter_map(|r| r["line"].as_u64()).collect();
    assert_eq!(lines, [5, 6, 7], "{report}");
    assert!(
        rejected[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("TARGET"))
    );
    assert!(
        rejected[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("SIGN"))
    );
    // Entry 0 is the policy entry.
    let first = s.json(&["log", "get", "1"]);
    // The leaf names the rater by a pseudonym; opened, by the id the data set gives.
    assert_ne!(first["event"]["rater"], "ep:0");
    let opened = s.json(&["log", "get", "1", "--open"]);
    assert_eq!(opened["opened"]["rater"], "ep:0");
    assert_eq!(first["event"]["value"], -1.0);
    assert_eq!(first["event"]["at"], "2020-01-01T00:00:00Z");
    assert_eq!(first["event"]["history"], true);
    // --at belongs to this format only.
    let out = s.run(&["import", "--at", "2020-01-01T00:00:00Z", file]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// RFC 6962's MTH, written out plainly here so that the test does not trust the code it checks.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

#[test]
fn the_bitcoin_otc_network_imports_and_an_outsider_can_check_the_log() {
    let s = Sandbox::new();
    let data = shared().join("data/soc-sign-bitcoinotc.csv.gz");
    let report = s.json(&[
        "import",
        data.to_str().expect("utf-8"),
        "--format",
        "bitcoin-otc",
        "--id-prefix",
        "otc:",
        "--history",
    ]);
    assert_eq!(report["recorded"], 35_592);
    assert_eq!(report["rejected"].as_array().map(Vec::len), Some(0));

    // The first rating of the file: 6,2,4,1289241911.72836.
    // Entry 0 is the policy entry.
    let first = s.json(&["log", "get", "1", "--open"]);
    assert_eq!(first["opened"]["rater"], "otc:6");
    assert_eq!(first["event"]["value"], 0.4);
    assert_eq!(first["event"]["at"], "2010-11-08T18:45:11.72836Z");
    assert_eq!(first["event"]["history"], true);

    // Leaf hashes are SHA-256(0x00 ‖ bytes), and the checkpoint's root is the RFC 6962 root of
    // all of them: checked here with sha2 and base64 alone, for a sample of entries.
    // The ratings and the policy entry before them.
    let size = 35_593usize;
    let db = rusqlite::Connection::open(s.data().join("ledger.sqlite")).expect("sqlite");
    let mut leaves = Vec::with_capacity(size);
    let mut stmt = db
        .prepare("SELECT bytes FROM entries ORDER BY idx")
        .expect("query");
    let mut rows = stmt.query([]).expect("rows");
    while let Some(row) = rows.next().expect("row") {
        let bytes: Vec<u8> = row.get(0).expect("bytes");
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&bytes);
        leaves.push(<[u8; 32]>::from(h.finalize()));
    }
    assert_eq!(leaves.len(), size);
    for index in [0usize, 1, 17_000, size - 1] {
        let entry = s.json(&["log", "get", &index.to_string()]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(entry["bytes"].as_str().expect("bytes"))
            .expect("base64");
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&bytes);
        assert_eq!(entry["leaf_hash"], hex(&h.finalize()));
        assert_eq!(entry["leaf_hash"], hex(&leaves[index]));
    }
    let note = s.checkpoint();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[1], size.to_string());
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines[2])
        .expect("base64 root");
    assert_eq!(root, mth(&leaves));

    // Proofs from the CLI verify against that root.
    let proof = s.json(&["log", "proof", "inclusion", "12345"]);
    assert_eq!(proof["root"], hex(&root));
    let hashes: Vec<Vec<u8>> = proof["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(|h| unhex(h.as_str().expect("hex")))
        .collect();
    stepwise_verify_inclusion(&leaves[12345], 12345, size as u64, &hashes, &root);
    let consistency = s.json(&["log", "proof", "consistency", "1000", "35593"]);
    assert_eq!(consistency["old_root"], hex(&mth(&leaves[..1000])));
    assert_eq!(consistency["new_root"], hex(&root));

    s.expect(&["log", "verify"], 0);
}

/// RFC 9162 §2.1.3.2, written out again for the same reason as `mth`.
fn stepwise_verify_inclusion(
    leaf: &[u8; 32],
    index: u64,
    size: u64,
    proof: &[Vec<u8>],
    root: &[u8],
) {
    let node = |l: &[u8], r: &[u8]| -> Vec<u8> {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().to_vec()
    };
    let (mut fnode, mut snode, mut r) = (index, size - 1, leaf.to_vec());
    for p in proof {
        assert!(snode > 0, "proof too long");
        if fnode % 2 == 1 || fnode == snode {
            r = node(p, &r);
            while fnode % 2 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    assert_eq!(snode, 0, "proof too short");
    assert_eq!(r, root, "proof does not lead to the root");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A log of 40 ratings imported in batches of 7, verified, with its SQLite file checkpointed
/// whole and copied aside; returns the sandbox, the store's path and the pristine copy's.
fn forty_ratings_and_a_pristine_copy() -> (Sandbox, PathBuf, PathBuf) {
    let s = Sandbox::new();
    let mut lines = Vec::new();
    let at = minutes_from_now(-1);
    for i in 0..40 {
        lines.push(format!(
            r#"{{"kind":"rating","at":"{at}","rater":"r{}","subject":"s{}","value":0.5}}"#,
            i,
            i + 1
        ));
    }
    let file = s.path("ratings.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    s.expect(
        &["import", file.to_str().expect("utf-8"), "--batch", "7"],
        0,
    );
    s.expect(&["log", "verify"], 0);
    let db_path = s.data().join("ledger.sqlite");
    let pristine = s.path("pristine.sqlite");
    {
        let db = rusqlite::Connection::open(&db_path).expect("sqlite");
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint wal");
    }
    std::fs::copy(&db_path, &pristine).expect("copy");
    (s, db_path, pristine)
}

/// Flips one bit of one stored value of `column` (an entry's, or a checkpoint's note), chosen
/// by `next`; returns where, for the failure message.
fn flip_a_stored_bit(db_path: &Path, column: &str, next: &mut impl FnMut(u64) -> u64) -> String {
    let db = rusqlite::Connection::open(db_path).expect("sqlite");
    let (table, key, id) = if column == "note" {
        let size: i64 = db
            .query_row(
                "SELECT size FROM checkpoints LIMIT 1 OFFSET ?1",
                [next(7) as i64],
                |r| r.get(0),
            )
            .expect("a checkpoint");
        ("checkpoints", "size", size)
    } else {
        ("entries", "idx", next(40) as i64)
    };
    // subtree_hashes is empty for even indexes: pick an odd one.
    let id = if column == "subtree_hashes" {
        id | 1
    } else {
        id
    };
    let mut blob: Vec<u8> = db
        .query_row(
            &format!("SELECT CAST({column} AS BLOB) FROM {table} WHERE {key} = ?1"),
            [id],
            |r| r.get(0),
        )
        .expect("stored value");
    let at = next(blob.len() as u64) as usize;
    blob[at] ^= 1 << next(8);
    let update = format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2");
    if column == "note" {
        let text = String::from_utf8_lossy(&blob).into_owned();
        db.execute(&update, rusqlite::params![text, id])
            .expect("tamper");
    } else {
        db.execute(&update, rusqlite::params![blob, id])
            .expect("tamper");
    }
    format!("{table}.{column} at {key} {id}, byte {at}")
}

#[test]
fn changing_any_stored_byte_makes_verify_exit_1() {
    let (s, db_path, pristine) = forty_ratings_and_a_pristine_copy();
    // A deterministic spread of (entry, column, byte, bit) choices.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..24 {
        std::fs::copy(&pristine, &db_path).expect("restore");
        let _ = std::fs::remove_file(s.data().join("ledger.sqlite-wal"));
        let _ = std::fs::remove_file(s.data().join("ledger.sqlite-shm"));
        let column = ["bytes", "leaf_hash", "subtree_hashes", "note"][round % 4];
        let flipped = flip_a_stored_bit(&db_path, column, &mut next);
        let out = s.run(&["log", "verify", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "flipping a bit of {flipped}, was not detected: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["ok"], false);
    }
}

#[test]
fn deleting_the_newest_entry_makes_verify_exit_1() {
    let (s, db_path, _pristine) = forty_ratings_and_a_pristine_copy();
    let db = rusqlite::Connection::open(&db_path).expect("sqlite");
    // Entry 0 is the policy entry: the fortieth rating is entry 40.
    db.execute("DELETE FROM entries WHERE idx = 40", [])
        .expect("delete");
    drop(db);
    let out = s.expect(&["log", "verify"], 1);
    assert!(out.contains("entries were removed"), "{out}");
}

#[test]
fn signed_events_flow_from_keygen_to_verify() {
    let s = Sandbox::new();
    let key = s.path("bot.key");
    let made = s.json(&["keygen", "agent:bot", "--out", key.to_str().expect("utf-8")]);
    let public = made["public_key"].as_str().expect("public key").to_owned();
    let k = key.to_str().expect("utf-8");
    s.expect(
        &[
            "record",
            "key",
            "--principal",
            "agent:bot",
            "--public-key",
            &public,
            "--sign-with",
            k,
        ],
        0,
    );
    // Unsigned events by agent:bot are now refused; signed ones pass.
    let unsigned = s.run(PROMISE);
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(stderr(&unsigned).contains("`sig`"), "{}", stderr(&unsigned));
    let mut signed = PROMISE.to_vec();
    signed.extend(["--sign-with", k]);
    let out = s.json(&signed);
    assert_eq!(out["index"], 2);
    s.expect(&["log", "verify"], 0);
    // keygen never overwrites.
    assert_eq!(
        s.run(&["keygen", "agent:bot", "--out", k]).status.code(),
        Some(2)
    );
}

#[test]
fn reading_commands_need_an_initialized_data_dir() {
    let s = Sandbox::new();
    let out = s.run(&["log", "checkpoint"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stepwise init"), "{}", stderr(&out));
    s.expect(&["init"], 0);
    let out = s.run(&["log", "get", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no entry 0"), "{}", stderr(&out));
    let out = s.run(&["log", "proof", "consistency", "0", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The hand-verification recipe in docs/LOG.md works when pasted: it is run here as written.
#[test]
fn the_by_hand_verification_in_log_md_works_as_written() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/LOG.md"))
            .expect("docs/LOG.md");
    let section = doc
        .split("## Verifying an entry by hand")
        .nth(1)
        .expect("the section exists");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block");
    let s = Sandbox::new();
    for i in 0..3 {
        s.expect(
            &[
                "record",
                "rating",
                "--rater",
                &format!("u{i}"),
                "--subject",
                "v",
                "--value",
                "0.5",
            ],
            0,
        );
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_stepwise"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-euc")
        .arg(script)
        .current_dir(s.dir.path())
        .env("PATH", path)
        .env("STEPWISE_DATA", s.data())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("leaf hash ok"), "{stdout}");
    assert!(
        stdout.contains("entry 1 is in the signed tree of 4"),
        "{stdout}"
    );
}

#[test]
fn trust_and_rank_explain_themselves() {
    let s = Sandbox::new();
    let day = |d: u32| format!("2026-01-{d:02}T00:00:00Z");
    for (i, promisee) in ["user:ann", "user:bob", "user:ann"].iter().enumerate() {
        let id = format!("p{i}");
        s.promise_settled(
            &id,
            "agent:bot",
            promisee,
            "50",
            &day(1),
            &day(20),
            "kept",
            &day(2),
        );
    }
    s.history(&[format!(
        r#"{{"kind":"rating","at":"{}","rater":"user:cat","subject":"agent:bot","value":-0.5}}"#,
        day(3)
    )]);

    let t = s.json(&["trust", "agent:bot", "--at", &day(4)]);
    for key in [
        "expected",
        "belief",
        "disbelief",
        "uncertainty",
        "base_rate",
    ] {
        assert!(t[key].as_f64().is_some(), "{key} missing: {t}");
    }
    let sum = t["belief"].as_f64().unwrap_or(0.0)
        + t["disbelief"].as_f64().unwrap_or(0.0)
        + t["uncertainty"].as_f64().unwrap_or(0.0);
    assert!((sum - 1.0).abs() < 1e-12);
    assert_eq!(t["counts"]["kept"], 3);
    assert_eq!(t["counts"]["ratings_negative"], 1);
    // Entry 0 is the policy entry.
    assert_eq!(t["indexes"], serde_json::json!([1, 2, 3, 4, 5, 6, 7]));
    assert_eq!(t["log_size"], 8);

    // As of day 2 only what was recorded by then counts; asking again gives the same figure.
    let then = s.json(&["trust", "agent:bot", "--at", &day(2)]);
    assert_eq!(then["counts"]["ratings_negative"], 0);
    assert_eq!(then, s.json(&["trust", "agent:bot", "--at", &day(2)]));
    // One promisee's own view.
    let by_bob = s.json(&[
        "trust",
        "agent:bot",
        "--truster",
        "user:bob",
        "--at",
        &day(4),
    ]);
    assert_eq!(by_bob["counts"]["kept"], 1);
    assert_eq!(by_bob["indexes"], serde_json::json!([3, 4]));

    let ranks = s.json(&["rank"]);
    let list = ranks.as_array().expect("a list");
    assert_eq!(list.len(), 4);
    let total: f64 = list
        .iter()
        .map(|r| r["score"].as_f64().expect("score"))
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert_eq!(list[0]["principal"], "agent:bot");
    let seeded = s.json(&["rank", "--seeds", "user:ann", "--top", "1"]);
    assert_eq!(seeded.as_array().map(Vec::len), Some(1));

    for bad in [
        &["trust", "has space"][..],
        &["trust", "agent:bot", "--at", "soon"],
        &["rank", "--seeds", "user:nobody"],
        &["rank", "--alpha", "0"],
    ] {
        let out = s.run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let human = s.expect(&["trust", "agent:bot", "--at", &day(4)], 0);
    assert!(
        human.contains("3 kept") && human.contains("cites"),
        "{human}"
    );
}

/// Midnight of day `d` of March 2026.
fn march(d: u32) -> String {
    format!("2026-03-{d:02}T00:00:00Z")
}

/// A data directory where agent:bot kept three promises of stake 20, made and kept on March 1
/// to 3, all due March 20, loaded as history (entries 0 to 5). Two promisees, Ann and Bob: the
/// first level asks for kept promises judged by two.
fn bot_with_three_kept_promises() -> Sandbox {
    let s = Sandbox::new();
    s.expect(&["init"], 0);
    for i in 1..=3u32 {
        let promisee = if i == 2 { "user:bob" } else { "user:ann" };
        let id = format!("p{i}");
        let (made, due) = (march(i), march(20));
        s.promise_settled(&id, "agent:bot", promisee, "20", &made, &due, "kept", &made);
    }
    s
}

/// As `bot_with_three_kept_promises`, and then p9 to Ann (stake 20), made March 11 and broken
/// March 12 (entries 6 and 7).
fn bot_after_a_broken_promise() -> Sandbox {
    let s = bot_with_three_kept_promises();
    let (made, due, broken) = (march(11), march(20), march(12));
    s.promise_settled(
        "p9",
        "agent:bot",
        "user:ann",
        "20",
        &made,
        &due,
        "broken",
        &broken,
    );
    s
}

/// `stepwise decide agent:bot CAPABILITY --stake STAKE --at <March day>`, with `--json` when
/// `json`.
fn decide_for_bot(s: &Sandbox, capability: &str, stake: &str, day: u32, json: bool) -> Output {
    let at = march(day);
    let mut args = vec![
        "decide",
        "agent:bot",
        capability,
        "--stake",
        stake,
        "--at",
        &at,
    ];
    if json {
        args.push("--json");
    }
    s.run(&args)
}

#[test]
fn decide_allows_with_exit_0_and_the_keys_scripts_rely_on() {
    let s = bot_with_three_kept_promises();
    let allowed = decide_for_bot(&s, "act:low", "50", 10, true);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    let d: Value = serde_json::from_slice(&allowed.stdout).expect("JSON");
    assert_eq!(d["allowed"], true);
    assert_eq!(d["level"]["index"], 1);
    assert_eq!(d["level"]["name"], "contributor");
    assert_eq!(d["limit"], 100.0);
    assert_eq!(d["next_step"]["level"], 2);
    assert!(
        d["next_step"]["requirements"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == "kept" && r["met"] == false))
    );
    assert_eq!(d["evidence"], serde_json::json!([1, 2, 3, 4, 5, 6]));
    // All of it was loaded as history, and the decision says so.
    assert_eq!(d["history"], d["evidence"]);
}

#[test]
fn decide_denies_with_exit_1_the_deciding_reason_first_and_the_next_step() {
    let s = bot_with_three_kept_promises();
    let denied = decide_for_bot(&s, "act:medium", "500", 10, true);
    assert_eq!(denied.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&denied.stdout).expect("JSON");
    assert_eq!(d["allowed"], false);
    assert_eq!(d["reasons"][0]["code"], "capability_needs_level");
    assert_eq!(d["reasons"][0]["data"]["needed_level"], 2);
    // Human output states the verdict, the reasons and the next step.
    let text = String::from_utf8(decide_for_bot(&s, "act:medium", "500", 10, false).stdout)
        .expect("utf-8");
    assert!(text.starts_with("DENIED"), "{text}");
    assert!(text.contains("next step: level 2 (trusted"), "{text}");
}

/// A broken promise demotes at once; explain shows the timeline with its causes.
#[test]
fn a_broken_promise_demotes_at_once_and_explain_names_it_as_the_cause() {
    let s = bot_after_a_broken_promise();
    let e = s.json(&["explain", "agent:bot", "--at", &march(13)]);
    assert_eq!(e["level"]["index"], 0);
    let timeline = e["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    assert_eq!(timeline[0]["to"], 1);
    assert_eq!(timeline[1]["cause"]["kind"], "broken_promise");
    assert_eq!(timeline[1]["cause"]["index"], 8);
    let after = decide_for_bot(&s, "act:low", "50", 13, false);
    assert_eq!(after.status.code(), Some(1));
}

/// At level 0 there is no step down: a promise broken there halves what is left of level 0's
/// limit until its cool-down ends, and an open promise holds part of the rest.
#[test]
fn at_level_0_a_broken_promise_halves_the_limit_and_open_promises_hold_part_of_it() {
    let s = bot_after_a_broken_promise();
    let (made, due, broken) = (march(13), march(20), march(14));
    s.promise_settled(
        "p10",
        "agent:bot",
        "user:ann",
        "10",
        &made,
        &due,
        "broken",
        &broken,
    );
    s.history(&[format!(
        r#"{{"kind":"promise","at":"{}","id":"p11","promisor":"agent:bot","promisee":"user:ann","scope":"deploy","stake":2,"due":"{}"}}"#,
        march(15),
        march(30)
    )]);
    let e = s.json(&["explain", "agent:bot", "--at", &march(16)]);
    assert_eq!(
        (
            e["max_stake"].as_f64(),
            e["limit"].as_f64(),
            e["exposure"].as_f64()
        ),
        (Some(10.0), Some(5.0), Some(2.0)),
        "{e}"
    );
    let text = s.expect(&["explain", "agent:bot", "--at", &march(16)], 0);
    assert!(text.contains("limit now: 5"), "{text}");
    assert!(
        text.contains("at stake: 2 in open promises, so at most 3 more now"),
        "{text}"
    );
    let over = decide_for_bot(&s, "propose", "4", 16, true);
    assert_eq!(over.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&over.stdout).expect("JSON");
    assert_eq!(d["reasons"][0]["code"], "exposure_above_limit");
    assert_eq!(
        (d["limit"].as_f64(), d["exposure"].as_f64()),
        (Some(5.0), Some(2.0))
    );
}

#[test]
fn decide_errors_are_exit_2() {
    let s = bot_with_three_kept_promises();
    for bad in [
        &["decide", "agent:bot", "act:low", "--stake", "-5"][..],
        &["decide", "agent:bot", "act:low", "--stake", "NaN"],
        &["decide", "agent:bot", "act:low"],
        &["decide", "two words", "act:low", "--stake", "1"],
    ] {
        assert_eq!(s.run(bad).status.code(), Some(2), "{bad:?}");
    }
}

/// The ladder itself, for people and scripts.
#[test]
fn ladder_lists_the_levels_for_people_and_scripts() {
    let s = bot_with_three_kept_promises();
    let ladder = s.json(&["ladder"]);
    assert_eq!(ladder.as_array().map(Vec::len), Some(4));
    assert_eq!(ladder[3]["requires"]["vouches"], 1);
    assert!(s.expect(&["ladder"], 0).contains("contributor"));
}

#[test]
fn a_malformed_policy_is_refused_naming_the_key() {
    let s = Sandbox::new();
    s.expect(&["init"], 0);
    let policy = s.data().join("stepwise.toml");
    let text = std::fs::read_to_string(&policy).expect("policy");
    std::fs::write(
        &policy,
        text.replace("max_stake = 100\n", "max_stake = 1\n"),
    )
    .expect("write");
    let out = s.run(&["decide", "agent:bot", "read", "--stake", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ladder.levels[1].max_stake"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn simulate_prints_the_promised_json_and_is_deterministic() {
    let s = Sandbox::new();
    let run = || {
        s.json(&[
            "simulate",
            "--scenario",
            "on-off",
            "--seed",
            "7",
            "--rounds",
            "40",
        ])
    };
    let first = run();
    assert_eq!(first["scenario"], "on-off");
    assert_eq!(first["seed"], 7);
    let systems: Vec<&str> = first["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["system"].as_str().expect("system"))
        .collect();
    assert_eq!(systems, ["stepwise", "average", "beta"]);
    for key in ["attacker_gain", "honest_gain", "honest_friction"] {
        assert!(first["results"][0][key].is_number(), "{key}");
    }
    assert_eq!(first, run(), "same seed, same figures");
    let out = s.run(&["simulate", "--scenario", "tornado"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("on-off"),
        "lists the scenarios: {}",
        stderr(&out)
    );
    assert_eq!(
        s.run(&["simulate", "--scenario", "honest", "--rounds", "0"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn simulate_runs_stepwise_under_another_policy() {
    let s = Sandbox::new();
    s.expect(&["init"], 0);
    let default = std::fs::read_to_string(s.data().join("stepwise.toml")).expect("policy");
    assert!(default.contains("\nscale_by_stake = true"), "{default}");
    let off = s.path("off.toml");
    std::fs::write(
        &off,
        default.replace("\nscale_by_stake = true", "\nscale_by_stake = false"),
    )
    .expect("write");
    let gain = |extra: &[&str]| {
        let mut args = vec!["simulate", "--scenario", "slice", "--rounds", "120"];
        args.extend_from_slice(extra);
        s.json(&args)["results"][0]["attacker_gain"]
            .as_f64()
            .expect("gain")
    };
    let off_path = off.to_str().expect("utf-8 path");
    // The policy reaches the stepwise system: without stake scaling, slicing falls further.
    assert_ne!(gain(&[]), gain(&["--policy", off_path]));
    // A mistyped key is refused, naming it.
    let bad = s.path("bad.toml");
    std::fs::write(&bad, default.replace("scale_by_stake", "scale_by_stak")).expect("write");
    let out = s.run(&[
        "simulate",
        "--scenario",
        "slice",
        "--policy",
        bad.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scale_by_stak"), "{}", stderr(&out));
}

#[test]
fn eval_reports_every_system_and_writes_recomputable_predictions() {
    let s = Sandbox::new();
    let data = shared().join("data/soc-sign-bitcoinotc.csv.gz");
    let csv = s.path("predictions.csv");
    let report = s.path("report");
    let figures = s.json(&[
        "eval",
        data.to_str().expect("utf-8"),
        "--predictions",
        csv.to_str().expect("utf-8"),
        "--report",
        report.to_str().expect("utf-8"),
    ]);
    assert_eq!(figures["ratings"], 35_592);
    let names: Vec<&str> = figures["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .map(|s| s["system"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["stepwise", "mean_rating", "beta", "fairness_goodness"]
    );
    let text = std::fs::read_to_string(&csv).expect("predictions");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("index,rater,subject,time,rating,p_negative")
    );
    assert_eq!(lines.count(), 35_592);
    for file in ["figures.json", "roc.svg", "trust_over_time.svg"] {
        assert!(report.join(file).exists(), "{file}");
    }
    let missing = s.run(&["eval", "/nonexistent.csv"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn eval_judges_a_network_without_timestamps_on_held_out_folds() {
    let s = Sandbox::new();
    // A small SNAP signed network: a ring of good users, two who are panned by everyone.
    let mut text = String::from("# Directed graph\n# FromNodeId\tToNodeId\tSign\n");
    for u in 0..40u32 {
        for k in 1..6u32 {
            let v = (u + k) % 42;
            let sign = if v >= 40 { -1 } else { 1 };
            text.push_str(&format!("{u}\t{v}\t{sign}\n"));
        }
    }
    text.push_str("7\t7\t1\n");
    let file = s.path("net.txt");
    std::fs::write(&file, text).expect("write");
    let report = s.path("report");
    let figures = s.json(&[
        "eval",
        file.to_str().expect("utf-8"),
        "--format",
        "snap-signed",
        "--folds",
        "4",
        "--report",
        report.to_str().expect("utf-8"),
    ]);
    assert_eq!(figures["ratings"], 200);
    assert_eq!(figures["self_loops_skipped"], 1);
    assert_eq!(figures["protocol"]["kind"], "folds");
    assert_eq!(figures["protocol"]["folds"], 4);
    assert_eq!(figures["systems"].as_array().expect("systems").len(), 4);
    let per_fold = figures["systems"][0]["auc_per_fold"]
        .as_array()
        .expect("per fold");
    assert_eq!(per_fold.len(), 4, "one AUC per fold");
    assert!(report.join("roc.svg").exists());
    assert!(
        !report.join("trust_over_time.svg").exists(),
        "no time axis without timestamps"
    );
    // Fraud labels and ablations belong to the temporal replay of Bitcoin OTC.
    let file = file.to_str().expect("utf-8");
    for extra in [&["--labels", file][..], &["--ablations"][..]] {
        let mut args = vec!["eval", file, "--format", "snap-signed"];
        args.extend_from_slice(extra);
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(extra[0]), "{}", stderr(&out));
    }
    let out = s.run(&["eval", file, "--format", "bitcoin-otc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    // The labels' founder means nothing without labels.
    let out = s.run(&["eval", file, "--labels-root", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--labels"), "{}", stderr(&out));
}

/// Equal JSON, numbers within 1e-9.
fn alike(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| alike(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| alike(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn a_log_written_before_trusted_time_is_read_verified_and_answered_alike() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../stepwise-store/tests/fixtures/log-v1");
    let s = Sandbox::new();
    std::fs::create_dir(s.data()).expect("data dir");
    for file in ["stepwise.toml", "log.key", "log.pub", "ledger.sqlite"] {
        std::fs::copy(fixture.join(file), s.data().join(file)).expect("copy the fixture");
    }
    s.expect(&["log", "verify"], 0);
    // Today's answers about it are the ones the old binary gave, field by field (new fields
    // aside; numbers within 1e-9: the network rank is computed by another method since, to
    // the same fixed point within its ε of 1e-10).
    let at = "2026-11-25T00:00:00Z";
    for (file, args, code) in [
        (
            "decide.json",
            &["decide", "agent:bot", "act:low", "--stake", "5"][..],
            1,
        ),
        ("trust.json", &["trust", "agent:bot"], 0),
        ("explain.json", &["explain", "agent:bot"], 0),
    ] {
        let old: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join(file)).expect("old answer"))
                .expect("JSON");
        let mut args = args.to_vec();
        args.extend(["--at", at]);
        let new = s.json_code(&args, code);
        for (key, value) in old.as_object().expect("an object") {
            assert!(
                alike(&new[key], value),
                "{file}: {key}: {} vs {value}",
                new[key]
            );
        }
        assert_eq!(new["history"], serde_json::json!([]), "{file}");
    }
    // New evidence is appended in format 3 after it, naming the principals the format-1 entries
    // name in the clear by those names still, and the whole log still verifies.
    s.expect(
        &[
            "record",
            "outcome",
            "--promise",
            "p-4",
            "--result",
            "kept",
            "--author",
            "user:ann",
        ],
        0,
    );
    // The first write under this build records the policy in force (entry 11), then the event.
    assert_eq!(s.json(&["log", "get", "11"])["event"]["kind"], "policy");
    let entry = s.json(&["log", "get", "12"]);
    assert!(entry["event"]["recorded_at"].is_string(), "{entry}");
    assert_eq!(entry["event"]["v"], 3);
    assert_eq!(entry["event"]["author"], "user:ann", "{entry}");
    assert_eq!(s.json(&["log", "get", "10"])["event"]["v"], 1);
    s.expect(&["log", "verify"], 0);
    forgetting_a_principal_named_in_the_clear_lists_what_stays(&s);
}

/// In a log begun before format 3, `forget` does what it can and names, by entry, what stays
/// in the clear.
fn forgetting_a_principal_named_in_the_clear_lists_what_stays(s: &Sandbox) {
    let out = s.run(&["forget", "user:ann", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let error: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(error["code"], "in_clear_entries", "{error}");
    let message = error["error"].as_str().expect("message");
    assert!(message.contains("user:ann"), "{message}");
    let listed = message
        .split("entries ")
        .nth(1)
        .and_then(|rest| rest.split(" name it").next())
        .expect("a list of entries");
    // Every entry it lists names it in the clear, the format-3 entry 12 that kept that name
    // among them (entry 11 is the policy entry, which names nobody).
    for index in listed.split(", ") {
        let entry = s.json(&["log", "get", index]);
        assert!(
            entry["event"].to_string().contains("\"user:ann\""),
            "{entry}"
        );
    }
    assert!(listed.split(", ").any(|i| i == "12"), "{listed}");
    s.expect(&["log", "verify"], 0);
    // An id the log never saw is not found, exit 2, named.
    let out = s.run(&["forget", "user:nobody-ever"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("user:nobody-ever"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_answer_replays_byte_for_byte_from_its_log_size_and_instant() {
    let s = Sandbox::new();
    let promise = |id: &str, at: &str| {
        let due = minutes_from_now(48 * 60);
        s.expect(
            &[
                "record",
                "promise",
                "--id",
                id,
                "--promisor",
                "agent:bot",
                "--promisee",
                "user:ann",
                "--scope",
                "deploy",
                "--stake",
                "5",
                "--at",
                at,
                "--due",
                &due,
            ],
            0,
        );
        s.expect(
            &[
                "record",
                "outcome",
                "--promise",
                id,
                "--result",
                "kept",
                "--at",
                at,
            ],
            0,
        );
    };
    promise("p1", &minutes_from_now(-120));
    promise("p2", &minutes_from_now(-60));
    let questions: [&[&str]; 3] = [
        &["decide", "agent:bot", "propose", "--stake", "3", "--json"],
        &["trust", "agent:bot", "--json"],
        &["explain", "agent:bot", "--json"],
    ];
    let answers: Vec<(String, Value)> = questions
        .iter()
        .map(|q| {
            let text = String::from_utf8(s.run(q).stdout).expect("utf-8");
            let value: Value = serde_json::from_str(&text).expect("JSON");
            (text, value)
        })
        .collect();
    // Later evidence, some of it backdated (within the window) to before the answers' instant.
    promise("p3", &minutes_from_now(-90));
    s.expect(
        &[
            "record",
            "rating",
            "--rater",
            "user:cat",
            "--subject",
            "agent:bot",
            "--value",
            "-1",
            "--at",
            &minutes_from_now(-100),
        ],
        0,
    );
    for (q, (text, value)) in questions.iter().zip(&answers) {
        let size = value["log_size"].as_u64().expect("log size").to_string();
        let at = value["at"].as_str().expect("instant");
        let mut again = q.to_vec();
        again.extend(["--log-size", &size, "--at", at]);
        let replayed = String::from_utf8(s.run(&again).stdout).expect("utf-8");
        assert_eq!(&replayed, text, "{q:?}");
        // Without the log size the backdated evidence counts: the answer differs.
        let mut now = q.to_vec();
        now.extend(["--at", at]);
        assert_ne!(
            String::from_utf8(s.run(&now).stdout).expect("utf-8"),
            *text,
            "{q:?}"
        );
    }
    // A log size the log does not have is refused, naming the flag.
    let out = s.run(&[
        "decide",
        "agent:bot",
        "propose",
        "--stake",
        "1",
        "--log-size",
        "99",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--log-size 99"), "{}", stderr(&out));
}

/// What a person reads: the text of `decide`, `explain`, `trust` and `ladder` on a fixed story,
/// kept as reviewed snapshots (`tests/snapshots/`); a change to any of them shows as a diff to
/// review (`INSTA_UPDATE=always cargo test -p stepwise-cli --test integration cli::` rewrites them).
#[test]
fn what_people_read_is_kept_in_snapshots() {
    let s = Sandbox::new();
    s.expect(&["init", "--origin", "snapshots.test/log"], 0);
    let day = |d: u32| format!("2026-03-{d:02}T00:00:00Z");
    for i in 1..=3u32 {
        s.promise_settled(
            &format!("p{i}"),
            "agent:bot",
            if i == 2 { "user:bob" } else { "user:ann" },
            "20",
            &day(i),
            &day(20),
            "kept",
            &day(i),
        );
    }
    s.promise_settled(
        "p9",
        "agent:bot",
        "user:ann",
        "20",
        &day(11),
        &day(20),
        "broken",
        &day(12),
    );
    s.history(&[format!(
        r#"{{"kind":"rating","at":"{}","rater":"user:cat","subject":"agent:bot","value":-0.5}}"#,
        day(13)
    )]);
    let at = day(14);
    let text = |args: &[&str], code: i32| {
        let mut args = args.to_vec();
        if args[0] != "ladder" {
            args.extend(["--at", at.as_str()]);
        }
        s.expect(&args, code)
    };
    insta::assert_snapshot!(
        "decide_denied",
        text(&["decide", "agent:bot", "act:low", "--stake", "50"], 1)
    );
    insta::assert_snapshot!(
        "decide_allowed",
        text(&["decide", "agent:bot", "propose", "--stake", "2"], 0)
    );
    insta::assert_snapshot!("explain", text(&["explain", "agent:bot"], 0));
    insta::assert_snapshot!("trust", text(&["trust", "agent:bot"], 0));
    insta::assert_snapshot!("ladder", text(&["ladder"], 0));
}

/// `stepwise gate` refuses to start without a calling principal or an upstream it can start,
/// saying which, and `stepwise decisions` names a bad flag; nothing is recorded by either.
#[test]
fn gate_and_decisions_refuse_bad_input_by_name() {
    let s = Sandbox::new();
    s.json(PROMISE);
    let out = s.run(&["gate", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--principal"), "{}", stderr(&out));
    let out = s.run(&[
        "gate",
        "--principal",
        "agent:bot",
        "--",
        "/nonexistent/upstream-server",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("starting the upstream server `/nonexistent/upstream-server`"),
        "{}",
        stderr(&out)
    );
    for (bad, flag) in [
        (&["decisions", "--limit", "0"][..], "--limit"),
        (&["decisions", "--since", "yesterday"][..], "--since"),
        (&["decisions", "--principal", "a b"][..], "--principal"),
    ] {
        let out = s.run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&out).contains(flag), "{bad:?}: {}", stderr(&out));
    }
    let none = s.json(&["decisions"]);
    assert_eq!(none["decisions"], serde_json::json!([]));
    assert_eq!(none["next_cursor"], Value::Null);
    // The policy entry, and the one event.
    assert_eq!(s.json(&["log", "checkpoint"])["size"], 2);
}

/// `--min-log-size N`: a command answers once the store holds N entries — at once when it does,
/// after another process's write when that comes within the wait — and otherwise fails with
/// `log_behind`, naming the flag and the size the log has.
#[test]
fn a_command_waits_for_min_log_size_and_names_it_when_the_log_is_shorter() {
    let s = Sandbox::new();
    s.expect(&["init", "--origin", "minlog.test/log"], 0);
    s.promise_settled(
        "p1",
        "agent:bot",
        "user:ann",
        "5",
        "2026-03-01T00:00:00Z",
        "2026-03-02T00:00:00Z",
        "kept",
        "2026-03-01T12:00:00Z",
    );
    let size: u64 = s.json(&["log", "checkpoint"])["size"]
        .as_u64()
        .expect("size");
    let at_once = (size.to_string(), (size + 1).to_string());
    s.expect(&["--min-log-size", &at_once.0, "trust", "agent:bot"], 0);
    // A write that lands while the command waits for it.
    let data = s.data();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .arg("--data")
            .arg(&data)
            .args([
                "record",
                "rating",
                "--rater",
                "user:ann",
                "--subject",
                "agent:bot",
            ])
            .args(["--value", "1"])
            .output()
            .expect("record runs");
        assert!(out.status.success(), "{}", stderr(&out));
    });
    let trust = s.json(&["--min-log-size", &at_once.1, "trust", "agent:bot"]);
    writer.join().expect("writer");
    assert_eq!(trust["counts"]["ratings_positive"], 1, "{trust}");
    let error = s.run(&["--min-log-size", "1000", "--json", "trust", "agent:bot"]);
    assert_eq!(error.status.code(), Some(2));
    let body: Value = serde_json::from_str(&stderr(&error)).expect("JSON error");
    assert_eq!(body["code"], "log_behind", "{body}");
    let text = stderr(&s.run(&["--min-log-size", "1000", "trust", "agent:bot"]));
    assert!(
        text.contains("--min-log-size") && text.contains("1000"),
        "{text}"
    );
}
