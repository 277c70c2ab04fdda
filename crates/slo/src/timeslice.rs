//! Period-based budgeting: minutes are grouped into slices of 1-15 minutes, and a slice is one
//! good event when its own good ratio meets the slice target, one bad event otherwise. The
//! objective then applies to slices. A slice without any request does not count.

use crate::series::Events;

/// Groups final per-minute events into slice events. Minutes must arrive in order.
#[derive(Clone, Debug)]
pub struct Slicer {
    slice_minutes: i64,
    target: f64,
    current: Option<(i64, Events)>,
}

impl Slicer {
    pub fn new(slice_minutes: i64, target: f64) -> Slicer {
        debug_assert!(
            (1..=15).contains(&slice_minutes),
            "slices are 1 to 15 minutes"
        );
        Slicer {
            slice_minutes,
            target,
            current: None,
        }
    }

    fn slice_of(&self, minute: i64) -> i64 {
        minute.div_euclid(self.slice_minutes)
    }

    fn close(&self, slice: i64, events: Events) -> Option<(i64, Events)> {
        let ratio = events.good as f64 / events.total.max(1) as f64;
        let good = u64::from(ratio >= self.target * (1.0 - 1e-12));
        let last_minute = (slice + 1) * self.slice_minutes - 1;
        (events.total > 0).then_some((last_minute, Events::new(good, 1)))
    }

    /// Adds one minute; returns the slice it closed, as `(last minute of the slice, event)`.
    pub fn push(&mut self, minute: i64, events: Events) -> Option<(i64, Events)> {
        let slice = self.slice_of(minute);
        match self.current {
            Some((current_slice, sum)) if current_slice == slice => {
                self.current = Some((
                    slice,
                    Events::new(sum.good + events.good, sum.total + events.total),
                ));
                None
            }
            Some((current_slice, sum)) => {
                self.current = Some((slice, events));
                self.close(current_slice, sum)
            }
            None => {
                self.current = Some((slice, events));
                None
            }
        }
    }

    /// Closes the current slice if `minute` is past its end.
    pub fn flush_before(&mut self, minute: i64) -> Option<(i64, Events)> {
        let (slice, sum) = self.current?;
        if self.slice_of(minute) > slice {
            self.current = None;
            return self.close(slice, sum);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Slices from the slicer equal slices computed naively from all minutes at once.
        #[test]
        fn slices_match_a_reference(minutes in prop::collection::vec((0u64..20, 0u64..20), 1..200), slice in 1i64..=15, target in 0.5f64..1.0) {
            let mut slicer = Slicer::new(slice, target);
            let mut produced = Vec::new();
            for (index, (good, bad)) in minutes.iter().enumerate() {
                produced.extend(slicer.push(index as i64, Events::new(*good, good + bad)));
            }
            produced.extend(slicer.flush_before(i64::MAX / 2));
            let mut expected = Vec::new();
            for (slice_index, chunk) in minutes.chunks(slice as usize).enumerate() {
                let good: u64 = chunk.iter().map(|(good, _)| good).sum();
                let total: u64 = chunk.iter().map(|(good, bad)| good + bad).sum();
                if total > 0 {
                    let ok = good as f64 / total as f64 >= target * (1.0 - 1e-12);
                    expected.push(((slice_index as i64 + 1) * slice - 1, Events::new(u64::from(ok), 1)));
                }
            }
            prop_assert_eq!(produced, expected);
        }
    }
}
