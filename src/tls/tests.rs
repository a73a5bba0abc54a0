//! Unit tests of policies, host patterns, cipher order, session stores and trust
//! changes; handshakes run in memory against a rustls server.

use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use rustls::server::ServerSessionMemoryCache;
use rustls::{ClientConnection, HandshakeKind, ServerConfig, ServerConnection};

use super::*;

#[test]
fn host_patterns_match_exact_names_and_subdomains() {
    let exact = HostPattern::new("API.example.com").unwrap();
    assert!(exact.matches("api.example.com"));
    assert!(!exact.matches("x.api.example.com"));
    let wild = HostPattern::new("*.example.com").unwrap();
    assert!(wild.matches("a.example.com"));
    assert!(wild.matches("a.b.example.com"));
    assert!(!wild.matches("example.com"));
    assert!(!wild.matches("badexample.com"));
    assert!(HostPattern::new("*.").is_err());
    assert!(HostPattern::new("a*.b").is_err());
}

#[test]
fn host_patterns_ignore_case_and_one_trailing_dot_on_both_sides() {
    let exact = HostPattern::new("Device-API.example.com.").unwrap();
    for host in ["device-api.example.com", "device-api.example.com."] {
        assert!(exact.matches(host), "{host}");
    }
    assert!(!exact.matches("device-api.example.com.."));
    let wild = HostPattern::new("*.Example.com.").unwrap();
    assert!(wild.matches("a.example.com."));
    assert!(wild.matches("a.example.com"));
    assert!(!wild.matches("example.com."));
    let ip = HostPattern::new("[::1]").unwrap();
    assert!(ip.matches("::1"));
    assert!(HostPattern::new("::1").unwrap().matches("::1"));
}

#[test]
fn host_patterns_with_a_port_or_scheme_are_refused_naming_the_pattern() {
    for bad in [
        "device-api.example.com:8443",
        "*.example.com:443",
        "https://device-api.example.com",
        "[::1]:8443",
        ".",
    ] {
        let err = HostPattern::new(bad).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{bad}: {err}");
    }
}

/// The suites of a provider, in its order.
fn suites(p: &CryptoProvider) -> Vec<CipherSuite> {
    p.cipher_suites.iter().map(|s| s.suite()).collect()
}

#[test]
fn a_cipher_named_twice_is_offered_once_at_its_first_place() {
    use Cipher::*;
    let settings = TlsSettings::new().cipher_preference(&[Aes256Gcm, ChaCha20Poly1305, Aes256Gcm]);
    assert_eq!(settings.ciphers, [Aes256Gcm, ChaCha20Poly1305]);
    let twice = suites(&provider(&settings.ciphers));
    let once = suites(&provider(&[Aes256Gcm, ChaCha20Poly1305]));
    assert_eq!(twice, once);
}

#[test]
fn cipher_preference_orders_and_filters_suites() {
    use CipherSuite::*;
    let p = provider(&[Cipher::ChaCha20Poly1305]);
    assert_eq!(
        suites(&p),
        [
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    );
    let p = provider(&[Cipher::Aes128Gcm, Cipher::ChaCha20Poly1305]);
    assert_eq!(
        suites(&p),
        [
            TLS13_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    );
    let p = provider(&[Cipher::Aes256Gcm]);
    assert_eq!(
        suites(&p),
        [
            TLS13_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ]
    );
}

#[test]
fn every_suite_of_the_provider_has_a_known_cipher() {
    // A suite a later rustls adds would otherwise never be offered, silently.
    let all = rustls::crypto::ring::default_provider();
    for suite in suites(&all) {
        assert!(
            cipher_of(suite).is_some(),
            "{suite:?} is not in SUITE_CIPHERS"
        );
    }
    let every = [
        Cipher::ChaCha20Poly1305,
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
    ];
    assert_eq!(
        provider(&every).cipher_suites.len(),
        all.cipher_suites.len()
    );
}

/// A CA (PEM) and a server identity for "localhost" signed by it.
struct TestPki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        chain: vec![leaf.der().clone()],
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
    }
}

/// A TLS 1.3 server that resumes sessions and sends ONE ticket per handshake, so
/// that a client store holds exactly the ticket of its last handshake.
fn one_ticket_server(pki: &TestPki) -> Arc<ServerConfig> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), pki.key.clone_key().into())
            .unwrap();
    config.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
    config.session_storage = ServerSessionMemoryCache::new(16);
    config.send_tls13_tickets = 1;
    Arc::new(config)
}

