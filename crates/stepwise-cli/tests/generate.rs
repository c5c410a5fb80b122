//! `stepwise generate` as a user meets it: piped straight into a real `stepwise import`, the
//! same bytes for the same seed, clear refusals, and quiet when its reader goes away.

use serde_json::Value;
use std::io::Read as _;
use std::process::{Command, Output, Stdio};

fn stepwise() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stepwise"))
}

fn generate(args: &[&str]) -> Output {
    stepwise()
        .arg("generate")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("stepwise generate runs")
}

#[test]
fn a_generated_log_is_imported_whole_through_a_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let init = stepwise()
        .args(["--data", data.to_str().expect("utf-8"), "init"])
        .output()
        .expect("init runs");
    assert!(init.status.success(), "{init:?}");
    let mut generator = stepwise()
        .args(["generate", "--events", "20000", "--seed", "11"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("generate runs");
    let pipe = generator.stdout.take().expect("its stdout");
    let import = stepwise()
        .args(["--data", data.to_str().expect("utf-8")])
        .args(["import", "-", "--history", "--json"])
        .stdin(Stdio::from(pipe))
        .output()
        .expect("import runs");
    assert!(generator.wait().expect("generate ends").success());
    let report: Value = serde_json::from_slice(&import.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&import.stderr));
    });
    assert_eq!(report["rejected"], serde_json::json!([]), "{report}");
    assert_eq!(report["recorded"], 20_000, "{report}");
    assert_eq!(import.status.code(), Some(0));
    // The log holds them all and verifies.
    let verify = stepwise()
        .args(["--data", data.to_str().expect("utf-8"), "log", "verify"])
        .output()
        .expect("verify runs");
    assert!(verify.status.success(), "{verify:?}");
}

#[test]
fn one_seed_gives_the_same_bytes_and_another_seed_others() {
    let run = |seed: &str| {
        let out = generate(&["--events", "5000", "--seed", seed]);
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    let one = run("3");
    assert_eq!(one, run("3"));
    assert_ne!(one, run("4"));
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 5000);
    // Another end and span move every date, and nothing is dated after the end.
    let until = ["--until", "2020-01-01T00:00:00Z", "--span-days", "1"];
    let early = generate(&[&["--events", "100"][..], &until].concat());
    let text = String::from_utf8(early.stdout).expect("UTF-8");
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).expect("JSON");
        let at = event["at"].as_str().expect("at");
        assert!(
            at.starts_with("2019-12-31T") && at < "2019-12-31T23:59",
            "{at}"
        );
    }
}

#[test]
fn bad_arguments_are_refused_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--events", "0"], "events must be 1 to"),
        (
            &["--events", "10", "--principals", "1"],
            "principals must be at least 2",
        ),
        (
            &["--events", "10", "--span-days", "0"],
            "span_days must be 1 to",
        ),
        (&["--events", "10", "--until", "soon"], "--until"),
        (
            &["--events", "10", "--until", "1971-01-01T00:00:00Z"],
            "reaches outside",
        ),
        (&["--events", "-5"], "--events"),
    ];
    for (args, words) in cases {
        let out = generate(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing written");
    }
}

#[test]
fn a_reader_that_goes_away_ends_it_quietly() {
    let mut child = stepwise()
        .args(["generate", "--events", "100000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("generate runs");
    let mut stdout = child.stdout.take().expect("its stdout");
    let mut head = [0u8; 4096];
    stdout.read_exact(&mut head).expect("some lines");
    assert!(head.starts_with(b"{\"kind\":"));
    drop(stdout);
    let out = child.wait_with_output().expect("it ends");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
