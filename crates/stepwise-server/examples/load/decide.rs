//! The decide phase: `POST /v1/decide`, explained and as a bare verdict, against two yardsticks
//! on the same server in alternating rounds: `GET /healthz`, which reads no key and no body, and
//! the fair peer `POST /bench/peer/decide`, which does a decision's request work (key, body,
//! parse) and answers a constant reply of the decisions' mean size. The peer exists only in a
//! server built with the `bench-peer` feature (`cargo build --release -p stepwise-cli --features
//! bench-peer`); without it the phase says so and measures against healthz alone.

use super::*;

/// Which decisions the decide phase asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decisions {
    Explained,
    Verdict,
    Both,
}

impl Decisions {
    fn kinds(self) -> &'static [Kind] {
        match self {
            Self::Explained => &[Kind::Explained],
            Self::Verdict => &[Kind::Verdict],
            Self::Both => &[Kind::Explained, Kind::Verdict],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Explained,
    Verdict,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Explained => "explained",
            Self::Verdict => "verdict",
        }
    }
}

/// The decision requests the phase sends, of one kind, to `path`.
fn requests(
    addr: SocketAddr,
    path: &str,
    reader: &str,
    subjects: &[String],
    kind: Kind,
) -> Vec<Vec<u8>> {
    const CAPABILITIES: [&str; 2] = ["read", "propose"];
    const STAKES: [&str; 5] = ["0", "1", "5", "20", "100"];
    (0..8192_usize)
        .map(|i| {
            let body = format!(
                r#"{{"subject":"{}","capability":"{}","stake":{}{}}}"#,
                subjects[i.wrapping_mul(7919) % subjects.len()],
                CAPABILITIES[i % 2],
                STAKES[(i / 2) % STAKES.len()],
                if kind == Kind::Verdict {
                    r#","explain":false"#
                } else {
                    ""
                }
            );
            post(addr, path, reader, &body)
        })
        .collect()
}

