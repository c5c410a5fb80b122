//! Approvals as stories: who may let a refused call through, what it costs an approver when
//! the call's promise is broken, and that it cannot earn its power back by judging its own
//! approvals (docs/MODEL.md "Approvals").

use proptest::prelude::*;
use stepwise::evidence::{Event, Id, Time};
use stepwise::ladder::{ApprovalRefusal, Denial, Ladder, LadderState, StepCause};
use stepwise::model::params::{DAY_MICROS, ModelParams};

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn id(s: &str) -> Id {
    Id::parse("id", s).expect("id")
}

fn at(day: f64) -> Time {
    Time::from_micros(T0 + (day * DAY_MICROS as f64) as i64).expect("time")
}

/// A small world under the default ladder: the state, the next log index, the next promise.
struct World {
    state: LadderState,
    next: u64,
    promises: u64,
}

impl World {
    fn new() -> Self {
        Self::with(ModelParams::default())
    }

    fn with(params: ModelParams) -> Self {
        Self {
            state: LadderState::new(params, Ladder::default()),
            next: 0,
            promises: 0,
        }
    }

    fn record(&mut self, json: String) -> u64 {
        let event = Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let index = self.next;
        self.state.apply(index, &event);
        self.next += 1;
        index
    }

    fn next_id(&mut self) -> String {
        self.promises += 1;
        format!("p{}", self.promises)
    }

    /// `who` promises `to` something at `stake` on `day`; `to` judges it `result` (when given)
    /// half a day later. Returns the promise's id and the outcome's index.
    fn promise(
        &mut self,
        who: &str,
        to: &str,
        stake: f64,
        day: f64,
        result: &str,
    ) -> (String, u64) {
        let pid = self.next_id();
        self.promise_with_id(&pid, who, to, stake, day);
        let outcome = self.judge(&pid, to, day + 0.5, result);
        (pid, outcome)
    }

    fn promise_with_id(&mut self, pid: &str, who: &str, to: &str, stake: f64, day: f64) -> u64 {
        self.record(format!(
            r#"{{"kind":"promise","at":"{}","id":"{pid}","promisor":"{who}","promisee":"{to}","scope":"work","stake":{stake},"due":"{}"}}"#,
            at(day),
            at(day + 3.0)
        ))
    }

    fn judge(&mut self, pid: &str, by: &str, day: f64, result: &str) -> u64 {
        self.record(format!(
            r#"{{"kind":"outcome","at":"{}","promise":"{pid}","result":"{result}","author":"{by}"}}"#,
            at(day)
        ))
    }

    fn approval(&mut self, approver: &str, subject: &str, pid: &str, stake: f64, day: f64) -> u64 {
        self.record(format!(
            r#"{{"kind":"approval","at":"{}","approver":"{approver}","subject":"{subject}","promise":"{pid}","capability":"act:low","stake":{stake},"decision":7}}"#,
            at(day)
        ))
    }

    /// `approver` approves `subject`'s call of `act:low` at `stake` on `day`; the call's
    /// promise, to `to`, is judged `result` half a day later. The outcome's index.
    fn approved(
        &mut self,
        approver: &str,
        subject: &str,
        to: &str,
        stake: f64,
        day: f64,
        result: &str,
    ) -> u64 {
        let pid = self.next_id();
        self.approval(approver, subject, &pid, stake, day);
        self.promise_with_id(&pid, subject, to, stake, day + 0.01);
        self.judge(&pid, to, day + 0.5, result)
    }

    /// `who` keeps five promises of 10 to five clients on day `day`: a contributor (level 1,
    /// limit 100) a day later.
    fn contributor(&mut self, who: &str, day: f64) {
        for i in 0..5 {
            let client = format!("client:{i}");
            self.promise(who, &client, 10.0, day + f64::from(i) * 0.01, "kept");
        }
    }

    fn may_approve(
        &self,
        approver: &str,
        subject: &str,
        stake: f64,
        day: f64,
    ) -> Result<(), ApprovalRefusal> {
        self.state
            .may_approve(&id(approver), &id(subject), "act:low", stake, at(day))
    }

    fn standing(&self, who: &str, day: f64) -> f64 {
        let trust = self.state.trust();
        let i = trust.principal_index(&id(who)).expect("known");
        trust.standing(i, at(day)).expected()
    }
}

