//! The embedded store end to end, without a server: what is acknowledged can be queried from
//! the head, from segments after a roll, and after a reopen (log replay), and signals are
//! counted exactly once however the data got there.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use sloscope_ingest::SignalType;
use sloscope_model::{SignalKind, TimeRange};
use sloscope_store::{EmbeddedStore, LogQuery, SignalFilter, SpanQuery, Store, StoreConfig, Write};

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn integer(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// `count` server spans of `checkout`, every tenth a 503, starting at `start`.
fn trace_request(first_id: u32, count: u32, start: u64) -> ExportTraceServiceRequest {
    let spans = (0..count)
        .map(|index| {
            let id = first_id + index;
            let status = if id.is_multiple_of(10) { 503 } else { 200 };
            Span {
                trace_id: [&id.to_be_bytes()[..], &[7u8; 12]].concat(),
                span_id: [&id.to_be_bytes()[..], &[9u8; 4]].concat(),
                name: "GET /cart/{id}".into(),
                kind: 2,
                start_time_unix_nano: start + u64::from(index) * 1_000_000,
                end_time_unix_nano: start + u64::from(index) * 1_000_000 + 20_000_000,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", "/cart/{id}"),
                    integer("http.response.status_code", status),
                ],
                status: Some(Status {
                    code: if status >= 500 { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "checkout"),
                    text("service.version", "2.0.1"),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn log_request(body: &str, time: u64) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![text("service.name", "checkout")],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: time,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body.into())),
                    }),
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn write(store: &dyn Store, signal: SignalType, payload: Vec<u8>) {
    let request = sloscope_ingest::decode_protobuf(signal, &payload).unwrap();
    let converted = sloscope_ingest::convert(request, now());
    assert_eq!(converted.rejected.count, 0);
    let acknowledgement = store
        .submit(Write {
            signal,
            payload: payload.into(),
            batch: converted.batch,
        })
        .unwrap();
    acknowledgement.blocking_recv().unwrap().unwrap();
}

fn span_count(store: &dyn Store) -> usize {
    let query = SpanQuery {
        range: TimeRange::new(0, u64::MAX),
        service: Some("checkout".into()),
        operation: None,
        min_duration: None,
        errors_only: false,
        trace_id: None,
        limit: 100_000,
    };
    store.spans(&query).unwrap().len()
}

fn server_totals(store: &dyn Store) -> (u64, u64) {
    let filter = SignalFilter {
        kind: Some(SignalKind::Server),
        service: Some("checkout".into()),
        ..SignalFilter::default()
    };
    let rows = store
        .signals(TimeRange::new(0, now() + 3_600_000_000_000), &filter)
        .unwrap();
    rows.iter().fold((0, 0), |(requests, faults), row| {
        (requests + row.stats.requests, faults + row.stats.faults)
    })
}

#[test]
fn acknowledged_data_survives_rolls_and_reopens_exactly_once() {
    let directory = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(directory.path());
    let start = now() - 600_000_000_000;
    {
        let store = EmbeddedStore::open(config.clone()).unwrap();
        write(
            &store,
            SignalType::Traces,
            trace_request(1, 100, start).encode_to_vec(),
        );
        write(
            &store,
            SignalType::Logs,
            log_request("payment gateway timed out after 30s", start).encode_to_vec(),
        );
        assert_eq!(span_count(&store), 100, "from the head");
        assert_eq!(server_totals(&store), (100, 10));
        store.flush().unwrap();
        assert_eq!(span_count(&store), 100, "from segments");
        write(
            &store,
            SignalType::Traces,
            trace_request(101, 50, start).encode_to_vec(),
        );
        assert_eq!(span_count(&store), 150, "head and segments together");
        // Dropped without a roll: the last 50 spans live only in the log.
    }
    let store = EmbeddedStore::open(config.clone()).unwrap();
    assert_eq!(span_count(&store), 150, "segments plus log replay");
    assert_eq!(
        server_totals(&store),
        (150, 15),
        "rollup files plus replayed deltas, each once"
    );
    store.flush().unwrap();
    drop(store);
    let store = EmbeddedStore::open(config).unwrap();
    assert_eq!(span_count(&store), 150);
    assert_eq!(server_totals(&store), (150, 15));
    let logs = store
        .logs(&LogQuery {
            range: TimeRange::new(0, u64::MAX),
            service: None,
            min_severity: Some(17),
            trace_id: None,
            contains: Some("TIMED OUT".into()),
            limit: 10,
        })
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].body, "payment gateway timed out after 30s");
    assert!(store.stats().segment_count >= 2);
}

