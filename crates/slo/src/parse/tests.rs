use proptest::prelude::*;

use super::*;

const FULL: &str = r#"apiVersion: sloscope/v1
kind: SLO
name: customers-availability
description: Customers answers without faults
service: customers
environment: production
operation: GET /customers/{id}
indicator:
  availability: {}
objective: 99.9
window: 30d
budgeting: occurrences
alerting:
  page: [{burn_rate: 14.4, long: 1h, short: 5m}, {burn_rate: 6, long: 6h, short: 30m}]
  ticket: [{burn_rate: 1, long: 3d, short: 6h}]
  min_events: 20
  budget_warning: 50
  no_data: 15m
  pending: 0m
exclusions:
  - {from: 2026-11-01T02:00:00Z, to: 2026-11-01T04:00:00Z, reason: planned maintenance}
  - {cron: "0 2 * * 0", duration: 2h, reason: weekly maintenance}
labels: {team: customers, tier: "1"}
"#;

/// Six lines of a valid SLO, then `extra` from line 7; a base field that `extra` sets again
/// becomes a comment, so that lines keep their numbers.
fn minimal(extra: &str) -> String {
    let base = [
        "apiVersion: sloscope/v1",
        "kind: SLO",
        "name: checkout",
        "service: checkout",
        "indicator: {availability: {}}",
        "objective: 99",
    ];
    let mut text = String::new();
    for line in base {
        let key = line.split(':').next().unwrap();
        let overridden = extra
            .lines()
            .any(|extra_line| extra_line.starts_with(&format!("{key}:")));
        text.push_str(if overridden { "# set below" } else { line });
        text.push('\n');
    }
    text + extra
}

fn errors_of(text: &str) -> Vec<SpecError> {
    match parse_specs("slos.yaml", text) {
        Ok(specs) => panic!("expected errors, parsed {specs:?}"),
        Err(errors) => errors.errors,
    }
}

#[test]
fn the_documented_example_parses() {
    let specs = parse_specs("customers.yaml", FULL).unwrap();
    let [spec] = &specs[..] else {
        panic!("one spec expected")
    };
    assert_eq!(spec.name, "customers-availability");
    assert_eq!(spec.environment.as_deref(), Some("production"));
    assert_eq!(
        spec.scope,
        Scope::Operation {
            operation: "GET /customers/{id}".into()
        }
    );
    assert_eq!(spec.indicator, Indicator::Availability);
    assert_eq!(spec.objective, 0.999);
    assert_eq!(spec.window, Window::Rolling { days: 30 });
    // The explicit rules are the workbook's for 30 days.
    assert_eq!(spec.alerting, AlertPolicy::workbook(30 * 24 * 60));
    assert_eq!(
        spec.exclusions[0],
        Exclusion::Once {
            from: 1_793_498_400,
            to: 1_793_505_600,
            reason: "planned maintenance".into()
        }
    );
    assert_eq!(
        spec.exclusions[1],
        Exclusion::Recurring {
            cron: "0 2 * * 0".into(),
            duration_minutes: 120,
            reason: "weekly maintenance".into()
        }
    );
    assert_eq!(spec.labels["tier"], "1");
}

#[test]
fn defaults_scale_with_the_window() {
    let spec = &parse_specs("f.yaml", &minimal("window: 7d\n")).unwrap()[0];
    assert_eq!(spec.alerting, AlertPolicy::workbook(7 * 24 * 60));
    let page = &spec.alerting.burn_rules[0];
    assert_eq!((page.long_minutes, page.short_minutes), (14, 1));
    let ticket = spec.alerting.burn_rules.last().unwrap();
    assert_eq!(ticket.long_minutes, 7 * 3 * 24 * 60 / 30);
    // Without a window: 30 days, occurrences.
    let spec = &parse_specs("f.yaml", &minimal("")).unwrap()[0];
    assert_eq!(spec.window, Window::Rolling { days: 30 });
    assert_eq!(spec.budgeting, Budgeting::Occurrences);
    assert_eq!(spec.alerting.burn_rules[0].long_minutes, 60);
}

