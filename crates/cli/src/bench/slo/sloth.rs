//! The Prometheus rules Sloth (`prometheus/v1` specs, `sloth generate` with its default
//! optimisations) would generate for the fleet's SLOs, written the way Sloth writes them: per
//! SLO one group of SLI recording rules (error ratio over 5m, 30m, 1h, 2h, 6h, 1d and 3d from the
//! raw counters, and over the 30-day period as the mean of the 5m series), one group of
//! metadata rules (objective, budget, burn rates, budget remaining, info) and one group of
//! multi-window multi-burn-rate alerts (page: 14.4x over 1h and 5m or 6x over 6h and 30m;
//! ticket: 3x over 1d and 2h or 1x over 3d and 6h).
//!
//! The raw series, one set per operation, are what an instrumented HTTP server exports:
//! `http_requests_total{service, operation, code="2xx"|"5xx"}` and one histogram bucket,
//! `http_request_duration_seconds_bucket{service, operation, le="0.3"}`.

use std::fmt::Write as _;

use super::fleet::{Fleet, LATENCY_BUCKET_LABEL, SLO_PERIOD_DAYS, SloDefinition, SloKind};

/// The windows of Sloth's SLI recording rules over raw counters.
pub const SLI_WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];
/// The longest window a rule reads raw counters over, in minutes.
pub const LONGEST_RAW_WINDOW_MINUTES: i64 = 3 * 24 * 60;
pub const REQUESTS_METRIC: &str = "http_requests_total";
pub const BUCKET_METRIC: &str = "http_request_duration_seconds_bucket";
pub const SLI_5M_METRIC: &str = "slo:sli_error:ratio_rate5m";

/// Recording and alerting rules per SLO.
pub const RULES_PER_SLO: usize = SLI_WINDOWS.len() + 1 + 7 + 2;
pub const GROUPS_PER_SLO: usize = 3;

/// `{service="…",operation="…"` without the closing brace, for selectors of one operation.
fn operation_selector(fleet: &Fleet, slo: &SloDefinition) -> String {
    let operation = &fleet.operations[slo.operation];
    format!(
        "service=\"{}\",operation=\"{}\"",
        operation.service, operation.name
    )
}

fn error_and_total_queries(fleet: &Fleet, slo: &SloDefinition, window: &str) -> (String, String) {
    let selector = operation_selector(fleet, slo);
    let total = format!("sum(rate({REQUESTS_METRIC}{{{selector}}}[{window}]))");
    let error = match slo.kind {
        SloKind::Availability => {
            format!("sum(rate({REQUESTS_METRIC}{{{selector},code=\"5xx\"}}[{window}]))")
        }
        SloKind::Latency => format!(
            "{total} - sum(rate({BUCKET_METRIC}{{{selector},le=\"{LATENCY_BUCKET_LABEL}\"}}[{window}]))"
        ),
    };
    (error, total)
}

/// The labels Sloth puts on an SLO's series, as a selector body.
fn sloth_selector(fleet: &Fleet, slo: &SloDefinition) -> String {
    format!(
        "sloth_id=\"{}\", sloth_service=\"{}\", sloth_slo=\"{}\"",
        slo.name, fleet.operations[slo.operation].service, slo.short_name
    )
}

fn sloth_labels(out: &mut String, fleet: &Fleet, slo: &SloDefinition, window: Option<&str>) {
    let _ = writeln!(out, "    labels:");
    let _ = writeln!(out, "      sloth_id: {}", slo.name);
    let _ = writeln!(
        out,
        "      sloth_service: {}",
        fleet.operations[slo.operation].service
    );
    let _ = writeln!(out, "      sloth_slo: {}", slo.short_name);
    if let Some(window) = window {
        let _ = writeln!(out, "      sloth_window: {window}");
    }
}

