//! Certificates made at test time with rcgen: one CA per [`Pki`], and leaf
//! identities (server, expired server, client) signed by it.
//!
//! Keys are ECDSA P-256 (rcgen's default): quick to make and to use, also
//! on a slow emulated ARM board.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const DAY_SECS: i64 = 24 * 60 * 60;

/// A test certificate authority: its key stays inside, its certificate is public.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA certificate, DER: add it to a `RootCertStore` to trust this CA.
    pub ca_der: CertificateDer<'static>,
}

/// A certificate chain and its private key, as a server or client presents them.
pub struct Identity {
    /// The leaf certificate only (the CA is the trust anchor, not sent).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key, PKCS#8.
    pub key: PrivateKeyDer<'static>,
    /// `chain` as PEM.
    pub chain_pem: String,
    /// `key` as PEM ("PRIVATE KEY", PKCS#8).
    pub key_pem: String,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            chain_pem: self.chain_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Writes `{stem}-cert.pem` and `{stem}-key.pem` into `dir`; returns (cert, key) paths.
    pub fn write_pem(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        fs::write(&cert, &self.chain_pem).expect("write certificate PEM");
        fs::write(&key, &self.key_pem).expect("write key PEM");
        (cert, key)
    }
}

impl Pki {
    /// A new self-signed CA whose common name is `name`.
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(-DAY_SECS);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(10 * 365 * DAY_SECS);
        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA");
        Pki {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, valid from yesterday for a year.
    /// A name that parses as an IP address becomes an IP SAN, others DNS SANs.
    pub fn server(&self, names: &[&str]) -> Identity {
        self.leaf(
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            -DAY_SECS,
            365 * DAY_SECS,
        )
    }

    /// Like [`Pki::server`], but valid from 30 days ago until two days ago.
    pub fn expired_server(&self, names: &[&str]) -> Identity {
        let usage = ExtendedKeyUsagePurpose::ServerAuth;
        self.leaf(names, usage, -30 * DAY_SECS, -2 * DAY_SECS)
    }

    /// A client-authentication certificate with this common name (no SANs).
    pub fn client(&self, common_name: &str) -> Identity {
        let usage = ExtendedKeyUsagePurpose::ClientAuth;
        self.leaf_named(common_name, &[], usage, -DAY_SECS, 365 * DAY_SECS)
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns that path.
    pub fn write_ca_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        fs::write(&path, &self.ca_pem).expect("write ca.pem");
        path
    }

    /// A leaf for `names`, named after the first.
    fn leaf(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        from: i64,
        until: i64,
    ) -> Identity {
        let common_name = names.first().copied().unwrap_or("tinyhttps test server");
        self.leaf_named(common_name, names, usage, from, until)
    }

    /// A leaf signed by this CA; `from` and `until` are seconds relative to now.
    fn leaf_named(
        &self,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        from: i64,
        until: i64,
    ) -> Identity {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = names.iter().map(|name| san(name)).collect();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(from);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(until);
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign leaf certificate");
        Identity {
            chain_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A SAN for `name`: IP address if it parses as one, else DNS name.
fn san(name: &str) -> SanType {
    match name.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(name.try_into().expect("DNS name is IA5")),
    }
}

/// The time `offset_secs` from now, as a duration since the Unix epoch.
fn since_epoch(offset_secs: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let secs = i64::try_from(now).expect("sane clock") + offset_secs;
    Duration::from_secs(u64::try_from(secs).expect("time after 1970"))
}

/// A new empty directory `tinyhttps-test-{tag}-{pid}-{n}` under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tinyhttps-test-{tag}-{}-{n}", std::process::id()));
    // A leftover from an earlier process with the same pid: start clean.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
