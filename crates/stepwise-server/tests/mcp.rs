//! `/mcp` over real HTTP: the server on a port of its own, spoken to in JSON-RPC over plain
//! HTTP/1.1 connections, as an agent's MCP client would. It asks for a key as every API route
//! does, answers the API's JSON from the same live state, records in the key's principal's
//! name with the key's role, and obeys the same limits.

use super::api::{Api, Reply, ago, least_role, rank};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use stepwise_server::limits::Limits;
use stepwise_store::keys::Role;

/// The API served on a local port, by a runtime of its own, until dropped.
struct Served {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    addr: SocketAddr,
    api: Api,
}

impl Served {
    fn open(limits: Limits) -> Self {
        let api = Api::open(limits);
        let router = api.router.clone().expect("open");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
            addr,
            api,
        }
    }

    /// One JSON-RPC request to `/mcp` with `key`; the HTTP reply.
    async fn post(&self, key: Option<&str>, body: String) -> Reply {
        // Blocking is harmless here: the server has a runtime of its own.
        post(self.addr, key, &body)
    }

    /// The result of JSON-RPC `method` with `params`, as `key`.
    async fn rpc(&self, key: &str, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let r = self.post(Some(key), body.to_string()).await;
        assert_eq!(r.status, 200, "{method}: {}", r.body);
        let reply = r.json();
        assert_eq!(reply["id"], 1, "{reply}");
        reply["result"].clone()
    }

    /// The result of tool `name` called with `arguments`, as `key`.
    async fn tool(&self, key: &str, name: &str, arguments: Value) -> Value {
        self.rpc(
            key,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    /// Whether the log has an entry at `index` (read through the API).
    async fn has_entry(&self, index: u64) -> bool {
        let r = self
            .api
            .call(
                "GET",
                &format!("/v1/events/{index}"),
                Some(&self.api.keys.reader),
                None,
            )
            .await;
        assert!(matches!(r.status, 200 | 404), "{}", r.body);
        r.status == 200
    }
}

impl Drop for Served {
    /// Stops serving first, so that the server's state can be dropped and its writer stop.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP/1.1 POST to `/mcp` on a fresh connection (`Connection: close`), as an MCP client
/// sends it.
fn post(addr: SocketAddr, key: Option<&str>, body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n",
        body.len()
    );
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
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers: axum::http::HeaderMap::new(),
        body,
    }
}

/// A chunked HTTP body, joined.
fn unchunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// The text a tool result gives a reader.
fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn mcp_asks_for_a_key_as_every_api_route_does() {
    let served = Served::open(Limits::default());
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    for key in [None, Some("sw_not-a-key")] {
        let r = served.post(key, list.clone()).await;
        assert_eq!(r.status, 401, "with key {key:?}: {}", r.body);
        assert_eq!(r.json()["code"], "unauthorized", "{}", r.body);
    }
    let r = served
        .post(Some(&served.api.keys.reader), list.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Each tool and resource, with the API operation it answers as: it needs that operation's role
/// (the role matrix of the API tests).
const MIRRORS: [(&str, &str, &str); 9] = [
    ("decide", "post", "/v1/decide"),
    ("explain", "get", "/v1/principals/{id}/explain"),
    ("trust", "get", "/v1/principals/{id}/trust"),
    ("ladder", "get", "/v1/policy"),
    ("promise", "post", "/v1/events"),
    ("outcome", "post", "/v1/events"),
    ("promises_open", "get", "/v1/promises"),
    ("stepwise://policy", "get", "/v1/policy"),
    ("stepwise://checkpoint", "get", "/v1/log/checkpoint"),
];

#[tokio::test]
async fn every_tool_and_resource_needs_the_role_of_its_api_operation() {
    let served = Served::open(Limits::default());
    let keys = &served.api.keys;
    let listed = served.rpc(&keys.reader, "tools/list", json!({})).await;
    let tools: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mirrored: Vec<&str> = MIRRORS
        .iter()
        .map(|m| m.0)
        .filter(|n| !n.contains("://"))
        .collect();
    assert_eq!(
        tools, mirrored,
        "every tool has its operation in this table"
    );
    for (name, method, route) in MIRRORS {
        let least = least_role(method, route)
            .flatten()
            .unwrap_or_else(|| panic!("{method} {route} needs a key in the role matrix"));
        for (role, key) in [
            (Role::Reader, &keys.reader),
            (Role::Recorder, &keys.ann),
            (Role::Admin, &keys.admin),
        ] {
            if name.contains("://") {
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                                  "params": {"uri": name}});
                let r = served.post(Some(key), body.to_string()).await;
                assert_eq!(r.status, 200, "{name} as {role:?}: {}", r.body);
                assert!(
                    r.json()["result"]["contents"][0]["text"].is_string(),
                    "{}",
                    r.body
                );
                continue;
            }
            let arguments = match name {
                "decide" => json!({"subject": "user:ann", "capability": "read", "stake": 0}),
                "explain" | "trust" => json!({"subject": "user:ann"}),
                "promise" => json!({"id": format!("m-{role:?}"), "promisee": "user:bob",
                                    "scope": "deploy", "stake": 1, "due": ago(-18.0)}),
                "outcome" => json!({"promise": "none", "result": "kept"}),
                _ => json!({}),
            };
            let result = served.tool(key, name, arguments).await;
            let refused_for_role =
                result["isError"] == true && text(&result).contains("this needs a");
            if rank(role) < rank(least) {
                assert!(refused_for_role, "{name} as {role:?}: {result}");
                assert_eq!(result["structuredContent"]["code"], "forbidden", "{result}");
            } else {
                // Past the role: an outcome of no promise is refused by the ledger, and a key
                // with no principal (the admin's) may only relay signed events.
                assert!(!refused_for_role, "{name} as {role:?}: {result}");
            }
        }
    }
}

