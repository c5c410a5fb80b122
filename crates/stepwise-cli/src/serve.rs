//! `stepwise serve` and `stepwise key`: the HTTP server and its API keys.

use crate::output::Out;
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;
use stepwise::evidence::Id;
use stepwise_server::limits::Limits;
use stepwise_store::data_dir::DataDir;
use stepwise_store::keys::{KeyRecord, Role, generate_key};
use stepwise_store::{PostgresStore, Store};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Keep the log in PostgreSQL (`postgres://user@host:port/db`) instead of the data
    /// directory's SQLite file; the data directory still holds the policy and the log key.
    #[arg(long, env = "STEPWISE_STORE")]
    store: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: usize,
    /// Most events in one append request, and most decisions in one batch.
    #[arg(long, default_value_t = Limits::default().max_batch)]
    max_batch: usize,
    /// Requests per second each API key may make on average.
    #[arg(long, default_value_t = Limits::default().rate)]
    rate: f64,
    /// Requests an API key may make at once before the rate applies.
    #[arg(long, default_value_t = Limits::default().burst)]
    burst: f64,
    /// Longest a request may take, in seconds.
    #[arg(long, default_value_t = Limits::default().timeout.as_secs_f64())]
    timeout: f64,
    /// How often to re-read the log for entries other processes wrote, in milliseconds (on
    /// PostgreSQL they are folded as soon as they are announced, and this is the fallback).
    #[arg(long, default_value_t = 250)]
    follow_ms: u64,
    /// How long a request naming a `min_log_size` this server has not folded yet waits for it
    /// before answering 503 `log_behind`, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    catch_up_wait_ms: u64,
}

pub fn serve(data: &DataDir, args: ServeArgs) -> Result<bool> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate {} must be a positive number", args.rate);
    }
    if !(args.burst >= 1.0 && args.burst.is_finite()) {
        bail!("--burst {} must be at least 1", args.burst);
    }
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        bail!(
            "--timeout {} must be between 0 and 3600 seconds",
            args.timeout
        );
    }
    // Traces of every decision, when OTEL_EXPORTER_OTLP_* name a collector.
    let _telemetry = stepwise_engine::telemetry::init_from_env("stepwise")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.max_batch == 0 || args.max_batch > stepwise_store::MAX_BATCH {
        bail!(
            "--max-batch {} must be between 1 and {}",
            args.max_batch,
            stepwise_store::MAX_BATCH
        );
    }
    if args.follow_ms == 0 {
        bail!("--follow-ms must be at least 1");
    }
    if args.catch_up_wait_ms > 60_000 {
        bail!(
            "--catch-up-wait-ms {} must be at most 60000 (a minute)",
            args.catch_up_wait_ms
        );
    }
    let config = stepwise_server::Config {
        addr: args.addr,
        data: data.path().to_owned(),
        store: args.store,
        limits: Limits {
            max_body: args.max_body,
            max_batch: args.max_batch,
            rate: args.rate,
            burst: args.burst,
            timeout: Duration::from_secs_f64(args.timeout),
            follow_interval: Duration::from_millis(args.follow_ms),
            catch_up_wait: Duration::from_millis(args.catch_up_wait_ms),
        },
    };
    let runtime = service_runtime()?;
    let store = config
        .store
        .as_deref()
        .map_or_else(|| data.store_path().display().to_string(), redact);
    runtime.block_on(stepwise_server::run(
        config,
        |addr| {
            // One line a supervisor (or a test) can wait for.
            println!("stepwise: listening on http://{addr} (store: {store})");
        },
        stepwise_server::shutdown_signal(),
    ))?;
    eprintln!("stepwise: stopped; every acknowledged event is durable");
    Ok(true)
}

