//! Reads a certificate's validity dates (notBefore, notAfter) from its DER, for the
//! expiry report. Certificates come from the network: this is a small, bounded walk
//! of RFC 5280's structure that checks every length and index and gives `None` on
//! anything unexpected, never a panic. It reads only; trust decisions are webpki's.
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
//! TBSCertificate ::= SEQUENCE {
//!     version [0] EXPLICIT OPTIONAL, serialNumber INTEGER, signature SEQUENCE,
//!     issuer SEQUENCE, validity SEQUENCE { notBefore Time, notAfter Time }, ... }
//! Time ::= UTCTime "YYMMDDHHMMSSZ" | GeneralizedTime "YYYYMMDDHHMMSSZ"
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::clock::{days_from_civil, days_in_month};

/// DER tags of the elements walked.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT`, constructed: the version field of a v2/v3 certificate.
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Most bytes a DER length may take after its first byte: four give lengths up to
/// 4 GiB, far beyond any certificate (rustls caps a whole handshake message at
/// 64 KiB); more is refused rather than computed.
const MAX_LENGTH_BYTES: usize = 4;

/// UTCTime's two-digit years: 50-99 are 19xx, 00-49 are 20xx (RFC 5280 4.1.2.5.1).
const UTC_TIME_PIVOT: i64 = 50;

/// A certificate's validity period, in seconds since the UNIX epoch (negative
/// before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

/// The validity period of a DER certificate, or `None` if it is not well-formed
/// as far as this walk goes.
pub(crate) fn validity(cert: &[u8]) -> Option<Validity> {
    let (cert, _) = expect(SEQUENCE, cert)?;
    let (tbs, _) = expect(SEQUENCE, cert)?;
    let (tag, _, after_version) = element(tbs)?;
    let rest = if tag == VERSION { after_version } else { tbs };
    let (_serial, rest) = expect(INTEGER, rest)?;
    let (_signature, rest) = expect(SEQUENCE, rest)?;
    let (_issuer, rest) = expect(SEQUENCE, rest)?;
    let (validity, _) = expect(SEQUENCE, rest)?;
    let (tag, not_before, rest) = element(validity)?;
    let not_before = time(tag, not_before)?;
    let (tag, not_after, _) = element(rest)?;
    let not_after = time(tag, not_after)?;
    Some(Validity {
        not_before,
        not_after,
    })
}

