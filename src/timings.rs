//! [`Timings`]: how long the phases of a request took.

use std::time::Duration;

/// Offsets are kept in whole microseconds (`u32`: up to 71 minutes, later ones
/// saturate), so that the record stays small inside every [`Response`](crate::Response).
const UNSET: u32 = u32::MAX;

/// How long the phases of a request took, from
/// [`Response::timings`](crate::Response::timings): a few copied numbers, no
/// allocation, microsecond resolution. DNS, connect and TLS are the phases of the
/// connection the answer came on, `None` when it was reused from the pool (DNS
/// is about zero for an IP address or a fixed entry; TLS is `None` on plain
/// http). [`first_byte`](Self::first_byte) and [`total`](Self::total) count from
/// the start of the request, across its redirects and retries, like curl's
/// `time_starttransfer` and `time_total` (but `total` ends with the response
/// head: the body is read after the call returns).
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client.get("https://device-api.example.com/v1/status").call()?;
/// let t = resp.timings();
/// println!(
///     "dns {:?} connect {:?} tls {:?} first byte {:?} head {:?}",
///     t.dns(), t.connect(), t.tls(), t.first_byte(), t.total()
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    // Microseconds from the start of the request; UNSET when it did not happen.
    started: u32,
    resolved: u32,
    connected: u32,
    secured: u32,
    first_byte: u32,
    head: u32,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            started: UNSET,
            resolved: UNSET,
            connected: UNSET,
            secured: UNSET,
            first_byte: UNSET,
            head: 0,
        }
    }
}

/// An offset in microseconds, saturating below [`UNSET`].
fn micros(offset: Duration) -> u32 {
    u32::try_from(offset.as_micros()).map_or(UNSET - 1, |m| m.min(UNSET - 1))
}

fn offset(micros: u32) -> Option<Duration> {
    (micros != UNSET).then(|| Duration::from_micros(micros.into()))
}

/// `to - from`, when both happened.
fn between(from: u32, to: u32) -> Option<Duration> {
    Some(offset(to)?.saturating_sub(offset(from)?))
}

impl Timings {
    /// A new connection's: started, addresses known, TCP connected (offsets).
    pub(crate) fn connected(started: Duration, resolved: Duration, connected: Duration) -> Self {
        Timings {
            started: micros(started),
            resolved: micros(resolved),
            connected: micros(connected),
            ..Timings::default()
        }
    }

    /// The TLS handshake ended at `at`.
    pub(crate) fn set_secured(&mut self, at: Duration) {
        self.secured = micros(at);
    }

    /// Forgets the first byte (a new request on the connection).
    pub(crate) fn clear_first_byte(&mut self) {
        self.first_byte = UNSET;
    }

    pub(crate) fn has_first_byte(&self) -> bool {
        self.first_byte != UNSET
    }

    /// These timings with the head complete at `at`.
    pub(crate) fn with_head(self, at: Duration) -> Self {
        Timings {
            head: micros(at),
            ..self
        }
    }

    /// A read brought bytes of the answer: the first byte's time is set from
    /// `now` if it is not yet. Returns whether this read came after the one that
    /// brought the first byte (see [`with_head_after`](Self::with_head_after)).
    pub(crate) fn received(&mut self, now: impl FnOnce() -> Duration) -> bool {
        if self.has_first_byte() {
            return true;
        }
        self.first_byte = micros(now());
        false
    }

    /// These timings with the head complete now: when no read came after the one
    /// with the first byte (`later_read` false: the usual case, one read brought
    /// the whole head), at the first byte's time, without reading the clock; else
    /// at `now`.
    pub(crate) fn with_head_after(self, later_read: bool, now: impl FnOnce() -> Duration) -> Self {
        match self.first_byte() {
            Some(at) if !later_read => self.with_head(at),
            _ => self.with_head(now()),
        }
    }

    /// Name resolution of a new connection (including a proxy's name).
    pub fn dns(&self) -> Option<Duration> {
        between(self.started, self.resolved)
    }

    /// The TCP connect of a new connection, every address tried included.
    pub fn connect(&self) -> Option<Duration> {
        between(self.resolved, self.connected)
    }

    /// The TLS handshake of a new connection (a proxy's CONNECT included).
    pub fn tls(&self) -> Option<Duration> {
        between(self.connected, self.secured)
    }

    /// From the start of the request to the first byte of the answer.
    pub fn first_byte(&self) -> Option<Duration> {
        offset(self.first_byte)
    }

    /// From the start of the request to the complete response head.
    pub fn total(&self) -> Duration {
        offset(self.head).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that counts its readings and says `at` each time.
    fn clock(at: Duration, readings: &mut u32) -> impl FnOnce() -> Duration + '_ {
        move || {
            *readings += 1;
            at
        }
    }

    #[test]
    fn the_head_takes_the_first_bytes_time_when_one_read_brought_it() {
        let (mut t, mut readings) = (Timings::default(), 0);
        let later = t.received(clock(Duration::from_millis(5), &mut readings));
        let done = t.with_head_after(later, clock(Duration::from_millis(9), &mut readings));
        assert_eq!(done.first_byte(), Some(Duration::from_millis(5)));
        assert_eq!(done.total(), Duration::from_millis(5));
        assert_eq!(readings, 1, "one clock reading for both");
    }

    #[test]
    fn the_head_takes_its_own_time_when_a_later_read_completed_it() {
        let (mut t, mut readings) = (Timings::default(), 0);
        let mut later = t.received(clock(Duration::from_millis(5), &mut readings));
        later |= t.received(clock(Duration::from_millis(7), &mut readings));
        let done = t.with_head_after(later, clock(Duration::from_millis(9), &mut readings));
        assert_eq!(done.first_byte(), Some(Duration::from_millis(5)));
        assert_eq!(done.total(), Duration::from_millis(9));
        assert_eq!(
            readings, 2,
            "the later read needs no reading, the head does"
        );
    }
}
