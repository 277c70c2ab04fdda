//! The embedded backend: one writer thread owns the write-ahead log and the head, one roller
//! thread turns frozen heads into Parquet segments and rollup files, and queries read the
//! head, the frozen heads and the segments side by side.
//!
//! Write path: `submit` puts the write on a bounded queue (full => `QueueFull`, which the
//! server turns into OTLP backpressure). The writer drains what is queued, appends it to the
//! log with one system call (group commit), applies it to the head and the rollups, syncs the
//! log as the policy says, and only then acknowledges. With `SyncPolicy::Always` an
//! acknowledged export survives power loss; with `SyncPolicy::Interval(d)` it survives a
//! process crash at once and a power loss once `d` has passed.

use std::mem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{
    AsArray, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt8Array,
};
use arrow::compute::kernels::cmp::{eq, gt_eq, lt};
use arrow::compute::{and, filter_record_batch, or};
use serde::{Deserialize, Serialize};
use sloscope_ingest::{OperationGuard, SignalType};
use sloscope_model::{Batch, SignalRow, StatusCode, TimeRange, minute_of};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::rollup::{Rollups, SignalDeltas, SignalFilter, minute_span};
use crate::segment::{self, Pruning, SegmentMeta, Table};
use crate::tables::{self, LogRow, PointRow, SpanFacts, SpanRow};
use crate::wal::{self, WalWriter};
use crate::{
    Acknowledgement, LogQuery, PointQuery, SpanQuery, Store, StoreError, StoreStats, Write,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before every acknowledgement (shared by everything queued at the time).
    Always,
    /// fsync at most this often; acknowledge once written.
    Interval(Duration),
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub sync: SyncPolicy,
    /// Roll the head into segments once it holds this many rows...
    pub roll_rows: usize,
    /// ...or once its oldest write is this old.
    pub roll_interval: Duration,
    /// Data older than this is deleted.
    pub retention: Duration,
    /// Segments beyond this many bytes are deleted, oldest first.
    pub max_bytes: Option<u64>,
    /// Writes that may wait for the writer before submit pushes back.
    pub queue_capacity: usize,
    /// Distinct operations per service before the rest fold into `other`.
    pub operation_limit: usize,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            sync: SyncPolicy::Interval(Duration::from_millis(100)),
            roll_rows: 200_000,
            roll_interval: Duration::from_secs(60),
            retention: Duration::from_secs(30 * 24 * 3600),
            max_bytes: None,
            queue_capacity: 256,
            operation_limit: 200,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Log records up to this sequence are in segments and rollup files.
    wal_checkpoint: u64,
    next_roll: u64,
    segments: Vec<SegmentMeta>,
    rollups: Vec<PathBuf>,
}

const MANIFEST: &str = "manifest.json";
const COMPACT_ROLLUPS_AFTER: usize = 32;

impl Manifest {
    fn load(data_dir: &Path) -> Result<Manifest, StoreError> {
        let path = data_dir.join(MANIFEST);
        if !path.exists() {
            return Ok(Manifest::default());
        }
        let bytes = std::fs::read(&path)?;
        serde_json::from_slice(&bytes)
            .map_err(|error| StoreError::Corrupt(format!("{}: {error}", path.display())))
    }

    fn save(&self, data_dir: &Path) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(crate::files::write_atomically(
            &data_dir.join(MANIFEST),
            &bytes,
        )?)
    }
}

/// Record batches per table, indexed by `Table as usize`.
type Tables = [Vec<RecordBatch>; 3];

fn table_index(table: Table) -> usize {
    match table {
        Table::Spans => 0,
        Table::Logs => 1,
        Table::Metrics => 2,
    }
}

#[derive(Default)]
struct Contents {
    head: Tables,
    /// Heads handed to the roller, by roll, until their segments are registered.
    frozen: Vec<(u64, Tables)>,
    segments: Vec<SegmentMeta>,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    rows_written: [AtomicU64; 3],
    folded: AtomicU64,
}

