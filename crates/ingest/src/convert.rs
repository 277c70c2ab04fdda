//! Validation of a decoded export request and its conversion into model records.
//!
//! The request is taken by value and its strings and attribute lists are moved, not copied;
//! each resource becomes one shared `Arc<Resource>`. An item that cannot be used (an id of the
//! wrong length, a timestamp before 2000 or more than a day ahead, a data point without a
//! value) is dropped and counted in [`Rejections`], with the first few explained; everything
//! else in the request is kept.
//!
//! The time is passed in, so this stays a pure function; deriving signals from the spans is
//! `signals.rs`'s, storing them the store's.

use std::fmt;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
    exponential_histogram_data_point, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use opentelemetry_proto::tonic::trace::v1::span::{Event as OtlpEvent, Link as OtlpLink};
use sloscope_model::{
    AttrValue, Attributes, Batch, ExponentialBuckets, LogRecord, MetricKind, MetricPoint,
    PointValue, Resource, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, Temporality,
    TraceId,
};

use crate::{ExportRequest, Rejections};

/// What an export request yields: the usable records and what was dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Converted {
    pub batch: Batch,
    pub rejected: Rejections,
}

/// Validates the request's items and moves them into a batch. `now_unix_nano` bounds how far in
/// the future a timestamp may be.
pub fn convert(request: ExportRequest, now_unix_nano: u64) -> Converted {
    let bounds = TimeBounds::around(now_unix_nano);
    let mut converted = Converted::default();
    match request {
        ExportRequest::Traces(traces) => convert_traces(traces, bounds, &mut converted),
        ExportRequest::Metrics(metrics) => convert_metrics(metrics, bounds, &mut converted),
        ExportRequest::Logs(logs) => convert_logs(logs, bounds, &mut converted),
    }
    converted
}

/// 2000-01-01T00:00:00Z: anything earlier is a clock that was never set or a unit mistake.
const YEAR_2000_UNIX_NANO: u64 = 946_684_800_000_000_000;
/// How far ahead of the receiver's clock a timestamp may be (clock skew, time zones gone wrong).
const MAX_FUTURE_NANOS: u64 = 24 * 3600 * 1_000_000_000;

/// The span of time a timestamp must fall in to be believed.
#[derive(Clone, Copy, Debug)]
struct TimeBounds {
    earliest: u64,
    latest: u64,
}

impl TimeBounds {
    fn around(now_unix_nano: u64) -> TimeBounds {
        TimeBounds {
            earliest: YEAR_2000_UNIX_NANO,
            latest: now_unix_nano.saturating_add(MAX_FUTURE_NANOS),
        }
    }

    fn check(self, field: &'static str, value: u64) -> Result<(), Problem> {
        if value == 0 {
            Err(Problem::TimeMissing { field })
        } else if value < self.earliest {
            Err(Problem::TimeBefore2000 { field, value })
        } else if value > self.latest {
            Err(Problem::TimeInFuture { field, value })
        } else {
            Ok(())
        }
    }
}

/// Why one item cannot be used; formatted only if the message is kept.
#[derive(Debug)]
enum Problem {
    IdLength {
        field: &'static str,
        actual: usize,
        wanted: usize,
    },
    OptionalIdLength {
        field: &'static str,
        actual: usize,
        wanted: usize,
    },
    IdAllZero {
        field: &'static str,
    },
    TimeMissing {
        field: &'static str,
    },
    TimeBefore2000 {
        field: &'static str,
        value: u64,
    },
    TimeInFuture {
        field: &'static str,
        value: u64,
    },
    EndBeforeStart {
        start: u64,
        end: u64,
    },
    NoValue,
    BucketCounts {
        buckets: usize,
        bounds: usize,
    },
    BoundsNotIncreasing,
    ScaleOutOfRange {
        scale: i32,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::IdLength {
                field,
                actual,
                wanted,
            } => {
                write!(formatter, "{field} has {actual} bytes, want {wanted}")
            }
            Problem::OptionalIdLength {
                field,
                actual,
                wanted,
            } => {
                write!(
                    formatter,
                    "{field} has {actual} bytes, want {wanted} or none"
                )
            }
            Problem::IdAllZero { field } => write!(formatter, "{field} is all zeros"),
            Problem::TimeMissing { field } => write!(formatter, "{field} is not set"),
            Problem::TimeBefore2000 { field, value } => {
                write!(
                    formatter,
                    "{field} {value} is before the year 2000 (not nanoseconds since the unix epoch?)"
                )
            }
            Problem::TimeInFuture { field, value } => {
                write!(
                    formatter,
                    "{field} {value} is more than 24 hours in the future"
                )
            }
            Problem::EndBeforeStart { start, end } => {
                write!(
                    formatter,
                    "end_time_unix_nano {end} is before start_time_unix_nano {start}"
                )
            }
            Problem::NoValue => write!(formatter, "the data point has no value"),
            Problem::BucketCounts { buckets, bounds } => write!(
                formatter,
                "{buckets} bucket counts for {bounds} explicit bounds, want {} or none",
                bounds + 1
            ),
            Problem::BoundsNotIncreasing => {
                write!(
                    formatter,
                    "explicit_bounds are not strictly increasing finite numbers"
                )
            }
            Problem::ScaleOutOfRange { scale } => {
                write!(formatter, "scale {scale} is outside -10..=20")
            }
        }
    }
}

