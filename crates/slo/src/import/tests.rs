use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A query, the metric it reads and its label matchers.
type QueryCase<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn plain_sums_of_rates_map_onto_metric_queries() {
    let cases: &[QueryCase] = &[
        (
            "sum(rate(http_requests_total[5m]))",
            "http_requests_total",
            &[],
        ),
        (
            r#"sum(rate(http_requests_total{job="api", code='200',}[{{.window}}]))"#,
            "http_requests_total",
            &[("job", "api"), ("code", "200")],
        ),
        (
            "  sum ( increase ( orders_total { status = `rejected` } [1h] ) )\n",
            "orders_total",
            &[("status", "rejected")],
        ),
        (
            r#"sum(rate({__name__="job:requests:rate5m", env="prod"}[5m]))"#,
            "job:requests:rate5m",
            &[("env", "prod")],
        ),
        (
            r#"sum(rate(x{path="/a\"b"}[5m]))"#,
            "x",
            &[("path", "/a\"b")],
        ),
    ];
    for (query, metric, expected_labels) in cases {
        assert_eq!(
            promql_metric_query(query),
            Ok(MetricQuery {
                metric: metric.to_string(),
                labels: labels(expected_labels),
            }),
            "{query}"
        );
    }
}

#[test]
fn other_promql_says_why_it_does_not_map() {
    let cases = [
        (
            r#"sum(rate(http_requests_total{code=~"5.."}[5m]))"#,
            r#"label matcher `code=~"5.."` uses `=~`, not `=`"#,
        ),
        (
            r#"sum(rate(http_requests_total{code!="200"}[5m]))"#,
            r#"label matcher `code!="200"` uses `!=`, not `=`"#,
        ),
        (
            "sum by (code) (rate(x[5m]))",
            "`sum by (...)` groups series; sloscope sums them all",
        ),
        ("avg(rate(x[5m]))", "`avg` is not `sum`"),
        (
            "sum(irate(x[5m]))",
            "`irate(...)` is neither rate nor increase",
        ),
        ("sum(rate(x[5m])) / 2", "`/ 2` follows sum(rate(...))"),
        (
            "sum(rate(x[5m]) offset 1h)",
            "`)` was expected at `offset 1h)`",
        ),
        (
            "sum(rate(x{a=\"1\", a=\"2\"}[5m]))",
            "label `a` is matched twice",
        ),
        ("sum(rate({}[5m]))", "no metric name"),
        ("1 - sum(rate(x[5m]))", "it does not start with sum("),
        ("sum(rate(x{a=\"1}[5m]))", "a label value is not closed"),
        ("sum(rate(x[5m)", "the range `[...]` is not closed"),
    ];
    for (query, why) in cases {
        assert_eq!(promql_metric_query(query), Err(why.to_string()), "{query}");
    }
}

fn openslo_slo(spec_body: &str) -> String {
    format!(
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: Checkout_Latency\nspec:\n  service: checkout\n{spec_body}"
    )
}

const SLOSCOPE_LATENCY: &str = "  indicator:\n    spec:\n      thresholdMetric:\n        metricSource:\n          type: sloscope\n          spec: {service: checkout, indicator: latency, threshold_ms: 250}\n";

#[test]
fn names_are_made_valid_and_objectives_without_names_are_numbered() {
    let text = openslo_slo(&format!(
        "{SLOSCOPE_LATENCY}  timeWindow: [{{duration: 1w, isRolling: true}}]\n  budgetingMethod: Occurrences\n  objectives:\n    - target: 0.99\n    - targetPercent: 99.9\n"
    ));
    let report = import("f.yaml", &text);
    assert_eq!(
        report
            .specs
            .iter()
            .map(|spec| (spec.name.as_str(), spec.objective))
            .collect::<Vec<_>>(),
        [("checkout-latency-1", 0.99), ("checkout-latency-2", 0.999)]
    );
    assert_eq!(report.specs[0].window, Window::Rolling { days: 7 });
    assert_eq!(
        report.specs[0].indicator,
        Indicator::Latency {
            threshold_ms: 250.0
        }
    );
    assert!(
        report.notes.contains(
            &"SLO Checkout_Latency: renamed `checkout-latency`: names are a-z, 0-9 and `-`"
                .to_string()
        ),
        "{:?}",
        report.notes
    );
    assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
}

#[test]
fn unknown_fields_and_missing_references_are_reported() {
    let text = openslo_slo(
        "  indicatorRef: nowhere\n  timeWindow: [{duration: 30d, isRolling: true}]\n  budgetingMethod: Occurrences\n  objective: [{target: 0.99}]\n  objectives: [{target: 0.99, targt: 1}]\n",
    );
    let report = import("f.yaml", &text);
    assert!(report.specs.is_empty());
    assert_eq!(
        report.unmapped,
        [
            "SLO Checkout_Latency: field `spec.objective` is not known to the importer; ignored",
            "SLO Checkout_Latency: indicatorRef `nowhere` names no SLI in this file",
            "SLO Checkout_Latency: field `spec.objectives[0].targt` is not known to the importer; ignored",
        ]
    );
}

