//! The trust model's laws (property tests) and its behaviour as small stories.

use crate::common::*;
use proptest::prelude::*;
use stepwise::evidence::{Event, Id};
use stepwise::model::params::ModelParams;
use stepwise::model::state::{TrustReport, TrustState};
use stepwise_store::LogStore as _;
use stepwise_store::replay::Prefix;

/// A state built by applying `events` in order (they must be valid in that order).
fn state_of(events: &[Event]) -> TrustState {
    let mut state = TrustState::new(ModelParams::default());
    for (i, e) in events.iter().enumerate() {
        state.apply(i as u64, e);
    }
    state
}

fn everyone(state: &TrustState, subject: &str, day: f64) -> TrustReport {
    state.trust(&id(subject), None, None, at(day))
}

fn same(a: &TrustReport, b: &TrustReport) -> bool {
    // Bit for bit: `==` on f64 would also accept -0.0 == 0.0.
    let bits = |r: &TrustReport| {
        [
            r.opinion.belief,
            r.opinion.disbelief,
            r.opinion.uncertainty,
            r.opinion.base_rate,
            r.evidence.positive,
            r.evidence.negative,
            r.rank,
        ]
        .map(f64::to_bits)
    };
    bits(a) == bits(b) && a.counts == b.counts && a.indexes == b.indexes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Replay equals incremental: the log appended through the ledger and folded event by
    /// event (with queries in between, which fill caches) gives exactly the state and the
    /// figures that a fresh replay of the stored log gives.
    #[test]
    fn replay_equals_incremental(steps in prop::collection::vec(step(), 1..80)) {
        let (events, last) = history(&steps);
        let (mut ledger, clock) = ledger_and_clock("model.test/log", 3);
        let mut incremental = TrustState::new(ModelParams::default());
        for e in events {
            let appended = append_live(&mut ledger, &clock, e);
            let index = appended.results[0].clone().expect("valid history");
            let stored = ledger.entry(index).expect("entry");
            let decoded = Event::from_entry(&stored.bytes).expect("decodes");
            incremental.apply(index, &decoded);
            let _ = incremental.trust(&id("ann"), None, None, at(last));
        }
        let replayed = stepwise_store::replay::trust_state(ledger.store(), ModelParams::default(), Prefix::ALL, &mut |_| {}).expect("replay");
        prop_assert_eq!(ledger.store().size().expect("size"), replayed.log_size());
        prop_assert!(incremental == replayed);
        for subject in PEOPLE {
            for truster in [None, Some("bob"), Some("eve")] {
                let truster = truster.map(id);
                let a = incremental.trust(&id(subject), truster.as_ref(), None, at(last + 1.0));
                let b = replayed.trust(&id(subject), truster.as_ref(), None, at(last + 1.0));
                prop_assert!(same(&a, &b), "{subject}: {a:?} vs {b:?}");
            }
        }
    }

    /// A policy entry is no evidence: with policy entries among its events (dated even far
    /// ahead of them), a log gives every principal the same figures, bit for bit, as without
    /// them; only the cited indexes move.
    #[test]
    fn policy_entries_change_no_trust(steps in prop::collection::vec(step(), 1..60), every in 1usize..6) {
        let (events, last) = history(&steps);
        let plain = state_of(&events);
        let mut mixed_events = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if i % every == 0 {
                mixed_events.push(Event {
                    at: at(last + 100.0),
                    author: None,
                    body: stepwise::evidence::Body::Policy { sha256: format!("{i:064x}") },
                    note: None,
                    sig: None,
                    stamp: None,
                    seal: None,
                });
            }
            mixed_events.push(e.clone());
        }
        let mixed = state_of(&mixed_events);
        prop_assert_eq!(mixed.latest_event(), plain.latest_event());
        for subject in PEOPLE {
            let (a, b) = (everyone(&plain, subject, last + 1.0), everyone(&mixed, subject, last + 1.0));
            let mut b_moved = b.clone();
            b_moved.indexes = a.indexes.clone();
            prop_assert!(same(&a, &b_moved), "{subject}: {a:?} vs {b:?}");
            prop_assert_eq!(a.indexes.len(), b.indexes.len());
        }
    }

    /// A kept promise never lowers the promisor's expected trust; a broken one never raises it;
    /// for a principal trusted at least 2/3, one broken promise costs at least twice what one
    /// kept promise of the same stake gains (docs/MODEL.md, "Asymmetry").
    #[test]
    fn kept_promises_help_broken_ones_hurt_more(
        steps in prop::collection::vec(step(), 0..60),
        promisor in 0..PEOPLE.len(),
        promisee_offset in 1..PEOPLE.len(),
        stake in 0.0..5000.0f64,
        later in 0.0..20.0f64,
    ) {
        let (mut events, last) = history(&steps);
        let promisee = (promisor + promisee_offset) % PEOPLE.len();
        let (s, q) = (PEOPLE[promisor], PEOPLE[promisee]);
        events.push(promise("law", s, q, stake.round(), last + 0.01, last + 100.0));
        let query = last + 0.02 + later; // before the promise is due
        let before = state_of(&events);
        let outcome_of = |result: &str| {
            let mut e = events.clone();
            e.push(outcome("law", result, last + 0.02));
            state_of(&e)
        };
        let (kept, broken) = (outcome_of("kept"), outcome_of("broken"));
        for truster in [None, Some(id(q))] {
            let e = |state: &TrustState| state.trust(&id(s), truster.as_ref(), None, at(query)).opinion.expected();
            let (e0, ek, eb) = (e(&before), e(&kept), e(&broken));
            // Network rank converges to 1e-10 in L1; allow that much noise in the base rate.
            prop_assert!(ek >= e0 - 1e-9, "kept lowered trust: {e0} -> {ek}");
            prop_assert!(eb <= e0 + 1e-9, "broken raised trust: {e0} -> {eb}");
            if e0 >= 2.0 / 3.0 {
                prop_assert!(e0 - eb >= 2.0 * (ek - e0) - 1e-9, "cost {} < 2 × gain {}", e0 - eb, ek - e0);
            }
        }
    }

    /// Uncertainty about a principal never grows when evidence about it is added, at the same
    /// instant. (Evidence about a voucher may lower what its vouches carry: that is P7 working.)
    #[test]
    fn evidence_only_ever_shrinks_uncertainty(
        steps in prop::collection::vec(step(), 0..60),
        extra in step(),
    ) {
        let (events, last) = history(&steps);
        let (more, _) = history(&[extra]);
        let before = state_of(&events);
        for e in more {
            let mut e = e;
            e.at = at(last + 0.5);
            let vouched_before = |voucher: &Id, subject: &Id| {
                events.iter().any(|h| matches!(&h.body,
                    stepwise::evidence::Body::Vouch { voucher: v, subject: s, .. } if v == voucher && s == subject))
            };
            let subject = match &e.body {
                stepwise::evidence::Body::Rating { subject, .. }
                | stepwise::evidence::Body::Report { subject, .. } => subject.clone(),
                // A second vouch replaces the first (it may lower the weight): not added evidence.
                stepwise::evidence::Body::Vouch { voucher, subject, .. } if !vouched_before(voucher, subject) => subject.clone(),
                // Promises add no evidence until they settle or fall due; outcomes and
                // unvouches need a history of their own (covered by the other laws).
                _ => continue,
            };
            let mut after = before.clone();
            after.apply(events.len() as u64, &e);
            let u = |state: &TrustState| state.trust(&subject, None, None, at(last + 1.0)).opinion.uncertainty;
            prop_assert!(u(&after) <= u(&before) + 1e-15, "{e:?}");
        }
    }

    /// Evidence fades with time: once every promise is due (an overdue promise is new evidence),
    /// uncertainty never shrinks as `at` moves forward, and in the long run the expected trust
    /// returns to the base rate.
    #[test]
    fn evidence_decays_towards_the_base_rate(steps in prop::collection::vec(step(), 1..60), subject in 0..PEOPLE.len()) {
        let (events, last) = history(&steps);
        let state = state_of(&events);
        let mut previous = 0.0;
        // Promises in `history` fall due within 60 days of being made.
        for day in [60.0, 61.0, 90.0, 240.0, 780.0, 3710.0] {
            let r = everyone(&state, PEOPLE[subject], last + day);
            prop_assert!(r.opinion.uncertainty >= previous - 1e-15);
            previous = r.opinion.uncertainty;
        }
        let far = everyone(&state, PEOPLE[subject], last + 200.0 * 720.0);
        prop_assert!((far.opinion.expected() - far.opinion.base_rate).abs() < 1e-9);
    }
}