struct Shared {
    config: StoreConfig,
    contents: RwLock<Contents>,
    rollups: RwLock<Rollups>,
    counters: Counters,
}

enum Job {
    /// A write with its rows already laid out as the head keeps them.
    Write(
        Write,
        Box<TableBatches>,
        oneshot::Sender<Result<(), StoreError>>,
    ),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

struct RollJob {
    roll: u64,
    tables: Tables,
    deltas: SignalDeltas,
    checkpoint: u64,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

pub struct EmbeddedStore {
    shared: Arc<Shared>,
    queue: Mutex<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

fn signal_code(signal: SignalType) -> u8 {
    match signal {
        SignalType::Traces => 1,
        SignalType::Metrics => 2,
        SignalType::Logs => 3,
    }
}

fn signal_of(code: u8) -> Option<SignalType> {
    match code {
        1 => Some(SignalType::Traces),
        2 => Some(SignalType::Metrics),
        3 => Some(SignalType::Logs),
        _ => None,
    }
}

/// The writer thread's state: the log, the guard and the deltas of the current head.
struct Writer {
    shared: Arc<Shared>,
    wal: WalWriter,
    guard: OperationGuard,
    head_deltas: SignalDeltas,
    head_rows: usize,
    head_since: Option<Instant>,
    last_sync: Instant,
    next_roll: u64,
    roller: SyncSender<RollJob>,
}

/// A write's rows as the head keeps them: one record batch per table (spans, logs, points).
type TableBatches = [Option<RecordBatch>; 3];

/// Lays a decoded batch out in record batches. Exporters call this before they queue their
/// write, in parallel, rather than leaving it to the single writer thread, which every export
/// waits on for its acknowledgement.
fn table_batches(batch: &Batch) -> TableBatches {
    [
        (!batch.spans.is_empty()).then(|| tables::spans_to_batch(&batch.spans)),
        (!batch.logs.is_empty()).then(|| tables::logs_to_batch(&batch.logs)),
        (!batch.points.is_empty()).then(|| tables::points_to_batch(&batch.points)),
    ]
}

impl Writer {
    /// Adds a decoded batch, laid out in `new_batches`, to the head and the rollups.
    fn apply(&mut self, batch: &Batch, new_batches: TableBatches) {
        if batch.is_empty() {
            return;
        }
        let mut deltas = SignalDeltas::new();
        let folded_before = self.guard.total_folded();
        sloscope_ingest::derive_signals(&batch.spans, &mut self.guard, &mut deltas);
        let newly_folded = self.guard.total_folded() - folded_before;
        self.shared
            .counters
            .folded
            .fetch_add(newly_folded, Ordering::Relaxed);
        self.shared
            .rollups
            .write()
            .expect("rollups lock")
            .merge_deltas(&deltas);
        for ((minute, key), stats) in deltas {
            self.head_deltas
                .entry((minute, key))
                .or_default()
                .merge(&stats);
        }
        let mut contents = self.shared.contents.write().expect("contents lock");
        for (index, new_batch) in new_batches.into_iter().enumerate() {
            if let Some(record_batch) = new_batch {
                self.shared.counters.rows_written[index]
                    .fetch_add(record_batch.num_rows() as u64, Ordering::Relaxed);
                self.head_rows += record_batch.num_rows();
                contents.head[index].push(record_batch);
            }
        }
        self.head_since.get_or_insert_with(Instant::now);
    }

