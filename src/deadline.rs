//! Time limits. The clock is read here and nowhere else in the request path.

use std::time::{Duration, Instant};

use crate::error::{Error, Phase};

/// DNS + TCP connect. Ten seconds covers a slow cellular attach; a LAN answers in ms.
pub const DEFAULT_TIMEOUT_CONNECT: Duration = Duration::from_secs(10);
/// TLS handshake. A full handshake is two round trips plus ~15 ms of crypto on a
/// Cortex-A7; ten seconds leaves room for a loaded server and a slow link.
pub const DEFAULT_TIMEOUT_HANDSHAKE: Duration = Duration::from_secs(10);
/// One socket write making no progress (the server stopped reading).
pub const DEFAULT_TIMEOUT_WRITE: Duration = Duration::from_secs(30);
/// Silence between two reads of the response (the server stopped sending).
pub const DEFAULT_TIMEOUT_READ: Duration = Duration::from_secs(30);
/// The whole request, from connect to the last body byte. Long enough for a 1 MiB
/// download at 4 KiB/s, short enough that a server dribbling a byte every few seconds
/// cannot hold a daemon's thread forever.
pub const DEFAULT_TIMEOUT_OVERALL: Duration = Duration::from_secs(300);

/// Socket timeouts are rounded up to this step, so that a deadline does not cost a
/// `setsockopt` on every read; a deadline may thus fire up to this much late.
const TIMEOUT_GRANULARITY: Duration = Duration::from_millis(50);

/// The time limits of a client, one per phase plus an overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub handshake: Duration,
    pub write: Duration,
    pub read: Duration,
    pub overall: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_TIMEOUT_CONNECT,
            handshake: DEFAULT_TIMEOUT_HANDSHAKE,
            write: DEFAULT_TIMEOUT_WRITE,
            read: DEFAULT_TIMEOUT_READ,
            overall: Some(DEFAULT_TIMEOUT_OVERALL),
        }
    }
}

/// The time limits of one request, with its overall deadline fixed at the start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    timeouts: Timeouts,
    end: Option<Instant>,
}

impl Deadline {
    /// Starts the clock of one request.
    pub fn start(timeouts: Timeouts) -> Deadline {
        // A deadline too far to represent is no deadline.
        let end = timeouts.overall.and_then(|d| Instant::now().checked_add(d));
        Deadline { timeouts, end }
    }

    /// How long the next step of `phase` may wait, and which limit that is.
    /// `Err(Phase::Overall)` when the overall deadline has already passed.
    pub fn limit(&self, phase: Phase) -> Result<(Duration, Phase), Phase> {
        let own = match phase {
            Phase::Connect => self.timeouts.connect,
            Phase::Handshake => self.timeouts.handshake,
            Phase::Write => self.timeouts.write,
            Phase::Read => self.timeouts.read,
            Phase::Overall => Duration::MAX,
        };
        let Some(end) = self.end else {
            return Ok((own, phase));
        };
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Phase::Overall);
        }
        if left < own {
            Ok((round_up(left), Phase::Overall))
        } else {
            Ok((own, phase))
        }
    }

    /// Like [`limit`](Self::limit), with a passed deadline as [`Error::Timeout`] for `host`.
    pub fn limit_for(&self, phase: Phase, host: &str) -> Result<(Duration, Phase), Error> {
        self.limit(phase).map_err(|phase| Error::Timeout {
            phase,
            host: host.into(),
        })
    }

    /// Whether the overall deadline has passed.
    pub fn expired(&self) -> bool {
        self.end.is_some_and(|end| Instant::now() >= end)
    }
}

/// A wait shorter than the read timeout, for reads worth a little time but not a
/// request's worth: draining a dropped body, awaiting `100 Continue`, reading an
/// answer that came while the request was still being sent. Each read may wait up to
/// `each`, and all of them together end at a fixed time, whatever the server dribbles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortWait {
    each: Duration,
    end: Option<Instant>,
}

impl ShortWait {
    /// Reads of at most `each` (more than zero), `total` in all from now.
    pub fn start(each: Duration, total: Duration) -> ShortWait {
        ShortWait {
            each,
            // A total too far to represent leaves only the limit per read.
            end: Instant::now().checked_add(total),
        }
    }

    /// How long the next read may wait: `each`, or what is left of the total if
    /// that is less (rounded up to [`TIMEOUT_GRANULARITY`], so the wait may end that
    /// much late); `None` once the total has passed.
    pub fn next(&self) -> Option<Duration> {
        let Some(end) = self.end else {
            return Some(self.each);
        };
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        Some(self.each.min(round_up(left)))
    }
}

fn round_up(d: Duration) -> Duration {
    let step = TIMEOUT_GRANULARITY.as_nanos();
    let steps = d.as_nanos().div_ceil(step);
    Duration::from_nanos((steps * step) as u64)
}

/// The monotonic clock, for pool bookkeeping (idle times).
pub(crate) fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_limit_applies_when_the_deadline_is_far() {
        let d = Deadline::start(Timeouts::default());
        assert_eq!(
            d.limit(Phase::Read),
            Ok((DEFAULT_TIMEOUT_READ, Phase::Read))
        );
    }

    #[test]
    fn overall_deadline_wins_when_it_is_nearer() {
        let t = Timeouts {
            overall: Some(Duration::from_millis(120)),
            ..Timeouts::default()
        };
        let (limit, phase) = Deadline::start(t).limit(Phase::Connect).unwrap();
        assert_eq!(phase, Phase::Overall);
        assert!(limit <= Duration::from_millis(150) && limit > Duration::ZERO);
        assert_eq!(limit.as_nanos() % TIMEOUT_GRANULARITY.as_nanos(), 0);
    }

    #[test]
    fn huge_deadline_does_not_overflow() {
        let t = Timeouts {
            overall: Some(Duration::MAX),
            ..Timeouts::default()
        };
        let d = Deadline::start(t);
        assert!(!d.expired());
        assert_eq!(
            d.limit(Phase::Read),
            Ok((DEFAULT_TIMEOUT_READ, Phase::Read))
        );
    }

    #[test]
    fn short_wait_gives_each_read_its_limit_until_the_total_is_spent() {
        let each = Duration::from_millis(100);
        let wait = ShortWait::start(each, Duration::from_secs(60));
        assert_eq!(wait.next(), Some(each));
        // Less than `each` left: what is left, rounded up (or nothing, on a slow run).
        let nearly = ShortWait::start(each, Duration::from_millis(30)).next();
        assert!(
            nearly.is_none_or(|left| left > Duration::ZERO && left <= TIMEOUT_GRANULARITY),
            "{nearly:?}"
        );
        let spent = ShortWait::start(each, Duration::ZERO);
        assert_eq!(spent.next(), None);
        let endless = ShortWait::start(each, Duration::MAX);
        assert_eq!(endless.next(), Some(each));
    }

    #[test]
    fn no_overall_deadline_means_phase_limits_only() {
        let t = Timeouts {
            overall: None,
            ..Timeouts::default()
        };
        let d = Deadline::start(t);
        assert!(!d.expired());
        assert_eq!(
            d.limit(Phase::Write),
            Ok((DEFAULT_TIMEOUT_WRITE, Phase::Write))
        );
    }
}
