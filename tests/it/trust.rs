//! Trust on a device: verification time with a floor (a clock at 1970), public key
//! pins, client identities reloaded from files or held in hardware, and the expiry
//! report. Time is faked through the client's time source and floor, never by
//! changing the system clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{temp_dir, Identity, Reply, Server, TlsOptions};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use tinyhttps::ConnectionKind::{NewTlsFull, NewTlsResumed};
use tinyhttps::{
    Client, ClientBuilder, Error, TlsSettings, DEFAULT_TIME_FLOOR, TRUST_RECHECK_INTERVAL,
};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// 1970-01-02T00:00:00Z: a board without a battery-backed clock, before NTP.
fn at_1970() -> SystemTime {
    UNIX_EPOCH + DAY
}

/// Midnight UTC of a date, as the certificates below state their validity.
fn date(year: i32, month: u8, day: u8) -> SystemTime {
    let secs = rcgen::date_time_ymd(year, month, day).unix_timestamp();
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
}

/// A CA made here, so that tests choose each leaf's key and validity.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `key`, valid from `from` to `until`: a server certificate for
    /// `server` (a DNS name), or a client certificate.
    fn leaf(
        &self,
        key: &KeyPair,
        server: Option<&str>,
        from: SystemTime,
        until: SystemTime,
    ) -> Identity {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "device");
        if let Some(name) = server {
            params.subject_alt_names = vec![SanType::DnsName(name.try_into().unwrap())];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(from);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(until);
        let cert = params.signed_by(key, &self.issuer).unwrap();
        Identity {
            chain_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
        }
    }

    fn server(&self, from: SystemTime, until: SystemTime) -> Identity {
        self.leaf(
            &KeyPair::generate().unwrap(),
            Some("localhost"),
            from,
            until,
        )
    }

    fn trust(&self) -> TlsSettings {
        TlsSettings::new().root_pem(self.pem.as_bytes())
    }
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap()
}

/// Valid from yesterday for a year.
fn current(ca: &Ca) -> Identity {
    let now = SystemTime::now();
    ca.server(now - DAY, now + 365 * DAY)
}

fn serve(identity: Identity) -> Server {
    Server::https(TlsOptions::new(identity), |_| Reply::ok(b"hello"))
}

fn get(client: &Client, server: &Server) -> Result<String, Error> {
    client.get(&server.url("/")).call()?.into_string()
}

/// A client trusting `ca` whose clock reads `clock`.
fn clock_reads(ca: &Ca, clock: fn() -> SystemTime) -> ClientBuilder {
    Client::builder().tls(ca.trust()).time_source(clock)
}

// ---- clock ----

#[test]
fn clock_at_1970_gets_one_line_saying_clock_with_iso_dates() {
    let ca = Ca::new("clock CA");
    let server = serve(ca.server(date(2030, 1, 1), date(2031, 1, 1)));
    let client = clock_reads(&ca, at_1970).build().unwrap();
    let err = get(&client, &server).unwrap_err();
    assert!(err.is_certificate(), "{err}");
    let text = err.to_string();
    let host = format!("localhost:{}", server.port());
    assert_eq!(
        text,
        format!(
            "certificate of {host} rejected: not valid until 2030-01-01T00:00:00Z, \
             but this device's clock reads 1970-01-02T00:00:00Z: is the clock set?"
        )
    );
    assert!(!text.contains('\n') && !text.contains("UNIX"), "{text}");
    assert!(server.requests().is_empty());
}

#[test]
fn compiled_in_floor_lets_a_clock_at_1970_verify_a_certificate_from_before_it() {
    let ca = Ca::new("floor CA");
    // Valid for a day around the floor only: checked at the clock (1970) it would
    // not be valid yet, at the true time it has expired.
    let floor = UNIX_EPOCH + DEFAULT_TIME_FLOOR;
    let server = serve(ca.server(floor - DAY, floor + Duration::from_secs(3600)));
    let client = clock_reads(&ca, at_1970).build().unwrap();
    assert_eq!(get(&client, &server).unwrap(), "hello");
    // A floor below the compiled-in one does not lower it.
    let lowered = clock_reads(&ca, at_1970)
        .time_floor(at_1970())
        .build()
        .unwrap();
    assert_eq!(get(&lowered, &server).unwrap(), "hello");
}

