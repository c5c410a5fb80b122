//! What the dashboard reads, in process: who a key is, the principals table (orders, prefix,
//! pages), the overview, a principal's standing through time (checked against a replay at
//! the same instants), vouches, and the live stream's announcements.

use super::api::{Api, ago, outcome, rating};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use stepwise_server::limits::Limits;
use tower::ServiceExt as _;

/// A ladder that a test can climb within the log's time window: an hour of tenure and one
/// counterparty to reach `contributor`.
fn quick_ladder(policy: String) -> String {
    policy
        .replacen("min_tenure = \"1d\"", "min_tenure = \"1h\"", 1)
        .replacen("min_counterparties = 2", "min_counterparties = 1", 1)
}

fn promise(id: &str, hours_ago: f64) -> Value {
    json!({"kind": "promise", "at": ago(hours_ago), "id": id, "promisor": "user:ann",
           "promisee": "user:bob", "scope": "deploy", "stake": 5, "due": ago(-18.0)})
}

async fn record(api: &Api, key: &str, events: &[Value]) {
    let body = Value::Array(events.to_vec()).to_string();
    let r = api.call("POST", "/v1/events", Some(key), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for result in r.json()["results"].as_array().expect("results") {
        assert!(result.get("index").is_some(), "recorded: {result}");
    }
}

async fn get(api: &Api, path: &str) -> Value {
    let r = api.call("GET", path, Some(&api.keys.reader), None).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

/// Waits until the principals table reflects the whole log (it is recomputed in the
/// background) and returns the log size.
async fn table_caught_up(api: &Api) -> u64 {
    let started = std::time::Instant::now();
    loop {
        let size = get(api, "/v1/overview").await["log_size"]
            .as_u64()
            .expect("size");
        let table = get(api, "/v1/principals?limit=1").await;
        if table["log_size"].as_u64() == Some(size) {
            return size;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the table never caught up with the log: {table}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Ann keeps three promises to Bob and is promoted; Bob rates Carol and Dave.
async fn ann_climbs(api: &Api) {
    record(
        api,
        &api.keys.ann,
        &[promise("p1", 6.0), promise("p2", 5.5), promise("p3", 5.0)],
    )
    .await;
    record(
        api,
        &api.keys.bob,
        &[
            rating("user:bob", "user:carol"),
            rating("user:bob", "user:dave"),
        ],
    )
    .await;
    for (id, hours) in [("p1", 3.0), ("p2", 2.5), ("p3", 2.0)] {
        let mut kept = outcome(id, "kept");
        kept["at"] = json!(ago(hours));
        record(api, &api.keys.bob, &[kept]).await;
    }
}

#[tokio::test]
async fn whoami_names_the_key_s_role_and_principal() {
    let api = Api::open(Limits::default());
    let ann = api
        .call("GET", "/v1/whoami", Some(&api.keys.ann), None)
        .await
        .json();
    assert_eq!(ann["role"], "recorder");
    assert_eq!(ann["principal"], "user:ann");
    let reader = get(&api, "/v1/whoami").await;
    assert_eq!(reader["role"], "reader");
    assert_eq!(reader["principal"], Value::Null);
    assert!(reader["key_id"].as_str().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn the_principals_table_sorts_filters_and_pages() {
    let api = Api::open_edited(Limits::default(), quick_ladder);
    ann_climbs(&api).await;
    let size = table_caught_up(&api).await;

    let by_level = get(&api, "/v1/principals?sort=level").await;
    assert_eq!(by_level["log_size"], size);
    assert_eq!(by_level["total"], 4, "{by_level}");
    assert_eq!(by_level["matched"], 4);
    let first = &by_level["principals"][0];
    assert_eq!(first["principal"], "user:ann", "{by_level}");
    assert_eq!(first["level"], 1);
    assert_eq!(first["level_name"], "contributor");

    let by_id = get(&api, "/v1/principals").await;
    let ids: Vec<&str> = by_id["principals"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["principal"].as_str())
        .collect();
    assert_eq!(ids, ["user:ann", "user:bob", "user:carol", "user:dave"]);
    assert_eq!(by_id["next_cursor"], Value::Null);

    // Each order, a row at a time, walks every row once, in the order of the whole list.
    for sort in ["id", "level", "trust", "rank"] {
        let whole = get(&api, &format!("/v1/principals?sort={sort}")).await["principals"].clone();
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/principals?sort={sort}&limit=1");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", urlencode(c)));
            }
            let page = get(&api, &path).await;
            walked.extend(page["principals"].as_array().expect("rows").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(Value::Array(walked), whole, "sort={sort}");
        let figure = match sort {
            "trust" => "expected",
            "rank" => "rank",
            "level" => "level",
            _ => continue,
        };
        let figures: Vec<f64> = whole
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r[figure].as_f64())
            .collect();
        assert!(
            figures.windows(2).all(|w| w[0] >= w[1]),
            "sort={sort}: {figures:?}"
        );
    }

    let dave = get(&api, "/v1/principals?prefix=user:d&sort=trust").await;
    assert_eq!(dave["matched"], 1);
    assert_eq!(dave["principals"][0]["principal"], "user:dave");
    let none = get(&api, "/v1/principals?prefix=agent:").await;
    assert_eq!(none["matched"], 0);
    assert_eq!(none["principals"], json!([]));

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=nonsense", "cursor"),
        ("sort=height", ""),
    ] {
        let r = api
            .call(
                "GET",
                &format!("/v1/principals?{query}"),
                Some(&api.keys.reader),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.json()["field"], field, "{query}: {}", r.body);
        }
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_overview_counts_levels_and_shows_the_latest_moves() {
    let api = Api::open_edited(Limits::default(), quick_ladder);
    ann_climbs(&api).await;
    // A promise already past due: it counts as broken until judged.
    let late = json!({"kind": "promise", "at": ago(3.0), "id": "late", "promisor": "user:bob",
                      "promisee": "user:ann", "scope": "deploy", "stake": 1, "due": ago(1.0)});
    record(&api, &api.keys.bob, &[late]).await;
    let size = table_caught_up(&api).await;
    let overview = get(&api, "/v1/overview").await;
    assert_eq!(overview["log_size"], size);
    assert_eq!(overview["checkpoint"]["size"], size);
    assert!(
        overview["checkpoint"]["note"]
            .as_str()
            .is_some_and(|n| n.contains(&format!("\n{size}\n"))),
        "{overview}"
    );
    let levels = overview["levels"].as_array().expect("levels");
    let counted: u64 = levels.iter().filter_map(|l| l["principals"].as_u64()).sum();
    assert_eq!(
        counted,
        overview["principals"].as_u64().expect("principals")
    );
    assert_eq!(levels[1]["name"], "contributor");
    assert_eq!(levels[1]["principals"], 1);
    let step = &overview["recent_steps"][0];
    assert_eq!(step["principal"], "user:ann", "{overview}");
    assert_eq!(
        (step["from"].clone(), step["to"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(step["cause"]["kind"], "promoted");
    assert_eq!(step["to_name"], "contributor");
    let events = overview["recent_events"].as_array().expect("events");
    assert_eq!(events[0]["index"], size - 1, "newest first");
    assert_eq!(events[0]["kind"], "promise");
    assert_eq!(events[0]["author"], "user:bob");
    assert_eq!(overview["overdue"]["count"], 1);
    assert_eq!(overview["overdue"]["promises"][0]["id"], "late");
}

#[tokio::test]
async fn a_principal_s_series_agrees_with_a_replay_at_each_instant() {
    let api = Api::open_edited(Limits::default(), quick_ladder);
    ann_climbs(&api).await;
    let series = get(&api, "/v1/principals/user:ann/series?points=40").await;
    let points = series["points"].as_array().expect("points");
    assert_eq!(points.len(), 40);
    let events: u64 = points.iter().filter_map(|p| p["events"].as_u64()).sum();
    assert_eq!(events, 3, "three outcomes are about Ann: {series}");
    assert_eq!(series["steps"][0]["to"], 1, "{series}");
    let explained = get(&api, "/v1/principals/user:ann/explain").await;
    let last = points.last().expect("a point");
    assert_eq!(last["level"], explained["level"]["index"]);
    // Each point is what a replay of the log up to that instant says.
    for point in points.iter().step_by(7).chain([last]) {
        let at = point["at"].as_str().expect("at");
        let replayed = get(
            &api,
            &format!("/v1/principals/user:ann/explain?at={}", urlencode(at)),
        )
        .await;
        let (a, b) = (
            point["expected"].as_f64().expect("expected"),
            replayed["expected"].as_f64().expect("expected"),
        );
        assert!((a - b).abs() < 1e-9, "at {at}: series {a}, replay {b}");
        assert_eq!(point["level"], replayed["level"]["index"], "at {at}");
    }
    let levels: Vec<u64> = points.iter().filter_map(|p| p["level"].as_u64()).collect();
    assert_eq!(levels.first(), Some(&0));
    assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{levels:?}");

    let nobody = get(&api, "/v1/principals/user:nobody/series").await;
    assert_eq!(nobody["points"].as_array().map(Vec::len), Some(1));
    for (query, field) in [("points=1", "points"), ("points=1001", "points")] {
        let r = api
            .call(
                "GET",
                &format!("/v1/principals/user:ann/series?{query}"),
                Some(&api.keys.reader),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.json()["field"], field);
    }
}

#[tokio::test]
async fn vouches_are_listed_for_whom_and_by_whom() {
    let api = Api::open(Limits::default());
    let vouch = json!({"kind": "vouch", "at": ago(1.0), "voucher": "user:bob",
                       "subject": "user:ann", "weight": 0.5});
    record(&api, &api.keys.bob, &[vouch]).await;
    let ann = get(&api, "/v1/principals/user:ann/vouches").await;
    assert_eq!(ann["received"][0]["voucher"], "user:bob", "{ann}");
    assert_eq!(ann["received"][0]["counted"], true);
    assert_eq!(ann["given"], json!([]));
    let bob = get(&api, "/v1/principals/user:bob/vouches").await;
    assert_eq!(bob["given"][0]["subject"], "user:ann", "{bob}");
    assert_eq!(bob["given"][0]["index"], ann["received"][0]["index"]);
}

/// The next event of a server-sent stream: (name, data).
async fn next_event(
    frames: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    pending: &mut String,
) -> (String, Value) {
    loop {
        if let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                    data.push_str(d);
                }
            }
            if name.is_empty() {
                continue; // a comment (keep-alive)
            }
            return (name, serde_json::from_str(&data).expect("JSON data"));
        }
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), frames.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("a frame");
        pending.push_str(std::str::from_utf8(&frame).expect("utf-8"));
    }
}

#[tokio::test]
async fn the_stream_announces_growth_and_promotions() {
    let api = Api::open_edited(Limits::default(), quick_ladder);
    let request = axum::http::Request::get("/v1/stream")
        .header("authorization", format!("Bearer {}", api.keys.reader))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = api
        .router
        .clone()
        .expect("open")
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        response.headers()
    );
    let mut frames = response.into_body().into_data_stream();
    let mut pending = String::new();
    let (name, first) = next_event(&mut frames, &mut pending).await;
    assert_eq!(name, "log");
    // The policy entry alone.
    assert_eq!(first["log_size"], 1);

    ann_climbs(&api).await;
    let mut sizes = Vec::new();
    let mut steps = Vec::new();
    while sizes.last() != Some(&9) {
        let (name, data) = next_event(&mut frames, &mut pending).await;
        match name.as_str() {
            "log" => sizes.push(data["log_size"].as_u64().expect("size")),
            "step" => steps.push(data),
            other => panic!("unexpected event {other}: {data}"),
        }
    }
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0]["principal"], "user:ann");
    assert_eq!(steps[0]["to"], 1);
    assert_eq!(steps[0]["cause"]["index"], 8, "the third kept promise");

    let refused = api.call("GET", "/v1/stream", None, None).await;
    assert_eq!(refused.status, 401);
}
