//! Recurring exclusion windows: a five-field cron matcher (minute, hour, day of month, month,
//! day of week) over unix minutes in UTC, and the test "is this minute excluded from the
//! budget".
//!
//! The dialect is Vixie cron's: `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `8-18/2`,
//! `5/10`), month and weekday names (`JAN`, `MON`), 0 or 7 for Sunday, and the macros
//! `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. When both day fields are
//! restricted, a day matches either of them; when one is `*` (or starts with `*`, as in `*/2`),
//! only the other counts. Expressions that can never match (`0 0 30 2 *`) are rejected, so
//! every search ends.
//!
//! Time zones are not handled here: exclusions are in UTC, like the timestamps of the events
//! they drop.

use thiserror::Error;

use crate::spec::Exclusion;

const MINUTES_PER_DAY: i64 = 24 * 60;
/// How far `next_after` looks: a February 29 can be eight years away (2096 to 2104).
const SEARCH_DAYS: i64 = 9 * 366;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CronError {
    #[error(
        "a cron expression has 5 fields (minute hour day-of-month month day-of-week), got {found}"
    )]
    FieldCount { found: usize },
    #[error("unknown cron macro `{0}` (use @hourly, @daily, @weekly, @monthly or @yearly)")]
    UnknownMacro(String),
    #[error("{field} field `{part}`: {reason}")]
    Field {
        field: &'static str,
        part: String,
        reason: String,
    },
    #[error("the day-of-month and month fields never match a real date")]
    NeverMatches,
}

/// A parsed cron expression: one bit per allowed value of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    /// Bits 1 to 31.
    days_of_month: u32,
    /// Bits 1 to 12.
    months: u16,
    /// Bits 0 (Sunday) to 6.
    days_of_week: u8,
    day_of_month_is_star: bool,
    day_of_week_is_star: bool,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