#[test]
fn a_promise_past_due_without_outcome_counts_as_broken_from_then() {
    let events = vec![promise("p", "bob", "ann", 10.0, 0.0, 5.0)];
    let state = state_of(&events);
    let before_due = everyone(&state, "bob", 4.0);
    let after_due = everyone(&state, "bob", 5.0);
    assert_eq!(before_due.evidence.negative, 0.0);
    assert_eq!(before_due.counts.overdue, 0);
    assert!(after_due.evidence.negative > 0.0);
    assert_eq!(after_due.counts.overdue, 1);
    assert!(after_due.opinion.expected() < before_due.opinion.expected());
    // The outcome replaces the presumption.
    let mut events = events;
    events.push(outcome("p", "kept", 6.0));
    let settled = everyone(&state_of(&events), "bob", 6.0);
    assert_eq!((settled.counts.overdue, settled.counts.kept), (0, 1));
    assert_eq!(settled.evidence.negative, 0.0);
}

#[test]
fn the_record_keeps_the_whole_history_while_trust_fades() {
    let events = vec![
        rating("ann", "bob", 0.8, 0.0),
        rating("cat", "bob", -0.4, 0.0),
        promise("p", "bob", "ann", 10.0, 0.0, 5.0),
    ];
    let state = state_of(&events);
    let bob = state.principal_index(&id("bob")).expect("bob");
    // Both raters are newcomers (credibility ½); cat's first verdict is not yet judged unfair.
    let (kind, unkind) = (0.8 * 0.5, 0.4 * 0.5);
    let before_due = state.record_of(bob, at(4.0));
    assert_eq!((before_due.positive, before_due.negative), (kind, unkind));
    // Years later trust has faded towards the base rate; the record has not, and the promise
    // left without an outcome is on it as broken, at the promisee's credibility when made.
    let later = state.record_of(bob, at(3_000.0));
    let betrayal = 3.0 * (1.0 + 11f64.log2()) * 0.5;
    assert_eq!(later.positive, kind);
    assert!(
        (later.negative - unkind - betrayal).abs() < 1e-12,
        "{later:?}"
    );
    let faded = everyone(&state, "bob", 3_000.0).evidence;
    assert!(faded.positive < kind / 1000.0, "{faded:?}");
    assert!(faded.negative < later.negative / 10.0, "{faded:?}");
}