#[tokio::test]
async fn mcp_lists_the_tools_and_decides_as_post_v1_decide_does() {
    let served = Served::open(Limits::default());
    let reader = served.api.keys.reader.clone();
    let init = served
        .rpc(
            &reader,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "0"}}),
        )
        .await;
    assert_eq!(init["serverInfo"]["name"], "stepwise", "{init}");

    let listed = served.rpc(&reader, "tools/list", json!({})).await;
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "decide",
            "explain",
            "trust",
            "ladder",
            "promise",
            "outcome",
            "promises_open"
        ]
    );

    // Denied (a newcomer at a high stake) and allowed: each the API's answer at that instant.
    for (capability, stake) in [("act:high", 20_000), ("propose", 5)] {
        let asked = json!({"subject": "user:ann", "capability": capability, "stake": stake});
        let result = served.tool(&reader, "decide", asked.clone()).await;
        assert_eq!(result["isError"], false, "{result}");
        let decided = result["structuredContent"].clone();
        let mut request = asked;
        request["at"] = decided["at"].clone();
        let api = served
            .api
            .call(
                "POST",
                "/v1/decide",
                Some(&reader),
                Some(&request.to_string()),
            )
            .await;
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(
            decided,
            api.json(),
            "decide through /mcp and POST /v1/decide"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&text(&result)).ok(),
            Some(decided)
        );
    }

    // A bad argument is a tool error naming it, never an HTTP error.
    let result = served
        .tool(
            &reader,
            "decide",
            json!({"subject": "user:ann", "capability": "propose", "stake": "abc"}),
        )
        .await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["field"], "stake", "{result}");
    let result = served
        .tool(
            &reader,
            "trust",
            json!({"subject": "user:ann", "colour": "red"}),
        )
        .await;
    assert!(
        result["isError"] == true && text(&result).contains("colour"),
        "{result}"
    );
}

#[tokio::test]
async fn mcp_records_as_the_keys_principal_with_the_keys_role() {
    let served = Served::open(Limits::default());
    let keys = &served.api.keys;
    let promise = json!({"id": "p-1", "promisee": "user:bob", "scope": "deploy",
                         "stake": 1, "due": ago(-18.0)});

    // A reader key may read but not record.
    let result = served.tool(&keys.reader, "promise", promise.clone()).await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains("recorder"), "{result}");
    assert_eq!(result["structuredContent"]["code"], "forbidden", "{result}");
    // Entry 0 is the policy entry.
    assert!(!served.has_entry(1).await, "nothing was recorded");

    // Ann's key promises as Ann.
    let result = served.tool(&keys.ann, "promise", promise).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["index"], 1, "{result}");
    let event = served
        .api
        .call("GET", "/v1/events/1", Some(&keys.reader), None)
        .await
        .json();
    assert_eq!(event["event"]["promisor"], "user:ann", "{event}");
    let open = served.tool(&keys.reader, "promises_open", json!({})).await;
    assert_eq!(
        open["structuredContent"]["promises"][0]["id"], "p-1",
        "{open}"
    );

    // The promisor may not judge its own promise; the promisee may.
    let judged = json!({"promise": "p-1", "result": "kept"});
    let result = served.tool(&keys.ann, "outcome", judged.clone()).await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains("promisee"), "{result}");
    assert!(!served.has_entry(2).await, "nothing was recorded");
    let result = served.tool(&keys.bob, "outcome", judged).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["index"], 2, "{result}");
    assert!(served.has_entry(2).await);
    let open = served.tool(&keys.reader, "promises_open", json!({})).await;
    assert_eq!(open["structuredContent"]["promises"], json!([]), "{open}");

    // A malformed promise is refused naming the field, and nothing is recorded.
    let bad = json!({"id": "p-2", "promisee": "user:bob", "scope": "deploy",
                     "stake": 1, "due": "tomorrow"});
    let result = served.tool(&keys.ann, "promise", bad).await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["field"], "due", "{result}");
    assert!(!served.has_entry(3).await, "nothing was recorded");

    // The resources: the policy as served, the checkpoint of the log now.
    let policy = served
        .rpc(
            &keys.reader,
            "resources/read",
            json!({"uri": "stepwise://policy"}),
        )
        .await;
    let served_policy = served
        .api
        .call("GET", "/v1/policy", Some(&keys.reader), None)
        .await
        .json();
    assert_eq!(policy["contents"][0]["text"], served_policy["toml"]);
    let note = served
        .rpc(
            &keys.reader,
            "resources/read",
            json!({"uri": "stepwise://checkpoint"}),
        )
        .await;
    let checkpoint = served
        .api
        .call("GET", "/v1/log/checkpoint", Some(&keys.reader), None)
        .await;
    assert_eq!(note["contents"][0]["text"], checkpoint.body.as_str());
}

