//! The typed questions every door asks, each checked once, here, with one message per mistake,
//! and answered with the wire view every door prints.
//!
//! A question names the fold it is asked of with a [`Prefix`] (which log prefix, which rank,
//! which instant). The engine answers from its live state when that is the fold asked for, and
//! otherwise replays the prefix from the store ([`Engine::ask`]); a one-shot door (the command
//! line) replays it directly ([`replay()`]). Either way [`Question::answer`] computes the answer
//! from a state and an instant, so the three paths cannot disagree.

use crate::{Engine, Error, now};
use std::sync::Arc;
use stepwise::evidence::{Id, MAX_ID_LEN, Time, check_stake};
use stepwise::ladder::{Decision, LadderState};
use stepwise::policy::Policy;
use stepwise_api::{
    DecideReply, DecideRequest, DecisionView, ExplainView, PromisesView, RankRow, RankView,
    TrustView, VerdictView,
};
use stepwise_store::names::Names;
use stepwise_store::replay::{self, Prefix};
use stepwise_store::{LogStore, PolicyStore, StoreError};

/// How long an answer from the live state may take.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cost {
    /// Microseconds (a decision): answered where it is asked.
    Quick,
    /// Milliseconds (walking every open promise, sorting every score): on a blocking thread.
    Heavy,
}

/// A question the engine answers from a state at an instant.
pub trait Question: Send + 'static {
    /// What it answers.
    type Answer: Send + 'static;
    /// The fold it is asked of.
    fn prefix(&self) -> Prefix;
    /// How long answering takes.
    fn cost(&self) -> Cost {
        Cost::Quick
    }
    /// Renames the principals it names by the ids a door gave to the names the log uses
    /// (pseudonyms), as every path does before answering.
    fn name_with(&mut self, _names: &Names) {}
    /// The answer from `state` (the fold [`Question::prefix`] asks for) at instant `at`.
    fn answer(self, state: &LadderState, at: Time) -> Self::Answer;
}

/// The fold a question asks of, from its wire fields: `at` (RFC 3339) parsed; the sizes are
/// checked against the log when it is answered ([`check_prefix`]).
pub fn prefix(
    log_size: Option<u64>,
    rank_log_size: Option<u64>,
    at: Option<&str>,
) -> Result<Prefix, Error> {
    Ok(Prefix {
        log_size,
        rank_log_size,
        until: optional_time("at", at)?,
    })
}

/// Checks `prefix` against a log of `size` entries, once for every path: the log size asked for
/// is at most the log's, and the rank's at most the log size answered from.
pub fn check_prefix(prefix: &Prefix, size: u64) -> Result<(), Error> {
    if let Some(n) = prefix.log_size.filter(|&n| n > size) {
        return Err(Error::field(
            "log_size",
            format!("{n} is larger than the log ({size} entries)"),
        ));
    }
    let n = prefix.log_size.unwrap_or(size);
    if let Some(k) = prefix.rank_log_size.filter(|&k| k > n) {
        return Err(Error::field(
            "rank_log_size",
            format!("{k} is larger than the log size answered from ({n})"),
        ));
    }
    Ok(())
}

/// The `min_log_size` a request carries as text (a query string's): a whole number of entries.
pub fn min_log_size(text: &str) -> Result<u64, Error> {
    text.parse().map_err(|_| {
        Error::field(
            "min_log_size",
            format!("expected a log size (a whole number of entries), not {text:?}"),
        )
    })
}

/// An optional principal field.
pub fn optional_id(field: &str, text: Option<&str>) -> Result<Option<Id>, Error> {
    Ok(text.map(|t| Id::parse(field, t)).transpose()?)
}

/// An optional instant field, RFC 3339.
pub fn optional_time(field: &str, text: Option<&str>) -> Result<Option<Time>, Error> {
    Ok(text.map(|t| Time::parse(field, t)).transpose()?)
}

/// May `subject` do `capability` at `stake`, for `truster`, at the fold `prefix` asks for?
#[derive(Debug, Clone)]
pub struct Decide {
    /// The principal asking to act.
    pub subject: Id,
    /// What it asks to do.
    pub capability: String,
    /// What is at stake (finite, ≥ 0).
    pub stake: f64,
    /// Decide for this truster, with its own profile.
    pub truster: Option<Id>,
    /// The fold asked of.
    pub prefix: Prefix,
    /// With reasons in words and the next step (`true`), or the verdict alone.
    pub explain: bool,
    /// Answered with a receipt of the explained decision (`Engine::receipt`).
    pub receipt: bool,
    /// The subject as the door named it, once `subject` holds the log's name for it: what the
    /// decision shows.
    shown: Option<Id>,
}

