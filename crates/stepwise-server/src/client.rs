//! A small HTTP/1.1 client for what stepwise reads from and sends to other servers: witness
//! submissions, and the tiles a monitor or a receipt's replay reads. `http://` and `https://`
//! (rustls; the server's certificate must chain to a root this machine trusts — its system
//! store, or the file `SSL_CERT_FILE` names); every request has a deadline and every answer a
//! size limit.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An answer is at most this many bytes (a full entry bundle of the largest entries is 16 MiB).
pub const MAX_ANSWER_BYTES: usize = 17 * 1024 * 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an `http://` URL this client can reach.
    #[error("{url}: {problem}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No answer in time.
    #[error("{0}: no answer within {1:?}")]
    Timeout(String, Duration),
    /// The connection or the exchange failed.
    #[error("{0}: {1}")]
    Io(String, String),
}

/// An answer: status, media type and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`, when given.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A keep-alive HTTP client (one connection pool for all requests).
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    bearer: Option<String>,
}

impl HttpClient {
    /// A client whose every request must be answered within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            bearer: None,
        }
    }

    /// The same client, sending `Authorization: Bearer <key>` (a stepwise API key).
    pub fn with_bearer(mut self, key: Option<String>) -> Self {
        self.bearer = key;
        self
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Answer, ClientError> {
        self.send(Method::GET, url, Bytes::new(), None).await
    }

    /// `POST url` with `body`.
    pub async fn post(
        &self,
        url: &str,
        body: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<Answer, ClientError> {
        self.send(Method::POST, url, body.into(), Some(content_type))
            .await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let bad_url = |problem: &str| ClientError::Url {
            url: url.to_owned(),
            problem: problem.to_owned(),
        };
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(bad_url("not an http:// or https:// URL"));
        }
        let uri: hyper::Uri = url.parse().map_err(|_| bad_url("not a valid URL"))?;
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        if let Some(key) = &self.bearer {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| bad_url(&e.to_string()))?;
        let io =
            |e: &(dyn std::error::Error + 'static)| ClientError::Io(url.to_owned(), describe(e));
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| io(&e))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| io(&*e))?
                .to_bytes();
            Ok(Answer {
                status,
                content_type,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(url.to_owned(), self.timeout))?
    }
}

/// TLS with ring and the roots this machine trusts (its system store; `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` as OpenSSL reads them). With none, an HTTPS request fails its handshake,
/// naming the certificate it could not trust.
// ring's provider, though rustls now prefers aws-lc-rs (for post-quantum key exchange): ring
// builds with no C toolchain beyond the compiler CI has; aws-lc-rs needs CMake.
#[allow(deprecated)]
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// An error with its causes, the way a person reads it (the client's own message alone is
/// "client error (Connect)").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
