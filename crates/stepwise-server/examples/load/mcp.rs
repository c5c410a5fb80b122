//! The mcp phase: the `decide` tool through `POST /mcp` (MCP over streamable HTTP: a JSON-RPC
//! `tools/call`, answered with the decision as structured content and again as text) against
//! `POST /v1/decide` with the same decisions, on the same server in alternating rounds. What
//! separates them is the protocol's cost: the JSON-RPC envelope, rmcp's request handling (a
//! stateless service per request) and a reply about twice the size.

use super::*;

/// The same 8,192 decisions, as `POST /v1/decide` bodies or as `decide` tool calls.
fn requests(addr: SocketAddr, reader: &str, subjects: &[String], mcp: bool) -> Vec<Vec<u8>> {
    const CAPABILITIES: [&str; 2] = ["read", "propose"];
    const STAKES: [&str; 5] = ["0", "1", "5", "20", "100"];
    (0..8192_usize)
        .map(|i| {
            let arguments = format!(
                r#"{{"subject":"{}","capability":"{}","stake":{}}}"#,
                subjects[i.wrapping_mul(7919) % subjects.len()],
                CAPABILITIES[i % 2],
                STAKES[(i / 2) % STAKES.len()],
            );
            if mcp {
                let call = format!(
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"decide","arguments":{arguments}}}}}"#
                );
                post_mcp(addr, reader, &call)
            } else {
                post(addr, "/v1/decide", reader, &arguments)
            }
        })
        .collect()
}

pub(crate) async fn decide_over_mcp(
    o: &Options,
    addr: SocketAddr,
    reader: &str,
    subjects: &[String],
) -> Result<(String, Value), String> {
    let rest = Load::new(
        "decide",
        requests(addr, reader, subjects, false),
        Check::Decision,
    );
    let mcp = Load::new(
        "mcp",
        requests(addr, reader, subjects, true),
        Check::Decision,
    );
    // A tool error (the decision refused as a call) would still hold `"allowed":` nowhere.
    let sample = Connection::open(addr)
        .await?
        .exchange(&mcp.requests[0])
        .await?;
    if !sample.is_success() || !Check::Decision.passes(&sample.body) {
        return Err(format!("POST /mcp: {}", sample.describe()));
    }
    let loads = [
        ("POST /v1/decide", &rest),
        ("POST /mcp, tools/call decide", &mcp),
    ];
    if let Some(warm) = o.warm_up() {
        for (_, load) in &loads {
            drive(addr, load, o.connections, warm).await?.checked()?;
        }
    }
    let bound = o.round();
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        // Reverse the order every other round, so a trend in the noise favours neither.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            rounds[i].push(
                drive(addr, loads[i].1, o.connections, bound)
                    .await?
                    .checked()?,
            );
        }
        eprintln!(
            "load: round {}: decide {:.0} req/s, mcp {:.0} req/s",
            round + 1,
            rounds[0][round].per_second(),
            rounds[1][round].per_second()
        );
    }
    let summaries = [Summary::of(&rounds[0]), Summary::of(&rounds[1])];
    let per_round = |f: &dyn Fn(&Round) -> f64| -> Vec<f64> {
        rounds[1]
            .iter()
            .zip(&rounds[0])
            .map(|(m, d)| f(m) / f(d))
            .collect()
    };
    let p50_ratios = per_round(&|r| r.percentile_us(0.50));
    let throughput_ratios = per_round(&Round::per_second);
    let p50_ratio = summaries[1].p50_us / summaries[0].p50_us;
    let throughput_ratio = summaries[1].per_second / summaries[0].per_second;
    let list = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "decide through /mcp against POST /v1/decide: {} connections, {} rounds of at most {} s or {} requests, medians\n\n\
         | endpoint | req/s | p50 | p99 | server CPU per request | client CPU per request | reply body | requests |\n\
         |---|---|---|---|---|---|---|---|\n",
        o.connections, o.rounds, o.seconds, o.requests,
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
    text.push_str(&format!(
        "\nmcp / decide, median latency (p50): {p50_ratio:.2} (per round: {}); throughput: \
         {throughput_ratio:.2} (per round: {})\n\n",
        list(&p50_ratios),
        list(&throughput_ratios)
    ));
    let value = json!({
        "decide": summaries[0].json(&rounds[0]),
        "mcp": summaries[1].json(&rounds[1]),
        "p50_ratio": p50_ratio,
        "p50_ratios": p50_ratios,
        "throughput_ratio": throughput_ratio,
        "throughput_ratios": throughput_ratios,
    });
    Ok((text, value))
}
