//! The ingest stage shared by both OTLP receivers: decode and validate off the async threads,
//! hand the result to the store, wait for its acknowledgement, and count what happened.
//! The receivers only translate this stage's outcome into their protocol's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use sloscope_ingest::{Rejections, SignalType};
use sloscope_store::{Store, StoreError, Write};
use tracing::warn;

/// How the export was encoded on the wire.
pub enum Encoded {
    Protobuf(bytes::Bytes),
    Json(bytes::Bytes),
}

/// What the client is told on success: how many items could not be used, and why.
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected: u64,
    pub message: String,
}

/// The OTLP answer to a successful export, with partial success when items were rejected.
pub enum ExportResponse {
    Traces(ExportTraceServiceResponse),
    Metrics(ExportMetricsServiceResponse),
    Logs(ExportLogsServiceResponse),
}

impl ExportResponse {
    pub fn new(signal: SignalType, accepted: Accepted) -> ExportResponse {
        let partial = accepted.rejected > 0 || !accepted.message.is_empty();
        let rejected = i64::try_from(accepted.rejected).unwrap_or(i64::MAX);
        let message = accepted.message;
        match signal {
            SignalType::Traces => ExportResponse::Traces(ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            }),
            SignalType::Metrics => ExportResponse::Metrics(ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            }),
            SignalType::Logs => ExportResponse::Logs(ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message,
                }),
            }),
        }
    }

    pub fn encode_protobuf(&self) -> Vec<u8> {
        match self {
            ExportResponse::Traces(response) => response.encode_to_vec(),
            ExportResponse::Metrics(response) => response.encode_to_vec(),
            ExportResponse::Logs(response) => response.encode_to_vec(),
        }
    }

    /// The JSON form; without partial success it is `{}`, as the OpenTelemetry Collector sends.
    pub fn encode_json(&self) -> Vec<u8> {
        let has_partial_success = match self {
            ExportResponse::Traces(response) => response.partial_success.is_some(),
            ExportResponse::Metrics(response) => response.partial_success.is_some(),
            ExportResponse::Logs(response) => response.partial_success.is_some(),
        };
        if !has_partial_success {
            return b"{}".to_vec();
        }
        let encoded = match self {
            ExportResponse::Traces(response) => serde_json::to_vec(response),
            ExportResponse::Metrics(response) => serde_json::to_vec(response),
            ExportResponse::Logs(response) => serde_json::to_vec(response),
        };
        encoded.unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[derive(Debug)]
pub enum Refused {
    /// The request cannot be used at all (400 / INVALID_ARGUMENT).
    Invalid(String),
    /// The queue is full; retry later (429 / RESOURCE_EXHAUSTED).
    Busy,
    /// The store failed (503 / UNAVAILABLE).
    Unavailable(String),
}

/// Counters for `/metrics`, per signal (traces, metrics, logs).
#[derive(Default)]
pub struct IngestCounters {
    pub requests: [AtomicU64; 3],
    pub accepted_items: [AtomicU64; 3],
    pub rejected_items: [AtomicU64; 3],
    pub invalid_requests: [AtomicU64; 3],
    pub throttled_requests: [AtomicU64; 3],
}

pub fn signal_index(signal: SignalType) -> usize {
    match signal {
        SignalType::Traces => 0,
        SignalType::Metrics => 1,
        SignalType::Logs => 2,
    }
}

pub struct Ingestor {
    store: Arc<dyn Store>,
    pub counters: IngestCounters,
    /// Bytes of request bodies between arrival and acknowledgement, and the most allowed: this,
    /// with the store's bounded queue, is what keeps memory bounded under overload.
    in_flight_bytes: Arc<AtomicU64>,
    max_in_flight_bytes: u64,
}

/// Holds a request's share of the in-flight budget until it is dropped.
struct InFlight {
    bytes: u64,
    total: Arc<AtomicU64>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.total.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

fn describe(rejections: &Rejections, noun: &str) -> String {
    let summary = rejections.summary();
    if summary.is_empty() {
        format!("{} {noun} rejected", rejections.count)
    } else {
        format!("{} {noun} rejected: {summary}", rejections.count)
    }
}

impl Ingestor {
    pub fn new(store: Arc<dyn Store>, max_in_flight_bytes: u64) -> Ingestor {
        Ingestor {
            store,
            counters: IngestCounters::default(),
            in_flight_bytes: Arc::default(),
            max_in_flight_bytes,
        }
    }

    /// Reserves room for a body, or says the server is too busy for it right now.
    fn reserve(&self, bytes: u64) -> Option<InFlight> {
        let previous = self.in_flight_bytes.fetch_add(bytes, Ordering::Relaxed);
        let reservation = InFlight {
            bytes,
            total: self.in_flight_bytes.clone(),
        };
        // One request alone may always go through, however large (it is within the body limit).
        if previous > 0 && previous + bytes > self.max_in_flight_bytes {
            return None;
        }
        Some(reservation)
    }

    pub fn in_flight_bytes(&self) -> u64 {
        self.in_flight_bytes.load(Ordering::Relaxed)
    }

    pub async fn export(&self, signal: SignalType, encoded: Encoded) -> Result<Accepted, Refused> {
        let index = signal_index(signal);
        self.counters.requests[index].fetch_add(1, Ordering::Relaxed);
        let outcome = self.export_inner(signal, encoded).await;
        match &outcome {
            Ok(accepted) => {
                self.counters.rejected_items[index].fetch_add(accepted.rejected, Ordering::Relaxed);
            }
            Err(Refused::Invalid(_)) => {
                self.counters.invalid_requests[index].fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Busy) => {
                self.counters.throttled_requests[index].fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Unavailable(_)) => {}
        }
        outcome
    }

    async fn export_inner(
        &self,
        signal: SignalType,
        encoded: Encoded,
    ) -> Result<Accepted, Refused> {
        let body_bytes = match &encoded {
            Encoded::Protobuf(body) | Encoded::Json(body) => body.len() as u64,
        };
        // Decoded records take several times the wire size: budget for that, not the body.
        let _in_flight = self
            .reserve(body_bytes.saturating_mul(4))
            .ok_or(Refused::Busy)?;
        // Decoding a large export, and laying it out for the store, takes milliseconds: keep it
        // off the async threads.
        let store = self.store.clone();
        let submitted = tokio::task::spawn_blocking(move || -> Result<_, Refused> {
            let (request, payload, mut rejections) = match encoded {
                Encoded::Protobuf(body) => {
                    let request = sloscope_ingest::decode_protobuf(signal, &body)
                        .map_err(|error| Refused::Invalid(error.to_string()))?;
                    (request, body, Rejections::default())
                }
                Encoded::Json(body) => {
                    let (request, rejections) = sloscope_ingest::decode_json(signal, &body)
                        .map_err(|error| Refused::Invalid(error.to_string()))?;
                    let payload = bytes::Bytes::from(request.encode_protobuf());
                    (request, payload, rejections)
                }
            };
            let converted = sloscope_ingest::convert(request, now_unix_nano());
            rejections.merge(converted.rejected);
            let batch = converted.batch;
            if batch.is_empty() {
                if rejections.count > 0 {
                    return Err(Refused::Invalid(describe(&rejections, signal.item_noun())));
                }
                return Ok((None, 0, rejections));
            }
            let accepted_items = batch.len() as u64;
            let acknowledgement = store
                .submit(Write {
                    signal,
                    payload,
                    batch,
                })
                .map_err(|error| match error {
                    StoreError::QueueFull => Refused::Busy,
                    other => Refused::Unavailable(other.to_string()),
                })?;
            Ok((Some(acknowledgement), accepted_items, rejections))
        })
        .await
        .map_err(|error| Refused::Unavailable(format!("decoder task failed: {error}")))??;
        let (acknowledgement, accepted_items, rejections) = submitted;
        let noun = signal.item_noun();
        if let Some(acknowledgement) = acknowledgement {
            match acknowledgement.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    warn!(%error, "store refused an export");
                    return Err(Refused::Unavailable(error.to_string()));
                }
                Err(_) => return Err(Refused::Unavailable("store is shutting down".into())),
            }
        }
        self.counters.accepted_items[signal_index(signal)]
            .fetch_add(accepted_items, Ordering::Relaxed);
        let message = if rejections.count > 0 {
            describe(&rejections, noun)
        } else {
            String::new()
        };
        Ok(Accepted {
            rejected: rejections.count,
            message,
        })
    }
}