#[test]
fn partial_outcomes_split_by_their_fraction() {
    let events = vec![
        promise("p", "bob", "ann", 0.0, 0.0, 5.0),
        outcome("p", "partial:0.25", 1.0),
    ];
    let r = everyone(&state_of(&events), "bob", 1.0);
    // Weight w(0) = 1, times ann's credibility (a newcomer: the base rate 0.5).
    assert!(
        (r.evidence.positive - 0.25 * 0.5).abs() < 1e-12,
        "{:?}",
        r.evidence
    );
    assert!(
        (r.evidence.negative - 0.75 * 3.0 * 0.5).abs() < 1e-12,
        "{:?}",
        r.evidence
    );
}

#[test]
fn ratings_count_by_strength_on_their_own_side() {
    let events = vec![
        rating("ann", "bob", 0.8, 0.0),
        rating("cat", "bob", -0.4, 0.0),
    ];
    let r = everyone(&state_of(&events), "bob", 0.0);
    assert_eq!(
        (r.counts.ratings_positive, r.counts.ratings_negative),
        (1, 1)
    );
    assert!((r.evidence.positive - 0.8 * 0.5).abs() < 1e-12);
    // cat has given one verdict, negative: its fairness factor is below 1 from the next verdict on.
    assert!((r.evidence.negative - 0.4 * 0.5).abs() < 1e-12);
}

#[test]
fn bigger_stakes_weigh_more_but_only_logarithmically() {
    let p = ModelParams::default();
    assert_eq!(p.stake_weight(0.0), 1.0);
    assert_eq!(p.stake_weight(1.0), 2.0);
    assert!((p.stake_weight(1023.0) - 11.0).abs() < 1e-12);
}