/// Seconds since the epoch as a `SystemTime` (`None` if the platform cannot hold it).
pub(crate) fn system_time(secs: i64) -> Option<SystemTime> {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// The contents of the element at the start of `input` if its tag is `tag`, and
/// what follows it.
fn expect(tag: u8, input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = element(input)?;
    (found == tag).then_some((contents, rest))
}

/// The element at the start of `input`: its tag, its contents, what follows it.
/// Definite lengths only (DER); a multi-byte tag is refused (none is walked here).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > MAX_LENGTH_BYTES {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let len = bytes.iter().try_fold(0usize, |len, &b| {
            len.checked_mul(256)?.checked_add(usize::from(b))
        })?;
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// A `Time` in seconds since the epoch: UTC, seconds given, `Z` (as RFC 5280
/// requires of certificates).
// Year of at most four digits, the other fields range-checked: no overflow.
#[allow(clippy::arithmetic_side_effects)]
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let (year, rest) = match tag {
        UTC_TIME => {
            let yy = digits(text.get(..2)?)?;
            let century = if yy >= UTC_TIME_PIVOT { 1900 } else { 2000 };
            (century + yy, text.get(2..)?)
        }
        GENERALIZED_TIME => (digits(text.get(..4)?)?, text.get(4..)?),
        _ => return None,
    };
    let [m1, m2, d1, d2, h1, h2, n1, n2, s1, s2, b'Z'] = rest else {
        return None;
    };
    let month = digits(&[*m1, *m2])?;
    let day = digits(&[*d1, *d2])?;
    let (hour, minute, second) = (
        digits(&[*h1, *h2])?,
        digits(&[*n1, *n2])?,
        digits(&[*s1, *s2])?,
    );
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Decimal digits (at most four, so no overflow) as a number.
fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |n, &c| {
        let digit = char::from(c).to_digit(10)?;
        n.checked_mul(10)?.checked_add(i64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by rcgen, valid between two dates, and those dates as
    /// seconds since the epoch.
    fn cert(from: (i32, u8, u8), until: (i32, u8, u8)) -> (Vec<u8>, Validity) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["device.test".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        let validity = Validity {
            not_before: params.not_before.unix_timestamp(),
            not_after: params.not_after.unix_timestamp(),
        };
        let cert = params.self_signed(&key).unwrap();
        (cert.der().to_vec(), validity)
    }

    #[test]
    fn reads_utc_and_generalized_times() {
        // rcgen writes UTCTime up to 2049 and GeneralizedTime from 2050 on.
        for (from, until) in [
            ((2026, 11, 2), (2027, 2, 28)),
            ((1999, 12, 31), (2049, 12, 31)),
            ((2024, 2, 29), (2050, 1, 1)),
            ((1950, 1, 1), (9999, 12, 31)),
        ] {
            let (der, expected) = cert(from, until);
            assert_eq!(validity(&der), Some(expected), "{from:?} {until:?}");
        }
    }

    #[test]
    fn reads_a_v1_certificate_without_version() {
        // TBS: serial, algorithm, issuer, validity, ... with no [0] version.
        let tbs = [
            &[0x02, 0x01, 0x01][..],
            &[0x30, 0x00],
            &[0x30, 0x00],
            &[0x30, 0x20],
            &[0x17, 0x0d],
            b"700102000000Z",
            &[0x18, 0x0f],
            b"20500101000000Z",
        ]
        .concat();
        let der = [&[0x30, 0x2b, 0x30, 0x29][..], &tbs].concat();
        assert_eq!(
            validity(&der),
            Some(Validity {
                not_before: 86_400,
                not_after: 2_524_608_000
            })
        );
    }

    #[test]
    fn every_truncation_and_every_byte_change_is_handled_without_panic() {
        let (der, expected) = cert((2026, 1, 1), (2027, 1, 1));
        for cut in 0..der.len() {
            // The outer length no longer matches: refused, never read past the end.
            assert_eq!(validity(&der[..cut]), None, "cut at {cut}");
        }
        for i in 0..der.len() {
            for value in [0x00, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff] {
                let mut bad = der.clone();
                bad[i] = value;
                let _ = validity(&bad);
            }
        }
        assert_eq!(validity(&der), Some(expected));
    }

    #[test]
    fn garbage_and_bad_times_are_none() {
        let garbage: [&[u8]; 6] = [
            b"",
            b"\x30",
            b"\x30\x80\x00\x00",
            b"\x30\x85\xff\xff\xff\xff\xff",
            b"\x1f\x01\x00",
            b"not a certificate at all",
        ];
        for g in garbage {
            assert_eq!(validity(g), None, "{g:?}");
        }
        for bad in [
            &b"261302000000Z"[..],
            b"260230000000Z",
            b"260101240000Z",
            b"260101006000Z",
            b"260101000060Z",
            b"2601010000Z",
            b"260101000000+0100",
            b"26010100000aZ",
        ] {
            assert_eq!(time(UTC_TIME, bad), None, "{bad:?}");
        }
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(INTEGER, b"491231235959Z"), None);
    }

    #[test]
    fn system_times_either_side_of_the_epoch() {
        assert_eq!(system_time(0), Some(UNIX_EPOCH));
        assert_eq!(
            system_time(-1),
            UNIX_EPOCH.checked_sub(Duration::from_secs(1))
        );
        assert_eq!(system_time(60), Some(UNIX_EPOCH + Duration::from_secs(60)));
    }
}
