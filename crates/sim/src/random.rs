//! The distributions the shop draws from, over a seeded `fastrand::Rng` so that a seed
//! replays the same traffic: log-normal latencies (what request latencies look like: a body
//! around the median and a long right tail), Poisson arrivals, and weighted choices.

use fastrand::Rng;

pub const MILLISECOND: u64 = 1_000_000;

/// A standard normal draw (Box-Muller; one of the pair is thrown away to keep it stateless).
pub fn standard_normal(rng: &mut Rng) -> f64 {
    // 1 - f64() is in (0, 1], so the logarithm is finite.
    let radius = (-2.0 * (1.0 - rng.f64()).ln()).sqrt();
    let angle = std::f64::consts::TAU * rng.f64();
    radius * angle.cos()
}

/// A log-normal duration in nanoseconds with the given median (ms) and shape `sigma`
/// (0.3: tight, 0.6: a typical service, 1.0: a heavy tail).
pub fn lognormal_nanos(rng: &mut Rng, median_ms: f64, sigma: f64) -> u64 {
    let milliseconds = median_ms * (sigma * standard_normal(rng)).exp();
    (milliseconds * MILLISECOND as f64).max(1_000.0) as u64
}

/// The number of arrivals in an interval whose expected count is `mean`.
pub fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 60.0 {
        // The normal approximation is within a fraction of a percent here and O(1).
        let draw = mean + mean.sqrt() * standard_normal(rng);
        return draw.round().max(0.0) as u32;
    }
    // Knuth: multiply uniforms until the product drops below e^-mean.
    let limit = (-mean).exp();
    let mut count = 0;
    let mut product = rng.f64();
    while product > limit {
        count += 1;
        product *= rng.f64();
    }
    count
}

/// True with probability `probability`.
pub fn chance(rng: &mut Rng, probability: f64) -> bool {
    rng.f64() < probability
}

/// An index drawn with the given weights (which need not sum to one).
pub fn weighted(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut draw = rng.f64() * total;
    for (index, weight) in weights.iter().enumerate() {
        if draw < *weight {
            return index;
        }
        draw -= weight;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_median_and_poisson_mean_are_what_was_asked() {
        let mut rng = Rng::with_seed(7);
        let mut draws: Vec<u64> = (0..20_001)
            .map(|_| lognormal_nanos(&mut rng, 20.0, 0.5))
            .collect();
        draws.sort_unstable();
        let median_ms = draws[10_000] as f64 / MILLISECOND as f64;
        assert!((median_ms - 20.0).abs() < 1.0, "median {median_ms}");

        for mean in [0.5, 4.0, 30.0, 200.0] {
            let total: u64 = (0..5_000).map(|_| u64::from(poisson(&mut rng, mean))).sum();
            let observed = total as f64 / 5_000.0;
            assert!(
                (observed - mean).abs() < mean * 0.05 + 0.05,
                "mean {mean}: {observed}"
            );
        }
    }
}
