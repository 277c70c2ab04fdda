//! One synthetic breach per kind of cause, through the whole engine: each test asserts which
//! service and kind come out on top, and the evidence that must be behind it.

mod world;

use sloscope_investigate::{
    Cause, CauseKind, ChangeEvent, Figure, Inputs, Report, SpanRecord, TrendSeries, investigate,
};
use world::{ONSET_MINUTE, STATEMENT_ORDERS, Scenario, minute_nanos};

fn top(report: &Report) -> &Cause {
    report
        .causes
        .first()
        .unwrap_or_else(|| panic!("no cause found:\n{}", report.to_markdown()))
}

fn assert_top<'a>(report: &'a Report, service: &str, kind: CauseKind) -> &'a Cause {
    let cause = top(report);
    assert_eq!(
        (cause.service.as_str(), cause.kind),
        (service, kind),
        "unexpected top cause:\n{}",
        report.to_markdown()
    );
    cause
}

/// The lines of the cause's first trend figure.
fn trend(cause: &Cause) -> &[TrendSeries] {
    cause
        .figures
        .iter()
        .find_map(|figure| match figure {
            Figure::Trend { series, .. } => Some(series.as_slice()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no trend figure: {:#?}", cause.figures))
}

/// The span a trace figure of the cause points at, looked up in the breach window's spans.
fn pointed_span<'a>(cause: &Cause, inputs: &'a Inputs) -> &'a SpanRecord {
    let (trace, span) = cause
        .figures
        .iter()
        .find_map(|figure| match figure {
            Figure::Trace {
                trace_id, span_id, ..
            } => Some((trace_id, span_id)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no trace figure: {:#?}", cause.figures));
    inputs
        .breach
        .spans
        .iter()
        .find(|record| {
            hex::encode(record.trace_id) == *trace && hex::encode(record.span_id) == *span
        })
        .expect("the figure's span is in the breach window")
}

fn has_evidence(cause: &Cause, probe: &str, text: &str) -> bool {
    cause
        .evidence
        .iter()
        .any(|item| item.probe == probe && item.summary.contains(text))
}

#[test]
fn a_deployment_with_a_slow_statement() {
    let scenario = Scenario::with_fault(|params| {
        params.versions.insert("checkout", "1.5.0");
        params.statement_ms.insert(STATEMENT_ORDERS, 80.0);
    });
    let inputs = scenario.inputs();
    let report = investigate(&inputs);
    let cause = assert_top(&report, "checkout", CauseKind::Deployment);
    assert!(
        has_evidence(cause, "changes", "version 1.5.0 of checkout"),
        "{cause:#?}"
    );
    // Drawn: requests per version, with the new one, and a slow call of the statement.
    assert!(
        trend(cause).iter().any(|line| line.label == "1.5.0"),
        "{:#?}",
        cause.figures
    );
    // The slow statement is behind it, and is a cause of its own with its remedy.
    assert!(
        has_evidence(cause, "slow_queries", "customer_id = ?"),
        "{cause:#?}"
    );
    let slow = report
        .causes
        .iter()
        .find(|cause| cause.kind == CauseKind::SlowQuery)
        .expect("a slow query cause");
    assert_eq!(slow.service, "checkout");
    let call = pointed_span(slow, &inputs);
    assert!(
        call.db_statement.is_some() && call.duration_nanos >= 40_000_000,
        "{call:#?}"
    );
    assert!(
        slow.remedies
            .iter()
            .any(|remedy| remedy.action.contains("index"))
    );
    assert_eq!(
        report.scope.started_unix_nano,
        Some(minute_nanos(ONSET_MINUTE)),
        "{:#?}",
        report.scope
    );
}

#[test]
fn a_downstream_outage() {
    let scenario = Scenario::with_fault(|params| {
        params.fault_rate.insert("payments", 0.5);
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "payments", CauseKind::Dependency);
    assert!(
        cause
            .evidence
            .iter()
            // Half the requests fail over the last 20 of the window's 30 minutes.
            .any(|item| item.measure == "fault_rate"
                && item.baseline == Some(0.0)
                && item.breach.is_some_and(|rate| rate > 0.3)),
        "{cause:#?}"
    );
    // Its callers failed too, but they rank below it.
    let checkout = report
        .causes
        .iter()
        .find(|cause| cause.service == "checkout");
    assert!(checkout.is_none_or(|checkout| checkout.confidence < cause.confidence));
}

#[test]
fn a_load_spike() {
    let scenario = Scenario::with_fault(|params| {
        params.requests_per_minute = 200;
        params.self_ms.insert("front", 40.0);
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "front", CauseKind::Load);
    assert!(
        cause
            .evidence
            .iter()
            .any(|item| item.measure == "requests_per_minute"
                && item
                    .baseline
                    .is_some_and(|before| (before - 60.0).abs() < 5.0)
                && item.breach.is_some_and(|after| after > 120.0)),
        "{cause:#?}"
    );
}

#[test]
fn a_load_spike_that_saturates_the_cpu_is_load_first() {
    let scenario = Scenario::with_fault(|params| {
        params.requests_per_minute = 200;
        params.cpu.insert("front", 0.97);
        params.self_ms.insert("front", 40.0);
    });
    let report = investigate(&scenario.inputs());
    assert_top(&report, "front", CauseKind::Load);
    // The CPU is how the load hurt, with its own remedy (a higher limit), ranked below.
    let position = |kind: CauseKind| {
        report
            .causes
            .iter()
            .position(|cause| cause.service == "front" && cause.kind == kind)
    };
    assert!(
        position(CauseKind::CpuSaturation).is_some_and(|cpu| cpu > 0),
        "{:#?}",
        report.causes
    );
}

#[test]
fn a_caller_of_the_subject_is_not_why_it_breached() {
    // checkout's statement got slower, and so did front, which calls checkout; front's CPU is
    // busy too, but checkout, the subject, does not call front.
    let scenario = Scenario::with_fault(|params| {
        params.statement_ms.insert(STATEMENT_ORDERS, 80.0);
        params.cpu.insert("front", 0.97);
        params.self_ms.insert("front", 60.0);
    });
    let mut inputs = scenario.inputs();
    inputs.subject.service = String::from("checkout");
    let report = investigate(&inputs);
    assert_eq!(top(&report).service, "checkout", "{:#?}", report.causes);
    if let Some(front) = report.causes.iter().find(|cause| cause.service == "front") {
        assert!(
            has_evidence(front, "dependencies", "checkout does not call front"),
            "{front:#?}"
        );
        assert!(front.confidence < 0.35, "{front:#?}");
    }
}

#[test]
fn cpu_saturation() {
    let scenario = Scenario::with_fault(|params| {
        params.cpu.insert("inventory", 0.97);
        params.self_ms.insert("inventory", 60.0);
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "inventory", CauseKind::CpuSaturation);
    assert!(
        has_evidence(cause, "resources", "process.cpu.utilization"),
        "{cause:#?}"
    );
    // The slower own time is explained by the CPU, not a cause of its own.
    assert!(has_evidence(cause, "self_time", "inventory"), "{cause:#?}");
    assert!(
        !report
            .causes
            .iter()
            .any(|cause| cause.service == "inventory" && cause.kind == CauseKind::CodeRegression)
    );
}

#[test]
fn a_memory_leak() {
    let scenario = Scenario::with_fault(|params| {
        params.memory_mb.insert("checkout", (400.0, 25.0));
        params.self_ms.insert("checkout", 12.0);
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "checkout", CauseKind::MemoryLeak);
    assert!(
        has_evidence(cause, "resources", "grows steadily"),
        "{cause:#?}"
    );
    // Drawn: the memory of each instance over both windows, climbing at the end.
    let lines = trend(cause);
    assert!(!lines.is_empty());
    for line in lines {
        let first = line.points.first().expect("points").1;
        let last = line.points.last().expect("points").1;
        assert!(last > first * 1.5, "{line:?}");
    }
}

#[test]
fn network_delay_on_a_dependency() {
    let scenario = Scenario::with_fault(|params| {
        params.gap_ms.insert(("checkout", "payments"), 120.0);
    });
    let inputs = scenario.inputs();
    let report = investigate(&inputs);
    let cause = assert_top(&report, "payments", CauseKind::Network);
    // Drawn: a call from checkout whose time outside payments' span is the added gap.
    let call = pointed_span(cause, &inputs);
    assert_eq!(call.service, "checkout", "{call:#?}");
    let gap = cause
        .evidence
        .iter()
        .find(|item| item.measure == "gap_ms")
        .expect("the gap is the evidence");
    assert!(
        gap.breach.unwrap_or(0.0) > 50.0 && gap.baseline.unwrap_or(f64::MAX) < 5.0,
        "{gap:?}"
    );
}

#[test]
fn a_new_exception() {
    let scenario = Scenario::with_fault(|params| {
        params.exception = Some((
            "inventory",
            "java.lang.IllegalStateException",
            "stock cache not initialised",
            0.3,
        ));
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "inventory", CauseKind::ErrorPattern);
    assert!(
        has_evidence(cause, "error_patterns", "java.lang.IllegalStateException"),
        "{cause:#?}"
    );
    assert!(
        has_evidence(cause, "error_patterns", "stock cache not initialised"),
        "{cause:#?}"
    );
    // Drawn: the new exception against its baseline rate, and a failed request.
    let rows = cause
        .figures
        .iter()
        .find_map(|figure| match figure {
            Figure::Comparison { rows, .. } => Some(rows),
            _ => None,
        })
        .expect("a comparison of patterns");
    assert!(
        rows.iter()
            .any(|row| row.label.contains("stock cache not initialised")
                && row.baseline == 0.0
                && row.breach > 0.0),
        "{rows:#?}"
    );
}

#[test]
fn a_recorded_change_near_the_start() {
    let mut scenario = Scenario::with_fault(|params| {
        params.fault_rate.insert("checkout", 0.2);
    });
    scenario.changes.push(ChangeEvent {
        time_unix_nano: minute_nanos(ONSET_MINUTE) - 60_000_000_000,
        service: String::from("checkout"),
        kind: String::from("config"),
        description: String::from("lowered the order lock timeout"),
        version: None,
    });
    let report = investigate(&scenario.inputs());
    let cause = assert_top(&report, "checkout", CauseKind::Deployment);
    assert!(
        has_evidence(cause, "changes", "lowered the order lock timeout"),
        "{cause:#?}"
    );
}

#[test]
fn a_healthy_shop_has_no_confident_cause() {
    let scenario = Scenario::with_fault(|_| {});
    let report = investigate(&scenario.inputs());
    assert!(
        report.causes.iter().all(|cause| cause.confidence < 0.3),
        "{}",
        report.to_markdown()
    );
    assert_eq!(report.scope.started_unix_nano, None, "{:#?}", report.scope);
}

#[test]
fn the_report_is_the_same_for_the_same_data_in_another_order() {
    let scenario = Scenario::with_fault(|params| {
        params.fault_rate.insert("payments", 0.3);
        params.cpu.insert("payments", 0.9);
    });
    let inputs = scenario.inputs();
    let first = investigate(&inputs);
    let mut reversed = inputs.clone();
    reversed.breach.spans.reverse();
    reversed.breach.logs.reverse();
    reversed.breach.metrics.reverse();
    reversed.breach.signals.reverse();
    reversed.baseline.spans.reverse();
    reversed.baseline.logs.reverse();
    let second = investigate(&reversed);
    assert_eq!(first, second);
    assert!(!first.causes.is_empty());
}

#[test]
fn the_report_says_what_it_could_not_check() {
    let scenario = Scenario::with_fault(|params| {
        params.fault_rate.insert("payments", 0.5);
    });
    let mut inputs = scenario.inputs();
    inputs.breach.logs.clear();
    inputs.breach.metrics.clear();
    let report = investigate(&inputs);
    let not_checked = report.not_checked.join("\n");
    assert!(not_checked.contains("no logs"), "{not_checked}");
    assert!(not_checked.contains("no metrics"), "{not_checked}");
    assert!(not_checked.contains("no SLO"), "{not_checked}");
    let markdown = report.to_markdown();
    assert!(markdown.contains("## Not checked"), "{markdown}");
    assert!(markdown.contains("| Probe | Evidence |"), "{markdown}");
}
