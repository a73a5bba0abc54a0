//! Misbehaving servers: each case is a clear error, or a documented acceptance that
//! never puts the connection back in the pool.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::raw::{self, RawServer};
use support::{client_trusting, pki_and_https, Pki, Reply, Server, Step, TlsOptions, SERVER_NAMES};
use tinyhttps::{Client, Error, Resolve, TlsSettings, TlsVersion};

fn get_err(client: &Client, url: &str) -> Error {
    match client.get(url).call() {
        Ok(resp) => resp.into_vec().expect_err("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn both_transfer_encoding_and_content_length_is_read_chunked_and_never_reused() {
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    });
    let client = Client::new();
    for _ in 0..2 {
        let body = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert_eq!(body, "hello");
    }
    assert_eq!(
        server.connections(),
        2,
        "a smuggling-shaped response closes"
    );
}

/// The same smuggling shape with an empty body (`Content-Length: 0`, a coding that
/// is not chunked): no body to read, and the connection is still not reused.
#[test]
fn both_framings_with_an_empty_body_never_reuse_the_connection() {
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 0\r\n\r\n")
    });
    let client = Client::new();
    for _ in 0..2 {
        let resp = client.get(&server.url("/")).call().unwrap();
        assert_eq!(resp.into_vec().unwrap(), b"");
    }
    assert_eq!(server.connections(), 2, "the connection was reused");
    assert_eq!(client.stats().pool_reuses, 0);
}

#[test]
fn negative_or_overflowing_content_length_is_a_protocol_error() {
    for length in ["-1", "99999999999999999999999", "1x", ""] {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\nabc");
        let server = Server::http(move |_| Reply::raw(head.as_bytes()));
        let err = get_err(&Client::new(), &server.url("/"));
        assert!(matches!(err, Error::Protocol { .. }), "{length:?}: {err}");
    }
}

#[test]
fn invalid_chunk_sizes_are_protocol_errors() {
    for chunk in ["zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n"] {
        let bytes = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{chunk}");
        let server = Server::http(move |_| Reply::raw(bytes.as_bytes()));
        let err = get_err(&Client::new(), &server.url("/"));
        assert!(matches!(err, Error::Protocol { .. }), "{chunk:?}: {err}");
    }
}

#[test]
fn endless_chunk_size_line_is_refused() {
    let server = Server::http(|_| {
        let mut bytes = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 100_000));
        Reply::raw(&bytes)
    });
    let err = get_err(&Client::new(), &server.url("/"));
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn bytes_sent_unasked_to_an_idle_connection_get_it_discarded() {
    let (read_tx, read_rx) = mpsc::channel::<()>();
    let (sent_tx, sent_rx) = mpsc::channel();
    let read_rx = Mutex::new(read_rx);
    let server = RawServer::start(move |index, mut sock| {
        if support::read_message(&mut sock).is_err() {
            return;
        }
        let _ = raw::respond(&mut sock, b"ok");
        if index == 0 {
            // Once the client has read its answer: a second, unasked one, while the
            // connection idles in the client's pool. Then hold it until the client
            // closes it.
            let _ = read_rx.lock().unwrap().recv_timeout(raw::READ_LIMIT);
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged");
            let _ = sent_tx.send(());
            let _ = support::read_message(&mut sock);
        }
    });
    let client = Client::new();
    let get = || {
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    assert_eq!(get(), "ok");
    read_tx.send(()).unwrap();
    sent_rx
        .recv_timeout(raw::READ_LIMIT)
        .expect("server sent the unasked bytes");
    assert_eq!(get(), "ok");
    let s = client.stats();
    assert_eq!((s.pool_stale_discards, s.connections_opened), (1, 2));
    drop(client);
}

/// The client's receive buffer (8 KiB): a response of exactly this size fills it,
/// so whatever follows in the same TLS record stays inside rustls.
const RECV_BUFFER: usize = 8 * 1024;

/// A `200` with a Content-Length whose head and body are exactly `total` bytes.
fn response_of_exactly(total: usize) -> Vec<u8> {
    let head = |n: usize| format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n");
    let n = (0..total)
        .rev()
        .find(|n| head(*n).len() + n == total)
        .unwrap();
    let mut out = head(n).into_bytes();
    out.resize(total, b'a');
    out
}

const FORGED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged";

#[test]
fn unasked_response_in_the_same_tls_record_is_never_read_as_the_next_answer() {
    let first = response_of_exactly(RECV_BUFFER);
    let first_len = first.len() - support::head_end(&first).unwrap();
    let served = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |_| {
        if served.fetch_add(1, Ordering::SeqCst) == 0 {
            // One write: the answer and an unasked response in one TLS record.
            Reply::raw(&[first.as_slice(), FORGED].concat())
        } else {
            Reply::ok(b"second")
        }
    });
    let client = client_trusting(&pki);
    let body = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    assert_eq!(body.len(), first_len);
    let idle_after_first = client.stats().idle_connections;
    let body = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "second");
    assert_eq!(
        idle_after_first, 0,
        "a connection with unread plaintext inside rustls is not pooled"
    );
    assert_eq!(server.connections(), 2);
    assert_eq!(client.stats().pool_reuses, 0);
}