impl Decide {
    /// The question from its fields: the one place a decision's capability and stake are
    /// checked, whichever door they came through (ids are parsed by the door, which names its
    /// own field, with `Id::parse`).
    pub fn new(
        subject: Id,
        capability: &str,
        stake: f64,
        truster: Option<Id>,
        prefix: Prefix,
    ) -> Result<Self, Error> {
        if capability.is_empty() || capability.len() > MAX_ID_LEN {
            return Err(Error::field(
                "capability",
                format!("must be 1 to {MAX_ID_LEN} bytes long"),
            ));
        }
        let stake = check_stake("stake", stake)?;
        Ok(Self {
            subject,
            capability: capability.to_owned(),
            stake,
            truster,
            prefix,
            explain: true,
            receipt: false,
            shown: None,
        })
    }

    /// The question a wire request asks (`POST /v1/decide`, a batch item, the MCP tool).
    pub fn from_request(request: &DecideRequest) -> Result<Self, Error> {
        let prefix = prefix(
            request.log_size,
            request.rank_log_size,
            request.at.as_deref(),
        )?;
        let mut question = Self::new(
            Id::parse("subject", &request.subject)?,
            &request.capability,
            request.stake,
            optional_id("truster", request.truster.as_deref())?,
            prefix,
        )?;
        question.explain = request.explain.unwrap_or(true);
        question.receipt = request.receipt.unwrap_or(false);
        Ok(question)
    }

    /// The decision with its reasons, next step and evidence, as `stepwise decide --json`
    /// prints it.
    pub fn view(&self, state: &LadderState, at: Time) -> DecisionView {
        self.decide(state, at, DecisionView::new)
    }

    /// The decision itself, handed to `f` with the log size it was computed at.
    pub fn decide<R>(
        &self,
        state: &LadderState,
        at: Time,
        f: impl FnOnce(&Decision<'_>, u64) -> R,
    ) -> R {
        let mut d = state.decide(
            &self.subject,
            &self.capability,
            self.stake,
            self.truster.as_ref(),
            at,
        );
        if let Some(shown) = &self.shown {
            d.subject_id = shown;
        }
        let log_size = state.trust().log_size();
        if crate::telemetry::enabled() {
            trace(&d, log_size);
        }
        f(&d, log_size)
    }
}

/// The span of a decision, every door's ([`crate::telemetry`]).
fn trace(d: &Decision<'_>, log_size: u64) {
    let reasons: Vec<&str> = d.reasons().as_slice().iter().map(|r| r.code()).collect();
    crate::telemetry::decision_span(&crate::telemetry::DecisionFields {
        principal: d.subject_id.as_str(),
        capability: d.capability,
        stake: d.stake,
        verdict: if d.allowed { "allowed" } else { "denied" },
        level: d.level as u64,
        level_name: d.level_name(),
        reasons: &reasons,
        log_size,
        started: None,
    });
}

impl Question for Decide {
    type Answer = DecideReply;
    fn prefix(&self) -> Prefix {
        self.prefix
    }
    fn name_with(&mut self, names: &Names) {
        let name = names.name(&self.subject);
        if name != self.subject {
            self.shown = Some(std::mem::replace(&mut self.subject, name));
        }
        self.truster = self.truster.as_ref().map(|t| names.name(t));
    }
    fn answer(self, state: &LadderState, at: Time) -> DecideReply {
        let explain = self.explain;
        self.decide(state, at, |d, size| {
            if explain {
                DecideReply::Explained(Box::new(DecisionView::new(d, size)))
            } else {
                DecideReply::Verdict(VerdictView::new(d, size))
            }
        })
    }
}

/// How much `subject` can be trusted, by `truster` within `scope`, with the evidence behind
/// the figure.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The principal assessed.
    pub subject: Id,
    /// From this principal's point of view (default: everyone's).
    pub truster: Option<Id>,
    /// Only evidence in this scope.
    pub scope: Option<Id>,
    /// The fold asked of.
    pub prefix: Prefix,
}

impl Question for Trust {
    type Answer = TrustView;
    fn prefix(&self) -> Prefix {
        self.prefix
    }
    fn name_with(&mut self, names: &Names) {
        self.subject = names.name(&self.subject);
        self.truster = self.truster.as_ref().map(|t| names.name(t));
    }
    fn answer(self, state: &LadderState, at: Time) -> TrustView {
        let report = state.trust().trust(
            &self.subject,
            self.truster.as_ref(),
            self.scope.as_ref(),
            at,
        );
        TrustView::new(
            &report,
            &self.subject,
            self.truster.as_ref(),
            self.scope.as_ref(),
            at,
        )
    }
}

/// A principal's level, its timeline of promotions and demotions, and the next-step checklist.
#[derive(Debug, Clone)]
pub struct Explain {
    /// The principal.
    pub subject: Id,
    /// The fold asked of.
    pub prefix: Prefix,
}

