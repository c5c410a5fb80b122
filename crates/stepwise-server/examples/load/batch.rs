//! The batch phase: decisions one per request (`POST /v1/decide`) against the same decisions a
//! hundred per request (`POST /v1/decide/batch`), in alternating rounds of the same run.

use super::*;

/// Decisions in one batch request.
const PER_BATCH: usize = 100;

pub(crate) async fn batch(
    o: &Options,
    addr: SocketAddr,
    reader: &str,
    subjects: &[String],
) -> Result<(String, Value), String> {
    let bodies: Vec<String> = (0..8192_usize)
        .map(|i| {
            format!(
                r#"{{"subject":"{}","capability":"{}","stake":{}}}"#,
                subjects[i.wrapping_mul(7919) % subjects.len()],
                ["read", "propose"][i % 2],
                [0, 1, 5, 20, 100][(i / 2) % 5],
            )
        })
        .collect();
    let singles = bodies
        .iter()
        .map(|b| post(addr, "/v1/decide", reader, b))
        .collect();
    let batches = bodies
        .chunks(PER_BATCH)
        .map(|chunk| {
            post(
                addr,
                "/v1/decide/batch",
                reader,
                &format!("[{}]", chunk.join(",")),
            )
        })
        .collect();
    let single = Load::new("decide", singles, Check::Decision);
    let batched = Load::new("decide/batch", batches, Check::Decision);
    let bound = o.round();
    if let Some(warm) = o.warm_up() {
        drive(addr, &batched, o.connections, warm)
            .await?
            .checked()?;
    }
    let (mut rounds_s, mut rounds_b) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let (first, second) = if round % 2 == 0 {
            (&single, &batched)
        } else {
            (&batched, &single)
        };
        for load in [first, second] {
            let r = drive(addr, load, o.connections, bound).await?.checked()?;
            if std::ptr::eq(load, &single) {
                rounds_s.push(r);
            } else {
                rounds_b.push(r);
            }
        }
    }
    let s = Summary::of(&rounds_s);
    let b = Summary::of(&rounds_b);
    let per_batch = PER_BATCH as f64;
    let ratios: Vec<f64> = rounds_s
        .iter()
        .zip(&rounds_b)
        .map(|(s, b)| b.per_second() * per_batch / s.per_second())
        .collect();
    let ratio = b.per_second * per_batch / s.per_second;
    let text = format!(
        "decisions one per request against {PER_BATCH} per request: {} connections, {} rounds of at most {} s, medians\n\n\
         | endpoint | requests/s | decisions/s | p50 per request | p99 per request |\n\
         |---|---|---|---|---|\n\
         | POST /v1/decide | {:.0} | {:.0} | {:.0} µs | {:.0} µs |\n\
         | POST /v1/decide/batch | {:.0} | {:.0} | {:.0} µs | {:.0} µs |\n\n\
         batched / single decisions per second: {ratio:.1} (per round: {}; target ≥ 5)\n\n",
        o.connections,
        o.rounds,
        o.seconds,
        s.per_second,
        s.per_second,
        s.p50_us,
        s.p99_us,
        b.per_second,
        b.per_second * per_batch,
        b.p50_us,
        b.p99_us,
        ratios
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let value = json!({
        "single": s.json(&rounds_s),
        "batch": b.json(&rounds_b),
        "decisions_per_batch": PER_BATCH,
        "ratio": ratio,
        "ratios": ratios,
    });
    Ok((text, value))
}