#[test]
fn an_approver_must_be_someone_else_who_may_make_the_call_itself() {
    let mut w = World::new();
    assert_eq!(
        w.may_approve("user:ann", "user:ann", 50.0, 0.0),
        Err(ApprovalRefusal::ApproverIsSubject)
    );
    // A newcomer cannot lend trust it does not have: act:low is granted from level 1.
    let refusal = w
        .may_approve("user:ann", "agent:bot", 50.0, 0.0)
        .expect_err("a newcomer");
    assert_eq!(refusal.code(), "approver_not_allowed");
    let ApprovalRefusal::ApproverNotAllowed { denial, level, .. } = &refusal else {
        panic!("{refusal:?}");
    };
    assert_eq!(
        (*denial, *level),
        (Denial::CapabilityNeedsLevel { needed: 1 }, 0)
    );
    assert!(
        refusal.to_string().contains("capability_needs_level"),
        "{refusal}"
    );
    w.contributor("user:ann", 0.0);
    assert_eq!(w.may_approve("user:ann", "agent:bot", 50.0, 2.0), Ok(()));
    // Nor more than its own limit.
    let refusal = w
        .may_approve("user:ann", "agent:bot", 500.0, 2.0)
        .expect_err("over");
    assert!(matches!(
        refusal,
        ApprovalRefusal::ApproverNotAllowed {
            denial: Denial::StakeAboveLimit,
            ..
        }
    ));
    assert_eq!(refusal.data()["denial"], "stake_above_limit");
}

#[test]
fn an_honest_approver_keeps_its_power() {
    let mut w = World::new();
    w.contributor("user:ann", 0.0);
    for day in 2..22 {
        let client = format!("client:{}", day % 5);
        w.approved(
            "user:ann",
            "agent:good",
            &client,
            50.0,
            f64::from(day),
            "kept",
        );
        assert_eq!(
            w.may_approve("user:ann", "agent:good", 50.0, f64::from(day) + 0.6),
            Ok(())
        );
    }
    let record = w.state.approval_record(&id("user:ann"), at(22.0));
    assert_eq!((record.approvals, record.kept, record.broken), (20, 20, 0));
    assert!(record.expected > 0.9, "{record:?}");
    assert_eq!(record.indexes.len(), 20);
    // Time alone does not take it away: with nothing broken, a record never falls below ½.
    for years in [1.0, 3.0, 10.0] {
        let idle = w
            .state
            .approval_record(&id("user:ann"), at(22.0 + years * 365.0));
        assert!(idle.expected >= 0.5, "{idle:?}");
    }
    // Nor does one slip among many kept.
    w.approved("user:ann", "agent:good", "client:1", 50.0, 23.0, "broken");
    assert_eq!(w.may_approve("user:ann", "agent:good", 50.0, 24.0), Ok(()));
}

#[test]
fn a_rubber_stamp_loses_its_power_within_a_few_broken_promises() {
    let mut w = World::new();
    w.contributor("user:stamp", 0.0);
    let mut broken = 0;
    let mut day = 2.0;
    let refusal = loop {
        if let Err(refusal) = w.may_approve("user:stamp", "agent:bad", 50.0, day) {
            break refusal;
        }
        // The bad agent keeps one call in four.
        let result = if (day as u32) % 4 == 3 {
            "kept"
        } else {
            "broken"
        };
        broken += u32::from(result == "broken");
        w.approved("user:stamp", "agent:bad", "client:0", 50.0, day, result);
        day += 1.0;
        assert!(
            broken <= 3,
            "still approving after {broken} broken promises"
        );
    };
    assert_eq!(refusal.code(), "approver_record_too_low", "{refusal}");
    let ApprovalRefusal::ApproverRecordTooLow {
        expected,
        floor,
        broken: counted,
        ..
    } = refusal
    else {
        panic!("{refusal:?}");
    };
    assert!(expected < floor && floor == 0.4);
    assert_eq!(counted, broken);
    // Every approval, to anyone, is refused now: the power is the approver's, not the pair's.
    assert!(
        w.may_approve("user:stamp", "agent:good", 50.0, day)
            .is_err()
    );
}

