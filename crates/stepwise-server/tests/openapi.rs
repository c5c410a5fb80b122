//! The OpenAPI document is generated from the code, committed as `docs/openapi.json`, and must
//! not drift from it. Regenerate with `STEPWISE_BLESS=1 cargo test -p stepwise-server --test openapi`.

use serde_json::Value;
use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = stepwise_server::openapi::document();
    let path = committed();
    if std::env::var_os("STEPWISE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
    }
    let on_disk = std::fs::read_to_string(&path).expect("docs/openapi.json exists");
    assert!(
        on_disk == generated,
        "docs/openapi.json is out of date: run `STEPWISE_BLESS=1 cargo test -p stepwise-server --test openapi` and commit it"
    );
}

#[test]
fn every_route_is_described_with_its_errors() {
    let doc: Value = serde_json::from_str(&stepwise_server::openapi::document()).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for route in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/v1/events",
        "/v1/events/{index}",
        "/v1/log/checkpoint",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/consistency",
        "/v1/principals/{id}/trust",
        "/v1/principals/{id}/explain",
        "/v1/decide",
        "/v1/rank",
        "/v1/policy",
        "/v1/keys",
        "/v1/keys/{id}",
    ] {
        let item = paths
            .get(route)
            .unwrap_or_else(|| panic!("{route} is not in the document"));
        for (method, op) in item.as_object().expect("operations") {
            let responses = op["responses"].as_object().expect("responses");
            if route.starts_with("/v1/") {
                assert!(responses.contains_key("401"), "{method} {route} lacks 401");
                assert!(responses.contains_key("429"), "{method} {route} lacks 429");
                assert!(op["security"].is_array(), "{method} {route} lacks security");
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// Every error code the server can answer with is documented, once, in docs/API.md and in the
/// OpenAPI description of the error body, with its status.
#[test]
fn every_error_code_is_documented_with_its_status() {
    use stepwise_server::error::Code;
    let guide = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md"),
    )
    .expect("docs/API.md");
    let doc: Value = serde_json::from_str(&stepwise_server::openapi::document()).expect("JSON");
    let described = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["description"]
        .as_str()
        .expect("the code is described")
        .to_owned();
    for code in Code::ALL {
        let row = format!("| `{}` | {} |", code.name(), code.status().as_u16());
        assert!(guide.contains(&row), "docs/API.md lacks the row {row}");
        assert!(
            described.contains(&format!("`{}`", code.name())),
            "ErrorBody's description lacks {}",
            code.name()
        );
    }
}
