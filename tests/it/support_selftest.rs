//! Tests of the test support module itself, with raw sockets and a bare
//! rustls client: no tinyhttps code involved.

use crate::support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::ring::default_provider;
use rustls::pki_types::ServerName;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned,
    SupportedProtocolVersion,
};

use support::{
    pki_and_https, read_message, read_until_end, temp_dir, wait_until, Options, Pki, Reply, Server,
    Step, TlsOptions, SERVER_NAMES,
};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

fn client_config(
    pki: &Pki,
    versions: &[&'static SupportedProtocolVersion],
    identity: Option<&support::Identity>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .unwrap(),
    };
    Arc::new(config)
}

fn tcp_connect(server: &Server) -> TcpStream {
    let sock = TcpStream::connect(server.addr()).unwrap();
    sock.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    sock
}

fn tls_connect(server: &Server, config: &Arc<ClientConfig>) -> TlsStream {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config.clone(), name).unwrap();
    StreamOwned::new(conn, tcp_connect(server))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").into_bytes()
}

#[test]
fn plain_server_records_request_and_answers_with_content_length() {
    let server = Server::http(|_| Reply::ok(b"hello"));
    assert!(server.url("/x").starts_with("http://127.0.0.1:"));
    let mut sock = tcp_connect(&server);
    sock.write_all(b"GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-Test:  Yes \r\n\r\n")
        .unwrap();
    let (head, body) = read_message(&mut sock).unwrap();
    assert_eq!(head, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    assert_eq!(body, b"hello");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.conn_id, r.seq_on_conn), (0, 0));
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/a?b=1");
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.headers[0], ("host".to_string(), "example".to_string()));
    assert_eq!(r.header("X-TEST"), Some("Yes"));
    assert!(r.body.is_empty());
    assert!(r.raw_head.starts_with(b"GET /a?b=1 HTTP/1.1\r\n"));
    assert!(r.tls.is_none());
    assert_eq!(server.connections(), 1);
}

#[test]
fn tls_server_counts_full_then_resumed_handshakes() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"hi"));
    assert!(server.url("/").starts_with("https://localhost:"));
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    for (n, version) in versions.into_iter().enumerate() {
        // One config per version: its session cache is what resumes.
        let config = client_config(&pki, &[version], None);
        for expected in [HandshakeKind::Full, HandshakeKind::Resumed] {
            let mut stream = tls_connect(&server, &config);
            stream.write_all(&get("/")).unwrap();
            let (_, body) = read_message(&mut stream).unwrap();
            assert_eq!(body, b"hi");
            assert_eq!(stream.conn.handshake_kind(), Some(expected));
        }
        assert_eq!(server.handshakes_full(), n + 1);
        assert_eq!(server.handshakes_resumed(), n + 1);
    }
    assert_eq!(server.tls_failures(), 0);
    let tls: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.tls.clone().unwrap())
        .collect();
    assert_eq!(tls[0].sni.as_deref(), Some("localhost"));
    assert_eq!(tls[0].version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(tls[2].version, Some(rustls::ProtocolVersion::TLSv1_2));
    let resumed: Vec<bool> = tls.iter().map(|t| t.resumed).collect();
    assert_eq!(resumed, [false, true, false, true]);
    assert!(tls[0].client_cert.is_none());
}

#[test]
fn chunked_request_body_is_recorded_dechunked() {
    let server = Server::http(|r| Reply::ok(&r.body));
    let mut sock = tcp_connect(&server);
    sock.write_all(
        b"POST /up HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n",
    )
    .unwrap();
    let (_, body) = read_message(&mut sock).unwrap();
    assert_eq!(body, b"hello world");
    let r = &server.requests()[0];
    assert!(r.is_chunked());
    assert_eq!(r.body_text(), "hello world");
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let (pki, server) = pki_and_https(|r| Reply::ok(r.target.as_bytes()));
    let config = client_config(&pki, &[&rustls::version::TLS13], None);
    let mut stream = tls_connect(&server, &config);
    for path in ["/one", "/two"] {
        stream.write_all(&get(path)).unwrap();
        let (_, body) = read_message(&mut stream).unwrap();
        assert_eq!(body, path.as_bytes());
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].conn_id, requests[1].conn_id);
    assert_eq!((requests[0].seq_on_conn, requests[1].seq_on_conn), (0, 1));
    assert_eq!(server.connections(), 1);
}

