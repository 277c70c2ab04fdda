//! Imports of OpenSLO v1 and Sloth specs written the way their users write them.

use std::collections::BTreeMap;
use std::path::Path;

use sloscope_slo::import::{ImportReport, import, sloth_default_rules};
use sloscope_slo::parse::{parse_specs, to_yaml};
use sloscope_slo::spec::{
    Budgeting, CalendarUnit, Indicator, MetricQuery, RatioKind, Scope, SloSpec, Window,
};
use sloscope_slo::{AlertPolicy, BurnRule, Severity};

fn import_fixture(file: &str) -> ImportReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(file);
    let report = import(file, &std::fs::read_to_string(path).unwrap());
    // Whatever is imported is a valid spec of sloscope's own format.
    for spec in &report.specs {
        assert_eq!(
            parse_specs("out.yaml", &to_yaml(spec)).unwrap(),
            vec![spec.clone()]
        );
    }
    report
}

fn names(specs: &[SloSpec]) -> Vec<&str> {
    specs.iter().map(|spec| spec.name.as_str()).collect()
}

fn query(metric: &str, labels: &[(&str, &str)]) -> MetricQuery {
    MetricQuery {
        metric: metric.into(),
        labels: labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect(),
    }
}

#[test]
fn openslo_over_sloscope_signals() {
    let report = import_fixture("openslo-checkout.yaml");
    assert_eq!(
        names(&report.specs),
        [
            "checkout-availability",
            "checkout-latency-fast",
            "checkout-latency-not-slow"
        ]
    );
    let availability = &report.specs[0];
    assert_eq!(availability.service, "checkout");
    assert_eq!(
        availability.scope,
        Scope::Operation {
            operation: "POST /checkout".into()
        }
    );
    assert_eq!(availability.indicator, Indicator::Availability);
    assert_eq!(availability.objective, 0.999);
    assert_eq!(availability.window, Window::Rolling { days: 28 });
    assert_eq!(
        availability.description,
        "99.9% of checkouts succeed over 28 days"
    );
    assert_eq!(availability.labels["tier"], "1");
    // The alert policy's two conditions, each with a short window of a twelfth.
    assert_eq!(
        availability.alerting,
        AlertPolicy {
            burn_rules: vec![
                BurnRule {
                    severity: Severity::Page,
                    burn_rate: 13.44,
                    long_minutes: 60,
                    short_minutes: 5
                },
                BurnRule {
                    severity: Severity::Ticket,
                    burn_rate: 2.8,
                    long_minutes: 360,
                    short_minutes: 30
                },
            ],
            pending_minutes: 5,
            ..AlertPolicy::workbook(28 * 24 * 60)
        }
    );
    let fast = &report.specs[1];
    assert_eq!(
        fast.indicator,
        Indicator::Latency {
            threshold_ms: 300.0
        }
    );
    assert_eq!(fast.objective, 0.95);
    assert_eq!(
        fast.window,
        Window::Calendar {
            unit: CalendarUnit::Month,
            timezone: "Europe/Berlin".into()
        }
    );
    assert_eq!(
        fast.budgeting,
        Budgeting::Timeslices {
            slice_minutes: 5,
            slice_target: 0.9
        }
    );
    assert_eq!(fast.alerting, AlertPolicy::workbook(30 * 24 * 60));
    let not_slow = &report.specs[2];
    assert_eq!(
        not_slow.indicator,
        Indicator::Latency {
            threshold_ms: 1000.0
        }
    );
    assert_eq!(not_slow.objective, 0.995);
    assert_eq!(
        report.unmapped,
        [
            "AlertNotificationTarget payments-oncall: notification targets are configured in sloscope's notifier (webhook, Slack, PagerDuty, Alertmanager), not in SLO specs",
            "SLO checkout-availability: AlertPolicy checkout-burn: 1 notification target(s) not carried over: configure notifications in sloscope's notifier",
        ]
    );
    assert!(report.notes.contains(
        &"Service checkout: ignored: sloscope knows services from the telemetry they send (`service.name`)".to_string()
    ));
}

