//! A full tile served by the tiles API of `stepwise serve`, against tower-http's `ServeDir`
//! serving the same 8,192 bytes from a file, over real TCP connections on this machine.
//!
//! ```text
//! cargo run --release -p stepwise-server --example tiles_bench -- [ROUNDS] [SECONDS] [CONNECTIONS]
//! ```
//!
//! Each round loads both servers in turn (which goes first alternates) for SECONDS with
//! CONNECTIONS keep-alive connections, each asking for the tile again as soon as it has the
//! last byte of the answer. The tiles API is asked with a reader key, as by default. Printed:
//! the median requests per second of each, the ratio of the medians, the median of the
//! per-round ratios; then the same for a partial tile, which is never cached and is read from
//! the store on every request. Defaults: 7 rounds of 2 s, 8 connections. docs/BENCHMARKS.md has
//! the figures.

use axum::body::Body;
use axum::http::Request;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use stepwise::ledger::Clock as _;
use stepwise_server::limits::Limits;
use stepwise_server::{Config, Server};
use stepwise_store::KeyStore as _;
use stepwise_store::data_dir::DataDir;
use stepwise_store::keys::{KeyRecord, Role, generate_key};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

/// Entries in the log: 16 full level-0 tiles, and a partial one.
const ENTRIES: usize = 16 * 256 + 100;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let mut arg = |default: u64| -> Result<u64, Failure> {
        Ok(args.next().map_or(Ok(default), |a| a.parse())?)
    };
    let (rounds, seconds, connections) = (arg(7)?, arg(2)?, arg(8)?);
    let dir = tempfile::tempdir()?;
    let (server, reader, recorder) = tokio::task::spawn_blocking({
        let data = dir.path().join("data");
        move || open(&data)
    })
    .await??;
    let router = server.router();
    fill(&router, &recorder).await?;

    // The same bytes as a file, for ServeDir.
    let files = dir.path().join("files");
    for path in ["tile/0/005", "tile/0/016.p/100"] {
        let bytes = get(&router, &format!("/tlog/{path}"), &reader).await?;
        let file = files.join(path);
        std::fs::create_dir_all(file.parent().ok_or("a tile path has a parent")?)?;
        std::fs::write(file, bytes)?;
    }
    let stepwise_addr = listen(router).await?;
    let servedir =
        axum::Router::new().fallback_service(tower_http::services::ServeDir::new(&files));
    let servedir_addr = listen(servedir).await?;

    for (what, path) in [
        (
            "full tile (kept in memory after the first request)",
            "tile/0/005",
        ),
        (
            "partial tile (read from the store each time)",
            "tile/0/016.p/100",
        ),
    ] {
        let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (addr, url, auth) = if k == 0 {
                    (
                        stepwise_addr,
                        format!("/tlog/{path}"),
                        Some(reader.as_str()),
                    )
                } else {
                    (servedir_addr, format!("/{path}"), None)
                };
                let rate =
                    load(addr, &url, auth, connections, Duration::from_secs(seconds)).await?;
                rates[k].push(rate);
            }
        }
        let per_round: Vec<f64> = rates[0].iter().zip(&rates[1]).map(|(a, b)| a / b).collect();
        let [ours, theirs] = [median(rates[0].clone()), median(rates[1].clone())];
        println!("{what}, {rounds} rounds of {seconds} s, {connections} connections:");
        println!("  tiles API: median {ours:10.0} requests/s");
        println!("  ServeDir:  median {theirs:10.0} requests/s");
        println!(
            "  tiles API / ServeDir: {:.2} (of the medians), {:.2} (median of the rounds)",
            ours / theirs,
            median(per_round)
        );
    }
    tokio::task::spawn_blocking(move || server.stop()).await?;
    Ok(())
}

/// A server on a fresh data directory with no rate limit that matters, a reader key, and a
/// recorder key for `user:ann`.
fn open(data: &std::path::Path) -> Result<(Server, String, String), Failure> {
    let data_dir = DataDir::new(data);
    data_dir.create(None)?;
    let mut store = data_dir.open_store()?;
    let now = stepwise::ledger::SystemClock.now();
    let reader = generate_key()?;
    store.put_key(&KeyRecord::new(&reader, Role::Reader, None, now))?;
    let recorder = generate_key()?;
    let ann = stepwise::evidence::Id::parse("principal", "user:ann")?;
    store.put_key(&KeyRecord::new(&recorder, Role::Recorder, Some(ann), now))?;
    drop(store);
    let limits = Limits {
        rate: 1e12,
        burst: 1e12,
        ..Limits::default()
    };
    let server = Server::open(&Config {
        addr: "127.0.0.1:0".parse()?,
        data: data.to_path_buf(),
        store: None,
        limits,
    })?;
    Ok((server, reader, recorder))
}

/// [`ENTRIES`] ratings, a thousand a request.
async fn fill(router: &axum::Router, recorder: &str) -> Result<(), Failure> {
    let now = stepwise::ledger::SystemClock.now();
    let mut left = ENTRIES;
    let mut n = 0;
    while left > 0 {
        let take = left.min(1000);
        let batch: Vec<serde_json::Value> = (n..n + take)
            .map(|i| {
                serde_json::json!({"kind": "rating", "at": now.to_string(), "rater": "user:ann",
                    "subject": format!("user:s{i}"), "value": 1})
            })
            .collect();
        let request = Request::post("/v1/events")
            .header("authorization", format!("Bearer {recorder}"))
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&batch)?))?;
        let response = router.clone().oneshot(request).await?;
        if !response.status().is_success() {
            return Err(format!("filling the log: {}", response.status()).into());
        }
        left -= take;
        n += take;
    }
    Ok(())
}

async fn get(router: &axum::Router, path: &str, key: &str) -> Result<Vec<u8>, Failure> {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    if !response.status().is_success() {
        return Err(format!("{path}: {}", response.status()).into());
    }
    Ok(axum::body::to_bytes(response.into_body(), usize::MAX)
        .await?
        .to_vec())
}

/// Serves `router` on a free port, answering without Nagle's delay (ServeDir writes a header
/// and a body apart; `stepwise serve` does the same).
async fn listen(router: axum::Router) -> Result<SocketAddr, Failure> {
    use axum::serve::ListenerExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

/// Requests per second over `connections` keep-alive connections for `time`.
async fn load(
    addr: SocketAddr,
    path: &str,
    key: Option<&str>,
    connections: u64,
    time: Duration,
) -> Result<f64, Failure> {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n");
    let start = Instant::now();
    let until = start + time;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                hammer(addr, request, until)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut answered = 0;
    for task in tasks {
        answered += task.await??;
    }
    Ok(answered as f64 / start.elapsed().as_secs_f64())
}

/// One connection asking `request` until `until`; the number of 200 answers.
async fn hammer(addr: SocketAddr, request: String, until: Instant) -> Result<u64, Failure> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(16 << 10);
    let mut chunk = vec![0u8; 16 << 10];
    let mut answered = 0;
    while Instant::now() < until {
        stream.write_all(request.as_bytes()).await?;
        buf.clear();
        let (head, body) = loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .ok_or("an answer without content-length")?
                    .trim()
                    .parse()?;
                break (head, end + 4 + len);
            }
        };
        while buf.len() < body {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if !head.starts_with("http/1.1 200") {
            return Err(format!("not 200: {head}").into());
        }
        answered += 1;
    }
    Ok(answered)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
