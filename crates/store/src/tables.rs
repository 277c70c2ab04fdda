//! The columnar form of telemetry: model records become Arrow record batches (the layout of the
//! Parquet segments and of the in-memory head alike), and query results come back out of them
//! as rows.
//!
//! Attributes, events and links are kept as JSON text columns: any Parquet tool can read them,
//! and dictionary encoding plus zstd make repeated resource attributes nearly free.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, FixedSizeBinaryArray, FixedSizeBinaryBuilder,
    Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
    UInt8Builder, UInt64Builder,
};
use arrow::datatypes::{
    DataType, Field, Float64Type, Int32Type, Int64Type, Schema, SchemaRef, UInt8Type, UInt64Type,
};
use serde::Serialize;
use sloscope_model::{
    Attributes, LogRecord, MetricKind, MetricPoint, PointValue, Resource, Span, SpanKind,
    StatusCode, Temporality, attributes_to_json, write_attributes_json,
};

pub static SPAN_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("start_time_unix_nano", DataType::Int64, false),
        Field::new("duration_nanos", DataType::Int64, false),
        Field::new("trace_id", DataType::FixedSizeBinary(16), false),
        Field::new("span_id", DataType::FixedSizeBinary(8), false),
        Field::new("parent_span_id", DataType::FixedSizeBinary(8), true),
        Field::new("parent_is_remote", DataType::Boolean, false),
        Field::new("environment", DataType::Utf8, false),
        Field::new("version", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("operation", DataType::Utf8, false),
        Field::new("remote_service", DataType::Utf8, false),
        Field::new("status_code", DataType::UInt8, false),
        Field::new("status_message", DataType::Utf8, false),
        Field::new("attributes", DataType::Utf8, false),
        Field::new("resource_attributes", DataType::Utf8, false),
        Field::new("events", DataType::Utf8, false),
        Field::new("links", DataType::Utf8, false),
        Field::new("scope_name", DataType::Utf8, false),
    ]))
});

pub static LOG_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("time_unix_nano", DataType::Int64, false),
        Field::new("observed_time_unix_nano", DataType::Int64, false),
        Field::new("environment", DataType::Utf8, false),
        Field::new("severity_number", DataType::Int32, false),
        Field::new("severity_text", DataType::Utf8, false),
        Field::new("body", DataType::Utf8, false),
        Field::new("trace_id", DataType::FixedSizeBinary(16), true),
        Field::new("span_id", DataType::FixedSizeBinary(8), true),
        Field::new("attributes", DataType::Utf8, false),
        Field::new("resource_attributes", DataType::Utf8, false),
        Field::new("scope_name", DataType::Utf8, false),
    ]))
});

pub static METRIC_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("time_unix_nano", DataType::Int64, false),
        Field::new("start_time_unix_nano", DataType::Int64, false),
        Field::new("environment", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("monotonic", DataType::Boolean, false),
        Field::new("temporality", DataType::UInt8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("count", DataType::UInt64, true),
        Field::new("sum", DataType::Float64, true),
        Field::new("attributes", DataType::Utf8, false),
        Field::new("resource_attributes", DataType::Utf8, false),
        Field::new("distribution", DataType::Utf8, true),
    ]))
});

/// JSON of each distinct resource of a batch, computed once per resource.
#[derive(Default)]
struct ResourceJson(HashMap<*const Resource, String>);

impl ResourceJson {
    fn of(&mut self, resource: &Arc<Resource>) -> &str {
        self.0
            .entry(Arc::as_ptr(resource))
            .or_insert_with(|| attributes_to_json(&resource.attributes))
    }
}

/// Appends attributes to a JSON column, written straight into the column's buffer.
fn append_attributes(column: &mut StringBuilder, attributes: &Attributes) {
    // Writing into a builder's buffer cannot fail.
    let _ = write_attributes_json(attributes, column);
    column.append_value("");
}

