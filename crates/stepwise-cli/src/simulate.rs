//! `stepwise simulate`: attack scenarios in an agent-based market, under stepwise's ladder and
//! under two baselines, same world and seed. In memory; deterministic for a seed.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use stepwise::policy::Policy;
use stepwise_sim::simulate::{self, Config, SCENARIOS, Scenario};

#[derive(Args)]
pub struct SimulateArgs {
    /// The scenario (honest, on-off, slow-con, whitewash, sybil, badmouth, ballot-stuff,
    /// camouflage, slice, exit-scam, promisee-ring, old-ring, rating-ring, insider), or `all`.
    #[arg(long)]
    scenario: String,
    /// The seed of every random draw.
    #[arg(long, default_value_t = simulate::DEFAULT_SEED)]
    seed: u64,
    /// Rounds (days) to simulate.
    #[arg(long, default_value_t = simulate::DEFAULT_ROUNDS)]
    rounds: u32,
    /// A policy file (`stepwise.toml`) whose `[model]` and `[ladder]` the stepwise system runs
    /// under, to measure a change of settings; the default policy otherwise.
    #[arg(long, value_name = "FILE")]
    policy: Option<std::path::PathBuf>,
}

pub fn run(args: SimulateArgs, out: &mut Out) -> Result<bool> {
    if args.rounds == 0 || args.rounds > simulate::MAX_ROUNDS {
        bail!(
            "--rounds must be between 1 and {}, not {}",
            simulate::MAX_ROUNDS,
            args.rounds
        );
    }
    let scenarios: Vec<Scenario> = if args.scenario == "all" {
        SCENARIOS
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![args.scenario.parse()?]
    };
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the policy {}", path.display()))?;
            Policy::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Policy::default(),
    };
    let reports: Vec<_> = scenarios
        .into_iter()
        .map(|scenario| {
            let config = Config {
                scenario,
                seed: args.seed,
                rounds: args.rounds,
            };
            simulate::run_with(&config, policy.model.clone(), policy.ladder.clone())
        })
        .collect();
    let json = match reports.as_slice() {
        [one] => one.to_json(),
        many => Value::Array(many.iter().map(|r| r.to_json()).collect()),
    };
    out.emit(&json, |w| {
        for report in &reports {
            writeln!(
                w,
                "scenario {} (seed {}, {} rounds)",
                report.scenario, report.seed, report.rounds
            )?;
            writeln!(
                w,
                "  {:<10} {:>14} {:>14} {:>16} {:>17}",
                "system", "attacker gain", "honest gain", "honest friction", "honest shortfall"
            )?;
            for r in &report.results {
                writeln!(
                    w,
                    "  {:<10} {:>14.0} {:>14.0} {:>15.1}% {:>16.1}%",
                    r.system,
                    r.attacker_gain,
                    r.honest_gain,
                    r.honest_friction * 100.0,
                    r.honest_shortfall * 100.0
                )?;
            }
            if let Some(t) = report.target() {
                writeln!(
                    w,
                    "  target: attacker gain {} of the average baseline's ({}), friction {}; shortfall {}",
                    t.gain_ratio
                        .map_or("—".to_owned(), |g| format!("{:.1}%", g * 100.0)),
                    if t.gain_ok {
                        "≤ 10%: met"
                    } else {
                        "> 10%: missed"
                    },
                    if t.friction_ok {
                        "no worse: met"
                    } else {
                        "worse: missed"
                    },
                    if t.shortfall_ok {
                        "no worse"
                    } else {
                        "worse"
                    }
                )?;
            }
        }
        Ok(())
    })?;
    Ok(true)
}