#[test]
fn alerting_keys_replace_only_their_defaults() {
    let spec = &parse_specs(
        "f.yaml",
        &minimal("window: 28d\nalerting:\n  page: [{burn_rate: 10, long: 2h}]\n  pending: 2m\n"),
    )
    .unwrap()[0];
    let defaults = AlertPolicy::workbook(28 * 24 * 60);
    assert_eq!(
        spec.alerting.burn_rules[0],
        BurnRule {
            severity: Severity::Page,
            burn_rate: 10.0,
            long_minutes: 120,
            short_minutes: 10
        }
    );
    // The ticket rule is still the scaled default.
    assert_eq!(spec.alerting.burn_rules[1..], defaults.burn_rules[2..]);
    assert_eq!(spec.alerting.pending_minutes, 2);
    assert_eq!(spec.alerting.min_events, defaults.min_events);
    let no_paging = &parse_specs("f.yaml", &minimal("alerting: {page: []}\n")).unwrap()[0];
    assert!(
        no_paging
            .alerting
            .burn_rules
            .iter()
            .all(|rule| rule.severity == Severity::Ticket)
    );
}

#[test]
fn other_indicators_scopes_windows_and_budgeting() {
    let text = r#"apiVersion: sloscope/v1
kind: SLO
name: shop-db-latency
service: checkout
dependency: {remote_service: "postgresql:shop", remote_operation: SELECT}
indicator:
  latency: {threshold_ms: 250}
objective: 99.5
window: {calendar: month, timezone: Europe/Berlin}
budgeting: {timeslices: {slice: 5m, target: 95}}
---
apiVersion: sloscope/v1
kind: SLO
name: payments-ratio
service: payments
indicator:
  ratio:
    bad: {metric: payments_failed_total, labels: {provider: stripe}}
    total: {metric: payments_total}
objective: 99.95
window: 4w
---
apiVersion: sloscope/v1
kind: SLO
name: api-errors
service: api
indicator: error_rate
objective: 99
window: {calendar: week}
"#;
    let specs = parse_specs("f.yaml", text).unwrap();
    assert_eq!(
        specs[0].scope,
        Scope::Dependency {
            remote_service: "postgresql:shop".into(),
            remote_operation: Some("SELECT".into())
        }
    );
    assert_eq!(
        specs[0].indicator,
        Indicator::Latency {
            threshold_ms: 250.0
        }
    );
    assert_eq!(
        specs[0].window,
        Window::Calendar {
            unit: CalendarUnit::Month,
            timezone: "Europe/Berlin".into()
        }
    );
    assert_eq!(
        specs[0].budgeting,
        Budgeting::Timeslices {
            slice_minutes: 5,
            slice_target: 0.95
        }
    );
    let Indicator::MetricRatio {
        numerator,
        denominator,
        numerator_is,
    } = &specs[1].indicator
    else {
        panic!("ratio expected")
    };
    assert_eq!(numerator.metric, "payments_failed_total");
    assert_eq!(numerator.labels["provider"], "stripe");
    assert_eq!(denominator.metric, "payments_total");
    assert_eq!(*numerator_is, RatioKind::Bad);
    assert_eq!(specs[1].window, Window::Rolling { days: 28 });
    assert_eq!(specs[2].indicator, Indicator::ErrorRate);
    assert_eq!(
        specs[2].window,
        Window::Calendar {
            unit: CalendarUnit::Week,
            timezone: "UTC".into()
        }
    );
}

