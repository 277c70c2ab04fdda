//! The arithmetic of error budgets, always on sums of events: attainment, budget remaining,
//! burn rate, and the forecast of exhaustion.

use crate::series::Events;

/// Share of good events; None without events.
pub fn attainment(events: Events) -> Option<f64> {
    (events.total > 0).then(|| events.good as f64 / events.total as f64)
}

/// Error ratio over a look-back divided by the allowed error ratio (1 - objective).
/// A burn rate of 1 spends exactly the budget over the SLO period.
pub fn burn_rate(events: Events, objective: f64) -> Option<f64> {
    debug_assert!(
        objective > 0.0 && objective < 1.0,
        "objective is a fraction below 1"
    );
    events.error_ratio().map(|ratio| ratio / (1.0 - objective))
}

/// Share of the period's error budget still unspent: 1 - bad / ((1 - objective) * total).
/// Negative once the budget is overspent; None without events.
pub fn budget_remaining(events: Events, objective: f64) -> Option<f64> {
    if events.total == 0 {
        return None;
    }
    let allowed_bad = (1.0 - objective) * events.total as f64;
    Some(1.0 - events.bad() as f64 / allowed_bad)
}

/// How long, at `burn_rate`, until the remaining budget is gone, in minutes; None when the
/// budget is not being spent or is already gone.
pub fn minutes_to_exhaustion(
    budget_remaining: f64,
    burn_rate: f64,
    period_minutes: i64,
) -> Option<f64> {
    if burn_rate <= 0.0 || budget_remaining <= 0.0 {
        return None;
    }
    // A burn rate of 1 spends the whole budget in one period.
    Some(budget_remaining * period_minutes as f64 / burn_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The averaging trap of DESIGN.md: the burn rate is a ratio of sums, not a mean of ratios.
    #[test]
    fn the_averaging_trap() {
        let busy_seconds = 12 * 3600;
        let busy = Events::new(
            1000 * busy_seconds - (1000 * busy_seconds) / 2000,
            1000 * busy_seconds,
        );
        let quiet = Events::new(
            10 * busy_seconds - (10 * busy_seconds) / 100,
            10 * busy_seconds,
        );
        let day = Events::new(busy.good + quiet.good, busy.total + quiet.total);
        let true_burn = burn_rate(day, 0.999).unwrap();
        assert!((true_burn - 0.5940).abs() < 0.001, "{true_burn}");

        // What averaging 5-minute ratios would say: 144 busy slices at 0.05 %, 144 quiet at 1 %.
        let averaged: f64 = (144.0 * 0.0005 + 144.0 * 0.01) / 288.0 / 0.001;
        assert!((averaged - 5.25).abs() < 1e-9);
        assert!((true_burn - averaged).abs() > 4.0);
    }

    #[test]
    fn budget_and_forecast() {
        let events = Events::new(99_950, 100_000);
        assert!((budget_remaining(events, 0.999).unwrap() - 0.5).abs() < 1e-9);
        assert!((burn_rate(events, 0.999).unwrap() - 0.5).abs() < 1e-9);
        // Half the budget left, burning 14.4x on a 30-day period: gone in 25 hours.
        let minutes = minutes_to_exhaustion(0.5, 14.4, 30 * 24 * 60).unwrap();
        assert!((minutes - 1500.0).abs() < 1e-6);
        assert_eq!(minutes_to_exhaustion(-0.1, 2.0, 60), None);
        assert_eq!(budget_remaining(Events::default(), 0.99), None);
    }
}
