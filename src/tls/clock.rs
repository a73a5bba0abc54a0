//! The time certificates are checked at: the system clock, but never earlier than
//! a floor, a date known to have passed. A board without a battery-backed clock
//! boots at 1970 until NTP answers; with the floor it verifies at the floor instead,
//! and when verification still fails on dates the error says the clock is the
//! problem (see [`super::verify`]).
//!
//! Also the calendar arithmetic for certificate dates: UNIX seconds to and from
//! civil dates (proleptic Gregorian, UTC), without a date crate.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;

/// The compiled-in time floor, as time since the UNIX epoch: 2026-12-01T00:00:00Z,
/// a date before this release (moved forward at each release). Certificates are
/// never checked at an earlier time, whatever the system clock reads; see
/// [`ClientBuilder::time_floor`](crate::ClientBuilder::time_floor).
pub const DEFAULT_TIME_FLOOR: Duration = Duration::from_secs(1_796_083_200);

/// Seconds in a day: certificate times are UTC, which has no leap seconds in
/// UNIX time.
const SECS_PER_DAY: i64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar: the
/// epoch shift of the era-based day counting below (H. Hinnant's algorithms).
const DAYS_0000_03_01_TO_EPOCH: i64 = 719_468;

/// Days in a 400-year Gregorian era, after which the calendar repeats.
const DAYS_PER_ERA: i64 = 146_097;

/// A source of the system's wall-clock time (replaced in tests).
pub(crate) type TimeSource = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The client's clock: a time source and a floor. It is rustls' `TimeProvider` for
/// every config of the client, so every check of certificate dates, and every
/// session ticket's age, uses `max(source, floor)`.
#[derive(Clone)]
pub(crate) struct Clock {
    /// Seconds since the epoch; never below [`DEFAULT_TIME_FLOOR`].
    floor: u64,
    /// `None`: `SystemTime::now`.
    source: Option<TimeSource>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            floor: DEFAULT_TIME_FLOOR.as_secs(),
            source: None,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("floor", &Iso::from_unix(self.floor))
            .field(
                "source",
                &if self.source.is_some() {
                    "custom"
                } else {
                    "system"
                },
            )
            .finish()
    }
}

impl Clock {
    /// Raises the floor to `time` if that is later; an earlier time changes nothing.
    pub fn raise_floor(&mut self, time: SystemTime) {
        self.floor = self.floor.max(unix_secs(time));
    }

    /// Reads the time from `source` instead of the system clock.
    pub fn set_source(&mut self, source: TimeSource) {
        self.source = Some(source);
    }

    /// What the device's clock reads, in seconds since the epoch (0 before it).
    pub fn system(&self) -> u64 {
        unix_secs(self.source.as_ref().map_or_else(SystemTime::now, |f| f()))
    }

    /// The floor, in seconds since the epoch.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The time certificates are checked at: the clock, or the floor if later.
    pub fn verification(&self) -> u64 {
        self.system().max(self.floor)
    }
}

impl TimeProvider for Clock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            self.verification(),
        )))
    }
}

/// Seconds since the epoch; 0 for a time before it.
fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A time in seconds since the epoch (negative before it), shown as ISO 8601 in UTC:
/// `2026-11-02T10:00:00Z`. Any `i64` formats: the arithmetic stays far from
/// overflow (days are at most `i64::MAX / 86400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iso(pub i64);

impl Iso {
    /// From a time that rustls or the clock gives (seconds since the epoch).
    pub fn from_unix(secs: u64) -> Iso {
        Iso(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

impl fmt::Display for Iso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(SECS_PER_DAY);
        let secs = self.0.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// The date `days` after 1970-01-01: (year, month 1-12, day 1-31).
// `days` is seconds (an i64) over 86 400, under 2^47 either way: every term stays
// far inside i64 (the tests run it at i64::MIN and i64::MAX seconds).
#[allow(clippy::arithmetic_side_effects)]
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + DAYS_0000_03_01_TO_EPOCH;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a date (year 0 to 9999, month 1-12, day 1-31; callers
/// check the ranges, so nothing overflows).
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_0000_03_01_TO_EPOCH
}

/// Days in a month of a year (Gregorian leap years).
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_of_known_times() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (86_400, "1970-01-02T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_796_208_981, "2026-12-02T10:56:21Z"),
            (2_147_483_647, "2038-01-19T03:14:07Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (-62_167_219_200, "0000-01-01T00:00:00Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(Iso(secs).to_string(), text, "{secs}");
        }
        assert_eq!(
            Iso::from_unix(DEFAULT_TIME_FLOOR.as_secs()).to_string(),
            "2026-12-01T00:00:00Z"
        );
        // Extremes format without overflow.
        let _ = (Iso(i64::MAX).to_string(), Iso(i64::MIN).to_string());
        assert_eq!(Iso::from_unix(u64::MAX), Iso(i64::MAX));
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in (-800_000..3_000_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn verification_time_is_the_clock_or_the_floor_if_later() {
        let mut clock = Clock::default();
        clock.set_source(Arc::new(|| UNIX_EPOCH + Duration::from_secs(86_400)));
        assert_eq!(clock.system(), 86_400);
        assert_eq!(clock.verification(), DEFAULT_TIME_FLOOR.as_secs());
        // The floor only rises.
        clock.raise_floor(UNIX_EPOCH);
        assert_eq!(clock.floor(), DEFAULT_TIME_FLOOR.as_secs());
        let saved = UNIX_EPOCH + DEFAULT_TIME_FLOOR + Duration::from_secs(1000);
        clock.raise_floor(saved);
        assert_eq!(clock.verification(), DEFAULT_TIME_FLOOR.as_secs() + 1000);
        let provided = clock.current_time().unwrap().as_secs();
        assert_eq!(provided, DEFAULT_TIME_FLOOR.as_secs() + 1000);
        // A clock ahead of the floor is used as it reads.
        let later = DEFAULT_TIME_FLOOR.as_secs() + 5000;
        clock.set_source(Arc::new(move || UNIX_EPOCH + Duration::from_secs(later)));
        assert_eq!(clock.verification(), later);
        // A clock before 1970 reads as 1970.
        clock.set_source(Arc::new(|| UNIX_EPOCH - Duration::from_secs(5)));
        assert_eq!(clock.system(), 0);
    }
}
