//! Certificate checks, session resumption, the TLS config cache, trust policies, mTLS.

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use support::{pki_and_https, temp_dir, trust, Pki, Reply, Server, TlsOptions, SERVER_NAMES};
use tinyhttps::ConnectionKind::{NewTlsFull, NewTlsResumed, Reused};
use tinyhttps::{Client, ClientBuilder, Error, TlsSettings, TRUST_RECHECK_INTERVAL};

/// A client that opens a new connection for every request (no pooling), so that
/// every request does a handshake.
fn fresh_connections(settings: TlsSettings) -> ClientBuilder {
    Client::builder().tls(settings).max_idle_per_host(0)
}

#[test]
fn unknown_ca_is_rejected_with_a_certificate_error() {
    let (_pki, server) = pki_and_https(|_| Reply::ok(b"secret"));
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(err.is_certificate(), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("localhost:{}", server.port())),
        "{err}"
    );
    assert!(server.requests().is_empty());
}

/// The error a client trusting `pki` gets from a server showing `identity`.
fn error_with(pki: &Pki, identity: support::Identity) -> Error {
    let server = Server::https(TlsOptions::new(identity), |_| Reply::ok(b"secret"));
    let err = support::client_trusting(pki)
        .get(&server.url("/"))
        .call()
        .unwrap_err();
    assert!(server.requests().is_empty());
    err
}

#[test]
fn certificate_for_another_name_or_expired_is_rejected_with_the_reason() {
    let pki = Pki::new("tinyhttps test CA");
    let cases = [
        (pki.server(&["other.example"]), "not valid for name"),
        (pki.expired_server(SERVER_NAMES), "expired"),
    ];
    for (identity, reason) in cases {
        let err = error_with(&pki, identity);
        assert!(err.is_certificate(), "{err}");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[test]
fn fresh_connections_to_one_host_build_one_config_and_resume() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let client = fresh_connections(trust(&pki)).build().unwrap();
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let resp = client.get(&server.url("/")).call().unwrap();
        kinds.push(resp.connection());
        resp.into_string().unwrap();
    }
    assert_eq!(
        kinds,
        [NewTlsFull, NewTlsResumed, NewTlsResumed, NewTlsResumed]
    );
    let s = client.stats();
    assert_eq!(s.connections_opened, 4);
    assert_eq!((s.tls_config_builds, s.tls_config_cache_hits), (1, 3));
    assert_eq!(s.root_store_parses, 1);
    assert_eq!((s.handshakes_full, s.handshakes_resumed), (1, 3));
    assert_eq!(server.handshakes_full(), 1);
    assert_eq!(server.handshakes_resumed(), 3);
}

#[cfg(feature = "tls12")]
#[test]
fn tls12_sessions_resume_too() {
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(
        TlsOptions::new(pki.server(SERVER_NAMES)).tls12_only(),
        |_| Reply::ok(b"x"),
    );
    let client = fresh_connections(trust(&pki)).build().unwrap();
    for _ in 0..3 {
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
    }
    assert_eq!(server.handshakes_resumed(), 2);
    assert_eq!(client.stats().handshakes_resumed, 2);
}

#[test]
fn lru_evicts_as_it_should_and_sessions_outlive_evicted_configs() {
    let pki = Pki::new("tinyhttps test CA");
    let servers: Vec<Server> = (0..3)
        .map(|_| {
            Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), |_| {
                Reply::ok(b"x")
            })
        })
        .collect();
    let client = fresh_connections(trust(&pki))
        .tls_cache_size(2)
        .build()
        .unwrap();
    // A B C A B C: with room for two, every lookup misses and every miss past the
    // second evicts the least recently used.
    for _round in 0..2 {
        for s in &servers {
            client
                .get(&s.url("/"))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
        }
    }
    let s = client.stats();
    assert_eq!(s.tls_config_builds, 6);
    assert_eq!(s.tls_config_cache_hits, 0);
    assert_eq!(s.tls_config_evictions, 4);
    assert_eq!(s.root_store_parses, 1);
    assert_eq!((s.handshakes_full, s.handshakes_resumed), (3, 3));
    for server in &servers {
        assert_eq!(server.handshakes_resumed(), 1);
    }
    // A B A B: both fit, second round hits.
    let client = fresh_connections(trust(&pki))
        .tls_cache_size(2)
        .build()
        .unwrap();
    for _round in 0..2 {
        for s in &servers[..2] {
            client
                .get(&s.url("/"))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
        }
    }
    let s = client.stats();
    assert_eq!((s.tls_config_builds, s.tls_config_cache_hits), (2, 2));
    assert_eq!(s.tls_config_evictions, 0);
}

#[test]
fn cache_size_zero_builds_a_config_per_connection() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let client = fresh_connections(trust(&pki))
        .tls_cache_size(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
    }
    let s = client.stats();
    assert_eq!(s.tls_config_builds, 3);
    assert_eq!(s.tls_config_cache_hits, 0);
    assert_eq!(s.root_store_parses, 1, "roots are parsed once all the same");
}