/// 7 is accepted for Sunday and folded onto 0 after parsing.
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let trimmed = expression.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(CronError::UnknownMacro(other.to_string()));
            }
            other => other,
        };
        let mut fields = expanded.split_whitespace();
        let mut next_field = || fields.next().unwrap_or_default();
        let [minute, hour, day_of_month, month, day_of_week] = [(); 5].map(|()| next_field());
        let found = expanded.split_whitespace().count();
        if found != 5 {
            return Err(CronError::FieldCount { found });
        }
        let week_bits = parse_field(day_of_week, &DAY_OF_WEEK)?;
        let sunday_as_seven = (week_bits >> 7) & 1;
        let cron = Cron {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)? as u32,
            days_of_month: parse_field(day_of_month, &DAY_OF_MONTH)? as u32,
            months: parse_field(month, &MONTH)? as u16,
            days_of_week: ((week_bits | sunday_as_seven) & 0x7f) as u8,
            day_of_month_is_star: day_of_month.starts_with('*'),
            day_of_week_is_star: day_of_week.starts_with('*'),
        };
        if !cron.some_day_exists() {
            return Err(CronError::NeverMatches);
        }
        Ok(cron)
    }

    /// Whether the expression matches the minute (unix seconds / 60, UTC).
    pub fn matches(&self, unix_minute: i64) -> bool {
        let day = unix_minute.div_euclid(MINUTES_PER_DAY);
        let minute_of_day = unix_minute.rem_euclid(MINUTES_PER_DAY);
        let date = CivilDay::from_days(day);
        self.day_matches(&date)
            && bit(u64::from(self.hours), minute_of_day / 60)
            && bit(self.minutes, minute_of_day % 60)
    }

    /// The first matching minute strictly after `unix_minute`; None when there is none within
    /// nine years (only a February 29 restricted to certain weekdays can be that rare).
    pub fn next_after(&self, unix_minute: i64) -> Option<i64> {
        let start = unix_minute.checked_add(1)?;
        self.first_between(start, start.checked_add(SEARCH_DAYS * MINUTES_PER_DAY)?)
    }

    /// The first matching minute in `[from, to]`.
    pub fn first_between(&self, from: i64, to: i64) -> Option<i64> {
        if from > to {
            return None;
        }
        let first_day = from.div_euclid(MINUTES_PER_DAY);
        let last_day = to.div_euclid(MINUTES_PER_DAY);
        let mut date = CivilDay::from_days(first_day);
        while date.days <= last_day {
            if !bit(u64::from(self.months), i64::from(date.month)) {
                date.skip_to_next_month();
                continue;
            }
            if self.day_matches(&date) {
                let day_start = date.days * MINUTES_PER_DAY;
                let earliest = (from - day_start).max(0);
                let latest = (to - day_start).min(MINUTES_PER_DAY - 1);
                if let Some(minute_of_day) = self.first_time_of_day(earliest)
                    && minute_of_day <= latest
                {
                    return Some(day_start + minute_of_day);
                }
            }
            date.advance_one_day();
        }
        None
    }

    /// The first minute of the day at or after `earliest` whose hour and minute match.
    fn first_time_of_day(&self, earliest: i64) -> Option<i64> {
        let mut hour = earliest / 60;
        let mut from_minute = earliest % 60;
        while hour < 24 {
            if bit(u64::from(self.hours), hour) {
                let remaining = self.minutes >> from_minute;
                if remaining != 0 {
                    return Some(hour * 60 + from_minute + i64::from(remaining.trailing_zeros()));
                }
            }
            hour += 1;
            from_minute = 0;
        }
        None
    }

    fn day_matches(&self, date: &CivilDay) -> bool {
        let by_month_day = bit(u64::from(self.days_of_month), i64::from(date.day));
        let by_week_day = bit(u64::from(self.days_of_week), i64::from(date.weekday));
        // Vixie cron: two restricted day fields are alternatives; a `*` field restricts
        // nothing, so the other one alone decides.
        if self.day_of_month_is_star || self.day_of_week_is_star {
            by_month_day && by_week_day
        } else {
            by_month_day || by_week_day
        }
    }

    /// Whether some allowed month has an allowed day of the month (February has 29 days in
    /// leap years), or the day-of-week field alone decides.
    fn some_day_exists(&self) -> bool {
        if !self.day_of_month_is_star && !self.day_of_week_is_star {
            // Every allowed weekday comes round in every allowed month.
            return true;
        }
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12u32).any(|month| {
            // Bits 1 to `longest`.
            let days_of_that_month = (u32::MAX >> (31 - LONGEST[(month - 1) as usize])) & !1;
            bit(u64::from(self.months), i64::from(month))
                && self.days_of_month & days_of_that_month != 0
        })
    }
}

fn bit(mask: u64, index: i64) -> bool {
    (0..64).contains(&index) && (mask >> index) & 1 == 1
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let mut mask = 0u64;
    for part in text.split(',') {
        let error = |reason: String| CronError::Field {
            field: spec.name,
            part: part.to_string(),
            reason,
        };
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|step| *step >= 1).ok_or_else(|| {
                    error(format!("step `{step}` is not a whole number of 1 or more"))
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (
                value(low, spec).map_err(error)?,
                value(high, spec).map_err(error)?,
            )
        } else {
            let single = value(range, spec).map_err(error)?;
            // `5/15` means from 5 to the end in steps of 15.
            let high = if part.contains('/') { spec.max } else { single };
            (single, high)
        };
        if low > high {
            return Err(error(format!("range {low}-{high} runs backwards")));
        }
        let mut current = low;
        while current <= high {
            mask |= 1 << current;
            current += step;
        }
    }
    Ok(mask)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if let Ok(number) = text.parse::<u32>() {
        if number < spec.min || number > spec.max {
            return Err(format!(
                "{number} is out of range {}-{}",
                spec.min, spec.max
            ));
        }
        return Ok(number);
    }
    if let Some(position) = spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(spec.min + position as u32);
    }
    Err(if spec.names.is_empty() {
        format!("`{text}` is not a number")
    } else {
        format!(
            "`{text}` is neither a number nor a name ({})",
            spec.names.join(", ")
        )
    })
}

/// A day since the unix epoch with its calendar date in UTC, stepped one day at a time
/// without recomputing the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CivilDay {
    days: i64,
    year: i64,
    month: u32,
    day: u32,
    /// 0 = Sunday.
    weekday: u32,
}