#[test]
fn lost_power_comes_back_only_as_the_betrayal_fades() {
    let mut w = World::new();
    w.contributor("user:stamp", 0.0);
    w.approved("user:stamp", "agent:bad", "client:0", 50.0, 2.0, "broken");
    let refused = |w: &World, day: f64| {
        w.state
            .may_approve(&id("user:stamp"), &id("agent:bad"), "propose", 5.0, at(day))
            .err()
            .map(|r| r.code())
    };
    // A broken call of 50 judged by a client (credibility ½): λ·½·w(50) ≈ 10.0 against the
    // record, which counts again once it has faded below 1/floor − 2 = 0.5: log₂(20) ≈ 4.3
    // half-lives of 720 days, about eight and a half years.
    for day in [3.0, 33.0, 365.0, 5.0 * 365.0, 8.0 * 365.0] {
        assert_eq!(
            refused(&w, day),
            Some("approver_record_too_low"),
            "day {day}"
        );
    }
    assert_eq!(refused(&w, 9.0 * 365.0), None);
    let record = w.state.approval_record(&id("user:stamp"), at(9.0 * 365.0));
    assert!(
        record.broken_weight <= 0.5 && record.expected >= 0.4,
        "{record:?}"
    );
}

#[test]
fn an_approver_judging_its_own_approvals_earns_nothing_by_calling_them_kept() {
    let mut w = World::new();
    w.contributor("user:ann", 0.0);
    let before = w.standing("user:ann", 14.0);
    for day in 2..12 {
        w.approved(
            "user:ann",
            "agent:bot",
            "user:ann",
            50.0,
            f64::from(day),
            "kept",
        );
    }
    let record = w.state.approval_record(&id("user:ann"), at(12.0));
    assert_eq!((record.kept, record.self_judged), (10, 10));
    assert_eq!((record.kept_weight, record.expected), (0.0, 0.5));
    // Ten self-judged "kept" do not cushion one broken promise: it costs what it costs anyone.
    w.approved("user:ann", "agent:bot", "user:ann", 50.0, 12.0, "broken");
    let record = w.state.approval_record(&id("user:ann"), at(13.0));
    assert!(record.expected < 0.4, "{record:?}");
    assert_eq!(
        w.may_approve("user:ann", "agent:bot", 50.0, 13.0)
            .map_err(|r| r.code()),
        Err("approver_record_too_low")
    );
    // It pays in its record, not also in its standing: it cannot owe trust to itself.
    assert_eq!(w.standing("user:ann", 14.0), before);
}

#[test]
fn a_broken_approved_promise_lowers_the_approvers_standing_in_the_promisees_view() {
    for liability in [0.0, 0.5, 1.0] {
        let params = ModelParams {
            approval_liability: liability,
            ..ModelParams::default()
        };
        let mut w = World::with(params);
        w.contributor("user:ann", 0.0);
        let before = w.standing("user:ann", 3.0);
        w.approved("user:ann", "agent:bad", "client:7", 50.0, 2.0, "broken");
        let after = w.standing("user:ann", 3.0);
        if liability == 0.0 {
            assert_eq!(after, before);
        } else {
            assert!(after < before, "liability {liability}: {before} → {after}");
        }
        // In the promisee's own view, the approver is the one it trusted less.
        let (ann, client) = (id("user:ann"), id("client:7"));
        let view = w.state.trust().trust(&ann, Some(&client), None, at(3.0));
        assert_eq!(view.evidence.negative > 0.0, liability > 0.0, "{view:?}");
    }
}

#[test]
fn enough_liability_demotes_the_approver_and_the_fold_says_whose_step_it_is() {
    let mut w = World::new();
    w.contributor("user:ann", 0.0);
    assert_eq!(w.state.level_at(&id("user:ann"), at(1.5)), 1);
    // A level trusted with 100 whose standing falls below 0.6 − 0.05 steps down.
    let mut demoted = None;
    for day in 2..8 {
        let pid = format!("bad-{day}");
        w.approval("user:ann", "agent:bad", &pid, 50.0, f64::from(day));
        w.promise_with_id(
            &pid,
            "agent:bad",
            &format!("client:{day}"),
            50.0,
            f64::from(day),
        );
        let event = Event::from_json(&format!(
            r#"{{"kind":"outcome","at":"{}","promise":"{pid}","result":"broken","author":"client:{day}"}}"#,
            at(f64::from(day) + 0.5)
        ))
        .expect("outcome");
        let applied = w.state.apply(w.next, &event);
        w.next += 1;
        let ann = w.state.trust().principal_index(&id("user:ann"));
        assert_eq!(
            applied.approver, ann,
            "the fold names the approver it charged"
        );
        // The steps it gained are the last of its timeline (its promotion by time included).
        let timeline = w.state.timeline(&id("user:ann"));
        let new = &timeline[timeline.len() - applied.approver_new_steps..];
        if let Some(step) = new.iter().find(|s| s.to < s.from) {
            demoted = Some(*step);
            break;
        }
    }
    let step = demoted.unwrap_or_else(|| panic!("standing {}", w.standing("user:ann", 8.0)));
    assert_eq!((step.from, step.to), (1, 0));
    assert!(
        matches!(step.cause, StepCause::FellBelow { .. }),
        "{step:?}"
    );
}