/// A name quoted for a message, cut short so that a hostile name cannot bloat the answer.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 80;
        match self.0.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => write!(formatter, "{:?}...", &self.0[..cut]),
            None => write!(formatter, "{:?}", self.0),
        }
    }
}

fn required_id<const LENGTH: usize>(
    field: &'static str,
    bytes: &[u8],
) -> Result<[u8; LENGTH], Problem> {
    let id: [u8; LENGTH] = bytes.try_into().map_err(|_| Problem::IdLength {
        field,
        actual: bytes.len(),
        wanted: LENGTH,
    })?;
    if id == [0; LENGTH] {
        return Err(Problem::IdAllZero { field });
    }
    Ok(id)
}

/// An id that may be absent: empty or all zeros (the W3C invalid id) is none.
fn optional_id<const LENGTH: usize>(
    field: &'static str,
    bytes: &[u8],
) -> Result<Option<[u8; LENGTH]>, Problem> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let id: [u8; LENGTH] = bytes.try_into().map_err(|_| Problem::OptionalIdLength {
        field,
        actual: bytes.len(),
        wanted: LENGTH,
    })?;
    Ok((id != [0; LENGTH]).then_some(id))
}

fn convert_resource(resource: Option<OtlpResource>) -> Arc<Resource> {
    let attributes = resource
        .map(|resource| convert_attributes(resource.attributes))
        .unwrap_or_default();
    Arc::new(Resource::from_attributes(attributes))
}

/// Attributes with an empty value (OTLP allows them) are left out: they say nothing.
fn convert_attributes(key_values: Vec<KeyValue>) -> Attributes {
    let mut attributes = Vec::with_capacity(key_values.len());
    for key_value in key_values {
        if let Some(value) = key_value.value.and_then(|any_value| any_value.value) {
            attributes.push((key_value.key, convert_value(value)));
        }
    }
    Attributes(attributes)
}

fn convert_any_value(any_value: AnyValue) -> AttrValue {
    match any_value.value {
        Some(value) => convert_value(value),
        None => AttrValue::Str(String::new()),
    }
}

// Nesting depth is bounded by the decoders (prost and serde_json both stop at about 100 levels).
fn convert_value(value: any_value::Value) -> AttrValue {
    match value {
        any_value::Value::StringValue(text) => AttrValue::Str(text),
        any_value::Value::BoolValue(flag) => AttrValue::Bool(flag),
        any_value::Value::IntValue(number) => AttrValue::Int(number),
        any_value::Value::DoubleValue(number) => AttrValue::Double(number),
        any_value::Value::ArrayValue(array) => {
            AttrValue::Array(array.values.into_iter().map(convert_any_value).collect())
        }
        any_value::Value::KvlistValue(list) => AttrValue::Map(convert_attributes(list.values)),
        any_value::Value::BytesValue(bytes) => AttrValue::Bytes(bytes),
        // Only profiles use string tables; keep the index rather than lose the value.
        any_value::Value::StringValueStrindex(index) => AttrValue::Int(i64::from(index)),
    }
}

// ---------------------------------------------------------------------------------------------
// Traces

/// OTLP span flags: bit 8 says whether bit 9 (the parent is remote) is known.
const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE: u32 = 0x200;

fn convert_traces(
    request: ExportTraceServiceRequest,
    bounds: TimeBounds,
    converted: &mut Converted,
) {
    let mut span_index = 0usize;
    for resource_spans in request.resource_spans {
        let resource = convert_resource(resource_spans.resource);
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_spans
                .scope
                .map(|scope| scope.name)
                .unwrap_or_default();
            converted.batch.spans.reserve(scope_spans.spans.len());
            for otlp_span in scope_spans.spans {
                match check_span(&otlp_span, bounds) {
                    Ok(ids) => {
                        let span = build_span(
                            otlp_span,
                            ids,
                            &resource,
                            &scope_name,
                            span_index,
                            &mut converted.rejected,
                        );
                        converted.batch.spans.push(span);
                    }
                    Err(problem) => converted.rejected.reject(1, || {
                        format!(
                            "span {span_index} (name {}): {problem}",
                            Quoted(&otlp_span.name)
                        )
                    }),
                }
                span_index += 1;
            }
        }
    }
}

