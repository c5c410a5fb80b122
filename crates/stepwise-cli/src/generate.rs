//! `stepwise generate`: a large, realistic log as JSON lines on standard output, for
//! `stepwise import - --history` (see `stepwise_sim::generate`). Nothing is read or written
//! but standard output; the same flags give the same bytes.

use anyhow::Result;
use clap::Args;
use std::io::{self, Write as _};
use stepwise::evidence::Time;
use stepwise_sim::generate::{Config, DEFAULT_SPAN_DAYS, Generator};

#[derive(Args)]
pub struct GenerateArgs {
    /// How many events to write (one JSON line each).
    #[arg(long)]
    events: u64,
    /// How many principals (`gen:0`, `gen:1`, …); by default one per 8.3 events, Epinions'
    /// 6.39 trust edges per principal plus the outcomes of their promises.
    #[arg(long)]
    principals: Option<u64>,
    /// The seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Every event is dated before this instant (RFC 3339; default 2026-01-01T00:00:00Z, fixed
    /// so that a seed gives the same log on any day).
    #[arg(long)]
    until: Option<String>,
    /// How many days the events span, ending at `--until` (default: Bitcoin OTC's 1903).
    #[arg(long, default_value_t = DEFAULT_SPAN_DAYS)]
    span_days: u32,
}

pub fn run(args: GenerateArgs) -> Result<bool> {
    let mut config = Config::new(args.events);
    config.principals = args.principals;
    config.seed = args.seed;
    config.span_days = args.span_days;
    if let Some(until) = &args.until {
        config.until = Time::parse("--until", until)?;
    }
    let mut generator = Generator::new(&config)?;
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    generator.write_to(&mut out)?;
    out.flush()?;
    Ok(true)
}
