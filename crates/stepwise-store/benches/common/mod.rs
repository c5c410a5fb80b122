//! What the benchmarks share: a seeded generator and criterion samples kept for medians and
//! in-run ratios.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

/// SplitMix64: deterministic, so every run generates the same inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// Per-iteration times of one criterion benchmark, kept to compute medians and ratios in the
/// same run.
#[derive(Default)]
pub struct Samples(RefCell<Vec<f64>>);

impl Samples {
    /// Records a sample of `iters` iterations that took `elapsed`.
    pub fn record(&self, elapsed: Duration, iters: u64) -> Duration {
        self.0
            .borrow_mut()
            .push(elapsed.as_secs_f64() / iters.max(1) as f64);
        elapsed
    }

    /// Median of the last `n` samples (the measured ones, after criterion's warm-up).
    pub fn median(&self, n: usize) -> Option<f64> {
        let all = self.0.borrow();
        let mut last: Vec<f64> = all[all.len().saturating_sub(n)..].to_vec();
        if last.is_empty() {
            return None;
        }
        last.sort_by(f64::total_cmp);
        let mid = last.len() / 2;
        Some(if last.len() % 2 == 1 {
            last[mid]
        } else {
            (last[mid - 1] + last[mid]) / 2.0
        })
    }
}

/// Times `routine` as `Bencher::iter` does (its output dropped inside the timing), keeping the
/// samples.
pub fn timed<O>(b: &mut criterion::Bencher, samples: &Samples, mut routine: impl FnMut() -> O) {
    b.iter_custom(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(routine());
        }
        samples.record(start.elapsed(), iters)
    });
}

/// An Epinions edge: truster, subject (dense numbers in order of first appearance), sign ±1.
pub type SignedEdge = (u32, u32, i8);

/// The Epinions signed network from `../shared/data/`: the number of users and every edge, or
/// `None` when the file is not there.
pub fn epinions() -> Option<(usize, Vec<SignedEdge>)> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/soc-sign-epinions.txt.gz");
    let file = std::fs::File::open(path).ok()?;
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut edges = Vec::with_capacity(841_372);
    for line in BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let line = line.expect("readable gzip text");
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<i64> = line
            .split('\t')
            .map(|f| f.trim().parse().expect("integer field"))
            .collect();
        let [from, to, sign] = fields[..] else {
            panic!("not three fields: {line:?}");
        };
        let mut dense = |id: i64| {
            let next = u32::try_from(ids.len()).expect("fewer than 2^32 users");
            *ids.entry(u64::try_from(id).expect("non-negative id"))
                .or_insert(next)
        };
        let (truster, subject) = (dense(from), dense(to));
        edges.push((truster, subject, sign.signum() as i8));
    }
    Some((ids.len(), edges))
}