#[test]
fn vindictive_reporters_cannot_destroy_an_honest_record() {
    // bob keeps ten promises to ann; mallory, who reports everyone, files 50 reports.
    let mut events = Vec::new();
    for i in 0..10 {
        let pid = format!("p{i}");
        events.push(promise(
            &pid,
            "bob",
            "ann",
            10.0,
            f64::from(i),
            f64::from(i) + 5.0,
        ));
        events.push(outcome(&pid, "kept", f64::from(i) + 1.0));
    }
    let honest = everyone(&state_of(&events), "bob", 12.0).opinion.expected();
    for i in 0..50 {
        let target = ["bob", "cat", "dan", "eve"][i % 4];
        events.push(report("mallory", target, 1.0, 11.0 + i as f64 * 0.01));
    }
    let state = state_of(&events);
    let after = everyone(&state, "bob", 12.0);
    // Capped per reporter and subject: 13 reports about bob add at most `report_cap`.
    assert!(after.evidence.negative <= ModelParams::default().report_cap + 1e-12);
    assert!(
        after.opinion.expected() > 0.5,
        "an honest record survives: {honest} -> {}",
        after.opinion.expected()
    );
    // One credible report from a trusted peer counts more than each of mallory's.
    let single = report("ann", "cat", 1.0, 12.0);
    let mut with_ann = events.clone();
    with_ann.push(single);
    let cat_before = everyone(&state, "cat", 12.0).evidence.negative;
    let cat_after = everyone(&state_of(&with_ann), "cat", 12.0)
        .evidence
        .negative;
    let mallory_per_report = cat_before / 13.0;
    assert!(cat_after - cat_before > mallory_per_report);
}

#[test]
fn fairness_is_judged_against_peers_who_rated_the_same_subjects() {
    // vic flags ten scammers whom others flagged too; tom pans ten principals whom everyone
    // else praises. Both gave ten negative verdicts of ten: a global yardstick cannot tell them
    // apart, the peers who rated the same subjects can.
    let mut events = Vec::new();
    for k in 0..10 {
        let (scam, good) = (format!("scam{k}"), format!("good{k}"));
        for j in 0..4 {
            let day = f64::from(k);
            events.push(rating(&format!("victim{j}"), &scam, -1.0, day));
            events.push(rating(&format!("client{j}"), &good, 1.0, day));
        }
        events.push(rating("vic", &scam, -1.0, f64::from(k) + 0.5));
        events.push(rating("tom", &good, -1.0, f64::from(k) + 0.5));
    }
    // Plenty of praise elsewhere, so that the community's share of negatives stays small.
    for j in 0..40 {
        events.push(rating(&format!("fan{j}"), &format!("star{j}"), 1.0, 10.0));
    }
    events.push(rating("vic", "new1", -1.0, 11.0));
    events.push(rating("tom", "new2", -1.0, 11.0));
    let state = state_of(&events);
    let vic = everyone(&state, "new1", 11.0).evidence.negative;
    let tom = everyone(&state, "new2", 11.0).evidence.negative;
    assert!(
        vic > 0.4,
        "a critic who agrees with its peers keeps its voice: {vic}"
    );
    assert!(
        tom < 0.5 * vic,
        "a critic who contradicts its peers counts less: tom {tom}, vic {vic}"
    );
}

#[test]
fn a_rater_is_one_voice_however_often_it_rates() {
    // A ring member rates its front +1 a hundred times; an honest client rates once.
    let cap = ModelParams::default().rating_cap;
    let mut events: Vec<Event> = (0..100)
        .map(|i| rating("sybil", "front", 1.0, f64::from(i) * 0.01))
        .collect();
    events.push(rating("ann", "bob", 1.0, 0.0));
    let state = state_of(&events);
    let front = everyone(&state, "front", 1.0);
    assert_eq!(
        front.counts.ratings_positive, 100,
        "every rating is still counted"
    );
    assert!(
        front.evidence.positive <= cap + 1e-12,
        "{} > cap {cap}",
        front.evidence.positive
    );
    assert!(front.evidence.positive > 0.5, "the first ratings count");
    // The same holds on the negative side, independently of the positive side.
    let mut events: Vec<Event> = (0..100)
        .map(|i| rating("troll", "bob", -1.0, f64::from(i) * 0.01))
        .collect();
    events.extend((0..100).map(|i| rating("fan", "bob", 1.0, 2.0 + f64::from(i) * 0.01)));
    let bob = everyone(&state_of(&events), "bob", 3.0);
    assert!(bob.evidence.negative <= cap + 1e-12, "{:?}", bob.evidence);
    assert!(bob.evidence.positive <= cap + 1e-12, "{:?}", bob.evidence);
    // A cap of zero silences ratings altogether; a larger one lets more through.
    for (cap, expect_more) in [(0.0, false), (50.0, true)] {
        let params = ModelParams {
            rating_cap: cap,
            ..ModelParams::default()
        };
        let mut state = TrustState::new(params);
        for (i, e) in events.iter().enumerate() {
            state.apply(i as u64, e);
        }
        let r = state.trust(&id("bob"), None, None, at(3.0));
        assert_eq!(
            r.evidence.positive > 4.0,
            expect_more,
            "cap {cap}: {:?}",
            r.evidence
        );
    }
}

