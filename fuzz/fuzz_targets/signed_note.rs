//! Signed notes, checkpoints and cosignatures as a log's reader or a witness receives them:
//! never a panic, never a note accepted without a valid signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::cosign::{CosignerAlgorithm, CosignerKey};
use stepwise::ledger::note::{Checkpoint, LogSigner, LogVerifier, SignedNote};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let log = LogSigner::from_seed("fuzz.example/log", [1; 32]).expect("name");
    let witness = CosignerKey::from_seed("fuzz.example/w", CosignerAlgorithm::Ed25519, [2; 32])
        .expect("name");
    let pq = CosignerKey::from_seed("fuzz.example/pq", CosignerAlgorithm::MlDsa44, [3; 32])
        .expect("name");
    if let Ok(note) = SignedNote::parse(text) {
        let _ = witness.verifier().cosigned(&note);
        let _ = pq.verifier().cosigned(&note);
        let _ = Checkpoint::parse(note.text);
    }
    if let Ok(checkpoint) = log.verifier().verify_checkpoint(text) {
        // Only the key's own signature gets here: signing the same body gives a note that
        // verifies to the same checkpoint.
        let again = log.sign_checkpoint(&checkpoint).expect("a verified body signs");
        assert_eq!(log.verifier().verify_checkpoint(&again).expect("verifies"), checkpoint);
    }
    let _ = LogVerifier::parse(text);
    let _ = LogSigner::parse(text);
    let _ = stepwise::ledger::cosign::CosignerVerifier::parse(text);
});