    /// Hands the head to the roller and starts a new one.
    fn freeze(&mut self, done: Option<oneshot::Sender<Result<(), StoreError>>>) {
        let checkpoint = match self.wal.rotate() {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                warn!(%error, "cannot rotate the write-ahead log; rolling later");
                if let Some(done) = done {
                    let _ = done.send(Err(StoreError::Io(error)));
                }
                return;
            }
        };
        let roll = self.next_roll;
        self.next_roll += 1;
        let tables = {
            let mut contents = self.shared.contents.write().expect("contents lock");
            let tables = mem::take(&mut contents.head);
            contents.frozen.push((roll, tables.clone()));
            tables
        };
        let job = RollJob {
            roll,
            tables,
            deltas: mem::take(&mut self.head_deltas),
            checkpoint,
            done,
        };
        self.head_rows = 0;
        self.head_since = None;
        // Blocks while the roller is busy: the queue fills and clients are pushed back.
        let _ = self.roller.send(job);
    }

    fn should_roll(&self) -> bool {
        self.head_rows >= self.shared.config.roll_rows
            || self
                .head_since
                .is_some_and(|since| since.elapsed() >= self.shared.config.roll_interval)
    }

    fn run(mut self, queue: Receiver<Job>) {
        let tick = match self.shared.config.sync {
            SyncPolicy::Interval(interval) => interval.min(Duration::from_secs(1)),
            SyncPolicy::Always => Duration::from_secs(1),
        };
        loop {
            let mut jobs = Vec::new();
            match queue.recv_timeout(tick) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while jobs.len() < 1024 {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.process(jobs);
        }
        if let Err(error) = self.wal.write_pending().and_then(|()| self.wal.sync()) {
            warn!(%error, "cannot sync the write-ahead log at shutdown");
        }
    }

    fn process(&mut self, jobs: Vec<Job>) {
        let mut writes = Vec::new();
        let mut flushes = Vec::new();
        let written_at = now_unix_nano();
        for job in jobs {
            match job {
                Job::Write(write, new_batches, acknowledge) => {
                    self.shared.counters.queued.fetch_sub(1, Ordering::Relaxed);
                    self.wal
                        .stage(signal_code(write.signal), written_at, &write.payload);
                    writes.push((write.batch, new_batches, acknowledge));
                }
                Job::Flush(done) => flushes.push(done),
            }
        }
        if !writes.is_empty() {
            let mut outcome = self.wal.write_pending();
            let sync_due = match self.shared.config.sync {
                SyncPolicy::Always => true,
                SyncPolicy::Interval(interval) => self.last_sync.elapsed() >= interval,
            };
            if outcome.is_ok() && sync_due {
                outcome = self.wal.sync();
                self.last_sync = Instant::now();
            }
            match outcome {
                Ok(()) => {
                    for (batch, new_batches, acknowledge) in writes {
                        self.apply(&batch, *new_batches);
                        let _ = acknowledge.send(Ok(()));
                    }
                }
                Err(error) => {
                    warn!(%error, "cannot write the write-ahead log; rejecting writes");
                    for (_, _, acknowledge) in writes {
                        let _ = acknowledge.send(Err(StoreError::Io(std::io::Error::new(
                            error.kind(),
                            error.to_string(),
                        ))));
                    }
                }
            }
        } else if let SyncPolicy::Interval(interval) = self.shared.config.sync
            && self.last_sync.elapsed() >= interval
        {
            if let Err(error) = self.wal.sync() {
                warn!(%error, "cannot sync the write-ahead log");
            }
            self.last_sync = Instant::now();
        }
        for done in flushes {
            self.freeze(Some(done));
        }
        if self.should_roll() {
            self.freeze(None);
        }
    }
}

/// The roller thread's state: the manifest is its alone.
struct Roller {
    shared: Arc<Shared>,
    manifest: Manifest,
}

impl Roller {
    fn run(mut self, jobs: Receiver<RollJob>) {
        for mut job in jobs {
            let outcome = self.roll(&job);
            if let Err(error) = &outcome {
                warn!(%error, roll = job.roll, "cannot roll the head into segments; it stays in the log");
            }
            if let Some(done) = job.done.take() {
                let _ = done.send(outcome);
            }
        }
    }