#[test]
fn resumption_can_be_turned_off() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let client = fresh_connections(trust(&pki).session_cache_size(0))
        .build()
        .unwrap();
    for _ in 0..3 {
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
    }
    assert_eq!(client.stats().handshakes_full, 3);
    assert_eq!(server.handshakes_resumed(), 0);
}

#[test]
fn each_host_gets_the_policy_of_its_rule() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    // "localhost" trusts the test CA; 127.0.0.1 falls to the default (webpki-roots).
    let client = fresh_connections(TlsSettings::new())
        .tls_for("localhost", trust(&pki))
        .build()
        .unwrap();
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let by_ip = server.url("/").replace("localhost", "127.0.0.1");
    let err = client.get(&by_ip).call().unwrap_err();
    assert!(err.is_certificate(), "{err}");
    // Sessions of one name under two policies: see the unit test
    // `one_name_under_two_policies_resumes_only_its_own_sessions` (src/tls/tests.rs).
    let wildcard = Client::builder()
        .tls_for("*.example", TlsSettings::new())
        .tls_for("localhost", trust(&pki))
        .build()
        .unwrap();
    assert!(wildcard.get(&server.url("/")).call().is_ok());
}

#[test]
fn changed_pem_file_is_picked_up_and_old_sessions_are_not_offered() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let dir = temp_dir("pem-change");
    let ca_file = pki.write_ca_pem(&dir);
    let client = fresh_connections(TlsSettings::new().root_pem_file(&ca_file))
        .tls_cache_size(0)
        .build()
        .unwrap();
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(client.stats().handshakes_resumed, 1);
    // The device's trust changes: another CA only. The session earned under the old
    // trust must not be offered; the server's certificate must now fail.
    let other = Pki::new("another CA");
    std::fs::write(&ca_file, format!("{}\n", other.ca_pem)).unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(err.is_certificate(), "{err}");
    assert_eq!(client.stats().root_store_parses, 2);
    assert_eq!(server.handshakes_resumed(), 1);
    // A broken file is a clear error naming it.
    std::fs::write(
        &ca_file,
        "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
    assert!(err.to_string().contains("#0"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new("tinyhttps test CA");
    let device = pki.client("device-0042");
    let tls = TlsOptions::new(pki.server(SERVER_NAMES)).require_client_cert(pki.ca_der.clone());
    let server = Server::https(tls, |_| Reply::ok(b"hello device"));
    let with_cert = Client::builder()
        .tls(trust(&pki).client_auth_pem(device.chain_pem.as_bytes(), device.key_pem.as_bytes()))
        .build()
        .unwrap();
    let body = with_cert
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "hello device");
    let seen = server.requests();
    assert!(seen[0].tls.as_ref().unwrap().client_cert.is_some());

    let without = Client::builder().tls(trust(&pki)).build().unwrap();
    let err = without
        .get(&server.url("/"))
        .call()
        .and_then(|r| r.into_string())
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn bad_client_key_is_reported_at_build() {
    let err = Client::builder()
        .tls(TlsSettings::new().client_auth_pem(b"not pem", b"not a key"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[test]
fn roots_come_from_a_directory_or_the_system_store() {
    // It sets SSL_CERT_FILE: alone in a child process.
    if support::child::run_isolated() {
        return;
    }
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let dir = temp_dir("pem-dir");
    pki.write_ca_pem(&dir);
    std::fs::write(dir.join("README.txt"), "not a certificate, not read").unwrap();
    let from_dir = Client::builder()
        .tls(TlsSettings::new().root_pem_dir(&dir))
        .build()
        .unwrap();
    assert!(from_dir.get(&server.url("/")).call().is_ok());
    // The system store as firmware images set it; read when the first config is built.
    std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem"));
    let system = Client::builder()
        .tls(TlsSettings::new().system_roots())
        .build()
        .unwrap();
    let result = system.get(&server.url("/")).call();
    std::env::remove_var("SSL_CERT_FILE");
    assert!(result.is_ok(), "{:?}", result.err());
    let empty = temp_dir("pem-empty");
    let err = Client::builder()
        .tls(TlsSettings::new().root_pem_dir(&empty))
        .build()
        .unwrap()
        .get(&server.url("/"))
        .call()
        .unwrap_err();
    assert!(err.to_string().contains("no usable certificate"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn a_trailing_dot_in_the_url_does_not_escape_the_rule_for_the_host() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    // The rule trusts the test CA; the default policy (webpki-roots) does not.
    let client = Client::builder()
        .tls_for("localhost", trust(&pki))
        .resolve("localhost.", server.port(), "127.0.0.1".parse().unwrap())
        .build()
        .unwrap();
    let dotted = server.url_with_host("localhost.", "/");
    let body = client.get(&dotted).call().unwrap().into_string().unwrap();
    assert_eq!(body, "x");
    assert_eq!(
        server.requests()[0].tls.as_ref().unwrap().sni.as_deref(),
        Some("localhost")
    );
}

/// Sends every name to 127.0.0.1 on the port it holds, whatever the URL's port: the
/// server behind one netloc can be switched.
struct Switch(Arc<AtomicU16>);

impl tinyhttps::Resolve for Switch {
    fn resolve(&self, _host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::from((
            [127, 0, 0, 1],
            self.0.load(Ordering::SeqCst),
        ))])
    }
}

/// Waits out the window within which a changed root file may go unnoticed.
fn wait_for_the_trust_recheck() {
    std::thread::sleep(TRUST_RECHECK_INTERVAL);
}

#[test]
fn replaced_root_file_applies_to_cached_configs_and_pooled_connections() {
    let (ca1, server1) = pki_and_https(|_| Reply::ok(b"x"));
    let ca2 = Pki::new("another CA");
    let server2 = Server::https(TlsOptions::new(ca2.server(SERVER_NAMES)), |_| {
        Reply::ok(b"x")
    });
    let dir = temp_dir("trust-replaced");
    let ca_file = ca1.write_ca_pem(&dir);
    let backend = Arc::new(AtomicU16::new(server1.port()));
    // The defaults: config cache, pooling and resumption on.
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem_file(&ca_file))
        .resolver(Switch(backend.clone()))
        .build()
        .unwrap();
    let url = server1.url("/");
    let kind = |client: &Client| {
        let resp = client.get(&url).call()?;
        let kind = resp.connection();
        resp.into_string()?;
        Ok::<_, Error>(kind)
    };
    assert_eq!(kind(&client).unwrap(), NewTlsFull);
    assert_eq!(kind(&client).unwrap(), Reused);
    assert_eq!(client.stats().idle_connections, 1);
    // The device now trusts another CA only; the server still shows the old chain.
    std::fs::write(&ca_file, &ca2.ca_pem).unwrap();
    wait_for_the_trust_recheck();
    let err = kind(&client).unwrap_err();
    assert!(err.is_certificate(), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let s = client.stats();
    assert_eq!(s.idle_connections, 0, "the idle connection was dropped");
    assert_eq!(s.pool_reuses, 1, "not reused under the new trust");
    assert_eq!((s.connections_opened, s.root_store_parses), (2, 2));
    assert_eq!(server1.requests().len(), 2);
    // The reverse: the server behind that name now shows a chain of the new CA.
    backend.store(server2.port(), Ordering::SeqCst);
    assert_eq!(kind(&client).unwrap(), NewTlsFull);
    assert_eq!(server2.handshakes_full(), 1);
    assert_eq!(
        server1.handshakes_resumed() + server2.handshakes_resumed(),
        0
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn widened_root_file_starts_over_without_old_sessions_or_connections() {
    let (ca1, server) = pki_and_https(|_| Reply::ok(b"x"));
    let dir = temp_dir("trust-widened");
    let ca_file = ca1.write_ca_pem(&dir);
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem_file(&ca_file))
        .build()
        .unwrap();
    let url = server.url("/");
    // Two connections: the second, opened while the first is busy, resumes the
    // session of the first. Both go idle.
    let first = client.get(&url).call().unwrap();
    let second = client.get(&url).call().unwrap();
    assert_eq!(
        (first.connection(), second.connection()),
        (NewTlsFull, NewTlsResumed)
    );
    first.into_string().unwrap();
    second.into_string().unwrap();
    assert_eq!(client.stats().idle_connections, 2);
    // The file now holds another CA as well: the server is still trusted, but
    // nothing made under the old trust (connections, sessions) is used again.
    let ca2 = Pki::new("another CA");
    std::fs::write(&ca_file, format!("{}{}", ca1.ca_pem, ca2.ca_pem)).unwrap();
    wait_for_the_trust_recheck();
    let third = client.get(&url).call().unwrap();
    assert_eq!(third.connection(), NewTlsFull);
    third.into_string().unwrap();
    let s = client.stats();
    assert_eq!(s.idle_connections, 1, "the two old ones were dropped");
    assert_eq!(s.pool_reuses, 0);
    assert_eq!(s.root_store_parses, 2);
    assert_eq!(
        (server.handshakes_full(), server.handshakes_resumed()),
        (2, 1)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn default_cipher_order_negotiates_chacha20_on_arm_and_aes_128_gcm_elsewhere() {
    use rustls::CipherSuite::*;
    // ring on 32-bit ARM has no hardware AES: ChaCha20 must be what the server picks
    // (it follows the client's order); elsewhere AES-128-GCM.
    let expected = if cfg!(target_arch = "arm") {
        [
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    } else {
        [
            TLS13_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ]
    };
    let pki = Pki::new("tinyhttps test CA");
    let tls13 = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), |_| {
        Reply::ok(b"x")
    });
    let tls12 = Server::https(
        TlsOptions::new(pki.server(SERVER_NAMES)).tls12_only(),
        |_| Reply::ok(b"x"),
    );
    let client = support::client_trusting(&pki);
    // Without the `tls12` feature the client cannot talk to the TLS 1.2 server
    // (hostile::without_the_tls12_feature_*).
    let servers = [(&tls13, expected[0]), (&tls12, expected[1])];
    let count = if cfg!(feature = "tls12") { 2 } else { 1 };
    for &(server, suite) in &servers[..count] {
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let seen = server.requests()[0].tls.clone().unwrap();
        assert_eq!(seen.cipher_suite, Some(suite));
    }
}
