//! Time limits. The clock is read here and nowhere else in the request path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::error::{Error, Phase};

/// Socket timeouts are rounded up to this step, so that a deadline does not cost a
/// `setsockopt` on every read; a deadline may thus fire up to this much late.
const TIMEOUT_GRANULARITY: Duration = Duration::from_millis(50);

/// The time limits of a client, one per phase plus an overall deadline (the
/// defaults are in `config.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub handshake: Duration,
    pub write: Duration,
    pub read: Duration,
    pub overall: Option<Duration>,
    /// The first response byte on a reused connection (`None`: the read limit).
    pub reused_first_byte: Option<Duration>,
    /// The low-speed abort, off by default.
    pub low_speed: Option<LowSpeedLimit>,
}

/// A transfer slower than `bytes_per_sec` for all of `window` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LowSpeedLimit {
    pub bytes_per_sec: u64,
    pub window: Duration,
}

/// The time limits of one request, with its overall deadline fixed at the start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    timeouts: Timeouts,
    start: Instant,
    end: Option<Instant>,
    /// No wait has happened since `start` was read: it still serves as "now".
    at_start: bool,
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
            at_start: true,
        }
    }

    /// The same deadline, once a hop or an attempt has used it: [`now`](Self::now)
    /// then reads the clock.
    pub fn later(self) -> Deadline {
        Deadline {
            at_start: false,
            ..self
        }
    }

    /// "Now" for the pool's idle check and the trust re-check: the start's clock
    /// reading while nothing has happened since (the first hop of the first
    /// attempt: the common case, at no cost), else a new one.
    pub fn now(&self) -> Instant {
        if self.at_start {
            self.start
        } else {
            Instant::now()
        }
    }

    /// What is left of the overall deadline (None: no overall deadline).
    pub fn left(&self) -> Option<Duration> {
        self.end
            .map(|end| end.saturating_duration_since(Instant::now()))
    }

    /// Time since the request started, for [`Timings`](crate::Timings).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A budget for `phase`, started by its first [`Budget::limit`]. Connect spends
    /// one budget on DNS and every address, the TLS handshake one on all its reads
    /// and writes; a read or a write takes a new one for each wait on the socket.
    pub fn budget(&self, phase: Phase) -> Budget {
        Budget {
            deadline: *self,
            phase,
            start: None,
        }
    }

    /// The limit of `phase` (or of the overall deadline), for messages.
    fn limit_of(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Connect => self.timeouts.connect,
            Phase::Handshake => self.timeouts.handshake,
            Phase::Write => self.timeouts.write,
            Phase::Read => self.timeouts.read,
            Phase::Overall => self.timeouts.overall.unwrap_or(Duration::MAX),
            Phase::FirstByte => match self.timeouts.reused_first_byte {
                Some(limit) => limit.min(self.timeouts.read),
                None => self.timeouts.read,
            },
            Phase::LowSpeed => self.timeouts.low_speed.map_or(Duration::MAX, |l| l.window),
        }
    }

    /// The low-speed abort of a request, fresh, if one is set.
    pub fn low_speed(&self) -> Option<LowSpeed> {
        self.timeouts.low_speed.map(|limit| LowSpeed {
            // Saturating float to int: a huge product is "never fast enough".
            min_bytes: (limit.bytes_per_sec as f64 * limit.window.as_secs_f64()).ceil() as u64,
            window: limit.window,
            window_start: None,
            bytes_at_start: 0,
        })
    }

    /// [`Error::Timeout`] for `host`, naming the limit of `phase` that elapsed.
    pub fn timeout(&self, phase: Phase, host: &str) -> Error {
        Error::Timeout {
            phase,
            host: host.into(),
            limit: self.limit_of(phase),
        }
    }
}

/// What is left of one phase's time limit within the request's overall deadline.
/// The clock starts at the first [`limit`](Budget::limit), so a budget taken for
/// each socket read costs one clock read, as the deadline check did before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    deadline: Deadline,
    phase: Phase,
    start: Option<Instant>,
}