/// The three groups of one SLO, appended to a rule file's `groups:` list.
pub fn write_groups(out: &mut String, fleet: &Fleet, slo: &SloDefinition) {
    let id = &slo.name;
    let selector = sloth_selector(fleet, slo);
    let budget = 1.0 - slo.objective;

    let _ = writeln!(out, "- name: sloth-slo-sli-recordings-{id}");
    let _ = writeln!(out, "  rules:");
    for window in SLI_WINDOWS {
        let (error, total) = error_and_total_queries(fleet, slo, window);
        let _ = writeln!(out, "  - record: slo:sli_error:ratio_rate{window}");
        let _ = writeln!(out, "    expr: |");
        let _ = writeln!(out, "      ({error})");
        let _ = writeln!(out, "      /");
        let _ = writeln!(out, "      ({total})");
        sloth_labels(out, fleet, slo, Some(window));
    }
    let _ = writeln!(
        out,
        "  - record: slo:sli_error:ratio_rate{SLO_PERIOD_DAYS}d"
    );
    let _ = writeln!(out, "    expr: |");
    let _ = writeln!(
        out,
        "      sum_over_time({SLI_5M_METRIC}{{{selector}}}[{SLO_PERIOD_DAYS}d])"
    );
    let _ = writeln!(out, "      / ignoring (sloth_window)");
    let _ = writeln!(
        out,
        "      count_over_time({SLI_5M_METRIC}{{{selector}}}[{SLO_PERIOD_DAYS}d])"
    );
    let _ = writeln!(out, "    labels:");
    let _ = writeln!(out, "      sloth_window: {SLO_PERIOD_DAYS}d");

    let _ = writeln!(out, "- name: sloth-slo-meta-recordings-{id}");
    let _ = writeln!(out, "  rules:");
    let meta: [(&str, String); 7] = [
        ("slo:objective:ratio", format!("vector({})", slo.objective)),
        (
            "slo:error_budget:ratio",
            format!("vector(1-{})", slo.objective),
        ),
        ("slo:time_period:days", format!("vector({SLO_PERIOD_DAYS})")),
        (
            "slo:current_burn_rate:ratio",
            format!(
                "{SLI_5M_METRIC}{{{selector}}} / on(sloth_id, sloth_slo, sloth_service) group_left slo:error_budget:ratio{{{selector}}}"
            ),
        ),
        (
            "slo:period_burn_rate:ratio",
            format!(
                "slo:sli_error:ratio_rate{SLO_PERIOD_DAYS}d{{{selector}}} / on(sloth_id, sloth_slo, sloth_service) group_left slo:error_budget:ratio{{{selector}}}"
            ),
        ),
        (
            "slo:period_error_budget_remaining:ratio",
            format!("1 - slo:period_burn_rate:ratio{{{selector}}}"),
        ),
        ("sloth_slo_info", "vector(1)".to_owned()),
    ];
    for (record, expr) in meta {
        let _ = writeln!(out, "  - record: {record}");
        let _ = writeln!(out, "    expr: |");
        let _ = writeln!(out, "      {expr}");
        sloth_labels(out, fleet, slo, None);
        if record == "sloth_slo_info" {
            let _ = writeln!(out, "      sloth_mode: cli-gen-prom");
            let _ = writeln!(out, "      sloth_spec: prometheus/v1");
        }
    }

    let _ = writeln!(out, "- name: sloth-slo-alerts-{id}");
    let _ = writeln!(out, "  rules:");
    let condition = |window: &str, factor: f64| {
        format!("(slo:sli_error:ratio_rate{window}{{{selector}}} > ({factor} * {budget}))")
    };
    let alerts = [
        ("page", [("5m", "1h", 14.4), ("30m", "6h", 6.0)]),
        ("ticket", [("2h", "1d", 3.0), ("6h", "3d", 1.0)]),
    ];
    for (severity, pairs) in alerts {
        let _ = writeln!(out, "  - alert: SloErrorBudgetBurn");
        let _ = writeln!(out, "    expr: |");
        let mut first = true;
        for (short, long, factor) in pairs {
            if !first {
                let _ = writeln!(out, "      or ignoring (sloth_window)");
            }
            first = false;
            let _ = writeln!(out, "      (");
            let _ = writeln!(out, "        {}", condition(short, factor));
            let _ = writeln!(out, "        and ignoring (sloth_window)");
            let _ = writeln!(out, "        {}", condition(long, factor));
            let _ = writeln!(out, "      )");
        }
        let _ = writeln!(out, "    labels:");
        let _ = writeln!(out, "      sloth_severity: {severity}");
        let _ = writeln!(out, "    annotations:");
        let _ = writeln!(
            out,
            "      summary: High error rate on '{}' {}",
            fleet.operations[slo.operation].service, slo.short_name
        );
        let _ = writeln!(
            out,
            "      title: ({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast."
        );
    }
}

/// One rule file with the groups of `slos`.
pub fn rule_file(fleet: &Fleet, slos: &[&SloDefinition]) -> String {
    let mut out =
        String::from("# Sloth-style SLO rules generated by `sloscope bench slo`.\ngroups:\n");
    for slo in slos {
        write_groups(&mut out, fleet, slo);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_slo_gets_three_groups_and_all_its_rules() {
        let fleet = Fleet::new(2, 1, 29_000_000, 1);
        let text = rule_file(&fleet, &[&fleet.slos[1]]);
        assert_eq!(text.matches("- name: ").count(), GROUPS_PER_SLO);
        let rules = text.matches("  - record: ").count() + text.matches("  - alert: ").count();
        assert_eq!(rules, RULES_PER_SLO);
        assert!(text.contains(
            "sum(rate(http_requests_total{service=\"svc0000\",operation=\"op1\"}[3d])) - sum(rate(http_request_duration_seconds_bucket{service=\"svc0000\",operation=\"op1\",le=\"0.3\"}[3d]))"
        ));
        assert!(
            text.contains(
                "sum_over_time(slo:sli_error:ratio_rate5m{sloth_id=\"svc0000-op1-latency\""
            )
        );
    }
}