#[test]
fn an_approval_allows_its_subjects_promise_and_no_one_elses() {
    let mut w = World::new();
    w.contributor("user:ann", 0.0);
    w.approval("user:ann", "agent:bot", "p-x", 50.0, 2.0);
    // Someone else makes a promise under that id: it is not the approved call.
    w.promise_with_id("p-x", "agent:other", "client:0", 50.0, 2.1);
    assert_eq!(w.state.trust().approver_of(&id("p-x")), None);
    w.judge("p-x", "client:0", 2.5, "broken");
    let record = w.state.approval_record(&id("user:ann"), at(3.0));
    assert_eq!(
        (record.approvals, record.broken, record.broken_weight),
        (1, 0, 0.0)
    );
    assert_eq!(w.may_approve("user:ann", "agent:bot", 50.0, 3.0), Ok(()));
}

#[test]
fn an_overdue_approved_promise_does_not_charge_the_approver() {
    let mut w = World::new();
    w.contributor("user:ann", 0.0);
    w.approval("user:ann", "agent:bot", "p-late", 50.0, 2.0);
    w.promise_with_id("p-late", "agent:bot", "client:0", 50.0, 2.01);
    let ann = w
        .state
        .trust()
        .principal_index(&id("user:ann"))
        .expect("ann");
    let open = w
        .state
        .trust()
        .awaiting_judgement(None, None, 10, at(30.0))
        .0;
    assert_eq!(open[0].approver, Some(id("user:ann")));
    assert!(open[0].overdue);
    // The promisee never judged it: the promisor counts it broken, the approver answers for
    // nothing it was not told.
    let record = w.state.approval_record(&id("user:ann"), at(30.0));
    assert_eq!((record.broken_weight, record.expected), (0.0, 0.5));
    assert_eq!(w.may_approve("user:ann", "agent:good", 50.0, 30.0), Ok(()));
    assert!(w.state.trust().standing(ann, at(30.0)).expected() > 0.8);
}

/// A history of approvals by `user:ann` of `agent:bot`'s calls to clients (stake, judged kept,
/// broken or in part), with Ann's own promises between them.
fn history() -> impl Strategy<Value = Vec<(f64, u8, bool)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![0.0, 5.0, 50.0, 90.0]),
            0u8..3,
            any::<bool>(),
        ),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A kept approved promise never lowers its approver's record or standing, whoever judged
    /// it and whatever came before.
    #[test]
    fn a_kept_approved_promise_never_lowers_the_approvers_record_or_standing(
        history in history(),
        stake in prop::sample::select(vec![0.0, 1.0, 10.0, 60.0, 100.0]),
        self_judged in any::<bool>(),
    ) {
        let mut w = World::new();
        w.contributor("user:ann", 0.0);
        let mut day = 2.0;
        for (stake, result, own) in history {
            let result = ["kept", "broken", "partial"][usize::from(result)];
            if own {
                w.promise("user:ann", "client:3", 5.0, day, "kept");
            }
            let pid = w.next_id();
            w.approval("user:ann", "agent:bot", &pid, stake, day);
            w.promise_with_id(&pid, "agent:bot", "client:1", stake, day + 0.01);
            let json = match result {
                "partial" => format!(
                    r#"{{"kind":"outcome","at":"{}","promise":"{pid}","result":"partial","fraction":0.5,"author":"client:1"}}"#,
                    at(day + 0.5)
                ),
                _ => format!(
                    r#"{{"kind":"outcome","at":"{}","promise":"{pid}","result":"{result}","author":"client:1"}}"#,
                    at(day + 0.5)
                ),
            };
            w.record(json);
            day += 1.0;
        }
        let pid = w.next_id();
        let judge = if self_judged { "user:ann" } else { "client:2" };
        w.approval("user:ann", "agent:bot", &pid, stake, day);
        w.promise_with_id(&pid, "agent:bot", judge, stake, day + 0.01);
        let t = day + 0.5;
        let record = w.state.approval_record(&id("user:ann"), at(t)).expected;
        let standing = w.standing("user:ann", t);
        w.judge(&pid, judge, t, "kept");
        prop_assert!(w.state.approval_record(&id("user:ann"), at(t)).expected >= record);
        prop_assert!(w.standing("user:ann", t) >= standing);
    }
}
