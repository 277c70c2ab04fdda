//! Driving the shop through time: a backfill of the past at full speed, then live traffic
//! paced by the wall clock. Model time and wall time are decoupled by [`LiveClock`]: with a
//! speed above 1 the live phase starts a little in the past and runs faster than the wall
//! clock until it has caught up with it, then at the wall clock's pace. Timestamps never run
//! ahead of the receiver's clock, and an SLO evaluated "now" sees the compressed minutes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::exporter::{ExportStats, Exporter, Payload};
use crate::otlp;
use crate::shop::{SECOND_NANOS, Shop};
use crate::telemetry::Telemetry;

/// Records per export request, as the Collector's batch processor sends them.
pub const BATCH_ITEMS: usize = 2048;
/// How often live traffic is exported at the latest (the batch processor's timeout).
const LIVE_EXPORT_INTERVAL: Duration = Duration::from_millis(500);
/// How often the live loop advances the shop.
const LIVE_STEP: Duration = Duration::from_millis(50);

/// Sends whatever of `buffer` makes full requests (or everything, when `all`).
fn export_batches(shop: &Shop, exporter: &Exporter, buffer: &mut Telemetry, all: bool) {
    let threshold = if all { 1 } else { BATCH_ITEMS };
    while buffer.spans.len() >= threshold {
        let take = buffer.spans.len().min(BATCH_ITEMS);
        let spans: Vec<_> = buffer.spans.drain(..take).collect();
        exporter.export(Payload::Traces(otlp::trace_request(
            shop.resources(),
            spans,
        )));
    }
    while buffer.logs.len() >= threshold {
        let take = buffer.logs.len().min(BATCH_ITEMS);
        let logs: Vec<_> = buffer.logs.drain(..take).collect();
        exporter.export(Payload::Logs(otlp::logs_request(shop.resources(), logs)));
    }
    while buffer.points.len() >= threshold {
        let take = buffer.points.len().min(BATCH_ITEMS);
        let points: Vec<_> = buffer.points.drain(..take).collect();
        exporter.export(Payload::Metrics(otlp::metrics_request(
            shop.resources(),
            points,
        )));
    }
}

/// Where a backfill stands.
#[derive(Clone, Debug)]
pub struct BackfillProgress {
    /// Model nanoseconds simulated so far, of `total`.
    pub done: u64,
    pub total: u64,
    pub exported: ExportStats,
}

/// Simulates the shop from its current time up to `until` as fast as the receiver takes it,
/// and waits until everything was answered. `progress` is called after every simulated minute;
/// setting `stop` ends the backfill early.
pub fn backfill(
    shop: &mut Shop,
    exporter: &Exporter,
    until: u64,
    stop: &AtomicBool,
    mut progress: impl FnMut(&BackfillProgress),
) -> ExportStats {
    let from = shop.now();
    let total = until.saturating_sub(from);
    let mut buffer = Telemetry::default();
    while shop.now() < until && !stop.load(Ordering::Relaxed) {
        let next = (shop.now() + 60 * SECOND_NANOS).min(until);
        shop.step(next);
        buffer.append(&mut shop.drain());
        export_batches(shop, exporter, &mut buffer, false);
        progress(&BackfillProgress {
            done: shop.now() - from,
            total,
            exported: exporter.stats(),
        });
    }
    export_batches(shop, exporter, &mut buffer, true);
    exporter.flush();
    exporter.stats()
}

/// Maps wall time to model time for the live phase: model time runs `speed` times faster
/// than the wall clock from `model_start` until it reaches the wall clock, then with it.
#[derive(Clone, Copy, Debug)]
pub struct LiveClock {
    wall_start: Instant,
    /// The wall clock at `wall_start`, unix nanoseconds.
    wall_start_unix: u64,
    model_start: u64,
    speed: f64,
}

