//! Approvals: a call the ladder refused "not yet", let through by an approver who answers for
//! the promise it allows (docs/MODEL.md "Approvals").
//!
//! An approval is remembered until the promise it names is made by the approval's subject; the
//! promise then carries its approver until its outcome. The outcome earns or costs the approver
//! in its **approval record**, decaying evidence like any other (kept: positive; broken:
//! negative, `λ` times as heavy), and a broken one also counts against the approver's standing
//! in the promisee's view (`approval_liability`). A promisee that is the approver itself earns
//! it nothing by calling the promise kept. A promise left overdue costs the approver nothing:
//! it answers for the call it let through, not for the promisee's silence. Nothing here does
//! I/O or reads the clock.

use super::decay::Decaying;
use super::opinion::{Evidence, Opinion};
use super::state::{PromiseFacts, Source, TrustState};
use crate::HashMap;
use crate::evidence::{Id, OutcomeResult, Time};

/// An approval waiting for the promise it allows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Waiting {
    approver: u32,
    subject: u32,
    index: u64,
}

/// The approver of an approved promise, remembered with the promise until its outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Approved {
    pub(super) approver: u32,
    /// The approval's log index.
    pub(super) index: u64,
}

/// One approver's approval record as folded.
#[derive(Debug, Clone, Default, PartialEq)]
struct Book {
    /// Positive (kept) and negative (broken) evidence about its approvals.
    evidence: Decaying,
    approvals: u32,
    kept: u32,
    broken: u32,
    partial: u32,
    /// Outcomes it judged itself (as the promisee), which earn it nothing.
    self_judged: u32,
    /// The outcomes of its approved promises, in log order.
    outcomes: Vec<u64>,
}

/// What the trust state knows of approvals.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Approvals {
    /// By the id of the promise they allow (the log's name for it).
    waiting: HashMap<Id, Waiting>,
    /// By approver.
    books: HashMap<u32, Book>,
}

/// An approver's approval record at an instant ([`TrustState::approval_record`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// Positive evidence: the weight of its approved promises kept (judged by someone else),
    /// decayed to the instant asked about.
    pub kept_weight: f64,
    /// Negative evidence: `λ` times the weight of its approved promises broken, decayed.
    pub broken_weight: f64,
    /// The record: the expected value of the opinion from that evidence at base rate ½,
    /// `(kept + W/2) / (kept + broken + W)`; ½ with no evidence.
    pub expected: f64,
    /// Approvals it recorded.
    pub approvals: u32,
    /// Of its approved promises: kept, broken and kept in part, as judged.
    pub kept: u32,
    /// Broken.
    pub broken: u32,
    /// Kept in part.
    pub partial: u32,
    /// Judged by the approver itself, as the promisee (its kept verdicts earn it nothing).
    pub self_judged: u32,
    /// The log indexes of the outcomes behind it, oldest first (the last [`super::state::MAX_CITED`]).
    pub indexes: Vec<u64>,
}

impl TrustState {
    /// Folds an approval by `approver` of `subject`'s call, allowing promise `promise`.
    pub(super) fn approve(&mut self, approver: &Id, subject: &Id, promise: &Id, index: u64) {
        let approver = self.person(approver);
        let subject = self.person(subject);
        self.approvals.books.entry(approver).or_default().approvals += 1;
        let waiting = Waiting {
            approver,
            subject,
            index,
        };
        self.approvals.waiting.insert(promise.clone(), waiting);
    }

    /// The approval of promise `id`, now made by `promisor`: no longer waiting; `None` when
    /// there is none, or when it approved another principal's call (then it allows nothing).
    pub(super) fn take_approval(&mut self, id: &Id, promisor: u32) -> Option<Approved> {
        let waiting = self.approvals.waiting.remove(id)?;
        (waiting.subject == promisor).then_some(Approved {
            approver: waiting.approver,
            index: waiting.index,
        })
    }

