//! The mixed phase: clients asking for trust figures and decisions while other clients append,
//! against the same questions and the same appends alone, in the same run. It shows what
//! writing costs reading (the network rank is refreshed in the background, so an append must
//! not make the next question wait for it) and what reading costs writing.

use super::*;

/// Latency and throughput of one kind of request, alone and under the other load.
struct Pair {
    alone: Summary,
    mixed: Summary,
    rounds_alone: Vec<Round>,
    rounds_mixed: Vec<Round>,
}

impl Pair {
    fn of(alone: Vec<Round>, mixed: Vec<Round>) -> Self {
        Self {
            alone: Summary::of(&alone),
            mixed: Summary::of(&mixed),
            rounds_alone: alone,
            rounds_mixed: mixed,
        }
    }

    fn json(&self) -> Value {
        json!({
            "alone": self.alone.json(&self.rounds_alone),
            "mixed": self.mixed.json(&self.rounds_mixed),
        })
    }
}

pub(crate) async fn mixed(
    o: &Options,
    addr: SocketAddr,
    keys: &Keys,
    subjects: &[String],
) -> Result<(String, Value), String> {
    let trusts: Vec<Vec<u8>> = (0..8192_usize)
        .map(|i| {
            let subject = &subjects[i.wrapping_mul(7919) % subjects.len()];
            get(
                addr,
                &format!("/v1/principals/{subject}/trust"),
                Some(&keys.reader),
            )
        })
        .collect();
    let decides: Vec<Vec<u8>> = (0..8192_usize)
        .map(|i| {
            let body = format!(
                r#"{{"subject":"{}","capability":"{}","stake":{}}}"#,
                subjects[i.wrapping_mul(104_729) % subjects.len()],
                ["read", "propose"][i % 2],
                [0, 1, 5, 20, 100][(i / 2) % 5],
            );
            post(addr, "/v1/decide", &keys.reader, &body)
        })
        .collect();
    let appends: Vec<Vec<u8>> = (0..20_000_u64)
        .map(|n| {
            let body = event(EventKind::Rating, n + 1, subjects);
            post(addr, "/v1/events", &keys.recorder, &body)
        })
        .collect();
    let trust = Load::new("trust", trusts, Check::Status);
    let decide = Load::new("decide", decides, Check::Decision);
    let append = Load::new("append", appends, Check::NoneRefused);
    let (trusters, deciders) = match o.trust_connections {
        Some(n) => (n, o.connections - n),
        None => ((o.connections / 2).max(1), (o.connections / 2).max(1)),
    };
    let bound = o.round();
    // Trust figures asked on `trusters` connections, decisions on the others.
    let ask_trust = |bound| drive_some(addr, &trust, trusters, bound);
    let reads =
        || async { tokio::try_join!(ask_trust(bound), drive(addr, &decide, deciders, bound)) };
    if let Some(warm) = o.warm_up() {
        ask_trust(warm).await?.map(Round::checked).transpose()?;
        drive(addr, &decide, deciders, warm).await?.checked()?;
        drive(addr, &append, o.writers, warm).await?.checked()?;
    }
    let (mut t_alone, mut d_alone, mut a_alone) = (Vec::new(), Vec::new(), Vec::new());
    let (mut t_mixed, mut d_mixed, mut a_mixed) = (Vec::new(), Vec::new(), Vec::new());
    let before = metrics(addr).await?;
    for round in 0..o.rounds {
        // Alternate the order, so a trend in the noise favours neither.
        for step in if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] } {
            match step {
                0 => {
                    let (t, d) = reads().await?;
                    t_alone.extend(t.map(Round::checked).transpose()?);
                    d_alone.push(d.checked()?);
                }
                1 => a_alone.push(drive(addr, &append, o.writers, bound).await?.checked()?),
                _ => {
                    let (t, d, a) = tokio::try_join!(
                        ask_trust(bound),
                        drive(addr, &decide, deciders, bound),
                        drive(addr, &append, o.writers, bound)
                    )?;
                    t_mixed.extend(t.map(Round::checked).transpose()?);
                    d_mixed.push(d.checked()?);
                    a_mixed.push(a.checked()?);
                }
            }
        }
        eprintln!(
            "load: mixed round {}: decide p99 {:.0} µs alone, {:.0} µs with appends; appends {:.0}/s alone, {:.0}/s with reads",
            round + 1,
            d_alone[round].percentile_us(0.99),
            d_mixed[round].percentile_us(0.99),
            a_alone[round].per_second(),
            a_mixed[round].per_second(),
        );
    }
    let after = metrics(addr).await?;
    let trust = (trusters > 0).then(|| Pair::of(t_alone, t_mixed));
    let decide = Pair::of(d_alone, d_mixed);
    let append = Pair::of(a_alone, a_mixed);
    let p99_ratio = |p: &Pair| p.mixed.p99_us / p.alone.p99_us;
    let append_ratio = append.mixed.per_second / append.alone.per_second;
    let mut text = format!(
        "mixed: {trusters} connections asking for trust and {deciders} deciding, {} appending \
         single ratings; {} rounds of at most {} s each, alone and together, medians\n\n\
         | request | alone: req/s | p50 | p99 | with the other load: req/s | p50 | p99 |\n\
         |---|---|---|---|---|---|---|\n",
        o.writers, o.rounds, o.seconds,
    );
    let rows = [
        ("GET trust", trust.as_ref()),
        ("POST /v1/decide", Some(&decide)),
        ("POST /v1/events", Some(&append)),
    ];
    for (name, p) in rows.into_iter().filter_map(|(name, p)| Some((name, p?))) {
        text.push_str(&format!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.0} | {:.0} µs | {:.0} µs |\n",
            p.alone.per_second,
            p.alone.p50_us,
            p.alone.p99_us,
            p.mixed.per_second,
            p.mixed.p50_us,
            p.mixed.p99_us,
        ));
    }
    let trust_ratio = trust.as_ref().map(p99_ratio);
    text.push_str(&format!(
        "\np99 with appends / alone: decide {:.2}{} (target ≤ 2)\n\
         appends with reads / alone: {append_ratio:.2} (target ≥ 0.5)\n\
         rank refreshes meanwhile: {}; at the end the rank was {} entries behind the log\n\n",
        p99_ratio(&decide),
        trust_ratio.map_or_else(String::new, |r| format!(", trust {r:.2}")),
        after.rank_refreshes - before.rank_refreshes,
        after.log_size.saturating_sub(after.rank_log_size),
    ));
    let value = json!({
        "trust": trust.as_ref().map(Pair::json),
        "decide": decide.json(),
        "append": append.json(),
        "trust_connections": trusters,
        "decide_connections": deciders,
        "p99_ratio_trust": trust_ratio,
        "p99_ratio_decide": p99_ratio(&decide),
        "append_ratio": append_ratio,
        "rank_refreshes": after.rank_refreshes - before.rank_refreshes,
        "rank_lag_at_end": after.log_size.saturating_sub(after.rank_log_size),
    });
    Ok((text, value))
}

/// [`drive`] on `connections` connections, or no round at all on none.
async fn drive_some(
    addr: SocketAddr,
    load: &Load,
    connections: usize,
    bound: Bound,
) -> Result<Option<Round>, String> {
    match connections {
        0 => Ok(None),
        n => drive(addr, load, n, bound).await.map(Some),
    }
}
