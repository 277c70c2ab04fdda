//! Delivery: the [`Notifier`] routes each alert and hands it to one worker thread per
//! channel, which deduplicates, builds the payload, POSTs it and retries with backoff.
//!
//! One thread per channel, not one for all: a Slack webhook that times out for minutes must
//! not hold back a page to PagerDuty. Each worker has a bounded queue; [`Notifier::send`]
//! never waits on it, so the async server can call it from any task. A full queue drops the
//! alert, counts it and says so in the log (the evaluator re-sends firing alerts, and the
//! dedup log makes the repeat harmless once delivered). The worker owns its dedup log, so no
//! lock is taken on the delivery path; the counters are atomics read by [`Notifier::stats`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tracing::{debug, error, warn};

use crate::alert::Alert;
use crate::config::{Channel, ChannelKind, ChannelSummary, NotifyError, NotifySettings};
use crate::dedup::{Decision, DeliveryLog};
use crate::payload::request_for;
use crate::retry::{AttemptOutcome, RetryPolicy, classify};
use crate::router::Router;
use crate::secret::redact;
use crate::transport::{HttpTransport, OutgoingRequest, Transport};

/// Time and chance as the delivery workers see them; tests substitute one that records the
/// waits instead of sleeping, and fixes the jitter.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
    fn sleep(&self, duration: Duration);
    /// Uniform in `[0, 1)`: the share of the backoff ceiling to wait (full jitter).
    fn jitter_fraction(&self) -> f64;
}

/// The real clock, and a fresh random jitter for every wait.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn jitter_fraction(&self) -> f64 {
        fastrand::f64()
    }
}

/// Counters of one channel, for `/metrics`. Every alert routed to the channel ends in
/// exactly one of `sent`, `failed`, `deduplicated`, `dropped` or `resolved_without_firing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelStats {
    pub channel: String,
    pub kind: ChannelKind,
    /// Messages the receiver accepted.
    pub sent: u64,
    /// Messages given up on: rejected, or still failing after the last attempt.
    pub failed: u64,
    /// Attempts after the first, over all messages.
    pub retried: u64,
    /// Messages not sent because the channel already had them.
    pub deduplicated: u64,
    /// Alerts not queued because the channel's queue was full.
    pub dropped: u64,
    /// Resolved messages held back because their firing message never reached the channel.
    pub resolved_without_firing: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    deduplicated: AtomicU64,
    dropped: AtomicU64,
    resolved_without_firing: AtomicU64,
}

fn increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct WorkerHandle {
    queue: SyncSender<Arc<Alert>>,
    counters: Arc<Counters>,
    thread: JoinHandle<()>,
}

/// Sends alerts to their channels in the background. Dropping it closes the queues; the
/// workers finish what is queued and stop. [`Notifier::shutdown`] waits for that.
pub struct Notifier {
    router: Router,
    workers: Vec<WorkerHandle>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Notifier")
            .field("router", &self.router)
            .field("workers", &self.workers.len())
            .finish()
    }
}

impl Notifier {
    /// Starts one worker per channel, sending over HTTP(S) with the system clock.
    pub fn start(settings: &NotifySettings) -> Result<Notifier, NotifyError> {
        Notifier::start_with(
            settings,
            Arc::new(HttpTransport::new()),
            Arc::new(SystemClock),
        )
    }

    /// As [`Notifier::start`], with the transport and clock given: the test seam.
    pub fn start_with(
        settings: &NotifySettings,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
    ) -> Result<Notifier, NotifyError> {
        let router = settings.router().clone();
        let mut workers = Vec::with_capacity(router.channels().len());
        for channel in router.channels() {
            let (queue, receiver) = sync_channel(settings.queue_capacity());
            let counters = Arc::new(Counters::default());
            let worker = Worker {
                channel: channel.clone(),
                external_url: settings.external_url().map(str::to_owned),
                retry: settings.retry(),
                transport: Arc::clone(&transport),
                clock: Arc::clone(&clock),
                counters: Arc::clone(&counters),
                log: DeliveryLog::new(settings.dedup_capacity()),
            };
            let thread = std::thread::Builder::new()
                .name(format!("notify-{}", channel.name()))
                .spawn(move || worker.run(receiver))
                .map_err(|source| NotifyError::Spawn {
                    channel: channel.name().to_owned(),
                    source,
                })?;
            workers.push(WorkerHandle {
                queue,
                counters,
                thread,
            });
        }
        Ok(Notifier { router, workers })
    }