#[test]
fn windows_and_time_slices_that_do_not_fit() {
    let run = |window: &str, objective: &str| {
        let text = openslo_slo(&format!(
            "{SLOSCOPE_LATENCY}  timeWindow: [{window}]\n  budgetingMethod: Timeslices\n  objectives: [{objective}]\n"
        ));
        import("f.yaml", &text)
    };
    let report = run(
        "{duration: 1M, isRolling: true}",
        "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 30m}",
    );
    assert_eq!(
        report.unmapped,
        [
            "SLO checkout-latency: spec.objectives[0].timeSliceWindow 30m cannot be mapped: sloscope slices are 1m to 15m, written as a duration"
        ]
    );
    let report = run(
        "{duration: 1M, isRolling: true}",
        "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
    );
    assert_eq!(report.specs[0].window, Window::Rolling { days: 30 });
    assert!(
        report.notes.contains(
            &"SLO Checkout_Latency: rolling window 1M read as 30d (30 days a month)".to_string()
        ),
        "{:?}",
        report.notes
    );
    let report = run(
        "{duration: 1w, calendar: {startTime: '2026-01-07 00:00:00', timeZone: Asia/Tokyo}}",
        "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
    );
    assert_eq!(
        report.specs[0].window,
        Window::Calendar {
            unit: CalendarUnit::Week,
            timezone: "Asia/Tokyo".into()
        }
    );
    // 2026-01-07 is a Wednesday: weeks here start on Monday.
    assert_eq!(
        report.unmapped,
        [
            "SLO Checkout_Latency: calendar startTime `2026-01-07 00:00:00` is not used: sloscope's calendar weeks start on Monday and months on the 1st, at 00:00 in the time zone"
        ]
    );
    let report = run(
        "{duration: 1w, calendar: {startTime: '2026-01-05 00:00:00', timeZone: Asia/Tokio}}",
        "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
    );
    assert_eq!(
        report.unmapped,
        ["SLO Checkout_Latency: unknown time zone `Asia/Tokio` in timeWindow.calendar.timeZone"]
    );
}

#[test]
fn sloth_rules_that_cannot_fire_are_dropped_with_a_reason() {
    let text = "version: prometheus/v1\nservice: batch\nslos:\n  - name: jobs\n    objective: 90\n    sli:\n      events:\n        error_query: sum(rate(jobs_total{result=\"failed\"}[{{.window}}]))\n        total_query: sum(rate(jobs_total[{{.window}}]))\n";
    let report = import("sloth.yaml", text);
    let [jobs] = &report.specs[..] else {
        panic!("{report:?}")
    };
    // At 90 % every event bad burns at 10x: the 14.4x page can never fire.
    assert_eq!(jobs.alerting.burn_rules, sloth_default_rules()[1..]);
    assert_eq!(
        report.unmapped,
        [
            "SLO batch-jobs: the page rule at 14.4x over 1h/5m can never fire with objective 90: when every event is bad the budget burns at 10x; dropped"
        ]
    );
}

#[test]
fn names_already_used_are_reported() {
    let sloth = "version: prometheus/v1\nservice: api\nslos:\n  - name: up\n    objective: 99\n    sli: {events: {error_query: 'sum(rate(e[5m]))', total_query: 'sum(rate(t[5m]))'}}\n  - name: up\n    objective: 99.9\n    sli: {events: {error_query: 'sum(rate(e[5m]))', total_query: 'sum(rate(t[5m]))'}}\n";
    let report = import("f.yaml", sloth);
    assert_eq!(report.specs.len(), 1);
    assert_eq!(
        report.unmapped,
        ["SLO api-up: SLO name `api-up` is already used by SLO api-up; rename one of them"]
    );
}

#[test]
fn sloscope_documents_pass_through() {
    let text = "apiVersion: sloscope/v1\nkind: SLO\nname: a\nservice: a\nindicator: availability\nobjective: 99\n---\napiVersion: sloscope/v1\nkind: SLO\nname: b\nservice: b\nindicator: availability\nobjective: 100\n";
    let report = import("mixed.yaml", text);
    assert_eq!(report.specs.len(), 1);
    assert_eq!(
        report.unmapped,
        ["mixed.yaml:13:12: objective: objective must be between 0 and 100 (exclusive), got 100"]
    );
}

#[test]
fn unused_openslo_objects_are_noted() {
    let text =
        "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: orphan}\nspec: {ratioMetric: {}}\n";
    let report = import("f.yaml", text);
    assert_eq!(
        report.notes,
        ["SLI orphan: no SLO in the file uses it; nothing to import"]
    );
}
