//! Investigations: what explains a breach. Probes each look at one kind of evidence in the
//! breach window against a baseline window and return findings with the numbers behind them;
//! the ranker merges findings into suspected causes with confidence and remedies.
//!
//! Everything here is pure (no I/O, no clock, deterministic for the same inputs): fetching
//! the telemetry of the two windows is the server's business.

pub mod input;
pub mod markdown;
pub mod report;
pub mod templates;

pub use input::{
    ChangeEvent, Exception, Inputs, LogLine, MetricSample, SloContext, SpanRecord, Subject,
    Telemetry,
};
pub use report::{Cause, CauseKind, Evidence, IndicatorChange, Remedy, Report, Scope};
pub use templates::{
    CompareConfig, ConfigError, MinerConfig, PatternChange, Template, TemplateId, TemplateMiner,
    WILDCARD, compare, compare_with, grouping_accuracy,
};

/// Runs every probe over the inputs and ranks what they found.
pub fn investigate(inputs: &Inputs) -> Report {
    Report {
        subject: inputs.subject.clone(),
        scope: Scope::default(),
        causes: Vec::new(),
        not_checked: vec![String::from("no probes ran yet")],
    }
}