#[test]
fn a_pair_keeps_its_cap_counts_and_citations_whatever_kinds_it_carries() {
    // ann rates bob to the cap, then reports him, then judges a promise of his, then rates
    // him again: the same pair carries all four kinds.
    let before: Vec<Event> = (0..10)
        .map(|i| rating("ann", "bob", 1.0, f64::from(i) * 0.001))
        .chain([
            report("ann", "bob", 0.5, 0.01),
            promise("p1", "bob", "ann", 100.0, 0.011, 5.0),
            outcome("p1", "kept", 0.012),
        ])
        .collect();
    let mut all = before.clone();
    all.extend((0..10).map(|i| rating("ann", "bob", 1.0, 0.013 + f64::from(i) * 0.001)));
    let day = 0.03;
    let (capped, more) = (
        everyone(&state_of(&before), "bob", day),
        everyone(&state_of(&all), "bob", day),
    );
    assert_eq!(
        (
            more.counts.ratings_positive,
            more.counts.reports,
            more.counts.kept
        ),
        (20, 1, 1)
    );
    assert_eq!(
        more.indexes,
        (0..all.len() as u64).collect::<Vec<_>>(),
        "every entry cited, in log order"
    );
    let gap = (more.evidence.positive - capped.evidence.positive).abs();
    assert!(
        gap < 1e-9,
        "ratings past the cap add nothing after a report and an outcome: {capped:?} {more:?}"
    );
    assert!(
        more.evidence.negative > 0.0,
        "the report counts: {:?}",
        more.evidence
    );
    let by_ann = state_of(&all).pair_counts(0, 1);
    assert_eq!(by_ann, more.counts, "one pair holds all of it");
}

#[test]
fn with_seeds_only_reached_vouchers_count_but_a_truster_s_own_vouch_does_in_its_view() {
    // Two seeds; one rates the other, so that the other's vouch carries belief.
    let params = ModelParams {
        seeds: vec![id("seed"), id("root")],
        ..ModelParams::default()
    };
    let events = [
        rating("root", "seed", 1.0, 0.0),
        rating("ring", "seed", 1.0, 0.0),
        vouch("seed", "ann", 1.0, 0.0),
        vouch("ring", "bob", 1.0, 0.0),
        vouch("ring", "ann", 1.0, 0.0),
    ];
    let mut state = TrustState::new(params);
    for (i, e) in events.iter().enumerate() {
        state.apply(i as u64, e);
    }
    let day = at(1.0);
    let ann = state.trust(&id("ann"), None, None, day);
    let bob = state.trust(&id("bob"), None, None, day);
    assert_eq!(ann.counts.vouches, 1, "the seed's vouch, not the ring's");
    assert!(ann.vouched.positive > 0.0, "{:?}", ann.vouched);
    assert_eq!(bob.counts.vouches, 0);
    assert_eq!(
        bob.vouched.positive, 0.0,
        "a voucher no seed reaches adds nothing"
    );
    let in_ring_view = state.trust(&id("bob"), Some(&id("ring")), None, day);
    assert!(
        in_ring_view.vouched.positive > 0.0,
        "in its own view the ring's vouch counts (P10): {:?}",
        in_ring_view.vouched
    );
}

