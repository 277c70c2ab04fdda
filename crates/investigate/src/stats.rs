//! The small statistics the probes share: robust centre and spread, a mean-shift change point,
//! the Theil–Sen slope and a monotonic-fraction test for trends, and the squashing of an
//! effect size into a score in `[0, 1]`.
//!
//! Everything takes plain slices and is deterministic; NaN values are the caller's to remove.

/// The arithmetic mean; None for no values.
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation (n - 1); 0 for fewer than two values.
pub(crate) fn standard_deviation(values: &[f64]) -> f64 {
    let Some(centre) = mean(values) else {
        return 0.0;
    };
    if values.len() < 2 {
        return 0.0;
    }
    let squares: f64 = values.iter().map(|value| (value - centre).powi(2)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

/// The q-quantile (0..=1) by linear interpolation between closest ranks; None for no values.
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_of_sorted(&sorted, q))
}

/// [`quantile`] of values already sorted ascending; the slice must not be empty.
pub(crate) fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

pub(crate) fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Maps an effect size `x >= 0` onto `[0, 1)`: `scale` is the effect that scores 0.63.
pub(crate) fn saturate(effect: f64, scale: f64) -> f64 {
    if !effect.is_finite() || effect <= 0.0 || scale <= 0.0 {
        return if effect == f64::INFINITY { 1.0 } else { 0.0 };
    }
    1.0 - (-effect / scale).exp()
}

/// A linear ramp from 0 at `low` to 1 at `high`, clamped.
pub(crate) fn ramp(value: f64, low: f64, high: f64) -> f64 {
    if high <= low {
        return if value >= high { 1.0 } else { 0.0 };
    }
    ((value - low) / (high - low)).clamp(0.0, 1.0)
}

/// Where the mean of a series shifts, found by trying every split (a single-change binary
/// segmentation) and keeping the one that leaves the least squared error.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChangePoint {
    /// The first index of the second segment.
    pub index: usize,
    pub mean_before: f64,
    pub mean_after: f64,
    /// The shift over its standard error (two-sample t with pooled variance).
    pub t_statistic: f64,
}

/// The best single mean shift of `series`, or None for fewer than 3 values or a flat series.
/// Both segments hold at least one value.
pub(crate) fn change_point(series: &[f64]) -> Option<ChangePoint> {
    let count = series.len();
    if count < 3 {
        return None;
    }
    // Prefix sums make each split O(1): SSE = sum of squares - sum^2 / n.
    let mut sums = vec![0.0; count + 1];
    let mut squares = vec![0.0; count + 1];
    for (position, value) in series.iter().enumerate() {
        sums[position + 1] = sums[position] + value;
        squares[position + 1] = squares[position] + value * value;
    }
    let segment_error = |from: usize, to: usize| {
        let length = (to - from) as f64;
        let sum = sums[to] - sums[from];
        (squares[to] - squares[from] - sum * sum / length).max(0.0)
    };
    let mut best: Option<(usize, f64)> = None;
    for split in 1..count {
        let error = segment_error(0, split) + segment_error(split, count);
        // Strictly less keeps the earliest of equally good splits.
        if best.is_none_or(|(_, best_error)| error < best_error) {
            best = Some((split, error));
        }
    }
    let (index, _) = best?;
    let before = &series[..index];
    let after = &series[index..];
    let mean_before = mean(before)?;
    let mean_after = mean(after)?;
    // The pooled variance of both segments: a segment of one value has no spread of its own.
    let degrees = count.saturating_sub(2).max(1) as f64;
    let variance = (segment_error(0, index) + segment_error(index, count)) / degrees;
    let standard_error_squared = variance * (1.0 / before.len() as f64 + 1.0 / after.len() as f64);
    // A floor on the spread: a perfectly flat segment would make any shift infinitely
    // significant, and per-minute series of a few requests are rarely that exact.
    let floor = (1e-3 * mean_before.abs().max(mean_after.abs())).powi(2) + 1e-12;
    let shift = mean_after - mean_before;
    if shift == 0.0 {
        return None;
    }
    Some(ChangePoint {
        index,
        mean_before,
        mean_after,
        t_statistic: shift / (standard_error_squared + floor).sqrt(),
    })
}