#[test]
fn queries_filter_by_duration_status_and_trace() {
    let directory = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(directory.path())).unwrap();
    let start = now() - 60_000_000_000;
    write(
        &store,
        SignalType::Traces,
        trace_request(1, 30, start).encode_to_vec(),
    );
    store.flush().unwrap();
    let base = SpanQuery {
        range: TimeRange::new(start, start + 3_600_000_000_000),
        service: None,
        operation: Some("GET /cart/{id}".into()),
        min_duration: None,
        errors_only: true,
        trace_id: None,
        limit: 100,
    };
    assert_eq!(store.spans(&base).unwrap().len(), 3);
    let slow = SpanQuery {
        errors_only: false,
        min_duration: Some(Duration::from_millis(21)),
        ..base.clone()
    };
    assert_eq!(store.spans(&slow).unwrap().len(), 0);
    let mut trace_id = [7u8; 16];
    trace_id[..4].copy_from_slice(&5u32.to_be_bytes());
    let one_trace = SpanQuery {
        errors_only: false,
        trace_id: Some(trace_id),
        ..base
    };
    let spans = store.spans(&one_trace).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].trace_id, hex::encode(trace_id));
}

#[test]
fn size_retention_deletes_the_oldest_segments() {
    let directory = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(directory.path());
    config.max_bytes = Some(1);
    let store = EmbeddedStore::open(config).unwrap();
    let hour = 3_600_000_000_000;
    write(
        &store,
        SignalType::Traces,
        trace_request(1, 10, now() - 3 * hour).encode_to_vec(),
    );
    store.flush().unwrap();
    write(
        &store,
        SignalType::Traces,
        trace_request(11, 10, now() - hour).encode_to_vec(),
    );
    store.flush().unwrap();
    // With a one-byte budget only the newest segment can remain after each roll.
    assert!(store.stats().segment_count <= 1);
    assert!(span_count(&store) <= 10);
}

#[test]
fn span_samples_are_the_same_traces_in_the_head_and_in_segments() {
    let directory = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(directory.path())).unwrap();
    let start = now() - 600_000_000_000;
    write(
        &store,
        SignalType::Traces,
        trace_request(1, 2_000, start).encode_to_vec(),
    );
    let range = TimeRange::new(start, start + 3_600_000_000_000);
    let ids = |keep: f64| {
        let mut ids: Vec<[u8; 16]> = store
            .span_facts(range, keep, usize::MAX)
            .unwrap()
            .iter()
            .map(|span| span.trace_id)
            .collect();
        ids.sort();
        ids
    };
    let from_head = ids(0.3);
    assert!(
        (450..750).contains(&from_head.len()),
        "{} of 2000 traces kept at 0.3",
        from_head.len()
    );
    assert_eq!(ids(1.0).len(), 2_000);
    store.flush().unwrap();
    assert_eq!(ids(0.3), from_head, "segments sample the same traces");
    let outside = TimeRange::new(start + 1_000_000_000, start + 3_600_000_000_000);
    assert!(
        store
            .span_facts(outside, 1.0, usize::MAX)
            .unwrap()
            .iter()
            .all(|span| span.start_time_unix_nano >= outside.from)
    );
}
