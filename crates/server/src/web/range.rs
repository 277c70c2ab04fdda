//! The time a page shows: the last hours (`?hours=`), or a range zoomed into by dragging
//! across a chart (`?from=&to=`, unix seconds).

use sloscope_model::{MINUTE_NANOS, TimeRange};

use crate::error::ApiError;

/// The time a page shows: the last hours, or a range zoomed into.
pub struct Shown {
    pub range: TimeRange,
    /// Whole hours covering the range (a log range and chart steps are chosen by them).
    pub hours: u64,
    pub zoomed: bool,
}

impl Shown {
    /// The last `hours` (`default_hours` when not given), or `from` to `to` (unix seconds).
    pub fn of(
        hours: Option<u64>,
        from: Option<u64>,
        to: Option<u64>,
        default_hours: u64,
    ) -> Result<Shown, ApiError> {
        let (from, to) = match (from, to) {
            (None, None) => {
                let hours = hours_of(hours, default_hours)?;
                return Ok(Shown {
                    range: last_hours(hours),
                    hours,
                    zoomed: false,
                });
            }
            (Some(from), Some(to)) => (from, to),
            _ => {
                return Err(ApiError::BadRequest(
                    "`from` and `to` (unix seconds) go together".into(),
                ));
            }
        };
        if to <= from || to - from < 120 || to - from > 7 * 86_400 {
            return Err(ApiError::BadRequest(
                "`from` must be 2 minutes to 7 days before `to` (unix seconds)".into(),
            ));
        }
        // Whole minutes, as the signals are kept.
        let from = from / 60 * 60;
        let to = to.div_ceil(60) * 60;
        Ok(Shown {
            range: TimeRange::new(from * 1_000_000_000, to * 1_000_000_000),
            hours: (to - from).div_ceil(3600),
            zoomed: true,
        })
    }

    pub fn minutes(&self) -> f64 {
        (self.range.duration_nanos() / MINUTE_NANOS).max(1) as f64
    }

    /// The query that shows this range again (for links that change something else).
    pub fn query(&self) -> String {
        if self.zoomed {
            format!(
                "from={}&amp;to={}",
                self.range.from / 1_000_000_000,
                self.range.to / 1_000_000_000
            )
        } else {
            format!("hours={}", self.hours)
        }
    }

    /// The log view's query for the same time.
    pub fn logs_query(&self) -> String {
        if self.zoomed {
            self.query()
        } else {
            format!("last={}", log_range(self.hours))
        }
    }

    /// The range in words (plain text, UTC): `last 3 h`, or its two ends.
    pub fn text(&self) -> String {
        if self.zoomed {
            let at = sloscope_investigate::markdown::format_time;
            format!("{} to {}", at(self.range.from), at(self.range.to))
        } else {
            format!("last {} h", self.hours)
        }
    }
}

pub fn hours_of(hours: Option<u64>, default: u64) -> Result<u64, ApiError> {
    let hours = hours.unwrap_or(default);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::BadRequest(
            "`hours` must be between 1 and 168".into(),
        ));
    }
    Ok(hours)
}

pub fn last_hours(hours: u64) -> TimeRange {
    let now = crate::now_unix_nano();
    let end = now - now % MINUTE_NANOS + MINUTE_NANOS;
    TimeRange::new(end - hours * 60 * MINUTE_NANOS, end)
}

/// The log page's time range menu value that covers `hours`.
fn log_range(hours: u64) -> &'static str {
    match hours {
        0..=1 => "1h",
        2..=6 => "6h",
        7..=24 => "24h",
        25..=72 => "3d",
        _ => "7d",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zoomed_range_is_whole_minutes_and_keeps_its_query() {
        let shown = Shown::of(None, Some(1_000_030), Some(1_003_610), 3).unwrap();
        assert!(shown.zoomed);
        assert_eq!(shown.range.from, 1_000_020 * 1_000_000_000);
        assert_eq!(shown.range.to, 1_003_620 * 1_000_000_000);
        assert_eq!(shown.hours, 1);
        assert_eq!(shown.query(), "from=1000020&amp;to=1003620");
        let last = Shown::of(None, None, None, 3).unwrap();
        assert!(!last.zoomed && last.hours == 3 && last.query() == "hours=3");
    }

    #[test]
    fn a_range_that_cannot_be_shown_is_refused() {
        for (from, to) in [
            (Some(100), None),
            (Some(500), Some(400)),
            (Some(400), Some(430)),
            (Some(0), Some(8 * 86_400)),
        ] {
            assert!(Shown::of(None, from, to, 3).is_err(), "{from:?} {to:?}");
        }
        assert!(Shown::of(Some(200), None, None, 3).is_err());
    }
}
