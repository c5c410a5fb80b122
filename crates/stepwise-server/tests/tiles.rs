//! The log as C2SP tlog-tiles, read by a client nobody on the project wrote (`tlog_tiles`,
//! Cloudflare's port of Go's sumdb tlog): it authenticates every tile it fetches against the
//! checkpoint's root, and proves entries and tree growth from them. Then what a reader sees
//! of the server: keys, caching, gzip, bad paths, and a public log.

use super::api::{Api, rating};
use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use std::io::Read as _;
use stepwise_server::limits::Limits;
use tlog_tiles::{
    Checkpoint, Error as TlogError, HashReader as _, Tile, TileHashReader, TileReader,
};
use tower::ServiceExt as _;

/// A raw answer: status, headers, bytes.
struct Raw {
    status: u16,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

async fn get(api: &Api, path: &str, key: Option<&str>, gzip: bool) -> Raw {
    let mut request = Request::builder().method("GET").uri(path);
    if let Some(k) = key {
        request = request.header("authorization", format!("Bearer {k}"));
    }
    if gzip {
        request = request.header("accept-encoding", "gzip, identity");
    }
    let router = api.router.clone().expect("router");
    let response = router
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Raw {
        status,
        headers,
        bytes,
    }
}

/// Appends `n` ratings, a batch at a time, by distinct raters (so the bundles are not one
/// entry repeated).
async fn append(api: &Api, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| rating("user:ann", &format!("user:s{i}")))
            .collect();
        let body = Value::Array(batch).to_string();
        let reply = api
            .call("POST", "/v1/events", Some(&api.keys.ann), Some(&body))
            .await;
        assert_eq!(reply.json()["recorded"], chunk.len(), "{}", reply.body);
    }
}

/// The tiles of this server, as the client asks for them. The client names tiles as Go's
/// sumdb did (`tile/8/<L>/…`, `tile/8/data/…`); tlog-tiles drops the height and names bundles
/// `entries`.
struct Reader<'a> {
    api: &'a Api,
    key: &'a str,
}

impl TileReader for Reader<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        tiles
            .iter()
            .map(|tile| {
                let path = tile.path().replacen("tile/8/", "tile/", 1);
                let path = path.replacen("tile/data/", "tile/entries/", 1);
                let raw = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(get(
                        self.api,
                        &format!("/tlog/{path}"),
                        Some(self.key),
                        false,
                    ))
                });
                assert_eq!(
                    raw.status,
                    200,
                    "{path}: {}",
                    String::from_utf8_lossy(&raw.bytes)
                );
                Ok(raw.bytes)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// The checkpoint's size and root, as the client parses it (the note's text, before its
/// signatures).
async fn checkpoint(api: &Api, key: &str) -> (String, Checkpoint) {
    let raw = get(api, "/tlog/checkpoint", Some(key), false).await;
    assert_eq!(raw.status, 200);
    let note = String::from_utf8(raw.bytes).expect("text");
    let (text, _signatures) = note.split_once("\n\n").expect("a signed note");
    let parsed = Checkpoint::from_bytes(format!("{text}\n").as_bytes()).expect("a checkpoint");
    (note, parsed)
}

