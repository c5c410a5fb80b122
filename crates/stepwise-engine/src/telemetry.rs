//! OpenTelemetry traces: one span per decision (`stepwise.decide`) and one per gated call
//! (`stepwise.gate.call`, with the call's decision as its child), exported over OTLP/HTTP with
//! protobuf bodies to the collector the standard `OTEL_EXPORTER_OTLP_*` variables name. Off by
//! default; when off nothing is installed and recording a span is one load of a [`OnceLock`].
//!
//! A door turns it on once, at start, and keeps the guard until it exits (dropping it flushes
//! what is still queued, so a process that ends normally sends its spans):
//!
//! ```no_run
//! use stepwise_engine::telemetry::{self, CallOutcome, CallSpan, DecisionFields};
//!
//! let _telemetry = telemetry::init_from_env("stepwise-gate")?; // None: not configured
//! let call = CallSpan::start("agent-7", "send_payment");
//! call.decided(&DecisionFields {
//!     principal: "agent-7",
//!     capability: "payments",
//!     stake: 120.0,
//!     verdict: "allowed",
//!     level: 2,
//!     level_name: "trusted",
//!     reasons: &["within_limit"],
//!     log_size: 4_096,
//!     started: telemetry::start_time(),
//! });
//! call.end(&CallOutcome { result: "forwarded", promise: Some("p-19"), ..CallOutcome::default() });
//! # Ok::<(), telemetry::TelemetryError>(())
//! ```
//!
//! * [`init_from_env`] reads the variables ([`settings`] reads them through a function, which is
//!   what the tests use) and [`install`]s a tracer provider with a batch exporter on its own
//!   thread; `Ok(None)` when no endpoint is set or `OTEL_SDK_DISABLED=true`.
//! * [`decision_span`] records a decision asked outside a gated call (HTTP, MCP, the CLI);
//!   [`CallSpan`] a gated call, [`CallSpan::decided`] its decision as a child span.
//! * [`start_time`] is the clock read for a span's start: `None`, and no clock read, when off.
//!
//! The variables read: `OTEL_SDK_DISABLED`; `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL)
//! or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base, `/v1/traces` appended); `…_PROTOCOL`
//! (`http/protobuf` only), `…_HEADERS` (`key=value,…`, values percent-decoded) and `…_TIMEOUT`
//! (milliseconds), `…_COMPRESSION` (`gzip` or `none`), each the traces variable before the
//! general one; `OTEL_SERVICE_NAME` (else the door's name). The SDK itself reads
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER*` and `OTEL_BSP_*`. Plain `http://` only:
//! this build carries no TLS for the exporter, and says so rather than failing each export.
//!
//! The attributes are plain Rust values (`&str`, `f64`, `u64`, reason codes), so no door depends
//! on OpenTelemetry's types. Architecture Invariant: telemetry observes, it never decides — no
//! span is read back, a failed export never fails a decision or a call, and when off the clock
//! is not read.

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The tracer spans are recorded with, once [`install`]ed: `None` is telemetry off.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The name of a decision's span.
pub const DECIDE_SPAN: &str = "stepwise.decide";
/// The name of a gated call's span.
pub const CALL_SPAN: &str = "stepwise.gate.call";

/// The export timeout when neither timeout variable is set (the OTLP exporter's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why telemetry could not be turned on.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A variable of the operator's environment holds what this build cannot use.
    #[error("{variable}: {problem}")]
    Variable {
        /// The variable, as the operator set it.
        variable: &'static str,
        /// What is wrong with its value and what to do.
        problem: String,
    },
    /// The exporter could not be built from settings that read well.
    #[error("OpenTelemetry: the OTLP exporter to {endpoint}: {message}")]
    Exporter {
        /// Where spans were to be sent.
        endpoint: String,
        /// What the exporter said.
        message: String,
    },
    /// Telemetry was installed already in this process (a bug of the door: install it once).
    #[error("OpenTelemetry: telemetry is installed already in this process")]
    AlreadyInstalled,
    /// The last spans could not be flushed at shutdown.
    #[error("OpenTelemetry: flushing the last spans at shutdown: {0}")]
    Shutdown(String),
}

