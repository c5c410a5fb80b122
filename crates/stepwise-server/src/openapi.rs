//! The OpenAPI 3.1 document: what the API says of itself (title, tags, the bearer scheme, the
//! shared schemas), completed with every route of [`crate::routes::table`].

use crate::routes;
use std::sync::OnceLock;
use stepwise_api as wire;
use stepwise_api::ErrorBody;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stepwise",
        description = "A graduated-trust engine: record evidence in a tamper-evident log, and ask \
                       whether a principal may do something at a stake now, with reasons and the \
                       next step. Every /v1 call needs `Authorization: Bearer <key>`.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(
        ErrorBody,
        wire::DecisionView,
        wire::ExplainView,
        wire::TrustView,
        wire::LevelView,
        wire::RankRow,
    )),
    modifiers(&Bearer),
    tags(
        (name = "log", description = "Record evidence; read and prove the log"),
        (name = "trust", description = "Trust figures, decisions and explanations"),
        (name = "dashboard", description = "What the dashboard reads: the principals table, the overview, a principal's history, the live stream"),
        (name = "keys", description = "API keys (admin)"),
        (name = "principals", description = "A principal's privacy: forget it (admin), or hand it its own secret"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as pretty JSON (built once).
pub fn document() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(routes::table().into_openapi());
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let mut text = doc
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    })
    .clone()
}