impl Question for Explain {
    type Answer = ExplainView;
    fn prefix(&self) -> Prefix {
        self.prefix
    }
    fn name_with(&mut self, names: &Names) {
        self.subject = names.name(&self.subject);
    }
    fn answer(self, state: &LadderState, at: Time) -> ExplainView {
        ExplainView::new(&state.explain(&self.subject, at), state.trust().log_size())
    }
}

/// Most open promises a page lists.
pub const MAX_PROMISES_PAGE: usize = 1_000;

/// A page of the promises with no outcome yet, oldest first (with `promisee`, that
/// principal's review queue).
#[derive(Debug, Clone)]
pub struct OpenPromises {
    /// Only those made to this principal.
    pub promisee: Option<Id>,
    /// Continue after this log index.
    pub cursor: Option<u64>,
    /// At most this many (1 to [`MAX_PROMISES_PAGE`]).
    pub limit: usize,
    /// The fold asked of.
    pub prefix: Prefix,
}

impl OpenPromises {
    /// The question from its fields, `limit` checked (default 100).
    pub fn new(
        promisee: Option<Id>,
        cursor: Option<u64>,
        limit: Option<usize>,
        prefix: Prefix,
    ) -> Result<Self, Error> {
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_PROMISES_PAGE).contains(&limit) {
            return Err(Error::field(
                "limit",
                format!("{limit} is not between 1 and {MAX_PROMISES_PAGE}"),
            ));
        }
        Ok(Self {
            promisee,
            cursor,
            limit,
            prefix,
        })
    }
}

impl Question for OpenPromises {
    type Answer = PromisesView;
    fn prefix(&self) -> Prefix {
        self.prefix
    }
    fn name_with(&mut self, names: &Names) {
        self.promisee = self.promisee.as_ref().map(|p| names.name(p));
    }
    // Walks every open promise.
    fn cost(&self) -> Cost {
        Cost::Heavy
    }
    fn answer(self, state: &LadderState, at: Time) -> PromisesView {
        let trust = state.trust();
        let (rows, more) =
            trust.awaiting_judgement(self.promisee.as_ref(), self.cursor, self.limit, at);
        PromisesView::new(rows, more, at, trust.log_size())
    }
}

/// Most principals a rank lists.
pub const MAX_RANK_TOP: usize = 10_000;

/// Who the network as a whole trusts most: the published rank's top `top`.
#[derive(Debug, Clone, Copy)]
pub struct Rank {
    /// How many to list.
    pub top: usize,
}

impl Rank {
    /// The question, checked (`top` defaults to 20).
    pub fn new(top: Option<usize>) -> Result<Self, Error> {
        let top = top.unwrap_or(20);
        if top > MAX_RANK_TOP {
            return Err(Error::field(
                "top",
                format!("{top} is more than {MAX_RANK_TOP}"),
            ));
        }
        Ok(Self { top })
    }
}

impl Question for Rank {
    type Answer = RankView;
    fn prefix(&self) -> Prefix {
        Prefix::ALL
    }
    // Listing the top sorts every score.
    fn cost(&self) -> Cost {
        Cost::Heavy
    }
    fn answer(self, state: &LadderState, _at: Time) -> RankView {
        let trust = state.trust();
        let rank = trust.rank();
        let ranking = rank.ranking;
        RankView {
            principals: ranking
                .top(self.top)
                .into_iter()
                .filter_map(|(i, score)| {
                    Some(RankRow {
                        principal: trust.principal(i)?.to_string(),
                        score,
                    })
                })
                .collect(),
            total: ranking.scores.len(),
            converged: ranking.converged,
            log_size: trust.log_size(),
            policy_entry: trust.policy_entry().map(|(index, _)| index),
            rank_log_size: rank.log_size,
        }
    }
}

/// The policies a replay may fold under: the one this process runs, `current` (in the log's
/// names), whose file has the SHA-256 `sha256`; and those the log recorded before it, read
/// from the store and named through `names`.
#[derive(Clone, Copy)]
pub struct Policies<'a> {
    /// This process's policy, in the log's names.
    pub current: &'a Policy,
    /// The SHA-256 of its file, as a `policy` entry records it.
    pub sha256: &'a str,
    /// Ids ↔ the log's names, for an older policy's seeds, operators and trusters.
    pub names: &'a Names,
}

