//! The report as Markdown: what a person pastes into a ticket or a chat.

use std::fmt::Write as _;

use crate::report::{Evidence, Report};

/// RFC 3339 in UTC, to the second.
pub fn format_time(unix_nano: u64) -> String {
    let seconds = (unix_nano / 1_000_000_000) as i64;
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn number(value: Option<f64>) -> String {
    match value {
        None => String::from("–"),
        Some(value) if value.abs() >= 100.0 => format!("{value:.0}"),
        Some(value) if value.abs() >= 1.0 => format!("{value:.2}"),
        Some(value) => format!("{value:.4}"),
    }
}

fn evidence_table(out: &mut String, evidence: &[Evidence]) {
    if evidence.is_empty() {
        return;
    }
    out.push_str("| probe | evidence | measure | baseline | breach |\n|---|---|---|---|---|\n");
    for item in evidence {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            item.probe,
            item.summary.replace('|', "\\|"),
            item.measure,
            number(item.baseline),
            number(item.breach)
        );
    }
}

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let subject = &self.subject;
        let what = match &subject.operation {
            Some(operation) => format!("{} `{operation}`", subject.service),
            None => subject.service.clone(),
        };
        let _ = writeln!(out, "# Investigation: {what}\n");
        let _ = writeln!(
            out,
            "Window {} to {}, against the baseline {} to {}.\n",
            format_time(subject.window.from),
            format_time(subject.window.to),
            format_time(subject.baseline.from),
            format_time(subject.baseline.to)
        );
        out.push_str("## Scope\n\n");
        match self.scope.started_unix_nano {
            Some(start) => {
                let _ = writeln!(
                    out,
                    "Started at {} (change point of the SLI).\n",
                    format_time(start)
                );
            }
            None => out.push_str("No change point stands out in the SLI.\n\n"),
        }
        if self.scope.requests > 0 {
            let _ = writeln!(
                out,
                "{} of {} requests were bad.\n",
                self.scope.bad_requests, self.scope.requests
            );
        }
        if let Some(burned) = self.scope.budget_burned {
            let _ = writeln!(
                out,
                "{:.1} % of the error budget burned in the window.\n",
                burned * 100.0
            );
        }
        if !self.scope.indicators.is_empty() {
            out.push_str("| indicator | baseline | breach | target |\n|---|---|---|---|\n");
            for indicator in &self.scope.indicators {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    indicator.indicator,
                    number(Some(indicator.baseline)),
                    number(Some(indicator.breach)),
                    number(indicator.target)
                );
            }
            out.push('\n');
        }
        out.push_str("## Suspected causes\n\n");
        if self.causes.is_empty() {
            out.push_str("No cause stands out.\n\n");
        }
        for cause in &self.causes {
            let kind = serde_json::to_value(cause.kind)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "### {}. {} — {} (confidence {:.0} %)\n\n{}\n",
                cause.rank,
                cause.service,
                kind,
                cause.confidence * 100.0,
                cause.summary
            );
            evidence_table(&mut out, &cause.evidence);
            if !cause.remedies.is_empty() {
                out.push_str("\nWhat to do:\n\n");
                for remedy in &cause.remedies {
                    let _ = writeln!(out, "- {} (because {})", remedy.action, remedy.because);
                }
            }
            out.push('\n');
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
    fn times_read_as_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(1_674_981_784_000_000_000),
            "2023-01-29T08:43:04Z"
        );
        assert_eq!(format_time(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
    }
}