struct SpanIds {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
}

fn check_span(span: &OtlpSpan, bounds: TimeBounds) -> Result<SpanIds, Problem> {
    let trace_id = required_id("trace_id", &span.trace_id)?;
    let span_id = required_id("span_id", &span.span_id)?;
    let parent_span_id = optional_id("parent_span_id", &span.parent_span_id)?;
    bounds.check("start_time_unix_nano", span.start_time_unix_nano)?;
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(Problem::EndBeforeStart {
            start: span.start_time_unix_nano,
            end: span.end_time_unix_nano,
        });
    }
    bounds.check("end_time_unix_nano", span.end_time_unix_nano)?;
    Ok(SpanIds {
        trace_id,
        span_id,
        parent_span_id,
    })
}

fn build_span(
    span: OtlpSpan,
    ids: SpanIds,
    resource: &Arc<Resource>,
    scope_name: &str,
    span_index: usize,
    rejected: &mut Rejections,
) -> Span {
    let parent_is_remote = span.flags & SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE != 0
        && span.flags & SPAN_FLAGS_CONTEXT_IS_REMOTE != 0;
    let (status_code, status_message) = match span.status {
        Some(status) => (StatusCode::from_otlp(status.code), status.message),
        None => (StatusCode::Unset, String::new()),
    };
    let mut links = Vec::with_capacity(span.links.len());
    for (link_index, link) in span.links.into_iter().enumerate() {
        match convert_link(link) {
            Ok(converted_link) => links.push(converted_link),
            Err(problem) => rejected.note(|| {
                format!(
                    "span {span_index} (name {}): link {link_index} dropped: {problem}",
                    Quoted(&span.name)
                )
            }),
        }
    }
    Span {
        resource: Arc::clone(resource),
        scope_name: scope_name.to_owned(),
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_span_id: ids.parent_span_id,
        parent_is_remote,
        name: span.name,
        kind: SpanKind::from_otlp(span.kind),
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        status_code,
        status_message,
        attributes: convert_attributes(span.attributes),
        events: span.events.into_iter().map(convert_event).collect(),
        links,
    }
}

fn convert_event(event: OtlpEvent) -> SpanEvent {
    SpanEvent {
        time_unix_nano: event.time_unix_nano,
        name: event.name,
        attributes: convert_attributes(event.attributes),
    }
}

fn convert_link(link: OtlpLink) -> Result<SpanLink, Problem> {
    let trace_id = required_id("trace_id", &link.trace_id)?;
    let span_id = required_id("span_id", &link.span_id)?;
    Ok(SpanLink {
        trace_id,
        span_id,
        attributes: convert_attributes(link.attributes),
    })
}

// ---------------------------------------------------------------------------------------------
// Logs

fn convert_logs(request: ExportLogsServiceRequest, bounds: TimeBounds, converted: &mut Converted) {
    let mut record_index = 0usize;
    for resource_logs in request.resource_logs {
        let resource = convert_resource(resource_logs.resource);
        for scope_logs in resource_logs.scope_logs {
            let scope_name = scope_logs.scope.map(|scope| scope.name).unwrap_or_default();
            converted.batch.logs.reserve(scope_logs.log_records.len());
            for otlp_record in scope_logs.log_records {
                match build_log_record(otlp_record, &resource, &scope_name, bounds) {
                    Ok(record) => converted.batch.logs.push(record),
                    Err(problem) => converted
                        .rejected
                        .reject(1, || format!("log record {record_index}: {problem}")),
                }
                record_index += 1;
            }
        }
    }
}

fn build_log_record(
    record: OtlpLogRecord,
    resource: &Arc<Resource>,
    scope_name: &str,
    bounds: TimeBounds,
) -> Result<LogRecord, Problem> {
    let trace_id = optional_id("trace_id", &record.trace_id)?;
    let span_id = optional_id("span_id", &record.span_id)?;
    if record.time_unix_nano != 0 {
        bounds.check("time_unix_nano", record.time_unix_nano)?;
    } else {
        bounds.check(
            "time_unix_nano and observed_time_unix_nano",
            record.observed_time_unix_nano,
        )?;
    }
    let body = match record.body.and_then(|wrapped| wrapped.value) {
        None => String::new(),
        Some(any_value::Value::StringValue(text)) => text,
        Some(structured) => convert_value(structured).to_text(),
    };
    Ok(LogRecord {
        resource: Arc::clone(resource),
        scope_name: scope_name.to_owned(),
        time_unix_nano: record.time_unix_nano,
        observed_time_unix_nano: record.observed_time_unix_nano,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body,
        attributes: convert_attributes(record.attributes),
        trace_id,
        span_id,
    })
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// Data point flag bit 0: the point marks that no value was recorded (a staleness marker). It
/// carries no value, so it is skipped without counting as rejected.
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// What every point of one metric shares.
struct MetricContext<'a> {
    resource: &'a Arc<Resource>,
    name: &'a str,
    unit: &'a str,
    kind: MetricKind,
    bounds: TimeBounds,
}

