//! Parquet segments: the rolled, immutable part of the store. A roll orders the rows of the
//! head's record batches of one table by the hour of their time column, then by service (or
//! metric name), then by time (so row-group statistics on both prune well and neighbouring
//! rows compress together), and writes one zstd-compressed file per hour, gathering the rows
//! from the head's batches a row group at a time.
//!
//! Reads open only the files whose time span overlaps the query, and in them only the row
//! groups whose statistics can hold matching rows.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::{Int64Type, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};
use sloscope_model::TimeRange;

use crate::StoreError;

const HOUR_NANOS: i64 = 3_600_000_000_000;
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The three tables of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Spans,
    Logs,
    Metrics,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Spans, Table::Logs, Table::Metrics];

    pub fn name(self) -> &'static str {
        match self {
            Table::Spans => "spans",
            Table::Logs => "logs",
            Table::Metrics => "metrics",
        }
    }

    /// The column that places a row in time.
    pub fn time_column(self) -> &'static str {
        match self {
            Table::Spans => "start_time_unix_nano",
            Table::Logs | Table::Metrics => "time_unix_nano",
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Spans => crate::tables::SPAN_SCHEMA.clone(),
            Table::Logs => crate::tables::LOG_SCHEMA.clone(),
            Table::Metrics => crate::tables::METRIC_SCHEMA.clone(),
        }
    }

    /// Columns of random identifiers: dictionaries would only cost space.
    fn random_columns(self) -> &'static [&'static str] {
        match self {
            Table::Spans => &["trace_id", "span_id", "parent_span_id"],
            Table::Logs => &["trace_id", "span_id"],
            Table::Metrics => &[],
        }
    }

    /// The column rows are grouped by within an hour (then ordered by time).
    fn name_column(self) -> &'static str {
        match self {
            Table::Spans | Table::Logs => "service",
            Table::Metrics => "name",
        }
    }
}

/// A segment file as the manifest records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    pub table: Table,
    /// Relative to the data directory.
    pub path: PathBuf,
    pub min_time: i64,
    pub max_time: i64,
    pub rows: u64,
    pub bytes: u64,
}

fn writer_properties(table: Table) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for column in table.random_columns() {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    let time = ColumnPath::from(table.time_column());
    builder = builder
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED);
    builder.build()
}

/// Rows gathered into one record batch at a time while writing: a row group's worth. The
/// roll's buffers are then reused from one gather to the next; gathering (or concatenating)
/// the whole head at once faulted in, and had the kernel zero, a fresh copy of it every roll.
const GATHER_ROWS: usize = ROW_GROUP_ROWS;

/// Where a row is and where it goes: the hour, the rank of its name, its time, and its batch
/// and row in the head.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    hour: i64,
    name_rank: u32,
    time: i64,
    batch: u32,
    row: u32,
}

/// Writes the batches of one table as hourly segment files under `directory/<table>/`, each
/// named with `sequence`; returns what was written.
pub fn write_segments(
    data_dir: &Path,
    table: Table,
    batches: &[RecordBatch],
    sequence: u64,
) -> Result<Vec<SegmentMeta>, StoreError> {
    let order = sort_order(table, batches);
    let sources: Vec<&RecordBatch> = batches.iter().collect();
    let mut written = Vec::new();
    for part in order.chunk_by(|first, second| first.hour == second.hour) {
        written.push(write_one(data_dir, table, &sources, part, sequence)?);
    }
    Ok(written)
}