/// Each case: a document, then the line, field and message of its one error.
#[test]
fn every_error_names_its_line_and_field() {
    let cases: &[(&str, u64, &str, &str)] = &[
        (
            "objective: 100\n",
            7,
            "objective",
            "objective must be between 0 and 100 (exclusive), got 100",
        ),
        (
            "objectve: 99\n",
            7,
            "objectve",
            "unknown field `objectve` (did you mean `objective`?), expected one of `apiVersion`, `kind`, `name`, `description`, `service`, `environment`, `operation`, `dependency`, `indicator`, `objective`, `window`, `budgeting`, `alerting`, `exclusions`, `labels`",
        ),
        (
            "alerting:\n  page:\n    - {burn_rate: 14.4, long: 1h}\n    - {burn_rate: 6, long: 1h, short: 2h}\n",
            10,
            "alerting.page[1].short",
            "short window 2h must be shorter than long window 1h",
        ),
        (
            "window: 500d\n",
            7,
            "window",
            "window must be 1-400 days, got 500d",
        ),
        (
            "window: 36h\n",
            7,
            "window",
            "window must be 1-400 days, got 36h",
        ),
        (
            "window: soon\n",
            7,
            "window",
            "`soon` is not a duration such as 30s, 5m, 1h, 3d or 2w",
        ),
        (
            "window: {calendar: quarter}\n",
            7,
            "window.calendar",
            "must be `week` or `month`, got the text `quarter`",
        ),
        (
            "window: {calendar: month, timezone: Europe/Berln}\n",
            7,
            "window.timezone",
            "unknown time zone `Europe/Berln`: use an IANA name such as Europe/Berlin, America/New_York or UTC",
        ),
        (
            "budgeting: {timeslices: {slice: 20m, target: 95}}\n",
            7,
            "budgeting.timeslices.slice",
            "a slice is 1m to 15m long, got 20m",
        ),
        (
            "budgeting: {timeslices: {slice: 30s, target: 95}}\n",
            7,
            "budgeting.timeslices.slice",
            "must be whole minutes, got 30s",
        ),
        (
            "budgeting: {timeslices: {slice: 5m, target: 0}}\n",
            7,
            "budgeting.timeslices.target",
            "a slice target is a percentage above 0 and at most 100, got 0",
        ),
        (
            "exclusions:\n  - {cron: \"0 25 * * *\", duration: 1h, reason: nightly}\n",
            8,
            "exclusions[0].cron",
            "`0 25 * * *`: hour field `25`: 25 is out of range 0-23",
        ),
        (
            "exclusions:\n  - {cron: \"0 2 * *\", duration: 1h, reason: nightly}\n",
            8,
            "exclusions[0].cron",
            "`0 2 * *`: a cron expression has 5 fields (minute hour day-of-month month day-of-week), got 4",
        ),
        (
            "exclusions:\n  - {from: 2026-11-01T04:00:00Z, to: 2026-11-01T02:00:00Z, reason: x}\n",
            8,
            "exclusions[0].to",
            "must be after `from`",
        ),
        (
            "exclusions:\n  - {from: yesterday, to: 2026-11-01T02:00:00Z, reason: x}\n",
            8,
            "exclusions[0].from",
            "must be an RFC 3339 timestamp such as 2026-11-01T02:00:00Z, got the text `yesterday`",
        ),
        (
            "exclusions:\n  - {cron: \"0 2 * * 0\", reason: x, from: 2026-11-01T02:00:00Z}\n",
            8,
            "exclusions[0]",
            "an exclusion has either `from` and `to` (one period) or `cron` and `duration` (a recurring one)",
        ),
        (
            "exclusions:\n  - {cron: \"0 2 * * 0\", duration: 2h}\n",
            8,
            "exclusions[0].reason",
            "required field is missing",
        ),
        (
            "alerting: {page: [{burn_rate: 200, long: 1h}]}\n",
            7,
            "alerting.page[0].burn_rate",
            "burn rate 200 can never be reached with objective 99: when every event is bad the budget burns at 100",
        ),
        (
            "alerting: {ticket: [{burn_rate: 1, long: 40d}]}\n",
            7,
            "alerting.ticket[0].long",
            "long window 40d is longer than the SLO window 30d",
        ),
        (
            "alerting: {page: [{burn_rate: 2, long: 1h}, {burn_rate: 3, long: 1h}]}\n",
            7,
            "alerting.page[1]",
            "the windows 1h/5m are already used by alerting.page[0]; each rule needs its own pair of windows",
        ),
        (
            "alerting: {min_events: -1}\n",
            7,
            "alerting.min_events",
            "must be a whole number of 0 or more, got the number -1",
        ),
        (
            "alerting: {page: {burn_rate: 2, long: 1h}}\n",
            7,
            "alerting.page",
            "must be a list of {burn_rate, long, short} rules, got a mapping",
        ),
        (
            "labels: {tier: 1.5}\n",
            7,
            "labels.tier",
            "must be text, got the number 1.5 (quote it)",
        ),
        (
            "operation: GET /a\ndependency: {remote_service: db}\n",
            7,
            "operation",
            "an SLO covers one operation or one dependency, not both",
        ),
        ("environment: ''\n", 7, "environment", "must not be empty"),
    ];
    for (extra, line, field, message) in cases {
        let errors = errors_of(&minimal(extra));
        assert_eq!(errors.len(), 1, "{extra}: {errors:?}");
        let error = &errors[0];
        assert_eq!(
            (error.line, error.field.as_str(), error.message.as_str()),
            (Some(*line), *field, *message),
            "{extra}"
        );
        assert!(error.column.is_some());
    }
}

