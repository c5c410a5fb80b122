//! The ladder as stories: how principals climb, fall and are told why.

use std::collections::HashMap;
use stepwise::evidence::{Event, Id, Time};
use stepwise::ladder::{
    Denial, Ladder, LadderState, Level, Profile, Requirements, Rules, StepCause,
};
use stepwise::model::params::{DAY_MICROS, ModelParams};

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn id(s: &str) -> Id {
    Id::parse("id", s).expect("id")
}

fn at(day: f64) -> Time {
    Time::from_micros(T0 + (day * DAY_MICROS as f64) as i64).expect("time")
}

/// The default ladder with one rule changed by `change`.
fn default_ladder_with(change: impl FnOnce(&mut Rules)) -> Ladder {
    let mut rules = Rules::default();
    change(&mut rules);
    Ladder::default().with_rules(rules).expect("ladder")
}

/// A small world: a ladder state, the next log index, and helpers that record as people do.
struct World {
    state: LadderState,
    next: u64,
    promises: u64,
}

impl World {
    fn new(ladder: Ladder) -> Self {
        Self {
            state: LadderState::new(ModelParams::default(), ladder),
            next: 0,
            promises: 0,
        }
    }

    fn default_ladder() -> Self {
        Self::new(Ladder::default())
    }

    /// The default ladder under a policy that names `seeds`.
    fn seeded(seeds: &[&str]) -> Self {
        let params = ModelParams {
            seeds: seeds.iter().map(|s| id(s)).collect(),
            ..ModelParams::default()
        };
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

    /// `who` promises `to` something at `stake` on `day`, and it ends `result` half a day later.
    /// `to` = `"clients"`: one of five clients in turn (levels ask for distinct promisees).
    fn promise(&mut self, who: &str, to: &str, stake: f64, day: f64, result: &str) -> u64 {
        self.promises += 1;
        let pid = format!("p{}", self.promises);
        let client = format!("client:{}", self.promises % 5);
        let to = if to == "clients" { client.as_str() } else { to };
        self.record(format!(
            r#"{{"kind":"promise","at":"{}","id":"{pid}","promisor":"{who}","promisee":"{to}","scope":"work","stake":{stake},"due":"{}"}}"#,
            at(day),
            at(day + 3.0)
        ));
        self.record(format!(
            r#"{{"kind":"outcome","at":"{}","promise":"{pid}","result":"{result}"}}"#,
            at(day + 0.5)
        ))
    }

    /// An open promise that will fall due on `due_day`.
    fn open_promise(&mut self, who: &str, to: &str, stake: f64, day: f64, due_day: f64) -> u64 {
        self.promises += 1;
        let pid = format!("p{}", self.promises);
        self.record(format!(
            r#"{{"kind":"promise","at":"{}","id":"{pid}","promisor":"{who}","promisee":"{to}","scope":"work","stake":{stake},"due":"{}"}}"#,
            at(day),
            at(due_day)
        ))
    }

    fn rating(&mut self, rater: &str, subject: &str, value: f64, day: f64) -> u64 {
        self.record(format!(
            r#"{{"kind":"rating","at":"{}","rater":"{rater}","subject":"{subject}","value":{value}}}"#,
            at(day)
        ))
    }

    fn level(&self, who: &str, day: f64) -> usize {
        self.state.level_at(&id(who), at(day))
    }
}

#[test]
fn a_newcomer_may_take_a_small_stake_at_once() {
    let w = World::default_ladder();
    let newcomer = id("agent:new");
    let d = w.state.decide(&newcomer, "propose", 5.0, None, at(0.0));
    assert!(d.allowed, "{:?}", d.reasons());
    assert_eq!((d.level, d.level_name()), (0, "newcomer"));
    assert_eq!(d.limit, 10.0);
    // But not a large one, and it is told why and what comes next.
    let d = w.state.decide(&newcomer, "propose", 50.0, None, at(0.0));
    assert!(!d.allowed);
    assert_eq!(d.denial, Some(Denial::StakeAboveLimit));
    let next = d.next_step().expect("a next step");
    assert_eq!(d.name_of(next.level), "contributor");
    assert!(
        next.requirements()
            .iter()
            .any(|r| r.name == "kept" && !r.met)
    );
}

#[test]
fn a_hundred_kept_promises_of_stake_1_do_not_unlock_a_stake_of_500() {
    let mut w = World::default_ladder();
    for i in 0..100 {
        w.promise("agent:small", "clients", 1.0, f64::from(i) * 0.1, "kept");
    }
    let small = id("agent:small");
    let d = w.state.decide(&small, "act:medium", 500.0, None, at(30.0));
    assert!(!d.allowed);
    assert_eq!(
        d.level, 0,
        "promises below the next level's stakes do not count toward it"
    );
    let next = d.next_step().expect("next step");
    let kept = next
        .requirements()
        .iter()
        .find(|r| r.name == "kept")
        .expect("kept requirement");
    assert_eq!((kept.current, kept.needed, kept.met), (0.0, 3.0, false));
}

#[test]
fn climbing_needs_evidence_at_each_step() {
    let mut w = World::default_ladder();
    // Ten kept promises at stake 60 on day 0: enough for level 1 (3 at ≥ 5), but they were
    // gathered before level 1 was reached, so they cannot count toward level 2.
    for i in 0..10 {
        w.promise("agent:bot", "clients", 60.0, f64::from(i) * 0.05, "kept");
    }
    assert_eq!(w.level("agent:bot", 0.9), 0, "tenure of one day first");
    assert_eq!(w.level("agent:bot", 1.1), 1);
    assert_eq!(
        w.level("agent:bot", 40.0),
        1,
        "no step is skipped, however long one waits"
    );
    // New evidence at level 2's stakes, gathered at level 1, does count.
    w.rating("user:ann", "agent:bot", 1.0, 1.2); // an event fixes the promotion to level 1
    for i in 0..10 {
        w.promise(
            "agent:bot",
            "clients",
            60.0,
            2.0 + f64::from(i) * 0.1,
            "kept",
        );
    }
    // Level 1 was reached on day 1, when its tenure was complete.
    assert_eq!(w.state.timeline(&id("agent:bot"))[0].at, at(1.0));
    assert_eq!(
        w.level("agent:bot", 7.9),
        1,
        "tenure at level 1: seven days"
    );
    assert_eq!(w.level("agent:bot", 8.1), 2);
    let timeline = w.state.timeline(&id("agent:bot"));
    assert!(
        timeline.iter().all(|s| s.to == s.from + 1),
        "one step at a time: {timeline:?}"
    );
}

#[test]
fn one_betrayal_demotes_at_once_and_blocks_promotion_for_the_cool_down() {
    let mut w = World::default_ladder();
    for i in 0..5 {
        w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept");
    }
    w.rating("user:bob", "agent:bot", 1.0, 8.0);
    assert_eq!(w.level("agent:bot", 8.0), 1);
    // A betrayal at the level's whole limit: the full cool-down.
    let broken = w.promise("agent:bot", "user:ann", 100.0, 9.0, "broken");
    assert_eq!(w.level("agent:bot", 9.5), 0, "demoted at once");
    let step = *w.state.timeline(&id("agent:bot")).last().expect("a step");
    assert_eq!((step.from, step.to), (1, 0));
    assert_eq!(
        step.cause,
        StepCause::Broken {
            index: broken,
            stake: 100.0
        }
    );
    // Kept promises at once do not lift it during the 30-day cool-down…
    for i in 0..5 {
        w.promise(
            "agent:bot",
            "clients",
            10.0,
            10.0 + f64::from(i) * 0.1,
            "kept",
        );
    }
    let bot = id("agent:bot");
    let d = w.state.decide(&bot, "act:low", 50.0, None, at(20.0));
    assert!(!d.allowed);
    assert!(
        d.reasons()
            .as_slice()
            .iter()
            .any(|r| r.code() == "cooldown")
    );
    assert!(
        d.next_step()
            .expect("next")
            .requirements()
            .iter()
            .any(|r| r.name == "cooldown_days_left" && !r.met)
    );
    // …and it climbs back only once the cool-down is over.
    assert_eq!(w.level("agent:bot", 39.4), 0);
    assert_eq!(w.level("agent:bot", 39.6), 1);
}

/// A contributor (level 1, limit 100) who breaks a promise of `slip` on day 9 and, when
/// `kept_after`, keeps one of 10 on day 10.
fn contributor_who_slips(scale_by_stake: bool, slip: f64, kept_after: bool) -> World {
    let ladder = default_ladder_with(|r| r.scale_by_stake = scale_by_stake);
    let mut w = World::new(ladder);
    for i in 0..5 {
        w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept");
    }
    w.rating("user:bob", "agent:bot", 1.0, 8.0);
    assert_eq!(w.level("agent:bot", 8.0), 1);
    w.promise("agent:bot", "user:ann", slip, 9.0, "broken");
    if kept_after {
        w.promise("agent:bot", "clients", 10.0, 10.0, "kept");
    }
    w
}

#[test]
fn a_small_slip_demotes_at_once_but_costs_only_its_share_of_the_cool_down() {
    // A slip of 10 at a level whose limit is 100: severity 0.1, so 3 of the 30 days of
    // cool-down, 0.7 of the 7 clean days; 2 of the 3 kept promises and 0.9 of the day of
    // tenure still count.
    let w = contributor_who_slips(true, 10.0, true);
    assert_eq!(w.level("agent:bot", 9.5), 0, "one betrayal demotes at once");
    assert_eq!(w.level("agent:bot", 12.4), 0, "cool-down: 0.1 × 30 days");
    assert_eq!(
        w.level("agent:bot", 12.6),
        1,
        "back after the short cool-down"
    );
    let timeline = w.state.timeline(&id("agent:bot"));
    assert!(
        timeline.iter().all(|s| s.to <= s.from + 1),
        "promotions one step at a time: {timeline:?}"
    );
    // Without a kept promise after the slip, time alone never lifts it: one is earned again.
    let idle = contributor_who_slips(true, 10.0, false);
    assert_eq!(idle.level("agent:bot", 60.0), 0);
    // The next step says so, with the scaled clean period and kept count.
    let bot = id("agent:bot");
    let requirement = |day: f64, name: &str| {
        let d = idle.state.decide(&bot, "act:low", 50.0, None, at(day));
        let next = d.next_step().expect("a next step");
        *next
            .requirements()
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no {name} on day {day}"))
    };
    let clean = requirement(10.0, "clean_days");
    assert!((clean.needed - 0.7).abs() < 1e-6, "{clean:?}");
    assert!(!clean.met, "{clean:?}");
    assert!(requirement(10.3, "clean_days").met);
    // 0.9 of the day of tenure level 1 asks for still counts: 0.95 days held at 9.55.
    let tenure = requirement(9.55, "tenure_days");
    assert!((tenure.current - 0.95).abs() < 1e-6, "{tenure:?}");
    assert!(!tenure.met && requirement(9.65, "tenure_days").met);
    let kept = requirement(20.0, "kept");
    assert_eq!((kept.current, kept.needed, kept.met), (2.0, 3.0, false));
    // Without scaling, the same slip costs the whole cool-down.
    let unscaled = contributor_who_slips(false, 10.0, true);
    assert_eq!(unscaled.level("agent:bot", 12.6), 0);
    assert_eq!(unscaled.level("agent:bot", 39.4), 0);
    // (kept promises restart from zero without scaling: three are needed again)
    assert_eq!(unscaled.level("agent:bot", 60.0), 0);
}

#[test]
fn slicing_a_betrayal_into_small_ones_buys_no_shorter_way_back() {
    // One betrayal of the whole limit, against the same stake in ten slices: the first slice
    // demotes to level 0, where every further slice is a full-limit betrayal.
    let mut whole = World::default_ladder();
    let mut sliced = World::default_ladder();
    for w in [&mut whole, &mut sliced] {
        for i in 0..5 {
            w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept");
        }
        w.rating("user:bob", "agent:bot", 1.0, 8.0);
        assert_eq!(w.level("agent:bot", 8.0), 1);
    }
    whole.promise("agent:bot", "user:ann", 100.0, 9.0, "broken");
    for i in 0..10 {
        sliced.promise(
            "agent:bot",
            "user:ann",
            10.0,
            9.0 + f64::from(i) * 0.01,
            "broken",
        );
    }
    let bot = id("agent:bot");
    let until = |w: &World| w.state.position(&bot).expect("seen").cooldown_until;
    assert!(
        until(&sliced) >= until(&whole),
        "sliced cool-down ends {} before the whole one {}",
        until(&sliced),
        until(&whole)
    );
    for w in [&mut whole, &mut sliced] {
        for i in 0..5 {
            w.promise(
                "agent:bot",
                "clients",
                10.0,
                10.0 + f64::from(i) * 0.1,
                "kept",
            );
        }
    }
    let back = |w: &World| {
        (0..600)
            .map(|i| 9.5 + f64::from(i) * 0.1)
            .find(|d| w.level("agent:bot", *d) >= 1)
    };
    let (b_whole, b_sliced) = (back(&whole), back(&sliced));
    assert!(
        b_whole.is_some(),
        "the whole betrayer climbs back in the end"
    );
    assert!(
        b_sliced.is_none_or(|s| s >= b_whole.unwrap_or(0.0)),
        "sliced back on day {b_sliced:?}, whole on {b_whole:?}"
    );
}

#[test]
fn larger_betrayals_fall_further() {
    let day = DAY_MICROS;
    let step = |name: &str, max_stake: f64| Level {
        name: name.into(),
        capabilities: vec![format!("cap:{name}")],
        max_stake,
        requires: Requirements {
            kept: 1,
            max_uncertainty: 1.0,
            ..Requirements::default()
        },
        budget: None,
    };
    let mut levels = vec![Level {
        requires: Requirements::default(),
        ..step("l0", 10.0)
    }];
    levels.extend([step("l1", 100.0), step("l2", 1000.0), step("l3", 1000.0)]);
    let ladder = Ladder::new(
        levels,
        Rules {
            cooldown: day,
            ..Rules::default()
        },
        HashMap::new(),
    )
    .expect("ladder");
    let climb = |w: &mut World, who: &str| {
        for i in 0..3 {
            w.promise(who, "clients", 1.0, f64::from(i), "kept");
        }
        w.rating("user:bob", who, 1.0, 3.0);
        assert_eq!(w.level(who, 3.0), 3);
    };
    let mut w = World::new(ladder);
    climb(&mut w, "small");
    climb(&mut w, "large");
    w.promise("small", "user:ann", 100.0, 4.0, "broken"); // < half of 1000: one step
    w.promise("large", "user:ann", 1000.0, 4.0, "broken"); // two halves more: three steps
    assert_eq!(w.level("small", 4.6), 2);
    assert_eq!(w.level("large", 4.6), 0);
}

#[test]
fn a_promise_left_past_due_demotes_when_it_falls_due() {
    let mut w = World::default_ladder();
    for i in 0..5 {
        w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept");
    }
    let late = w.open_promise("agent:bot", "user:ann", 10.0, 2.0, 6.0);
    assert_eq!(w.level("agent:bot", 5.9), 1);
    assert_eq!(
        w.level("agent:bot", 6.1),
        0,
        "overdue counts as broken from the due instant"
    );
    // Recorded as broken later, it is not charged twice.
    w.record(format!(
        r#"{{"kind":"outcome","at":"{}","promise":"p6","result":"broken"}}"#,
        at(7.0)
    ));
    let steps: Vec<_> = w
        .state
        .timeline(&id("agent:bot"))
        .iter()
        .filter(|s| s.to < s.from)
        .collect();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(
        steps[0].cause,
        StepCause::Overdue {
            index: late,
            stake: 10.0
        }
    );
}

#[test]
fn a_small_dip_does_not_demote_but_a_real_fall_does() {
    let mut w = World::default_ladder();
    for i in 0..3 {
        w.promise("agent:bot", "clients", 5.0, f64::from(i) * 0.1, "kept");
    }
    w.rating("user:bob", "agent:bot", 0.1, 1.5);
    assert_eq!(w.level("agent:bot", 1.5), 1);
    let min = 0.6;
    let margin = Rules::default().margin;
    let mut saw_dip = false;
    for i in 0..100 {
        w.rating(
            &format!("user:critic{i}"),
            "agent:bot",
            -0.5,
            2.0 + f64::from(i) * 0.004,
        );
        let standing = w.state.trust().standing(
            w.state
                .trust()
                .principal_index(&id("agent:bot"))
                .expect("known"),
            at(2.5),
        );
        let level = w.level("agent:bot", 2.5);
        if standing.expected() < min && standing.expected() >= min - margin {
            saw_dip = true;
            assert_eq!(level, 1, "a dip within the margin keeps the level");
        }
        if standing.expected() < min - margin {
            assert_eq!(level, 0, "a fall beyond the margin demotes");
            assert!(saw_dip, "the story should pass through the margin first");
            return;
        }
    }
    panic!("the critics never brought the standing down");
}

#[test]
fn an_on_off_principal_never_holds_the_level_an_honest_one_reaches() {
    let mut w = World::default_ladder();
    let mut on_off_best = 0;
    for i in 0..60 {
        let day = f64::from(i) * 2.0;
        w.promise("agent:honest", "clients", 60.0, day, "kept");
        let result = if i % 4 == 3 { "broken" } else { "kept" };
        w.promise("agent:onoff", "user:ann", 60.0, day, result);
        w.rating("user:bob", "agent:honest", 0.5, day + 1.0);
        w.rating("user:bob", "agent:onoff", 0.5, day + 1.0);
        on_off_best = on_off_best.max(w.level("agent:onoff", day + 1.0));
    }
    let honest = w.level("agent:honest", 121.0);
    assert!(honest >= 2, "the honest principal climbs: level {honest}");
    assert!(
        on_off_best < honest,
        "on-off reached {on_off_best}, honest {honest}"
    );
}

#[test]
fn a_cautious_truster_refuses_what_the_default_policy_allows() {
    let cautious = id("user:cautious");
    let base = Ladder::default();
    let ladder = Ladder::new(
        base.levels().to_vec(),
        base.rules().clone(),
        HashMap::from([(
            cautious.clone(),
            Profile {
                stake_factor: 0.5,
                ..Profile::default()
            },
        )]),
    )
    .expect("ladder");
    let w = World::new(ladder);
    let newcomer = id("agent:new");
    let by_default = w.state.decide(&newcomer, "propose", 8.0, None, at(0.0));
    let by_cautious = w
        .state
        .decide(&newcomer, "propose", 8.0, Some(&cautious), at(0.0));
    assert!(by_default.allowed);
    assert!(!by_cautious.allowed);
    assert_eq!(by_cautious.limit, 5.0);
    let first = by_cautious.reasons().as_slice()[0];
    assert!(by_cautious.describe(&first).contains("own profile"));
}

#[test]
fn open_promises_use_up_the_limit_until_they_end() {
    let mut w = World::default_ladder();
    for i in 0..3 {
        w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept");
    }
    let bot = id("agent:bot");
    assert_eq!(
        w.level("agent:bot", 2.0),
        1,
        "a contributor, trusted with 100"
    );
    // Two open promises to different clients: 60 + 30 of the 100 are at risk.
    w.open_promise("agent:bot", "user:bob", 60.0, 2.0, 5.0);
    w.open_promise("agent:bot", "user:cat", 30.0, 2.1, 4.0);
    let d = w.state.decide(&bot, "act:low", 20.0, None, at(2.2));
    assert!(!d.allowed);
    assert_eq!(d.denial, Some(Denial::ExposureAboveLimit));
    assert_eq!((d.limit, d.exposure, d.available()), (100.0, 90.0, 10.0));
    let first = d.reasons().as_slice()[0];
    assert_eq!(first.code(), "exposure_above_limit");
    assert!(
        d.describe(&first).contains("90 already at stake"),
        "{}",
        d.describe(&first)
    );
    assert_eq!(d.reason_data(&first)["exposure"], 90.0);
    assert!(w.state.decide(&bot, "act:low", 10.0, None, at(2.2)).allowed);
    // An outcome ends a promise's exposure.
    w.record(format!(
        r#"{{"kind":"outcome","at":"{}","promise":"p4","result":"kept"}}"#,
        at(2.5)
    ));
    let d = w.state.decide(&bot, "act:low", 20.0, None, at(2.6));
    assert!(d.allowed, "{:?}", d.denial);
    assert_eq!(d.exposure, 30.0);
    // One past due counts as broken (it demoted), not as still at risk.
    let d = w.state.decide(&bot, "propose", 5.0, None, at(4.5));
    assert_eq!(
        d.exposure.to_bits(),
        0.0f64.to_bits(),
        "+0, not -0: it is printed"
    );
    assert_eq!(d.level, 0, "the overdue promise demoted");
    // With the rule off, the limit bounds each promise alone.
    let mut w = World::new(default_ladder_with(|r| r.limit_exposure = false));
    w.open_promise("agent:new", "user:bob", 10.0, 0.0, 5.0);
    let new = id("agent:new");
    let d = w.state.decide(&new, "propose", 10.0, None, at(0.5));
    assert!(d.allowed);
    assert_eq!(d.exposure, 0.0);
}

/// Level 0 has no step down, so its limit is what a betrayal there costs: each betrayal takes
/// half of the share it betrayed of what is left while the cool-down runs — a full-limit slip
/// leaves half, a run of betrayals almost nothing and takes under twice the limit in all — and
/// it is whole again once the cool-down is over.
#[test]
fn betrayals_at_level_0_shrink_its_limit_until_the_cool_down_ends() {
    let mut w = World::default_ladder();
    let mallory = id("agent:mallory");
    let limit = |w: &World, day: f64| {
        w.state
            .decide(&mallory, "propose", 0.0, None, at(day))
            .limit
    };
    assert_eq!(limit(&w, 0.0), 10.0);
    // Breaks a promise of 10 at level 0: a full-limit betrayal, a 30-day cool-down.
    w.promise("agent:mallory", "user:ann", 10.0, 0.0, "broken");
    assert_eq!(w.level("agent:mallory", 1.0), 0);
    assert!((limit(&w, 1.0) - 5.0).abs() < 1e-9, "{}", limit(&w, 1.0));
    let d = w.state.decide(&mallory, "propose", 6.0, None, at(1.0));
    assert_eq!(d.denial, Some(Denial::StakeAboveLimit));
    assert_eq!(d.level_0_share, 0.5);
    let why = d.describe(&d.reasons().as_slice()[0]);
    assert!(why.contains("cut to 50.0% of level 0's"), "{why}");
    assert!(
        w.state
            .decide(&mallory, "propose", 5.0, None, at(1.0))
            .allowed
    );
    // Betrays again and again at whatever is left: each takes half of what remains.
    let mut taken = 10.0;
    for day in 1..8 {
        let left = limit(&w, f64::from(day));
        w.promise("agent:mallory", "user:bob", left, f64::from(day), "broken");
        taken += left;
    }
    assert!(
        taken < 2.0 * 10.0,
        "a run of betrayals takes under twice the limit: {taken}"
    );
    assert!(limit(&w, 8.0) < 0.1, "{}", limit(&w, 8.0));
    // The latest betrayal's cool-down over, level 0 is whole again.
    assert_eq!(limit(&w, 40.0), 10.0);

    // Turned off, level 0 stays whole for anyone above the floor.
    let mut w = World::new(default_ladder_with(|r| r.bound_level_0_losses = false));
    w.promise("agent:mallory", "user:ann", 10.0, 0.0, "broken");
    assert_eq!(limit(&w, 1.0), 10.0);
}

#[test]
fn every_denial_names_its_reason_and_the_next_step() {
    let mut w = World::default_ladder();
    for i in 0..30 {
        w.rating(&format!("user:{i}"), "agent:bad", -1.0, f64::from(i) * 0.01);
    }
    let bad = id("agent:bad");
    let fresh = id("agent:fresh");
    let cases: Vec<(&Id, &str, f64, &str)> = vec![
        (&fresh, "launch:rockets", 1.0, "unknown_capability"),
        (&fresh, "act:high", 1.0, "capability_needs_level"),
        (&fresh, "propose", 11.0, "stake_above_limit"),
        (&fresh, "propose", f64::NAN, "invalid_stake"),
        (&bad, "read", 1.0, "negative_record"),
    ];
    for (who, capability, stake, code) in cases {
        let d = w.state.decide(who, capability, stake, None, at(1.0));
        assert!(!d.allowed, "{code}");
        let reasons = d.reasons();
        let first = reasons.as_slice()[0];
        assert_eq!(first.code(), code);
        assert!(!d.describe(&first).is_empty());
        let next = d.next_step().expect("a next step below the top");
        assert!(!next.requirements().is_empty());
        assert!(
            next.requirements().iter().any(|r| !r.met),
            "{code}: something is still needed"
        );
    }
}

#[test]
fn decisions_cite_the_evidence_and_steps_behind_them() {
    let mut w = World::default_ladder();
    let mut indexes = Vec::new();
    for i in 0..3 {
        indexes.push(w.promise("agent:bot", "clients", 10.0, f64::from(i) * 0.1, "kept"));
    }
    w.rating("user:bob", "agent:bot", 1.0, 2.0);
    let bot = id("agent:bot");
    let d = w.state.decide(&bot, "act:low", 50.0, None, at(2.0));
    assert!(d.allowed, "{:?}", d.reasons());
    let evidence = d.evidence();
    for i in indexes {
        assert!(evidence.contains(&i), "outcome {i} is cited: {evidence:?}");
    }
    // Promoted by time: on day 1 its one-day tenure at level 0 (from its first event) was over.
    let step = w.state.timeline(&id("agent:bot"))[0];
    assert_eq!(step.cause, StepCause::Promoted { index: None });
    assert_eq!(step.at, at(1.0));
}

/// Two seeds, and five members each of them rated: the part of the network the seeds reach.
fn seeds_and_members() -> World {
    let mut w = World::seeded(&["seed:a", "seed:b"]);
    for m in 0..5 {
        w.rating("seed:a", &format!("member:{m}"), 1.0, 0.0);
        w.rating("seed:b", &format!("member:{m}"), 1.0, 0.0);
    }
    w
}

#[test]
fn with_seeds_an_honest_newcomer_who_deals_with_reached_members_climbs() {
    let mut w = seeds_and_members();
    // Three kept promises a day at stake 60, each judged by one of the members in turn.
    let mut reached_2 = None;
    for day in 1..=60 {
        for k in 0..3 {
            let member = format!("member:{}", (day * 3 + k) % 5);
            let d = f64::from(day) + f64::from(k) * 0.1;
            w.promise("user:new", &member, 60.0, d, "kept");
        }
        if reached_2.is_none() && w.level("user:new", f64::from(day) + 0.9) >= 2 {
            reached_2 = Some(day);
        }
    }
    let day = reached_2.expect("level 2 within 60 days");
    assert!(day <= 60, "level 2 on day {day}");
}

#[test]
fn with_seeds_a_ring_no_seed_reaches_cannot_lift_anyone() {
    for old in [false, true] {
        let mut w = seeds_and_members();
        let ring: Vec<String> = (0..10).map(|i| format!("ring:{i}")).collect();
        if old {
            // An old ring: its members dealt with each other for 100 days first.
            for day in 0..100 {
                for (i, a) in ring.iter().enumerate() {
                    let b = &ring[(i + 1 + day % 9) % 10];
                    w.promise(a, b, 60.0, f64::from(day as u32), "kept");
                    w.rating(b, a, 1.0, f64::from(day as u32) + 0.6);
                }
            }
        }
        // Then the ring takes turns judging the attacker's promises, all kept, for 200 days.
        let start = if old { 100.0 } else { 0.0 };
        for day in 0..200 {
            for k in 0..3 {
                let judge = &ring[(day * 3 + k) % 10];
                let d = start + f64::from(day as u32) + k as f64 * 0.1;
                w.promise("agent:x", judge, 60.0, d, "kept");
            }
            w.rating(
                &ring[day % 10],
                "agent:x",
                1.0,
                start + f64::from(day as u32) + 0.5,
            );
        }
        let end = start + 200.0;
        assert_eq!(w.level("agent:x", end), 0, "old ring {old}");
        let attacker = id("agent:x");
        let explanation = w.state.explain(&attacker, at(end));
        let checklist: Vec<String> = explanation
            .standing
            .next_step()
            .expect("a next step")
            .requirements()
            .iter()
            .map(|r| explanation.standing.describe_requirement(r))
            .collect();
        assert!(
            checklist.iter().any(|t| t.contains("0 of 3")
                && t.contains("600 more were judged by principals no seed reaches")),
            "{checklist:?}"
        );
    }
    // Without seeds the same ring lifts the attacker: what the seeds defend against.
    let mut w = World::default_ladder();
    for day in 0..30 {
        for k in 0..3 {
            let judge = format!("ring:{}", (day * 3 + k) % 10);
            w.promise(
                "agent:x",
                &judge,
                60.0,
                f64::from(day as u32) + k as f64 * 0.1,
                "kept",
            );
        }
    }
    assert!(w.level("agent:x", 30.0) >= 2);
}

#[test]
fn one_credible_insider_lifts_an_attacker_by_no_more_than_one_level() {
    let mut w = seeds_and_members();
    // member:0 is the insider: it judges a third of the attacker's promises, kept; the ring
    // judges the rest.
    for day in 0..200 {
        for k in 0..3 {
            let judge = if k == 0 {
                "member:0".to_owned()
            } else {
                format!("ring:{}", (day * 3 + k) % 10)
            };
            w.promise(
                "agent:x",
                &judge,
                60.0,
                f64::from(day) + f64::from(k) * 0.1,
                "kept",
            );
        }
    }
    assert!(w.level("agent:x", 200.0) <= 1);
    // A second reached promisee is what the first level asks for.
    let bot = id("agent:x");
    let d = w.state.decide(&bot, "act:low", 50.0, None, at(200.0));
    let next = d.next_step().expect("a next step");
    let counterparties = next
        .requirements()
        .iter()
        .find(|r| r.name == "counterparties")
        .expect("the counterparty requirement");
    assert_eq!((counterparties.current, counterparties.needed), (1.0, 2.0));
    assert!(
        d.describe_requirement(counterparties)
            .contains("distinct promisees")
    );
}

/// The names of the next step's requirements `d` does not meet yet.
fn unmet(d: &stepwise::ladder::Decision<'_>) -> Vec<&'static str> {
    let step = d.next_step().expect("a next step");
    step.requirements()
        .iter()
        .filter(|r| !r.met)
        .map(|r| r.name)
        .collect()
}

/// For agents: a refusal says whether any record could ever allow the request ("never" or
/// "not yet"), and when time alone will — retrying then is allowed, a moment before it is not.
#[test]
fn a_refusal_says_never_or_not_yet_and_when_time_alone_will_allow_it() {
    let mut w = World::default_ladder();
    let agent = id("agent:a");
    let now = at(0.0);
    let never = |capability: &str, stake: f64| {
        let d = w.state.decide(&agent, capability, stake, None, now);
        assert!(!d.allowed);
        assert_eq!(d.retryable(), Some(false), "{capability} at {stake}");
        assert_eq!(d.earliest_retry(), None);
    };
    never("launch:rockets", 5.0);
    never("act:high", 20_000.0);
    never("propose", f64::NAN);
    let d = w.state.decide(&agent, "propose", 5.0, None, now);
    assert!(d.allowed);
    assert_eq!((d.retryable(), d.earliest_retry()), (None, None));
    // Not yet, and not a matter of time: kept promises first.
    let d = w.state.decide(&agent, "act:low", 50.0, None, now);
    assert_eq!((d.retryable(), d.earliest_retry()), (Some(true), None));

    // Kept promises to several clients on day 0: all level 1 asks for but a day at level 0.
    for i in 0..8 {
        w.promise("agent:a", "clients", 5.0, f64::from(i) * 0.05, "kept");
    }
    let d = w.state.decide(&agent, "act:low", 50.0, None, at(0.6));
    assert!(!d.allowed, "{:?}", d.reasons());
    assert_eq!(d.retryable(), Some(true));
    let when = d.earliest_retry().expect("only tenure is missing");
    assert_eq!(unmet(&d), ["tenure_days"]);
    assert!(w.state.decide(&agent, "act:low", 50.0, None, when).allowed);
    let before = Time::from_micros(when.as_micros() - 1).expect("time");
    assert!(
        !w.state
            .decide(&agent, "act:low", 50.0, None, before)
            .allowed
    );
    // Two steps up is more than time: no instant.
    let d = w.state.decide(&agent, "act:medium", 500.0, None, at(0.6));
    assert_eq!((d.retryable(), d.earliest_retry()), (Some(true), None));

    // A small slip at level 1 steps it down, and what it costs is a matter of time: the
    // instant says when it is over.
    for i in 0..30 {
        w.promise("agent:a", "clients", 5.0, 1.0 + f64::from(i) * 0.05, "kept");
    }
    assert_eq!(w.level("agent:a", 3.0), 1);
    w.promise("agent:a", "clients", 5.0, 3.0, "broken");
    for i in 0..4 {
        w.promise("agent:a", "clients", 5.0, 3.1 + f64::from(i) * 0.05, "kept");
    }
    let d = w.state.decide(&agent, "act:low", 50.0, None, at(3.6));
    assert!(!d.allowed, "{:?}", d.reasons());
    assert!(unmet(&d).contains(&"cooldown_days_left"), "{:?}", unmet(&d));
    let when = d.earliest_retry().expect("only time is missing");
    assert!(when > at(3.6));
    assert!(w.state.decide(&agent, "act:low", 50.0, None, when).allowed);
    let before = Time::from_micros(when.as_micros() - 1).expect("time");
    assert!(
        !w.state
            .decide(&agent, "act:low", 50.0, None, before)
            .allowed
    );

    // At level 0 a betrayal halves the limit until its cool-down ends: that too is time.
    let mut w = World::default_ladder();
    for i in 0..5 {
        w.promise("agent:b", "clients", 5.0, f64::from(i) * 0.05, "kept");
    }
    w.promise("agent:b", "clients", 5.0, 0.3, "broken");
    let b = id("agent:b");
    let d = w.state.decide(&b, "propose", 10.0, None, at(0.9));
    assert_eq!(d.denial, Some(Denial::StakeAboveLimit), "{:?}", d.reasons());
    let when = d.earliest_retry().expect("the bound on losses ends");
    assert!(w.state.decide(&b, "propose", 10.0, None, when).allowed);
}

#[test]
fn a_budget_over_time_refuses_the_pace_not_the_stake_and_says_when_it_frees_up() {
    use stepwise::ladder::Budget;
    let mut levels = Ladder::default().levels().to_vec();
    levels[0].budget = Some(Budget {
        stake: Some(12.0),
        calls: None,
        per: DAY_MICROS,
    });
    let ladder = Ladder::new(levels, Rules::default(), HashMap::new()).expect("ladder");
    let mut w = World::new(ladder);
    let bot = id("agent:bot");
    // Two promises of 5, kept at once: nothing stays at risk, but 10 of the 12 a day is spent.
    w.promise("agent:bot", "clients", 5.0, 0.0, "kept");
    w.promise("agent:bot", "clients", 5.0, 0.25, "kept");
    let d = w.state.decide(&bot, "propose", 2.0, None, at(0.9));
    assert!(d.allowed, "{:?}", d.denial);
    let d = w.state.decide(&bot, "propose", 5.0, None, at(0.9));
    assert_eq!(d.denial, Some(Denial::BudgetExhausted));
    assert_eq!(d.exposure, 0.0, "the limit alone would allow it");
    let first = d.reasons().as_slice()[0];
    assert_eq!(first.code(), "budget_exhausted");
    let words = d.describe(&first);
    assert!(words.contains("10 promised within the last 1d"), "{words}");
    let data = d.reason_data(&first);
    assert_eq!(
        (data["stake_used"].as_f64(), data["stake_limit"].as_f64()),
        (Some(10.0), Some(12.0))
    );
    assert_eq!(data["per"], "1d");
    assert_eq!(d.retryable(), Some(true));
    // The first promise leaves the window a day after it was made; then 5 + 5 ≤ 12.
    assert_eq!(d.earliest_retry(), Some(at(1.0)));
    assert!(w.state.decide(&bot, "propose", 5.0, None, at(1.0)).allowed);
    // A request at stake 0 spends nothing and is never refused for the budget.
    assert!(w.state.decide(&bot, "propose", 0.0, None, at(0.9)).allowed);
    // A larger stake waits for both promises to leave the window.
    let d = w.state.decide(&bot, "propose", 10.0, None, at(0.3));
    assert_eq!(d.denial, Some(Denial::BudgetExhausted));
    assert_eq!(d.earliest_retry(), Some(at(1.25)));
    assert_eq!(d.retryable(), Some(true));
}