#[test]
fn saved_time_raises_the_floor_for_certificates_issued_after_the_release() {
    let ca = Ca::new("raised floor CA");
    let issued = UNIX_EPOCH + DEFAULT_TIME_FLOOR + Duration::from_secs(60);
    let server = serve(ca.server(issued, SystemTime::now() + 365 * DAY));
    let default_floor = clock_reads(&ca, at_1970).build().unwrap();
    let err = get(&default_floor, &server).unwrap_err();
    assert!(err.to_string().contains("clock"), "{err}");
    // The daemon saved the time of its last NTP sync: now.
    let saved = clock_reads(&ca, at_1970)
        .time_floor(SystemTime::now())
        .build()
        .unwrap();
    assert_eq!(get(&saved, &server).unwrap(), "hello");
}

#[test]
fn floor_never_accepts_an_expired_certificate_and_expiry_reads_in_iso_dates() {
    let ca = Ca::new("expired CA");
    let server = serve(ca.server(date(2000, 1, 1), date(2020, 6, 1)));
    let host = format!("localhost:{}", server.port());
    // The clock at 1970 is behind the floor: the certificate expired before a
    // date known to have passed, and the message says the clock is wrong too.
    let at_1970 = clock_reads(&ca, at_1970).build().unwrap();
    let err = get(&at_1970, &server).unwrap_err();
    assert!(err.is_certificate(), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "certificate of {host} rejected: expired on 2020-06-01T00:00:00Z"
        )),
        "{text}"
    );
    assert!(
        text.contains("this device's clock reads 1970-01-02T00:00:00Z"),
        "{text}"
    );
    assert!(!text.contains("UNIX"), "{text}");
    // A clock that is set: the expiry, in ISO dates, and nothing about the clock.
    let set = Client::builder().tls(ca.trust()).build().unwrap();
    let text = get(&set, &server).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!(
            "certificate of {host} rejected: expired on 2020-06-01T00:00:00Z"
        )),
        "{text}"
    );
    assert!(!text.contains("UNIX") && !text.contains("clock"), "{text}");
}

// ---- pins ----

