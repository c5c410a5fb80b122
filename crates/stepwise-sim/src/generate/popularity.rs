//! Who is drawn: a Zipf–Mandelbrot law over the principals who have joined, oldest first.
//!
//! A principal's place among the `k` who have joined is `x = index / k`, and it is drawn with
//! density proportional to `(x + c)^(−s)`: a power law in its rank with exponent `s`, flattened
//! at the very top by `c` (the largest real principals hold well under 1% of all edges, which a
//! pure Zipf law with a tail as heavy as theirs would exceed as the log grows). The law is
//! continuous in `x`, so its shape — the share of edges the top 1% hold — is the same for 10^4
//! principals as for 10^7, and a draw is one power and no table: memory does not grow with
//! the log. As `k` grows, an old principal's `x` shrinks and it is drawn more: the rich get
//! richer, as under preferential attachment.

/// A Zipf–Mandelbrot law on [0, 1), drawn by inverting its distribution function.
#[derive(Debug, Clone, Copy)]
pub(super) struct Popularity {
    c: f64,
    /// `c^(1−s)`.
    top: f64,
    /// `c^(1−s) − (1+c)^(1−s)`.
    range: f64,
    /// `1 / (1−s)`.
    inverse: f64,
}

impl Popularity {
    /// The law with exponent `s` (not 1) and offset `c` (> 0).
    pub(super) fn new(s: f64, c: f64) -> Self {
        let g = 1.0 - s;
        let top = c.powf(g);
        Self {
            c,
            top,
            range: top - (1.0 + c).powf(g),
            inverse: 1.0 / g,
        }
    }

    /// The place in [0, 1) whose distribution function is `u` (a uniform draw in [0, 1)).
    pub(super) fn place(&self, u: f64) -> f64 {
        let x = (self.top - u * self.range).powf(self.inverse) - self.c;
        x.clamp(0.0, 1.0)
    }

    /// The index, among `joined` principals, of place `u` (`joined` ≥ 1).
    pub(super) fn pick(&self, u: f64, joined: u64) -> u64 {
        ((self.place(u) * joined as f64) as u64).min(joined.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_law_is_heavier_at_the_top_and_covers_all_places() {
        let law = Popularity::new(1.3, 0.002);
        assert!(law.place(0.0).abs() < 1e-12);
        assert!((law.place(1.0 - 1e-15) - 1.0).abs() < 1e-6);
        // The top 1% of places take far more than 1% of the draws, and the law is monotone.
        let top = (0..10_000)
            .filter(|i| law.place(f64::from(*i) / 10_000.0) < 0.01)
            .count();
        assert!((1_000..9_000).contains(&top), "{top}");
        let places: Vec<f64> = (0..100).map(|i| law.place(f64::from(i) / 100.0)).collect();
        assert!(places.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(law.pick(0.999_999, 5), 4);
        assert_eq!(law.pick(0.0, 1), 0);
    }
}
