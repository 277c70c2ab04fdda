//! Where telemetry is kept: the [`Store`] trait that the rest of sloscope talks to, and its
//! embedded backend ([`EmbeddedStore`]): a checksummed write-ahead log that makes every
//! acknowledged export durable, an in-memory head of Arrow record batches, Parquet segments
//! partitioned by hour, and per-minute signal rollups.
//!
//! Decoding and signal derivation are `sloscope-ingest`'s; the store calls them only to replay
//! its log on start. HTTP and gRPC are the server's.
//!
//! Data directory layout (stable; every file but the log is readable by common tools):
//!
//! ```text
//! <data-dir>/
//!   manifest.json                    segments, rollup files and the log checkpoint (atomic rewrite)
//!   wal/<first-sequence>.wal         write-ahead log: OTLP protobuf requests, checksummed
//!   segments/<table>/<YYYY-MM-DD>/<HH>-<roll>.parquet   spans, logs, metrics (zstd, hourly)
//!   rollups/<roll>.rollup            per-minute signal counts and latency sketches
//! ```

mod discard;
mod embedded;
mod files;
mod rollup;
mod segment;
mod tables;
pub mod wal;

use std::time::Duration;

use sloscope_ingest::SignalType;
use sloscope_model::{Batch, SignalRow, TimeRange, TraceId};

/// Whether the trace is in a sample keeping `keep` of all traces: a hash of the whole id, so
/// ids whose first bytes are a timestamp (AWS X-Ray) sample as well as random ones.
pub fn trace_sampled(trace_id: &[u8], keep: f64) -> bool {
    if keep >= 1.0 {
        return true;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in trace_id {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    ((hash >> 11) as f64 / (1u64 << 53) as f64) < keep
}
use thiserror::Error;

pub use discard::DiscardStore;
pub use embedded::{EmbeddedStore, StoreConfig, SyncPolicy};
pub use rollup::{SignalDeltas, SignalFilter};
pub use segment::{SegmentMeta, Table};
pub use tables::{LogRow, PointRow, SpanFacts, SpanRow};

#[derive(Debug, Error)]
pub enum StoreError {
    /// The ingest queue is full: the client should retry later.
    #[error("ingest queue is full")]
    QueueFull,
    #[error("store is shut down")]
    ShutDown,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// Acknowledgement of a write: resolved once the write is durable by the store's policy.
pub type Acknowledgement = tokio::sync::oneshot::Receiver<Result<(), StoreError>>;

/// One accepted export: its OTLP protobuf form for the log and its decoded records.
pub struct Write {
    pub signal: SignalType,
    pub payload: bytes::Bytes,
    pub batch: Batch,
}

#[derive(Clone, Debug)]
pub struct SpanQuery {
    pub range: TimeRange,
    pub service: Option<String>,
    /// Matches the derived operation or the span name.
    pub operation: Option<String>,
    pub min_duration: Option<Duration>,
    pub errors_only: bool,
    pub trace_id: Option<TraceId>,
    pub limit: usize,
}

impl SpanQuery {
    /// The spans of one trace in `range`, at most `limit`.
    pub fn trace(trace_id: TraceId, range: TimeRange, limit: usize) -> SpanQuery {
        SpanQuery {
            range,
            service: None,
            operation: None,
            min_duration: None,
            errors_only: false,
            trace_id: Some(trace_id),
            limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LogQuery {
    pub range: TimeRange,
    pub service: Option<String>,
    /// Records at this OTLP severity number or above.
    pub min_severity: Option<i32>,
    pub trace_id: Option<TraceId>,
    /// Case-insensitive substring of the body.
    pub contains: Option<String>,
    pub limit: usize,
}

#[derive(Clone, Debug)]
pub struct PointQuery {
    pub range: TimeRange,
    /// One metric, or every metric when None.
    pub name: Option<String>,
    pub service: Option<String>,
    pub limit: usize,
}

/// Figures the server exports on `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct StoreStats {
    pub queued_writes: u64,
    pub wal_bytes: u64,
    pub segment_count: u64,
    pub segment_bytes: u64,
    pub head_rows: u64,
    pub rollup_series: u64,
    pub folded_operations: u64,
    pub rows_written: [u64; 3],
}

pub trait Store: Send + Sync {
    /// Queues a write; fails at once with [`StoreError::QueueFull`] when the queue is full.
    fn submit(&self, write: Write) -> Result<Acknowledgement, StoreError>;
    /// Per-minute signal rows of the matching keys.
    fn signals(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
    ) -> Result<Vec<SignalRow>, StoreError>;
    /// Signal stats merged per key and per bucket of `step_minutes` (aligned to multiples of
    /// the step since the epoch; the whole range when None). The fast path for long ranges.
    fn signal_buckets(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
        step_minutes: Option<i64>,
    ) -> Result<Vec<SignalRow>, StoreError>;
    fn spans(&self, query: &SpanQuery) -> Result<Vec<SpanRow>, StoreError>;
    /// The spans of the range as [`SpanFacts`], of whole traces: only traces whose id hashes
    /// below `keep` (a fraction in (0, 1]) are read, so a sample holds complete traces.
    /// At most `limit` spans.
    fn span_facts(
        &self,
        range: TimeRange,
        keep: f64,
        limit: usize,
    ) -> Result<Vec<SpanFacts>, StoreError>;
    fn logs(&self, query: &LogQuery) -> Result<Vec<LogRow>, StoreError>;
    fn points(&self, query: &PointQuery) -> Result<Vec<PointRow>, StoreError>;
    fn stats(&self) -> StoreStats;
    /// Rolls everything written so far into segments and waits for it.
    fn flush(&self) -> Result<(), StoreError>;
    /// Writes and syncs everything acknowledged and stops background work.
    fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_samples_keep_about_the_fraction_asked() {
        let kept = (0u32..20_000)
            .filter(|index| {
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(&index.to_be_bytes());
                trace_sampled(&id, 0.25)
            })
            .count();
        assert!(
            (4_500..5_500).contains(&kept),
            "{kept} of 20000 kept at 0.25"
        );
        assert!(trace_sampled(&[0; 16], 1.0));
    }
}