    /// What the outcome (at log `index`, instant `at`) of approved promise `facts` earns or
    /// costs its approver. `reached`: whether the promisee's word counts in everyone's view.
    pub(super) fn settle_approval(
        &mut self,
        facts: &PromiseFacts,
        result: OutcomeResult,
        at: i64,
        index: u64,
        reached: bool,
    ) {
        let Some(approved) = facts.approval else {
            return;
        };
        let p = &self.params;
        let kept = kept_share(result);
        // The outcome's own weight in everyone's view: the promisee's credibility times the
        // stake's weight, nothing from a promisee no seed reaches.
        let weight = if reached { facts.weight } else { 0.0 };
        let self_judged = facts.promisee == approved.approver;
        let positive = if self_judged { 0.0 } else { kept * weight };
        let negative = (1.0 - kept) * p.betrayal_weight * weight;
        let book = self.approvals.books.entry(approved.approver).or_default();
        book.evidence.add(at, positive, negative, p);
        match result {
            OutcomeResult::Kept => book.kept += 1,
            OutcomeResult::Broken => book.broken += 1,
            OutcomeResult::Partial(_) => book.partial += 1,
        }
        book.self_judged += u32::from(self_judged);
        book.outcomes.push(index);
        // The approver lent trust it has: the promisee may trust it less. Not when the promisee
        // is the approver, who pays in its record already.
        let liability = (1.0 - kept) * p.betrayal_weight * facts.weight * p.approval_liability;
        if !self_judged && liability > 0.0 {
            let pair = self.pair_id(facts.promisee, approved.approver);
            let evidence = Evidence {
                positive: 0.0,
                negative: liability,
            };
            let cites = [approved.index, index];
            self.record(
                pair,
                Source::Liability,
                Some(facts.scope),
                at,
                evidence,
                &cites,
            );
        }
    }

    /// The approver the outcome `result` of promise `id` would charge in its standing (a
    /// broken or partly kept approved promise judged by someone other than its approver), if
    /// any: the ladder re-judges that approver's position after the outcome.
    pub fn liable_approver(&self, id: &Id, result: OutcomeResult) -> Option<u32> {
        let facts = self.promises.get(id)?;
        let approved = facts.approval?;
        let charged = kept_share(result) < 1.0
            && facts.promisee != approved.approver
            && facts.weight > 0.0
            && self.params.approval_liability > 0.0;
        charged.then_some(approved.approver)
    }

    /// Who approved the promise `id` with no outcome yet, if anyone.
    pub fn approver_of(&self, id: &Id) -> Option<u32> {
        self.promises.get(id)?.approval.map(|a| a.approver)
    }

    /// `approver`'s approval record at `at`: the evidence of its approved promises kept and
    /// broken, decayed, and the record `E_a` it gives (½ for an approver with none).
    pub fn approval_record(&self, approver: &Id, at: Time) -> ApprovalRecord {
        let p = &self.params;
        let book = self
            .principal_index(approver)
            .and_then(|a| self.approvals.books.get(&a));
        let evidence = book.map_or_else(Evidence::default, |b| b.evidence.value(at.as_micros(), p));
        let expected = Opinion::from_evidence(evidence, p.prior_weight, 0.5).expected();
        let outcomes = book.map_or(&[][..], |b| &b.outcomes);
        let cited = outcomes.len().saturating_sub(super::state::MAX_CITED);
        ApprovalRecord {
            kept_weight: evidence.positive,
            broken_weight: evidence.negative,
            expected,
            approvals: book.map_or(0, |b| b.approvals),
            kept: book.map_or(0, |b| b.kept),
            broken: book.map_or(0, |b| b.broken),
            partial: book.map_or(0, |b| b.partial),
            self_judged: book.map_or(0, |b| b.self_judged),
            indexes: outcomes[cited..].to_vec(),
        }
    }
}

/// The share of a promise kept: 1, 0, or a partial outcome's fraction.
fn kept_share(result: OutcomeResult) -> f64 {
    match result {
        OutcomeResult::Kept => 1.0,
        OutcomeResult::Broken => 0.0,
        OutcomeResult::Partial(f) => f,
    }
}