/// What a raw TLS server sends right after its first answer, in the same write.
#[derive(Clone, Copy)]
enum AfterAnswer {
    /// A close_notify alert, with the TCP connection kept open.
    CloseNotify,
    /// The first half of a TLS record carrying an unasked response.
    HalfRecord,
}

/// An HTTPS server driven by hand: on its first connection it answers and then
/// sends `after` in the same write; on the second it just answers. Each
/// connection is held open until the client closes it.
fn raw_tls_server(pki: &Pki, after: AfterAnswer) -> RawServer {
    let config = TlsOptions::new(pki.server(SERVER_NAMES)).server_config();
    RawServer::start(move |index, mut sock| {
        let Some(mut tls) = raw::tls_handshake(&mut sock, &config) else {
            return;
        };
        if support::read_message(&mut rustls::Stream::new(&mut tls, &mut sock)).is_err() {
            return;
        }
        let mut wire = Vec::new();
        tls.writer()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .unwrap();
        while tls.wants_write() {
            tls.write_tls(&mut wire).unwrap();
        }
        if index == 0 {
            match after {
                AfterAnswer::CloseNotify => tls.send_close_notify(),
                AfterAnswer::HalfRecord => tls.writer().write_all(FORGED).unwrap(),
            }
            let answered = wire.len();
            while tls.wants_write() {
                tls.write_tls(&mut wire).unwrap();
            }
            if let AfterAnswer::HalfRecord = after {
                wire.truncate(answered + (wire.len() - answered) / 2);
            }
        }
        if sock.write_all(&wire).is_err() {
            return;
        }
        // Held open (no FIN) until the client closes it.
        let mut scratch = [0u8; 4096];
        while matches!(sock.read(&mut scratch), Ok(n) if n > 0) {}
    })
}

fn second_request_after(after: AfterAnswer) -> (tinyhttps::Stats, String) {
    let pki = Pki::new("tinyhttps test CA");
    let server = raw_tls_server(&pki, after);
    let client = Client::builder()
        .tls(support::trust(&pki))
        .timeout_read(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", server.port());
    let get = || client.get(&url).call().and_then(|r| r.into_string());
    assert_eq!(get().unwrap(), "ok");
    let idle_after_first = client.stats().idle_connections;
    let second = get().unwrap();
    let mut stats = client.stats();
    stats.idle_connections = idle_after_first;
    drop(client);
    (stats, second)
}

#[test]
fn connection_whose_server_sent_close_notify_is_never_pooled() {
    let (stats, second) = second_request_after(AfterAnswer::CloseNotify);
    assert_eq!(second, "ok");
    assert_eq!(stats.idle_connections, 0, "{stats:?}");
    assert_eq!((stats.connections_opened, stats.pool_reuses), (2, 0));
}

#[test]
fn connection_holding_part_of_a_tls_record_is_never_reused() {
    let (stats, second) = second_request_after(AfterAnswer::HalfRecord);
    assert_eq!(second, "ok");
    assert_eq!((stats.connections_opened, stats.pool_reuses), (2, 0));
}

#[test]
fn reset_in_the_middle_of_the_body_is_an_error() {
    // A raw server that never reads the request: closing a socket with unread bytes
    // makes the kernel send RST instead of FIN.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial")
            .unwrap();
        let _ = done_rx.recv_timeout(Duration::from_millis(300));
        drop(socket);
    });
    let resp = Client::new()
        .get(&format!("http://127.0.0.1:{port}/"))
        .call()
        .unwrap();
    let err = resp.into_vec().unwrap_err();
    let _ = done_tx.send(());
    server.join().unwrap();
    assert!(
        matches!(err, Error::Io { .. } | Error::Truncated { .. }),
        "{err}"
    );
}

