//! Good and total events of one SLO over time, kept so that the sum over any window costs O(1):
//! cumulative counts per minute for the recent past (long enough for every alert window) and
//! per hour beyond it (long enough for the SLO period). The sum over `[from, to)` is a
//! difference of two cumulative values.
//!
//! Windows that reach past the minute tier are summed from the hour tier, so their start is
//! rounded to the hour; every alert window of the default policies fits in the minute tier
//! and is exact to the minute.

use std::collections::VecDeque;

/// Events of an indicator: how many were good, out of how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    pub good: u64,
    pub total: u64,
}

impl Events {
    pub fn new(good: u64, total: u64) -> Events {
        debug_assert!(good <= total, "more good events than events");
        Events { good, total }
    }

    pub fn bad(&self) -> u64 {
        self.total - self.good
    }

    /// Bad over total; None without events.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.bad() as f64 / self.total as f64)
    }

    fn plus(self, other: Events) -> Events {
        Events {
            good: self.good + other.good,
            total: self.total + other.total,
        }
    }

    fn minus(self, other: Events) -> Events {
        Events {
            good: self.good - other.good,
            total: self.total - other.total,
        }
    }
}

/// Cumulative counts per fixed-size slot, for the slots from `first` on.
#[derive(Clone, Debug)]
struct CumulativeTier {
    slot_minutes: i64,
    capacity: usize,
    first: i64,
    /// Entry i: all events before the end of slot `first + i` (since the tier's origin).
    cumulative: VecDeque<Events>,
    /// Events of slots that were dropped from the front: the cumulative value before `first`.
    before_first: Events,
    /// Whether slots were dropped: until then the tier knows every slot, including the empty
    /// ones before its first.
    dropped: bool,
}

impl CumulativeTier {
    fn new(slot_minutes: i64, capacity: usize) -> CumulativeTier {
        CumulativeTier {
            slot_minutes,
            capacity,
            first: 0,
            cumulative: VecDeque::new(),
            before_first: Events::default(),
            dropped: false,
        }
    }

    fn slot_of(&self, minute: i64) -> i64 {
        minute.div_euclid(self.slot_minutes)
    }

    fn last_cumulative(&self) -> Events {
        self.cumulative.back().copied().unwrap_or(self.before_first)
    }

    /// Adds events to a slot; slots before the tier's first are already summarised and ignored.
    fn add(&mut self, minute: i64, events: Events) {
        let slot = self.slot_of(minute);
        if self.cumulative.is_empty() {
            self.first = slot;
        }
        if slot < self.first {
            if self.dropped {
                return;
            }
            // Before anything was dropped, earlier slots are still ours: shift the origin back.
            let missing = (self.first - slot) as usize;
            for _ in 0..missing {
                self.cumulative.push_front(self.before_first);
            }
            self.first = slot;
        }
        let mut index = (slot - self.first) as usize;
        while index >= self.cumulative.len() {
            let last = self.last_cumulative();
            self.cumulative.push_back(last);
        }
        // Late events touch the few slots after theirs; events are nearly always recent.
        while index < self.cumulative.len() {
            self.cumulative[index] = self.cumulative[index].plus(events);
            index += 1;
        }
        while self.cumulative.len() > self.capacity {
            self.before_first = self.cumulative.pop_front().expect("non-empty");
            self.first += 1;
            self.dropped = true;
        }
    }

    /// Extends the tier with empty slots up to `minute`, so that quiet periods still age out.
    fn advance_to(&mut self, minute: i64) {
        self.add(minute, Events::default());
    }

    /// The cumulative count before `slot` (clamped to what the tier holds).
    fn before(&self, slot: i64) -> Events {
        if self.cumulative.is_empty() || slot <= self.first {
            return self.before_first;
        }
        let index = ((slot - self.first) as usize).min(self.cumulative.len()) - 1;
        self.cumulative[index]
    }

    fn covers(&self, slot: i64) -> bool {
        !self.dropped || slot >= self.first
    }
}

