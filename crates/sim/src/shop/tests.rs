//! The shop's behaviour: who calls whom, determinism, the daily cycle, and for each scenario
//! that the fault moves the scenario's SLO past its page threshold while normal traffic
//! stays well inside the budget.

use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::scenario::SloTarget;
use crate::telemetry::Value;

const HOUR: u64 = 3600 * SECOND_NANOS;
const MINUTE: u64 = 60 * SECOND_NANOS;
/// 2026-11-20T12:00:00Z: mid-day traffic.
const NOON: u64 = 1_795_608_000 * SECOND_NANOS;

fn run(shop: &mut Shop, until: u64) -> Telemetry {
    let mut telemetry = Telemetry::default();
    while shop.now() < until {
        let next = (shop.now() + MINUTE).min(until);
        shop.step(next);
        telemetry.append(&mut shop.drain());
    }
    telemetry
}

fn service_of(shop: &Shop, record_resource: usize) -> &'static str {
    shop.resources()[record_resource].service
}

fn text<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    span.attribute(key).and_then(Value::as_text)
}

/// Caller -> callee edges: a client or producer span and the server or consumer span it
/// caused, or, for a client span nobody answered in the shop, the database, queue or host.
fn call_graph(shop: &Shop, telemetry: &Telemetry) -> BTreeSet<(String, String)> {
    let mut children: HashMap<SpanId, Vec<&SpanRecord>> = HashMap::new();
    for span in &telemetry.spans {
        if let Some(parent) = span.parent_span_id {
            children.entry(parent).or_default().push(span);
        }
    }
    let mut edges = BTreeSet::new();
    for span in &telemetry.spans {
        if !matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
            continue;
        }
        let caller = service_of(shop, span.resource).to_owned();
        let answered_by = children.get(&span.span_id).and_then(|spans| {
            spans
                .iter()
                .find(|child| matches!(child.kind, SpanKind::Server | SpanKind::Consumer))
        });
        let callee = match answered_by {
            Some(child) => service_of(shop, child.resource).to_owned(),
            None => match (text(span, "db.system"), text(span, "messaging.system")) {
                (Some(system), _) => match text(span, "db.namespace") {
                    Some(namespace) => format!("{system}:{namespace}"),
                    None => system.to_owned(),
                },
                (None, Some(system)) => {
                    format!(
                        "{system}:{}",
                        text(span, "messaging.destination.name").unwrap()
                    )
                }
                (None, None) => text(span, "server.address").unwrap().to_owned(),
            },
        };
        edges.insert((caller, callee));
    }
    edges
}

#[test]
fn the_call_graph_is_the_shops() {
    let mut shop = Shop::new(1, Scenario::SlowQueryAfterDeploy, NOON, NOON + 10 * HOUR);
    let telemetry = run(&mut shop, NOON + 10 * MINUTE);
    let edges = call_graph(&shop, &telemetry);
    let expected: BTreeSet<(String, String)> = [
        ("frontend", "catalog"),
        ("frontend", "customers"),
        ("frontend", "orders"),
        ("customers", "postgresql:customers"),
        ("catalog", "redis"),
        ("catalog", "postgresql:catalog"),
        ("orders", "redis"),
        ("orders", "postgresql:orders"),
        ("orders", "payments"),
        // The producer's message is consumed by the orders notifier.
        ("orders", "orders"),
        ("payments", "api.paymentgateway.example"),
    ]
    .into_iter()
    .map(|(caller, callee)| (caller.to_owned(), callee.to_owned()))
    .collect();
    assert_eq!(edges, expected);

    // Every parent is in the same trace, and a server span lies within its client span.
    let by_id: HashMap<SpanId, &SpanRecord> = telemetry
        .spans
        .iter()
        .map(|span| (span.span_id, span))
        .collect();
    let mut roots = 0;
    for span in &telemetry.spans {
        let Some(parent_id) = span.parent_span_id else {
            assert_eq!(span.kind, SpanKind::Server);
            assert_eq!(service_of(&shop, span.resource), "frontend");
            roots += 1;
            continue;
        };
        let parent = by_id[&parent_id];
        assert_eq!(parent.trace_id, span.trace_id);
        if span.kind == SpanKind::Server {
            assert_eq!(parent.kind, SpanKind::Client);
            assert!(parent.start <= span.start && span.end <= parent.end);
        }
    }
    // About 8 requests a second at the busiest hour.
    assert!(
        (2_500..5_500).contains(&roots),
        "{roots} requests in 10 minutes"
    );
    // Logs carry the trace context of spans that exist.
    let traced: Vec<_> = telemetry.logs.iter().filter_map(|log| log.trace).collect();
    assert!(!traced.is_empty());
    assert!(
        traced
            .iter()
            .all(|(_, span_id)| by_id.contains_key(span_id))
    );
    // Every pod reports CPU and memory every 15 seconds: 40 times in the 10 minutes.
    let cpu = telemetry
        .points
        .iter()
        .filter(|point| point.name == "process.cpu.utilization")
        .count();
    assert_eq!(cpu, 14 * (10 * MINUTE / METRIC_INTERVAL_NANOS) as usize);
    assert_eq!(cpu, 14 * 40);
}