impl MetricContext<'_> {
    fn point(
        &self,
        start_time_unix_nano: u64,
        time_unix_nano: u64,
        attributes: Vec<KeyValue>,
        value: PointValue,
    ) -> MetricPoint {
        MetricPoint {
            resource: Arc::clone(self.resource),
            name: self.name.to_owned(),
            unit: self.unit.to_owned(),
            kind: self.kind,
            start_time_unix_nano,
            time_unix_nano,
            attributes: convert_attributes(attributes),
            value,
        }
    }
}

fn convert_metrics(
    request: ExportMetricsServiceRequest,
    bounds: TimeBounds,
    converted: &mut Converted,
) {
    for resource_metrics in request.resource_metrics {
        let resource = convert_resource(resource_metrics.resource);
        for scope_metrics in resource_metrics.scope_metrics {
            for metric in scope_metrics.metrics {
                let Some(data) = metric.data else {
                    // A metric without data has no points to keep or to reject.
                    continue;
                };
                let kind = match &data {
                    Data::Gauge(_) => MetricKind::Gauge,
                    Data::Sum(sum) => MetricKind::Sum {
                        monotonic: sum.is_monotonic,
                        temporality: Temporality::from_otlp(sum.aggregation_temporality),
                    },
                    Data::Histogram(histogram) => MetricKind::Histogram {
                        temporality: Temporality::from_otlp(histogram.aggregation_temporality),
                    },
                    Data::ExponentialHistogram(histogram) => MetricKind::ExponentialHistogram {
                        temporality: Temporality::from_otlp(histogram.aggregation_temporality),
                    },
                    Data::Summary(_) => MetricKind::Summary,
                };
                let context = MetricContext {
                    resource: &resource,
                    name: &metric.name,
                    unit: &metric.unit,
                    kind,
                    bounds,
                };
                let points = &mut converted.batch.points;
                let rejected = &mut converted.rejected;
                match data {
                    Data::Gauge(gauge) => {
                        convert_points(gauge.data_points, &context, number_point, points, rejected)
                    }
                    Data::Sum(sum) => {
                        convert_points(sum.data_points, &context, number_point, points, rejected)
                    }
                    Data::Histogram(histogram) => convert_points(
                        histogram.data_points,
                        &context,
                        histogram_point,
                        points,
                        rejected,
                    ),
                    Data::ExponentialHistogram(histogram) => convert_points(
                        histogram.data_points,
                        &context,
                        exponential_histogram_point,
                        points,
                        rejected,
                    ),
                    Data::Summary(summary) => convert_points(
                        summary.data_points,
                        &context,
                        summary_point,
                        points,
                        rejected,
                    ),
                }
            }
        }
    }
}

/// Converts one metric's points with `build`, which returns `Ok(None)` for a point to skip
/// silently (no recorded value) and `Err` for one to reject.
fn convert_points<OtlpPoint>(
    otlp_points: Vec<OtlpPoint>,
    context: &MetricContext<'_>,
    build: fn(OtlpPoint, &MetricContext<'_>) -> Result<Option<MetricPoint>, Problem>,
    points: &mut Vec<MetricPoint>,
    rejected: &mut Rejections,
) {
    points.reserve(otlp_points.len());
    for (point_index, otlp_point) in otlp_points.into_iter().enumerate() {
        match build(otlp_point, context) {
            Ok(Some(point)) => points.push(point),
            Ok(None) => {}
            Err(problem) => rejected.reject(1, || {
                format!(
                    "data point {point_index} of metric {}: {problem}",
                    Quoted(context.name)
                )
            }),
        }
    }
}

fn number_point(
    point: NumberDataPoint,
    context: &MetricContext<'_>,
) -> Result<Option<MetricPoint>, Problem> {
    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(None);
    }
    context
        .bounds
        .check("time_unix_nano", point.time_unix_nano)?;
    let number = match point.value {
        Some(number_data_point::Value::AsDouble(double)) => double,
        Some(number_data_point::Value::AsInt(integer)) => integer as f64,
        None => return Err(Problem::NoValue),
    };
    let value = PointValue::Number { value: number };
    Ok(Some(context.point(
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.attributes,
        value,
    )))
}

