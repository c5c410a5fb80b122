//! The ladder's laws, on random histories: levels are a pure function of the log, climbed one
//! step at a time, one betrayal demotes at once, and an honest record is never demoted.

use crate::common::*;
use proptest::prelude::*;
use std::collections::HashMap;
use stepwise::evidence::{Body, Event};
use stepwise::ladder::{Ladder, LadderState, Rules, StepCause};
use stepwise::model::params::ModelParams;
use stepwise_store::LogStore as _;
use stepwise_store::replay::{Prefix, fold_log};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// With seeds named, evidence given by principals no seed reaches — ratings, reports,
    /// vouches, and outcomes of promises made to them — never raises anyone's level, at any
    /// instant: it is ignored, or (a broken or overdue promise) it lowers.
    #[test]
    fn evidence_from_principals_no_seed_reaches_never_raises_a_level(
        steps in prop::collection::vec(step(), 1..150),
        intrusions in prop::collection::vec((0..1000usize, 0..6u8, 0..PEOPLE.len(), -10..=10i32), 1..40),
        later in 0.0..200.0f64,
    ) {
        let (events, last) = history(&steps);
        let seeded = ModelParams {
            seeds: vec![id("ann"), id("bob")],
            ..ModelParams::default()
        };
        let day_of = |e: &Event| (e.at.as_micros() - at(0.0).as_micros()) as f64 / stepwise::model::params::DAY_MICROS as f64;
        // The same history with the outsiders' evidence woven in, each at the instant of the
        // event it precedes (or after the last).
        let mut woven: Vec<Event> = Vec::new();
        let mut intrusions = intrusions;
        intrusions.sort_by_key(|i| i.0);
        let mut next = intrusions.iter().peekable();
        for k in 0..=events.len() {
            let day = events.get(k).map_or(last, day_of);
            while let Some((_, kind, target, v)) = next.next_if(|i| i.0 % (events.len() + 1) <= k) {
                let outsider = format!("ring:{}", (*v).rem_euclid(3));
                let member = PEOPLE[*target];
                let value = f64::from(*v) / 10.0;
                match kind {
                    0 => woven.push(rating(&outsider, member, value, day)),
                    1 => woven.push(report(&outsider, member, value.abs().max(0.1), day)),
                    2 => woven.push(vouch(&outsider, member, value.abs().max(0.1), day)),
                    3 => woven.push(rating(&outsider, &format!("ring:{}", (*v + 1).rem_euclid(3)), value, day)),
                    _ => {
                        let pid = format!("x{}", woven.len());
                        woven.push(promise(&pid, member, &outsider, 60.0, day, day + 2.0));
                        let result = if *kind == 4 { "kept" } else if *v < 0 { "broken" } else { "partial:0.5" };
                        woven.push(outcome(&pid, result, day));
                    }
                }
            }
            if let Some(e) = events.get(k) {
                woven.push(e.clone());
            }
        }
        let fold = |events: &[Event]| {
            let mut state = LadderState::new(seeded.clone(), Ladder::default());
            for (i, e) in events.iter().enumerate() {
                state.apply(i as u64, e);
            }
            state
        };
        let (plain, with) = (fold(&events), fold(&woven));
        for who in PEOPLE {
            for day in [last, last + later] {
                let (a, b) = (plain.level_at(&id(who), at(day)), with.level_at(&id(who), at(day)));
                prop_assert!(b <= a, "{who} on day {day}: {a} without the outsiders, {b} with them");
                // Nor the standing the ladder reads: their evidence weighs nothing.
                // (Someone never seen stands at the base rate.)
                let standing = |s: &LadderState| {
                    let i = s.trust().principal_index(&id(who));
                    i.map_or(s.trust().params().base_rate, |i| s.trust().standing(i, at(day)).expected())
                };
                let (a, b) = (standing(&plain), standing(&with));
                prop_assert!(b <= a + 1e-9, "{who} on day {day}: expected trust {a} without, {b} with");
            }
        }
    }

    /// The positions and timelines folded event by event (with decisions asked in between)
    /// equal those of a replay of the stored log, and so do the decisions.
    #[test]
    fn levels_are_a_pure_function_of_the_log(steps in prop::collection::vec(step(), 1..120)) {
        let (events, last) = history(&steps);
        let (mut ledger, clock) = ledger_and_clock("ladder.test/log", 5);
        // Half the histories under seeds, whose reach the fold keeps too.
        let params = if steps.len() % 2 == 1 {
            ModelParams { seeds: vec![id("ann"), id("cat")], ..ModelParams::default() }
        } else {
            ModelParams::default()
        };
        let mut incremental = LadderState::new(params.clone(), Ladder::default());
        for e in events {
            let appended = append_live(&mut ledger, &clock, e);
            let index = appended.results[0].clone().expect("valid history");
            let bytes = ledger.entry(index).expect("entry").bytes;
            let decoded = Event::from_entry(&bytes).expect("decodes");
            incremental.apply(index, &decoded);
            let ann = id("ann");
            let _ = incremental.decide(&ann, "act:low", 50.0, None, at(last)).next_step();
        }
        let replayed = stepwise_store::replay::ladder_state(ledger.store(), params, Ladder::default(), Prefix::ALL, &mut |_| {}).expect("replay");
        prop_assert!(incremental.trust() == replayed.trust(), "the trust states differ");
        for who in PEOPLE {
            let who = id(who);
            prop_assert_eq!(incremental.position(&who), replayed.position(&who));
            prop_assert_eq!(incremental.timeline(&who), replayed.timeline(&who));
            for day in [last, last + 10.0, last + 100.0] {
                let a = incremental.decide(&who, "act:medium", 500.0, None, at(day));
                let b = replayed.decide(&who, "act:medium", 500.0, None, at(day));
                prop_assert_eq!((a.allowed, a.level, a.limit, a.exposure), (b.allowed, b.level, b.limit, b.exposure));
                prop_assert_eq!(a.next_step(), b.next_step());
            }
        }
    }

    /// What a principal has at stake is the sum of its promises with no outcome that are not
    /// yet due (recomputed here from the events alone), and nothing allowed ever adds risk
    /// beyond the limit (promises recorded without asking may hold more than it already).
    #[test]
    fn nothing_allowed_puts_more_than_the_limit_at_risk(
        steps in prop::collection::vec(step(), 1..150),
        later in 0.0..40.0f64,
        stake in 0.0..1_200.0f64,
    ) {
        let (events, last) = history(&steps);
        let mut state = LadderState::new(ModelParams::default(), Ladder::default());
        // The oracle: promise id -> (promisor, stake, due), removed by its outcome.
        let mut open: HashMap<String, (String, f64, stepwise::evidence::Time)> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            state.apply(i as u64, e);
            match &e.body {
                Body::Promise { id, promisor, stake, due, .. } => {
                    open.insert(id.to_string(), (promisor.to_string(), *stake, *due));
                }
                Body::Outcome { promise, .. } => {
                    open.remove(promise.as_str());
                }
                _ => {}
            }
        }
        let when = at(last + later);
        for who in PEOPLE {
            let principal = id(who);
            let at_stake: f64 = open
                .values()
                .filter(|(promisor, _, due)| promisor == who && *due > when)
                .map(|(_, stake, _)| stake)
                .sum();
            let d = state.decide(&principal, "propose", stake, None, when);
            prop_assert!((d.exposure - at_stake).abs() < 1e-9, "{who}: {} vs {at_stake}", d.exposure);
            if d.allowed && stake > 0.0 {
                prop_assert!(stake + d.exposure <= d.limit, "{who}: {stake} + {} > {}", d.exposure, d.limit);
            }
            if d.denial.is_some_and(|x| x.code() == "exposure_above_limit") {
                prop_assert!(stake <= d.limit && stake + d.exposure > d.limit);
                // What the decision says is left is what may be asked for.
                let rest = state.decide(&principal, "propose", d.available(), None, when);
                prop_assert!(rest.allowed, "{:?}", rest.denial);
            }
        }
    }

    /// Every promotion is one step; no history skips a level, whenever it is looked at.
    #[test]
    fn promotions_are_one_step_at_a_time(steps in prop::collection::vec(step(), 1..150), later in 0.0..400.0f64) {
        let (events, last) = history(&steps);
        let mut state = LadderState::new(ModelParams::default(), Ladder::default());
        for (i, e) in events.iter().enumerate() {
            state.apply(i as u64, e);
        }
        for who in PEOPLE {
            let who = id(who);
            let mut steps = state.timeline(&who).to_vec();
            let index = state.trust().principal_index(&who);
            let now = state.position_at(index, at(last + later), &mut steps);
            for s in &steps {
                prop_assert!(s.to < s.from || s.to == s.from + 1, "{s:?}");
            }
            prop_assert!(steps.windows(2).all(|w| w[0].at <= w[1].at), "{steps:?}");
            prop_assert_eq!(now.level, steps.last().map_or(0, |s| s.to));
        }
    }

    /// One betrayal demotes at once, whatever its stake — however small against the level's
    /// limit, and whether or not the rest of its cost scales with the stake.
    #[test]
    fn one_betrayal_demotes_at_once_whatever_its_stake(
        kept in prop::collection::vec((1.0..600.0f64, 0.05..3.0f64), 3..40),
        stake in prop_oneof![Just(0.0), 0.0..1.0f64, 0.0..2_000.0f64],
        scale_by_stake in any::<bool>(),
    ) {
        let d = Ladder::default();
        let rules = Rules { scale_by_stake, ..d.rules().clone() };
        let ladder = Ladder::new(d.levels().to_vec(), rules, HashMap::new()).expect("ladder");
        let mut state = LadderState::new(ModelParams::default(), ladder);
        let mut events = Vec::new();
        let mut day = 0.0;
        for (i, (s, gap)) in kept.iter().enumerate() {
            let pid = format!("k{i}");
            events.push(promise(&pid, "zed", "ann", *s, day, day + 1.0));
            events.push(outcome(&pid, "kept", day + 0.01));
            events.push(rating("bob", "zed", 1.0, day + 0.02));
            day += gap;
        }
        events.push(promise("slip", "zed", "ann", stake, day + 40.0, day + 41.0));
        for (i, e) in events.iter().enumerate() {
            state.apply(i as u64, e);
        }
        let zed = id("zed");
        let before = state.level_at(&zed, at(day + 40.5));
        state.apply(events.len() as u64, &outcome("slip", "broken", day + 40.5));
        let after = state.level_at(&zed, at(day + 40.5));
        if before > 0 {
            prop_assert!(after < before, "level {before} -> {after} after breaking {stake}");
            let last = state.timeline(&zed).last().copied().expect("a step");
            prop_assert!(matches!(last.cause, StepCause::Broken { .. }), "{last:?}");
        } else {
            prop_assert_eq!(after, 0);
        }
    }

    /// A principal that keeps every promise it makes, whose approvals of others' calls are
    /// kept too, and that nobody reports or rates negatively, is never demoted, whatever everyone else does — as long as its evidence does
    /// not fade (here: half-lives of a million days; fading evidence does demote the idle).
    #[test]
    fn an_honest_record_is_never_demoted(steps in prop::collection::vec(step(), 1..150)) {
        let (events, last) = history(&steps);
        let honest = id("ann");
        // Rewrite the history so that ann keeps her promises and receives no negative verdicts.
        let mut kept_by_ann = std::collections::HashSet::new();
        let events: Vec<Event> = events
            .into_iter()
            .filter_map(|mut e| {
                match &mut e.body {
                    Body::Promise { id, promisor, due, .. } if *promisor == honest => {
                        // On time, too: her promises fall due long after the story ends.
                        *due = stepwise::evidence::Time::from_micros(due.as_micros() + 1000 * stepwise::model::params::DAY_MICROS).expect("time");
                        kept_by_ann.insert(id.clone());
                    }
                    // What she approves for others is kept too: a broken approved promise is
                    // charged to its approver (MODEL.md, "Approvals").
                    Body::Approval { approver, promise, .. } if *approver == honest => {
                        kept_by_ann.insert(promise.clone());
                    }
                    Body::Outcome { promise, result } if kept_by_ann.contains(promise) => {
                        *result = stepwise::evidence::OutcomeResult::Kept;
                    }
                    Body::Rating { subject, value, .. } if *subject == honest && *value < 0.0 => return None,
                    Body::Report { subject, .. } if *subject == honest => return None,
                    _ => {}
                }
                Some(e)
            })
            .collect();
        let lasting = ModelParams {
            half_life_positive: 1_000_000 * stepwise::model::params::DAY_MICROS,
            half_life_negative: 1_000_000 * stepwise::model::params::DAY_MICROS,
            ..ModelParams::default()
        };
        let mut state = LadderState::new(lasting, Ladder::default());
        for (i, e) in events.iter().enumerate() {
            state.apply(i as u64, e);
        }
        let index = state.trust().principal_index(&honest);
        let until = at(last + 365.0);
        let mut steps = state.timeline(&honest).to_vec();
        state.position_at(index, until, &mut steps);
        prop_assert!(steps.iter().all(|s| s.to > s.from), "{steps:?}");
    }

    /// Exact replay: what the log answers at (log size n, instant t) — t being "now" as the
    /// server takes it — with the network rank the server published at log size k ≤ n, a
    /// replay of that prefix with that rank answers again, identically, whatever is recorded
    /// later: outcomes, ratings and reports, many of them backdated within the window to
    /// before t.
    #[test]
    fn an_answer_replays_exactly_whatever_is_recorded_later(
        steps in prop::collection::vec(step(), 1..100),
        later in prop::collection::vec((0..3u8, 0..6usize, 0..6usize, 0.0..1.0f64), 1..40),
        ask_after in 0.0..2.0f64,
        rank_at in 0.0..=1.0f64,
    ) {
        let (events, last) = history(&steps);
        let (mut ledger, clock) = ledger_and_clock("replay.test/log", 6);
        let mut open = Vec::new();
        for e in events {
            match &e.body {
                Body::Promise { id, .. } => open.push(id.clone()),
                Body::Outcome { promise, .. } => open.retain(|p| p != promise),
                _ => {}
            }
            append_live(&mut ledger, &clock, e);
        }
        let answer = |state: &LadderState, t| {
            PEOPLE.map(|who| {
                let who = id(who);
                let d = state.decide(&who, "act:medium", 500.0, None, t);
                let codes: Vec<&str> = d.reasons().as_slice().iter().map(|r| r.code()).collect();
                let trust = state.trust().trust(&who, None, None, t);
                let mut steps = state.timeline(&who).to_vec();
                state.position_at(state.trust().principal_index(&who), t, &mut steps);
                format!(
                    "{:?}",
                    ((d.allowed, d.level, d.limit, d.exposure, codes, d.next_step(), d.evidence()),
                     (trust.opinion, trust.rank, trust.indexes, trust.history, steps),
                     (state.trust().log_size(), trust.rank_log_size))
                )
            })
        };
        // The live state, as the server folds it: entry by entry, its rank published on the way
        // (at log size k) and kept while later entries are folded.
        let size = ledger.store().size().expect("size");
        let k = (rank_at * size as f64).floor() as u64;
        let mut now = LadderState::new(ModelParams::default(), Ladder::default());
        fold_log(ledger.store(), Prefix::ALL, &mut |_| {}, &mut |index, event| {
            if index == k {
                let snapshot = now.trust().rank_job().snapshot();
                now.publish_rank(snapshot);
            }
            now.apply(index, event);
        })
        .expect("fold");
        if k == size {
            let snapshot = now.trust().rank_job().snapshot();
            now.publish_rank(snapshot);
        }
        prop_assert_eq!(now.trust().rank_log_size(), k);
        let n = now.trust().log_size();
        let t = now.trust().instant_for(at(last + ask_after));
        let before = answer(&now, t);

        // Later, the clock moves on; each event is dated up to a day (the window) back.
        for (k, &(kind, a, b, back)) in later.iter().enumerate() {
            let today = last + ask_after + 0.05 * k as f64;
            clock.set(at(today));
            let day = today - back;
            let e = match kind {
                0 if !open.is_empty() => outcome(open.remove(a % open.len()).as_str(), ["kept", "broken"][b % 2], day),
                1 if a != b => rating(PEOPLE[a], PEOPLE[b], if back < 0.5 { 1.0 } else { -1.0 }, day),
                2 if a != b => report(PEOPLE[a], PEOPLE[b], 0.5, day),
                _ => continue,
            };
            // An outcome dated before its promise is refused; the rest is recorded.
            let _ = ledger.append(vec![e]).expect("storage works");
        }
        let again = stepwise_store::replay::ladder_state(
            ledger.store(),
            ModelParams::default(),
            Ladder::default(),
            Prefix { log_size: Some(n), until: Some(t), rank_log_size: Some(k) },
            &mut |_| {},
        )
        .expect("replay");
        prop_assert_eq!(answer(&again, t), before);
    }
}
