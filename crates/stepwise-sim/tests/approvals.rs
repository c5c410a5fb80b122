//! The `rubber-stamp` scenario: an approver who approves every refused call of a bad agent
//! loses the power to approve within a few broken promises, gets it back only as the betrayals
//! fade, and an honest approver keeps it (docs/EVALUATION.md, "Approvals").

use stepwise_sim::simulate::{RubberStampRun, rubber_stamp_over, run_rubber_stamp};

#[test]
fn a_run_is_deterministic_for_its_seed_and_seeds_matter() {
    let json = |seed| run_rubber_stamp(seed, 60).to_json().to_string();
    assert_eq!(json(7), json(7));
    assert_ne!(json(7), json(8));
}

#[test]
fn over_seeds_1_to_20_the_rubber_stamp_loses_the_power_and_the_honest_approver_keeps_it() {
    let summary = rubber_stamp_over(1..=20, 200);
    assert_eq!(summary.runs.len(), 20);
    // Within a few broken promises, every time.
    let most = summary.max_broken_before_loss.expect("lost in every run");
    assert!((1..=3).contains(&most), "{summary:?}");
    assert!(summary.median_broken_before_loss <= Some(most));
    for RubberStampRun {
        seed,
        stamp,
        honest,
        ..
    } in &summary.runs
    {
        let lost = stamp
            .lost_at
            .unwrap_or_else(|| panic!("seed {seed}: {stamp:?}"));
        // Once lost, never back within the run: every later call of the bad agent was refused,
        // for its record (or, first, for its level, after a slip of its own business).
        let refused = stamp.refused_for_record + stamp.refused_for_level;
        assert_eq!(refused, 200 - lost, "seed {seed}: {stamp:?}");
        assert!(
            !stamp.may_approve_at_end && stamp.record < 0.4,
            "seed {seed}"
        );
        // It comes back as the betrayals fade: slowly — years, not days.
        let back = stamp.back_after_days.expect("back within the horizon");
        assert!(back > 5 * 365, "seed {seed}: back after {back} days");
        // The honest approver approved many calls, nearly all kept, and was never refused for
        // its record; a refusal for its level follows a slip of its own business.
        assert!(
            honest.approvals >= 50 && honest.kept >= honest.approvals - 5,
            "{honest:?}"
        );
        assert_eq!(
            (honest.lost_at, honest.refused_for_record),
            (None, 0),
            "seed {seed}"
        );
        assert!(honest.record > 0.9, "seed {seed}: {honest:?}");
    }
    assert_eq!(summary.honest_lost, 0);
}
