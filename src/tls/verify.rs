//! The server certificate verifier of a policy: webpki's, at the client's
//! verification time (see [`super::clock`]), then the policy's public key pins.
//!
//! webpki decides; this adds two things. Date errors are reworded with ISO 8601
//! dates and, when the device's clock is behind the floor or the certificate's
//! start, with a word about the clock. Pins, when set, are checked after the chain
//! and the name, never instead: one SHA-256 over the leaf's SPKI per full
//! handshake (two 64-byte blocks for a P-256 key, a few for RSA-2048), nothing
//! without pins. A
//! resumed TLS 1.3 session skips certificate verification, pins included: it
//! resumes only under the config it was made with, whose verifier (this `Arc`,
//! one per policy) checked the pins on the full handshake.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::clock::{Clock, Iso};
use super::pin::Pin;

/// webpki's checks with the client's clock and the policy's pins.
///
/// The checks are rustls' `WebPkiServerVerifier` without its revocation lists
/// (this crate has none to give), called as the functions it calls: building that
/// verifier links its CRL parsing and revocation checks, ~8 KiB on armv7.
pub(crate) struct Verifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Empty: no pinning.
    pins: Box<[Pin]>,
    clock: Arc<Clock>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("pins", &self.pins)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(
        roots: Arc<RootCertStore>,
        algorithms: WebPkiSupportedAlgorithms,
        pins: &[Pin],
        clock: Arc<Clock>,
    ) -> Verifier {
        Verifier {
            roots,
            algorithms,
            pins: pins.into(),
            clock,
        }
    }

    /// A date error reworded (ISO dates, the clock named when it is suspect); any
    /// other error as it is.
    fn explain(&self, e: rustls::Error) -> rustls::Error {
        let rejection = match e {
            rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
                not_before,
                ..
            }) => Rejection::NotValidYet {
                not_before: not_before.as_secs(),
                clock: self.clock.system(),
            },
            rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                time,
                not_after,
            }) => Rejection::Expired {
                not_after: not_after.as_secs(),
                time: time.as_secs(),
                clock: self.clock.system(),
                floor: self.clock.floor(),
            },
            e => return e,
        };
        rejection.into()
    }

    fn check_pins(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if self.pins.is_empty() {
            return Ok(());
        }
        let presented = Pin::of(end_entity).ok_or(CertificateError::BadEncoding)?;
        if self.pins.contains(&presented) {
            return Ok(());
        }
        Err(Rejection::Pin {
            presented,
            pins: self.pins.len(),
        }
        .into())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // What WebPkiServerVerifier::verify_server_cert does without CRLs (the
        // OCSP response is not checked there either).
        let _ = ocsp_response;
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )
        .map_err(|e| self.explain(e))?;
        verify_server_name(&cert, server_name)?;
        self.check_pins(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Why a server certificate was refused, in words a person reading a device's log
/// can act on. Travels through rustls as `CertificateError::Other` and becomes the
/// source of [`Error::Certificate`](crate::Error::Certificate), whose message is
/// "certificate of host:port rejected: " and this. Times are seconds since the
/// epoch.
#[derive(Debug, Clone)]
pub(crate) enum Rejection {
    /// Not valid yet at the verification time, which is at least the floor.
    NotValidYet { not_before: u64, clock: u64 },
    /// Expired at the verification time `time` (the clock, or the floor if later).
    Expired {
        not_after: u64,
        time: u64,
        clock: u64,
        floor: u64,
    },
    /// Chain and name are fine, but the key is none of the pinned ones.
    Pin { presented: Pin, pins: usize },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            // The verification time is at least the floor, a date known to have
            // passed: a certificate not valid yet means the clock is behind (or
            // the certificate was issued for the future).
            Rejection::NotValidYet { not_before, clock } => write!(
                f,
                "not valid until {}, but this device's clock reads {}: is the clock set?",
                Iso::from_unix(not_before),
                Iso::from_unix(clock)
            ),
            Rejection::Expired {
                not_after,
                clock,
                floor,
                ..
            } if clock < floor => write!(
                f,
                "expired on {}, before {} (a date known to have passed); this device's \
                 clock reads {}: is the clock set?",
                Iso::from_unix(not_after),
                Iso::from_unix(floor),
                Iso::from_unix(clock)
            ),
            Rejection::Expired {
                not_after, time, ..
            } => write!(
                f,
                "expired on {} (the time is {})",
                Iso::from_unix(not_after),
                Iso::from_unix(time)
            ),
            Rejection::Pin { presented, pins: 1 } => {
                write!(f, "its public key {presented} is not the pinned key")
            }
            Rejection::Pin { presented, pins } => write!(
                f,
                "its public key {presented} is none of the {pins} pinned keys"
            ),
        }
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for rustls::Error {
    fn from(r: Rejection) -> rustls::Error {
        let other = rustls::OtherError(Arc::new(r));
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const FLOOR: u64 = 1_796_083_200; // 2026-12-01

    #[test]
    fn not_valid_yet_names_the_clock_in_iso_dates() {
        let r = Rejection::NotValidYet {
            not_before: 1_793_613_600,
            clock: DAY,
        };
        assert_eq!(
            r.to_string(),
            "not valid until 2026-11-02T10:00:00Z, but this device's clock reads \
             1970-01-02T00:00:00Z: is the clock set?"
        );
    }

    #[test]
    fn expired_names_the_clock_only_when_it_is_behind_the_floor() {
        let behind = Rejection::Expired {
            not_after: FLOOR - DAY,
            time: FLOOR,
            clock: DAY,
            floor: FLOOR,
        };
        let text = behind.to_string();
        assert!(
            text.starts_with("expired on 2026-11-30T00:00:00Z"),
            "{text}"
        );
        assert!(text.contains("clock reads 1970-01-02T00:00:00Z"), "{text}");
        let set = Rejection::Expired {
            not_after: FLOOR - DAY,
            time: FLOOR + DAY,
            clock: FLOOR + DAY,
            floor: FLOOR,
        };
        assert_eq!(
            set.to_string(),
            "expired on 2026-11-30T00:00:00Z (the time is 2026-12-02T00:00:00Z)"
        );
    }

    #[test]
    fn rejection_travels_through_rustls_as_a_certificate_error() {
        let e: rustls::Error = Rejection::NotValidYet {
            not_before: FLOOR,
            clock: 0,
        }
        .into();
        let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = &e else {
            panic!("{e:?}");
        };
        assert!(other.0.to_string().contains("clock"));
    }
}
