//! What a probe returns: a suspected cause for one service, how strongly the probe's numbers
//! point at it, and those numbers.

use crate::report::{CauseKind, Evidence, Figure};

/// The probes, in the order the report lists their evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Probe {
    Scope,
    BubbleUp,
    SelfTime,
    Dependencies,
    Changes,
    ErrorPatterns,
    Network,
    Load,
    Resources,
    SlowQueries,
}

impl Probe {
    /// The name evidence carries (`Evidence::probe`).
    pub fn name(self) -> &'static str {
        match self {
            Probe::Scope => "scope",
            Probe::BubbleUp => "bubbleup",
            Probe::SelfTime => "self_time",
            Probe::Dependencies => "dependencies",
            Probe::Changes => "changes",
            Probe::ErrorPatterns => "error_patterns",
            Probe::Network => "network",
            Probe::Load => "load",
            Probe::Resources => "resources",
            Probe::SlowQueries => "slow_queries",
        }
    }

    /// How much a full-strength finding of this probe is worth on its own: probes that measure
    /// the cause directly (a saturated resource, a new error) weigh more than those that only
    /// locate where the time or the failures went.
    pub fn weight(self) -> f64 {
        match self {
            Probe::Scope => 0.3,
            Probe::BubbleUp => 0.6,
            Probe::SelfTime => 0.75,
            Probe::Dependencies => 0.8,
            Probe::Changes => 0.9,
            Probe::ErrorPatterns => 0.9,
            Probe::Network => 0.8,
            Probe::Load => 0.8,
            Probe::Resources => 0.9,
            Probe::SlowQueries => 0.85,
        }
    }
}

/// One probe's suspicion of one service.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub probe: Probe,
    pub service: String,
    pub kind: CauseKind,
    /// How strongly the numbers point at this cause, 0 to 1, before the probe's weight.
    pub score: f64,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub figures: Vec<Figure>,
}

impl Finding {
    pub fn new(probe: Probe, service: &str, kind: CauseKind, score: f64, summary: String) -> Self {
        debug_assert!(score.is_finite(), "a finding's score must be finite");
        Finding {
            probe,
            service: service.to_owned(),
            kind,
            score: score.clamp(0.0, 1.0),
            summary,
            evidence: Vec::new(),
            figures: Vec::new(),
        }
    }

    /// Adds a drawing of the evidence, when there is one to draw.
    pub fn with_figure(mut self, figure: Option<Figure>) -> Self {
        self.figures.extend(figure);
        self
    }

    /// Adds one number behind the finding.
    pub fn with(
        mut self,
        summary: String,
        measure: &str,
        baseline: Option<f64>,
        breach: Option<f64>,
    ) -> Self {
        self.add(summary, measure, baseline, breach);
        self
    }

    /// [`Finding::with`] in place.
    pub fn add(
        &mut self,
        summary: String,
        measure: &str,
        baseline: Option<f64>,
        breach: Option<f64>,
    ) {
        self.evidence.push(Evidence {
            probe: self.probe.name().to_owned(),
            summary,
            measure: measure.to_owned(),
            baseline: baseline.map(round),
            breach: breach.map(round),
        });
    }
}

/// Four significant digits are plenty for a report and keep JSON readable.
pub(crate) fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let magnitude = value.abs().log10().floor() as i32;
    // Dividing by a power of ten below one is inexact (431600000 would print as
    // 431599999.99999994): large values are scaled down, small ones up.
    if magnitude >= 3 {
        let factor = 10f64.powi(magnitude - 3);
        (value / factor).round() * factor
    } else {
        let factor = 10f64.powi(3 - magnitude);
        (value * factor).round() / factor
    }
}

/// Milliseconds as a person reads them.
pub(crate) fn format_ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// Bytes in binary units, as memory is read.
pub(crate) fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.abs() >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A fraction as a percentage.
pub(crate) fn format_percent(fraction: f64) -> String {
    let percent = fraction * 100.0;
    if percent >= 10.0 || percent == 0.0 {
        format!("{percent:.0} %")
    } else {
        format!("{percent:.1} %")
    }
}

/// At most `limit` characters, with an ellipsis when cut.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= limit {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(limit).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_four_digits() {
        assert_eq!(round(123.456_78), 123.5);
        assert_eq!(round(0.001_234_56), 0.001_235);
        assert_eq!(round(0.0), 0.0);
        assert_eq!(round(431_599_999.999_999_94), 431_600_000.0);
        assert_eq!(round(431_599_999.999_999_94).to_string(), "431600000");
        assert_eq!(format_ms(1234.4), "1234 ms");
        assert_eq!(format_percent(0.0523), "5.2 %");
        assert_eq!(format_bytes(431_600_000.0), "412 MiB");
        assert_eq!(format_bytes(1_073_741_824.0), "1.0 GiB");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
