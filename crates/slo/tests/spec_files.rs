//! The shipped examples, a file full of mistakes and a directory of spec files, read the way
//! the server and `sloscope slo validate` read them.

use std::path::{Path, PathBuf};

use sloscope_slo::parse::{parse_specs, to_yaml, validate_dir};
use sloscope_slo::spec::{Indicator, Scope, Window};
use sloscope_slo::{AlertPolicy, Severity};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(relative: &str) -> String {
    std::fs::read_to_string(manifest_dir().join("tests/fixtures").join(relative)).unwrap()
}

#[test]
fn the_shipped_examples_are_valid_and_round_trip() {
    let examples = manifest_dir().join("../../examples/slos");
    let results = validate_dir(&examples);
    assert_eq!(results.len(), 3, "{results:?}");
    let mut names = Vec::new();
    for (path, result) in results {
        let specs = result.unwrap_or_else(|errors| panic!("{}:\n{errors}", path.display()));
        for spec in specs {
            let written = to_yaml(&spec);
            assert_eq!(
                parse_specs("written.yaml", &written).unwrap(),
                vec![spec.clone()],
                "{written}"
            );
            names.push(spec.name);
        }
    }
    assert_eq!(
        names,
        [
            "checkout-db-latency",
            "checkout-availability",
            "customers-availability",
            "customers-latency",
            "customers-errors",
            "payments-success",
        ]
    );
}

#[test]
fn the_examples_say_what_their_comments_say() {
    let text =
        std::fs::read_to_string(manifest_dir().join("../../examples/slos/customers.yaml")).unwrap();
    let specs = parse_specs("customers.yaml", &text).unwrap();
    assert_eq!(specs[0].alerting, AlertPolicy::workbook(30 * 24 * 60));
    assert_eq!(
        specs[0].scope,
        Scope::Operation {
            operation: "GET /customers/{id}".into()
        }
    );
    // 7 days: the workbook windows times 7/30.
    let latency = &specs[1];
    assert_eq!(
        latency.indicator,
        Indicator::Latency {
            threshold_ms: 200.0
        }
    );
    assert_eq!(latency.window, Window::Rolling { days: 7 });
    let windows: Vec<(i64, i64)> = latency
        .alerting
        .burn_rules
        .iter()
        .map(|rule| (rule.long_minutes, rule.short_minutes))
        .collect();
    assert_eq!(windows, [(14, 1), (84, 7), (1008, 84)]);
    let errors = &specs[2];
    let tickets: Vec<(f64, i64, i64)> = errors
        .alerting
        .burn_rules
        .iter()
        .filter(|rule| rule.severity == Severity::Ticket)
        .map(|rule| (rule.burn_rate, rule.long_minutes, rule.short_minutes))
        .collect();
    assert_eq!(tickets, [(3.0, 1440, 120), (1.0, 4320, 360)]);
    assert_eq!(errors.alerting.min_events, 50);
    assert_eq!(errors.alerting.budget_warning, 0.25);
}

#[test]
fn every_error_of_a_bad_file_is_reported_with_its_line() {
    let errors = parse_specs("many-errors.yaml", &fixture("invalid/many-errors.yaml")).unwrap_err();
    let expected = "\
many-errors.yaml:2:1: objective: required field is missing
many-errors.yaml:8:1: objectve: unknown field `objectve` (did you mean `objective`?), expected one of `apiVersion`, `kind`, `name`, `description`, `service`, `environment`, `operation`, `dependency`, `indicator`, `objective`, `window`, `budgeting`, `alerting`, `exclusions`, `labels`
many-errors.yaml:9:9: window: window must be 1-400 days, got 500d
many-errors.yaml:21:39: alerting.page[1].short: short window 2h must be shorter than long window 1h
many-errors.yaml:22:12: alerting.no_data: must be whole minutes, got 30s
many-errors.yaml:24:12: exclusions[0].cron: `0 2 * * SUNDAY`: day-of-week field `SUNDAY`: `SUNDAY` is neither a number nor a name (SUN, MON, TUE, WED, THU, FRI, SAT)
many-errors.yaml:28:7: name: SLO name `customers-availability` is already used at line 4
many-errors.yaml:30:20: indicator.ratio.total: required field is missing
many-errors.yaml:32:37: window.timezone: unknown time zone `Mars/Olympus`: use an IANA name such as Europe/Berlin, America/New_York or UTC";
    assert_eq!(errors.to_string(), expected);
}

#[test]
fn a_directory_is_read_recursively_and_names_are_unique_across_files() {
    let dir = manifest_dir().join("tests/fixtures/dir");
    let results = validate_dir(&dir);
    let paths: Vec<PathBuf> = results
        .iter()
        .map(|(path, _)| path.strip_prefix(&dir).unwrap().to_path_buf())
        .collect();
    // Hidden files and other extensions are not read.
    assert_eq!(
        paths,
        [
            PathBuf::from("a-customers.yaml"),
            PathBuf::from("nested/b-orders.yml")
        ]
    );
    assert_eq!(
        results[0].1.as_ref().unwrap()[0].name,
        "customers-availability"
    );
    let errors = results[1].1.as_ref().unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    let error = &errors.errors[0];
    assert_eq!((error.line, error.field.as_str()), (Some(10), "name"));
    assert_eq!(
        error.message,
        format!(
            "SLO name `customers-availability` is already used in {}:3",
            dir.join("a-customers.yaml").display()
        )
    );
}

#[test]
fn a_missing_directory_is_one_error() {
    let results = validate_dir(Path::new("/nonexistent/slos"));
    assert_eq!(results.len(), 1);
    let message = results[0].1.as_ref().unwrap_err().to_string();
    assert!(
        message.starts_with("/nonexistent/slos: cannot list the directory: "),
        "{message}"
    );
}
