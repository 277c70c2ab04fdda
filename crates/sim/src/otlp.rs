//! The shop's records as OTLP export requests: records grouped by resource (one
//! `ResourceSpans`/`ResourceLogs`/`ResourceMetrics` per pod), one instrumentation scope each,
//! attributes and ids as an OpenTelemetry SDK sets them.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

use crate::telemetry::{
    Attributes, LogRecord, MetricKind, MetricPoint, Resource, SpanKind, SpanRecord, Value,
};

fn any_value(value: &Value) -> AnyValue {
    let inner = match value {
        Value::Text(text) => any_value::Value::StringValue(text.to_string()),
        Value::Int(number) => any_value::Value::IntValue(*number),
        Value::Float(number) => any_value::Value::DoubleValue(*number),
        Value::Bool(flag) => any_value::Value::BoolValue(*flag),
    };
    AnyValue { value: Some(inner) }
}

fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: (*key).to_owned(),
            value: Some(any_value(value)),
            ..KeyValue::default()
        })
        .collect()
}

fn otlp_resource(resource: &Resource) -> OtlpResource {
    OtlpResource {
        attributes: key_values(&resource.attributes),
        ..OtlpResource::default()
    }
}

fn scope(resource: &Resource) -> InstrumentationScope {
    InstrumentationScope {
        name: resource.scope.to_owned(),
        ..InstrumentationScope::default()
    }
}

/// Groups records by their resource index, in index order (deterministic output).
fn by_resource<T>(records: Vec<T>, resource_of: impl Fn(&T) -> usize) -> BTreeMap<usize, Vec<T>> {
    let mut groups: BTreeMap<usize, Vec<T>> = BTreeMap::new();
    for record in records {
        groups.entry(resource_of(&record)).or_default().push(record);
    }
    groups
}

pub fn trace_request(resources: &[Resource], spans: Vec<SpanRecord>) -> ExportTraceServiceRequest {
    let resource_spans = by_resource(spans, |span| span.resource)
        .into_iter()
        .map(|(index, spans)| ResourceSpans {
            resource: Some(otlp_resource(&resources[index])),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope(&resources[index])),
                spans: spans.iter().map(otlp_span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn otlp_span(record: &SpanRecord) -> Span {
    let kind = match record.kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    };
    let status = record.error.as_ref().map(|message| Status {
        message: message.clone(),
        code: status::StatusCode::Error as i32,
    });
    Span {
        trace_id: record.trace_id.to_vec(),
        span_id: record.span_id.to_vec(),
        parent_span_id: record
            .parent_span_id
            .map(|parent| parent.to_vec())
            .unwrap_or_default(),
        name: record.name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: record.start,
        end_time_unix_nano: record.end,
        attributes: key_values(&record.attributes),
        events: record
            .events
            .iter()
            .map(|event| span::Event {
                time_unix_nano: event.time,
                name: event.name.to_owned(),
                attributes: key_values(&event.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        status,
        ..Span::default()
    }
}

pub fn logs_request(resources: &[Resource], logs: Vec<LogRecord>) -> ExportLogsServiceRequest {
    let resource_logs = by_resource(logs, |log| log.resource)
        .into_iter()
        .map(|(index, logs)| ResourceLogs {
            resource: Some(otlp_resource(&resources[index])),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope(&resources[index])),
                log_records: logs.iter().map(otlp_log).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

fn otlp_log(record: &LogRecord) -> OtlpLogRecord {
    let (trace_id, span_id) = match record.trace {
        Some((trace_id, span_id)) => (trace_id.to_vec(), span_id.to_vec()),
        None => (Vec::new(), Vec::new()),
    };
    OtlpLogRecord {
        time_unix_nano: record.time,
        observed_time_unix_nano: record.time,
        severity_number: record.severity.number(),
        severity_text: record.severity.text().to_owned(),
        body: Some(any_value(&Value::Text(record.body.clone().into()))),
        attributes: key_values(&record.attributes),
        flags: u32::from(record.trace.is_some()),
        trace_id,
        span_id,
        ..OtlpLogRecord::default()
    }
}

pub fn metrics_request(
    resources: &[Resource],
    points: Vec<MetricPoint>,
) -> ExportMetricsServiceRequest {
    let resource_metrics = by_resource(points, |point| point.resource)
        .into_iter()
        .map(|(index, points)| {
            // One metric per name, its points (one per attribute set) together.
            let mut metrics: Vec<Metric> = Vec::new();
            for point in &points {
                let data_point = NumberDataPoint {
                    attributes: key_values(&point.attributes),
                    start_time_unix_nano: match point.kind {
                        MetricKind::Gauge => 0,
                        MetricKind::Counter | MetricKind::UpDownCounter => point.start,
                    },
                    time_unix_nano: point.time,
                    value: Some(number_data_point::Value::AsDouble(point.value)),
                    ..NumberDataPoint::default()
                };
                let existing = metrics.iter_mut().find(|metric| metric.name == point.name);
                let metric = match existing {
                    Some(metric) => metric,
                    None => {
                        let data = match point.kind {
                            MetricKind::Gauge => metric::Data::Gauge(Gauge {
                                data_points: Vec::new(),
                            }),
                            MetricKind::Counter | MetricKind::UpDownCounter => {
                                metric::Data::Sum(Sum {
                                    data_points: Vec::new(),
                                    aggregation_temporality: AggregationTemporality::Cumulative
                                        as i32,
                                    is_monotonic: point.kind == MetricKind::Counter,
                                })
                            }
                        };
                        metrics.push(Metric {
                            name: point.name.to_owned(),
                            description: point.description.to_owned(),
                            unit: point.unit.to_owned(),
                            data: Some(data),
                            ..Metric::default()
                        });
                        metrics.last_mut().expect("just pushed")
                    }
                };
                match &mut metric.data {
                    Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(data_point),
                    Some(metric::Data::Sum(sum)) => sum.data_points.push(data_point),
                    _ => {}
                }
            }
            ResourceMetrics {
                resource: Some(otlp_resource(&resources[index])),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope(&resources[index])),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}
