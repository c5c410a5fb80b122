//! The OpenAPI document is generated from the code, committed as `docs/openapi.json`, and must
//! not drift from it. Regenerate with `STEPWISE_BLESS=1 cargo test -p stepwise-server --test integration openapi`.

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
        "docs/openapi.json is out of date: run `STEPWISE_BLESS=1 cargo test -p stepwise-server --test integration openapi` and commit it"
    );
}

#[test]
fn every_route_is_described_with_its_errors() {
    let doc: Value = serde_json::from_str(&stepwise_server::openapi::document()).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    // The router and the document come from one table (`routes::table`); which operations
    // exist, and who may call them, is checked in process by `api::the_role_matrix_…`.
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/v1/decide") && paths.contains_key("/healthz"));
    for (route, item) in paths {
        for (method, op) in item.as_object().expect("operations") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {route} lacks a success"
            );
            if route.starts_with("/v1/") {
                assert!(responses.contains_key("401"), "{method} {route} lacks 401");
                assert!(responses.contains_key("429"), "{method} {route} lacks 429");
                assert!(op["security"].is_array(), "{method} {route} lacks security");
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// Every error code of the one table is documented in docs/API.md, its row word for word (code,
/// status, retry advice, meaning), and named in the OpenAPI description of the error body.
#[test]
fn every_error_code_is_documented_with_its_status() {
    use stepwise_api::Code;
    let guide = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md"),
    )
    .expect("docs/API.md");
    let doc: Value = serde_json::from_str(&stepwise_server::openapi::document()).expect("JSON");
    let described = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["description"]
        .as_str()
        .expect("the code is described")
        .to_owned();
    for &code in Code::ALL {
        let row = code.doc_row();
        assert!(guide.contains(&row), "docs/API.md lacks the row {row}");
        assert!(
            described.contains(&format!("`{}`", code.name())),
            "ErrorBody's description lacks {}",
            code.name()
        );
    }
}
