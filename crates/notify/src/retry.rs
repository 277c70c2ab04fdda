//! When to try a delivery again, and after how long: exponential backoff with full jitter
//! (AWS Architecture Blog, "Exponential Backoff And Jitter"), a server's `Retry-After`
//! honoured as a floor, and which answers are worth retrying. Pure functions; the delivery
//! worker does the waiting.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::config::NotifyError;
use crate::transport::{HttpReply, TransportError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial: Duration,
    max: Duration,
}

impl RetryPolicy {
    pub fn new(
        max_attempts: u32,
        initial: Duration,
        max: Duration,
    ) -> Result<RetryPolicy, NotifyError> {
        let invalid = |setting: &str, reason: &str| NotifyError::Invalid {
            setting: setting.to_owned(),
            reason: reason.to_owned(),
        };
        if max_attempts == 0 {
            return Err(invalid("notify.retry_max_attempts", "must be at least 1"));
        }
        if initial.is_zero() {
            return Err(invalid("notify.retry_initial_ms", "must be at least 1"));
        }
        if max < initial {
            return Err(invalid(
                "notify.retry_max_ms",
                "must be at least `retry_initial_ms`",
            ));
        }
        Ok(RetryPolicy {
            max_attempts,
            initial,
            max,
        })
    }

    /// Attempts per message, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    pub fn initial(&self) -> Duration {
        self.initial
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    /// The longest wait after `failed_attempts` failures (1 after the first):
    /// `initial * 2^(failed_attempts - 1)`, capped at `max`.
    pub fn ceiling(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(31);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }

    /// Full jitter: the share `jitter_fraction` (uniform in `[0, 1]`) of the ceiling, so
    /// that many senders failing together do not retry together. A server's `Retry-After`
    /// is a floor, itself capped at `max` so that one answer cannot stall a channel for hours.
    pub fn delay(
        &self,
        failed_attempts: u32,
        jitter_fraction: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let fraction = if jitter_fraction.is_finite() {
            jitter_fraction.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let jittered = self.ceiling(failed_attempts).mul_f64(fraction);
        match retry_after {
            Some(requested) => jittered.max(requested.min(self.max)),
            None => jittered,
        }
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3).
/// A date in the past means "now"; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// A failure that may pass: a connection error, a timeout, 408, 429 or 5xx.
    Retry {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// A failure that retrying will not fix: a rejected payload, a revoked key.
    Failed {
        reason: String,
    },
}

pub fn classify(result: &Result<HttpReply, TransportError>, now: SystemTime) -> AttemptOutcome {
    let reply = match result {
        Ok(reply) => reply,
        Err(error) if error.retryable => {
            return AttemptOutcome::Retry {
                retry_after: None,
                reason: error.message.clone(),
            };
        }
        Err(error) => {
            return AttemptOutcome::Failed {
                reason: error.message.clone(),
            };
        }
    };
    let reason = if reply.body_excerpt.is_empty() {
        format!("http status {}", reply.status)
    } else {
        format!("http status {}: {}", reply.status, reply.body_excerpt)
    };
    match reply.status {
        200..=299 => AttemptOutcome::Delivered,
        408 | 429 | 500..=599 => AttemptOutcome::Retry {
            retry_after: reply
                .retry_after
                .as_deref()
                .and_then(|value| parse_retry_after(value, now)),
            reason,
        },
        _ => AttemptOutcome::Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(6, Duration::from_millis(500), Duration::from_secs(60)).expect("valid")
    }

    #[test]
    fn ceiling_doubles_from_initial_and_stops_at_max() {
        let ceilings: Vec<u128> = (1..=9)
            .map(|failed| policy().ceiling(failed).as_millis())
            .collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
        );
        assert_eq!(policy().ceiling(0), Duration::from_millis(500));
        assert_eq!(policy().ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        assert_eq!(policy().delay(3, 0.0, None), Duration::ZERO);
        assert_eq!(policy().delay(3, 0.5, None), Duration::from_millis(1000));
        assert_eq!(policy().delay(3, 1.0, None), Duration::from_millis(2000));
        assert_eq!(policy().delay(3, 7.0, None), Duration::from_millis(2000));
        assert_eq!(
            policy().delay(3, f64::NAN, None),
            Duration::from_millis(2000)
        );
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_max() {
        let seven = Some(Duration::from_secs(7));
        assert_eq!(policy().delay(1, 0.3, seven), Duration::from_secs(7));
        assert_eq!(
            policy().delay(9, 1.0, Some(Duration::from_secs(1))),
            Duration::from_secs(60)
        );
        assert_eq!(
            policy().delay(1, 0.0, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)));
        let later = now + Duration::from_secs(60);
        assert_eq!(parse_retry_after(date, later), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    fn reply(status: u16, retry_after: Option<&str>) -> Result<HttpReply, TransportError> {
        Ok(HttpReply {
            status,
            retry_after: retry_after.map(str::to_owned),
            body_excerpt: String::new(),
        })
    }

    #[test]
    fn classify_retries_only_what_may_pass() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(classify(&reply(202, None), now), AttemptOutcome::Delivered);
        assert_eq!(
            classify(&reply(429, Some("3")), now),
            AttemptOutcome::Retry {
                retry_after: Some(Duration::from_secs(3)),
                reason: "http status 429".into()
            }
        );
        assert!(matches!(
            classify(&reply(503, None), now),
            AttemptOutcome::Retry {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            classify(&reply(408, None), now),
            AttemptOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify(&reply(400, None), now),
            AttemptOutcome::Failed { .. }
        ));
        assert!(matches!(
            classify(&reply(302, None), now),
            AttemptOutcome::Failed { .. }
        ));
        let refused = Err(TransportError {
            retryable: true,
            message: "connection refused".into(),
        });
        assert!(matches!(
            classify(&refused, now),
            AttemptOutcome::Retry { .. }
        ));
        let bad_certificate = Err(TransportError {
            retryable: false,
            message: "invalid certificate".into(),
        });
        assert_eq!(
            classify(&bad_certificate, now),
            AttemptOutcome::Failed {
                reason: "invalid certificate".into()
            }
        );
    }

    #[test]
    fn invalid_policies_are_rejected() {
        assert!(RetryPolicy::new(0, Duration::from_millis(1), Duration::from_millis(1)).is_err());
        assert!(RetryPolicy::new(1, Duration::ZERO, Duration::from_millis(1)).is_err());
        assert!(RetryPolicy::new(1, Duration::from_millis(2), Duration::from_millis(1)).is_err());
    }
}
