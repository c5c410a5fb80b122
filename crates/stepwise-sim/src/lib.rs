//! Instruments that judge stepwise against real behaviour and real attackers.
//!
//! `eval` replays a real signed trust network in time order and scores, before each rating,
//! how likely it is to be negative — stepwise and baselines side by side, with nothing from the
//! future leaking in. `simulate` runs attack scenarios in an agent-based market under stepwise's
//! ladder and under simple baselines. Everything runs in memory and is deterministic.

pub mod eval;
pub mod simulate;