/// The Theil–Sen slope of a series cut into pieces (a sawtooth that resets): the median of the
/// slopes of all pairs with distinct x within the same piece, so that the drops between pieces
/// do not count. Series longer than `MAX_POINTS` are thinned evenly first, which keeps it
/// O(n²) bounded.
pub(crate) fn theil_sen_slope_within(pieces: &[&[(f64, f64)]]) -> Option<f64> {
    const MAX_POINTS: usize = 240;
    let total: usize = pieces.iter().map(|piece| piece.len()).sum();
    let step = (total as f64 / MAX_POINTS as f64).max(1.0);
    let mut slopes = Vec::new();
    for piece in pieces {
        let thinned: Vec<(f64, f64)> = if step > 1.0 {
            let kept = ((piece.len() as f64 / step).ceil() as usize).max(2.min(piece.len()));
            let stride = piece.len() as f64 / kept as f64;
            (0..kept)
                .map(|position| piece[(position as f64 * stride) as usize])
                .collect()
        } else {
            piece.to_vec()
        };
        for (position, (x_first, y_first)) in thinned.iter().enumerate() {
            for (x_second, y_second) in &thinned[position + 1..] {
                let run = x_second - x_first;
                if run != 0.0 {
                    slopes.push((y_second - y_first) / run);
                }
            }
        }
    }
    median(&slopes)
}

/// The z statistic of the difference of two proportions `after - before` (pooled variance);
/// 0 when either side has no trials.
pub(crate) fn two_proportion_z(
    before_hits: f64,
    before_trials: f64,
    after_hits: f64,
    after_trials: f64,
) -> f64 {
    if before_trials <= 0.0 || after_trials <= 0.0 {
        return 0.0;
    }
    let before = before_hits / before_trials;
    let after = after_hits / after_trials;
    let pooled = (before_hits + after_hits) / (before_trials + after_trials);
    let variance = pooled * (1.0 - pooled) * (1.0 / before_trials + 1.0 / after_trials);
    if variance <= 0.0 {
        return 0.0;
    }
    (after - before) / variance.sqrt()
}

/// At most `at_most` points of a series for a figure: consecutive points in equal groups, each
/// kept as its highest (a peak is what a resource trend must not lose).
pub(crate) fn thin(points: Vec<(u64, f64)>, at_most: usize) -> Vec<(u64, f64)> {
    if points.len() <= at_most || at_most == 0 {
        return points;
    }
    let group = points.len().div_ceil(at_most);
    points
        .chunks(group)
        .filter_map(|chunk| {
            chunk
                .iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_peaks() {
        let points: Vec<(u64, f64)> = (0..1000).map(|i| (i, (i % 100) as f64)).collect();
        let thinned = thin(points.clone(), 100);
        assert_eq!(thinned.len(), 100);
        assert_eq!(thinned.iter().filter(|point| point.1 == 99.0).count(), 10);
        assert_eq!(thin(points[..50].to_vec(), 100).len(), 50);
    }

    #[test]
    fn quantiles_interpolate() {
        let values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&values), Some(2.5));
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&values, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn change_point_finds_the_shift() {
        let series = [1.0, 1.1, 0.9, 1.0, 1.0, 5.0, 5.2, 4.9, 5.1];
        let change = change_point(&series).expect("a shift");
        assert_eq!(change.index, 5);
        assert!((change.mean_before - 1.0).abs() < 1e-9);
        assert!(change.t_statistic > 20.0, "{change:?}");
    }

    #[test]
    fn change_point_of_noise_is_weak() {
        let series = [1.0, 1.2, 0.8, 1.1, 0.9, 1.0, 1.2, 0.8];
        let change = change_point(&series).expect("some split");
        assert!(change.t_statistic.abs() < 3.0, "{change:?}");
        assert_eq!(change_point(&[1.0, 1.0, 1.0]), None);
    }

    #[test]
    fn theil_sen_ignores_an_outlier() {
        let mut points: Vec<(f64, f64)> = (0..20).map(|x| (x as f64, 2.0 * x as f64)).collect();
        points[7].1 = 1000.0;
        let slope = theil_sen_slope_within(&[&points]).expect("a slope");
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
    }

    #[test]
    fn saturate_is_bounded() {
        assert_eq!(saturate(0.0, 1.0), 0.0);
        assert_eq!(saturate(-3.0, 1.0), 0.0);
        assert!((saturate(1.0, 1.0) - 0.632).abs() < 1e-3);
        assert!(saturate(100.0, 1.0) <= 1.0);
        assert_eq!(ramp(5.0, 0.0, 10.0), 0.5);
        assert_eq!(ramp(50.0, 0.0, 10.0), 1.0);
    }

    #[test]
    fn two_proportions() {
        let z = two_proportion_z(1.0, 1000.0, 100.0, 1000.0);
        assert!(z > 9.0, "{z}");
        assert_eq!(two_proportion_z(0.0, 0.0, 1.0, 10.0), 0.0);
    }
}