    /// Queues `alert` for every channel its routes select, without ever blocking, and
    /// returns how many channels took it. A full queue drops the alert for that channel.
    pub fn send(&self, alert: Alert) -> usize {
        let channel_indices = self.router.route_indices(&alert);
        if channel_indices.is_empty() {
            debug!(slo = %alert.slo, rule = %alert.rule, "alert matched no notification route");
            return 0;
        }
        let alert = Arc::new(alert);
        let mut queued = 0;
        for index in channel_indices {
            let worker = &self.workers[index];
            let channel = &self.router.channels()[index];
            match worker.queue.try_send(Arc::clone(&alert)) {
                Ok(()) => queued += 1,
                Err(TrySendError::Full(_)) => {
                    increment(&worker.counters.dropped);
                    warn!(
                        channel = channel.name(),
                        slo = %alert.slo,
                        rule = %alert.rule,
                        status = alert.status.as_str(),
                        "notification queue full, alert dropped"
                    );
                }
                Err(TrySendError::Disconnected(_)) => {
                    increment(&worker.counters.dropped);
                    error!(
                        channel = channel.name(),
                        slo = %alert.slo,
                        rule = %alert.rule,
                        "notification worker stopped, alert dropped"
                    );
                }
            }
        }
        queued
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The configured channels, safe to show in the API.
    pub fn channel_summaries(&self) -> Vec<ChannelSummary> {
        self.router.channel_summaries()
    }

    /// One entry per channel, in configuration order.
    pub fn stats(&self) -> Vec<ChannelStats> {
        self.router
            .channels()
            .iter()
            .zip(&self.workers)
            .map(|(channel, worker)| {
                let counters = &worker.counters;
                ChannelStats {
                    channel: channel.name().to_owned(),
                    kind: channel.kind(),
                    sent: counters.sent.load(Ordering::Relaxed),
                    failed: counters.failed.load(Ordering::Relaxed),
                    retried: counters.retried.load(Ordering::Relaxed),
                    deduplicated: counters.deduplicated.load(Ordering::Relaxed),
                    dropped: counters.dropped.load(Ordering::Relaxed),
                    resolved_without_firing: counters
                        .resolved_without_firing
                        .load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Closes the queues and waits up to `grace` for the workers to deliver what is queued.
    /// Returns whether all of them finished; the rest are left to end with the process.
    pub fn shutdown(self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        let threads: Vec<JoinHandle<()>> = self
            .workers
            .into_iter()
            .map(|worker| {
                drop(worker.queue);
                worker.thread
            })
            .collect();
        while !threads.iter().all(JoinHandle::is_finished) {
            if Instant::now() >= deadline {
                warn!(
                    grace_ms = grace.as_millis() as u64,
                    "notification workers still busy at shutdown"
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for thread in threads {
            if thread.join().is_err() {
                error!("notification worker panicked");
            }
        }
        true
    }
}

/// The delivery loop of one channel.
struct Worker {
    channel: Channel,
    external_url: Option<String>,
    retry: RetryPolicy,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    log: DeliveryLog,
}

impl Worker {
    fn run(mut self, queue: Receiver<Arc<Alert>>) {
        for alert in queue {
            self.handle(&alert);
        }
        debug!(channel = self.channel.name(), "notification worker stopped");
    }

    fn handle(&mut self, alert: &Alert) {
        match self.log.decide(alert) {
            Decision::Duplicate => {
                increment(&self.counters.deduplicated);
                debug!(
                    channel = self.channel.name(),
                    slo = %alert.slo,
                    rule = %alert.rule,
                    status = alert.status.as_str(),
                    "notification already delivered"
                );
            }
            Decision::ResolvedWithoutFiring => {
                increment(&self.counters.resolved_without_firing);
                debug!(
                    channel = self.channel.name(),
                    slo = %alert.slo,
                    rule = %alert.rule,
                    "resolved notification held back: its firing notification was never delivered"
                );
            }
            Decision::Deliver => {
                let request = request_for(&self.channel, alert, self.external_url.as_deref());
                if self.deliver(&request, alert) {
                    self.log.record_delivered(alert);
                    increment(&self.counters.sent);
                } else {
                    increment(&self.counters.failed);
                }
            }
        }
    }

    /// Tries until the receiver accepts, refuses for good, or the attempts run out.
    fn deliver(&self, request: &OutgoingRequest, alert: &Alert) -> bool {
        let mut attempt = 1;
        loop {
            let result = self.transport.post(request);
            let outcome = classify(&result, self.clock.now());
            let (retry_after, reason) = match outcome {
                AttemptOutcome::Delivered => {
                    debug!(
                        channel = self.channel.name(),
                        slo = %alert.slo,
                        rule = %alert.rule,
                        status = alert.status.as_str(),
                        attempt,
                        "notification delivered"
                    );
                    return true;
                }
                AttemptOutcome::Failed { reason } => {
                    self.give_up(alert, attempt, &reason);
                    return false;
                }
                AttemptOutcome::Retry {
                    retry_after,
                    reason,
                } => (retry_after, reason),
            };
            if attempt >= self.retry.max_attempts() {
                self.give_up(alert, attempt, &reason);
                return false;
            }
            let delay = self
                .retry
                .delay(attempt, self.clock.jitter_fraction(), retry_after);
            increment(&self.counters.retried);
            debug!(
                channel = self.channel.name(),
                slo = %alert.slo,
                rule = %alert.rule,
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = %self.scrub(&reason),
                "notification delivery failed, will retry"
            );
            self.clock.sleep(delay);
            attempt += 1;
        }
    }

    fn give_up(&self, alert: &Alert, attempts: u32, reason: &str) {
        warn!(
            channel = self.channel.name(),
            kind = self.channel.kind().as_str(),
            slo = %alert.slo,
            rule = %alert.rule,
            status = alert.status.as_str(),
            attempts,
            reason = %self.scrub(reason),
            "notification delivery failed, giving up"
        );
    }

    /// Transports redact their own messages; this guards against one that does not.
    fn scrub(&self, reason: &str) -> String {
        redact(reason, &self.channel.secrets())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifier_can_be_shared_across_async_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Notifier>();
        assert_send_sync::<Arc<Notifier>>();
    }
}