/// The order rows are written in: by hour, then by name (the service, or the metric's name),
/// then by time. Names are ranked once and rows sorted on integer keys, which costs a fraction
/// of comparing strings row against row.
fn sort_order(table: Table, batches: &[RecordBatch]) -> Vec<RowKey> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut keys: Vec<RowKey> = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for (batch_index, batch) in batches.iter().enumerate() {
        let names = batch
            .column_by_name(table.name_column())
            .expect("name column")
            .as_string::<i32>();
        let times = batch
            .column_by_name(table.time_column())
            .expect("time column")
            .as_primitive::<Int64Type>();
        for (row, (name, time)) in names.iter().zip(times.values()).enumerate() {
            let name = name.unwrap_or_default();
            let id = *ids.entry(name).or_insert_with(|| {
                distinct.push(name);
                distinct.len() as u32 - 1
            });
            keys.push(RowKey {
                hour: time.div_euclid(HOUR_NANOS),
                // The id for now; ranked below, once every name is known.
                name_rank: id,
                time: *time,
                batch: batch_index as u32,
                row: row as u32,
            });
        }
    }
    let mut by_name: Vec<u32> = (0..distinct.len() as u32).collect();
    by_name.sort_unstable_by_key(|id| distinct[*id as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (position, id) in by_name.into_iter().enumerate() {
        rank[id as usize] = position as u32;
    }
    for key in &mut keys {
        key.name_rank = rank[key.name_rank as usize];
    }
    keys.sort_unstable();
    keys
}

/// Writes the rows `part` of `sources` (all of one hour, in order) as one segment file.
fn write_one(
    data_dir: &Path,
    table: Table,
    sources: &[&RecordBatch],
    part: &[RowKey],
    sequence: u64,
) -> Result<SegmentMeta, StoreError> {
    let hour = part[0].hour;
    let hour_start = time::OffsetDateTime::from_unix_timestamp(hour * 3600)
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let relative = PathBuf::from("segments").join(table.name()).join(format!(
        "{:04}-{:02}-{:02}",
        hour_start.year(),
        u8::from(hour_start.month()),
        hour_start.day()
    ));
    let file_name = format!("{:02}-{sequence:08}.parquet", hour_start.hour());
    fs::create_dir_all(data_dir.join(&relative))?;
    let relative_path = relative.join(file_name);
    let path = data_dir.join(&relative_path);
    let temporary = path.with_extension("parquet.tmp");
    let file = File::create(&temporary)?;
    let mut writer = ArrowWriter::try_new(file, table.schema(), Some(writer_properties(table)))?;
    let mut indices: Vec<(usize, usize)> = Vec::with_capacity(GATHER_ROWS);
    for chunk in part.chunks(GATHER_ROWS) {
        indices.clear();
        indices.extend(
            chunk
                .iter()
                .map(|key| (key.batch as usize, key.row as usize)),
        );
        writer.write(&interleave_record_batch(sources, &indices)?)?;
    }
    let file = writer.into_inner()?;
    file.sync_all()?;
    fs::rename(&temporary, &path)?;
    crate::files::sync_directory(&data_dir.join(&relative))?;
    Ok(SegmentMeta {
        table,
        path: relative_path,
        min_time: part.iter().map(|key| key.time).min().unwrap_or(0),
        max_time: part.iter().map(|key| key.time).max().unwrap_or(0),
        rows: part.len() as u64,
        bytes: fs::metadata(&path)?.len(),
    })
}

/// What a scan may skip row groups by.
#[derive(Clone, Debug, Default)]
pub struct Pruning<'a> {
    pub range: Option<TimeRange>,
    pub service: Option<&'a str>,
}

fn column_index(row_group: &RowGroupMetaData, name: &str) -> Option<usize> {
    row_group
        .columns()
        .iter()
        .position(|column| column.column_path().string() == name)
}

fn may_match(table: Table, row_group: &RowGroupMetaData, pruning: &Pruning) -> bool {
    if let Some(range) = pruning.range
        && let Some(index) = column_index(row_group, table.time_column())
        && let Some(Statistics::Int64(stats)) = row_group.column(index).statistics()
        && let (Some(min), Some(max)) = (stats.min_opt(), stats.max_opt())
        && !range.overlaps((*min).max(0) as u64, (*max).max(0) as u64)
    {
        return false;
    }
    if let Some(service) = pruning.service
        && let Some(index) = column_index(row_group, "service")
        && let Some(Statistics::ByteArray(stats)) = row_group.column(index).statistics()
        && let (Some(min), Some(max)) = (stats.min_opt(), stats.max_opt())
        && (service.as_bytes() < min.data() || service.as_bytes() > max.data())
    {
        return false;
    }
    true
}