fn timestamp(unix_nano: u64) -> i64 {
    i64::try_from(unix_nano).unwrap_or(i64::MAX)
}

pub fn spans_to_batch(spans: &[Span]) -> RecordBatch {
    let rows = spans.len();
    let mut service = StringBuilder::with_capacity(rows, rows * 8);
    let mut start = Int64Builder::with_capacity(rows);
    let mut duration = Int64Builder::with_capacity(rows);
    let mut trace_id = FixedSizeBinaryBuilder::with_capacity(rows, 16);
    let mut span_id = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let mut parent_span_id = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let mut parent_is_remote = BooleanBuilder::with_capacity(rows);
    let mut environment = StringBuilder::with_capacity(rows, rows * 8);
    let mut version = StringBuilder::with_capacity(rows, rows * 8);
    let mut name = StringBuilder::with_capacity(rows, rows * 16);
    let mut kind = UInt8Builder::with_capacity(rows);
    let mut operation = StringBuilder::with_capacity(rows, rows * 16);
    let mut remote_service = StringBuilder::with_capacity(rows, rows * 8);
    let mut status_code = UInt8Builder::with_capacity(rows);
    let mut status_message = StringBuilder::with_capacity(rows, 0);
    let mut attributes = StringBuilder::with_capacity(rows, rows * 128);
    let mut resource_attributes = StringBuilder::with_capacity(rows, rows * 128);
    let mut events = StringBuilder::with_capacity(rows, rows * 2);
    let mut links = StringBuilder::with_capacity(rows, rows * 2);
    let mut scope_name = StringBuilder::with_capacity(rows, rows * 8);
    let mut resource_json = ResourceJson::default();
    for span in spans {
        service.append_value(&span.resource.service);
        start.append_value(timestamp(span.start_unix_nano));
        duration.append_value(timestamp(span.duration_nanos()));
        trace_id.append_value(span.trace_id).expect("16 bytes");
        span_id.append_value(span.span_id).expect("8 bytes");
        match span.parent_span_id {
            Some(parent) => parent_span_id.append_value(parent).expect("8 bytes"),
            None => parent_span_id.append_null(),
        }
        parent_is_remote.append_value(span.parent_is_remote);
        environment.append_value(&span.resource.environment);
        version.append_value(&span.resource.version);
        name.append_value(&span.name);
        kind.append_value(span.kind.to_otlp() as u8);
        if matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
            let (remote, remote_operation) = sloscope_ingest::remote_target(span);
            operation.append_value(remote_operation);
            remote_service.append_value(remote);
        } else {
            operation.append_value(sloscope_ingest::server_operation(span));
            remote_service.append_value("");
        }
        status_code.append_value(span.status_code.to_otlp() as u8);
        status_message.append_value(&span.status_message);
        append_attributes(&mut attributes, &span.attributes);
        resource_attributes.append_value(resource_json.of(&span.resource));
        if span.events.is_empty() {
            events.append_value("[]");
        } else {
            events
                .append_value(serde_json::to_string(&span.events).unwrap_or_else(|_| "[]".into()));
        }
        if span.links.is_empty() {
            links.append_value("[]");
        } else {
            links.append_value(serde_json::to_string(&span.links).unwrap_or_else(|_| "[]".into()));
        }
        scope_name.append_value(&span.scope_name);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(service.finish()),
        Arc::new(start.finish()),
        Arc::new(duration.finish()),
        Arc::new(trace_id.finish()),
        Arc::new(span_id.finish()),
        Arc::new(parent_span_id.finish()),
        Arc::new(parent_is_remote.finish()),
        Arc::new(environment.finish()),
        Arc::new(version.finish()),
        Arc::new(name.finish()),
        Arc::new(kind.finish()),
        Arc::new(operation.finish()),
        Arc::new(remote_service.finish()),
        Arc::new(status_code.finish()),
        Arc::new(status_message.finish()),
        Arc::new(attributes.finish()),
        Arc::new(resource_attributes.finish()),
        Arc::new(events.finish()),
        Arc::new(links.finish()),
        Arc::new(scope_name.finish()),
    ];
    RecordBatch::try_new(SPAN_SCHEMA.clone(), columns).expect("columns match the span schema")
}