#[test]
fn a_seed_replays_the_same_telemetry() {
    let mut first = Shop::new(9, Scenario::DependencyOutage, NOON, NOON + 2 * MINUTE);
    let mut second = Shop::new(9, Scenario::DependencyOutage, NOON, NOON + 2 * MINUTE);
    let mut other = Shop::new(10, Scenario::DependencyOutage, NOON, NOON + 2 * MINUTE);
    let a = run(&mut first, NOON + 4 * MINUTE);
    // Steps of any size give the same result.
    second.step(NOON + 90 * SECOND_NANOS);
    let mut b = second.drain();
    b.append(&mut run(&mut second, NOON + 4 * MINUTE));
    let c = run(&mut other, NOON + 4 * MINUTE);
    assert_eq!(a.spans, b.spans);
    assert_eq!(a.logs, b.logs);
    assert_eq!(a.points, b.points);
    assert_ne!(a.spans, c.spans);
}

#[test]
fn traffic_follows_the_day() {
    let requests = |from: u64| {
        let mut shop = Shop::new(3, Scenario::TrafficSpike, from, from + HOUR);
        let telemetry = run(&mut shop, from + 10 * MINUTE);
        telemetry
            .spans
            .iter()
            .filter(|span| span.parent_span_id.is_none())
            .count() as f64
    };
    let four_am = NOON - 8 * HOUR;
    let four_pm = NOON + 4 * HOUR;
    let ratio = requests(four_pm) / requests(four_am);
    assert!((2.1..2.9).contains(&ratio), "peak / trough = {ratio}");
}

/// Bad and total events of an SLO over the spans that started in `[from, to)`.
fn slo_events(
    shop: &Shop,
    telemetry: &Telemetry,
    slo: &SloTarget,
    from: u64,
    to: u64,
) -> (u64, u64) {
    let mut bad = 0;
    let mut total = 0;
    for span in &telemetry.spans {
        if !matches!(span.kind, SpanKind::Server | SpanKind::Consumer)
            || service_of(shop, span.resource) != slo.service.name()
            || span.start < from
            || span.start >= to
        {
            continue;
        }
        if let Some(operation) = slo.operation
            && span.name != operation
        {
            continue;
        }
        total += 1;
        let fault = span.error.is_some();
        let is_bad = match slo.latency_threshold_ms {
            Some(threshold) => span.duration() as f64 > threshold * MILLISECOND as f64,
            None => fault,
        };
        bad += u64::from(is_bad);
    }
    (bad, total)
}

fn median_ms(mut durations: Vec<u64>) -> f64 {
    durations.sort_unstable();
    durations[durations.len() / 2] as f64 / MILLISECOND as f64
}

/// Runs a scenario with its fault 20 minutes in, for 3 minutes after it.
fn faulted(scenario: Scenario) -> (Shop, Telemetry, u64) {
    let fault_at = NOON + 20 * MINUTE;
    let mut shop = Shop::new(5, scenario, NOON, fault_at);
    let telemetry = run(&mut shop, fault_at + 3 * MINUTE);
    (shop, telemetry, fault_at)
}