    fn roll(&mut self, job: &RollJob) -> Result<(), StoreError> {
        let data_dir = self.shared.config.data_dir.clone();
        let mut new_segments = Vec::new();
        for table in Table::ALL {
            new_segments.extend(segment::write_segments(
                &data_dir,
                table,
                &job.tables[table_index(table)],
                job.roll,
            )?);
        }
        if !job.deltas.is_empty() {
            let relative = PathBuf::from("rollups").join(format!("{:08}.rollup", job.roll));
            crate::rollup::write_deltas(&data_dir.join(&relative), &job.deltas)?;
            self.manifest.rollups.push(relative);
        }
        self.manifest.segments.extend(new_segments.iter().cloned());
        self.manifest.wal_checkpoint = job.checkpoint;
        self.manifest.next_roll = job.roll + 1;
        self.manifest.save(&data_dir)?;
        {
            let mut contents = self.shared.contents.write().expect("contents lock");
            contents.segments.extend(new_segments);
            contents.frozen.retain(|(roll, _)| *roll != job.roll);
        }
        wal::remove_covered(&data_dir.join("wal"), job.checkpoint)?;
        self.enforce_retention()?;
        if self.manifest.rollups.len() > COMPACT_ROLLUPS_AFTER {
            self.compact_rollups(job.roll)?;
        }
        Ok(())
    }

    fn enforce_retention(&mut self) -> Result<(), StoreError> {
        let config = &self.shared.config;
        let cutoff = now_unix_nano().saturating_sub(config.retention.as_nanos() as u64);
        let mut expired: Vec<SegmentMeta> = Vec::new();
        self.manifest.segments.retain(|segment| {
            let keep = segment.max_time.max(0) as u64 >= cutoff;
            if !keep {
                expired.push(segment.clone());
            }
            keep
        });
        if let Some(max_bytes) = config.max_bytes {
            self.manifest
                .segments
                .sort_by_key(|segment| segment.max_time);
            let mut total: u64 = self
                .manifest
                .segments
                .iter()
                .map(|segment| segment.bytes)
                .sum();
            while total > max_bytes && !self.manifest.segments.is_empty() {
                let oldest = self.manifest.segments.remove(0);
                total -= oldest.bytes;
                expired.push(oldest);
            }
        }
        self.shared
            .rollups
            .write()
            .expect("rollups lock")
            .drop_before(minute_of(cutoff));
        if expired.is_empty() {
            return Ok(());
        }
        self.manifest.save(&config.data_dir)?;
        {
            let mut contents = self.shared.contents.write().expect("contents lock");
            contents
                .segments
                .retain(|segment| !expired.contains(segment));
        }
        for segment in &expired {
            if let Err(error) = std::fs::remove_file(config.data_dir.join(&segment.path)) {
                warn!(%error, path = %segment.path.display(), "cannot delete an expired segment");
            }
        }
        info!(segments = expired.len(), "retention deleted old segments");
        Ok(())
    }

