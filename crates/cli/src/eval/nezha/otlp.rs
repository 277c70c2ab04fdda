//! The records of a recording as the OTLP export requests an instrumented system would have
//! sent: spans and log records under a resource naming the service, pod and node; metric
//! columns as gauges.
//!
//! The recording lacks two things an OpenTelemetry SDK always sets, and both are inferred from
//! the data alone, the same way for any recording: a span's kind, from where it sits in its
//! trace, and a log record's severity, from the level word at the start of its line.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::recording::{
    LogLine, MetricSample, MetricSeries, Source, SourceId, Sources, SpanId, SpanRecord, TraceId,
};

/// The kind of a span and, for a call out, the service it called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inferred {
    pub kind: SpanKind,
    pub callee: Option<SourceId>,
}

/// Span kinds from the shape of the traces: a span without a parent, or whose parent belongs to
/// another service, is where a request enters its service (SERVER); a span with a child in
/// another service is the call out (CLIENT, its callee the first such child's source, as a
/// service-graph processor pairs client and server spans); every other span is INTERNAL.
pub fn infer_kinds(spans: &[SpanRecord], sources: &Sources) -> Vec<Inferred> {
    let service = |index: usize| sources.get(spans[index].source).service.as_str();
    let by_id: HashMap<(TraceId, SpanId), usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| ((span.trace_id, span.span_id), index))
        .collect();
    let mut enters = vec![false; spans.len()];
    let mut callees: Vec<Option<SourceId>> = vec![None; spans.len()];
    for (index, span) in spans.iter().enumerate() {
        let parent = span
            .parent_span_id
            .and_then(|parent| by_id.get(&(span.trace_id, parent)).copied());
        match parent {
            // A parent the recording does not have is outside what we can see, like a caller.
            None => enters[index] = true,
            Some(parent) if service(parent) != service(index) => {
                enters[index] = true;
                callees[parent].get_or_insert(span.source);
            }
            Some(_) => {}
        }
    }
    enters
        .into_iter()
        .zip(callees)
        .map(|(enters, callee)| match (enters, callee) {
            (true, _) => Inferred {
                kind: SpanKind::Server,
                callee: None,
            },
            (false, Some(callee)) => Inferred {
                kind: SpanKind::Client,
                callee: Some(callee),
            },
            (false, None) => Inferred {
                kind: SpanKind::Internal,
                callee: None,
            },
        })
        .collect()
}

/// The OTLP severity of a line from the level word among its first tokens (`16:42:22.382 INFO
/// ...`, `[ERROR] ...`, `2023-01-29 08:43:04 WARN ...`); None when there is none.
pub fn severity_of(line: &str) -> Option<(i32, &'static str)> {
    line.split_whitespace().take(4).find_map(|token| {
        let word = token.trim_matches(|character: char| !character.is_ascii_alphabetic());
        match word {
            "TRACE" => Some((1, "TRACE")),
            "DEBUG" => Some((5, "DEBUG")),
            "INFO" => Some((9, "INFO")),
            "WARN" | "WARNING" => Some((13, "WARN")),
            "ERROR" => Some((17, "ERROR")),
            "FATAL" | "CRITICAL" => Some((21, "FATAL")),
            _ => None,
        }
    })
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn resource(source: &Source) -> Resource {
    let mut attributes = vec![string_attribute("service.name", &source.service)];
    if let Some(pod) = &source.pod {
        attributes.push(string_attribute("k8s.pod.name", pod));
    }
    if let Some(node) = &source.node {
        attributes.push(string_attribute("k8s.node.name", node));
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "sloscope-eval-nezha".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    })
}

/// Builds export requests of at most `batch` records each, records grouped by source.
pub struct Exporter<'a> {
    sources: &'a Sources,
    resources: Vec<Resource>,
}

