//! The generator's randomness: xoshiro256** seeded through splitmix64, one stream per log.
//!
//! A stream, not a hash of coordinates as in `simulate`: a log is written once, in order, so
//! the next draw may depend on every earlier one, and a stream is cheaper per draw. It must
//! never read anything but its seed: the same seed gives the same log, byte for byte.

/// One step of splitmix64 over a counter: how xoshiro's state is filled from one seed.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A well-mixed hash of `x`: a fixed draw for a principal (is it one of the bad ones?) that
/// costs no memory.
pub(super) fn mix(x: u64) -> u64 {
    let mut state = x;
    splitmix64(&mut state)
}

/// xoshiro256** (Blackman and Vigna): 256 bits of state, a period of 2^256 − 1.
#[derive(Clone)]
pub(super) struct Rng([u64; 4]);

impl Rng {
    /// The stream of `seed`; `purpose` separates streams drawn from one seed.
    pub(super) fn new(seed: u64, purpose: u64) -> Self {
        let mut state = seed ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03);
        // splitmix64 never yields four zeros in a row, the one state xoshiro must avoid.
        Self(std::array::from_fn(|_| splitmix64(&mut state)))
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A draw in [0, 1), with 53 random bits.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A draw in `0..n` (Lemire's multiply-shift; a bias below n / 2^64, nothing at these sizes);
    /// 0 when `n` is 0.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal draw (Box–Muller; one of the pair is thrown away: it is drawn once per
    /// slot of time, never per event).
    pub(super) fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]: its logarithm is finite
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_is_one_stream_and_another_seed_another() {
        let draws = |seed, purpose| {
            let mut rng = Rng::new(seed, purpose);
            (0..8).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(1, 0), draws(1, 0));
        assert_ne!(draws(1, 0), draws(2, 0));
        assert_ne!(draws(1, 0), draws(1, 1));
    }

    #[test]
    fn draws_stay_in_their_ranges_and_fill_them() {
        let mut rng = Rng::new(7, 0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            seen[rng.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (850..1150).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
        let mean = (0..10_000).map(|_| rng.normal()).sum::<f64>() / 10_000.0;
        assert!(mean.abs() < 0.05, "{mean}");
    }
}
