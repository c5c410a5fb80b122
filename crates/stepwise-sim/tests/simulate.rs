//! The attack simulator: deterministic for a seed, sane metrics, honest control, scenario names.

use std::str::FromStr;
use stepwise::evidence::Id;
use stepwise::ladder::{Ladder, Rules};
use stepwise::model::params::ModelParams;
use stepwise_sim::simulate::{
    CLIENTS, Config, HONEST, MAX_EXPOSURE, RING, Report, SCENARIOS, Scenario, SystemResult, run,
    run_with,
};

/// The default ladder with one rule changed by `change`.
fn default_ladder_with(change: impl FnOnce(&mut Rules)) -> Ladder {
    let mut rules = Rules::default();
    change(&mut rules);
    Ladder::default().with_rules(rules).expect("ladder")
}

fn config(scenario: Scenario, seed: u64, rounds: u32) -> Config {
    Config {
        scenario,
        seed,
        rounds,
    }
}

fn get<'a>(report: &'a Report, system: &str) -> &'a SystemResult {
    report
        .system(system)
        .unwrap_or_else(|| panic!("no {system} in {:?}", report.scenario))
}

fn json_of(scenario: Scenario, seed: u64, rounds: u32) -> String {
    serde_json::to_string(&run(&config(scenario, seed, rounds)).to_json()).expect("json")
}

#[test]
fn every_scenario_is_deterministic_for_its_seed_and_seeds_matter() {
    for scenario in Scenario::ALL {
        let once = json_of(scenario, 7, 60);
        assert_eq!(
            once,
            json_of(scenario, 7, 60),
            "{scenario} is not deterministic"
        );
        assert_ne!(
            once,
            json_of(scenario, 8, 60),
            "{scenario}: seeds 7 and 8 agree"
        );
    }
}

