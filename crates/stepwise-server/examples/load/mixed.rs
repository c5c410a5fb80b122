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
    let readers = (o.connections / 2).max(1);
    let bound = o.round();
    let reads = || async {
        tokio::try_join!(
            drive(addr, &trust, readers, bound),
            drive(addr, &decide, readers, bound)
        )
    };
    if let Some(warm) = o.warm_up() {
        drive(addr, &trust, readers, warm).await?.checked()?;
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
                    t_alone.push(t.checked()?);
                    d_alone.push(d.checked()?);
                }
                1 => a_alone.push(drive(addr, &append, o.writers, bound).await?.checked()?),
                _ => {
                    let (t, d, a) = tokio::try_join!(
                        drive(addr, &trust, readers, bound),
                        drive(addr, &decide, readers, bound),
                        drive(addr, &append, o.writers, bound)
                    )?;
                    t_mixed.push(t.checked()?);
                    d_mixed.push(d.checked()?);
                    a_mixed.push(a.checked()?);
                }
            }
        }
        eprintln!(
            "load: mixed round {}: trust p99 {:.0} µs alone, {:.0} µs with appends; appends {:.0}/s alone, {:.0}/s with reads",
            round + 1,
            t_alone[round].percentile_us(0.99),
            t_mixed[round].percentile_us(0.99),
            a_alone[round].per_second(),
            a_mixed[round].per_second(),
        );
    }
    let after = metrics(addr).await?;
    let trust = Pair::of(t_alone, t_mixed);
    let decide = Pair::of(d_alone, d_mixed);
    let append = Pair::of(a_alone, a_mixed);
    let p99_ratio = |p: &Pair| p.mixed.p99_us / p.alone.p99_us;
    let append_ratio = append.mixed.per_second / append.alone.per_second;
    let mut text = format!(
        "mixed: {readers} connections asking for trust and {readers} deciding, {} appending single \
         ratings; {} rounds of at most {} s each, alone and together, medians\n\n\
         | request | alone: req/s | p50 | p99 | with the other load: req/s | p50 | p99 |\n\
         |---|---|---|---|---|---|---|\n",
        o.writers, o.rounds, o.seconds,
    );
    for (name, p) in [
        ("GET trust", &trust),
        ("POST /v1/decide", &decide),
        ("POST /v1/events", &append),
    ] {
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
    text.push_str(&format!(
        "\np99 with appends / alone: trust {:.2}, decide {:.2} (target ≤ 2)\n\
         appends with reads / alone: {append_ratio:.2} (target ≥ 0.5)\n\
         rank refreshes meanwhile: {}; at the end the rank was {} entries behind the log\n\n",
        p99_ratio(&trust),
        p99_ratio(&decide),
        after.rank_refreshes - before.rank_refreshes,
        after.log_size.saturating_sub(after.rank_log_size),
    ));
    let value = json!({
        "trust": trust.json(),
        "decide": decide.json(),
        "append": append.json(),
        "p99_ratio_trust": p99_ratio(&trust),
        "p99_ratio_decide": p99_ratio(&decide),
        "append_ratio": append_ratio,
        "rank_refreshes": after.rank_refreshes - before.rank_refreshes,
        "rank_lag_at_end": after.log_size.saturating_sub(after.rank_log_size),
    });
    Ok((text, value))
}