#[test]
fn tls_version_below_the_minimum_is_a_tls_error() {
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(
        TlsOptions::new(pki.server(SERVER_NAMES)).tls12_only(),
        |_| Reply::ok(b"x"),
    );
    let client = Client::builder()
        .tls(
            TlsSettings::new()
                .root_pem(pki.ca_pem.as_bytes())
                .min_version(TlsVersion::Tls13),
        )
        .build()
        .unwrap();
    let err = get_err(&client, &server.url("/"));
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(server.requests().is_empty());
}

/// Without the `tls12` feature the client offers TLS 1.3 only, whatever the
/// minimum version: a server that speaks at most TLS 1.2 refuses the handshake,
/// and the error names the feature.
#[cfg(not(feature = "tls12"))]
#[test]
fn without_the_tls12_feature_a_tls12_only_server_fails_naming_the_feature() {
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(
        TlsOptions::new(pki.server(SERVER_NAMES)).tls12_only(),
        |_| Reply::ok(b"x"),
    );
    let tls13 = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), |_| {
        Reply::ok(b"x")
    });
    // The default minimum is TLS 1.2; it changes nothing without the feature.
    let client = client_trusting(&pki);
    let err = get_err(&client, &server.url("/"));
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    let text = err.to_string();
    let host = server.url("/").replace("https://", "").replace('/', "");
    assert!(text.contains(&host), "{text}");
    assert!(
        text.contains("TLS 1.3 only") && text.contains("`tls12`"),
        "{text}"
    );
    assert!(server.requests().is_empty());
    // The same client speaks TLS 1.3.
    let body = client.get(&tls13.url("/")).call().unwrap().into_string();
    assert_eq!(body.unwrap(), "x");
    let seen = tls13.requests()[0].tls.clone().unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn certificate_for_another_name_after_a_redirect_is_rejected() {
    let (pki, impostor) = {
        let pki = Pki::new("tinyhttps test CA");
        let impostor = Server::https(TlsOptions::new(pki.server(&["other.example"])), |_| {
            Reply::ok(b"stolen")
        });
        (pki, impostor)
    };
    let target = impostor.url_with_host("127.0.0.1", "/");
    let origin = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), move |_| {
        Reply::status(302, &[("location", &target)], b"")
    });
    let err = get_err(&client_trusting(&pki), &origin.url("/"));
    assert!(err.is_certificate(), "{err}");
    assert!(impostor.requests().is_empty());
}

#[test]
fn resolve_override_pins_a_name_and_tls_still_checks_it() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"pinned"));
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        .resolve(
            "device-api.test",
            server.port(),
            "127.0.0.1".parse().unwrap(),
        )
        .build()
        .unwrap();
    // The certificate is for localhost, not device-api.test: refused.
    let err = get_err(
        &client,
        &format!("https://device-api.test:{}/", server.port()),
    );
    assert!(err.is_certificate(), "{err}");
}

struct CountingTable {
    calls: Arc<AtomicUsize>,
}

impl Resolve for CountingTable {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match host {
            "localhost" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        }
    }
}

#[test]
fn custom_resolver_is_asked_for_names() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"via table"));
    let calls = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        .resolver(CountingTable {
            calls: calls.clone(),
        })
        .build()
        .unwrap();
    let body = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "via table");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let err = client.get("https://unknown.test/").call().unwrap_err();
    assert!(matches!(err, Error::Resolve { .. }), "{err}");
}

