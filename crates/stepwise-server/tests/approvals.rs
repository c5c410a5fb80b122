//! The calls `stepwise gate` holds for approval, over HTTP: listed for their approvers, answered
//! by one of them with its own recorder key (the approval in the log in its name), once.

use crate::api::Api;
use serde_json::{Value, json};
use stepwise_server::limits::Limits;
use stepwise_store::{DecisionStore as _, SqliteStore};

/// A held call of agent:bot, as the gate keeps one, for `approvers`; its `seq`.
fn hold(api: &Api, promise: &str, approvers: &[&str], waits_hours: f64) -> u64 {
    use stepwise::ledger::Clock as _;
    let now = stepwise::ledger::SystemClock.now();
    let until =
        stepwise::evidence::Time::from_micros(now.as_micros() + (waits_hours * 3_600e6) as i64)
            .expect("time");
    let held = json!({
        "principal": "agent:bot", "tool": "deploy", "capability": "read", "stake": 0.0,
        "promisee": "user:ann", "allowed": false, "reasons": ["stake_above_limit"],
        "retryable": true, "earliest_retry": null, "level": 0, "evidence": [],
        "at": now.to_string(), "log_size": 1, "result": "held", "promise": promise,
        "promise_index": null, "error": null, "approvers": approvers,
        "expires_at": until.to_string(),
    });
    let path = api._dir.path().join("data").join("ledger.sqlite");
    let mut store = SqliteStore::open(&path).expect("store");
    store
        .put_decision(now, "agent:bot", &held.to_string())
        .expect("held")
}

fn body(r: &crate::api::Reply) -> Value {
    serde_json::from_str(&r.body).expect("JSON")
}

#[tokio::test]
async fn held_calls_are_listed_for_their_approvers_while_they_wait() {
    let api = Api::open(Limits::default());
    let seq = hold(&api, "held-1", &["user:ann"], 1.0);
    hold(&api, "held-2", &["user:ann"], -1.0);

    let r = api
        .call(
            "GET",
            "/v1/approvals?approver=user:ann",
            Some(&api.keys.reader),
            None,
        )
        .await;
    let listed: Vec<u64> = body(&r)["approvals"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["seq"].as_u64())
        .collect();
    assert_eq!(listed, vec![seq], "only the call still waiting: {}", r.body);
    let r = api
        .call(
            "GET",
            "/v1/approvals?approver=user:bob",
            Some(&api.keys.reader),
            None,
        )
        .await;
    assert_eq!(body(&r)["approvals"], json!([]), "bob may answer none");
}

#[tokio::test]
async fn a_held_call_is_answered_once_by_one_of_its_approvers() {
    let api = Api::open(Limits::default());
    let seq = hold(&api, "held-1", &["user:ann"], 1.0);
    let past = hold(&api, "held-2", &["user:ann"], -1.0);
    let approve = r#"{"approve":true}"#;
    let path = format!("/v1/approvals/{seq}");
    let r = api
        .call("POST", &path, Some(&api.keys.bob), Some(approve))
        .await;
    assert_eq!(r.status, 403, "not an approver: {}", r.body);
    assert!(r.body.contains("not among the approvers"), "{}", r.body);
    let r = api
        .call("POST", &path, Some(&api.keys.reader), Some(approve))
        .await;
    assert_eq!(r.status, 403, "a reader key: {}", r.body);

    let r = api
        .call("POST", &path, Some(&api.keys.ann), Some(approve))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = body(&r);
    assert_eq!(answer["result"], "approved");
    assert_eq!(answer["answers"], seq);
    assert_eq!(answer["approver"], "user:ann");
    let index = answer["approval_index"].as_u64().expect("an index");
    let r = api
        .call(
            "GET",
            &format!("/v1/events/{index}"),
            Some(&api.keys.reader),
            None,
        )
        .await;
    let event = &body(&r)["event"];
    let fields = ["kind", "author", "subject", "promise", "decision"].map(|f| event[f].clone());
    let want = [
        json!("approval"),
        json!("user:ann"),
        json!("agent:bot"),
        json!("held-1"),
        json!(seq),
    ];
    assert_eq!(fields, want, "the approval in the log: {}", r.body);

    // Once: a second answer, and an answer past the call's time, are 409.
    let r = api
        .call(
            "POST",
            &path,
            Some(&api.keys.ann),
            Some(r#"{"approve":false}"#),
        )
        .await;
    assert_eq!(
        (r.status, body(&r)["code"].clone()),
        (409, json!("already_answered")),
        "{}",
        r.body
    );
    let r = api
        .call(
            "POST",
            &format!("/v1/approvals/{past}"),
            Some(&api.keys.ann),
            Some(approve),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("is over"), "{}", r.body);
    // Not a held call; no such decision; a body that is not an answer.
    let r = api
        .call(
            "POST",
            "/v1/approvals/999",
            Some(&api.keys.ann),
            Some(approve),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = api
        .call(
            "POST",
            &path,
            Some(&api.keys.ann),
            Some(r#"{"approve":"yes"}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = api
        .call("GET", "/v1/approvals", Some(&api.keys.reader), None)
        .await;
    assert_eq!(body(&r)["approvals"], json!([]), "nothing left: {}", r.body);
}
