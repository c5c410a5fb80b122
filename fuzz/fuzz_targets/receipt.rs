//! Decision receipts and C2SP tlog-proofs as a principal receives them: every failure named,
//! never a panic, and nothing verifies without the log's signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::ledger::note::LogSigner;
use stepwise::ledger::receipt::{Receipt, TlogProof};

fuzz_target!(|data: &[u8]| {
    let log = LogSigner::from_seed("fuzz.example/log", [1; 32]).expect("name");
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(proof) = TlogProof::parse(text)
    {
        let _ = proof.verify(&log.verifier());
    }
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(data) {
        let verified = receipt.verify(&log.verifier());
        if verified.is_ok() {
            assert!(log.verifier().verify_note(&receipt.signed).is_ok());
        }
    }
});