/// Where and how spans are exported, as read from the variables. Its `Debug` shows the
/// headers' names, not their values.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// The OTLP/HTTP traces URL spans are posted to (…`/v1/traces` unless given whole).
    pub endpoint: String,
    /// The variable [`Settings::endpoint`] came from (what errors about it name).
    pub endpoint_variable: &'static str,
    /// Headers sent with every export (an API key, a tenant), values decoded.
    pub headers: Vec<(String, String)>,
    /// How long one export may take.
    pub timeout: Duration,
    /// Bodies gzipped (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// The resource's `service.name`.
    pub service_name: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("endpoint_variable", &self.endpoint_variable)
            .field("headers", &self.header_names().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("service_name", &self.service_name)
            .finish()
    }
}

impl Settings {
    /// The headers, without their values (which may be secrets): what a door may print.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }
}

/// Reads the settings through `var` (a variable's value, `None` when unset; an empty value is
/// unset, as the OpenTelemetry specification says). `Ok(None)`: telemetry stays off — no
/// endpoint is set, or `OTEL_SDK_DISABLED` is `true`. `service_name` is used when
/// `OTEL_SERVICE_NAME` is unset.
pub fn settings(
    var: impl Fn(&str) -> Option<String>,
    service_name: &str,
) -> Result<Option<Settings>, TelemetryError> {
    let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let (endpoint_variable, endpoint) = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        Some(url) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim().to_owned()),
        None => match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(base) => ("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim().to_owned()),
            None => return Ok(None),
        },
    };
    check_endpoint(endpoint_variable, &endpoint)?;
    let endpoint = if endpoint_variable == "OTEL_EXPORTER_OTLP_ENDPOINT" {
        format!(
            "{}/v1/traces",
            endpoint.strip_suffix('/').unwrap_or(&endpoint)
        )
    } else {
        endpoint
    };
    let first = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|name| var(name).map(|value| (name, value)))
    };
    if let Some((variable, protocol)) = first([
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]) && protocol.trim() != "http/protobuf"
    {
        return Err(TelemetryError::Variable {
            variable,
            problem: format!(
                "{:?}: this build exports over http/protobuf only (a collector's port 4318); \
                 set it to http/protobuf or unset it",
                protocol.trim()
            ),
        });
    }
    let headers = match first([
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ]) {
        Some((variable, list)) => parse_headers(variable, &list)?,
        None => Vec::new(),
    };
    let timeout = match first([
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]) {
        Some((variable, ms)) => match ms.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                return Err(TelemetryError::Variable {
                    variable,
                    problem: format!("{ms:?}: expected a whole number of milliseconds"),
                });
            }
        },
        None => DEFAULT_TIMEOUT,
    };
    let gzip = match first([
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ]) {
        Some((variable, compression)) => match compression.trim() {
            "gzip" => true,
            "none" => false,
            other => {
                return Err(TelemetryError::Variable {
                    variable,
                    problem: format!("{other:?}: expected gzip or none"),
                });
            }
        },
        None => false,
    };
    let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(|| service_name.to_owned());
    Ok(Some(Settings {
        endpoint,
        endpoint_variable,
        headers,
        timeout,
        gzip,
        service_name,
    }))
}

/// An endpoint this build can post to: `http://` and a host.
fn check_endpoint(variable: &'static str, url: &str) -> Result<(), TelemetryError> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let problem = match scheme.to_ascii_lowercase().as_str() {
        "http" if !host.is_empty() => return Ok(()),
        "http" => "no host; expected a URL such as http://localhost:4318".to_owned(),
        "https" => "this build sends OTLP over plain http:// only (no TLS in its exporter); \
                    point it at a collector on http:// (one beside it can forward over TLS)"
            .to_owned(),
        _ => "expected an http:// URL such as http://localhost:4318".to_owned(),
    };
    Err(TelemetryError::Variable {
        variable,
        problem: format!("{url:?}: {problem}"),
    })
}