#[test]
fn close_notify_step_ends_tls_cleanly_and_close_step_does_not() {
    let (pki, server) = pki_and_https(|r| {
        let response = b"HTTP/1.1 200 OK\r\n\r\nuntil close".to_vec();
        let end = if r.target == "/clean" {
            Step::CloseNotify
        } else {
            Step::Close
        };
        Reply::steps(vec![Step::Send(response), end], true)
    });
    let config = client_config(&pki, &[&rustls::version::TLS13], None);

    let mut clean = tls_connect(&server, &config);
    clean.write_all(&get("/clean")).unwrap();
    let (data, end) = read_until_end(&mut clean);
    assert!(data.ends_with(b"\r\n\r\nuntil close"));
    end.expect("close_notify then FIN reads as a clean end");

    let mut abrupt = tls_connect(&server, &config);
    abrupt.write_all(&get("/abrupt")).unwrap();
    let (data, end) = read_until_end(&mut abrupt);
    assert!(data.ends_with(b"\r\n\r\nuntil close"));
    assert_eq!(end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn expired_certificate_is_rejected_by_a_verifying_client() {
    let pki = Pki::new("expired test CA");
    let tls = TlsOptions::new(pki.expired_server(SERVER_NAMES));
    let server = Server::https(tls, |_| Reply::ok(b"never"));
    let config = client_config(&pki, &[&rustls::version::TLS13], None);
    let mut stream = tls_connect(&server, &config);
    let err = stream.write_all(&get("/")).and_then(|()| stream.flush());
    let err = err.expect_err("the handshake must fail");
    let rustls_err = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {err:?}"));
    assert!(
        matches!(
            rustls_err,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "{rustls_err:?}"
    );
    assert!(wait_until(Duration::from_secs(10), || server
        .tls_failures()
        == 1));
    assert_eq!(server.handshakes_full(), 0);
    assert!(server.requests().is_empty());
}

#[test]
fn client_certificate_is_required_when_client_ca_is_set() {
    let pki = Pki::new("mtls test CA");
    let tls = TlsOptions::new(pki.server(SERVER_NAMES)).require_client_cert(pki.ca_der.clone());
    let server = Server::https(tls, |_| Reply::ok(b"welcome"));
    let tls13 = [&rustls::version::TLS13];

    let anonymous = client_config(&pki, &tls13, None);
    let mut stream = tls_connect(&server, &anonymous);
    // TLS 1.3: the client learns of the rejection when it reads.
    let _ = stream.write_all(&get("/"));
    let mut buf = [0u8; 64];
    assert!(stream.read(&mut buf).is_err());
    assert!(wait_until(Duration::from_secs(10), || server
        .tls_failures()
        == 1));

    let identity = pki.client("device-1");
    let with_cert = client_config(&pki, &tls13, Some(&identity));
    let mut stream = tls_connect(&server, &with_cert);
    stream.write_all(&get("/")).unwrap();
    let (_, body) = read_message(&mut stream).unwrap();
    assert_eq!(body, b"welcome");
    let info = server.requests()[0].tls.clone().unwrap();
    assert_eq!(info.client_cert.as_ref(), Some(&identity.chain[0]));
}

#[test]
fn expect_continue_gets_an_interim_response_unless_answered_before_body() {
    let request =
        b"PUT /p HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n";

    let server = Server::http(|r| Reply::ok(&r.body));
    let mut sock = tcp_connect(&server);
    sock.write_all(request).unwrap();
    let (head, _) = read_message(&mut sock).unwrap();
    assert_eq!(head, "HTTP/1.1 100 Continue\r\n\r\n");
    sock.write_all(b"data").unwrap();
    let (head, body) = read_message(&mut sock).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(body, b"data");

    let options = Options {
        answer_before_body: true,
        ..Options::default()
    };
    let server = Server::http_with(options, |_| Reply::status(417, &[], b""));
    let mut sock = tcp_connect(&server);
    sock.write_all(request).unwrap();
    let (data, end) = read_until_end(&mut sock);
    end.unwrap();
    assert!(data.starts_with(b"HTTP/1.1 417 Expectation Failed\r\n"));
    // Logged once the client closes (or after a second), with what it sent after
    // the head as the body.
    sock.write_all(b"late").unwrap();
    drop(sock);
    assert!(wait_until(Duration::from_secs(10), || server
        .requests()
        .len()
        == 1));
    assert_eq!(server.requests()[0].body, b"late");
}

#[test]
fn server_stop_returns_quickly_even_while_a_reply_sleeps() {
    let server = Server::http(|_| Reply::steps(vec![Step::Sleep(Duration::from_secs(60))], true));
    let mut sock = tcp_connect(&server);
    sock.write_all(&get("/slow")).unwrap();
    assert!(wait_until(Duration::from_secs(10), || server
        .requests()
        .len()
        == 1));
    let started = Instant::now();
    server.stop();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    let (data, _) = read_until_end(&mut sock);
    assert!(data.is_empty());
}

#[test]
fn reply_builders_frame_bodies() {
    let reply = Reply::status(404, &[("x-a", "1")], b"nope");
    assert_eq!(
        reply.bytes(),
        b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\ncontent-length: 4\r\n\r\nnope"
    );
    assert!(reply.keep_alive);
    let reply =
        Reply::chunked(200, &[b"ab", b"", b"0123456789abcdef"], &[("x-t", "v")]).then_close();
    assert_eq!(
        reply.bytes(),
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
          2\r\nab\r\n10\r\n0123456789abcdef\r\n0\r\nx-t: v\r\n\r\n"
    );
    assert!(!reply.keep_alive);
    let reply = Reply::status(204, &[], b"");
    assert_eq!(reply.bytes(), b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn pki_writes_pem_files() {
    let pki = Pki::new("pem test CA");
    let dir = temp_dir("pem");
    let ca = pki.write_ca_pem(&dir);
    assert_eq!(ca, dir.join("ca.pem"));
    let text = std::fs::read_to_string(&ca).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
    let (cert, key) = pki.client("c").write_pem(&dir, "client");
    assert!(std::fs::read_to_string(cert)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(std::fs::read_to_string(key)
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    let other = temp_dir("pem");
    assert_ne!(other, dir);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&other).unwrap();
}