#[test]
fn openslo_over_prometheus_maps_only_plain_sums_of_rates() {
    let report = import_fixture("openslo-prometheus.yaml");
    assert_eq!(names(&report.specs), ["web-availability", "search-latency"]);
    assert_eq!(
        report.specs[0].indicator,
        Indicator::MetricRatio {
            numerator: query("http_requests_total", &[("job", "web"), ("code", "200")]),
            denominator: query("http_requests_total", &[("job", "web")]),
            numerator_is: RatioKind::Good,
        }
    );
    assert_eq!(report.specs[0].scope, Scope::Service);
    let search = &report.specs[1];
    assert_eq!(
        search.indicator,
        Indicator::MetricRatio {
            numerator: query(
                "http_request_duration_seconds_bucket",
                &[("job", "search"), ("le", "0.25")]
            ),
            denominator: query("http_request_duration_seconds_count", &[("job", "search")]),
            numerator_is: RatioKind::Good,
        }
    );
    assert_eq!(search.objective, 0.99);
    assert_eq!(search.window, Window::Rolling { days: 28 });
    // The `op: lte` condition is dropped; the other one stays.
    assert_eq!(
        search.alerting.burn_rules,
        [BurnRule {
            severity: Severity::Ticket,
            burn_rate: 1.0,
            long_minutes: 4320,
            short_minutes: 360
        }]
    );
    assert_eq!(
        report.unmapped,
        [
            "SLO search-latency: AlertPolicy search-burn: AlertCondition cpu-usage-breach: `op: lte` would fire while the burn rate is below the threshold; sloscope rules fire at or above it (use `op: gte`)",
            r#"SLO checkout-latency: SLI checkout-not-5xx ratioMetric good query `sum(rate(http_requests_total{code!~"5.."}[5m]))` is PromQL that cannot be mapped: label matcher `code!~"5.."` uses `!~`, not `=`; only sum(rate(metric{label="value"}[window])) over metrics sent to sloscope maps"#,
            "SLO api-p99: calendar window 1Q cannot be mapped: sloscope has calendar weeks (1w) and months (1M)",
            r#"SLO api-p99: SLI api-p99-latency thresholdMetric `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))` compares a metric's value with `op` and `value` per time slice; sloscope counts good and bad events, so only a `type: sloscope` source maps"#,
            "SLO api-errors: budgetingMethod RatioTimeslices (the average of per-slice ratios) is not supported; read as Occurrences (the ratio of sums), which weighs busy slices more",
            r#"SLO api-errors: SLI api-errors-datadog ratioMetric bad comes from a `Datadog` source; only Prometheus queries of the form sum(rate(metric{label="value"}[window])) and `type: sloscope` sources can be mapped"#,
            r#"SLO api-errors: SLI api-errors-datadog ratioMetric total comes from a `Datadog` source; only Prometheus queries of the form sum(rate(metric{label="value"}[window])) and `type: sloscope` sources can be mapped"#,
        ]
    );
    // Notes are kept only for what was imported.
    assert!(
        report
            .notes
            .iter()
            .all(|note| !note.contains("api-errors") && !note.contains("checkout-latency")),
        "{:?}",
        report.notes
    );
    assert!(report.notes.contains(
        &"SLO web-availability: reads `http_requests_total` from the metrics sent to sloscope (OTLP or Prometheus remote write), not from a Prometheus server".to_string()
    ));
}

#[test]
fn sloth_prometheus_v1() {
    let report = import_fixture("sloth-myservice.yaml");
    assert_eq!(names(&report.specs), ["myservice-payments-errors"]);
    let payments = &report.specs[0];
    assert_eq!(payments.service, "myservice");
    assert_eq!(payments.objective, 0.995);
    assert_eq!(payments.window, Window::Rolling { days: 30 });
    assert_eq!(
        payments.indicator,
        Indicator::MetricRatio {
            numerator: query(
                "payment_requests_total",
                &[("service", "myservice"), ("outcome", "error")]
            ),
            denominator: query("payment_requests_total", &[("service", "myservice")]),
            numerator_is: RatioKind::Bad,
        }
    );
    // The page alert is disabled; Sloth's two ticket rules stay.
    let tickets: Vec<BurnRule> = sloth_default_rules()
        .into_iter()
        .filter(|rule| rule.severity == Severity::Ticket)
        .collect();
    assert_eq!(payments.alerting.burn_rules, tickets);
    assert_eq!(
        payments.labels,
        BTreeMap::from([
            ("category".to_string(), "errors".to_string()),
            ("owner".to_string(), "myteam".to_string()),
            ("repo".to_string(), "myorg/myservice".to_string()),
            ("tier".to_string(), "2".to_string()),
        ])
    );
    assert_eq!(
        report.unmapped,
        [
            r#"SLO myservice-requests-availability: SLI events error_query `sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))` is PromQL that cannot be mapped: label matcher `code=~"(5..|429)"` uses `=~`, not `=`; only sum(rate(metric{label="value"}[window])) over metrics sent to sloscope maps"#,
            r#"SLO myservice-requests-latency: SLI raw error_ratio_query `1 - ( sum(rate(http_request_duration_seconds_bucket{job="myservice",le="0.5"}[{{.window}}])) / sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}])) )` is a precomputed ratio; sloscope sums bad and total events, so it needs both queries"#,
            r#"SLO myservice-apiserver-availability: SLI plugin `sloth-common/kubernetes/apiserver/availability` builds its PromQL inside Sloth; only sum(rate(metric{label="value"}[window])) queries over metrics sent to sloscope can be mapped"#,
        ]
    );
}

#[test]
fn sloth_kubernetes_resource() {
    let report = import_fixture("sloth-k8s.yaml");
    assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
    let [orders] = &report.specs[..] else {
        panic!("{report:?}")
    };
    assert_eq!(orders.name, "checkout-orders-accepted");
    assert_eq!(orders.objective, 0.95);
    assert_eq!(
        orders.indicator,
        Indicator::MetricRatio {
            numerator: query("orders_total", &[("status", "rejected")]),
            denominator: query("orders_total", &[]),
            numerator_is: RatioKind::Bad,
        }
    );
    let pages: Vec<BurnRule> = sloth_default_rules()
        .into_iter()
        .filter(|rule| rule.severity == Severity::Page)
        .collect();
    assert_eq!(orders.alerting.burn_rules, pages);
    assert_eq!(orders.labels["cluster"], "eu-1");
}

#[test]
fn unknown_documents_and_broken_yaml_are_reported() {
    let report = import(
        "mixed.yaml",
        "kind: Deployment\napiVersion: apps/v1\n---\napiVersion: openslo/v1alpha\nkind: SLO\n",
    );
    assert!(report.specs.is_empty());
    assert_eq!(
        report.unmapped,
        [
            "document at line 1: neither OpenSLO v1 (`apiVersion: openslo/v1`) nor Sloth (`version: prometheus/v1`)",
            "document at line 4: apiVersion `openslo/v1alpha` is not supported; only openslo/v1",
        ]
    );
    let broken = import("broken.yaml", "version: prometheus/v1\nslos: [\n");
    assert_eq!(broken.unmapped.len(), 1);
    assert!(
        broken.unmapped[0].starts_with("broken.yaml:"),
        "{:?}",
        broken.unmapped
    );
}