    /// Merges the rollup files into one, from disk (the in-memory rollups also hold the head,
    /// which the log still covers and must not be counted twice).
    fn compact_rollups(&mut self, roll: u64) -> Result<(), StoreError> {
        let data_dir = &self.shared.config.data_dir;
        let mut merged = Rollups::default();
        for relative in &self.manifest.rollups {
            merged.load_file(&data_dir.join(relative))?;
        }
        let cutoff = now_unix_nano().saturating_sub(self.shared.config.retention.as_nanos() as u64);
        merged.drop_before(minute_of(cutoff));
        let relative = PathBuf::from("rollups").join(format!("{roll:08}-compact.rollup"));
        merged.write_all(&data_dir.join(&relative))?;
        let old = mem::replace(&mut self.manifest.rollups, vec![relative]);
        self.manifest.save(data_dir)?;
        for path in old {
            let _ = std::fs::remove_file(data_dir.join(path));
        }
        Ok(())
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `config.data_dir`, replaying the log.
    pub fn open(config: StoreConfig) -> Result<EmbeddedStore, StoreError> {
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir)?;
        let manifest = Manifest::load(&data_dir)?;
        let mut rollups = Rollups::default();
        for relative in &manifest.rollups {
            rollups.load_file(&data_dir.join(relative))?;
        }
        let shared = Arc::new(Shared {
            config: config.clone(),
            contents: RwLock::new(Contents {
                segments: manifest.segments.clone(),
                ..Contents::default()
            }),
            rollups: RwLock::new(rollups),
            counters: Counters::default(),
        });

        let wal_dir = data_dir.join("wal");
        let recovery = wal::recover(&wal_dir, manifest.wal_checkpoint)?;
        for (path, bytes) in &recovery.truncated {
            warn!(path = %path.display(), bytes, "write-ahead log had a torn tail; truncated it");
        }
        let (roller_queue, roller_jobs) = sync_channel(1);
        let mut writer = Writer {
            shared: shared.clone(),
            wal: WalWriter::open(&wal_dir, recovery.next_sequence)?,
            guard: OperationGuard::new(config.operation_limit),
            head_deltas: SignalDeltas::new(),
            head_rows: 0,
            head_since: None,
            last_sync: Instant::now(),
            next_roll: manifest.next_roll.max(1),
            roller: roller_queue,
        };
        let replayed = recovery.records.len();
        for record in recovery.records {
            let Some(signal) = signal_of(record.signal) else {
                warn!(
                    sequence = record.sequence,
                    "write-ahead log record of unknown signal; skipped"
                );
                continue;
            };
            match sloscope_ingest::decode_protobuf(signal, &record.payload) {
                Ok(request) => {
                    let converted = sloscope_ingest::convert(request, record.written_unix_nano);
                    let new_batches = table_batches(&converted.batch);
                    writer.apply(&converted.batch, new_batches);
                }
                Err(error) => {
                    warn!(%error, sequence = record.sequence, "write-ahead log record does not decode; skipped")
                }
            }
        }
        if replayed > 0 {
            info!(
                records = replayed,
                rows = writer.head_rows,
                "replayed the write-ahead log"
            );
        }

        let (queue, jobs) = sync_channel(config.queue_capacity.max(1));
        let roller = Roller {
            shared: shared.clone(),
            manifest,
        };
        let roller_thread = std::thread::Builder::new()
            .name("store-roller".into())
            .spawn(move || roller.run(roller_jobs))?;
        let writer_thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(jobs))?;
        Ok(EmbeddedStore {
            shared,
            queue: Mutex::new(Some(queue)),
            threads: Mutex::new(vec![writer_thread, roller_thread]),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.shared.config.data_dir
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let queue = self.queue.lock().expect("queue lock");
        let sender = queue.as_ref().ok_or(StoreError::ShutDown)?;
        match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(StoreError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::ShutDown),
        }
    }

    /// Every source of a table that may hold rows in `range`: newest first.
    fn sources(
        &self,
        table: Table,
        range: Option<TimeRange>,
    ) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        let contents = self.shared.contents.read().expect("contents lock");
        let index = table_index(table);
        let mut batches: Vec<RecordBatch> = contents.head[index].iter().rev().cloned().collect();
        for (_, tables) in contents.frozen.iter().rev() {
            batches.extend(tables[index].iter().rev().cloned());
        }
        let mut segments: Vec<SegmentMeta> = contents
            .segments
            .iter()
            .filter(|segment| segment.table == table)
            .filter(|segment| {
                range.is_none_or(|range| {
                    range.overlaps(
                        segment.min_time.max(0) as u64,
                        segment.max_time.max(0) as u64,
                    )
                })
            })
            .cloned()
            .collect();
        segments.sort_by_key(|segment| std::cmp::Reverse(segment.max_time));
        (batches, segments)
    }

