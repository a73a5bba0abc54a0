//! The opt-in retry policy ([`RetryPolicy`]): which outcomes are sent again, and
//! how long to wait first (exponential backoff with jitter, or the server's
//! `Retry-After`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

use crate::deadline;
use crate::error::{Error, Phase};

/// Default first backoff: long enough for a modem to finish a reconnect's first
/// step or a server to shed a burst, short enough not to be noticed.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default longest backoff: doubling stops here (a fleet of devices must not
/// wait hours after a long outage, nor hammer a server every second).
pub const DEFAULT_RETRY_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Default longest `Retry-After` honoured: a server asking for more is
/// answering "not now" for longer than a request should block a daemon's
/// thread; its 429 or 503 is returned, `Retry-After` included, for the caller to
/// schedule.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Most attempts a policy may make: more is a loop, not a retry.
pub(crate) const MAX_ATTEMPTS_ALLOWED: u32 = 100;

/// When and how to send a request again: opt-in with
/// [`ClientBuilder::retry`](crate::ClientBuilder::retry).
///
/// A request is sent again when it failed to connect, resolve, or get its
/// response head (an I/O error, a time limit other than the overall deadline),
/// or when the answer is `429 Too Many Requests` or `503 Service Unavailable`;
/// only if its method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) or
/// it carries an `Idempotency-Key` header, and its body can be sent again (bytes,
/// a seekable reader: not a plain reader). Before each new attempt it waits: the
/// `Retry-After` of a 429 or 503 (seconds or an HTTP date; above
/// [`max_retry_after`](Self::max_retry_after) the response is returned instead),
/// else the backoff, doubled after each attempt up to its maximum, with a random
/// half of it taken off ("equal jitter", so a fleet of devices does not retry in
/// step). Every attempt and wait is inside the request's overall deadline: a
/// wait that would pass it is not made, and the last outcome is returned. Each
/// new attempt adds one to [`Stats::retries`](crate::Stats::retries).
///
/// ```
/// use std::time::Duration;
/// use tinyhttps::RetryPolicy;
/// let client = tinyhttps::Client::builder()
///     .retry(RetryPolicy::new(4).backoff(Duration::from_secs(1), Duration::from_secs(20)))
///     .build()?;
/// # let _ = client; Ok::<(), tinyhttps::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_retry_after: Duration,
}

impl RetryPolicy {
    /// Up to `max_attempts` attempts in all (the first one included: 1 never
    /// retries; accepted 1 to 100), with the default backoff
    /// ([`DEFAULT_RETRY_BACKOFF`] doubling up to [`DEFAULT_RETRY_MAX_BACKOFF`]) and
    /// `Retry-After` honoured up to [`DEFAULT_MAX_RETRY_AFTER`].
    pub fn new(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            backoff: DEFAULT_RETRY_BACKOFF,
            max_backoff: DEFAULT_RETRY_MAX_BACKOFF,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }

    /// The wait before the second attempt, doubled for each one after it up to
    /// `max` (both above zero, at most one day; `first` at most `max`).
    pub fn backoff(mut self, first: Duration, max: Duration) -> RetryPolicy {
        self.backoff = first;
        self.max_backoff = max;
        self
    }

    /// The longest `Retry-After` waited for (at most one day); 0 never waits for
    /// one (the 429 or 503 is returned).
    pub fn max_retry_after(mut self, max: Duration) -> RetryPolicy {
        self.max_retry_after = max;
        self
    }

    /// The backoff before attempt `attempt + 1` (after `attempt` attempts), with
    /// equal jitter: between half of it and all of it.
    fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        let half = full.checked_div(2).unwrap_or_default();
        half.saturating_add(half.mul_f64(jitter()))
    }

    /// How long to wait before sending again a request whose attempt number
    /// `attempt` ended with `outcome` (a response's status and headers, or an
    /// error), or None to return that outcome. The caller checks the request
    /// (idempotent, replayable) and the deadline.
    pub(crate) fn wait(
        &self,
        attempt: u32,
        outcome: Result<(StatusCode, &HeaderMap), &Error>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        match outcome {
            Ok((status, headers))
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                match retry_after(headers, deadline::wall_clock()) {
                    Some(wait) if wait > self.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.backoff_after(attempt)),
                }
            }
            Ok(_) => None,
            Err(e) if is_transient(e) => Some(self.backoff_after(attempt)),
            Err(_) => None,
        }
    }
}

