//! A small deterministic pseudo-random generator (xorshift64*) for the load generators: the same
//! seed gives the same workload on every machine, and it costs a few nanoseconds per draw. It is
//! not for anything that needs unpredictability.

pub struct Random {
    state: u64,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        // Spread small seeds over the whole state; xorshift must never start at zero.
        let state = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Random { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut state = self.state;
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        self.state = state;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..bound` (`0` when `bound` is zero).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.next_u64() % bound
    }

    /// A value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    pub fn pick<'items, T>(&mut self, items: &'items [T]) -> &'items T {
        debug_assert!(!items.is_empty(), "pick from an empty slice");
        &items[self.below(items.len() as u64) as usize]
    }

    /// A standard normal draw (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let radius_draw = 1.0 - self.unit();
        let angle_draw = self.unit();
        (-2.0 * radius_draw.ln()).sqrt() * (2.0 * std::f64::consts::PI * angle_draw).cos()
    }

    /// A log-normal draw with the given median and shape: how request latencies are spread.
    pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// A non-zero id of `N` bytes (OTLP treats all-zero ids as invalid).
    pub fn id<const N: usize>(&mut self) -> [u8; N] {
        loop {
            let mut bytes = [0u8; N];
            for chunk in bytes.chunks_mut(8) {
                let draw = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&draw[..chunk.len()]);
            }
            if bytes.iter().any(|byte| *byte != 0) {
                return bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut first = Random::new(7);
        let mut second = Random::new(7);
        for _ in 0..100 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
    }

    #[test]
    fn log_normal_median_is_close() {
        let mut random = Random::new(1);
        let mut draws: Vec<f64> = (0..20_001).map(|_| random.log_normal(20.0, 0.8)).collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[draws.len() / 2];
        assert!((18.0..22.0).contains(&median), "median {median}");
    }
}