pub fn logs_to_batch(logs: &[LogRecord]) -> RecordBatch {
    let rows = logs.len();
    let mut service = StringBuilder::with_capacity(rows, rows * 8);
    let mut time = Int64Builder::with_capacity(rows);
    let mut observed = Int64Builder::with_capacity(rows);
    let mut environment = StringBuilder::with_capacity(rows, rows * 8);
    let mut severity_number = Int32Builder::with_capacity(rows);
    let mut severity_text = StringBuilder::with_capacity(rows, rows * 5);
    let mut body = StringBuilder::with_capacity(rows, rows * 64);
    let mut trace_id = FixedSizeBinaryBuilder::with_capacity(rows, 16);
    let mut span_id = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let mut attributes = StringBuilder::with_capacity(rows, rows * 32);
    let mut resource_attributes = StringBuilder::with_capacity(rows, rows * 64);
    let mut scope_name = StringBuilder::with_capacity(rows, rows * 8);
    let mut resource_json = ResourceJson::default();
    for log in logs {
        service.append_value(&log.resource.service);
        time.append_value(timestamp(log.timestamp()));
        observed.append_value(timestamp(log.observed_time_unix_nano));
        environment.append_value(&log.resource.environment);
        severity_number.append_value(log.severity_number);
        severity_text.append_value(&log.severity_text);
        body.append_value(&log.body);
        match log.trace_id {
            Some(id) => trace_id.append_value(id).expect("16 bytes"),
            None => trace_id.append_null(),
        }
        match log.span_id {
            Some(id) => span_id.append_value(id).expect("8 bytes"),
            None => span_id.append_null(),
        }
        append_attributes(&mut attributes, &log.attributes);
        resource_attributes.append_value(resource_json.of(&log.resource));
        scope_name.append_value(&log.scope_name);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(service.finish()),
        Arc::new(time.finish()),
        Arc::new(observed.finish()),
        Arc::new(environment.finish()),
        Arc::new(severity_number.finish()),
        Arc::new(severity_text.finish()),
        Arc::new(body.finish()),
        Arc::new(trace_id.finish()),
        Arc::new(span_id.finish()),
        Arc::new(attributes.finish()),
        Arc::new(resource_attributes.finish()),
        Arc::new(scope_name.finish()),
    ];
    RecordBatch::try_new(LOG_SCHEMA.clone(), columns).expect("columns match the log schema")
}

