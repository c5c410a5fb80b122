//! What comes from outside is refused, never a panic: tile paths, tlog-proofs, receipts, signed
//! notes and events, each fed arbitrary bytes and near-misses of a valid input (a valid one with
//! bytes changed, cut or repeated). Property tests, run with every `cargo test`; a fuzzer can
//! go further, but these hold the line in CI.

use proptest::prelude::*;
use stepwise::evidence::Event;
use stepwise::ledger::note::{Checkpoint, LogSigner};
use stepwise::ledger::receipt::{Receipt, TlogProof};
use stepwise::ledger::tiles::Tile;

/// A valid receipt's JSON text, and the verifier of its log.
fn a_receipt() -> (String, stepwise::ledger::note::LogVerifier) {
    let signer = LogSigner::from_seed("outside.test/log", [5; 32]).expect("signer");
    let entry = br#"{"at":"2026-12-06T12:00:00Z","kind":"policy","recorded_at":"2026-12-06T12:00:00Z","sha256":"0000000000000000000000000000000000000000000000000000000000000000","v":2}"#;
    let leaf = stepwise::ledger::merkle::leaf_hash(entry);
    let checkpoint = signer
        .sign_checkpoint(&Checkpoint {
            origin: "outside.test/log".into(),
            size: 1,
            root: leaf,
            extensions: Vec::new(),
        })
        .expect("checkpoint");
    let proof = TlogProof {
        extra: entry.to_vec(),
        index: 0,
        hashes: Vec::new(),
        checkpoint,
    };
    let decision = serde_json::json!({"allowed": true, "evidence": [], "log_size": 1,
        "policy_entry": 0, "at": "2026-12-06T12:00:00Z"});
    let receipt = Receipt::new(decision, &signer, &[proof]).expect("receipt");
    (
        serde_json::to_string(&receipt).expect("json"),
        signer.verifier(),
    )
}

/// `text` with the byte at `at` (modulo its length) replaced, the text cut there, or the part
/// from there repeated, as `how` says.
fn near_miss(text: &str, at: usize, byte: u8, how: u8) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let at = at % bytes.len().max(1);
    match how % 3 {
        0 => bytes[at] = byte,
        1 => bytes.truncate(at),
        _ => {
            let tail = bytes[at..].to_vec();
            bytes.extend_from_slice(&tail);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn tile_paths(path in "(tile/)?((entries|[0-9x]{1,3})/)?([x0-9]{1,4}/){0,4}[0-9]{0,4}(\\.p/[0-9]{0,4})?") {
        if let Ok(tile) = Tile::parse(&path) {
            // Whatever parses is the one spelling of a tile, and spans what it says.
            prop_assert_eq!(tile.path(), path);
            let _ = tile.within(u64::MAX);
        }
    }

    #[test]
    fn tlog_proofs(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = TlogProof::parse(&text);
        let _ = TlogProof::parse(&format!("c2sp.org/tlog-proof@v1\nextra AA==\nindex 0\n{text}\n\n{text}"));
    }

    #[test]
    fn receipts(at in any::<usize>(), byte in any::<u8>(), how in any::<u8>()) {
        let (text, log) = a_receipt();
        let changed = near_miss(&text, at, byte, how);
        if let Ok(receipt) = serde_json::from_slice::<Receipt>(&changed) {
            // A receipt that still parses either is the original or fails, naming why.
            match receipt.verify(&log) {
                Ok(_) => prop_assert_eq!(serde_json::from_str::<Receipt>(&text).ok(), Some(receipt)),
                Err(failures) => prop_assert!(!failures.is_empty()),
            }
        }
    }

    #[test]
    fn signed_notes(at in any::<usize>(), byte in any::<u8>(), how in any::<u8>()) {
        let (text, log) = a_receipt();
        let receipt: Receipt = serde_json::from_str(&text).expect("receipt");
        let changed = near_miss(&receipt.signed, at, byte, how);
        let changed = String::from_utf8_lossy(&changed);
        // A note that verifies says what was signed (a signature line repeated is still the
        // key's signature over the same text).
        let signed = log.verify_note(&receipt.signed).expect("the original verifies");
        if let Ok(text) = log.verify_note(&changed) {
            prop_assert_eq!(text, signed);
        }
        let _ = log.verify_checkpoint(&changed);
    }

    #[test]
    fn events(at in any::<usize>(), byte in any::<u8>(), how in any::<u8>()) {
        for valid in [
            r#"{"kind":"promise","at":"2026-12-06T12:00:00Z","id":"p","promisor":"a","promisee":"b","scope":"s","stake":5,"due":"2026-12-07T12:00:00Z","note":"n"}"#,
            r#"{"at":"2026-12-06T12:00:00Z","kind":"policy","recorded_at":"2026-12-06T12:00:00Z","sha256":"0000000000000000000000000000000000000000000000000000000000000000","v":3}"#,
        ] {
            let changed = near_miss(valid, at, byte, how);
            let _ = Event::from_entry(&changed);
            if let Ok(text) = std::str::from_utf8(&changed) {
                let _ = Event::from_json(text);
            }
        }
    }
}