/// A full in-memory handshake of `client` (for "localhost") with `server`, tickets
/// delivered: full or resumed?
fn handshake(client: Arc<ClientConfig>, server: &Arc<ServerConfig>) -> HandshakeKind {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(client, name).unwrap();
    let mut s = ServerConnection::new(server.clone()).unwrap();
    let mut wire = Vec::new();
    for _ in 0..10 {
        wire.clear();
        while c.wants_write() {
            c.write_tls(&mut wire).unwrap();
        }
        let mut rd = &wire[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets().unwrap();
        }
        wire.clear();
        while s.wants_write() {
            s.write_tls(&mut wire).unwrap();
        }
        let mut rd = &wire[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets().unwrap();
        }
        if !c.is_handshaking() && !s.is_handshaking() && !s.wants_write() && !c.wants_write() {
            break;
        }
    }
    assert!(!c.is_handshaking());
    c.handshake_kind().unwrap()
}

/// The trust settings of both policies below: the same CA.
fn trusting(pki: &TestPki) -> TlsSettings {
    TlsSettings::new().root_pem(pki.ca_pem.as_bytes())
}

#[test]
fn one_name_under_two_policies_resumes_only_its_own_sessions() {
    // Within a client a name always gets the same policy, so two policies meet one
    // name only here: configs of each for "localhost", port 443, one server.
    let pki = test_pki();
    let server = one_ticket_server(&pki);
    let rule = (HostPattern::new("localhost").unwrap(), trusting(&pki));
    let configs = TlsConfigs::new(trusting(&pki), vec![rule], 8, Clock::default()).unwrap();
    let counters = Counters::default();
    let config = |policy| {
        let (config, _) = configs.build(policy, 443, &counters, &mut |_| {}).unwrap();
        Arc::new(config)
    };
    let (a, b) = (PolicyId(0), PolicyId(1));
    assert_eq!(handshake(config(a), &server), HandshakeKind::Full);
    assert_eq!(handshake(config(a), &server), HandshakeKind::Resumed);
    // The server would resume A's ticket; B must not offer it.
    assert_eq!(handshake(config(b), &server), HandshakeKind::Full);
    // Nor take it: the server sends one ticket per handshake, so a store shared by
    // A and B would now hold B's ticket only, and A could not resume.
    assert_eq!(handshake(config(a), &server), HandshakeKind::Resumed);
    assert_eq!(handshake(config(b), &server), HandshakeKind::Resumed);
}

#[test]
fn changed_root_file_resets_that_policy_only() {
    let (pki, other) = (test_pki(), test_pki());
    let dir = std::env::temp_dir().join(format!("tinyhttps-unit-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, &pki.ca_pem).unwrap();
    let rule = (
        HostPattern::new("localhost").unwrap(),
        TlsSettings::new().root_pem_file(&file),
    );
    let mut configs = TlsConfigs::new(trusting(&pki), vec![rule], 8, Clock::default()).unwrap();
    configs.recheck = Throttle::new(Duration::ZERO);
    let counters = Counters::default();
    let netloc = |url: &str| Netloc::from_uri(&url.parse().unwrap()).unwrap();
    let urls = [
        "https://localhost/",
        "https://localhost:8443/",
        "https://other.test/",
    ];
    for url in urls {
        configs.get(&netloc(url), &counters, &mut |_| {}).unwrap();
    }
    let stores = |policy: usize| lock(&configs.policies[policy].sessions).len();
    let generation = |policy| configs.trust(PolicyId(policy)).generation;
    let cached = || lock(configs.cache.as_ref().unwrap()).len();
    assert_eq!((stores(0), stores(1), cached()), (2, 1, 3));
    let mut dropped = Vec::new();
    configs.recheck(crate::deadline::now(), &mut |p| dropped.push(p));
    assert!(dropped.is_empty(), "nothing changed yet");

    std::fs::write(&file, &other.ca_pem).unwrap();
    configs.recheck(crate::deadline::now(), &mut |p| dropped.push(p));
    assert_eq!(dropped, [PolicyId(0)]);
    assert_eq!((stores(0), stores(1), cached()), (0, 1, 1));
    assert_eq!((generation(0), generation(1)), (1, 0));
    assert!(lock(&configs.policies[0].state).is_none());
    // The next config of the policy is built from the new file, under the new
    // generation; nothing more is dropped.
    let found = configs
        .get(&netloc(urls[0]), &counters, &mut |p| dropped.push(p))
        .unwrap();
    let trust = Trust {
        policy: PolicyId(0),
        generation: 1,
    };
    assert_eq!(found.trust, trust);
    assert_eq!(dropped, [PolicyId(0)]);
    assert_eq!(counters.snapshot().root_store_parses, 3);
    let _ = std::fs::remove_dir_all(dir);
}