pub fn points_to_batch(points: &[MetricPoint]) -> RecordBatch {
    let rows = points.len();
    let mut name = StringBuilder::with_capacity(rows, rows * 16);
    let mut service = StringBuilder::with_capacity(rows, rows * 8);
    let mut time = Int64Builder::with_capacity(rows);
    let mut start = Int64Builder::with_capacity(rows);
    let mut environment = StringBuilder::with_capacity(rows, rows * 8);
    let mut kind = StringBuilder::with_capacity(rows, rows * 5);
    let mut unit = StringBuilder::with_capacity(rows, rows * 2);
    let mut monotonic = BooleanBuilder::with_capacity(rows);
    let mut temporality = UInt8Builder::with_capacity(rows);
    let mut value = Float64Builder::with_capacity(rows);
    let mut count = UInt64Builder::with_capacity(rows);
    let mut sum = Float64Builder::with_capacity(rows);
    let mut attributes = StringBuilder::with_capacity(rows, rows * 32);
    let mut resource_attributes = StringBuilder::with_capacity(rows, rows * 64);
    let mut distribution = StringBuilder::with_capacity(rows, 0);
    let mut resource_json = ResourceJson::default();
    for point in points {
        name.append_value(&point.name);
        service.append_value(&point.resource.service);
        time.append_value(timestamp(point.time_unix_nano));
        start.append_value(timestamp(point.start_time_unix_nano));
        environment.append_value(&point.resource.environment);
        kind.append_value(point.kind.name());
        unit.append_value(&point.unit);
        let (is_monotonic, point_temporality) = match point.kind {
            MetricKind::Sum {
                monotonic,
                temporality,
            } => (monotonic, temporality),
            MetricKind::Histogram { temporality }
            | MetricKind::ExponentialHistogram { temporality } => (false, temporality),
            MetricKind::Gauge | MetricKind::Summary => (false, Temporality::Unspecified),
        };
        monotonic.append_value(is_monotonic);
        temporality.append_value(match point_temporality {
            Temporality::Unspecified => 0,
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        });
        value.append_value(point.value.scalar());
        match &point.value {
            PointValue::Number { .. } => {
                count.append_null();
                sum.append_null();
                distribution.append_null();
            }
            PointValue::Histogram {
                count: total,
                sum: point_sum,
                ..
            }
            | PointValue::ExponentialHistogram {
                count: total,
                sum: point_sum,
                ..
            } => {
                count.append_value(*total);
                sum.append_option(*point_sum);
                distribution.append_value(serde_json::to_string(&point.value).unwrap_or_default());
            }
            PointValue::Summary {
                count: total,
                sum: point_sum,
                ..
            } => {
                count.append_value(*total);
                sum.append_value(*point_sum);
                distribution.append_value(serde_json::to_string(&point.value).unwrap_or_default());
            }
        }
        append_attributes(&mut attributes, &point.attributes);
        resource_attributes.append_value(resource_json.of(&point.resource));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(name.finish()),
        Arc::new(service.finish()),
        Arc::new(time.finish()),
        Arc::new(start.finish()),
        Arc::new(environment.finish()),
        Arc::new(kind.finish()),
        Arc::new(unit.finish()),
        Arc::new(monotonic.finish()),
        Arc::new(temporality.finish()),
        Arc::new(value.finish()),
        Arc::new(count.finish()),
        Arc::new(sum.finish()),
        Arc::new(attributes.finish()),
        Arc::new(resource_attributes.finish()),
        Arc::new(distribution.finish()),
    ];
    RecordBatch::try_new(METRIC_SCHEMA.clone(), columns).expect("columns match the metric schema")
}

/// A text column of a batch of one of the tables (their schemas are fixed, so it is there).
fn text_column(batch: &RecordBatch, name: &str) -> StringArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
        .clone()
}

/// An id column of a batch of one of the tables.
fn binary_column(batch: &RecordBatch, name: &str) -> FixedSizeBinaryArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_fixed_size_binary()
        .clone()
}

fn json_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn optional_id(column: &FixedSizeBinaryArray, row: usize) -> Option<String> {
    column.is_valid(row).then(|| hex::encode(column.value(row)))
}

/// A span as the query API returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub name: String,
    pub kind: SpanKind,
    pub operation: String,
    pub remote_service: String,
    pub start_time_unix_nano: u64,
    pub duration_nanos: u64,
    pub status_code: StatusCode,
    pub status_message: String,
    pub attributes: serde_json::Value,
    pub resource_attributes: serde_json::Value,
    pub events: serde_json::Value,
    pub links: serde_json::Value,
}

pub fn span_rows(batch: &RecordBatch) -> Vec<SpanRow> {
    span_facts(batch).into_iter().map(SpanRow::from).collect()
}

impl SpanRow {
    /// What the span did, as pages name it: the derived operation, or the span's own name when
    /// none was derived (an internal span).
    pub fn operation_or_name(&self) -> &str {
        if self.operation.is_empty() {
            &self.name
        } else {
            &self.operation
        }
    }
}

