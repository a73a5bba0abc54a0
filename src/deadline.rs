//! Time limits. The clock is read here and nowhere else in the request path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
    start: Instant,
    end: Option<Instant>,
}

impl Deadline {
    /// Starts the clock of one request.
    pub fn start(timeouts: Timeouts) -> Deadline {
        let start = Instant::now();
        // A deadline too far to represent is no deadline.
        let end = timeouts.overall.and_then(|d| start.checked_add(d));
        Deadline {
            timeouts,
            start,
            end,
        }
    }

    /// When the request started: a clock reading for work that needs only a coarse
    /// "now" (see [`Throttle`]), at no extra cost.
    pub fn started(&self) -> Instant {
        self.start
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

fn round_up(d: Duration) -> Duration {
    let step = TIMEOUT_GRANULARITY.as_nanos();
    let steps = d.as_nanos().div_ceil(step);
    Duration::from_nanos((steps * step) as u64)
}

/// The monotonic clock, for pool bookkeeping (idle times).
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Lets a periodic chore run at most once per interval, whichever thread asks. Asking
/// when it is not due costs one relaxed atomic load and a compare (the caller brings
/// the time, typically [`Deadline::started`]).
#[derive(Debug)]
pub(crate) struct Throttle {
    epoch: Instant,
    interval_ms: u64,
    /// Milliseconds after `epoch` from which the chore is due again.
    next_ms: AtomicU64,
}

impl Throttle {
    /// Due first one `interval` from now.
    pub fn new(interval: Duration) -> Throttle {
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        Throttle {
            epoch: Instant::now(),
            interval_ms,
            next_ms: AtomicU64::new(interval_ms),
        }
    }

    /// Whether the chore is due at `now`; true for one caller only per interval.
    pub fn due(&self, now: Instant) -> bool {
        let now_ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let next = self.next_ms.load(Relaxed);
        if now_ms < next {
            return false;
        }
        let after = now_ms.saturating_add(self.interval_ms);
        self.next_ms
            .compare_exchange(next, after, Relaxed, Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_one_caller_through_per_interval() {
        let throttle = Throttle::new(Duration::from_secs(1));
        let t0 = throttle.epoch;
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(!throttle.due(at(0)), "not due before the first interval");
        assert!(!throttle.due(at(999)));
        assert!(throttle.due(at(1000)));
        assert!(!throttle.due(at(1000)), "one caller per interval");
        assert!(!throttle.due(at(1999)));
        assert!(throttle.due(at(5000)), "due again, however late");
        assert!(!throttle.due(at(5999)));
        assert!(throttle.due(at(6000)));
        let every_time = Throttle::new(Duration::ZERO);
        assert!(every_time.due(t0) && every_time.due(t0));
    }

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
