//! The sharded state of docs/SCALE.md, measured on a real log: how much of one process's
//! memory a shard that folds only the events about its subjects keeps.
//!
//! Every event goes to the shard of the principal it is about, as the design routes it: a
//! rating, vouch, withdrawal or report to its subject's, a promise to its promisor's, an
//! outcome to its promise's, an approval to the promisor's it names; keys, erasures and
//! policies to every shard. This process folds the log of a data directory into the trust
//! state and ladder of shard `SHARD` of `SHARDS` (by a hash of the subject's name) and prints
//! the events it folded, the principals and pairs it holds and its anonymous memory then.
//! Only the fold is built (no names, registry or dashboard): `SHARDS` 1 is the whole state, the
//! yardstick for the others, measured the same way.
//!
//! ```text
//! cargo run --release -p stepwise-store --example shard_fold -- DATA_DIR SHARDS [SHARD]
//! ```
//!
//! What a shard folds is not what the whole state would say of its subjects: the global inputs
//! (the network rank, the credibility of trusters whose records are in other shards) are the
//! design's published snapshots, not built here. This measures memory, not answers.

use std::collections::HashSet;
use std::hash::BuildHasher;
use stepwise::evidence::{Body, Event, Id};
use stepwise::ladder::LadderState;
use stepwise_store::LogStore;
use stepwise_store::data_dir::DataDir;

/// Entries read from the store at a time.
const CHUNK: u64 = 8_192;

/// The principal an event is about, for its shard (`None`: every shard's, or its promise's).
fn about(body: &Body) -> Option<&Id> {
    match body {
        Body::Rating { subject, .. }
        | Body::Vouch { subject, .. }
        | Body::Unvouch { subject, .. }
        | Body::Report { subject, .. }
        | Body::Approval { subject, .. } => Some(subject),
        Body::Promise { promisor, .. } => Some(promisor),
        Body::Outcome { .. } | Body::Key { .. } | Body::Erasure { .. } | Body::Policy { .. } => {
            None
        }
    }
}

fn anonymous_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .map(|l| l["RssAnon:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, shards, rest @ ..] = args.as_slice() else {
        return Err("usage: shard_fold DATA_DIR SHARDS [SHARD]".into());
    };
    let shards: u64 = (shards.parse().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| format!("SHARDS: {shards:?} is not a whole number of at least 1"))?;
    let shard: u64 = match rest.first() {
        None => 0,
        Some(s) => (s.parse().ok())
            .filter(|&n| n < shards)
            .ok_or_else(|| format!("SHARD: {s:?} is not a whole number below {shards}"))?,
    };
    let data = DataDir::new(data);
    let policy = data.policy().map_err(|e| e.to_string())?;
    let store = data.open_store().map_err(|e| e.to_string())?;
    let size = store.size().map_err(|e| e.to_string())?;
    let mut state = LadderState::new(policy.model.clone(), policy.ladder.clone());
    // The same hash in every process, so that shards partition the principals.
    let hasher = foldhash::fast::FixedState::with_seed(0x5eed);
    let mine = |id: &Id| hasher.hash_one(id.as_str()) % shards == shard;
    // The promises routed here (by a hash of their id: 8 bytes each), for their outcomes.
    let mut promises: HashSet<u64> = HashSet::new();
    let started = std::time::Instant::now();
    let mut folded = 0_u64;
    let mut index = 0;
    while index < size {
        let to = (index + CHUNK).min(size);
        let mut events: Vec<(u64, Event)> = Vec::with_capacity(CHUNK as usize);
        store
            .scan(index, to, &mut |entry| {
                events.push((entry.index, stepwise_store::decode_entry(&entry)?));
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        for (i, event) in &events {
            let here = match (&event.body, about(&event.body)) {
                (Body::Outcome { promise, .. }, _) => {
                    promises.contains(&hasher.hash_one(promise.as_str()))
                }
                (_, Some(subject)) => mine(subject),
                (_, None) => true,
            };
            if !here {
                continue;
            }
            if let Body::Promise { id, .. } | Body::Approval { promise: id, .. } = &event.body {
                promises.insert(hasher.hash_one(id.as_str()));
            }
            state.apply(*i, event);
            folded += 1;
        }
        index = to;
    }
    let trust = state.trust();
    println!(
        "{{\"shards\":{shards},\"shard\":{shard},\"log_size\":{size},\"events_folded\":{folded},\
         \"principals\":{},\"pairs\":{},\"promises_routed\":{},\"seconds\":{:.1},\
         \"rss_anon\":\"{}\"}}",
        trust.principals(),
        trust.pairs(),
        promises.len(),
        started.elapsed().as_secs_f64(),
        anonymous_memory()
    );
    Ok(())
}