impl LiveClock {
    /// A clock whose model time, running `speed` times as fast as the wall clock from
    /// `wall_now_unix`, catches up with the wall clock after `compressed` of model time.
    /// Its [`LiveClock::model_start`] is where the history before it should end.
    pub fn new(wall_now_unix: u64, speed: f64, compressed: Duration) -> LiveClock {
        let speed = speed.max(1.0);
        let lead = (compressed.as_nanos() as f64 * (1.0 - 1.0 / speed)) as u64;
        // Whole seconds, so that the shop's one-second ticks line up at any speed.
        let model_start = (wall_now_unix - lead) / SECOND_NANOS * SECOND_NANOS;
        LiveClock {
            wall_start: Instant::now(),
            wall_start_unix: wall_now_unix,
            model_start,
            speed,
        }
    }

    pub fn model_start(&self) -> u64 {
        self.model_start
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Model time now, unix nanoseconds.
    pub fn model_now(&self) -> u64 {
        let elapsed = self.wall_start.elapsed().as_nanos() as u64;
        let compressed = self.model_start + (elapsed as f64 * self.speed) as u64;
        compressed.min(self.wall_start_unix + elapsed)
    }

    /// The wall-clock wait until model time reaches `model`.
    pub fn wall_until(&self, model: u64) -> Duration {
        let at_speed = model.saturating_sub(self.model_start) as f64 / self.speed;
        let at_wall = model.saturating_sub(self.wall_start_unix) as f64;
        let elapsed = self.wall_start.elapsed().as_nanos() as f64;
        Duration::from_nanos((at_speed.max(at_wall) - elapsed).max(0.0) as u64)
    }
}

/// Runs live traffic until `stop` is set: advances the shop with the clock, and exports each
/// record once it has happened (a span when it ended), as an SDK would.
pub fn run_live(shop: &mut Shop, exporter: &Exporter, clock: &LiveClock, stop: &AtomicBool) {
    let mut waiting = Telemetry::default();
    let mut ready = Telemetry::default();
    let mut last_export = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(LIVE_STEP);
        let now = clock.model_now();
        shop.step(now / SECOND_NANOS * SECOND_NANOS);
        waiting.append(&mut shop.drain());
        release(&mut waiting, &mut ready, now);
        if last_export.elapsed() >= LIVE_EXPORT_INTERVAL {
            export_batches(shop, exporter, &mut ready, true);
            last_export = Instant::now();
        } else {
            export_batches(shop, exporter, &mut ready, false);
        }
    }
    release(&mut waiting, &mut ready, u64::MAX);
    export_batches(shop, exporter, &mut ready, true);
    exporter.flush();
}

/// Moves the records that have happened by `now` from `waiting` to `ready`.
fn release(waiting: &mut Telemetry, ready: &mut Telemetry, now: u64) {
    let (done, later): (Vec<_>, Vec<_>) = waiting.spans.drain(..).partition(|span| span.end <= now);
    ready.spans.extend(done);
    waiting.spans = later;
    let (done, later): (Vec<_>, Vec<_>) = waiting.logs.drain(..).partition(|log| log.time <= now);
    ready.logs.extend(done);
    waiting.logs = later;
    ready.points.append(&mut waiting.points);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_clock_compresses_then_follows_the_wall_clock() {
        let wall = 1_800_000_000 * SECOND_NANOS;
        let clock = LiveClock::new(wall, 10.0, Duration::from_secs(200));
        // 180 s of lead made up at 9 s per second: the clocks meet 20 s later, at wall + 20 s.
        assert_eq!(clock.model_start(), wall - 180 * SECOND_NANOS);
        assert!(clock.model_now() < wall);
        let seconds_until = |model: u64| clock.wall_until(model).as_secs_f64();
        assert!((seconds_until(wall) - 18.0).abs() < 0.1);
        assert!((seconds_until(wall + 20 * SECOND_NANOS) - 20.0).abs() < 0.1);
        // After that, a model second is a wall second.
        assert!((seconds_until(wall + 30 * SECOND_NANOS) - 30.0).abs() < 0.1);

        let real_time = LiveClock::new(wall, 1.0, Duration::from_secs(200));
        assert_eq!(real_time.model_start(), wall);
    }
}
