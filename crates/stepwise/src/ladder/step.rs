//! Steps on the ladder: one promotion or demotion of a principal, and why it happened.

use crate::evidence::Time;

/// Why a principal moved on the ladder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepCause {
    /// Every requirement of the next level was met (at the event at `index`, or by time passing).
    Promoted {
        /// The event that completed the requirements, if an event did.
        index: Option<u64>,
    },
    /// A promise was recorded as broken.
    Broken {
        /// The outcome's log index.
        index: u64,
        /// The promise's stake.
        stake: f64,
    },
    /// A promise passed its due instant without an outcome.
    Overdue {
        /// The promise's log index.
        index: u64,
        /// The promise's stake.
        stake: f64,
    },
    /// Standing fell below the level's minimum by more than the margin.
    FellBelow {
        /// The event after which it was noticed, if an event.
        index: Option<u64>,
        /// Expected trust then.
        expected: f64,
        /// Uncertainty then.
        uncertainty: f64,
    },
}

impl StepCause {
    /// The log entry behind the step, if any.
    pub fn index(&self) -> Option<u64> {
        match *self {
            StepCause::Promoted { index } | StepCause::FellBelow { index, .. } => index,
            StepCause::Broken { index, .. } | StepCause::Overdue { index, .. } => Some(index),
        }
    }
}

/// One promotion or demotion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// When.
    pub at: Time,
    /// From which level.
    pub from: usize,
    /// To which level.
    pub to: usize,
    /// Why.
    pub cause: StepCause,
}
