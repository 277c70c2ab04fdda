//! Drives a target with export requests: a few client threads, each on its own keep-alive
//! connection, post OTLP/HTTP protobuf bodies to `/v1/traces` until the source runs dry. A
//! pushed-back request (429 or 503) waits for its `Retry-After` and goes again, as an OTLP
//! exporter would; any other answer but 200 stops the run.

use std::borrow::Borrow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::http::Connection;
use super::workload::{EncodedRequest, Tally, TimeWindow, Workload};

#[derive(Clone, Copy, Default)]
pub struct LoadOutcome {
    pub requests: u64,
    pub spans: u64,
    /// Spans the target reported as rejected in partial-success answers.
    pub rejected_spans: u64,
    /// Requests answered 429 or 503 and sent again.
    pub pushbacks: u64,
    pub wall: Duration,
}

impl LoadOutcome {
    fn merge(&mut self, other: &LoadOutcome) {
        self.requests += other.requests;
        self.spans += other.spans;
        self.rejected_spans += other.rejected_spans;
        self.pushbacks += other.pushbacks;
    }

    pub fn spans_per_wall_second(&self) -> f64 {
        self.spans as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Sends every request `next` yields to `address` from `clients` threads.
pub fn drive<Item, Source>(
    address: SocketAddr,
    clients: usize,
    next: Source,
) -> anyhow::Result<LoadOutcome>
where
    Item: Borrow<EncodedRequest>,
    Source: Fn() -> Option<Item> + Sync,
{
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<anyhow::Result<LoadOutcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|_| {
                let next = &next;
                let stop = &stop;
                scope.spawn(move || {
                    let result = client_loop(address, next, stop);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let mut outcome = LoadOutcome::default();
    for result in results {
        outcome.merge(&result?);
    }
    outcome.wall = started.elapsed();
    Ok(outcome)
}

const MAX_RECONNECTS: u32 = 3;

fn client_loop<Item: Borrow<EncodedRequest>>(
    address: SocketAddr,
    next: &(impl Fn() -> Option<Item> + Sync),
    stop: &AtomicBool,
) -> anyhow::Result<LoadOutcome> {
    let mut connection = Connection::open(address)?;
    let mut outcome = LoadOutcome::default();
    while !stop.load(Ordering::Relaxed) {
        let Some(item) = next() else { break };
        let request = item.borrow();
        let mut reconnects = 0;
        loop {
            let response = match connection.request(
                "POST",
                "/v1/traces",
                Some("application/x-protobuf"),
                &request.body,
            ) {
                Ok(response) => response,
                Err(error) if reconnects < MAX_RECONNECTS => {
                    reconnects += 1;
                    eprintln!("  connection to {address} failed ({error:#}); reconnecting");
                    connection = Connection::open(address)?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            match response.status {
                200 => {
                    let answer = ExportTraceServiceResponse::decode(response.body.as_slice())
                        .context("the 200 answer is not an ExportTraceServiceResponse")?;
                    let rejected = answer
                        .partial_success
                        .map_or(0, |partial| partial.rejected_spans);
                    outcome.rejected_spans += u64::try_from(rejected).unwrap_or(0);
                    outcome.requests += 1;
                    outcome.spans += request.spans;
                    break;
                }
                429 | 503 => {
                    outcome.pushbacks += 1;
                    std::thread::sleep(Duration::from_secs(
                        response.retry_after.unwrap_or(1).min(30),
                    ));
                }
                status => bail!(
                    "{address} answered {status} to an export of {} spans: {}",
                    request.spans,
                    response.body_excerpt()
                ),
            }
        }
    }
    Ok(outcome)
}

/// Generates `total_spans` spans of `workload` with traces spread evenly over `window` and
/// sends them from `clients` threads, `spans_per_request` per request; prints progress.
pub fn load_spread(
    address: SocketAddr,
    clients: usize,
    mut workload: Workload,
    total_spans: u64,
    spans_per_request: u64,
    window: TimeWindow,
) -> anyhow::Result<(LoadOutcome, Tally)> {
    let request_count = total_spans.div_ceil(spans_per_request).max(1);
    let slot_nanos = window.length_nanos / request_count;
    let (sender, receiver) = mpsc::sync_channel::<EncodedRequest>(16);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let generator = scope.spawn(move || {
            let mut spans = 0;
            let mut next_report = total_spans / 10;
            for index in 0..request_count {
                if spans >= total_spans {
                    break;
                }
                let slot = TimeWindow {
                    start_unix_nano: window.start_unix_nano + index * slot_nanos,
                    length_nanos: slot_nanos,
                };
                let request =
                    workload.encoded_request(spans_per_request.min(total_spans - spans), slot);
                spans += request.spans;
                if sender.send(request).is_err() {
                    break;
                }
                if spans >= next_report && next_report > 0 {
                    eprintln!(
                        "  {spans} spans generated and sent ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                    next_report += total_spans / 10;
                }
            }
            workload.tally()
        });
        let receiver = Mutex::new(receiver);
        let load = drive(address, clients, || receiver.lock().ok()?.recv().ok());
        // If the load stopped early, the generator's next send fails and it ends.
        drop(receiver);
        let tally = generator
            .join()
            .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
        Ok((load?, tally))
    })
}
