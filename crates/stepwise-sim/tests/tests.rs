//! Evaluation on the real data sets and the simulated attacks, in one test binary.

mod approvals;
mod eval;
mod generate;
mod simulate;
