//! Time ranges of queries, and the two ways users write instants: RFC 3339 or unix seconds.

use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Error, PartialEq)]
#[error("`{input}` is neither an RFC 3339 time nor unix seconds")]
pub struct TimeParseError {
    pub input: String,
}

/// `2026-11-21T10:00:00Z`: unix nanoseconds in RFC 3339, UTC, to the second.
pub fn format_timestamp(unix_nano: u64) -> String {
    let seconds = i64::try_from(unix_nano / 1_000_000_000).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{seconds} s"))
}

/// Parses `2026-11-21T10:00:00Z` or `1763719200` (fractions allowed) into unix nanoseconds.
pub fn parse_timestamp(input: &str) -> Result<u64, TimeParseError> {
    let error = || TimeParseError {
        input: input.to_owned(),
    };
    let trimmed = input.trim();
    if let Ok(seconds) = trimmed.parse::<f64>() {
        if !(0.0..=1e11).contains(&seconds) {
            return Err(error());
        }
        return Ok((seconds * 1e9).round() as u64);
    }
    let parsed = OffsetDateTime::parse(trimmed, &Rfc3339).map_err(|_| error())?;
    u64::try_from(parsed.unix_timestamp_nanos()).map_err(|_| error())
}

/// A half-open interval `[from, to)` of unix nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeRange {
    pub from: u64,
    pub to: u64,
}

impl TimeRange {
    pub fn new(from: u64, to: u64) -> TimeRange {
        debug_assert!(from <= to, "a time range must not end before it starts");
        TimeRange { from, to }
    }

    pub fn contains(&self, unix_nano: u64) -> bool {
        self.from <= unix_nano && unix_nano < self.to
    }

    pub fn overlaps(&self, low: u64, high: u64) -> bool {
        low < self.to && high >= self.from
    }

    pub fn duration_nanos(&self) -> u64 {
        self.to - self.from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms() {
        assert_eq!(parse_timestamp("1700000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1700000000.5"),
            Ok(1_700_000_000_500_000_000)
        );
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("-5").is_err());
    }
}