/// A response whose body comes one byte every 50 ms: 100 bytes take 5 s.
fn dribbled_body(chunked: bool) -> Reply {
    const BYTES: usize = 100;
    let (head, body): (&[u8], Vec<u8>) = if chunked {
        let mut body = format!("{BYTES:x}\r\n").into_bytes();
        body.extend(std::iter::repeat_n(b'd', BYTES));
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            body,
        )
    } else {
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n",
            vec![b'd'; BYTES],
        )
    };
    Reply::steps(
        vec![
            Step::Send(head.to_vec()),
            Step::SendSlowly(body, Duration::from_millis(50)),
        ],
        true,
    )
}

#[test]
fn dropping_a_dribbled_body_gives_up_within_the_drain_limit_and_closes() {
    for chunked in [false, true] {
        let server = Server::http(move |r| match r.target.as_str() {
            "/slow" => dribbled_body(chunked),
            _ => Reply::ok(b"fast"),
        });
        let client = Client::new();
        let resp = client.get(&server.url("/slow")).call().unwrap();
        let start = std::time::Instant::now();
        drop(resp);
        let took = start.elapsed();
        // The whole tail would take 5 s; the drain stops after 250 ms in all.
        assert!(took < Duration::from_secs(2), "chunked {chunked}: {took:?}");
        let next = client.get(&server.url("/fast")).call().unwrap();
        assert_eq!(
            next.connection(),
            tinyhttps::ConnectionKind::New,
            "chunked {chunked}: a half-drained connection is closed, not pooled"
        );
        assert_eq!(next.into_string().unwrap(), "fast");
        assert_eq!(server.connections(), 2, "chunked {chunked}");
    }
}

#[test]
fn informational_flood_while_awaiting_100_continue_is_refused() {
    let options = support::Options {
        answer_before_body: true,
        ..Default::default()
    };
    let server = Server::http_with(options, |_| {
        let mut bytes = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(40);
        bytes.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        Reply::raw(&bytes)
    });
    let err = Client::new()
        .put(&server.url("/upload"))
        .header("Expect", "100-continue")
        .send_bytes(b"payload")
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("too many 1xx"), "{err}");
}

/// What the early-answer server reports to the test.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A PUT head arrived (its body is never read).
    Put,
    /// The 413 went out and the socket was closed, body unread.
    Closed,
}

/// A server that answers GET with 200 (keeping the connection) and answers a PUT as
/// soon as its head is in: `413` with `Connection: close`, then closes without reading
/// the body, as servers with an upload limit do. The client's next writes fail (reset
/// or broken pipe). `tls`: rustls over the TCP stream. `hold`: after the 413, keep
/// the socket open, reading nothing, until this channel yields or its sender is
/// dropped (the client's writes stall instead of failing). Ends when `stop` is set
/// and a connection wakes it.
fn early_answer_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    hold: Option<mpsc::Receiver<()>>,
) -> (u16, mpsc::Receiver<Seen>, std::thread::JoinHandle<()>) {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || loop {
        let (socket, _) = listener.accept().unwrap();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        socket.set_nodelay(true).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut stream: Box<dyn ReadWrite> = match &tls {
            None => Box::new(socket),
            Some(config) => Box::new(rustls::StreamOwned::new(
                rustls::ServerConnection::new(config.clone()).unwrap(),
                socket,
            )),
        };
        loop {
            // The head, a byte at a time: nothing of the body is read.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if !head.ends_with(b"\r\n\r\n") {
                break;
            }
            if head.starts_with(b"GET ") {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .unwrap();
                continue;
            }
            tx.send(Seen::Put).unwrap();
            let _ = stream.write_all(
                b"HTTP/1.1 413 Content Too Large\r\nconnection: close\r\ncontent-length: 7\r\n\r\ntoo big",
            );
            let _ = stream.flush();
            if let Some(hold) = &hold {
                let _ = hold.recv();
            }
            drop(stream);
            tx.send(Seen::Closed).unwrap();
            break;
        }
    });
    (port, rx, thread)
}

trait ReadWrite: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> ReadWrite for T {}

fn stop_server(
    port: u16,
    stop: &std::sync::atomic::AtomicBool,
    thread: std::thread::JoinHandle<()>,
) {
    stop.store(true, Ordering::SeqCst);
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    thread.join().unwrap();
}

