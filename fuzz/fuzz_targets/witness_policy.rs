//! C2SP tlog-policy files: refused with a line named, never a panic; a parsed policy answers
//! quorum questions for any set of cosigners.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::witness_policy::WitnessPolicy;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = WitnessPolicy::parse(data) {
        let n = policy.witnesses().len();
        let all = vec![true; n];
        let none = vec![false; n];
        // More cosigners never lose a quorum.
        if policy.quorum_met(&none) {
            assert!(policy.quorum_met(&all));
        }
        if n > 0 {
            assert!(policy.quorum_met(&all));
        }
    }
});
