//! Investigations: what explains a breach. Probes each look at one kind of evidence in the
//! breach window against a baseline window and return findings with the numbers behind them;
//! the ranker merges findings into suspected causes with confidence and remedies.
//!
//! Everything here is pure (no I/O, no clock, deterministic for the same inputs): fetching
//! the telemetry of the two windows is the server's business.
//!
//! The flow of [`investigate`]: index both windows once (`context`: spans by id with their
//! children, signals per service and call edge, the service graph), find the scope and the
//! start of the breach (`probes::scope`), run the other probes (`probes`), and rank their
//! findings into causes (`rank`) with remedies (`remedies`).

mod context;
mod finding;
pub mod input;
pub mod markdown;
mod probes;
mod rank;
mod remedies;
pub mod report;
mod stats;
pub mod templates;
#[cfg(test)]
mod testing;

pub use input::{
    ChangeEvent, Exception, Inputs, LogLine, MetricSample, SloContext, SpanRecord, Subject,
    Telemetry,
};
pub use report::{
    Cause, CauseKind, ComparisonRow, Evidence, Figure, IndicatorChange, Remedy, Report, Scope,
    TrendSeries,
};
pub use templates::{
    CompareConfig, ConfigError, MinerConfig, PatternChange, Template, TemplateId, TemplateMiner,
    WILDCARD, compare, compare_with, grouping_accuracy,
};

use crate::context::Context;
use crate::finding::{Finding, Probe};

/// Runs every probe over the inputs and ranks what they found.
pub fn investigate(inputs: &Inputs) -> Report {
    let mut context = Context::build(inputs);
    let scope = probes::scope::run(&context);
    if let Some(started) = scope.started_unix_nano {
        context.started_unix_nano = started;
    }
    let findings = probes::run_all(&context);
    let mut causes = rank::rank(&context, findings);
    if causes.is_empty() {
        causes = unexplained(&context, &scope);
    }
    Report {
        subject: inputs.subject.clone(),
        scope,
        causes,
        not_checked: not_checked(inputs),
    }
}

/// When no probe found anything but the subject did degrade: say so, with the numbers.
fn unexplained(context: &Context<'_>, scope: &Scope) -> Vec<Cause> {
    let moved: Vec<&IndicatorChange> = scope
        .indicators
        .iter()
        .filter(|indicator| indicator.baseline != indicator.breach)
        .collect();
    if scope.started_unix_nano.is_none() || moved.is_empty() {
        return Vec::new();
    }
    let service = context.subject();
    let mut finding = Finding::new(
        Probe::Scope,
        service,
        CauseKind::Unknown,
        0.3,
        format!("{service} degraded and no probe found why"),
    );
    for indicator in moved {
        finding.add(
            format!("{} of {service}", indicator.indicator),
            &indicator.indicator,
            Some(indicator.baseline),
            Some(indicator.breach),
        );
    }
    rank::rank(context, vec![finding])
}

/// What the probes could not look at, from what the inputs lack.
fn not_checked(inputs: &Inputs) -> Vec<String> {
    let breach = &inputs.breach;
    let baseline = &inputs.baseline;
    let mut missing = Vec::new();
    if breach.signals.is_empty() {
        missing.push(String::from(
            "no signals in the breach window: scope, dependencies and load not checked",
        ));
    }
    if baseline.signals.is_empty() && baseline.spans.is_empty() {
        missing.push(String::from(
            "no baseline telemetry: nothing to compare the breach with",
        ));
    }
    if breach.spans.is_empty() {
        missing.push(String::from(
            "no spans in the breach window: where in the request, self time, network and slow queries not checked",
        ));
    } else {
        if breach.spans_sampled || baseline.spans_sampled {
            missing.push(String::from(
                "spans were sampled (more than the fetch limit): span counts are a sample",
            ));
        }
        if !breach.spans.iter().any(|span| span.db_statement.is_some()) {
            missing.push(String::from(
                "no database statements on spans: slow queries not checked",
            ));
        }
        if !breach.spans.iter().any(|span| !span.exceptions.is_empty())
            && !breach
                .spans
                .iter()
                .any(|span| span.status == sloscope_model::StatusCode::Error)
        {
            missing.push(String::from(
                "no span has an error status or an exception event: errors only from logs and signals",
            ));
        }
    }
    let has_versions = breach.spans.iter().any(|span| !span.version.is_empty())
        || breach.signals.iter().any(|row| !row.key.version.is_empty());
    if !has_versions {
        missing.push(String::from(
            "no service.version on spans or signals: deployments not checked (only recorded changes)",
        ));
    }
    if breach.logs.is_empty() {
        missing.push(String::from(
            "no logs in the breach window: log error patterns not checked",
        ));
    }
    if breach.metrics.is_empty() {
        missing.push(String::from(
            "no metrics in the breach window: CPU, memory, pools and other resources not checked",
        ));
    }
    if inputs.slo.is_none() {
        missing.push(String::from(
            "no SLO given: distance from target and budget not computed",
        ));
    }
    missing
}