impl<'a> Exporter<'a> {
    pub fn new(sources: &'a Sources) -> Exporter<'a> {
        Exporter {
            sources,
            resources: (0..sources.len())
                .map(|id| resource(sources.get(id)))
                .collect(),
        }
    }

    pub fn traces(&self, spans: &[SpanRecord], kinds: &[Inferred]) -> ExportTraceServiceRequest {
        debug_assert_eq!(spans.len(), kinds.len());
        let mut by_source: BTreeMap<SourceId, Vec<Span>> = BTreeMap::new();
        for (record, inferred) in spans.iter().zip(kinds) {
            let attributes = inferred
                .callee
                .map(|callee| {
                    vec![string_attribute(
                        "peer.service",
                        &self.sources.get(callee).service,
                    )]
                })
                .unwrap_or_default();
            by_source.entry(record.source).or_default().push(Span {
                trace_id: record.trace_id.to_vec(),
                span_id: record.span_id.to_vec(),
                parent_span_id: record
                    .parent_span_id
                    .map(|parent| parent.to_vec())
                    .unwrap_or_default(),
                name: record.operation.clone(),
                kind: inferred.kind as i32,
                start_time_unix_nano: record.start_unix_nano,
                end_time_unix_nano: record.end_unix_nano,
                attributes,
                ..Default::default()
            });
        }
        ExportTraceServiceRequest {
            resource_spans: by_source
                .into_iter()
                .map(|(source, spans)| ResourceSpans {
                    resource: Some(self.resources[source].clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: scope(),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    pub fn logs(&self, lines: &[LogLine]) -> ExportLogsServiceRequest {
        let mut by_source: BTreeMap<SourceId, Vec<LogRecord>> = BTreeMap::new();
        for line in lines {
            let (severity_number, severity_text) = severity_of(&line.body).unwrap_or((0, ""));
            let attributes = line
                .stream
                .as_deref()
                .map(|stream| vec![string_attribute("log.iostream", stream)])
                .unwrap_or_default();
            by_source.entry(line.source).or_default().push(LogRecord {
                time_unix_nano: line.time_unix_nano,
                observed_time_unix_nano: line.time_unix_nano,
                severity_number,
                severity_text: severity_text.to_owned(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(line.body.clone())),
                }),
                attributes,
                trace_id: line.trace_id.map(|id| id.to_vec()).unwrap_or_default(),
                span_id: line.span_id.map(|id| id.to_vec()).unwrap_or_default(),
                ..Default::default()
            });
        }
        ExportLogsServiceRequest {
            resource_logs: by_source
                .into_iter()
                .map(|(source, log_records)| ResourceLogs {
                    resource: Some(self.resources[source].clone()),
                    scope_logs: vec![ScopeLogs {
                        scope: scope(),
                        log_records,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    pub fn metrics(
        &self,
        samples: &[MetricSample],
        series: &[MetricSeries],
    ) -> ExportMetricsServiceRequest {
        // Points of one metric name share a Metric; attributes tell the series apart.
        let mut by_source: BTreeMap<SourceId, BTreeMap<&str, (&str, Vec<NumberDataPoint>)>> =
            BTreeMap::new();
        for sample in samples {
            let described = &series[sample.series];
            let (_, points) = by_source
                .entry(sample.source)
                .or_default()
                .entry(described.name.as_str())
                .or_insert_with(|| (described.unit.as_str(), Vec::new()));
            points.push(NumberDataPoint {
                attributes: described
                    .attributes
                    .iter()
                    .map(|(key, value)| string_attribute(key, value))
                    .collect(),
                time_unix_nano: sample.time_unix_nano,
                value: Some(number_data_point::Value::AsDouble(sample.value)),
                ..Default::default()
            });
        }
        ExportMetricsServiceRequest {
            resource_metrics: by_source
                .into_iter()
                .map(|(source, metrics)| ResourceMetrics {
                    resource: Some(self.resources[source].clone()),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope(),
                        metrics: metrics
                            .into_iter()
                            .map(|(name, (unit, data_points))| Metric {
                                name: name.to_owned(),
                                unit: unit.to_owned(),
                                data: Some(metric::Data::Gauge(Gauge { data_points })),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::nezha::recording::Sources;

    fn span(source: SourceId, id: u8, parent: Option<u8>) -> SpanRecord {
        SpanRecord {
            trace_id: [7; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|parent| [parent; 8]),
            source,
            operation: format!("op{id}"),
            start_unix_nano: u64::from(id),
            end_unix_nano: u64::from(id) + 10,
        }
    }

    #[test]
    fn kinds_follow_service_boundaries() {
        let mut sources = Sources::default();
        let gateway = sources.pod("gateway-7d4f5b99fd-ktwc6");
        let orders = sources.pod("orders-7d4f5b99fd-ktwc7");
        let orders_replica = sources.pod("orders-7d4f5b99fd-ktwc8");
        let spans = vec![
            span(gateway, 1, None),           // root: SERVER
            span(gateway, 2, Some(1)),        // calls orders: CLIENT
            span(orders, 3, Some(2)),         // entered from gateway: SERVER
            span(orders, 4, Some(3)),         // same service, no remote child: INTERNAL
            span(orders_replica, 5, Some(4)), // another pod of the same service: INTERNAL
            span(orders, 6, Some(99)),        // parent not in the recording: SERVER
        ];
        let kinds: Vec<SpanKind> = infer_kinds(&spans, &sources)
            .iter()
            .map(|inferred| inferred.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Server,
                SpanKind::Internal,
                SpanKind::Internal,
                SpanKind::Server,
            ]
        );
        assert_eq!(infer_kinds(&spans, &sources)[1].callee, Some(orders));
    }

    #[test]
    fn severity_comes_from_the_level_word() {
        assert_eq!(
            severity_of("16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: x"),
            Some((9, "INFO"))
        );
        assert_eq!(severity_of("[ERROR] cannot connect"), Some((17, "ERROR")));
        assert_eq!(
            severity_of("2023-01-29 08:43:04,123 WARNING retrying"),
            Some((13, "WARN"))
        );
        assert_eq!(severity_of("\tat com.example.Foo.bar(Foo.java:12)"), None);
        // A level word deep in the message is not the line's level.
        assert_eq!(severity_of("a b c d ERROR"), None);
    }

    #[test]
    fn requests_group_records_by_source_and_metric_name() {
        let mut sources = Sources::default();
        let pod = sources.pod("orders-7d4f5b99fd-ktwc7");
        let exporter = Exporter::new(&sources);
        let series = vec![
            MetricSeries {
                name: "container.network.io".into(),
                unit: "By".into(),
                attributes: vec![("network.io.direction".into(), "receive".into())],
            },
            MetricSeries {
                name: "container.network.io".into(),
                unit: "By".into(),
                attributes: vec![("network.io.direction".into(), "transmit".into())],
            },
        ];
        let samples: Vec<MetricSample> = (0..2)
            .map(|index| MetricSample {
                source: pod,
                series: index,
                time_unix_nano: 1_674_981_669_000_000_000,
                value: 1.5,
            })
            .collect();
        let request = exporter.metrics(&samples, &series);
        assert_eq!(request.resource_metrics.len(), 1);
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 1);
        let Some(metric::Data::Gauge(gauge)) = &metrics[0].data else {
            panic!("a gauge");
        };
        assert_eq!(gauge.data_points.len(), 2);
        let resource = request.resource_metrics[0].resource.as_ref().unwrap();
        let keys: Vec<&str> = resource
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, vec!["service.name", "k8s.pod.name"]);
    }
}