/// P10: in a truster's own view the truster is a seed too. Its own evidence counts there even
/// when no seed reaches it, and whoever it gave positive evidence about is reached in its view,
/// so a vouch by such a principal counts there, discounted by the truster's own opinion of the
/// voucher, while everyone's view and a stranger's ignore it.
#[test]
fn in_a_truster_s_view_its_own_counterparties_are_reached() {
    let params = ModelParams {
        seeds: vec![id("seed")],
        ..ModelParams::default()
    };
    let mut events = vec![rating("seed", "ann", 1.0, 0.0)];
    for i in 0..5 {
        events.push(rating("tom", "carol", 1.0, 0.1 * f64::from(i)));
    }
    events.push(vouch("carol", "dan", 1.0, 1.0));
    events.push(rating("uma", "ann", 1.0, 1.0));
    let mut state = TrustState::new(params);
    for (i, e) in events.iter().enumerate() {
        state.apply(i as u64, e);
    }
    let day = at(2.0);
    let carol = state.trust(&id("carol"), None, None, day);
    assert_eq!(
        carol.evidence.positive, 0.0,
        "tom's word counts for nobody else"
    );
    let carol_by_tom = state.trust(&id("carol"), Some(&id("tom")), None, day);
    assert!(
        carol_by_tom.evidence.positive > 0.0,
        "but it counts for tom"
    );
    let everyone = state.trust(&id("dan"), None, None, day);
    assert_eq!(everyone.counts.vouches, 0, "no seed reaches carol");
    assert_eq!(everyone.vouched.positive, 0.0);
    let by_tom = state.trust(&id("dan"), Some(&id("tom")), None, day);
    assert_eq!(
        by_tom.counts.vouches, 1,
        "tom rated carol: she is reached in his view"
    );
    assert!(by_tom.vouched.positive > 0.0, "{:?}", by_tom.vouched);
    let by_uma = state.trust(&id("dan"), Some(&id("uma")), None, day);
    assert_eq!(by_uma.counts.vouches, 0, "uma never dealt with carol");
    assert_eq!(by_uma.vouched.positive, 0.0);
}

#[test]
fn vouches_carry_trust_discounted_and_never_more_than_the_voucher_has() {
    // ann has a strong record with bob as promisee; ann vouches for cat; dan vouches for eve
    // but nobody trusts dan.
    let mut events = Vec::new();
    for i in 0..20 {
        let pid = format!("p{i}");
        events.push(promise(&pid, "ann", "bob", 100.0, f64::from(i) * 0.1, 50.0));
        events.push(outcome(&pid, "kept", f64::from(i) * 0.1 + 0.05));
    }
    events.push(vouch("ann", "cat", 1.0, 3.0));
    events.push(vouch("dan", "eve", 1.0, 3.0));
    let state = state_of(&events);
    let ann = everyone(&state, "ann", 3.0);
    let cat = everyone(&state, "cat", 3.0);
    let eve = everyone(&state, "eve", 3.0);
    assert!(cat.vouched.positive > 0.0);
    assert_eq!(cat.counts.vouches, 1);
    assert!(
        cat.opinion.belief <= ann.opinion.belief,
        "a voucher passes on no more than it has"
    );
    assert_eq!(
        eve.vouched.positive, 0.0,
        "an untrusted voucher passes on nothing"
    );
    // bob's own view: he trusts ann directly, so ann's vouch reaches him too.
    let by_bob = state.trust(&id("cat"), Some(&id("bob")), None, at(3.0));
    assert!(by_bob.vouched.positive > 0.0);
    // Withdrawn, it carries nothing.
    events.push(unvouch("ann", "cat", 4.0));
    let cat = everyone(&state_of(&events), "cat", 4.0);
    assert_eq!((cat.vouched.positive, cat.counts.vouches), (0.0, 0));
}