/// Entry bundle `index` of `width` entries, split at its length prefixes.
async fn bundle(api: &Api, path: &str, key: &str) -> Vec<Vec<u8>> {
    let raw = get(api, &format!("/tlog/tile/entries/{path}"), Some(key), false).await;
    assert_eq!(raw.status, 200, "{path}");
    let mut entries = Vec::new();
    let mut rest = raw.bytes.as_slice();
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        entries.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_client_authenticates_the_tiles_and_proves_entries_from_them() {
    let api = Api::open(Limits::default());
    // Entry 0 is the policy entry: 900 entries in all.
    append(&api, 299).await;
    let (_, old) = checkpoint(&api, &api.keys.reader).await;
    append(&api, 600).await;
    let (note, new) = checkpoint(&api, &api.keys.reader).await;
    assert_eq!(new.size(), 900);
    let root = new.hash();

    let reader = Reader {
        api: &api,
        key: &api.keys.reader,
    };
    let hashes = TileHashReader::new(new.size(), *root, &reader);
    // The client recomputes the root from the tiles: they hold the tree the checkpoint signed.
    assert_eq!(
        tlog_tiles::tree_hash(new.size(), &hashes).expect("tree hash"),
        *root
    );
    // Growth: the older checkpoint's tree is a prefix of the newer one.
    let growth = tlog_tiles::prove_tree(new.size(), old.size(), &hashes).expect("proof");
    tlog_tiles::check_tree(&growth, new.size(), *root, old.size(), *old.hash())
        .expect("the old tree is a prefix");

    // Every entry of the bundles hashes to its leaf, and the client proves it is in the tree.
    let mut entries = bundle(&api, "000", &api.keys.reader).await;
    entries.extend(bundle(&api, "001", &api.keys.reader).await);
    entries.extend(bundle(&api, "002", &api.keys.reader).await);
    entries.extend(bundle(&api, "003.p/132", &api.keys.reader).await);
    assert_eq!(entries.len(), 900);
    for n in [0u64, 255, 256, 511, 700, 899] {
        let leaf = tlog_tiles::record_hash(&entries[n as usize]);
        let stored = hashes
            .read_hashes(&[tlog_tiles::stored_hash_index(0, n)])
            .expect("leaf hash")[0];
        assert_eq!(leaf, stored, "entry {n} hashes to its leaf in the tiles");
        let proof = tlog_tiles::prove_record(new.size(), n, &hashes).expect("proof");
        tlog_tiles::check_record(&proof, new.size(), *root, n, leaf).expect("entry in the tree");
    }
    // The leaves name nobody: a reader of the tiles learns pseudonyms, not ids.
    for entry in &entries {
        let text = String::from_utf8_lossy(entry);
        assert!(!text.contains("user:"), "an id in a leaf: {text}");
    }
    // The same checkpoint as the API's.
    let v1 = api
        .call("GET", "/v1/log/checkpoint", Some(&api.keys.reader), None)
        .await;
    assert_eq!(v1.body, note);
}

#[tokio::test]
async fn tiles_are_immutable_once_served_and_the_checkpoint_is_not() {
    let api = Api::open(Limits::default());
    // With the policy entry, 260 entries.
    append(&api, 259).await;
    let key = Some(api.keys.reader.as_str());
    let cp = get(&api, "/tlog/checkpoint", key, false).await;
    assert_eq!(cp.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(cp.headers["cache-control"], "private, max-age=1");
    let full = get(&api, "/tlog/tile/0/000", key, false).await;
    assert_eq!((full.status, full.bytes.len()), (200, 8192));
    assert_eq!(full.headers["content-type"], "application/octet-stream");
    assert_eq!(
        full.headers["cache-control"],
        "private, max-age=31536000, immutable"
    );
    // Served again from memory: the same bytes.
    assert_eq!(
        get(&api, "/tlog/tile/0/000", key, false).await.bytes,
        full.bytes
    );
    let partial = get(&api, "/tlog/tile/0/001.p/4", key, false).await;
    assert_eq!((partial.status, partial.bytes.len()), (200, 128));
    // A narrower partial tile is an earlier tree's edge: its hashes begin the wider one's.
    let narrower = get(&api, "/tlog/tile/0/001.p/2", key, false).await;
    assert_eq!(narrower.bytes, partial.bytes[..64]);
    let level1 = get(&api, "/tlog/tile/1/000.p/1", key, false).await;
    assert_eq!((level1.status, level1.bytes.len()), (200, 32));

    // An entry bundle, gzipped for a client that accepts it, the same bytes either way.
    let plain = get(&api, "/tlog/tile/entries/000", key, false).await;
    let zipped = get(&api, "/tlog/tile/entries/000", key, true).await;
    assert_eq!(zipped.headers["content-encoding"], "gzip");
    assert!(zipped.bytes.len() < plain.bytes.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(zipped.bytes.as_slice())
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain.bytes);
    assert!(!plain.headers.contains_key("content-encoding"));
}

#[tokio::test]
async fn what_is_not_a_tile_of_this_tree_is_not_found_and_a_key_is_needed() {
    let api = Api::open(Limits::default());
    // With the policy entry, 10 entries.
    append(&api, 9).await;
    let key = Some(api.keys.reader.as_str());
    for (path, says) in [
        ("/tlog/tile/0/000", "not in the log's tree of 10 entries"),
        ("/tlog/tile/0/000.p/11", "not in the log's tree"),
        ("/tlog/tile/1/000.p/1", "not in the log's tree"),
        ("/tlog/tile/entries/001.p/1", "not in the log's tree"),
        ("/tlog/tile/0/0000", "the index is groups of three digits"),
        ("/tlog/tile/00/000", "the level is a number"),
        ("/tlog/tile/0/000.p/256", "width"),
        ("/tlog/tile/x/000", "the level is a number"),
    ] {
        let raw = get(&api, path, key, false).await;
        assert_eq!(raw.status, 404, "{path}");
        let body: Value = serde_json::from_slice(&raw.bytes).expect("an error body");
        assert_eq!(body["code"], "not_found", "{path}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains(says), "{path}: {message}");
    }
    assert_eq!(
        get(&api, "/tlog/tile/0/000.p/10", key, false).await.status,
        200
    );
    for path in ["/tlog/checkpoint", "/tlog/tile/0/000.p/10"] {
        assert_eq!(get(&api, path, None, false).await.status, 401, "{path}");
        assert_eq!(
            get(&api, path, Some("sw_bad"), false).await.status,
            401,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_public_log_is_read_with_no_key_under_its_own_prefix() {
    let api = Api::open_edited(Limits::default(), |policy| {
        policy
            .replace("tiles_prefix = \"/tlog\"", "tiles_prefix = \"/logs/main\"")
            .replace("public = false", "public = true")
    });
    append(&api, 3).await;
    let cp = get(&api, "/logs/main/checkpoint", None, false).await;
    assert_eq!(cp.status, 200);
    assert_eq!(cp.headers["cache-control"], "public, max-age=1");
    let tile = get(&api, "/logs/main/tile/0/000.p/3", None, false).await;
    assert_eq!((tile.status, tile.bytes.len()), (200, 96));
    assert_eq!(get(&api, "/tlog/checkpoint", None, false).await.status, 404);
}

#[test]
fn a_log_that_names_principals_in_the_clear_is_not_made_public_unless_forced() {
    use stepwise::ledger::{LedgerConfig, SystemClock};
    use stepwise_server::{Config, ServeError, Server};
    use stepwise_store::data_dir::DataDir;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = DataDir::new(dir.path().join("data"));
    data.create(None).expect("init");
    // One format-2 entry, written before the log sealed its entries: `user:ann` in the clear.
    let store = data.open_store().expect("store");
    let clock = std::sync::Arc::new(SystemClock);
    let mut ledger = stepwise_store::Ledger::open(
        store,
        data.signer().expect("key"),
        LedgerConfig::default(),
        clock,
    )
    .expect("ledger");
    let event = stepwise::evidence::Event::from_json(&rating("user:ann", "user:bob").to_string())
        .expect("event");
    assert_eq!(ledger.append(vec![event]).expect("append").recorded(), 1);
    drop(ledger);
    let policy = std::fs::read_to_string(data.policy_path()).expect("policy");
    let open = |public: &str| {
        let text = policy.replace("public = false", &format!("public = {public}"));
        std::fs::write(data.policy_path(), text).expect("policy written");
        Server::open(&Config {
            addr: "127.0.0.1:0".parse().expect("addr"),
            data: data.path().to_path_buf(),
            store: None,
            limits: Limits::default(),
        })
    };
    match open("true") {
        Err(ServeError::Policy(why)) => {
            assert!(
                why.contains("in the clear") && why.contains("despite_clear_names"),
                "{why}"
            );
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a log with clear names was made public"),
    }
    open("\"despite_clear_names\"").expect("forced open").stop();
    open("false").expect("behind keys").stop();
}

/// `"receipt": true`: the explained decision, signed by the log's key, with a C2SP tlog-proof
/// for its policy entry and each entry it cites; it verifies with the key alone, and its
/// decision is the one `POST /v1/decide` answers at the same log size and instant.
#[tokio::test]
async fn a_decision_comes_with_a_receipt_that_the_log_key_alone_verifies() {
    use stepwise::ledger::note::LogVerifier;
    use stepwise::ledger::receipt::Receipt;
    let api = Api::open(Limits::default());
    append(&api, 5).await;
    let api = &api;
    let ask = |body: Value| async move {
        let reply = api
            .call(
                "POST",
                "/v1/decide",
                Some(&api.keys.reader),
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let question = serde_json::json!({"subject": "user:s3", "capability": "propose", "stake": 2});
    let mut with_receipt = question.clone();
    with_receipt["receipt"] = Value::from(true);
    let receipt: Receipt = serde_json::from_value(ask(with_receipt).await).expect("a receipt");
    let policy = api
        .call("GET", "/v1/policy", Some(&api.keys.reader), None)
        .await
        .json();
    let key = LogVerifier::parse(policy["verifier_key"].as_str().expect("vkey")).expect("vkey");
    let verified = receipt.verify(&key).expect("verifies");
    let decision = &receipt.decision;
    assert_eq!(decision["subject"], "user:s3", "in ids, as answered");
    let proved: Vec<u64> = verified.entries.iter().map(|(i, _)| *i).collect();
    let mut rests_on = vec![0];
    rests_on.extend(
        decision["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .filter_map(Value::as_u64),
    );
    assert_eq!(proved, rests_on);
    assert!(proved.len() > 1, "the policy entry and the rating cited");
    let mut again = question.clone();
    again["log_size"] = decision["log_size"].clone();
    again["at"] = decision["at"].clone();
    assert_eq!(ask(again).await, *decision);
    // Not in a batch.
    let batch = serde_json::json!([{"subject": "user:s3", "capability": "propose", "stake": 2, "receipt": true}]);
    let reply = api
        .call(
            "POST",
            "/v1/decide/batch",
            Some(&api.keys.reader),
            Some(&batch.to_string()),
        )
        .await;
    assert!(reply.body.contains("receipt"), "{}", reply.body);
}