fn histogram_point(
    point: HistogramDataPoint,
    context: &MetricContext<'_>,
) -> Result<Option<MetricPoint>, Problem> {
    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(None);
    }
    context
        .bounds
        .check("time_unix_nano", point.time_unix_nano)?;
    let buckets = point.bucket_counts.len();
    let bounds = point.explicit_bounds.len();
    if buckets != 0 && buckets != bounds + 1 {
        return Err(Problem::BucketCounts { buckets, bounds });
    }
    let increasing = point.explicit_bounds.iter().all(|bound| bound.is_finite())
        && point
            .explicit_bounds
            .windows(2)
            .all(|pair| pair[0] < pair[1]);
    if !increasing {
        return Err(Problem::BoundsNotIncreasing);
    }
    let value = PointValue::Histogram {
        count: point.count,
        sum: point.sum,
        min: point.min,
        max: point.max,
        explicit_bounds: point.explicit_bounds,
        bucket_counts: point.bucket_counts,
    };
    Ok(Some(context.point(
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.attributes,
        value,
    )))
}

fn exponential_buckets(
    buckets: Option<exponential_histogram_data_point::Buckets>,
) -> ExponentialBuckets {
    match buckets {
        Some(buckets) => ExponentialBuckets {
            offset: buckets.offset,
            bucket_counts: buckets.bucket_counts,
        },
        None => ExponentialBuckets {
            offset: 0,
            bucket_counts: Vec::new(),
        },
    }
}

fn exponential_histogram_point(
    point: ExponentialHistogramDataPoint,
    context: &MetricContext<'_>,
) -> Result<Option<MetricPoint>, Problem> {
    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(None);
    }
    context
        .bounds
        .check("time_unix_nano", point.time_unix_nano)?;
    if !(-10..=20).contains(&point.scale) {
        return Err(Problem::ScaleOutOfRange { scale: point.scale });
    }
    let value = PointValue::ExponentialHistogram {
        count: point.count,
        sum: point.sum,
        min: point.min,
        max: point.max,
        scale: point.scale,
        zero_count: point.zero_count,
        positive: exponential_buckets(point.positive),
        negative: exponential_buckets(point.negative),
    };
    Ok(Some(context.point(
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.attributes,
        value,
    )))
}

