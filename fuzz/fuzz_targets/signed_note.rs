//! Signed notes, checkpoints and cosignatures as a log's reader or a witness receives them:
//! never a panic, never a note accepted without a valid signature.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::cosign::{CosignerAlgorithm, CosignerKey, CosignerVerifier};
use stepwise::ledger::note::{Checkpoint, LogSigner, LogVerifier, SignedNote};

/// The keys, made once (an ML-DSA-44 key takes far longer to make than an input to check).
static KEYS: LazyLock<(LogSigner, CosignerVerifier, CosignerVerifier)> = LazyLock::new(|| {
    let key = |name, alg, seed| {
        CosignerKey::from_seed(name, alg, [seed; 32])
            .expect("name")
            .verifier()
    };
    (
        LogSigner::from_seed("fuzz.example/log", [1; 32]).expect("name"),
        key("fuzz.example/w", CosignerAlgorithm::Ed25519, 2),
        key("fuzz.example/pq", CosignerAlgorithm::MlDsa44, 3),
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (log, witness, pq) = &*KEYS;
    if let Ok(note) = SignedNote::parse(text) {
        let _ = witness.cosigned(&note);
        let _ = pq.cosigned(&note);
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