impl Budget {
    /// How long the next wait of the phase may last, and which limit that is (the
    /// phase's or [`Phase::Overall`]). `Err` with the limit that is spent.
    pub fn limit(&mut self) -> Result<(Duration, Phase), Phase> {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let own = self.deadline.limit_of(self.phase);
        // Exactly the phase's limit on the first call: the socket timeout then stays
        // the same from one read to the next, and costs no `setsockopt`.
        let left = own.saturating_sub(now.saturating_duration_since(start));
        let overall_left = self
            .deadline
            .end
            .map(|end| end.saturating_duration_since(now));
        match overall_left {
            Some(over) if over.is_zero() => Err(Phase::Overall),
            Some(over) if over < left => Ok((round_up(over), Phase::Overall)),
            _ if left.is_zero() => Err(self.phase),
            _ if left == own => Ok((own, self.phase)),
            _ => Ok((round_up(left), self.phase)),
        }
    }

    /// Like [`limit`](Self::limit), with a spent budget as [`Error::Timeout`] for `host`.
    pub fn limit_for(&mut self, host: &str) -> Result<(Duration, Phase), Error> {
        self.limit()
            .map_err(|phase| self.deadline.timeout(phase, host))
    }

    /// [`Error::Timeout`] for `host` when the limit `which` elapsed during a wait.
    pub fn timeout(&self, which: Phase, host: &str) -> Error {
        self.deadline.timeout(which, host)
    }

    /// Time since the first [`limit`](Self::limit) (zero before it).
    pub fn spent(&self) -> Duration {
        self.start.map_or(Duration::ZERO, |start| start.elapsed())
    }
}

/// The low-speed abort of one request, like curl's `--speed-limit`/`--speed-time`:
/// the bytes moved are counted over consecutive windows, and a window that ends
/// with fewer than `min_bytes` fails the request. Each socket wait is cut at the
/// window's end so that a silent server is caught too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LowSpeed {
    min_bytes: u64,
    window: Duration,
    window_start: Option<Instant>,
    bytes_at_start: u64,
}

impl LowSpeed {
    /// Before a wait, with `moved` bytes sent and received so far: how long the wait
    /// may last (to the window's end), or `Err` when the window that just ended
    /// moved too few bytes. The first call starts the first window.
    pub fn check(&mut self, moved: u64) -> Result<Duration, ()> {
        let now = Instant::now();
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed < self.window {
            return Ok(round_up(self.window.saturating_sub(elapsed)));
        }
        if moved.saturating_sub(self.bytes_at_start) < self.min_bytes {
            return Err(());
        }
        self.window_start = Some(now);
        self.bytes_at_start = moved;
        Ok(self.window)
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
    u64::try_from(steps.saturating_mul(step)).map_or(d, Duration::from_nanos)
}

/// The wall clock, for HTTP dates (`Retry-After`).
pub(crate) fn wall_clock() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// The monotonic clock, for pool bookkeeping (idle times).
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Lets a periodic chore run at most once per interval, whichever thread asks. Asking
/// when it is not due costs one relaxed atomic load and a compare (the caller brings
/// the time, typically [`Deadline::now`]).
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
    use crate::{DEFAULT_TIMEOUT_READ, DEFAULT_TIMEOUT_WRITE};

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
            d.budget(Phase::Read).limit(),
            Ok((DEFAULT_TIMEOUT_READ, Phase::Read))
        );
    }

    #[test]
    fn overall_deadline_wins_when_it_is_nearer() {
        let t = Timeouts {
            overall: Some(Duration::from_millis(120)),
            ..Timeouts::default()
        };
        let (limit, phase) = Deadline::start(t).budget(Phase::Connect).limit().unwrap();
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
        assert_eq!(
            d.budget(Phase::Read).limit(),
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
        assert_eq!(
            d.budget(Phase::Write).limit(),
            Ok((DEFAULT_TIMEOUT_WRITE, Phase::Write))
        );
    }

    #[test]
    fn a_budget_shrinks_with_each_wait_and_then_is_spent() {
        let t = Timeouts {
            handshake: Duration::from_millis(30),
            overall: None,
            ..Timeouts::default()
        };
        let mut budget = Deadline::start(t).budget(Phase::Handshake);
        assert_eq!(
            budget.limit(),
            Ok((Duration::from_millis(30), Phase::Handshake))
        );
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(budget.limit(), Err(Phase::Handshake));
        let e = budget.limit_for("h:1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "TLS handshake timed out after 30 ms with h:1"
        );
    }

    #[test]
    fn timeouts_name_their_limit() {
        let d = Deadline::start(Timeouts::default());
        assert_eq!(
            d.timeout(Phase::Read, "h:1").to_string(),
            "read timed out after 30 s with h:1"
        );
        assert_eq!(
            d.timeout(Phase::Overall, "h:1").to_string(),
            "overall deadline of 300 s passed with h:1"
        );
    }
}
