//! A store that keeps only signal rollups in memory and discards the records: the
//! "receive + decode + derive" configuration that ingest benchmarks compare with a collector
//! exporting to a black hole. Nothing is durable; never use it for real data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use sloscope_ingest::OperationGuard;
use sloscope_model::{MINUTE_NANOS, SignalRow, TimeRange, minute_of};
use tokio::sync::oneshot;

use crate::rollup::{Rollups, SignalDeltas, SignalFilter, minute_span};
use crate::{
    Acknowledgement, LogQuery, LogRow, PointQuery, PointRow, SpanFacts, SpanQuery, SpanRow, Store,
    StoreError, StoreStats, Write,
};

pub struct DiscardStore {
    guard: Mutex<OperationGuard>,
    rollups: RwLock<Rollups>,
    rows: [AtomicU64; 3],
}

impl DiscardStore {
    pub fn new(operation_limit: usize) -> DiscardStore {
        DiscardStore {
            guard: Mutex::new(OperationGuard::new(operation_limit)),
            rollups: RwLock::default(),
            rows: Default::default(),
        }
    }
}

impl Store for DiscardStore {
    fn submit(&self, write: Write) -> Result<Acknowledgement, StoreError> {
        let mut deltas = SignalDeltas::new();
        sloscope_ingest::derive_signals(
            &write.batch.spans,
            &mut self.guard.lock().expect("guard lock"),
            &mut deltas,
        );
        self.rollups
            .write()
            .expect("rollups lock")
            .merge_deltas(&deltas);
        for (index, count) in [
            write.batch.spans.len(),
            write.batch.logs.len(),
            write.batch.points.len(),
        ]
        .into_iter()
        .enumerate()
        {
            self.rows[index].fetch_add(count as u64, Ordering::Relaxed);
        }
        let (acknowledge, acknowledgement) = oneshot::channel();
        let _ = acknowledge.send(Ok(()));
        Ok(acknowledgement)
    }

    fn signals(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
    ) -> Result<Vec<SignalRow>, StoreError> {
        let to_minute = minute_of(range.to.saturating_add(MINUTE_NANOS - 1));
        Ok(self.rollups.read().expect("rollups lock").query(
            minute_of(range.from),
            to_minute,
            filter,
        ))
    }

    fn signal_buckets(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
        step_minutes: Option<i64>,
    ) -> Result<Vec<SignalRow>, StoreError> {
        let (from_minute, to_minute) = minute_span(range);
        Ok(self.rollups.read().expect("rollups lock").buckets(
            from_minute,
            to_minute,
            filter,
            step_minutes,
        ))
    }

    fn spans(&self, _: &SpanQuery) -> Result<Vec<SpanRow>, StoreError> {
        Ok(Vec::new())
    }

    fn span_facts(&self, _: TimeRange, _: f64, _: usize) -> Result<Vec<SpanFacts>, StoreError> {
        Ok(Vec::new())
    }

    fn logs(&self, _: &LogQuery) -> Result<Vec<LogRow>, StoreError> {
        Ok(Vec::new())
    }

    fn points(&self, _: &PointQuery) -> Result<Vec<PointRow>, StoreError> {
        Ok(Vec::new())
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            rollup_series: self.rollups.read().expect("rollups lock").len() as u64,
            folded_operations: self.guard.lock().expect("guard lock").total_folded(),
            rows_written: [0, 1, 2].map(|index| self.rows[index].load(Ordering::Relaxed)),
            ..StoreStats::default()
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