#[test]
fn json_has_the_promised_shape() {
    let value = run(&config(Scenario::OnOff, 3, 5)).to_json();
    assert_eq!(value["scenario"], "on-off");
    assert_eq!(value["seed"], 3);
    assert_eq!(value["rounds"], 5);
    let results = value["results"].as_array().expect("results");
    let systems: Vec<&str> = results
        .iter()
        .filter_map(|r| r["system"].as_str())
        .collect();
    assert_eq!(systems, ["stepwise", "average", "beta"]);
    for r in results {
        for key in [
            "attacker_gain",
            "honest_gain",
            "honest_friction",
            "attacker_requests",
            "attacker_allowed",
            "honest_requests",
            "honest_allowed",
            "honest_shortfall",
            "honest_shortfall_late",
            "honest_shortfall_after_fall",
        ] {
            assert!(r[key].is_number(), "{key} missing in {r}");
        }
    }
    assert_eq!(
        results[0]["rounds_to_level"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(value["target"]["gain_ok"].is_boolean());
}

#[test]
fn honest_control_has_no_attacker_gain_and_little_friction() {
    let report = run(&config(Scenario::Honest, 1, 60));
    assert!(report.target().is_none());
    for r in &report.results {
        assert_eq!(r.attacker_gain, 0.0, "{}", r.system);
        assert_eq!(
            (r.attacker_requests, r.attacker_allowed),
            (0, 0),
            "{}",
            r.system
        );
        assert_eq!(r.honest_requests, 60 * HONEST as u64, "{}", r.system);
        assert!(r.honest_gain > 0.0, "{}", r.system);
    }
    let stepwise = get(&report, "stepwise");
    assert!(
        stepwise.honest_friction < 0.2,
        "stepwise denies {:.1} % of honest requests",
        100.0 * stepwise.honest_friction
    );
    // An honest newcomer stands on level 1 within a week and on level 2 within the run.
    assert_eq!(stepwise.rounds_to_level[0], Some(0));
    assert!(
        stepwise.rounds_to_level[1].is_some_and(|r| r <= 7),
        "{stepwise:?}"
    );
    assert!(
        stepwise.rounds_to_level[2].is_some_and(|r| r < 60),
        "{stepwise:?}"
    );
    assert_eq!(stepwise.attacker_top_level, None);
}

/// Honest principals keep 99 % of their promises, so each slips about twice in 200 days. A
/// slip demotes at once, but a small one costs only its share of the cool-down, clean period
/// and kept promises: with a full restart after every slip, demotions cost 6 % of all honest
/// requests; scaled by stake, they cost less than half of that.
#[test]
fn honest_slips_cost_a_share_of_the_way_back_not_all_of_it() {
    let report = run(&config(Scenario::Honest, 1, 200));
    let stepwise = get(&report, "stepwise");
    assert!(stepwise.honest_demotions > 20, "{stepwise:?}");
    assert!(
        stepwise.honest_shortfall_after_fall < 0.03,
        "demotions cost {:.1} % of honest requests",
        100.0 * stepwise.honest_shortfall_after_fall
    );
}

/// The same slips under a ladder that restarts everything after each: the scaling is what
/// makes the difference (and `run_with` runs the policy it is given).
#[test]
fn without_scaling_by_stake_slips_cost_the_whole_way_back() {
    let unscaled = default_ladder_with(|r| r.scale_by_stake = false);
    let config = config(Scenario::Honest, 1, 200);
    let scaled = run(&config);
    let unscaled = run_with(&config, ModelParams::default(), unscaled);
    let (scaled, unscaled) = (get(&scaled, "stepwise"), get(&unscaled, "stepwise"));
    assert!(
        unscaled.honest_shortfall_after_fall > 2.0 * scaled.honest_shortfall_after_fall,
        "unscaled {unscaled:?}\nscaled {scaled:?}"
    );
    assert!(unscaled.honest_gain < scaled.honest_gain);
}

/// Slicing a betrayal into pieces that each cost one step is the attack on a cool-down that
/// scales with the stake: it must still take no more than a tenth of what the average
/// baseline loses to the same attackers.
#[test]
fn slicing_betrayals_stays_within_the_target() {
    for seed in 1..=3 {
        let report = run(&config(Scenario::Slice, seed, 200));
        let target = report.target().expect("an attack");
        assert!(target.gain_ok, "seed {seed}: {target:?}");
        let stepwise = get(&report, "stepwise");
        assert!(
            stepwise.attacker_betrayals > 0,
            "seed {seed}: it does attack"
        );
        assert!(stepwise.attacker_top_level <= Some(2), "seed {seed}");
    }
}

/// The exit scam: once trusted, promise every client at once and break them all. A limit on
/// what is at risk at once lets each attacker take its limit once; a limit on each promise
/// alone would let it take its limit from every client.
#[test]
fn an_exit_scam_takes_the_limit_once_not_once_per_client() {
    let per_promise = default_ladder_with(|r| r.limit_exposure = false);
    for seed in 1..=3 {
        let config = config(Scenario::ExitScam, seed, 200);
        let report = run(&config);
        let target = report.target().expect("an attack");
        assert!(target.gain_ok, "seed {seed}: {target:?}");
        let stepwise = get(&report, "stepwise");
        // Three attackers, each betraying at most level 2's limit of 1,000 in all.
        assert!(
            stepwise.attacker_betrayals >= 3,
            "seed {seed}: {stepwise:?}"
        );
        assert!(
            stepwise.attacker_gain <= 3.0 * 1_000.0,
            "seed {seed}: {stepwise:?}"
        );
        let loose = run_with(&config, ModelParams::default(), per_promise.clone());
        let loose = get(&loose, "stepwise");
        assert!(
            loose.attacker_gain >= (CLIENTS as f64 / 2.0) * stepwise.attacker_gain,
            "seed {seed}: per promise {loose:?}\nat risk at once {stepwise:?}"
        );
    }
}

/// On-off over a long run: at level 0 there is no step down, and without a bound on what is
/// lost there an alternating attacker above the floor takes level 0's limit every betraying day
/// for ever, while the average baseline stops trusting it — so the ratio grows with the run.
#[test]
fn on_off_stays_within_the_target_however_long_it_runs() {
    let unbounded = default_ladder_with(|r| r.bound_level_0_losses = false);
    let config = config(Scenario::OnOff, 1, 1_000);
    let report = run(&config);
    let target = report.target().expect("an attack");
    assert!(target.gain_ok && target.friction_ok, "{target:?}");
    let loose = run_with(&config, ModelParams::default(), unbounded);
    let loose = loose.target().expect("an attack");
    assert!(
        !loose.gain_ok,
        "unbounded losses at level 0 break the target: {loose:?}"
    );
}

#[test]
fn metrics_are_consistent() {
    for scenario in Scenario::ALL {
        let report = run(&config(scenario, 2, 25));
        assert_eq!(report.rounds, 25);
        for r in &report.results {
            let what = format!("{scenario}/{}", r.system);
            assert!(r.honest_allowed <= r.honest_requests, "{what}");
            assert!(r.attacker_allowed <= r.attacker_requests, "{what}");
            assert!(r.honest_kept <= r.honest_allowed, "{what}");
            assert!(r.attacker_betrayals <= r.attacker_allowed, "{what}");
            let friction = 1.0 - r.honest_allowed as f64 / r.honest_requests as f64;
            assert!((r.honest_friction - friction).abs() < 1e-12, "{what}");
            assert!((0.0..=1.0).contains(&r.honest_friction_late), "{what}");
            assert!(r.honest_shortfall >= r.honest_friction, "{what}");
            assert!(r.honest_shortfall <= 1.0, "{what}");
            assert!((0.0..=1.0).contains(&r.honest_shortfall_late), "{what}");
            assert!(
                r.honest_shortfall_after_fall <= r.honest_shortfall,
                "{what}"
            );
            if r.system != "stepwise" {
                assert_eq!(r.honest_shortfall_after_fall, 0.0, "{what}");
            }
            assert!(r.honest_gain <= 500.0 * r.honest_kept as f64, "{what}");
            assert!(r.honest_gain >= 5.0 * r.honest_kept as f64, "{what}");
            assert!(
                r.attacker_gain <= MAX_EXPOSURE * r.attacker_betrayals as f64,
                "{what}"
            );
        }
    }
}

/// One round: every honest principal is a newcomer whose limit is 10 under every system, so
/// each asks for what it wants if that is 5, and for 10 otherwise; nobody is refused, and the
/// requests for 50 or 500 are the shortfall.
#[test]
fn one_round_by_hand() {
    let report = run(&config(Scenario::Honest, 11, 1));
    let first = get(&report, "stepwise");
    assert_eq!(first.honest_requests, HONEST as u64);
    for r in &report.results {
        assert_eq!(r.honest_allowed, HONEST as u64, "{}", r.system);
        assert_eq!(r.honest_friction, 0.0, "{}", r.system);
        assert_eq!(r.honest_kept, first.honest_kept, "{}", r.system);
        assert_eq!(r.honest_gain, first.honest_gain, "{}", r.system);
        assert_eq!(r.honest_shortfall, first.honest_shortfall, "{}", r.system);
        assert!(r.honest_gain >= 5.0 * r.honest_kept as f64, "{}", r.system);
        assert!(r.honest_gain <= 10.0 * r.honest_kept as f64, "{}", r.system);
    }
    assert!(first.honest_shortfall > 0.0 && first.honest_shortfall < 1.0);
}

/// Slow-con over four rounds, by hand. Rounds 0–2: each of the 3 cons climbs. Under stepwise
/// it keeps three promises of 5 (level 0's limit is 10) and stands on level 1 (limit 100) from
/// round 2's outcomes; in round 3 (⌊3·4/4⌋) it asks for 10,000 (denied), then 100 (allowed),
/// and breaks it. Under `average` one +1 rating opens the full 10,000; under `beta` three do
/// ((3+1)/(3+2) = 0.8), just in time for round 3.
#[test]
fn slow_con_by_hand() {
    let report = run(&config(Scenario::SlowCon, 5, 4));
    let stepwise = get(&report, "stepwise");
    assert_eq!(stepwise.attacker_gain, 3.0 * 100.0);
    assert_eq!(stepwise.attacker_betrayals, 3);
    assert_eq!(stepwise.attacker_requests, 3 * 3 + 3 * 2);
    assert_eq!(stepwise.attacker_allowed, 3 * 3 + 3);
    assert_eq!(stepwise.attacker_top_level, Some(1));
    for baseline in ["average", "beta"] {
        let r = get(&report, baseline);
        assert_eq!(r.attacker_gain, 3.0 * MAX_EXPOSURE, "{baseline}");
        assert_eq!(
            (r.attacker_requests, r.attacker_allowed),
            (12, 12),
            "{baseline}"
        );
    }
    let target = report.target().expect("an attack");
    assert_eq!(target.gain_ratio, Some(0.01));
    assert!(target.gain_ok);
}

/// Whitewash over four rounds: under `average` an identity keeps one promise of 5, betrays
/// 10,000 the next round and comes back new (two betrayals each); under `beta` it needs three
/// ratings (one betrayal each, in round 3); under stepwise it is still climbing (limit 100).
#[test]
fn whitewash_by_hand() {
    let report = run(&config(Scenario::Whitewash, 9, 4));
    assert_eq!(get(&report, "average").attacker_gain, 6.0 * MAX_EXPOSURE);
    assert_eq!(get(&report, "beta").attacker_gain, 3.0 * MAX_EXPOSURE);
    assert_eq!(get(&report, "stepwise").attacker_gain, 0.0);
}

#[test]
fn stepwise_lets_attackers_take_no_more_than_the_average_baseline() {
    for scenario in Scenario::ALL {
        let report = run(&config(scenario, 1, 100));
        let stepwise = get(&report, "stepwise").attacker_gain;
        let average = get(&report, "average").attacker_gain;
        assert!(stepwise <= average, "{scenario}: {stepwise} > {average}");
    }
}

/// The default model with every client named a seed, as `stepwise init --seed client:0 …` does.
fn clients_as_seeds() -> ModelParams {
    ModelParams {
        seeds: (0..CLIENTS)
            .map(|i| Id::parse("seed", &format!("client:{i}")).expect("id"))
            .collect(),
        ..ModelParams::default()
    }
}

/// The default ladder without the distinct-counterparty requirement.
fn ladder_without_counterparties() -> Ladder {
    let base = Ladder::default();
    let mut levels = base.levels().to_vec();
    for level in &mut levels {
        level.requires.min_counterparties = 0;
    }
    Ladder::new(levels, base.rules().clone(), Default::default()).expect("ladder")
}

/// Issue 14: with no seed named, a ring of ten identities that record the front's fake promises
/// kept lifts it to level 2 (fresh or with 100 days of dealing among themselves); with the
/// clients as seeds nobody the ring's word reaches counts, the front stays on level 0 and takes
/// less, and the honest principals, whose clients are seeds, fare exactly as before.
#[test]
fn with_the_clients_as_seeds_no_ring_lifts_its_front() {
    assert_eq!(RING, 10);
    for seed in 1..=3 {
        for scenario in [Scenario::PromiseeRing, Scenario::OldRing] {
            let open = run(&config(scenario, seed, 200));
            let seeded = run_with(
                &config(scenario, seed, 200),
                clients_as_seeds(),
                Ladder::default(),
            );
            let (open, seeded) = (get(&open, "stepwise"), get(&seeded, "stepwise"));
            assert_eq!(open.attacker_top_level, Some(2), "{scenario} seed {seed}");
            assert_eq!(seeded.attacker_top_level, Some(0), "{scenario} seed {seed}");
            assert!(
                seeded.attacker_gain < open.attacker_gain,
                "{scenario} seed {seed}: {} ≥ {}",
                seeded.attacker_gain,
                open.attacker_gain
            );
            assert_eq!(
                seeded.honest_gain, open.honest_gain,
                "{scenario} seed {seed}"
            );
            assert_eq!(seeded.honest_shortfall, open.honest_shortfall);
        }
    }
}

/// One credible insider (a real client) recording a front's fake promises kept is one
/// counterparty: the distinct-counterparty requirement keeps the front on level 0, seeds or
/// not; without that requirement the same insider lifts it to level 2.
#[test]
fn one_insider_is_one_counterparty_and_lifts_nobody() {
    for seed in 1..=3 {
        let c = config(Scenario::Insider, seed, 200);
        for params in [ModelParams::default(), clients_as_seeds()] {
            let report = run_with(&c, params, Ladder::default());
            assert_eq!(get(&report, "stepwise").attacker_top_level, Some(0));
            assert!(report.target().expect("attack").gain_ok, "seed {seed}");
        }
        let without = run_with(&c, ModelParams::default(), ladder_without_counterparties());
        assert_eq!(get(&without, "stepwise").attacker_top_level, Some(2));
    }
}

/// A ring's +1 ratings do not cover a front's betrayals: it stays within level 1 and takes
/// well under 1 % of what the average baseline lets it take, seeds or not.
#[test]
fn a_rating_ring_does_not_cover_betrayals() {
    for seed in 1..=3 {
        for params in [ModelParams::default(), clients_as_seeds()] {
            let report = run_with(
                &config(Scenario::RatingRing, seed, 200),
                params,
                Ladder::default(),
            );
            let (stepwise, average) = (get(&report, "stepwise"), get(&report, "average"));
            assert!(stepwise.attacker_top_level <= Some(1), "seed {seed}");
            assert!(
                stepwise.attacker_betrayals > 0,
                "seed {seed}: the front never betrayed"
            );
            assert!(
                stepwise.attacker_gain < 0.01 * average.attacker_gain,
                "seed {seed}: {} against {}",
                stepwise.attacker_gain,
                average.attacker_gain
            );
        }
    }
}

#[test]
fn scenario_names_parse_and_unknown_ones_are_refused_with_the_list() {
    assert_eq!(SCENARIOS.len(), Scenario::ALL.len());
    for (name, scenario) in SCENARIOS.iter().zip(Scenario::ALL) {
        assert_eq!(Scenario::from_str(name), Ok(scenario));
        assert_eq!(scenario.to_string(), *name);
        assert_eq!(run(&config(scenario, 1, 0)).scenario, *name);
    }
    let err = Scenario::from_str("onoff").expect_err("unknown");
    let message = err.to_string();
    assert!(message.contains("\"onoff\""), "{message}");
    for name in SCENARIOS {
        assert!(message.contains(name), "{message} lacks {name}");
    }
    assert!(Scenario::from_str("").is_err());
    assert!(Scenario::from_str("Honest").is_err());
}

#[test]
fn population_constants_are_what_the_docs_say() {
    assert_eq!((HONEST, CLIENTS), (20, 10));
    let report = run(&Config::new(Scenario::Honest));
    assert_eq!(report.rounds, 200);
    assert_eq!(report.seed, 1);
}