/// A constant reply of `bytes` bytes that a decision's check accepts.
fn constant_reply(bytes: usize) -> String {
    let head = r#"{"allowed":false,"peer":""#;
    let pad = bytes.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// Every request of `load` once, one at a time: the mean reply body in bytes and how many of
/// the first 500 were allowed.
async fn mean_reply(addr: SocketAddr, load: &Load) -> Result<(f64, usize), String> {
    let mut conn = Connection::open(addr).await?;
    let (mut bytes, mut allowed) = (0_usize, 0_usize);
    for (i, request) in load.requests.iter().enumerate() {
        let reply = conn.exchange(request).await?;
        if !reply.is_success() || !load.check.passes(&reply.body) {
            return Err(format!("{}: {}", load.name, reply.describe()));
        }
        bytes += reply.body.len();
        if i < 500 && reply.body.windows(14).any(|w| w == br#""allowed":true"#) {
            allowed += 1;
        }
    }
    Ok((bytes as f64 / load.requests.len() as f64, allowed))
}

pub(crate) async fn decide_against_peers(
    o: &Options,
    addr: SocketAddr,
    reader: &str,
    subjects: &[String],
) -> Result<(String, Value), String> {
    let kinds = o.decisions.kinds();
    let decide: Vec<Load> = kinds
        .iter()
        .map(|&k| {
            Load::new(
                "decide",
                requests(addr, "/v1/decide", reader, subjects, k),
                Check::Decision,
            )
        })
        .collect();
    let healthz = Load::new("healthz", vec![get(addr, "/healthz", None)], Check::Status);

    // One decision, shown so a reader of the output sees what was asked and answered.
    let sample = Connection::open(addr)
        .await?
        .exchange(&decide[0].requests[0])
        .await?;
    if !sample.is_success() || !Check::Decision.passes(&sample.body) {
        return Err(format!("POST /v1/decide: {}", sample.describe()));
    }
    let mut sizes = [0.0; 2];
    let mut allowed = 0;
    for (load, &kind) in decide.iter().zip(kinds) {
        let (size, a) = mean_reply(addr, load).await?;
        sizes[kind as usize] = size;
        allowed = a;
    }
    // The peer answers each kind with a constant reply of that kind's mean size.
    let size_of = |kind: Kind| sizes[kind as usize].round() as usize;
    let set = json!({
        "explained": constant_reply(size_of(Kind::Explained).max(64)),
        "verdict": constant_reply(size_of(Kind::Verdict).max(64)),
    })
    .to_string();
    let reply = Connection::open(addr)
        .await?
        .exchange(&put(addr, "/bench/peer", reader, &set))
        .await?;
    let peer: Vec<Load> = if reply.is_success() {
        kinds
            .iter()
            .map(|&k| {
                Load::new(
                    "peer",
                    requests(addr, "/bench/peer/decide", reader, subjects, k),
                    Check::Decision,
                )
            })
            .collect()
    } else if reply.status == 404 {
        eprintln!(
            "load: this server has no peer (POST /bench/peer/decide): build it with \
             `cargo build --release -p stepwise-cli --features bench-peer`; measuring against healthz alone"
        );
        Vec::new()
    } else {
        return Err(format!("PUT /bench/peer: {}", reply.describe()));
    };

    // Every load: healthz, then decide and its peer for each kind.
    let mut loads: Vec<(String, &Load)> = vec![("GET /healthz".into(), &healthz)];
    for (i, &kind) in kinds.iter().enumerate() {
        loads.push((format!("POST /v1/decide, {}", kind.name()), &decide[i]));
        if let Some(p) = peer.get(i) {
            loads.push((format!("POST /bench/peer/decide, {}", kind.name()), p));
        }
    }
    let bound = o.round();
    if let Some(warm) = o.warm_up() {
        for (_, load) in &loads {
            drive(addr, load, o.connections, warm).await?.checked()?;
        }
    }
    let mut rounds: Vec<Vec<Round>> = loads.iter().map(|_| Vec::new()).collect();
    for round in 0..o.rounds {
        // Reverse the order every other round, so a trend in the noise favours none.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..loads.len()).collect()
        } else {
            (0..loads.len()).rev().collect()
        };
        for i in order {
            rounds[i].push(
                drive(addr, loads[i].1, o.connections, bound)
                    .await?
                    .checked()?,
            );
        }
        eprintln!(
            "load: round {}: {}",
            round + 1,
            loads
                .iter()
                .zip(&rounds)
                .map(|((name, _), r)| format!("{name} {:.0} req/s", r[round].per_second()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let summaries: Vec<Summary> = rounds.iter().map(|r| Summary::of(r)).collect();
    let mut text = format!(
        "decide against healthz and the peer: {} connections, {} rounds of at most {} s or {} requests, medians\n\
         (sample decision: {}; {allowed} of 500 sampled decisions allowed)\n\n\
         | endpoint | req/s | p50 | p99 | server CPU per request | client CPU per request | reply body | requests |\n\
         |---|---|---|---|---|---|---|---|\n",
        o.connections,
        o.rounds,
        o.seconds,
        o.requests,
        String::from_utf8_lossy(&sample.body),
    );
    for ((name, _), s) in loads.iter().zip(&summaries) {
        text.push_str(&format!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.1} µs | {:.0} B | {} |\n",
            s.per_second,
            s.p50_us,
            s.p99_us,
            s.server_cpu_us,
            s.client_cpu_us,
            s.body_bytes,
            s.requests
        ));
    }
    text.push('\n');
    let mut value = json!({
        "healthz": summaries[0].json(&rounds[0]),
        "sampled_allowed_of_500": allowed,
        "peer_built": !peer.is_empty(),
    });
    // The ratio of medians, and the ratio round by round.
    let ratio = |a: usize, b: usize| -> (f64, Vec<f64>) {
        let per_round = rounds[a]
            .iter()
            .zip(&rounds[b])
            .map(|(a, b)| a.per_second() / b.per_second())
            .collect();
        (summaries[a].per_second / summaries[b].per_second, per_round)
    };
    let list = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for &kind in kinds {
        let d = loads
            .iter()
            .position(|(n, _)| *n == format!("POST /v1/decide, {}", kind.name()))
            .unwrap_or(0);
        let p = loads
            .iter()
            .position(|(n, _)| *n == format!("POST /bench/peer/decide, {}", kind.name()));
        let (over_healthz, per_round_h) = ratio(d, 0);
        text.push_str(&format!(
            "{} decision / healthz throughput: {over_healthz:.2} (per round: {})\n",
            kind.name(),
            list(&per_round_h)
        ));
        let mut entry = json!({
            "decide": summaries[d].json(&rounds[d]),
            "ratio_healthz": over_healthz,
            "ratios_healthz": per_round_h,
        });
        if let Some(p) = p {
            let (over_peer, per_round_p) = ratio(d, p);
            text.push_str(&format!(
                "{} decision / peer throughput: {over_peer:.2} (per round: {}; target ≥ 0.80); \
                 server CPU per request, decision − peer: {:.1} µs\n",
                kind.name(),
                list(&per_round_p),
                summaries[d].server_cpu_us - summaries[p].server_cpu_us,
            ));
            entry["peer"] = summaries[p].json(&rounds[p]);
            entry["ratio_peer"] = json!(over_peer);
            entry["ratio_peer_median_of_rounds"] = json!(median(&per_round_p));
            entry["ratios_peer"] = json!(per_round_p);
        }
        value[kind.name()] = entry;
    }
    text.push('\n');
    Ok((text, value))
}