/// Which rows to keep, judged from a batch holding only the columns the filter names.
pub type RowPredicate = Arc<dyn Fn(&RecordBatch) -> Result<BooleanArray, StoreError> + Send + Sync>;

/// A row filter evaluated while reading: only `columns` are decoded for every row, the rest
/// only for the rows `keep` selects.
#[derive(Clone)]
pub struct RowFilterSpec {
    pub columns: &'static [&'static str],
    pub keep: RowPredicate,
}

/// Reads the row groups of `segment` that `pruning` does not rule out, batch by batch, until
/// `visit` says stop (false); returns whether it was never told to stop.
pub fn scan(
    data_dir: &Path,
    segment: &SegmentMeta,
    pruning: &Pruning,
    filter: Option<&RowFilterSpec>,
    mut visit: impl FnMut(RecordBatch) -> bool,
) -> Result<bool, StoreError> {
    let file = File::open(data_dir.join(&segment.path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    if let Some(filter) = filter {
        let projection =
            ProjectionMask::columns(builder.parquet_schema(), filter.columns.iter().copied());
        let keep = filter.keep.clone();
        let predicate = ArrowPredicateFn::new(projection, move |batch: RecordBatch| {
            keep(&batch).map_err(|error| ArrowError::ComputeError(error.to_string()))
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let row_groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, row_group)| may_match(segment.table, row_group, pruning))
        .map(|(index, _)| index)
        .collect();
    if row_groups.is_empty() {
        return Ok(true);
    }
    let reader = builder
        .with_row_groups(row_groups)
        .with_batch_size(8192)
        .build()?;
    for batch in reader {
        if !visit(batch?) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_files_sorted_and_pruned() {
        use std::sync::Arc as StdArc;
        let directory = tempfile::tempdir().unwrap();
        let resource = StdArc::new(sloscope_model::Resource::from_attributes(
            sloscope_model::Attributes(vec![(
                "service.name".into(),
                sloscope_model::AttrValue::Str("checkout".into()),
            )]),
        ));
        let hour = 3_600_000_000_000u64;
        let spans: Vec<sloscope_model::Span> = (0..10u64)
            .map(|index| sloscope_model::Span {
                resource: resource.clone(),
                scope_name: String::new(),
                trace_id: [index as u8 + 1; 16],
                span_id: [index as u8 + 1; 8],
                parent_span_id: None,
                parent_is_remote: false,
                name: "GET /".into(),
                kind: sloscope_model::SpanKind::Server,
                start_unix_nano: 1_700_000_000_000_000_000 + (index % 2) * hour + index,
                end_unix_nano: 1_700_000_000_000_000_000 + (index % 2) * hour + index + 5_000_000,
                status_code: sloscope_model::StatusCode::Unset,
                status_message: String::new(),
                attributes: Default::default(),
                events: vec![],
                links: vec![],
            })
            .collect();
        let batch = crate::tables::spans_to_batch(&spans);
        let segments = write_segments(directory.path(), Table::Spans, &[batch], 7).unwrap();
        assert_eq!(segments.len(), 2);
        assert_eq!(segments.iter().map(|segment| segment.rows).sum::<u64>(), 10);
        let mut seen = 0;
        let first = &segments[0];
        scan(
            directory.path(),
            first,
            &Pruning {
                range: Some(TimeRange::new(0, u64::MAX)),
                service: Some("checkout"),
            },
            None,
            |batch| {
                seen += batch.num_rows();
                let start = batch
                    .column_by_name("start_time_unix_nano")
                    .unwrap()
                    .as_primitive::<Int64Type>();
                assert!(start.values().windows(2).all(|pair| pair[0] <= pair[1]));
                assert!(!start.is_empty());
                true
            },
        )
        .unwrap();
        assert_eq!(seen, 5);
        let mut pruned = 0;
        scan(
            directory.path(),
            first,
            &Pruning {
                range: None,
                service: Some("payments"),
            },
            None,
            |batch| {
                pruned += batch.num_rows();
                true
            },
        )
        .unwrap();
        assert_eq!(pruned, 0);
    }
}
