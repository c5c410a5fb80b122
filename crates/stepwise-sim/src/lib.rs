//! Instruments that judge stepwise against real behaviour and real attackers.
//!
//! `eval` replays a real signed trust network in time order and scores, before each rating,
//! how likely it is to be negative — stepwise and baselines side by side, with nothing from the
//! future leaking in. `simulate` runs attack scenarios in an agent-based market under stepwise's
//! ladder and under simple baselines. `generate` writes large, realistic logs (a power-law trust
//! graph shaped like the real data sets) for `stepwise import`, in a stream. Everything runs in
//! memory and is deterministic.
//!
//! ```
//! use stepwise_sim::eval::auc;
//! use stepwise_sim::simulate::{Config, Scenario, run};
//!
//! // The one positive outranks both negatives.
//! assert_eq!(auc(&[0.2, 0.9, 0.4], &[false, true, false]), Some(1.0));
//! let report = run(&Config { scenario: Scenario::OnOff, seed: 3, rounds: 30 });
//! assert_eq!(report.results.len(), 3);
//! ```

pub mod eval;
pub mod generate;
pub mod simulate;