fn summary_point(
    point: SummaryDataPoint,
    context: &MetricContext<'_>,
) -> Result<Option<MetricPoint>, Problem> {
    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(None);
    }
    context
        .bounds
        .check("time_unix_nano", point.time_unix_nano)?;
    let quantiles = point
        .quantile_values
        .iter()
        .map(|quantile| (quantile.quantile, quantile.value))
        .collect();
    let value = PointValue::Summary {
        count: point.count,
        sum: point.sum,
        quantiles,
    };
    Ok(Some(context.point(
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.attributes,
        value,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum, Summary, summary_data_point,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    const NOW: u64 = 1_700_000_000_000_000_000;
    const HOUR: u64 = 3_600_000_000_000;

    fn string_value(text: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(text.to_owned())),
        }
    }

    fn key_value(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn otlp_resource(service: &str) -> Option<OtlpResource> {
        Some(OtlpResource {
            attributes: vec![
                key_value("service.name", string_value(service)),
                key_value("deployment.environment.name", string_value("production")),
            ],
            ..Default::default()
        })
    }

    fn valid_span(index: u8) -> OtlpSpan {
        OtlpSpan {
            trace_id: vec![index.max(1); 16],
            span_id: vec![index.max(1); 8],
            name: format!("GET /x{index}"),
            kind: 2,
            start_time_unix_nano: NOW - HOUR,
            end_time_unix_nano: NOW - HOUR + 5_000_000,
            ..Default::default()
        }
    }

    fn traces(spans: Vec<OtlpSpan>) -> ExportRequest {
        ExportRequest::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: otlp_resource("checkout"),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: String::from("io.opentelemetry.http"),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    #[test]
    fn converts_a_span_moving_its_fields() {
        let mut span = valid_span(7);
        span.parent_span_id = vec![9; 8];
        span.flags = 0x300;
        span.status = Some(Status {
            code: 2,
            message: String::from("boom"),
        });
        span.attributes = vec![
            key_value("http.route", string_value("/x/{id}")),
            key_value(
                "tags",
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![string_value("a")],
                    })),
                },
            ),
            key_value(
                "nested",
                AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![key_value("k", string_value("v"))],
                    })),
                },
            ),
            key_value(
                "raw",
                AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![1, 2])),
                },
            ),
            key_value("empty", AnyValue { value: None }),
        ];
        let converted = convert(traces(vec![span]), NOW);
        assert!(converted.rejected.is_empty());
        let span = &converted.batch.spans[0];
        assert_eq!(span.resource.service, "checkout");
        assert_eq!(span.resource.environment, "production");
        assert_eq!(span.scope_name, "io.opentelemetry.http");
        assert_eq!(span.parent_span_id, Some([9; 8]));
        assert!(span.parent_is_remote);
        assert!(span.is_local_root());
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.status_code, StatusCode::Error);
        assert_eq!(span.status_message, "boom");
        assert_eq!(span.attributes.get_str("http.route"), Some("/x/{id}"));
        assert_eq!(
            span.attributes.get("tags"),
            Some(&AttrValue::Array(vec![AttrValue::Str(String::from("a"))]))
        );
        assert!(
            matches!(span.attributes.get("nested"), Some(AttrValue::Map(map)) if map.get_str("k") == Some("v"))
        );
        assert_eq!(
            span.attributes.get("raw"),
            Some(&AttrValue::Bytes(vec![1, 2]))
        );
        assert_eq!(span.attributes.get("empty"), None);
    }

    #[test]
    fn remote_flag_counts_only_when_known() {
        let mut unknown = valid_span(1);
        unknown.parent_span_id = vec![3; 8];
        unknown.flags = 0x200;
        let mut local = valid_span(2);
        local.parent_span_id = vec![3; 8];
        local.flags = 0x100;
        let mut zero_parent = valid_span(3);
        zero_parent.parent_span_id = vec![0; 8];
        let converted = convert(traces(vec![unknown, local, zero_parent]), NOW);
        let spans = &converted.batch.spans;
        assert!(!spans[0].parent_is_remote);
        assert!(!spans[1].parent_is_remote);
        assert!(!spans[1].is_local_root());
        assert_eq!(spans[2].parent_span_id, None);
        assert!(spans[2].is_local_root());
    }

    #[test]
    fn one_arc_per_resource() {
        let converted = convert(traces(vec![valid_span(1), valid_span(2)]), NOW);
        let spans = &converted.batch.spans;
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
    }

    #[test]
    fn ids_of_wrong_length_are_rejected_and_counted() {
        let mut short_trace = valid_span(1);
        short_trace.trace_id = vec![1; 5];
        short_trace.name = String::from("GET /x");
        let mut zero_trace = valid_span(2);
        zero_trace.trace_id = vec![0; 16];
        let mut long_span = valid_span(3);
        long_span.span_id = vec![1; 9];
        let mut bad_parent = valid_span(4);
        bad_parent.parent_span_id = vec![1; 4];
        let mut zero_span = valid_span(5);
        zero_span.span_id = vec![0; 8];
        let spans = vec![
            valid_span(10),
            short_trace,
            zero_trace,
            long_span,
            bad_parent,
            zero_span,
            valid_span(11),
        ];
        let converted = convert(traces(spans), NOW);
        assert_eq!(converted.batch.spans.len(), 2);
        assert_eq!(converted.rejected.count, 5);
        assert_eq!(
            converted.rejected.messages,
            vec![
                "span 1 (name \"GET /x\"): trace_id has 5 bytes, want 16",
                "span 2 (name \"GET /x2\"): trace_id is all zeros",
                "span 3 (name \"GET /x3\"): span_id has 9 bytes, want 8",
                "span 4 (name \"GET /x4\"): parent_span_id has 4 bytes, want 8 or none",
                "span 5 (name \"GET /x5\"): span_id is all zeros",
            ]
        );
    }

    #[test]
    fn many_rejections_are_all_counted_with_ten_messages() {
        let spans = (0..50u8)
            .map(|index| OtlpSpan {
                trace_id: vec![1; 3],
                ..valid_span(index)
            })
            .collect();
        let converted = convert(traces(spans), NOW);
        assert_eq!(converted.rejected.count, 50);
        assert_eq!(converted.rejected.messages.len(), Rejections::MAX_MESSAGES);
    }

    #[test]
    fn absurd_span_timestamps_are_rejected() {
        let mut unset = valid_span(1);
        unset.start_time_unix_nano = 0;
        let mut in_seconds = valid_span(2);
        in_seconds.start_time_unix_nano = 1_700_000_000;
        in_seconds.end_time_unix_nano = 1_700_000_001;
        let mut future = valid_span(3);
        future.start_time_unix_nano = NOW + 25 * HOUR;
        future.end_time_unix_nano = NOW + 25 * HOUR;
        let mut backwards = valid_span(4);
        backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
        let mut endless = valid_span(5);
        endless.end_time_unix_nano = u64::MAX;
        let mut slightly_ahead = valid_span(6);
        slightly_ahead.start_time_unix_nano = NOW + HOUR;
        slightly_ahead.end_time_unix_nano = NOW + HOUR;
        let converted = convert(
            traces(vec![
                unset,
                in_seconds,
                future,
                backwards,
                endless,
                slightly_ahead,
            ]),
            NOW,
        );
        assert_eq!(
            converted.batch.spans.len(),
            1,
            "clock skew under a day is tolerated"
        );
        assert_eq!(converted.rejected.count, 5);
        let messages = &converted.rejected.messages;
        assert!(
            messages[0].ends_with("start_time_unix_nano is not set"),
            "{messages:?}"
        );
        assert!(messages[1].contains("before the year 2000"), "{messages:?}");
        assert!(
            messages[2].contains("more than 24 hours in the future"),
            "{messages:?}"
        );
        assert!(
            messages[3].contains("is before start_time_unix_nano"),
            "{messages:?}"
        );
        assert!(
            messages[4].contains("end_time_unix_nano 18446744073709551615 is more than 24 hours"),
            "{messages:?}"
        );
    }

    #[test]
    fn a_bad_link_is_dropped_with_a_note_and_the_span_kept() {
        let mut span = valid_span(1);
        span.links = vec![
            OtlpLink {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                ..Default::default()
            },
            OtlpLink {
                trace_id: vec![1; 15],
                span_id: vec![2; 8],
                ..Default::default()
            },
        ];
        span.events = vec![OtlpEvent {
            time_unix_nano: NOW - HOUR,
            name: String::from("exception"),
            ..Default::default()
        }];
        let converted = convert(traces(vec![span]), NOW);
        assert_eq!(converted.batch.spans[0].links.len(), 1);
        assert_eq!(converted.batch.spans[0].events[0].name, "exception");
        assert_eq!(converted.rejected.count, 0);
        assert_eq!(
            converted.rejected.messages,
            vec!["span 0 (name \"GET /x1\"): link 1 dropped: trace_id has 15 bytes, want 16"]
        );
    }

    #[test]
    fn long_names_are_cut_in_messages() {
        let span = OtlpSpan {
            name: "x".repeat(10_000),
            trace_id: Vec::new(),
            ..valid_span(1)
        };
        let converted = convert(traces(vec![span]), NOW);
        assert!(
            converted.rejected.messages[0].len() < 200,
            "{}",
            converted.rejected.messages[0]
        );
    }

    fn logs(records: Vec<OtlpLogRecord>) -> ExportRequest {
        ExportRequest::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: otlp_resource("checkout"),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    #[test]
    fn log_records_render_bodies_and_take_optional_ids() {
        let text = OtlpLogRecord {
            time_unix_nano: NOW,
            body: Some(string_value("payment failed")),
            ..Default::default()
        };
        let structured = OtlpLogRecord {
            observed_time_unix_nano: NOW,
            trace_id: vec![4; 16],
            span_id: vec![5; 8],
            body: Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![key_value(
                        "order",
                        AnyValue {
                            value: Some(any_value::Value::IntValue(42)),
                        },
                    )],
                })),
            }),
            ..Default::default()
        };
        let number = OtlpLogRecord {
            time_unix_nano: NOW,
            body: Some(AnyValue {
                value: Some(any_value::Value::IntValue(7)),
            }),
            ..Default::default()
        };
        let converted = convert(logs(vec![text, structured, number]), NOW);
        assert!(converted.rejected.is_empty());
        let records = &converted.batch.logs;
        assert_eq!(records[0].body, "payment failed");
        assert_eq!(records[0].trace_id, None);
        assert_eq!(records[1].body, r#"{"order":42}"#);
        assert_eq!(records[1].trace_id, Some([4; 16]));
        assert_eq!(records[1].span_id, Some([5; 8]));
        assert_eq!(records[1].timestamp(), NOW);
        assert_eq!(records[2].body, "7");
    }

    #[test]
    fn log_records_with_bad_ids_or_times_are_rejected() {
        let wrong_trace = OtlpLogRecord {
            time_unix_nano: NOW,
            trace_id: vec![1; 5],
            ..Default::default()
        };
        let no_time = OtlpLogRecord::default();
        let future = OtlpLogRecord {
            time_unix_nano: NOW + 48 * HOUR,
            ..Default::default()
        };
        let ok = OtlpLogRecord {
            time_unix_nano: NOW,
            ..Default::default()
        };
        let converted = convert(logs(vec![wrong_trace, no_time, future, ok]), NOW);
        assert_eq!(converted.batch.logs.len(), 1);
        assert_eq!(converted.rejected.count, 3);
        assert_eq!(
            converted.rejected.messages[0],
            "log record 0: trace_id has 5 bytes, want 16 or none"
        );
        assert_eq!(
            converted.rejected.messages[1],
            "log record 1: time_unix_nano and observed_time_unix_nano is not set"
        );
    }

    fn metrics(list: Vec<Metric>) -> ExportRequest {
        ExportRequest::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: otlp_resource("checkout"),
                scope_metrics: vec![ScopeMetrics {
                    metrics: list,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn number(time_unix_nano: u64, value: Option<number_data_point::Value>) -> NumberDataPoint {
        NumberDataPoint {
            time_unix_nano,
            value,
            ..Default::default()
        }
    }

    #[test]
    fn metric_points_of_every_kind_convert() {
        let list = vec![
            Metric {
                name: String::from("memory"),
                unit: String::from("By"),
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![number(NOW, Some(number_data_point::Value::AsInt(5)))],
                })),
                ..Default::default()
            },
            Metric {
                name: String::from("requests"),
                data: Some(Data::Sum(Sum {
                    data_points: vec![number(NOW, Some(number_data_point::Value::AsDouble(2.5)))],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            Metric {
                name: String::from("latency"),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: NOW,
                        count: 3,
                        sum: Some(30.0),
                        explicit_bounds: vec![10.0, 20.0],
                        bucket_counts: vec![1, 1, 1],
                        ..Default::default()
                    }],
                    aggregation_temporality: 1,
                })),
                ..Default::default()
            },
            Metric {
                name: String::from("size"),
                data: Some(Data::ExponentialHistogram(
                    opentelemetry_proto::tonic::metrics::v1::ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            time_unix_nano: NOW,
                            count: 2,
                            scale: 3,
                            positive: Some(exponential_histogram_data_point::Buckets {
                                offset: 4,
                                bucket_counts: vec![2],
                            }),
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                    },
                )),
                ..Default::default()
            },
            Metric {
                name: String::from("gc"),
                data: Some(Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        time_unix_nano: NOW,
                        count: 4,
                        sum: 8.0,
                        quantile_values: vec![summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 1.5,
                        }],
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            },
        ];
        let converted = convert(metrics(list), NOW);
        assert!(converted.rejected.is_empty(), "{:?}", converted.rejected);
        let points = &converted.batch.points;
        assert_eq!(points.len(), 5);
        assert_eq!(points[0].value, PointValue::Number { value: 5.0 });
        assert_eq!(points[0].unit, "By");
        assert_eq!(points[0].kind, MetricKind::Gauge);
        assert_eq!(
            points[1].kind,
            MetricKind::Sum {
                monotonic: true,
                temporality: Temporality::Cumulative
            }
        );
        assert_eq!(
            points[2].kind,
            MetricKind::Histogram {
                temporality: Temporality::Delta
            }
        );
        assert_eq!(points[2].value.scalar(), 10.0);
        assert!(
            matches!(&points[3].value, PointValue::ExponentialHistogram { scale: 3, positive, .. } if positive.offset == 4)
        );
        assert_eq!(
            points[4].value,
            PointValue::Summary {
                count: 4,
                sum: 8.0,
                quantiles: vec![(0.5, 1.5)]
            }
        );
        assert!(
            points
                .iter()
                .all(|point| point.resource.service == "checkout")
        );
    }

    #[test]
    fn unusable_metric_points_are_rejected() {
        let mut stale = number(NOW, None);
        stale.flags = FLAG_NO_RECORDED_VALUE;
        let list = vec![
            Metric {
                name: String::from("memory"),
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![
                        number(NOW, None),
                        number(0, Some(number_data_point::Value::AsInt(1))),
                        number(NOW + 30 * HOUR, Some(number_data_point::Value::AsInt(1))),
                        stale,
                        number(NOW, Some(number_data_point::Value::AsInt(1))),
                    ],
                })),
                ..Default::default()
            },
            Metric {
                name: String::from("latency"),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![
                        HistogramDataPoint {
                            time_unix_nano: NOW,
                            explicit_bounds: vec![1.0],
                            bucket_counts: vec![1, 2, 3],
                            ..Default::default()
                        },
                        HistogramDataPoint {
                            time_unix_nano: NOW,
                            explicit_bounds: vec![2.0, 1.0],
                            bucket_counts: vec![1, 2, 3],
                            ..Default::default()
                        },
                        HistogramDataPoint {
                            time_unix_nano: NOW,
                            count: 5,
                            sum: Some(1.0),
                            ..Default::default()
                        },
                    ],
                    aggregation_temporality: 2,
                })),
                ..Default::default()
            },
            Metric {
                name: String::from("no data"),
                ..Default::default()
            },
        ];
        let converted = convert(metrics(list), NOW);
        assert_eq!(converted.batch.points.len(), 2);
        assert_eq!(converted.rejected.count, 5);
        assert_eq!(
            converted.rejected.messages,
            vec![
                "data point 0 of metric \"memory\": the data point has no value",
                "data point 1 of metric \"memory\": time_unix_nano is not set",
                "data point 2 of metric \"memory\": time_unix_nano 1700108000000000000 is more than 24 hours in the future",
                "data point 0 of metric \"latency\": 3 bucket counts for 1 explicit bounds, want 2 or none",
                "data point 1 of metric \"latency\": explicit_bounds are not strictly increasing finite numbers",
            ]
        );
    }
}