/// `key=value,key=value` (W3C baggage form, as the specification says), values
/// percent-decoded. Values never appear in errors: they are often secrets.
fn parse_headers(
    variable: &'static str,
    list: &str,
) -> Result<Vec<(String, String)>, TelemetryError> {
    let bad = |problem: String| TelemetryError::Variable { variable, problem };
    let mut headers = Vec::new();
    for (n, pair) in list.split(',').enumerate() {
        if pair.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = pair.split_once('=') else {
            return Err(bad(format!(
                "header {} has no '=': expected key=value,key=value",
                n + 1
            )));
        };
        let name = name.trim();
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(bad(format!(
                "header {} is named {name:?}: expected a header name (letters, digits, -)",
                n + 1
            )));
        }
        let value = percent_decode(value.trim()).ok_or_else(|| {
            bad(format!(
                "the value of header {name:?} is not valid percent-encoded UTF-8"
            ))
        })?;
        headers.push((name.to_owned(), value));
    }
    Ok(headers)
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Telemetry on: the tracer provider, flushed and shut down when dropped (or by
/// [`Telemetry::shutdown`]).
#[derive(Debug)]
pub struct Telemetry {
    /// `None` once shut down.
    provider: Option<SdkTracerProvider>,
    endpoint: String,
}

impl Telemetry {
    /// Where spans are sent.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports what is queued and stops the exporter's thread; spans recorded after it are
    /// dropped. Blocks up to the export timeout when the collector does not answer. An error
    /// says the SDK could not shut down; a failed export is not one (the SDK reports it as a
    /// `tracing` error event, which a door's subscriber prints).
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), TelemetryError> {
        match self.provider.take() {
            Some(provider) => provider
                .shutdown()
                .map_err(|e| TelemetryError::Shutdown(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("{e}");
        }
    }
}

/// Reads the process's variables ([`settings`]) and, when they name an endpoint, [`install`]s
/// telemetry. `Ok(None)`: not configured, nothing installed, spans cost a check.
pub fn init_from_env(service_name: &str) -> Result<Option<Telemetry>, TelemetryError> {
    let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    settings(var, service_name)?.map(install).transpose()
}

/// Turns telemetry on with `settings`: an OTLP/HTTP exporter behind a batch processor (its own
/// thread; a door's threads never wait on the collector), and the tracer every span of this
/// process is recorded with. Once per process.
pub fn install(settings: Settings) -> Result<Telemetry, TelemetryError> {
    if TRACER.get().is_some() {
        return Err(TelemetryError::AlreadyInstalled);
    }
    let exporter_error = |message: String| TelemetryError::Exporter {
        endpoint: settings.endpoint.clone(),
        message,
    };
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(settings.endpoint.clone())
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(settings.timeout)
        .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>());
    if settings.gzip {
        exporter = exporter.with_compression(Compression::Gzip);
    }
    let exporter = exporter
        .build()
        .map_err(|e| exporter_error(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let scope = InstrumentationScope::builder("stepwise")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    if TRACER.set(provider.tracer_with_scope(scope)).is_err() {
        let _ = provider.shutdown();
        return Err(TelemetryError::AlreadyInstalled);
    }
    Ok(Telemetry {
        provider: Some(provider),
        endpoint: settings.endpoint,
    })
}

/// Whether spans are recorded (telemetry installed).
#[inline]
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Now, when telemetry is on: the start of a span to be recorded once its work is done
/// ([`DecisionFields::started`]). `None` when off, without reading the clock.
#[inline]
pub fn start_time() -> Option<SystemTime> {
    TRACER.get().map(|_| SystemTime::now())
}

/// A decision, as its span records it. `S` is a reason code's type (`String`, `&str`).
#[derive(Debug, Clone, Copy)]
pub struct DecisionFields<'a, S = String> {
    /// Who asked (`stepwise.principal`).
    pub principal: &'a str,
    /// For what (`stepwise.capability`).
    pub capability: &'a str,
    /// At what stake (`stepwise.stake`).
    pub stake: f64,
    /// The verdict, `allowed` or `denied` (`stepwise.verdict`).
    pub verdict: &'a str,
    /// The principal's level when decided (`stepwise.level`) …
    pub level: u64,
    /// … and its name (`stepwise.level.name`).
    pub level_name: &'a str,
    /// The reason codes, the deciding one first (`stepwise.reasons`, a string array).
    pub reasons: &'a [S],
    /// The log size the verdict was computed at (`stepwise.log_size`): what replays it.
    pub log_size: u64,
    /// When deciding began ([`start_time`]); `None`: the span starts as it ends.
    pub started: Option<SystemTime>,
}

/// What became of a gated call, as its span records it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOutcome<'a> {
    /// `forwarded`, `denied`, `tool_error`, … (`stepwise.result`).
    pub result: &'a str,
    /// The id of the promise recorded for the call (`stepwise.promise`).
    pub promise: Option<&'a str>,
    /// Who approved the call, when someone did (`stepwise.approver`).
    pub approver: Option<&'a str>,
    /// What went wrong (an upstream failure, a promise not recorded): the span's error status.
    pub error: Option<&'a str>,
}

/// Records a decision's span (`stepwise.decide`): a child of the span in scope (a gated call's,
/// [`CallSpan::in_scope`]), else a root span — a decision asked on its own.
#[inline]
pub fn decision_span<S: AsRef<str>>(fields: &DecisionFields<'_, S>) {
    if let Some(tracer) = TRACER.get() {
        record_decision(tracer, fields, &Context::current());
    }
}

fn record_decision<S: AsRef<str>>(
    tracer: &SdkTracer,
    fields: &DecisionFields<'_, S>,
    parent: &Context,
) {
    let reasons = fields
        .reasons
        .iter()
        .map(|code| StringValue::from(code.as_ref().to_owned()))
        .collect::<Vec<_>>();
    let attributes = vec![
        KeyValue::new("stepwise.principal", fields.principal.to_owned()),
        KeyValue::new("stepwise.capability", fields.capability.to_owned()),
        KeyValue::new("stepwise.stake", fields.stake),
        KeyValue::new("stepwise.verdict", fields.verdict.to_owned()),
        KeyValue::new("stepwise.level", int(fields.level)),
        KeyValue::new("stepwise.level.name", fields.level_name.to_owned()),
        KeyValue::new("stepwise.reasons", Value::Array(Array::String(reasons))),
        KeyValue::new("stepwise.log_size", int(fields.log_size)),
    ];
    let mut builder = tracer
        .span_builder(DECIDE_SPAN)
        .with_kind(SpanKind::Internal)
        .with_attributes(attributes);
    if let Some(started) = fields.started {
        builder = builder.with_start_time(started);
    }
    tracer.build_with_context(builder, parent).end();
}

/// OpenTelemetry's integers are signed: a count past `i64::MAX` (never, in practice) saturates.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A gated call's span (`stepwise.gate.call`), open from [`CallSpan::start`] to
/// [`CallSpan::end`] (or its drop, which ends it without an outcome). Holds nothing when
/// telemetry is off.
#[derive(Debug)]
pub struct CallSpan {
    cx: Option<Context>,
}

impl CallSpan {
    /// Opens the span of `principal`'s call to `tool` (`stepwise.principal`, `stepwise.tool`).
    #[inline]
    pub fn start(principal: &str, tool: &str) -> Self {
        Self {
            cx: TRACER
                .get()
                .map(|tracer| open_call(tracer, principal, tool)),
        }
    }

    /// Whether the span is recorded (telemetry on).
    pub fn is_recording(&self) -> bool {
        self.cx.as_ref().is_some_and(|cx| cx.span().is_recording())
    }

    /// Runs `f` with this span in scope: a decision [`decision_span`] records meanwhile (the
    /// engine's, on this thread) is its child.
    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.cx {
            Some(cx) => {
                let _guard = cx.clone().attach();
                f()
            }
            None => f(),
        }
    }

    /// Records the call's decision: a `stepwise.decide` span, child of this one.
    #[inline]
    pub fn decided<S: AsRef<str>>(&self, fields: &DecisionFields<'_, S>) {
        if let (Some(cx), Some(tracer)) = (&self.cx, TRACER.get()) {
            record_decision(tracer, fields, cx);
        }
    }

    /// Records what became of the call and ends the span.
    #[inline]
    pub fn end(self, outcome: &CallOutcome<'_>) {
        if let Some(cx) = self.cx {
            close_call(&cx, outcome);
        }
    }
}