#[test]
fn errors_in_the_required_fields_and_the_indicator() {
    let text = "apiVersion: sloscope/v2\nkind: Slo\nname: Checkout_API\nindicator:\n  latency: {}\n  availability: {}\nobjective: high\n";
    let errors = errors_of(text);
    let summary: Vec<(u64, &str, &str)> = errors
        .iter()
        .map(|error| {
            (
                error.line.unwrap(),
                error.field.as_str(),
                error.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "service", "required field is missing"),
            (1, "apiVersion", "must be `sloscope/v1`, got `sloscope/v2`"),
            (2, "kind", "must be `SLO`, got `Slo`"),
            (
                3,
                "name",
                "must be 1-63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit, got `Checkout_API`"
            ),
            (
                6,
                "indicator",
                "an SLO has one indicator, got `latency` and `availability`"
            ),
            (7, "objective", "must be a number, got the text `high`"),
        ]
    );
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let text = format!(
        "{}---\n{}---\n{}",
        minimal("objective: 100\nwindow: 0d\n"),
        minimal("labels: {team: [a]}\n").replace("checkout", "checkout-two"),
        minimal("").replace("name: checkout\n", "name: checkout-two\n")
    );
    let errors = errors_of(&text);
    let summary: Vec<(u64, &str)> = errors
        .iter()
        .map(|error| (error.line.unwrap(), error.field.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (7, "objective"),
            (8, "window"),
            (16, "labels.team"),
            (20, "name"),
        ]
    );
    assert_eq!(
        errors[3].message,
        "SLO name `checkout-two` is already used at line 12"
    );
}

#[test]
fn errors_display_one_line_each() {
    let error = parse_specs(
        "slos/checkout.yaml",
        &minimal("objective: 100\nwindow: 0d\n"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "slos/checkout.yaml:7:12: objective: objective must be between 0 and 100 (exclusive), got 100\n\
         slos/checkout.yaml:8:9: window: window must be 1-400 days, got 0d"
    );
    let syntax = parse_specs("bad.yaml", "name: [a\nobjective: 1\n").unwrap_err();
    assert_eq!(syntax.errors.len(), 1);
    assert!(syntax.to_string().starts_with("bad.yaml:2:"), "{syntax}");
}

#[test]
fn foreign_formats_point_to_import() {
    let errors = errors_of("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        "`openslo/v1` is not sloscope's format; convert the file with `sloscope slo import`"
    );
    let errors = errors_of("version: prometheus/v1\nservice: x\nslos: []\n");
    assert_eq!(errors[0].field, "version");
}

#[test]
fn durations() {
    assert_eq!(parse_duration_seconds("30s"), Ok(30));
    assert_eq!(parse_duration_seconds("5m"), Ok(300));
    assert_eq!(parse_duration_seconds("1h30m"), Ok(5400));
    assert_eq!(parse_duration_seconds("2w"), Ok(14 * 86_400));
    for invalid in [
        "",
        "5",
        "m",
        "5x",
        "1m1h",
        "1h1h",
        "-5m",
        "5 m",
        "99999999999999999999d",
    ] {
        assert!(parse_duration_seconds(invalid).is_err(), "{invalid}");
    }
}

#[test]
fn the_documented_example_round_trips() {
    let specs = parse_specs("customers.yaml", FULL).unwrap();
    let text = to_yaml(&specs[0]);
    assert_eq!(parse_specs("out.yaml", &text).unwrap(), specs);
    // Default alerting is left out.
    assert!(!text.contains("alerting"), "{text}");
    assert!(text.contains("operation: GET /customers/{id}\n"), "{text}");
    assert!(
        text.contains("  - {cron: \"0 2 * * 0\", duration: 2h, reason: weekly maintenance}\n"),
        "{text}"
    );
}

#[test]
fn written_specs_read_like_the_examples() {
    let spec = SloSpec {
        name: "shop-db".into(),
        description: "Shop database: fast SELECTs # really".into(),
        service: "checkout".into(),
        environment: None,
        scope: Scope::Dependency {
            remote_service: "postgresql:shop".into(),
            remote_operation: None,
        },
        indicator: Indicator::Latency { threshold_ms: 12.5 },
        objective: 0.995,
        window: Window::Calendar {
            unit: CalendarUnit::Week,
            timezone: "America/New_York".into(),
        },
        budgeting: Budgeting::Timeslices {
            slice_minutes: 5,
            slice_target: 0.9,
        },
        alerting: AlertPolicy {
            burn_rules: vec![BurnRule {
                severity: Severity::Ticket,
                burn_rate: 2.5,
                long_minutes: 90,
                short_minutes: 7,
            }],
            min_events: 5,
            budget_warning: 0.25,
            no_data_minutes: 30,
            pending_minutes: 3,
        },
        exclusions: vec![],
        labels: BTreeMap::from([("on".into(), "yes".into())]),
    };
    let text = to_yaml(&spec);
    assert_eq!(
        text,
        r#"apiVersion: sloscope/v1
kind: SLO
name: shop-db
description: "Shop database: fast SELECTs # really"
service: checkout
dependency:
  remote_service: "postgresql:shop"
indicator:
  latency: {threshold_ms: 12.5}
objective: 99.5
window: {calendar: week, timezone: America/New_York}
budgeting: {timeslices: {slice: 5m, target: 90}}
alerting:
  page: []
  ticket:
    - {burn_rate: 2.5, long: 90m, short: 7m}
  min_events: 5
  budget_warning: 25
  no_data: 30m
  pending: 3m
labels:
  "on": "yes"
"#
    );
    assert_eq!(parse_specs("out.yaml", &text).unwrap(), vec![spec.clone()]);
    let two = to_yaml_documents(&[
        spec.clone(),
        SloSpec {
            name: "other".into(),
            ..spec
        },
    ]);
    assert_eq!(parse_specs("out.yaml", &two).unwrap().len(), 2);
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _./:{}#,'\"-]{1,20}",
        Just("no".to_string()),
        Just("1.5".to_string()),
        Just("~".to_string()),
        "\\PC{1,8}",
        // Anything at all: controls, line breaks, separators, the byte order mark.
        "(?s).{1,8}",
    ]
    .prop_filter("not blank", |text| !text.trim().is_empty())
}