#[test]
fn vouch_chains_stop_at_the_configured_depth_and_never_loop() {
    let mut events = Vec::new();
    for i in 0..20 {
        let pid = format!("p{i}");
        events.push(promise(&pid, "ann", "fay", 100.0, f64::from(i) * 0.1, 50.0));
        events.push(outcome(&pid, "kept", f64::from(i) * 0.1 + 0.05));
    }
    // ann → bob → cat → dan → eve, and a loop back dan → bob.
    for (a, b) in [
        ("ann", "bob"),
        ("bob", "cat"),
        ("cat", "dan"),
        ("dan", "eve"),
        ("dan", "bob"),
    ] {
        events.push(vouch(a, b, 1.0, 3.0));
    }
    let state = state_of(&events);
    let reached = |who: &str| everyone(&state, who, 3.0).vouched.positive;
    assert!(reached("bob") > reached("cat") && reached("cat") > reached("dan"));
    assert!(reached("dan") > 0.0, "three links carry trust");
    assert_eq!(reached("eve"), 0.0, "four links do not (vouch_depth = 3)");
}

#[test]
fn a_newcomer_gets_a_little_trust_to_begin_with() {
    let state = state_of(&[rating("ann", "bob", 1.0, 0.0)]);
    let newcomer = everyone(&state, "zed", 0.0);
    let p = ModelParams::default();
    assert!(newcomer.opinion.expected() > 0.0);
    assert!(newcomer.opinion.expected() < p.base_rate);
    assert_eq!(newcomer.opinion.uncertainty, 1.0);
}

#[test]
fn past_figures_are_reproduced_by_replaying_up_to_their_instant() {
    let (mut ledger, clock) = ledger_and_clock("model.test/log", 4);
    let early = vec![
        rating("ann", "bob", 1.0, 0.0),
        rating("cat", "bob", 0.5, 1.0),
    ];
    clock.set(at(1.0));
    ledger.append(early.clone()).expect("append");
    append_live(&mut ledger, &clock, rating("dan", "bob", -1.0, 10.0));
    let then = stepwise_store::replay::trust_state(
        ledger.store(),
        ModelParams::default(),
        Prefix::until(at(2.0)),
        &mut |_| {},
    )
    .expect("replay");
    let mut expected = state_of(&early);
    // The replayed state knows the whole log's size, the hand-built one does not.
    let a = then.trust(&id("bob"), None, None, at(2.0));
    let b = expected.trust(&id("bob"), None, None, at(2.0));
    assert_eq!(a.opinion, b.opinion);
    assert_eq!(a.log_size, 3);
    expected.apply(2, &rating("dan", "bob", -1.0, 10.0));
    assert!(
        expected
            .trust(&id("bob"), None, None, at(10.0))
            .opinion
            .expected()
            < a.opinion.expected()
    );
}

/// The promises awaiting judgement come in log order whoever made them, a page at a time, one
/// promisee's queue when asked, overdue ones marked; a judged promise leaves the list.
#[test]
fn promises_awaiting_judgement_come_in_log_order_a_page_at_a_time() {
    let events = [
        promise("a1", "zed", "ann", 5.0, 0.0, 1.0),
        promise("b1", "amy", "bob", 5.0, 0.1, 9.0),
        promise("a2", "zed", "bob", 5.0, 0.2, 9.0),
        promise("b2", "amy", "ann", 5.0, 0.3, 9.0),
        outcome("a2", "kept", 0.4),
        promise("c1", "cal", "ann", 5.0, 0.5, 9.0),
    ];
    let state = state_of(&events);
    let ids = |rows: &[stepwise::model::OpenPromiseRow]| -> Vec<String> {
        rows.iter().map(|r| r.id.to_string()).collect()
    };
    let (all, more) = state.awaiting_judgement(None, None, 10, at(2.0));
    assert_eq!(
        (ids(&all), more),
        (
            vec!["a1".into(), "b1".into(), "b2".into(), "c1".into()],
            false
        )
    );
    assert!(all[0].overdue && !all[1].overdue, "a1 fell due on day 1");
    let (page, more) = state.awaiting_judgement(None, None, 2, at(2.0));
    assert_eq!((ids(&page), more), (vec!["a1".into(), "b1".into()], true));
    let (rest, more) = state.awaiting_judgement(None, Some(page[1].index), 2, at(2.0));
    assert_eq!((ids(&rest), more), (vec!["b2".into(), "c1".into()], false));
    let (ann, _) = state.awaiting_judgement(Some(&id("ann")), None, 10, at(2.0));
    assert_eq!(ids(&ann), ["a1", "b2", "c1"]);
    let (nobody, more) = state.awaiting_judgement(Some(&id("nobody")), None, 10, at(2.0));
    assert!(nobody.is_empty() && !more);
}