/// The runtime of a long-running service (`serve`, `witness serve`), with its warnings and
/// errors (a failed commit, a store that stopped answering, a witness that refused) on stderr.
pub fn service_runtime() -> Result<tokio::runtime::Runtime> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_ansi(false)
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A database URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key; it is printed once and stored only hashed.
    Create {
        /// `admin` (keys and everything), `recorder` (record as its principal, and read) or
        /// `reader` (read only).
        #[arg(long)]
        role: String,
        /// The principal the key records as.
        #[arg(long)]
        principal: Option<String>,
        /// The PostgreSQL store (default: the data directory's SQLite file).
        #[arg(long, env = "STEPWISE_STORE")]
        store: Option<String>,
    },
    /// List the API keys' records (never the keys).
    List {
        /// The PostgreSQL store (default: the data directory's SQLite file).
        #[arg(long, env = "STEPWISE_STORE")]
        store: Option<String>,
    },
    /// Revoke an API key by its id.
    Revoke {
        /// The key's public id (from `key list`).
        id: String,
        /// The PostgreSQL store (default: the data directory's SQLite file).
        #[arg(long, env = "STEPWISE_STORE")]
        store: Option<String>,
    },
}

/// The store `--store` names (PostgreSQL), or the data directory's SQLite file.
pub fn open_store(data: &DataDir, store: Option<&str>) -> Result<Box<dyn Store>> {
    Ok(match store {
        Some(url) => Box::new(
            PostgresStore::connect(url).with_context(|| format!("--store {}", redact(url)))?,
        ),
        None => {
            if !data.is_initialized() {
                data.init(None, &[])?;
            }
            Box::new(data.open_store()?)
        }
    })
}

fn record_json(r: &KeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "role": r.role.as_str(),
        "principal": r.principal.as_ref().map(Id::as_str),
        "created": r.created.to_string(),
        "revoked": r.revoked,
    })
}

pub fn key(data: &DataDir, cmd: KeyCommand, out: &mut Out) -> Result<bool> {
    match cmd {
        KeyCommand::Create {
            role,
            principal,
            store,
        } => {
            let role = Role::parse(&role).context("--role")?;
            let principal = principal
                .map(|p| Id::parse("--principal", &p))
                .transpose()?;
            let mut store = open_store(data, store.as_deref())?;
            let key = generate_key()?;
            let record = KeyRecord::new(&key, role, principal, crate::record::now());
            store.put_key(&record)?;
            let mut json = record_json(&record);
            json["key"] = key.clone().into();
            out.emit(&json, |w| {
                writeln!(w, "{key}")?;
                writeln!(
                    w,
                    "(key {} for role {}{}; shown once, stored only hashed)",
                    record.id,
                    record.role,
                    record
                        .principal
                        .as_ref()
                        .map_or(String::new(), |p| format!(", records as {p}"))
                )
            })?;
        }
        KeyCommand::List { store } => {
            let store = open_store(data, store.as_deref())?;
            let keys = store.keys()?;
            out.emit(
                &serde_json::Value::Array(keys.iter().map(record_json).collect()),
                |w| {
                    writeln!(
                        w,
                        "{:<14} {:<9} {:<24} {:<28} state",
                        "id", "role", "principal", "created"
                    )?;
                    for k in &keys {
                        writeln!(
                            w,
                            "{:<14} {:<9} {:<24} {:<28} {}",
                            k.id,
                            k.role.as_str(),
                            k.principal.as_ref().map_or("-", Id::as_str),
                            k.created.to_string(),
                            if k.revoked { "revoked" } else { "active" }
                        )?;
                    }
                    Ok(())
                },
            )?;
        }
        KeyCommand::Revoke { id, store } => {
            let mut store = open_store(data, store.as_deref())?;
            if !store.revoke_key(&id)? {
                bail!("no key with id {id:?} (see `stepwise key list`)");
            }
            out.emit(&serde_json::json!({"id": id, "revoked": true}), |w| {
                writeln!(w, "revoked key {id}")
            })?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            super::redact("postgres://ann:secret@db:5432/x"),
            "postgres://ann@db:5432/x"
        );
        assert_eq!(
            super::redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
