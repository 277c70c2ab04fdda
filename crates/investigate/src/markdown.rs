//! The report as Markdown: the scope, the ranked causes with their evidence and remedies, and
//! what could not be checked. Plain CommonMark with GFM tables, so it renders in a chat
//! message, an issue or a terminal pager alike.

use std::fmt::Write;

use crate::finding::{format_ms, format_percent};
use crate::report::{CauseKind, IndicatorChange, Report};

/// A unix-nanosecond instant as RFC 3339 in UTC, to the second (`2026-11-21T10:00:00Z`).
pub fn format_time(unix_nano: u64) -> String {
    sloscope_model::format_timestamp(unix_nano)
}

/// The kind as a reader says it.
pub fn kind_label(kind: CauseKind) -> &'static str {
    match kind {
        CauseKind::Deployment => "deployment",
        CauseKind::SlowQuery => "slow query",
        CauseKind::Dependency => "degraded dependency",
        CauseKind::ErrorPattern => "error pattern",
        CauseKind::Load => "load",
        CauseKind::CpuSaturation => "CPU saturation",
        CauseKind::MemoryLeak => "memory leak",
        CauseKind::ResourceExhaustion => "resource exhaustion",
        CauseKind::Network => "network",
        CauseKind::CodeRegression => "code regression",
        CauseKind::Unknown => "unknown",
    }
}

/// Escapes what would break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn number(value: Option<f64>) -> String {
    match value {
        None => String::from("–"),
        Some(value) if value == value.trunc() && value.abs() < 1e12 => format!("{value:.0}"),
        Some(value) => {
            let text = format!("{value:.4}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    }
}

fn indicator_value(indicator: &IndicatorChange, value: f64) -> String {
    match indicator.indicator.as_str() {
        "availability" | "fault_rate" | "error_rate" | "within_latency_threshold" => {
            format_percent(value)
        }
        name if name.ends_with("_ms") => format_ms(value),
        _ => format!("{value:.1}"),
    }
}

impl Report {
    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let subject = &self.subject;
        let what = match &subject.operation {
            Some(operation) => format!("{} {}", subject.service, operation),
            None => subject.service.clone(),
        };
        let _ = writeln!(out, "# Investigation: {what}\n");
        let _ = writeln!(
            out,
            "Breach window {} – {}, compared with {} – {}.\n",
            format_time(subject.window.from),
            format_time(subject.window.to),
            format_time(subject.baseline.from),
            format_time(subject.baseline.to)
        );

        out.push_str("## Scope\n\n");
        let scope = &self.scope;
        match scope.started_unix_nano {
            Some(started) => {
                let _ = writeln!(
                    out,
                    "Started at {} (change point of {}).",
                    format_time(started),
                    scope.sli.as_deref().unwrap_or("the SLI")
                );
            }
            None => out.push_str("No change point stands out in the subject's SLI.\n"),
        }
        if scope.requests > 0 {
            let _ = writeln!(
                out,
                "{} of {} requests in the breach window were bad ({}).",
                scope.bad_requests,
                scope.requests,
                format_percent(scope.bad_requests as f64 / scope.requests as f64)
            );
        }
        if let Some(burn_rate) = scope.burn_rate {
            let _ = write!(out, "Burn rate {burn_rate:.1}x");
            if let Some(burned) = scope.budget_burned {
                let _ = write!(
                    out,
                    ", {} of a 30-day error budget burned in the window",
                    format_percent(burned)
                );
            }
            out.push_str(".\n");
        }
        if !scope.indicators.is_empty() {
            out.push_str("\n| Indicator | Baseline | Breach | Target |\n|---|---|---|---|\n");
            for indicator in &scope.indicators {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    indicator.indicator,
                    indicator_value(indicator, indicator.baseline),
                    indicator_value(indicator, indicator.breach),
                    indicator.target.map_or_else(
                        || String::from("–"),
                        |target| indicator_value(indicator, target)
                    )
                );
            }
        }
        out.push('\n');

        out.push_str("## Suspected causes\n\n");
        if self.causes.is_empty() {
            out.push_str("No probe found a cause.\n\n");
        }
        for cause in &self.causes {
            let _ = writeln!(
                out,
                "### {}. {} in {} (confidence {:.0} %)\n",
                cause.rank,
                kind_label(cause.kind),
                cause.service,
                cause.confidence * 100.0
            );
            let _ = writeln!(out, "{}\n", cause.summary);
            if !cause.evidence.is_empty() {
                out.push_str(
                    "| Probe | Evidence | Measure | Baseline | Breach |\n|---|---|---|---|---|\n",
                );
                for item in &cause.evidence {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        item.probe,
                        cell(&item.summary),
                        cell(&item.measure),
                        number(item.baseline),
                        number(item.breach)
                    );
                }
                out.push('\n');
            }
            if !cause.remedies.is_empty() {
                out.push_str("Remedies:\n");
                for remedy in &cause.remedies {
                    let _ = writeln!(out, "- {} (because: {})", remedy.action, remedy.because);
                }
                out.push('\n');
            }
        }

        if !self.not_checked.is_empty() {
            out.push_str("## Not checked\n\n");
            for item in &self.not_checked {
                let _ = writeln!(out, "- {item}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_in_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(1_674_981_784_000_000_000),
            "2023-01-29T08:43:04Z"
        );
        // Leap days, one in a century year.
        assert_eq!(format_time(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            format_time(1_709_208_000_000_000_000),
            "2024-02-29T12:00:00Z"
        );
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(None), "–");
        assert_eq!(number(Some(3.0)), "3");
        assert_eq!(number(Some(0.12345)), "0.1235");
        assert_eq!(number(Some(2.5)), "2.5");
    }
}