/// Errors worth another attempt: the network or the server may do better next
/// time. Not: certificates, TLS, protocol violations, the caller's own mistakes,
/// the overall deadline.
fn is_transient(e: &Error) -> bool {
    match e {
        Error::Resolve { .. } | Error::Connect { .. } | Error::Io { .. } => true,
        Error::Timeout { phase, .. } => *phase != Phase::Overall,
        _ => false,
    }
}

/// A random fraction in [0, 1): std's per-process random hash keys, enough to
/// spread a fleet's retries (nothing secret depends on it).
fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u8(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait a `Retry-After` header asks for, at `now`: delay-seconds, or an HTTP
/// date (RFC 9110 §10.2.3; a date in the past is no wait). None without one or
/// when it cannot be read.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(http_date(value)?))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since 1970 of an HTTP date in any of its three forms (RFC 9110 §5.6.7):
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
/// `Sun Nov  6 08:49:37 1994`. In all three the day comes before the year.
// The server's text: every number is range-checked (day, year 1970-9999, time,
// month 1-12, at most two numbers counted) before the date arithmetic, which then
// stays far below u64::MAX.
#[allow(clippy::arithmetic_side_effects)]
fn http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let (mut month, mut time, mut numbers) = (None, None, [None; 2]);
    let mut count = 0;
    for token in text.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        if token.contains(':') {
            time = Some(token);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            *numbers.get_mut(count)? = Some(token.parse::<u64>().ok()?);
            count += 1;
        } else if let Some(m) = MONTHS.iter().position(|m| token.eq_ignore_ascii_case(m)) {
            month = Some(m as u64 + 1);
        }
    }
    let [Some(day), Some(mut year)] = numbers else {
        return None;
    };
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let mut hms = time?.split(':').map(|t| t.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let month = month?;
    if !(1..=31).contains(&day) || !(1970..=9999).contains(&year) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::tls::days_from_civil(year as i64, month as i64, day as i64);
    let days = u64::try_from(days).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn http_dates_in_all_three_forms() {
        let t = 784_111_777; // 1994-11-06 08:49:37 UTC
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        let later = "Sun, 06 Nov 1994 08:50:07 GMT";
        headers.insert("retry-after", HeaderValue::from_static(later));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        let past = "Sun, 06 Nov 1994 08:00:00 GMT";
        headers.insert("retry-after", HeaderValue::from_static(past));
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum_with_equal_jitter() {
        let policy = RetryPolicy::new(10).backoff(Duration::from_secs(1), Duration::from_secs(5));
        for (attempt, full) in [(1, 1000), (2, 2000), (3, 4000), (4, 5000), (9, 5000)] {
            let wait = policy.backoff_after(attempt).as_millis();
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait} ms"
            );
        }
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| policy.backoff_after(1)).collect();
        assert!(spread.len() > 1, "jitter varies");
    }

    #[test]
    fn only_transient_failures_and_429_503_are_retried() {
        let policy = RetryPolicy::new(3);
        let headers = HeaderMap::new();
        let io = Error::Io {
            host: "h:1".into(),
            source: std::io::ErrorKind::ConnectionReset.into(),
        };
        assert!(policy.wait(1, Err(&io)).is_some());
        assert!(policy.wait(3, Err(&io)).is_none(), "attempts spent");
        let overall = Error::Timeout {
            phase: Phase::Overall,
            host: "h:1".into(),
            limit: Duration::from_secs(1),
        };
        assert!(policy.wait(1, Err(&overall)).is_none());
        assert!(policy
            .wait(1, Ok((StatusCode::SERVICE_UNAVAILABLE, &headers)))
            .is_some());
        assert!(policy
            .wait(1, Ok((StatusCode::INTERNAL_SERVER_ERROR, &headers)))
            .is_none());
        let mut far = HeaderMap::new();
        far.insert("retry-after", http::HeaderValue::from_static("3600"));
        assert_eq!(
            policy.wait(1, Ok((StatusCode::TOO_MANY_REQUESTS, &far))),
            None,
            "beyond max_retry_after: the response is returned"
        );
    }
}
