//! The `rubber-stamp` scenario over seeds (docs/EVALUATION.md, "Approvals"): for each seed, how
//! many broken approved promises it took the rubber stamp to lose the power to approve, and
//! what became of the honest approver; then the median and the most.
//!
//! `cargo run -p stepwise-sim --example rubber_stamp [FIRST_SEED LAST_SEED [ROUNDS]]` (seeds 1
//! to 20 and 200 rounds by default); `--json` prints one JSON object a run instead.

use stepwise_sim::simulate::{DEFAULT_ROUNDS, rubber_stamp_over};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    args.retain(|a| a != "--json");
    let number = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("{a:?} is not a whole number");
                std::process::exit(2)
            })
        })
    };
    let (first, last) = (number(0, 1), number(1, 20));
    let rounds = u32::try_from(number(2, u64::from(DEFAULT_ROUNDS))).unwrap_or(u32::MAX);
    let summary = rubber_stamp_over(first..=last, rounds);
    if json {
        for run in &summary.runs {
            println!("{}", run.to_json());
        }
        return;
    }
    println!("rubber-stamp, seeds {first}–{last}, {rounds} rounds");
    println!("      | the rubber stamp{:51}| the honest approver", "");
    println!(
        "{:>5} | {:>9} {:>6} {:>7} {:>9} {:>8} {:>6} {:>8} | {:>9} {:>5} {:>6} {:>6} {:>8} {:>8}",
        "seed",
        "approvals",
        "broken",
        "lost on",
        "broken by",
        "let thru",
        "record",
        "back in",
        "approvals",
        "kept",
        "broken",
        "record",
        "refused:",
        "level"
    );
    let show = |v: Option<u32>| v.map_or("—".to_owned(), |v| v.to_string());
    for run in &summary.runs {
        let (s, h) = (&run.stamp, &run.honest);
        let back = s.back_after_days.map_or("—".to_owned(), |d| {
            format!("{:.1}y", f64::from(d) / 365.0)
        });
        println!(
            "{:>5} | {:>9} {:>6} {:>7} {:>9} {:>8} {:>6.3} {:>8} | {:>9} {:>5} {:>6} {:>6.3} {:>8} {:>8}",
            run.seed,
            s.approvals,
            s.broken,
            show(s.lost_at),
            show(s.broken_before_loss),
            s.stake_lost,
            s.record,
            back,
            h.approvals,
            h.kept,
            h.broken,
            h.record,
            format!("record {}", h.refused_for_record),
            h.refused_for_level
        );
    }
    println!(
        "broken approved promises before the rubber stamp lost the power: median {}, most {}; \
         the honest approver lost it in {} of {} runs",
        show(summary.median_broken_before_loss),
        show(summary.max_broken_before_loss),
        summary.honest_lost,
        summary.runs.len()
    );
}