    /// Runs `mask` over every batch that may match and collects the matching rows.
    fn select<Row>(
        &self,
        table: Table,
        range: Option<TimeRange>,
        service: Option<&str>,
        limit: usize,
        mask: impl Fn(&RecordBatch) -> Result<BooleanArray, StoreError>,
        to_rows: impl Fn(&RecordBatch) -> Vec<Row>,
    ) -> Result<Vec<Row>, StoreError> {
        self.select_filtered(table, range, service, limit, mask, None, to_rows)
    }

    /// [`Self::select`], with `pushdown` also evaluated inside the segment reader so the
    /// columns it does not name are decoded only for the rows it keeps.
    #[allow(clippy::too_many_arguments)]
    fn select_filtered<Row>(
        &self,
        table: Table,
        range: Option<TimeRange>,
        service: Option<&str>,
        limit: usize,
        mask: impl Fn(&RecordBatch) -> Result<BooleanArray, StoreError>,
        pushdown: Option<&segment::RowFilterSpec>,
        to_rows: impl Fn(&RecordBatch) -> Vec<Row>,
    ) -> Result<Vec<Row>, StoreError> {
        let (batches, segments) = self.sources(table, range);
        let mut rows = Vec::new();
        let take = |batch: RecordBatch, rows: &mut Vec<Row>| -> Result<bool, StoreError> {
            let matching = filter_record_batch(&batch, &mask(&batch)?)?;
            if matching.num_rows() > 0 {
                rows.extend(to_rows(&matching));
            }
            Ok(rows.len() < limit)
        };
        for batch in batches {
            if !take(batch, &mut rows)? {
                rows.truncate(limit);
                return Ok(rows);
            }
        }
        let pruning = Pruning { range, service };
        for segment in segments {
            let mut failure = None;
            let keep_going = segment::scan(
                &self.shared.config.data_dir,
                &segment,
                &pruning,
                pushdown,
                |batch| match take(batch, &mut rows) {
                    Ok(more) => more,
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
            if !keep_going {
                break;
            }
        }
        rows.truncate(limit);
        Ok(rows)
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        Store::shutdown(self);
    }
}

fn time_mask(
    batch: &RecordBatch,
    column: &str,
    range: TimeRange,
) -> Result<BooleanArray, StoreError> {
    let times = batch.column_by_name(column).expect("time column");
    let from = Int64Array::new_scalar(i64::try_from(range.from).unwrap_or(i64::MAX));
    let to = Int64Array::new_scalar(i64::try_from(range.to).unwrap_or(i64::MAX));
    Ok(and(&gt_eq(times, &from)?, &lt(times, &to)?)?)
}

fn text_mask(batch: &RecordBatch, column: &str, value: &str) -> Result<BooleanArray, StoreError> {
    Ok(eq(
        batch.column_by_name(column).expect("text column"),
        &StringArray::new_scalar(value),
    )?)
}

fn id_mask(batch: &RecordBatch, column: &str, id: &[u8]) -> Result<BooleanArray, StoreError> {
    let scalar = FixedSizeBinaryArray::try_from_iter(std::iter::once(id))?;
    Ok(eq(
        batch.column_by_name(column).expect("id column"),
        &arrow::array::Scalar::new(scalar),
    )?)
}

/// Case-insensitive substring match, by hand: arrow's `ilike` would need the needle escaped.
fn contains_mask(batch: &RecordBatch, column: &str, needle: &str) -> BooleanArray {
    let needle = needle.to_lowercase();
    let values = batch
        .column_by_name(column)
        .expect("text column")
        .as_string::<i32>();
    values
        .iter()
        .map(|value| Some(value.is_some_and(|text| text.to_lowercase().contains(&needle))))
        .collect()
}

fn all_of(masks: Vec<BooleanArray>, rows: usize) -> Result<BooleanArray, StoreError> {
    let mut combined = BooleanArray::from(vec![true; rows]);
    for mask in masks {
        combined = and(&combined, &mask)?;
    }
    Ok(combined)
}

impl Store for EmbeddedStore {
    fn submit(&self, write: Write) -> Result<Acknowledgement, StoreError> {
        let (acknowledge, acknowledgement) = oneshot::channel();
        self.shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        let new_batches = Box::new(table_batches(&write.batch));
        let sent = self.send(Job::Write(write, new_batches, acknowledge));
        if sent.is_err() {
            self.shared.counters.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent.map(|()| acknowledgement)
    }

    fn signals(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
    ) -> Result<Vec<SignalRow>, StoreError> {
        let (from_minute, to_minute) = minute_span(range);
        Ok(self
            .shared
            .rollups
            .read()
            .expect("rollups lock")
            .query(from_minute, to_minute, filter))
    }

    fn signal_buckets(
        &self,
        range: TimeRange,
        filter: &SignalFilter,
        step_minutes: Option<i64>,
    ) -> Result<Vec<SignalRow>, StoreError> {
        let (from_minute, to_minute) = minute_span(range);
        Ok(self.shared.rollups.read().expect("rollups lock").buckets(
            from_minute,
            to_minute,
            filter,
            step_minutes,
        ))
    }

    fn spans(&self, query: &SpanQuery) -> Result<Vec<SpanRow>, StoreError> {
        let owned = query.clone();
        let mask = move |batch: &RecordBatch| -> Result<BooleanArray, StoreError> {
            let query = &owned;
            let mut masks = vec![time_mask(batch, "start_time_unix_nano", query.range)?];
            if let Some(service) = &query.service {
                masks.push(text_mask(batch, "service", service)?);
            }
            if let Some(operation) = &query.operation {
                masks.push(or(
                    &text_mask(batch, "operation", operation)?,
                    &text_mask(batch, "name", operation)?,
                )?);
            }
            if let Some(minimum) = query.min_duration {
                let minimum =
                    Int64Array::new_scalar(minimum.as_nanos().min(i64::MAX as u128) as i64);
                masks.push(gt_eq(
                    batch
                        .column_by_name("duration_nanos")
                        .expect("duration column"),
                    &minimum,
                )?);
            }
            if query.errors_only {
                let error = UInt8Array::new_scalar(StatusCode::Error.to_otlp() as u8);
                masks.push(eq(
                    batch.column_by_name("status_code").expect("status column"),
                    &error,
                )?);
            }
            if let Some(trace_id) = &query.trace_id {
                masks.push(id_mask(batch, "trace_id", trace_id)?);
            }
            all_of(masks, batch.num_rows())
        };
        // Segments decode the filtered columns first and the others (attribute JSON above all)
        // only for matching rows: a trace looked up by id reads one column of all time.
        let pushdown = segment::RowFilterSpec {
            columns: &[
                "start_time_unix_nano",
                "service",
                "operation",
                "name",
                "duration_nanos",
                "status_code",
                "trace_id",
            ],
            keep: Arc::new(mask.clone()),
        };
        let mut rows = self.select_filtered(
            Table::Spans,
            Some(query.range),
            query.service.as_deref(),
            query.limit,
            mask,
            Some(&pushdown),
            tables::span_rows,
        )?;
        if query.trace_id.is_some() {
            rows.sort_by_key(|row| row.start_time_unix_nano);
        } else {
            rows.sort_by_key(|row| std::cmp::Reverse(row.start_time_unix_nano));
        }
        Ok(rows)
    }

    fn span_facts(
        &self,
        range: TimeRange,
        keep: f64,
        limit: usize,
    ) -> Result<Vec<SpanFacts>, StoreError> {
        let mask = move |batch: &RecordBatch| -> Result<BooleanArray, StoreError> {
            let in_range = time_mask(batch, "start_time_unix_nano", range)?;
            if keep >= 1.0 {
                return Ok(in_range);
            }
            let ids = batch
                .column_by_name("trace_id")
                .expect("trace id column")
                .as_fixed_size_binary();
            let sampled: BooleanArray = (0..batch.num_rows())
                .map(|row| Some(crate::trace_sampled(ids.value(row), keep)))
                .collect();
            Ok(and(&in_range, &sampled)?)
        };
        let pushdown = segment::RowFilterSpec {
            columns: &["start_time_unix_nano", "trace_id"],
            keep: Arc::new(mask),
        };
        self.select_filtered(
            Table::Spans,
            Some(range),
            None,
            limit,
            mask,
            Some(&pushdown),
            tables::span_facts,
        )
    }

    fn logs(&self, query: &LogQuery) -> Result<Vec<LogRow>, StoreError> {
        let mask = |batch: &RecordBatch| -> Result<BooleanArray, StoreError> {
            let mut masks = vec![time_mask(batch, "time_unix_nano", query.range)?];
            if let Some(service) = &query.service {
                masks.push(text_mask(batch, "service", service)?);
            }
            if let Some(minimum) = query.min_severity {
                masks.push(gt_eq(
                    batch
                        .column_by_name("severity_number")
                        .expect("severity column"),
                    &Int32Array::new_scalar(minimum),
                )?);
            }
            if let Some(trace_id) = &query.trace_id {
                masks.push(id_mask(batch, "trace_id", trace_id)?);
            }
            if let Some(needle) = &query.contains {
                masks.push(contains_mask(batch, "body", needle));
            }
            all_of(masks, batch.num_rows())
        };
        let mut rows = self.select(
            Table::Logs,
            Some(query.range),
            query.service.as_deref(),
            query.limit,
            mask,
            tables::log_rows,
        )?;
        rows.sort_by_key(|row| std::cmp::Reverse(row.time_unix_nano));
        Ok(rows)
    }

    fn points(&self, query: &PointQuery) -> Result<Vec<PointRow>, StoreError> {
        let mask = |batch: &RecordBatch| -> Result<BooleanArray, StoreError> {
            let mut masks = vec![time_mask(batch, "time_unix_nano", query.range)?];
            if let Some(name) = &query.name {
                masks.push(text_mask(batch, "name", name)?);
            }
            if let Some(service) = &query.service {
                masks.push(text_mask(batch, "service", service)?);
            }
            all_of(masks, batch.num_rows())
        };
        let mut rows = self.select(
            Table::Metrics,
            Some(query.range),
            None,
            query.limit,
            mask,
            tables::point_rows,
        )?;
        rows.sort_by_key(|row| row.time_unix_nano);
        Ok(rows)
    }

    fn stats(&self) -> StoreStats {
        let contents = self.shared.contents.read().expect("contents lock");
        let head_rows = contents
            .head
            .iter()
            .chain(contents.frozen.iter().flat_map(|(_, tables)| tables.iter()))
            .flatten()
            .map(|batch| batch.num_rows() as u64)
            .sum();
        let counters = &self.shared.counters;
        StoreStats {
            queued_writes: counters.queued.load(Ordering::Relaxed),
            wal_bytes: wal::total_bytes(&self.shared.config.data_dir.join("wal")),
            segment_count: contents.segments.len() as u64,
            segment_bytes: contents.segments.iter().map(|segment| segment.bytes).sum(),
            head_rows,
            rollup_series: self.shared.rollups.read().expect("rollups lock").len() as u64,
            folded_operations: counters.folded.load(Ordering::Relaxed),
            rows_written: [0, 1, 2]
                .map(|index| counters.rows_written[index].load(Ordering::Relaxed)),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let (done, finished) = oneshot::channel();
        // A flush waits its turn behind queued writes rather than failing on a full queue.
        let queue = self
            .queue
            .lock()
            .expect("queue lock")
            .clone()
            .ok_or(StoreError::ShutDown)?;
        queue
            .send(Job::Flush(done))
            .map_err(|_| StoreError::ShutDown)?;
        finished.blocking_recv().map_err(|_| StoreError::ShutDown)?
    }

    fn shutdown(&self) {
        self.queue.lock().expect("queue lock").take();
        for thread in self.threads.lock().expect("threads lock").drain(..) {
            let _ = thread.join();
        }
    }
}
