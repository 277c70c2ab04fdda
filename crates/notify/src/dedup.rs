//! What one channel has already delivered, so that each alert reaches it at most once as
//! firing and once as resolved, and a resolved message only follows a delivered firing one
//! (a receiver told "resolved" about an alert it never saw would only be confused).
//!
//! Memory is bounded: past `capacity` alerts the least recently seen is forgotten. An alert
//! that keeps being re-sent while it fires stays recent, so its resolved message still finds
//! it.

use std::collections::{HashMap, VecDeque};

use crate::alert::{Alert, AlertStatus};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AlertKey {
    slo: String,
    rule: String,
    starts_at: i64,
}

impl AlertKey {
    fn of(alert: &Alert) -> AlertKey {
        AlertKey {
            slo: alert.slo.clone(),
            rule: alert.rule.clone(),
            starts_at: alert.starts_at,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Delivered {
    firing: bool,
    resolved: bool,
    /// When this alert was last seen; entries in `recency` with an older stamp are stale.
    last_seen: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Deliver,
    /// This message was already delivered.
    Duplicate,
    /// A resolved message whose firing message was never delivered.
    ResolvedWithoutFiring,
}

#[derive(Debug)]
pub(crate) struct DeliveryLog {
    capacity: usize,
    entries: HashMap<AlertKey, Delivered>,
    /// Keys in the order they were seen, possibly stale (seen again later); compacted when
    /// it grows past twice the capacity, so each lookup costs O(1) amortised.
    recency: VecDeque<(AlertKey, u64)>,
    clock: u64,
}

impl DeliveryLog {
    pub(crate) fn new(capacity: usize) -> DeliveryLog {
        debug_assert!(capacity > 0, "validated by the config");
        DeliveryLog {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            recency: VecDeque::new(),
            clock: 0,
        }
    }

    /// Whether to deliver `alert`; counts as seeing it.
    pub(crate) fn decide(&mut self, alert: &Alert) -> Decision {
        let key = AlertKey::of(alert);
        let delivered = self.touch(key);
        match alert.status {
            AlertStatus::Firing if delivered.firing => Decision::Duplicate,
            AlertStatus::Firing => Decision::Deliver,
            AlertStatus::Resolved if delivered.resolved => Decision::Duplicate,
            AlertStatus::Resolved if !delivered.firing => Decision::ResolvedWithoutFiring,
            AlertStatus::Resolved => Decision::Deliver,
        }
    }

    /// Records that `alert` reached the channel.
    pub(crate) fn record_delivered(&mut self, alert: &Alert) {
        let key = AlertKey::of(alert);
        let mut delivered = self.touch(key.clone());
        match alert.status {
            AlertStatus::Firing => delivered.firing = true,
            AlertStatus::Resolved => delivered.resolved = true,
        }
        self.entries.insert(key, delivered);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn touch(&mut self, key: AlertKey) -> Delivered {
        self.clock += 1;
        let stamp = self.clock;
        let entry = self.entries.entry(key.clone()).or_default();
        entry.last_seen = stamp;
        let delivered = *entry;
        self.recency.push_back((key, stamp));
        self.evict();
        delivered
    }

    fn evict(&mut self) {
        while self.entries.len() > self.capacity {
            let Some((key, stamp)) = self.recency.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|entry| entry.last_seen == stamp)
            {
                self.entries.remove(&key);
            }
        }
        if self.recency.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.recency.retain(|(key, stamp)| {
                entries
                    .get(key)
                    .is_some_and(|entry| entry.last_seen == *stamp)
            });
        }
        debug_assert!(self.entries.len() <= self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::{resolved, sample_alert};

    fn alert_starting(starts_at: i64) -> Alert {
        Alert {
            starts_at,
            ..sample_alert()
        }
    }

    #[test]
    fn firing_then_resolved_each_once() {
        let mut log = DeliveryLog::new(8);
        let firing = sample_alert();
        let cleared = resolved(&firing, firing.starts_at + 60);
        assert_eq!(log.decide(&firing), Decision::Deliver);
        log.record_delivered(&firing);
        assert_eq!(log.decide(&firing), Decision::Duplicate);
        assert_eq!(log.decide(&cleared), Decision::Deliver);
        log.record_delivered(&cleared);
        assert_eq!(log.decide(&cleared), Decision::Duplicate);
        assert_eq!(log.decide(&firing), Decision::Duplicate);
    }

    #[test]
    fn an_undelivered_firing_is_tried_again_and_its_resolved_is_held_back() {
        let mut log = DeliveryLog::new(8);
        let firing = sample_alert();
        assert_eq!(log.decide(&firing), Decision::Deliver);
        // Delivery failed: nothing recorded.
        assert_eq!(log.decide(&firing), Decision::Deliver);
        let cleared = resolved(&firing, firing.starts_at + 60);
        assert_eq!(log.decide(&cleared), Decision::ResolvedWithoutFiring);
    }

    #[test]
    fn a_new_episode_of_the_same_rule_is_a_new_alert() {
        let mut log = DeliveryLog::new(8);
        let first = alert_starting(100);
        log.record_delivered(&first);
        assert_eq!(log.decide(&alert_starting(200)), Decision::Deliver);
    }

    #[test]
    fn memory_is_bounded_and_recently_seen_alerts_survive() {
        let mut log = DeliveryLog::new(3);
        let long_running = alert_starting(0);
        log.record_delivered(&long_running);
        for starts_at in 1..1000 {
            let other = alert_starting(starts_at);
            log.record_delivered(&other);
            // The long-running alert is re-sent every evaluation and stays known.
            assert_eq!(log.decide(&long_running), Decision::Duplicate);
            assert!(log.len() <= 3);
            assert!(log.recency.len() <= 2 * 3 + 1);
        }
        assert_eq!(
            log.decide(&alert_starting(1)),
            Decision::Deliver,
            "oldest forgotten"
        );
        let cleared = resolved(&long_running, 5000);
        assert_eq!(log.decide(&cleared), Decision::Deliver);
    }
}