/// `sha256//BASE64` of the SubjectPublicKeyInfo of `key`, computed here with
/// rustls' SHA-256 and a base64 encoder of the test's own.
fn pin_of(key: &KeyPair) -> String {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let digest = suite
        .tls13()
        .unwrap()
        .common
        .hash_provider
        .hash(&key.subject_public_key_info());
    format!("sha256//{}", base64(digest.as_ref()))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A server for localhost with a key of its own, and that key's pin.
fn pinned_server(ca: &Ca) -> (Server, String) {
    let key = KeyPair::generate().unwrap();
    let now = SystemTime::now();
    let server = serve(ca.leaf(&key, Some("localhost"), now - DAY, now + 365 * DAY));
    (server, pin_of(&key))
}

#[test]
fn right_pin_or_a_list_holding_it_is_accepted() {
    let ca = Ca::new("pin CA");
    let (server, pin) = pinned_server(&ca);
    let other = pin_of(&KeyPair::generate().unwrap());
    for pins in [vec![pin.clone()], vec![other.clone(), pin.clone()]] {
        let client = Client::builder()
            .tls(ca.trust().pin_sha256(&pins))
            .build()
            .unwrap();
        assert_eq!(get(&client, &server).unwrap(), "hello", "{pins:?}");
    }
    // Bare base64, as HPKP wrote pins, is the same pin.
    let bare = pin.trim_start_matches("sha256//");
    let client = Client::builder()
        .tls(ca.trust().pin_sha256([bare]))
        .build()
        .unwrap();
    assert_eq!(get(&client, &server).unwrap(), "hello");
}

#[test]
fn wrong_pin_is_a_certificate_error_naming_the_presented_key() {
    let ca = Ca::new("pin CA");
    let (server, pin) = pinned_server(&ca);
    let wrong = [
        pin_of(&KeyPair::generate().unwrap()),
        pin_of(&KeyPair::generate().unwrap()),
    ];
    let client = Client::builder()
        .tls(ca.trust().pin_sha256(&wrong))
        .build()
        .unwrap();
    let err = get(&client, &server).unwrap_err();
    assert!(err.is_certificate(), "{err}");
    let text = err.to_string();
    assert!(text.contains(&pin), "{text}");
    assert!(
        text.contains(&format!("localhost:{}", server.port())),
        "{text}"
    );
    assert!(!text.contains(&wrong[0]) && !text.contains('\n'), "{text}");
    assert!(server.requests().is_empty());
}

#[test]
fn pin_is_checked_in_addition_to_chain_and_name_never_instead() {
    let ca = Ca::new("pin CA");
    let (server, pin) = pinned_server(&ca);
    // The right pin, but the CA is not trusted.
    let untrusted = Client::builder()
        .tls(Ca::new("another CA").trust().pin_sha256([&pin]))
        .build()
        .unwrap();
    let err = get(&untrusted, &server).unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // The right pin and CA, but the certificate is for another name.
    let key = KeyPair::generate().unwrap();
    let now = SystemTime::now();
    let other = serve(ca.leaf(&key, Some("other.example"), now - DAY, now + DAY));
    let client = Client::builder()
        .tls(ca.trust().pin_sha256([pin_of(&key)]))
        .build()
        .unwrap();
    let err = get(&client, &other).unwrap_err();
    assert!(err.is_certificate(), "{err}");
    assert!(!err.to_string().contains("sha256//"), "{err}");
    assert!(server.requests().is_empty() && other.requests().is_empty());
}

#[test]
fn malformed_pin_is_refused_at_build_naming_it() {
    for bad in ["sha256//not base64!", "sha256//AAAA", "sha1//AAAA", ""] {
        let err = Client::builder()
            .tls(TlsSettings::new().pin_sha256([bad]))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn pinned_policy_resumes_its_own_sessions() {
    let ca = Ca::new("pin CA");
    let (server, pin) = pinned_server(&ca);
    let client = Client::builder()
        .tls(ca.trust().pin_sha256([&pin]))
        .max_idle_per_host(0)
        .build()
        .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let resp = client.get(&server.url("/")).call().unwrap();
        kinds.push(resp.connection());
        resp.into_string().unwrap();
    }
    assert_eq!(kinds, [NewTlsFull, NewTlsResumed]);
}

// ---- client identity ----

/// A server for localhost that requires a client certificate from `client_ca`,
/// TLS 1.2 only when `tls12` (a refused client certificate then fails the
/// handshake itself, not the first read after it).
fn mtls_server(ca: &Ca, client_ca: &Ca, tls12: bool) -> Server {
    let mut tls = TlsOptions::new(current(ca)).require_client_cert(client_ca.der.clone());
    if tls12 {
        tls = tls.tls12_only();
    }
    Server::https(tls, |_| Reply::ok(b"hello device"))
}

/// The client certificate the server saw in its last request.
fn last_client_cert(server: &Server) -> CertificateDer<'static> {
    let requests = server.requests();
    let tls = requests.last().unwrap().tls.clone().unwrap();
    tls.client_cert.unwrap()
}

/// Writes `text` to `path` with an mtime of its own, so that the change is seen
/// even within one tick of the file system's clock.
fn replace(path: &std::path::Path, text: &str, generation: u64) {
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000 + generation))
        .unwrap();
}

/// Waits out the window within which a changed file may go unnoticed.
fn wait_for_the_trust_recheck() {
    std::thread::sleep(TRUST_RECHECK_INTERVAL);
}

fn device(ca: &Ca) -> Identity {
    let now = SystemTime::now();
    ca.leaf(
        &KeyPair::generate().unwrap(),
        None,
        now - DAY,
        now + 30 * DAY,
    )
}