#[test]
fn every_scenario_pages_its_slo_and_only_after_the_fault() {
    for scenario in Scenario::ALL {
        let (shop, telemetry, fault_at) = faulted(scenario);
        let story = scenario.story();
        let targets = scenario.slo_targets();
        let paging = targets
            .iter()
            .find(|target| target.name == story.paging_slo)
            .expect("the paging slo is among the scenario's");
        assert_eq!(paging.service, story.service);
        for target in &targets {
            let (bad, total) = slo_events(&shop, &telemetry, target, NOON, fault_at);
            let budget = 1.0 - target.objective_percent / 100.0;
            assert!(
                total > 200,
                "{scenario}: {} has {total} events",
                target.name
            );
            assert!(
                (bad as f64) < budget * total as f64,
                "{scenario}: {} burns its budget before the fault: {bad} of {total}",
                target.name
            );
        }
        // The workbook's page rule for a 7-day window: 14.4x over 14 minutes and over 1 minute,
        // each window with enough events. It must hold within 90 s of the fault.
        let budget = 1.0 - paging.objective_percent / 100.0;
        let burning = |at: u64, window: u64| {
            let (bad, total) = slo_events(&shop, &telemetry, paging, at - window, at);
            total >= u64::from(paging.min_events) && bad as f64 >= 14.4 * budget * total as f64
        };
        let paged_after = (1..=36).map(|step| step * 5 * SECOND_NANOS).find(|after| {
            burning(fault_at + after, 14 * MINUTE) && burning(fault_at + after, MINUTE)
        });
        assert!(
            paged_after.is_some_and(|after| after <= 90 * SECOND_NANOS),
            "{scenario}: {} pages {:?} s after the fault",
            paging.name,
            paged_after.map(|after| after / SECOND_NANOS)
        );
        // The SLO text parses as the YAML the demo writes: one document per SLO.
        let yaml = scenario.slo_yaml();
        assert_eq!(yaml.matches("kind: SLO").count(), targets.len());
        assert!(yaml.contains(&format!("name: {}\n", story.paging_slo)));
    }
}