impl From<SpanFacts> for SpanRow {
    fn from(facts: SpanFacts) -> SpanRow {
        SpanRow {
            trace_id: hex::encode(facts.trace_id),
            span_id: hex::encode(facts.span_id),
            parent_span_id: facts.parent_span_id.map(hex::encode),
            service: facts.service,
            environment: facts.environment,
            version: facts.version,
            name: facts.name,
            kind: facts.kind,
            operation: facts.operation,
            remote_service: facts.remote_service,
            start_time_unix_nano: facts.start_time_unix_nano,
            duration_nanos: facts.duration_nanos,
            status_code: facts.status_code,
            status_message: facts.status_message,
            attributes: json_value(&facts.attributes),
            resource_attributes: json_value(&facts.resource_attributes),
            events: json_value(&facts.events),
            links: json_value(&facts.links),
        }
    }
}

/// A span narrowed for analysis: ids as bytes and attribute JSON left unparsed, so reading
/// hundreds of thousands of them costs little (investigations parse only what they need).
#[derive(Clone, Debug, PartialEq)]
pub struct SpanFacts {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub name: String,
    pub kind: SpanKind,
    pub operation: String,
    pub remote_service: String,
    pub start_time_unix_nano: u64,
    pub duration_nanos: u64,
    pub status_code: StatusCode,
    pub status_message: String,
    /// JSON objects and arrays as stored.
    pub attributes: String,
    pub resource_attributes: String,
    pub events: String,
    pub links: String,
}

pub fn span_facts(batch: &RecordBatch) -> Vec<SpanFacts> {
    let string = |name: &str| text_column(batch, name);
    let binary = |name: &str| binary_column(batch, name);
    let primitive = |name: &str| batch.column_by_name(name).expect("span column").clone();
    let (service, version, name, operation) = (
        string("service"),
        string("version"),
        string("name"),
        string("operation"),
    );
    let (remote_service, environment, status_message) = (
        string("remote_service"),
        string("environment"),
        string("status_message"),
    );
    let (attributes, resource_attributes, events, links) = (
        string("attributes"),
        string("resource_attributes"),
        string("events"),
        string("links"),
    );
    let (trace_id, span_id, parent_span_id) = (
        binary("trace_id"),
        binary("span_id"),
        binary("parent_span_id"),
    );
    let start = primitive("start_time_unix_nano");
    let start = start.as_primitive::<Int64Type>();
    let duration = primitive("duration_nanos");
    let duration = duration.as_primitive::<Int64Type>();
    let kind = primitive("kind");
    let kind = kind.as_primitive::<UInt8Type>();
    let status = primitive("status_code");
    let status = status.as_primitive::<UInt8Type>();
    let id = |column: &FixedSizeBinaryArray, row: usize| -> Option<Vec<u8>> {
        column.is_valid(row).then(|| column.value(row).to_vec())
    };
    (0..batch.num_rows())
        .filter_map(|row| {
            Some(SpanFacts {
                trace_id: trace_id.value(row).try_into().ok()?,
                span_id: span_id.value(row).try_into().ok()?,
                parent_span_id: match id(&parent_span_id, row) {
                    Some(bytes) => Some(bytes.try_into().ok()?),
                    None => None,
                },
                service: service.value(row).to_owned(),
                environment: environment.value(row).to_owned(),
                version: version.value(row).to_owned(),
                name: name.value(row).to_owned(),
                kind: SpanKind::from_otlp(i32::from(kind.value(row))),
                operation: operation.value(row).to_owned(),
                remote_service: remote_service.value(row).to_owned(),
                start_time_unix_nano: start.value(row).max(0) as u64,
                duration_nanos: duration.value(row).max(0) as u64,
                status_code: StatusCode::from_otlp(i32::from(status.value(row))),
                status_message: status_message.value(row).to_owned(),
                attributes: attributes.value(row).to_owned(),
                resource_attributes: resource_attributes.value(row).to_owned(),
                events: events.value(row).to_owned(),
                links: links.value(row).to_owned(),
            })
        })
        .collect()
}