fn ceil_div(value: i64, divisor: i64) -> i64 {
    value.div_euclid(divisor) + i64::from(value.rem_euclid(divisor) != 0)
}

/// The event history of one SLO.
#[derive(Clone, Debug)]
pub struct EventSeries {
    minutes: CumulativeTier,
    hours: CumulativeTier,
}

impl EventSeries {
    /// Keeps minute precision for `minute_span` minutes and hour precision for `hour_span` hours.
    pub fn new(minute_span: usize, hour_span: usize) -> EventSeries {
        EventSeries {
            minutes: CumulativeTier::new(1, minute_span.max(1)),
            hours: CumulativeTier::new(60, hour_span.max(1)),
        }
    }

    pub fn add(&mut self, minute: i64, events: Events) {
        self.minutes.add(minute, events);
        self.hours.add(minute, events);
    }

    pub fn advance_to(&mut self, minute: i64) {
        self.minutes.advance_to(minute);
        self.hours.advance_to(minute);
    }

    /// Events in the minutes `[from, to)`.
    pub fn sum(&self, from: i64, to: i64) -> Events {
        if from >= to {
            return Events::default();
        }
        if self.minutes.covers(from) {
            return self.minutes.before(to).minus(self.minutes.before(from));
        }
        // Past the minute tier the window starts at the next whole hour, so that it never
        // reaches further back than asked; its recent part still comes from the minute tier.
        let from_hour = ceil_div(from, 60);
        let boundary_hour = ceil_div(self.minutes.first, 60);
        let boundary_minute = boundary_hour * 60;
        if self.minutes.covers(boundary_minute)
            && boundary_minute < to
            && from_hour <= boundary_hour
        {
            let older = self
                .hours
                .before(boundary_hour)
                .minus(self.hours.before(from_hour));
            let recent = self
                .minutes
                .before(to)
                .minus(self.minutes.before(boundary_minute));
            return older.plus(recent);
        }
        self.hours
            .before(ceil_div(to, 60))
            .minus(self.hours.before(from_hour))
    }

    /// The first minute the series can answer for at minute precision.
    pub fn first_exact_minute(&self) -> Option<i64> {
        (!self.minutes.cumulative.is_empty()).then_some(self.minutes.first)
    }

    /// Approximate heap size, for the benchmark's memory figure.
    pub fn heap_bytes(&self) -> usize {
        (self.minutes.cumulative.capacity() + self.hours.cumulative.capacity())
            * std::mem::size_of::<Events>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(events: &[(i64, Events)], from: i64, to: i64) -> Events {
        events
            .iter()
            .filter(|(minute, _)| *minute >= from && *minute < to)
            .fold(Events::default(), |sum, (_, value)| sum.plus(*value))
    }

    proptest! {
        #[test]
        fn window_sums_equal_naive_sums(
            raw in prop::collection::vec((0i64..3000, 0u64..50, 0u64..50), 1..300),
            from in 0i64..3000,
            length in 1i64..3000,
        ) {
            let mut events: Vec<(i64, Events)> = raw.iter().map(|(minute, good, bad)| (*minute, Events::new(*good, good + bad))).collect();
            events.sort_by_key(|(minute, _)| *minute);
            let mut series = EventSeries::new(10_000, 1_000);
            for (minute, value) in &events {
                series.add(*minute, *value);
            }
            let to = from + length;
            prop_assert_eq!(series.sum(from, to), naive(&events, from, to));
        }
    }

    #[test]
    fn old_windows_come_from_hours_and_never_reach_back_further() {
        let mut series = EventSeries::new(120, 100);
        for minute in 0..600 {
            series.add(minute, Events::new(9, 10));
        }
        // The minute tier now starts at minute 480.
        assert_eq!(series.first_exact_minute(), Some(480));
        // [90, 600): hours 2..8 from the hour tier (minute 90 rounds up to 120), the rest exact.
        let sum = series.sum(90, 600);
        assert_eq!(sum.total, 480 * 10);
        assert_eq!(sum.good, 480 * 9);
        // A window inside the minute tier is exact.
        assert_eq!(series.sum(500, 510).total, 100);
    }
}
