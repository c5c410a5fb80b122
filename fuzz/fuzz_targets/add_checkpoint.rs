//! `add-checkpoint` bodies as a witness receives them: each refused with the status the
//! specification gives it, never a panic; what is accepted is signed by the trusted key and
//! consistent with what was cosigned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::witness::{AddCheckpoint, Latest, check};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = AddCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(AddCheckpoint::parse(request.encode().as_bytes()).ok().as_ref(), Some(&request));
    let log = LogSigner::from_seed("fuzz.example/log", [1; 32]).expect("name");
    let latest = Latest {
        size: 3,
        root: [7; 32],
    };
    for latest in [None, Some(&latest)] {
        if let Ok(checkpoint) = check(&request, &[log.verifier()], latest) {
            assert!(checkpoint.size >= request.old_size);
            assert_eq!(request.old_size, latest.map_or(0, |l| l.size));
        }
    }
});