impl CivilDay {
    /// Howard Hinnant's `civil_from_days`.
    fn from_days(days: i64) -> CivilDay {
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7) as u32;
        CivilDay {
            days,
            year,
            month,
            day,
            weekday,
        }
    }

    fn days_in_month(&self) -> u32 {
        match self.month {
            2 if is_leap_year(self.year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    fn advance_one_day(&mut self) {
        self.days += 1;
        self.weekday = (self.weekday + 1) % 7;
        if self.day < self.days_in_month() {
            self.day += 1;
        } else {
            self.day = 1;
            self.next_month();
        }
    }

    fn skip_to_next_month(&mut self) {
        let remaining = self.days_in_month() - self.day + 1;
        self.days += i64::from(remaining);
        self.weekday = (self.weekday + remaining) % 7;
        self.day = 1;
        self.next_month();
    }

    fn next_month(&mut self) {
        if self.month == 12 {
            self.month = 1;
            self.year += 1;
        } else {
            self.month += 1;
        }
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Exclusions compiled once: cron expressions parsed, durations in minutes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExclusionSchedule {
    /// Unix seconds, `[from, to)`.
    once: Vec<(i64, i64)>,
    recurring: Vec<(Cron, i64)>,
}

impl ExclusionSchedule {
    pub fn new(exclusions: &[Exclusion]) -> Result<ExclusionSchedule, CronError> {
        let mut schedule = ExclusionSchedule::default();
        for exclusion in exclusions {
            match exclusion {
                Exclusion::Once { from, to, .. } => schedule.once.push((*from, *to)),
                Exclusion::Recurring {
                    cron,
                    duration_minutes,
                    ..
                } => schedule
                    .recurring
                    .push((Cron::parse(cron)?, i64::from(*duration_minutes))),
            }
        }
        Ok(schedule)
    }

    /// Whether the minute (unix seconds / 60) falls in an exclusion: a one-off period that
    /// overlaps any part of it, or the `duration` minutes that start at each cron match.
    pub fn excluded(&self, unix_minute: i64) -> bool {
        let minute_start = unix_minute.saturating_mul(60);
        let minute_end = minute_start.saturating_add(60);
        self.once
            .iter()
            .any(|(from, to)| minute_start < *to && minute_end > *from)
            || self.recurring.iter().any(|(cron, duration)| {
                *duration > 0
                    && cron
                        .first_between(unix_minute - (duration - 1), unix_minute)
                        .is_some()
            })
    }
}

/// Whether the minute (unix seconds / 60) is excluded from the budget. Parses the cron
/// expressions on every call (a few hundred nanoseconds); build an [`ExclusionSchedule`] once
/// for hot loops. A spec from [`crate::parse`] holds only valid expressions; an invalid one
/// excludes nothing.
pub fn excluded(exclusions: &[Exclusion], unix_minute: i64) -> bool {
    let minute_start = unix_minute.saturating_mul(60);
    let minute_end = minute_start.saturating_add(60);
    exclusions.iter().any(|exclusion| match exclusion {
        Exclusion::Once { from, to, .. } => minute_start < *to && minute_end > *from,
        Exclusion::Recurring {
            cron,
            duration_minutes,
            ..
        } => {
            let duration = i64::from(*duration_minutes);
            duration > 0
                && Cron::parse(cron).is_ok_and(|cron| {
                    cron.first_between(unix_minute - (duration - 1), unix_minute)
                        .is_some()
                })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix minute of a UTC date and time.
    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        let mut date = CivilDay::from_days(0);
        // Walk from the epoch; fine for tests.
        while (date.year, date.month) != (year, month) {
            date.skip_to_next_month();
        }
        (date.days + i64::from(day) - 1) * MINUTES_PER_DAY + hour * 60 + minute
    }

    #[test]
    fn civil_days_match_known_dates() {
        let date = CivilDay::from_days(0);
        assert_eq!(
            (date.year, date.month, date.day, date.weekday),
            (1970, 1, 1, 4)
        );
        // 2026-11-01 is a Sunday, day 20758.
        let date = CivilDay::from_days(20_758);
        assert_eq!(
            (date.year, date.month, date.day, date.weekday),
            (2026, 11, 1, 0)
        );
        let date = CivilDay::from_days(-1);
        assert_eq!(
            (date.year, date.month, date.day, date.weekday),
            (1969, 12, 31, 3)
        );
        // Stepping agrees with the closed form across a leap February and a year end.
        let mut stepped = CivilDay::from_days(at(2028, 2, 27, 0, 0) / MINUTES_PER_DAY);
        for _ in 0..800 {
            stepped.advance_one_day();
            assert_eq!(stepped, CivilDay::from_days(stepped.days));
        }
    }

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        let cron = Cron::parse("*/15 8-18/2 * JAN,mar-may MON-FRI").unwrap();
        assert_eq!(cron.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(
            cron.hours,
            (8..=18).step_by(2).fold(0, |mask, hour| mask | 1 << hour)
        );
        assert_eq!(cron.months, 1 << 1 | 1 << 3 | 1 << 4 | 1 << 5);
        assert_eq!(cron.days_of_week, 0b0111110);
        assert_eq!(
            Cron::parse("5/20 * * * *").unwrap().minutes,
            1 << 5 | 1 << 25 | 1 << 45
        );
        // 7 and 0 are both Sunday.
        assert_eq!(Cron::parse("0 0 * * 7").unwrap().days_of_week, 1);
        assert_eq!(
            Cron::parse("@weekly").unwrap(),
            Cron::parse("0 0 * * SUN").unwrap()
        );
    }

    #[test]
    fn invalid_expressions_say_why() {
        let message = |expression: &str| Cron::parse(expression).unwrap_err().to_string();
        assert_eq!(
            message("0 2 * *"),
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), got 4"
        );
        assert_eq!(
            message("0 25 * * *"),
            "hour field `25`: 25 is out of range 0-23"
        );
        assert_eq!(
            message("0 2 * * FUN"),
            "day-of-week field `FUN`: `FUN` is neither a number nor a name (SUN, MON, TUE, WED, THU, FRI, SAT)"
        );
        assert_eq!(
            message("0 2 10-5 * *"),
            "day-of-month field `10-5`: range 10-5 runs backwards"
        );
        assert_eq!(
            message("*/0 * * * *"),
            "minute field `*/0`: step `0` is not a whole number of 1 or more"
        );
        assert_eq!(
            message("0 0 30 2 *"),
            "the day-of-month and month fields never match a real date"
        );
        assert_eq!(
            message("@sometimes"),
            "unknown cron macro `@sometimes` (use @hourly, @daily, @weekly, @monthly or @yearly)"
        );
        assert!(Cron::parse("0 0 31 2,4 *").is_err());
        // February 29 exists.
        assert!(Cron::parse("0 0 29 2 *").is_ok());
    }

    #[test]
    fn matches_in_utc() {
        let sunday_two = Cron::parse("0 2 * * 0").unwrap();
        assert!(sunday_two.matches(at(2026, 11, 1, 2, 0)));
        assert!(!sunday_two.matches(at(2026, 11, 1, 2, 1)));
        assert!(!sunday_two.matches(at(2026, 11, 2, 2, 0)));
        let first_of_month = Cron::parse("30 4 1 * *").unwrap();
        assert!(first_of_month.matches(at(2027, 3, 1, 4, 30)));
        assert!(!first_of_month.matches(at(2027, 3, 2, 4, 30)));
    }

    #[test]
    fn both_day_fields_restricted_match_either() {
        // The 13th of each month, and every Friday.
        let cron = Cron::parse("0 0 13 * FRI").unwrap();
        assert!(cron.matches(at(2026, 11, 13, 0, 0))); // a Friday the 13th
        assert!(cron.matches(at(2026, 11, 6, 0, 0))); // a Friday
        assert!(cron.matches(at(2026, 10, 13, 0, 0))); // a Tuesday the 13th
        assert!(!cron.matches(at(2026, 11, 7, 0, 0)));
        // A stepped day field counts as `*`: only Mondays on odd days.
        let cron = Cron::parse("0 0 */2 * MON").unwrap();
        assert!(cron.matches(at(2026, 11, 9, 0, 0))); // Monday the 9th
        assert!(!cron.matches(at(2026, 11, 16, 0, 0))); // Monday the 16th
        assert!(!cron.matches(at(2026, 11, 11, 0, 0))); // Wednesday the 11th
    }

    #[test]
    fn next_after_is_strict_and_crosses_months_and_years() {
        let sunday_two = Cron::parse("0 2 * * 0").unwrap();
        let first = at(2026, 11, 1, 2, 0);
        assert_eq!(sunday_two.next_after(first - 1), Some(first));
        assert_eq!(sunday_two.next_after(first), Some(at(2026, 11, 8, 2, 0)));
        let new_year = Cron::parse("@yearly").unwrap();
        assert_eq!(
            new_year.next_after(at(2026, 11, 1, 0, 0)),
            Some(at(2027, 1, 1, 0, 0))
        );
        let leap_day = Cron::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            leap_day.next_after(at(2028, 3, 1, 0, 0)),
            Some(at(2032, 2, 29, 12, 0))
        );
        assert_eq!(
            leap_day.next_after(at(2097, 1, 1, 0, 0)),
            Some(at(2104, 2, 29, 12, 0))
        );
        let every_minute = Cron::parse("* * * * *").unwrap();
        assert_eq!(every_minute.next_after(-5), Some(-4));
    }

    #[test]
    fn next_after_agrees_with_matches() {
        let cron = Cron::parse("7,53 */5 1-7,20 * TUE").unwrap();
        let start = at(2026, 1, 1, 0, 0);
        let mut minute = start;
        let mut found = 0;
        while minute < start + 60 * MINUTES_PER_DAY {
            let next = cron.next_after(minute).unwrap();
            assert!(cron.matches(next));
            assert!(((minute + 1)..next).all(|between| !cron.matches(between)));
            minute = next;
            found += 1;
        }
        assert!(found > 100);
    }

    #[test]
    fn recurring_exclusions_cover_their_duration() {
        let exclusions = vec![
            Exclusion::Recurring {
                cron: "0 2 * * 0".into(),
                duration_minutes: 120,
                reason: "weekly maintenance".into(),
            },
            Exclusion::Once {
                from: at(2026, 11, 3, 10, 0) * 60 + 30,
                to: at(2026, 11, 3, 11, 0) * 60,
                reason: "migration".into(),
            },
        ];
        let schedule = ExclusionSchedule::new(&exclusions).unwrap();
        let cases = [
            (at(2026, 11, 1, 1, 59), false),
            (at(2026, 11, 1, 2, 0), true),
            (at(2026, 11, 1, 3, 59), true),
            (at(2026, 11, 1, 4, 0), false),
            (at(2026, 11, 8, 3, 0), true),
            // A one-off exclusion covers every minute it overlaps.
            (at(2026, 11, 3, 9, 59), false),
            (at(2026, 11, 3, 10, 0), true),
            (at(2026, 11, 3, 10, 59), true),
            (at(2026, 11, 3, 11, 0), false),
        ];
        for (minute, expected) in cases {
            assert_eq!(excluded(&exclusions, minute), expected, "minute {minute}");
            assert_eq!(schedule.excluded(minute), expected, "minute {minute}");
        }
    }

    #[test]
    fn a_recurring_exclusion_spans_midnight_and_overlapping_matches() {
        let exclusions = vec![Exclusion::Recurring {
            cron: "30 23 * * *".into(),
            duration_minutes: 60,
            reason: "nightly backup".into(),
        }];
        assert!(excluded(&exclusions, at(2026, 12, 31, 23, 30)));
        assert!(excluded(&exclusions, at(2027, 1, 1, 0, 29)));
        assert!(!excluded(&exclusions, at(2027, 1, 1, 0, 30)));
        let hourly_for_two_hours = vec![Exclusion::Recurring {
            cron: "@hourly".into(),
            duration_minutes: 120,
            reason: "overlapping".into(),
        }];
        assert!(excluded(&hourly_for_two_hours, at(2027, 1, 1, 5, 17)));
    }
}