#[test]
fn slow_query_after_deploy_changes_customers_queries_and_nothing_upstream_of_them() {
    let (shop, telemetry, fault_at) = faulted(Scenario::SlowQueryAfterDeploy);
    assert_eq!(shop.running_versions(Service::Customers), ["1.4.2"]);
    let version = |span: &SpanRecord| {
        shop.resources()[span.resource]
            .attributes
            .iter()
            .find(|(key, _)| *key == "service.version")
            .and_then(|(_, value)| value.as_text())
            .unwrap()
            .to_owned()
    };
    let statements = |new_version: bool| -> BTreeSet<String> {
        telemetry
            .spans
            .iter()
            .filter(|span| {
                service_of(&shop, span.resource) == "customers"
                    && text(span, "db.system") == Some("postgresql")
                    && (version(span) == "1.4.2") == new_version
            })
            .map(|span| text(span, "db.query.text").unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        statements(false),
        BTreeSet::from([SELECT_CUSTOMER.to_owned()])
    );
    assert_eq!(
        statements(true),
        BTreeSet::from([SELECT_CUSTOMER_WITH_POINTS.to_owned()])
    );
    // Catalog is not touched.
    let catalog = |from: u64, to: u64| {
        median_ms(
            telemetry
                .spans
                .iter()
                .filter(|span| {
                    span.kind == SpanKind::Server
                        && service_of(&shop, span.resource) == "catalog"
                        && (from..to).contains(&span.start)
                })
                .map(SpanRecord::duration)
                .collect(),
        )
    };
    let before = catalog(NOON, fault_at);
    let after = catalog(fault_at, fault_at + 3 * MINUTE);
    assert!((after / before - 1.0).abs() < 0.25, "{before} -> {after}");
}

#[test]
fn network_delay_grows_the_callers_span_not_the_callees() {
    let (shop, telemetry, fault_at) = faulted(Scenario::NetworkDelay);
    let durations = |kind: SpanKind, service: &str, after: bool| {
        median_ms(
            telemetry
                .spans
                .iter()
                .filter(|span| {
                    span.kind == kind
                        && service_of(&shop, span.resource) == service
                        && (kind == SpanKind::Server
                            || text(span, "server.address") == Some("payments"))
                        && (span.start >= fault_at + MINUTE) == after
                        && (after || span.start < fault_at)
                })
                .map(SpanRecord::duration)
                .collect(),
        )
    };
    let callee_before = durations(SpanKind::Server, "payments", false);
    let callee_after = durations(SpanKind::Server, "payments", true);
    let caller_before = durations(SpanKind::Client, "orders", false);
    let caller_after = durations(SpanKind::Client, "orders", true);
    assert!(
        (callee_after / callee_before - 1.0).abs() < 0.25,
        "{callee_before} -> {callee_after}"
    );
    assert!(
        caller_after - caller_before > 500.0,
        "{caller_before} -> {caller_after}"
    );
}

#[test]
fn resource_scenarios_show_in_the_metrics() {
    let series_max =
        |telemetry: &Telemetry, shop: &Shop, name: &str, service: &str, from: u64, to: u64| {
            telemetry
                .points
                .iter()
                .filter(|point| {
                    point.name == name
                        && service_of(shop, point.resource) == service
                        && (from..to).contains(&point.time)
                })
                .map(|point| point.value)
                .fold(0.0, f64::max)
        };
    let (shop, telemetry, fault_at) = faulted(Scenario::CpuSaturation);
    let before = series_max(
        &telemetry,
        &shop,
        "process.cpu.utilization",
        "orders",
        NOON,
        fault_at,
    );
    let after = series_max(
        &telemetry,
        &shop,
        "process.cpu.utilization",
        "orders",
        fault_at + MINUTE,
        fault_at + 3 * MINUTE,
    );
    assert!(before < 0.3 && after > 0.95, "{before} -> {after}");

    let (shop, telemetry, fault_at) = faulted(Scenario::MemoryLeak);
    let before = series_max(
        &telemetry,
        &shop,
        "process.memory.usage",
        "catalog",
        NOON,
        fault_at,
    );
    let after = series_max(
        &telemetry,
        &shop,
        "process.memory.usage",
        "catalog",
        fault_at,
        fault_at + 3 * MINUTE,
    );
    assert!(
        before < 450.0 * MEBIBYTE && after > 800.0 * MEBIBYTE,
        "{before} -> {after}"
    );
    // The leak ends in out-of-memory restarts: the pods' process start moves.
    let restarted = telemetry
        .points
        .iter()
        .any(|point| service_of(&shop, point.resource) == "catalog" && point.start >= fault_at);
    assert!(restarted);

    let (shop, telemetry, fault_at) = faulted(Scenario::TrafficSpike);
    let rate = |from: u64, to: u64| {
        telemetry
            .spans
            .iter()
            .filter(|span| span.parent_span_id.is_none() && (from..to).contains(&span.start))
            .count() as f64
            / ((to - from) / SECOND_NANOS) as f64
    };
    let _ = shop;
    let ratio = rate(fault_at + MINUTE, fault_at + 3 * MINUTE) / rate(NOON, fault_at);
    assert!(ratio > 4.0, "{ratio}");
}

#[test]
fn dependency_outage_and_bad_deploy_fail_where_they_should() {
    let (shop, telemetry, fault_at) = faulted(Scenario::DependencyOutage);
    let timeouts = telemetry
        .spans
        .iter()
        .filter(|span| {
            text(span, "server.address") == Some(PAYMENT_API)
                && span.error.as_deref() == Some("Read timed out")
        })
        .inspect(|span| {
            assert!(span.start >= fault_at);
            assert_eq!(span.duration(), PAYMENT_API_TIMEOUT_NANOS);
        })
        .count();
    assert!(timeouts > 10);
    let _ = shop;

    let (shop, telemetry, fault_at) = faulted(Scenario::BadDeployErrors);
    let panics: Vec<_> = telemetry
        .spans
        .iter()
        .filter(|span| span.events.iter().any(|event| event.name == "exception"))
        .collect();
    assert!(panics.len() > 5);
    for span in panics {
        assert!(span.start >= fault_at);
        assert_eq!(service_of(&shop, span.resource), "orders");
        assert_eq!(span.name, "POST /orders");
    }
}

#[test]
fn a_rescheduled_fault_rolls_out_at_its_new_time_only() {
    let mut shop = Shop::new(4, Scenario::SlowQueryAfterDeploy, NOON, NOON + 5 * MINUTE);
    shop.reschedule_fault(NOON + 20 * MINUTE);
    run(&mut shop, NOON + 19 * MINUTE);
    assert_eq!(shop.running_versions(Service::Customers), ["1.4.1"]);
    run(&mut shop, NOON + 22 * MINUTE);
    assert_eq!(shop.running_versions(Service::Customers), ["1.4.2"]);
    assert_eq!(shop.deploys().last().unwrap().0, NOON + 20 * MINUTE);
}