fn spec_strategy() -> impl Strategy<Value = SloSpec> {
    let scope = prop_oneof![
        Just(Scope::Service),
        text_strategy().prop_map(|operation| Scope::Operation { operation }),
        (text_strategy(), proptest::option::of(text_strategy())).prop_map(
            |(remote_service, remote_operation)| Scope::Dependency {
                remote_service,
                remote_operation
            }
        ),
    ];
    let indicator = prop_oneof![
        Just(Indicator::Availability),
        Just(Indicator::ErrorRate),
        (0.001f64..100_000.0).prop_map(|threshold_ms| Indicator::Latency { threshold_ms }),
    ];
    let window = prop_oneof![
        (1u32..=400).prop_map(|days| Window::Rolling { days }),
        Just(Window::Calendar {
            unit: CalendarUnit::Month,
            timezone: "Asia/Kolkata".into()
        }),
    ];
    let budgeting = prop_oneof![
        Just(Budgeting::Occurrences),
        (1u32..=15, 1u32..=1_000_000).prop_map(|(slice_minutes, millionths)| {
            Budgeting::Timeslices {
                slice_minutes,
                slice_target: fraction_of_percent(f64::from(millionths) / 10_000.0),
            }
        }),
    ];
    (
        "[a-z0-9]{1,10}",
        text_strategy(),
        scope,
        indicator,
        // Objectives as users write them: percentages with up to 6 decimals.
        (50_000_000u32..99_999_999).prop_map(|hundred_millionths| {
            fraction_of_percent(f64::from(hundred_millionths) / 1_000_000.0)
        }),
        window,
        budgeting,
        proptest::collection::btree_map("[a-z_]{1,8}", text_strategy(), 0..4),
        (0i64..100_000, 1u32..1000, text_strategy()),
    )
        .prop_map(
            |(
                name,
                description,
                scope,
                indicator,
                objective,
                window,
                budgeting,
                labels,
                (start, duration, reason),
            )| {
                let alerting = AlertPolicy::workbook(window.period_minutes());
                SloSpec {
                    name,
                    description,
                    service: "svc".into(),
                    environment: Some("prod".into()),
                    scope,
                    indicator,
                    objective,
                    window,
                    budgeting,
                    alerting,
                    exclusions: vec![
                        Exclusion::Once {
                            from: 1_700_000_000 + start,
                            to: 1_700_000_000 + start + 60,
                            reason: reason.clone(),
                        },
                        Exclusion::Recurring {
                            cron: "*/5 1-3 * JAN,FEB MON".into(),
                            duration_minutes: duration,
                            reason,
                        },
                    ],
                    labels,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_valid_spec_round_trips(spec in spec_strategy()) {
        let text = to_yaml(&spec);
        let parsed = parse_specs("round-trip.yaml", &text);
        prop_assert_eq!(parsed, Ok(vec![spec]), "{}", text);
    }
}