#[tokio::test]
async fn mcp_obeys_the_body_limit_and_the_keys_rate() {
    let served = Served::open(Limits {
        max_body: 2_000,
        rate: 0.001,
        burst: 2.0,
        ..Limits::default()
    });
    let key = served.api.keys.reader.clone();
    let padding = "x".repeat(3_000);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                     "params": {"_meta": {"padding": padding}}});
    let r = served.post(Some(&key), big.to_string()).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["code"], "payload_too_large", "{}", r.body);
    // The burst of two is spent (the refused body took one); the next is over the rate.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let r = served.post(Some(&key), list.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = served.post(Some(&key), list).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["code"], "rate_limited", "{}", r.body);
}

/// With `"receipt": true`, `decide` answers with the decision signed by the log's key and the
/// proofs of its entries, which the log's key alone verifies.
#[tokio::test]
async fn the_decide_tool_gives_a_receipt_the_log_key_alone_verifies() {
    let served = Served::open(Limits::default());
    let reader = served.api.keys.reader.clone();
    let asked =
        json!({"subject": "user:ann", "capability": "propose", "stake": 5, "receipt": true});
    let result = served.tool(&reader, "decide", asked).await;
    assert_eq!(result["isError"], false, "{result}");
    let receipt: stepwise::ledger::receipt::Receipt =
        serde_json::from_value(result["structuredContent"].clone()).expect("a receipt");
    let policy = served
        .api
        .call("GET", "/v1/policy", Some(&reader), None)
        .await
        .json();
    let key =
        stepwise::ledger::note::LogVerifier::parse(policy["verifier_key"].as_str().expect("vkey"))
            .expect("vkey");
    receipt.verify(&key).expect("the receipt verifies");
    assert_eq!(receipt.decision["subject"], "user:ann", "in ids");
}

/// Every tool that asks takes `min_log_size` (in its schema too); one that records does not. A
/// size the server has folded is answered at once, one it has not is `log_behind` after the
/// server's wait, and one that is no size is named.
#[tokio::test]
async fn the_tools_that_ask_wait_for_min_log_size() {
    let served = Served::open(Limits {
        catch_up_wait: std::time::Duration::from_millis(50),
        ..Limits::default()
    });
    let reader = served.api.keys.reader.clone();
    let listed = served.rpc(&reader, "tools/list", json!({})).await;
    for tool in listed["tools"].as_array().expect("tools") {
        let takes = tool["inputSchema"]["properties"]
            .get("min_log_size")
            .is_some();
        let records = matches!(tool["name"].as_str(), Some("promise" | "outcome"));
        assert_eq!(takes, !records, "{tool}");
    }
    let ask = |min: Value| json!({"subject": "user:ann", "min_log_size": min});
    let result = served.tool(&reader, "explain", ask(json!(1))).await;
    assert_eq!(result["isError"], false, "{result}");
    let result = served.tool(&reader, "explain", ask(json!(1_000))).await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        result["structuredContent"]["code"], "log_behind",
        "{result}"
    );
    assert!(text(&result).contains("1000"), "{result}");
    let result = served.tool(&reader, "explain", ask(json!("many"))).await;
    assert_eq!(
        result["structuredContent"]["field"], "min_log_size",
        "{result}"
    );
    let promise = json!({"id": "p", "promisee": "user:bob", "stake": 1, "due": "2099-01-01T00:00:00Z", "min_log_size": 1});
    let recorder = served.api.keys.ann.clone();
    let result = served.tool(&recorder, "promise", promise).await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains("min_log_size"), "{result}");
}