/// A log record as the query API returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogRow {
    pub time_unix_nano: u64,
    pub service: String,
    pub environment: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: serde_json::Value,
    pub resource_attributes: serde_json::Value,
}

pub fn log_rows(batch: &RecordBatch) -> Vec<LogRow> {
    let string = |name: &str| text_column(batch, name);
    let binary = |name: &str| binary_column(batch, name);
    let service = string("service");
    let environment = string("environment");
    let severity_text = string("severity_text");
    let body = string("body");
    let attributes = string("attributes");
    let resource_attributes = string("resource_attributes");
    let trace_id = binary("trace_id");
    let span_id = binary("span_id");
    let time = batch
        .column_by_name("time_unix_nano")
        .expect("log column")
        .as_primitive::<Int64Type>();
    let severity = batch
        .column_by_name("severity_number")
        .expect("log column")
        .as_primitive::<Int32Type>();
    (0..batch.num_rows())
        .map(|row| LogRow {
            time_unix_nano: time.value(row).max(0) as u64,
            service: service.value(row).to_owned(),
            environment: environment.value(row).to_owned(),
            severity_number: severity.value(row),
            severity_text: severity_text.value(row).to_owned(),
            body: body.value(row).to_owned(),
            trace_id: optional_id(&trace_id, row),
            span_id: optional_id(&span_id, row),
            attributes: json_value(attributes.value(row)),
            resource_attributes: json_value(resource_attributes.value(row)),
        })
        .collect()
}

/// A metric point as the query API returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointRow {
    pub name: String,
    pub service: String,
    pub kind: String,
    pub unit: String,
    /// OTLP aggregation temporality: 0 unspecified (gauges), 1 delta, 2 cumulative.
    pub temporality: u8,
    pub monotonic: bool,
    pub time_unix_nano: u64,
    pub value: f64,
    pub count: Option<u64>,
    pub sum: Option<f64>,
    pub attributes: serde_json::Value,
    pub resource_attributes: serde_json::Value,
    pub distribution: Option<serde_json::Value>,
}

pub fn point_rows(batch: &RecordBatch) -> Vec<PointRow> {
    let string = |name: &str| text_column(batch, name);
    let name = string("name");
    let service = string("service");
    let kind = string("kind");
    let unit = string("unit");
    let attributes = string("attributes");
    let resource_attributes = string("resource_attributes");
    let distribution = string("distribution");
    let time = batch
        .column_by_name("time_unix_nano")
        .expect("metric column")
        .as_primitive::<Int64Type>();
    let value = batch
        .column_by_name("value")
        .expect("metric column")
        .as_primitive::<Float64Type>();
    let count = batch
        .column_by_name("count")
        .expect("metric column")
        .as_primitive::<UInt64Type>();
    let sum = batch
        .column_by_name("sum")
        .expect("metric column")
        .as_primitive::<Float64Type>();
    let temporality = batch
        .column_by_name("temporality")
        .expect("metric column")
        .as_primitive::<UInt8Type>();
    let monotonic = batch
        .column_by_name("monotonic")
        .expect("metric column")
        .as_boolean();
    (0..batch.num_rows())
        .map(|row| PointRow {
            name: name.value(row).to_owned(),
            service: service.value(row).to_owned(),
            kind: kind.value(row).to_owned(),
            unit: unit.value(row).to_owned(),
            temporality: temporality.value(row),
            monotonic: monotonic.value(row),
            time_unix_nano: time.value(row).max(0) as u64,
            value: value.value(row),
            count: count.is_valid(row).then(|| count.value(row)),
            sum: sum.is_valid(row).then(|| sum.value(row)),
            attributes: json_value(attributes.value(row)),
            resource_attributes: json_value(resource_attributes.value(row)),
            distribution: distribution
                .is_valid(row)
                .then(|| json_value(distribution.value(row))),
        })
        .collect()
}