fn open_call(tracer: &SdkTracer, principal: &str, tool: &str) -> Context {
    let span = tracer
        .span_builder(CALL_SPAN)
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("stepwise.principal", principal.to_owned()),
            KeyValue::new("stepwise.tool", tool.to_owned()),
        ])
        .start(tracer);
    Context::new().with_span(span)
}

fn close_call(cx: &Context, outcome: &CallOutcome<'_>) {
    let span = cx.span();
    span.set_attribute(KeyValue::new("stepwise.result", outcome.result.to_owned()));
    if let Some(promise) = outcome.promise {
        span.set_attribute(KeyValue::new("stepwise.promise", promise.to_owned()));
    }
    if let Some(approver) = outcome.approver {
        span.set_attribute(KeyValue::new("stepwise.approver", approver.to_owned()));
    }
    if let Some(error) = outcome.error {
        span.set_status(Status::error(error.to_owned()));
    }
    span.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings read from `vars`, as the process's environment would give them.
    fn read(vars: &[(&str, &str)]) -> Result<Option<Settings>, TelemetryError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        settings(|name| vars.get(name).cloned(), "stepwise-test")
    }

    /// The message of the error `vars` give, and the variable it names.
    fn refusal(vars: &[(&str, &str)]) -> (&'static str, String) {
        match read(vars) {
            Err(TelemetryError::Variable { variable, problem }) => (variable, problem),
            other => panic!("expected a variable refused, got {other:?}"),
        }
    }

    #[test]
    fn nothing_configured_is_off() {
        assert_eq!(read(&[]).ok(), Some(None));
        // Empty is unset, as the specification says.
        assert_eq!(
            read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]).ok(),
            Some(None)
        );
        // Variables of the exporter without an endpoint turn nothing on.
        assert_eq!(
            read(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_SERVICE_NAME", "x")
            ])
            .ok(),
            Some(None)
        );
    }

    #[test]
    fn sdk_disabled_wins_over_an_endpoint() {
        for disabled in ["true", "TRUE", " True "] {
            let vars = [
                ("OTEL_SDK_DISABLED", disabled),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
            ];
            assert_eq!(read(&vars).ok(), Some(None), "OTEL_SDK_DISABLED={disabled}");
        }
        let vars = [
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
        ];
        assert!(matches!(read(&vars), Ok(Some(_))));
    }

    #[test]
    fn endpoints_as_the_specification_builds_them() {
        let endpoint = |vars: &[(&str, &str)]| match read(vars) {
            Ok(Some(s)) => (s.endpoint, s.endpoint_variable),
            other => panic!("expected settings, got {other:?}"),
        };
        let base = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        assert_eq!(
            endpoint(&[(base, "http://collector:4318")]),
            ("http://collector:4318/v1/traces".to_owned(), base)
        );
        assert_eq!(
            endpoint(&[(base, "http://collector:4318/")]),
            ("http://collector:4318/v1/traces".to_owned(), base)
        );
        assert_eq!(
            endpoint(&[(base, "http://collector:4318/otlp")]),
            ("http://collector:4318/otlp/v1/traces".to_owned(), base)
        );
        // The traces endpoint is taken whole, and before the base.
        assert_eq!(
            endpoint(&[(base, "http://wrong:1"), (traces, "http://c:4318/custom")]),
            ("http://c:4318/custom".to_owned(), traces)
        );
    }

    #[test]
    fn endpoints_this_build_cannot_post_to_are_refused_by_name() {
        let cases = [
            (
                "https://api.example.com",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "plain http:// only",
            ),
            (
                "localhost:4318",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "expected an http:// URL",
            ),
            ("http://", "OTEL_EXPORTER_OTLP_ENDPOINT", "no host"),
            (
                "http:///v1/traces",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "no host",
            ),
            (
                "grpc://c:4317",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "expected an http:// URL",
            ),
        ];
        for (url, variable, words) in cases {
            let (named, problem) = refusal(&[(variable, url)]);
            assert_eq!(named, variable, "{url}");
            assert!(problem.contains(words), "{url}: {problem}");
            assert!(problem.contains(url), "{url}: {problem}");
        }
    }

    #[test]
    fn a_protocol_other_than_http_protobuf_is_refused_by_name() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318");
        for protocol in ["grpc", "http/json", "carrier-pigeon"] {
            let (variable, problem) =
                refusal(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
            assert_eq!(variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
            assert!(problem.contains(protocol), "{problem}");
            assert!(problem.contains("http/protobuf only"), "{problem}");
            let error = TelemetryError::Variable { variable, problem }.to_string();
            assert!(
                error.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL: "),
                "{error}"
            );
        }
        // The traces variable is read first: it names itself.
        let (variable, _) = refusal(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        assert_eq!(variable, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
        assert!(matches!(
            read(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]),
            Ok(Some(_))
        ));
    }

    #[test]
    fn headers_timeout_and_service_name() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318");
        let Ok(Some(s)) = read(&[
            endpoint,
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-tenant=acme, authorization=Bearer%20k%3D1,",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_SERVICE_NAME", "gate-eu"),
        ]) else {
            panic!("expected settings")
        };
        assert_eq!(
            s.headers,
            [
                ("x-tenant".to_owned(), "acme".to_owned()),
                ("authorization".to_owned(), "Bearer k=1".to_owned()),
            ]
        );
        assert_eq!(
            s.header_names().collect::<Vec<_>>(),
            ["x-tenant", "authorization"]
        );
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert!(s.gzip);
        assert_eq!(s.service_name, "gate-eu");
        let shown = format!("{s:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("Bearer"),
            "{shown}"
        );
        let Ok(Some(s)) = read(&[endpoint]) else {
            panic!("expected settings")
        };
        assert_eq!(
            (s.headers.len(), s.timeout, s.gzip),
            (0, DEFAULT_TIMEOUT, false)
        );
        assert_eq!(s.service_name, "stepwise-test");
    }

    #[test]
    fn bad_headers_and_timeouts_are_refused_by_name_without_their_secrets() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318");
        let cases = [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key",
                "header 1 has no '='",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "a=1,=s3cret",
                "header 2 is named \"\"",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "bad name=s3cret",
                "\"bad name\"",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "k=s3cret%zz",
                "not valid percent-encoded",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "k=s3cret%ff",
                "not valid percent-encoded",
            ),
            (
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                "10s",
                "whole number of milliseconds",
            ),
            (
                "OTEL_EXPORTER_OTLP_COMPRESSION",
                "zstd",
                "expected gzip or none",
            ),
        ];
        for (variable, value, words) in cases {
            let (named, problem) = refusal(&[endpoint, (variable, value)]);
            assert_eq!(named, variable, "{value}");
            assert!(problem.contains(words), "{value}: {problem}");
            assert!(
                !problem.contains("s3cret"),
                "a header's value printed: {problem}"
            );
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc").as_deref(), Some("a b,c"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%+1"), None);
    }

    /// Nothing is installed in this test binary (no test installs: the tracer is process-wide),
    /// so every span is the no-op path.
    #[test]
    fn off_records_nothing_and_reads_no_clock() {
        assert!(!enabled());
        assert_eq!(start_time(), None);
        let fields = DecisionFields {
            principal: "agent",
            capability: "payments",
            stake: 1.0,
            verdict: "denied",
            level: 0,
            level_name: "probation",
            reasons: &["stake_above_limit"],
            log_size: 3,
            started: start_time(),
        };
        decision_span(&fields);
        let call = CallSpan::start("agent", "pay");
        assert!(!call.is_recording());
        call.decided(&fields);
        call.end(&CallOutcome {
            result: "denied",
            ..CallOutcome::default()
        });
    }
}