#[test]
fn early_413_during_an_upload_is_the_response_and_is_not_retried() {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (port, seen, thread) = early_answer_server(None, stop.clone(), None);
    let client = Client::new();
    let url = format!("http://127.0.0.1:{port}/blob");
    // A first request leaves the connection in the pool: the upload runs on a reused
    // connection, where a failed write would be retried.
    assert_eq!(
        client.get(&url).call().unwrap().into_string().unwrap(),
        "ok"
    );
    // Far more than the socket buffers of both ends hold: the client is still
    // writing when the server closes, whatever the kernel's buffer tuning.
    let body = vec![0u8; 64 * 1024 * 1024];
    let result = client.put(&url).send_bytes(&body);
    stop_server(port, &stop, thread);
    let resp = result.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.into_string().unwrap(), "too big");
    assert_eq!(
        seen.try_iter().collect::<Vec<_>>(),
        [Seen::Put, Seen::Closed]
    );
    let stats = client.stats();
    assert_eq!((stats.retries, stats.requests), (0, 2));
}

/// A body source that gives one block, then waits until the server has closed the
/// connection, then gives up to 64 MiB more: the writes after the close fail.
struct AfterClose {
    first: bool,
    waited: bool,
    closed: mpsc::Receiver<Seen>,
    left: usize,
}

impl std::io::Read for AfterClose {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::mem::take(&mut self.first) {
            let n = buf.len().min(16 * 1024);
            buf[..n].fill(b'x');
            return Ok(n);
        }
        if !std::mem::replace(&mut self.waited, true) {
            // Put, then Closed.
            for _ in 0..2 {
                self.closed
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(std::io::Error::other)?;
            }
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(b'x');
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn early_413_during_a_streamed_upload_is_the_response_over_tls_and_plain() {
    let pki = Pki::new("tinyhttps test CA");
    let config = TlsOptions::new(pki.server(SERVER_NAMES)).server_config();
    for tls in [None, Some(config)] {
        let is_tls = tls.is_some();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (port, seen, thread) = early_answer_server(tls, stop.clone(), None);
        let scheme = if is_tls { "https" } else { "http" };
        let client = client_trusting(&pki);
        let url = format!("{scheme}://127.0.0.1:{port}/blob");
        let source = AfterClose {
            first: true,
            waited: false,
            closed: seen,
            left: 64 * 1024 * 1024,
        };
        let result = client.put(&url).send_reader(source);
        stop_server(port, &stop, thread);
        let resp = result.unwrap_or_else(|e| panic!("tls {is_tls}: {e}"));
        assert_eq!(resp.status(), 413, "tls {is_tls}");
        assert_eq!(resp.into_string().unwrap(), "too big", "tls {is_tls}");
    }
}

/// Over TLS, a server that answers 413 and then stops reading but keeps the socket
/// open: the upload's write times out with body records still queued in rustls, and
/// the answer read then must not wait to send them (the write limit again) and fail.
#[test]
fn early_413_over_tls_from_a_server_that_stops_reading_but_stays_open_is_the_response() {
    let pki = Pki::new("tinyhttps test CA");
    let config = TlsOptions::new(pki.server(SERVER_NAMES)).server_config();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (release, hold) = mpsc::channel();
    let (port, seen, thread) = early_answer_server(Some(config), stop.clone(), Some(hold));
    let write_limit = Duration::from_secs(1);
    let client = Client::builder()
        .tls(support::trust(&pki))
        .timeout_write(write_limit)
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/blob");
    // Far more than the socket buffers of both ends hold: the upload stalls.
    let body = vec![0u8; 64 * 1024 * 1024];
    let started = std::time::Instant::now();
    let result = client.put(&url).send_bytes(&body);
    let elapsed = started.elapsed();
    drop(release);
    stop_server(port, &stop, thread);
    let resp = result.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.into_string().unwrap(), "too big");
    // Does not hang: the stalled upload takes a few write limits (the kernel takes
    // a little more now and then, and progress restarts the limit), the answer none.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_eq!(
        seen.try_iter().collect::<Vec<_>>(),
        [Seen::Put, Seen::Closed]
    );
    let stats = client.stats();
    assert_eq!((stats.retries, stats.requests), (0, 1));
}
