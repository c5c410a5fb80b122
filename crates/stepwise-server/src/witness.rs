//! `stepwise witness serve`: a C2SP tlog-witness. It cosigns a log's checkpoint only when it
//! extends, by a verified consistency proof, the last one it cosigned for that log, so that two
//! operators can each witness the other's log and neither can show two histories.
//!
//! * `POST /add-checkpoint`: the submission API (the submission prefix is the server's root).
//! * `GET /<hex SHA-256 of the origin>/checkpoint`: the latest checkpoint it cosigned for a
//!   log, with the log's signature and its cosignature (the monitoring API).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use stepwise::ledger::cosign::{CosignerAlgorithm, CosignerKey};
use stepwise::ledger::note::LogVerifier;
use stepwise::ledger::witness::{MAX_BODY_BYTES, Refusal, SIZE_MEDIA_TYPE};
use stepwise_store::StoreError;
use stepwise_store::witness::WitnessState;

/// The witness's key file in its directory.
pub const KEY_FILE: &str = "witness.key";
/// The witness's state file in its directory.
pub const STATE_FILE: &str = "witness.db";

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Reading or writing its files failed.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The key file or a name is not usable.
    #[error("{0}")]
    Key(String),
    /// The state file could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The witness's key: read from `dir/witness.key`, or created there (readable by the owner
/// only) under `name` with `algorithm` (default ML-DSA-44, as the specification recommends) on
/// first start. A `name` or an `algorithm` that differs from an existing key's is an error.
pub fn key(
    dir: &Path,
    name: Option<&str>,
    algorithm: Option<CosignerAlgorithm>,
) -> Result<CosignerKey, WitnessError> {
    let path = dir.join(KEY_FILE);
    let file = |source| WitnessError::File {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = CosignerKey::parse(&text)
                .map_err(|e| WitnessError::Key(format!("{}: {e}", path.display())))?;
            if let Some(name) = name.filter(|n| *n != key.name()) {
                return Err(WitnessError::Key(format!(
                    "{} holds the key of {:?}, not {name:?}",
                    path.display(),
                    key.name()
                )));
            }
            let held = key.verifier().algorithm();
            if let Some(wanted) = algorithm.filter(|a| *a != held) {
                return Err(WitnessError::Key(format!(
                    "{} holds an {held:?} key, not an {wanted:?} one",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = name.unwrap_or("localhost/stepwise-witness");
            let algorithm = algorithm.unwrap_or(CosignerAlgorithm::MlDsa44);
            let key = CosignerKey::generate(name, algorithm)
                .map_err(|e| WitnessError::Key(e.to_string()))?;
            std::fs::create_dir_all(dir).map_err(file)?;
            write_secret(&path, &key.encode()).map_err(file)?;
            Ok(key)
        }
        Err(e) => Err(file(e)),
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}

struct Witness {
    key: CosignerKey,
    logs: Vec<LogVerifier>,
    state: Mutex<WitnessState>,
}

/// The witness's routes over its state in `dir`, following `logs`.
pub fn router(
    dir: &Path,
    key: CosignerKey,
    logs: Vec<LogVerifier>,
) -> Result<Router, WitnessError> {
    let state = WitnessState::open(&dir.join(STATE_FILE))?;
    let witness = Arc::new(Witness {
        key,
        logs,
        state: Mutex::new(state),
    });
    Ok(Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness))
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().max(1));
    let answer = tokio::task::spawn_blocking(move || {
        witness
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add_checkpoint(&body, &witness.logs, &witness.key, now)
    })
    .await;
    match answer {
        Ok(Ok(Ok(lines))) => text(StatusCode::OK, lines),
        Ok(Ok(Err(Refusal::Conflict(size)))) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_MEDIA_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        Ok(Ok(Err(refusal))) => text(
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{refusal}\n"),
        ),
        Ok(Err(e)) => {
            tracing::error!("witness state: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness's state failed\n".into(),
            )
        }
        Err(e) => {
            tracing::error!("witness task: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness failed\n".into(),
            )
        }
    }
}

async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    UrlPath(origin_hash): UrlPath<String>,
) -> Response {
    let found = witness
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .checkpoint(&origin_hash);
    match found {
        Ok(Some(note)) => text(StatusCode::OK, note),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "this witness has cosigned no checkpoint of that log\n".into(),
        ),
        Err(e) => {
            tracing::error!("witness state: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness's state failed\n".into(),
            )
        }
    }
}

/// Serves the witness on `addr` until `shutdown` resolves; `ready` hears the address.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WitnessError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