/// Folds the prefix `prefix` asks for from `store` (checked against the log first), under the
/// policy in force at its log size: the one its last `policy` entry records (`current` unless
/// another was recorded since), or `current` when it records none. Returns the state and the
/// instant it answers at: the one given, or `now` as the state sees it. The path of a one-shot
/// door, and of the engine for an earlier prefix.
pub fn replay<S: LogStore + PolicyStore + ?Sized>(
    store: &S,
    policies: Policies<'_>,
    prefix: Prefix,
    now: Time,
    progress: &mut dyn FnMut(u64),
) -> Result<(LadderState, Time), Error> {
    check_prefix(&prefix, store.size()?)?;
    let mut fold = |policy: &Policy| {
        replay::ladder_state(
            store,
            policy.model.clone(),
            policy.ladder.clone(),
            prefix,
            progress,
        )
    };
    let mut state = fold(policies.current)?;
    let recorded = state
        .trust()
        .policy_entry()
        .filter(|(_, sha256)| *sha256 != policies.sha256)
        .map(|(index, sha256)| (index, sha256.to_owned()));
    if let Some((index, sha256)) = recorded {
        let text = store.policy_text(&sha256)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "entry {index} records the policy {sha256}, whose text is not kept beside the log"
            ))
        })?;
        let older = Policy::from_toml(&text)
            .map_err(|e| {
                StoreError::Corrupt(format!("the policy entry {index} records is refused: {e}"))
            })?
            .renamed(&|id| policies.names.name(id));
        state = fold(&older)?;
    }
    let at = prefix
        .until
        .unwrap_or_else(|| state.trust().instant_for(now));
    Ok((state, at))
}

impl Engine {
    /// Answers `question`: from the live state when it is the fold asked for (the latest log
    /// size and rank at any instant from its latest event on), otherwise from a replay of the
    /// stored prefix. Every answer reports its log size (and rank log size and instant where it
    /// has them): asking again with them gives it again, byte for byte, whatever was appended
    /// since.
    pub async fn ask<Q: Question>(&self, mut question: Q) -> Result<Q::Answer, Error> {
        question.name_with(&self.names);
        self.answer_with(question.prefix(), question.cost(), move |state, at| {
            question.answer(state, at)
        })
        .await
    }

    /// Runs `f` on the fold `prefix` asks for at its instant; what [`Engine::ask`] does, for a
    /// door that writes its answer its own way (`POST /v1/decide` writes bytes in the read).
    pub async fn answer_with<R: Send + 'static>(
        &self,
        prefix: Prefix,
        cost: Cost,
        f: impl FnOnce(&LadderState, Time) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let now = now();
        let attempt = if cost == Cost::Quick {
            self.live.answer(prefix, now, f)
        } else {
            let live = Arc::clone(&self.live);
            tokio::task::spawn_blocking(move || live.answer(prefix, now, f))
                .await
                .map_err(|e| Error::internal(format!("a blocking task failed: {e}")))?
        };
        match attempt {
            Ok(answer) => Ok(answer),
            Err(f) => self.replay(prefix, now, f).await,
        }
    }

    /// The explained decision on `question` from the live state on the calling thread, for a
    /// sync door deciding about now (the gate); `None` when the live state is not the fold
    /// asked for.
    pub fn decide_here(&self, question: &Decide) -> Option<DecisionView> {
        let mut question = question.clone();
        question.name_with(&self.names);
        self.live
            .answer(question.prefix, now(), |state, at| question.view(state, at))
            .ok()
    }

    /// An earlier log size, rank or instant: the log is folded from the store, at most two such
    /// replays at once. A rank the engine published and still keeps is used as it was (the
    /// very bits answered); otherwise the rank of the prefix asked for is computed.
    async fn replay<R: Send + 'static>(
        &self,
        prefix: Prefix,
        now: Time,
        f: impl FnOnce(&LadderState, Time) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let _permit = self
            .replays
            .acquire()
            .await
            .map_err(|_| Error::unavailable("the server is shutting down"))?;
        let policy = self.fold_policy.clone();
        let (sha256, names) = (self.policy_sha256.clone(), Arc::clone(&self.names));
        // A kept rank is the rank of that prefix as long as no entry in it is dated after the
        // instant asked for.
        let retained = prefix
            .rank_log_size
            .and_then(|k| self.live.retained_rank(k))
            .filter(|r| {
                prefix
                    .until
                    .is_none_or(|at| r.latest.is_none_or(|latest| latest <= at))
            });
        self.pool
            .with(move |store| {
                // The prefix asked for, rank included (the one folded may leave the rank to a
                // kept one).
                check_prefix(&prefix, store.size()?)?;
                let folded = Prefix {
                    rank_log_size: if retained.is_some() {
                        None
                    } else {
                        prefix.rank_log_size
                    },
                    ..prefix
                };
                let policies = Policies {
                    current: &policy,
                    sha256: &sha256,
                    names: &names,
                };
                let (mut state, at) = replay(&*store, policies, folded, now, &mut |_| {})?;
                if let Some(rank) = retained {
                    state.publish_rank(rank);
                }
                Ok(f(&state, at))
            })
            .await
    }
}
