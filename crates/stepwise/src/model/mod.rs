//! The trust model: how evidence in the log becomes trust figures.
//!
//! `opinion` is subjective-logic arithmetic, `rank` is network reputation (EigenTrust) over the
//! graph of local trust, and `state` folds the log into everything a trust query needs. Every
//! formula and default is in docs/MODEL.md. Nothing here does I/O or reads the clock.

pub mod opinion;
pub mod params;
pub mod rank;
pub mod state;
