//! Known-answer tests against the RFC 6962 proof vectors kept in the shared test data, and the
//! standard roots of the README. Every vector file must get the verdict its `wantErr` asks for,
//! and the happy paths must also match the proofs this crate generates.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use stepwise::ledger::merkle::{
    Frontier, Hash, consistency_proof, empty_root, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_inclusion,
};

/// Fewer files than this means the data folder is not the one the tests were written for.
const MIN_VECTOR_FILES: usize = 190;

const LEAF_INPUTS_HEX: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const STANDARD_ROOTS_HEX: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InclusionCase {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc6962")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read vector folder {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn b64(s: &str, path: &Path) -> Vec<u8> {
    STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("{}: bad base64 {s:?}: {e}", path.display()))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn standard_leaves() -> Vec<Hash> {
    LEAF_INPUTS_HEX.iter().map(|h| leaf_hash(&hex(h))).collect()
}

fn standard_root(size: u64) -> Option<Hash> {
    let h = hex(STANDARD_ROOTS_HEX.get(usize::try_from(size).ok()?)?);
    h.try_into().ok()
}

#[derive(Default)]
struct Tally {
    checked: usize,
    failures: Vec<String>,
    cross_checked: usize,
}

fn check_inclusion(path: &Path, text: &str, leaves: &[Hash], tally: &mut Tally) {
    let case: InclusionCase = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{}: not an inclusion case: {e}", path.display()));
    let proof: Vec<Vec<u8>> = case.proof.iter().flatten().map(|p| b64(p, path)).collect();
    let leaf = b64(&case.leaf_hash, path);
    let root_bytes = b64(&case.root, path);
    let verdict = verify_inclusion(&leaf, case.leaf_idx, case.tree_size, &proof, &root_bytes);
    tally.checked += 1;
    if verdict.is_ok() == case.want_err {
        tally.failures.push(format!(
            "{} ({}): wantErr {} but got {:?}",
            path.display(),
            case.desc,
            case.want_err,
            verdict
        ));
    }
    if !case.want_err && standard_root(case.tree_size).is_some_and(|r| r[..] == root_bytes[..]) {
        let size = usize::try_from(case.tree_size).expect("small size");
        let generated =
            inclusion_proof(&leaves[..size], case.leaf_idx, case.tree_size).expect("in range");
        let generated: Vec<Vec<u8>> = generated.iter().map(|h| h.to_vec()).collect();
        assert_eq!(
            generated,
            proof,
            "{}: generated proof differs",
            path.display()
        );
        tally.cross_checked += 1;
    }
}

fn check_consistency(path: &Path, text: &str, leaves: &[Hash], tally: &mut Tally) {
    let case: ConsistencyCase = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{}: not a consistency case: {e}", path.display()));
    let proof: Vec<Vec<u8>> = case.proof.iter().flatten().map(|p| b64(p, path)).collect();
    let root1 = b64(&case.root1, path);
    let root2 = b64(&case.root2, path);
    let verdict = verify_consistency(case.size1, case.size2, &proof, &root1, &root2);
    tally.checked += 1;
    if verdict.is_ok() == case.want_err {
        tally.failures.push(format!(
            "{} ({}): wantErr {} but got {:?}",
            path.display(),
            case.desc,
            case.want_err,
            verdict
        ));
    }
    let standard = |size: u64, bytes: &[u8]| standard_root(size).is_some_and(|r| r[..] == *bytes);
    if !case.want_err && standard(case.size1, &root1) && standard(case.size2, &root2) {
        let generated = consistency_proof(leaves, case.size1, case.size2).expect("in range");
        let generated: Vec<Vec<u8>> = generated.iter().map(|h| h.to_vec()).collect();
        assert_eq!(
            generated,
            proof,
            "{}: generated proof differs",
            path.display()
        );
        tally.cross_checked += 1;
    }
}

#[test]
fn every_vector_file_gets_the_expected_verdict() {
    let dir = vectors_dir();
    assert!(
        dir.is_dir(),
        "RFC 6962 vectors not found at {} (shared/ must sit beside the checkout)",
        dir.display()
    );
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    assert!(
        files.len() >= MIN_VECTOR_FILES,
        "only {} vector files under {}, expected at least {MIN_VECTOR_FILES}",
        files.len(),
        dir.display()
    );

    let leaves = standard_leaves();
    let mut tally = Tally::default();
    let (mut inclusion, mut consistency) = (0, 0);
    for path in &files {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let rel = path.strip_prefix(&dir).expect("under the vector folder");
        match rel.components().next().and_then(|c| c.as_os_str().to_str()) {
            Some("inclusion") => {
                inclusion += 1;
                check_inclusion(path, &text, &leaves, &mut tally);
            }
            Some("consistency") => {
                consistency += 1;
                check_consistency(path, &text, &leaves, &mut tally);
            }
            other => panic!("{}: unexpected folder {other:?}", path.display()),
        }
    }
    assert!(
        tally.failures.is_empty(),
        "{} of {} vector files got the wrong verdict:\n{}",
        tally.failures.len(),
        tally.checked,
        tally.failures.join("\n")
    );
    assert!(
        inclusion >= 90 && consistency >= 90,
        "{inclusion} / {consistency}"
    );
    // Every happy path of the five numbered folders uses the standard tree.
    assert!(
        tally.cross_checked >= 10,
        "only {} happy paths were checked against generated proofs",
        tally.cross_checked
    );
    println!(
        "{} vector files ({inclusion} inclusion, {consistency} consistency), {} generated proofs cross-checked",
        tally.checked, tally.cross_checked
    );
}

#[test]
fn standard_roots_by_root() {
    let leaves = standard_leaves();
    assert_eq!(root(&leaves[..], 0).expect("infallible"), empty_root());
    for size in 0..=8u64 {
        let want = standard_root(size).expect("listed size");
        let got = root(&leaves[..], size).expect("infallible");
        assert_eq!(got, want, "root of size {size}");
        let prefix: Vec<Hash> = leaves[..size as usize].to_vec();
        assert_eq!(
            root(&prefix, size).expect("infallible"),
            want,
            "Vec source, size {size}"
        );
    }
}

#[test]
fn standard_roots_by_frontier() {
    let leaves = standard_leaves();
    let mut frontier = Frontier::new();
    let mut completed = Vec::new();
    assert_eq!(frontier.root(), standard_root(0).expect("size 0"));
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.push(*leaf, &mut completed);
        let size = i as u64 + 1;
        assert_eq!(frontier.size(), size);
        assert_eq!(
            frontier.root(),
            standard_root(size).expect("listed"),
            "size {size}"
        );
        assert_eq!(
            Frontier::load(&leaves[..], size).expect("infallible"),
            frontier,
            "load at size {size}"
        );
    }
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(empty_root().to_vec(), hex(STANDARD_ROOTS_HEX[0]));
}
