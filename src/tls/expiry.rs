//! Expiry in view: when the certificates a client depends on stop being valid, so a
//! daemon can raise an alarm weeks before (a lapsed client certificate or a
//! server's chain past its date cuts a fielded device off its update path).

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::SystemTime;

use lru::LruCache;
use rustls::pki_types::CertificateDer;

use super::lock;
use super::x509;
use crate::netloc::Netloc;

/// Server leaves remembered for the report, one per netloc, least recently seen
/// out first: a device talks to a few servers, and one sending it across many
/// names or ports must not grow memory (an entry is a netloc and a time).
const SERVER_LEAVES: NonZeroUsize = NonZeroUsize::new(32).expect("not zero");

/// When the certificates in use expire, from
/// [`Client::certificate_expiry`](crate::Client::certificate_expiry).
///
/// ```no_run
/// # use std::time::{Duration, SystemTime};
/// # let client = tinyhttps::Client::new();
/// let weeks = SystemTime::now() + Duration::from_secs(4 * 7 * 24 * 3600);
/// if client.certificate_expiry().soonest().is_some_and(|t| t < weeks) {
///     eprintln!("a certificate expires within four weeks: {:?}", client.certificate_expiry());
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateExpiry {
    /// The client certificate of each trust policy that has one.
    pub identities: Vec<IdentityExpiry>,
    /// The leaf certificate each server presented in its last full handshake,
    /// for the 32 netlocs seen last.
    pub servers: Vec<ServerExpiry>,
}

/// A trust policy's client certificate and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityExpiry {
    /// The [`tls_for`](crate::ClientBuilder::tls_for) pattern of the policy, as
    /// given in lower case; `None` for the default policy
    /// ([`tls`](crate::ClientBuilder::tls)).
    pub rule: Option<String>,
    /// The certificate's notAfter (for files: as last read from them).
    pub not_after: SystemTime,
}

/// A server's leaf certificate and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerExpiry {
    /// `host:port`.
    pub netloc: String,
    /// The leaf's notAfter.
    pub not_after: SystemTime,
}

impl CertificateExpiry {
    /// The earliest notAfter in the report, if it holds any.
    pub fn soonest(&self) -> Option<SystemTime> {
        let identities = self.identities.iter().map(|i| i.not_after);
        identities
            .chain(self.servers.iter().map(|s| s.not_after))
            .min()
    }
}

/// The notAfter of the last leaf each netloc presented.
pub(crate) struct ServerLeaves(Mutex<LruCache<Netloc, SystemTime>>);

impl Default for ServerLeaves {
    fn default() -> Self {
        ServerLeaves(Mutex::new(LruCache::new(SERVER_LEAVES)))
    }
}

impl ServerLeaves {
    /// Notes the leaf a server presented in a full handshake (a DER walk of its
    /// first few hundred bytes, and a lock).
    pub fn saw(&self, netloc: &Netloc, leaf: Option<&CertificateDer<'_>>) {
        let not_after = leaf
            .and_then(|leaf| x509::validity(leaf))
            .and_then(|v| x509::system_time(v.not_after));
        let Some(not_after) = not_after else {
            return;
        };
        let mut leaves = lock(&self.0);
        match leaves.get_mut(netloc) {
            Some(seen) => *seen = not_after,
            None => {
                leaves.put(netloc.clone(), not_after);
            }
        }
    }

    pub fn report(&self) -> Vec<ServerExpiry> {
        lock(&self.0)
            .iter()
            .map(|(netloc, not_after)| ServerExpiry {
                netloc: netloc.authority(),
                not_after: *not_after,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_leaves_are_bounded_and_keep_the_last_seen() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["device.test".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 3, 4);
        let leaf = params.self_signed(&key).unwrap().der().clone();
        let leaves = ServerLeaves::default();
        let netloc = |port: u16| {
            Netloc::from_uri(&format!("https://device.test:{port}/").parse().unwrap()).unwrap()
        };
        for port in 1..=40 {
            leaves.saw(&netloc(port), Some(&leaf));
        }
        leaves.saw(&netloc(40), Some(&CertificateDer::from(&b"garbage"[..])));
        leaves.saw(&netloc(41), None);
        let report = leaves.report();
        assert_eq!(report.len(), SERVER_LEAVES.get());
        assert!(report.iter().all(|s| s.netloc != "device.test:1"));
        let expected = x509::system_time(params.not_after.unix_timestamp()).unwrap();
        assert!(report.iter().all(|s| s.not_after == expected));
    }
}