#[test]
fn identity_files_are_reloaded_when_they_change() {
    let (ca, devices) = (Ca::new("server CA"), Ca::new("device CA"));
    let server = mtls_server(&ca, &devices, false);
    let dir = temp_dir("identity-rotated");
    let (cert, key) = (dir.join("device.pem"), dir.join("device.key"));
    let (first, second) = (device(&devices), device(&devices));
    replace(&cert, &first.chain_pem, 1);
    replace(&key, &first.key_pem, 1);
    let client = Client::builder()
        .tls(ca.trust().client_auth_pem_files(&cert, &key))
        .build()
        .unwrap();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(last_client_cert(&server), first.chain[0]);
    assert_eq!(client.stats().idle_connections, 1);

    replace(&cert, &second.chain_pem, 2);
    replace(&key, &second.key_pem, 2);
    wait_for_the_trust_recheck();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert_eq!(
        resp.connection(),
        NewTlsFull,
        "no old connection, no old session"
    );
    resp.into_string().unwrap();
    assert_eq!(last_client_cert(&server), second.chain[0]);
    let s = client.stats();
    assert_eq!((s.connections_opened, s.pool_reuses), (2, 1));
    assert_eq!(s.idle_connections, 1, "the old idle connection was closed");
    assert_eq!(server.handshakes_resumed(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

// Its stricter server speaks TLS 1.2 only (a refused certificate fails the
// handshake), which a client without the `tls12` feature cannot talk to at all.
#[cfg(feature = "tls12")]
#[test]
fn bad_new_identity_file_keeps_the_last_good_one_and_says_so() {
    // The identity files are re-checked on use: on this thread.
    let logs = crate::support::logs::capture();
    let (ca, devices) = (Ca::new("server CA"), Ca::new("device CA"));
    let server = mtls_server(&ca, &devices, false);
    let dir = temp_dir("identity-bad");
    let (cert, key) = (dir.join("device.pem"), dir.join("device.key"));
    let good = device(&devices);
    replace(&cert, &good.chain_pem, 1);
    replace(&key, &good.key_pem, 1);
    let client = Client::builder()
        .tls(ca.trust().client_auth_pem_files(&cert, &key))
        .build()
        .unwrap();
    assert_eq!(get(&client, &server).unwrap(), "hello device");

    // A new certificate whose key did not arrive: it does not match the old key.
    let half = device(&devices);
    replace(&cert, &half.chain_pem, 2);
    wait_for_the_trust_recheck();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(
        last_client_cert(&server),
        good.chain[0],
        "the last good one"
    );
    let cert_name = cert.display().to_string();
    let logged: Vec<String> = logs
        .records()
        .into_iter()
        .filter(|l| (l.starts_with("WARN ") || l.starts_with("ERROR ")) && l.contains(&cert_name))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("last good"), "{logged:?}");

    // A server that refuses the last good identity: the error says why the new one
    // was not shown.
    let stricter = mtls_server(&ca, &Ca::new("a newer device CA"), true);
    let err = get(&client, &stricter).unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&cert_name) && text.contains("last good"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");

    // The key arrives: the new identity is used, and the note is gone.
    replace(&key, &half.key_pem, 3);
    wait_for_the_trust_recheck();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(last_client_cert(&server), half.chain[0]);
    let err = get(&client, &stricter).unwrap_err();
    assert!(!err.to_string().contains("last good"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_identity_file_fails_the_request_naming_it() {
    let ca = Ca::new("server CA");
    let server = mtls_server(&ca, &ca, false);
    let dir = temp_dir("identity-missing");
    let cert = dir.join("not-provisioned-yet.pem");
    let client = Client::builder()
        .tls(ca.trust().client_auth_pem_files(&cert, dir.join("key.pem")))
        .build()
        .unwrap();
    let err = get(&client, &server).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("not-provisioned-yet.pem"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A key in a secure element, as the caller's own code reaches it: here a ring
/// key behind a wrapper that counts the signatures asked of it.
#[derive(Debug)]
struct SecureElement {
    key: Arc<dyn SigningKey>,
    signatures: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct CountingSigner {
    inner: Box<dyn Signer>,
    signatures: Arc<AtomicUsize>,
}

impl SigningKey for SecureElement {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let inner = self.key.choose_scheme(offered)?;
        Some(Box::new(CountingSigner {
            inner,
            signatures: self.signatures.clone(),
        }))
    }

    fn public_key(&self) -> Option<rustls::pki_types::SubjectPublicKeyInfoDer<'_>> {
        self.key.public_key()
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
}

impl Signer for CountingSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.signatures.fetch_add(1, Ordering::SeqCst);
        self.inner.sign(message)
    }

    fn scheme(&self) -> SignatureScheme {
        self.inner.scheme()
    }
}

#[test]
fn key_held_in_hardware_signs_and_its_certificate_file_rotates() {
    let (ca, devices) = (Ca::new("server CA"), Ca::new("device CA"));
    let server = mtls_server(&ca, &devices, false);
    let key = KeyPair::generate().unwrap();
    let now = SystemTime::now();
    let first = devices.leaf(&key, None, now - DAY, now + DAY);
    let renewed = devices.leaf(&key, None, now - DAY, now + 2 * DAY);
    let signatures = Arc::new(AtomicUsize::new(0));
    let element = SecureElement {
        key: rustls::crypto::ring::sign::any_supported_type(&first.key).unwrap(),
        signatures: signatures.clone(),
    };
    let dir = temp_dir("identity-hardware");
    let cert = dir.join("device.pem");
    replace(&cert, &first.chain_pem, 1);
    let client = Client::builder()
        .tls(ca.trust().client_auth_signing_key(&cert, Arc::new(element)))
        .build()
        .unwrap();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(signatures.load(Ordering::SeqCst), 1);
    assert_eq!(last_client_cert(&server), first.chain[0]);

    replace(&cert, &renewed.chain_pem, 2);
    wait_for_the_trust_recheck();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(last_client_cert(&server), renewed.chain[0]);
    assert_eq!(signatures.load(Ordering::SeqCst), 2);
    // A certificate for another key is refused; the renewed one stays.
    replace(&cert, &device(&devices).chain_pem, 3);
    wait_for_the_trust_recheck();
    assert_eq!(get(&client, &server).unwrap(), "hello device");
    assert_eq!(last_client_cert(&server), renewed.chain[0]);
    let _ = std::fs::remove_dir_all(dir);
}

// ---- expiry in view ----

#[test]
fn expiry_report_names_the_client_certificate_and_each_server_leaf() {
    let (ca, devices) = (Ca::new("server CA"), Ca::new("device CA"));
    let now = SystemTime::now();
    let (soon, later) = (date(2100, 1, 1), date(2101, 6, 15));
    let identity = devices.leaf(&KeyPair::generate().unwrap(), None, now - DAY, soon);
    let tls = |until| {
        TlsOptions::new(ca.server(now - DAY, until)).require_client_cert(devices.der.clone())
    };
    let a = Server::https(tls(later), |_| Reply::ok(b"a"));
    let b = Server::https(tls(date(2102, 2, 3)), |_| Reply::ok(b"b"));
    let client = Client::builder()
        .tls(ca.trust())
        .tls_for(
            "localhost",
            ca.trust()
                .client_auth_pem(identity.chain_pem.as_bytes(), identity.key_pem.as_bytes()),
        )
        .build()
        .unwrap();
    let report = client.certificate_expiry();
    assert!(report.servers.is_empty(), "{report:?}");
    assert_eq!(report.identities.len(), 1, "{report:?}");
    assert_eq!(report.identities[0].rule.as_deref(), Some("localhost"));
    assert_eq!(report.identities[0].not_after, soon);

    assert_eq!(get(&client, &a).unwrap(), "a");
    assert_eq!(get(&client, &b).unwrap(), "b");
    let report = client.certificate_expiry();
    let mut servers: Vec<(String, SystemTime)> = report
        .servers
        .iter()
        .map(|s| (s.netloc.clone(), s.not_after))
        .collect();
    servers.sort();
    let mut expected = vec![
        (format!("localhost:{}", a.port()), later),
        (format!("localhost:{}", b.port()), date(2102, 2, 3)),
    ];
    expected.sort();
    assert_eq!(servers, expected);
    assert_eq!(report.soonest(), Some(soon));
}
