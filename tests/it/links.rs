//! Links that drop: Happy Eyeballs within one connect budget, socket options,
//! stale pooled connections, the retry policy, the low-speed abort, timings.
//!
//! Blackholed addresses are made on loopback ([`Blackhole`]: a listener whose
//! accept queue is full drops further SYNs). The IPv6 tests need `[::1]`: on a
//! machine without it they fail saying so (a skip would hide the feature untested).

use crate::support;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::raw::{respond, Blackhole, RawServer};
use support::read_message;
use support::{Reply, Server, Step};
use tinyhttps::{Client, ConnectionKind, Error, Phase, RetryPolicy};

/// Generous limit for "does not hang" properties: each test's own limit is a few
/// seconds at most.
const MUST_END_WITHIN: Duration = Duration::from_secs(10);

const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A blackhole on `[::1]` and `second(127.0.0.1:same port)`.
fn blackholed_v6_and<T>(second: impl Fn(SocketAddr) -> io::Result<T>) -> (Blackhole, T) {
    for _ in 0..20 {
        let v6 = Blackhole::bind(SocketAddr::new(V6, 0)).unwrap_or_else(|e| {
            panic!(
                "IPv6 loopback [::1] is not available on this machine ({e}): these tests need it"
            )
        });
        match second(SocketAddr::new(V4, v6.port())) {
            Ok(other) => return (v6, other),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("bind 127.0.0.1: {e}"),
        }
    }
    panic!("no port free on both [::1] and 127.0.0.1");
}

fn dual_stack_client(port: u16, connect: Duration) -> Client {
    Client::builder()
        .timeout_connect(connect)
        .timeout_overall(None)
        .resolve_all("localhost", port, &[V6, V4])
        .build()
        .unwrap()
}

/// Whether any socket to `[::1]:port` is still trying to connect (SYN_SENT in
/// /proc/net/tcp6).
fn syn_sent_to_v6(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp6").expect("/proc/net/tcp6");
    let remote = format!("00000000000000000000000001000000:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"02")
    })
}

#[test]
fn happy_eyeballs_answers_from_ipv4_while_ipv6_is_blackholed() {
    let (v6, server) = blackholed_v6_and(|addr| {
        RawServer::start_on(addr, |_, mut sock| {
            if read_message(&mut sock).is_ok() {
                let _ = respond(&mut sock, b"from 127.0.0.1");
            }
        })
    });
    let port = v6.port();
    // Sequential connects would give [::1] half of the 10 s before trying IPv4.
    let client = dual_stack_client(port, Duration::from_secs(10));
    let start = Instant::now();
    let resp = client
        .get(&format!("http://localhost:{port}/"))
        .call()
        .unwrap();
    let took = start.elapsed();
    assert!(!syn_sent_to_v6(port), "the [::1] attempt was closed");
    let timings = resp.timings();
    assert_eq!(resp.into_string().unwrap(), "from 127.0.0.1");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let connect = timings.connect().expect("a new connection");
    assert!(
        connect >= Duration::from_millis(200),
        "IPv6 went first: {connect:?}"
    );
    assert_eq!(client.stats().connections_opened, 1);
    drop(server);
}

#[test]
fn happy_eyeballs_with_every_address_blackholed_ends_at_the_connect_limit() {
    let (v6, v4) = blackholed_v6_and(Blackhole::bind);
    let port = v6.port();
    assert_eq!(v4.port(), port);
    let client = dual_stack_client(port, Duration::from_secs(2));
    let start = Instant::now();
    let err = client
        .get(&format!("http://localhost:{port}/"))
        .call()
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.timeout_phase(), Some(Phase::Connect), "{err}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "one budget for all: {took:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("connect timed out after 2 s with localhost:{port}")
    );
    assert!(!syn_sent_to_v6(port), "attempts closed on the timeout");
}

#[test]
fn a_refused_address_moves_on_to_the_next_at_once() {
    // Nothing listens on [::1]:port: refused at once, no 250 ms wait.
    let server = RawServer::start(|_, mut sock| {
        if read_message(&mut sock).is_ok() {
            let _ = respond(&mut sock, b"v4");
        }
    });
    let port = server.port();
    let client = dual_stack_client(port, Duration::from_secs(5));
    let resp = client
        .get(&format!("http://localhost:{port}/"))
        .call()
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "v4");
}

/// A server whose connection 0 answers one request and then takes the next one
/// and goes silent (a NAT box that dropped the idle connection); other
/// connections answer "connection N".
fn server_silent_on_reuse() -> Server {
    Server::http(|request| {
        if request.conn_id == 0 && request.seq_on_conn == 1 {
            return Reply::steps(vec![Step::Sleep(Duration::from_secs(20))], false);
        }
        Reply::ok(format!("connection {}", request.conn_id).as_bytes())
    })
}

/// (connection, request on it) of every request the server saw.
fn seen(server: &Server) -> Vec<(usize, usize)> {
    let requests = server.requests();
    requests
        .iter()
        .map(|r| (r.conn_id, r.seq_on_conn))
        .collect()
}

#[test]
fn stale_pooled_connection_is_retried_on_a_fresh_one_after_the_first_byte_limit() {
    let server = server_silent_on_reuse();
    let client = Client::builder()
        .timeout_reused_first_byte(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let url = server.url("/status");
    assert_eq!(
        client.get(&url).call().unwrap().into_string().unwrap(),
        "connection 0"
    );
    let start = Instant::now();
    let resp = client.get(&url).call().unwrap();
    assert!(start.elapsed() < MUST_END_WITHIN, "{:?}", start.elapsed());
    assert_eq!(resp.connection(), ConnectionKind::New);
    assert_eq!(resp.into_string().unwrap(), "connection 1");
    let order = [(0, 0), (0, 1), (1, 0)];
    assert_eq!(seen(&server), order, "the silent connection got it first");
    let stats = client.stats();
    assert_eq!((stats.retries, stats.connections_opened), (1, 2));
}

#[test]
fn stale_pooled_connection_fails_a_post_with_a_clear_error() {
    let server = server_silent_on_reuse();
    let client = Client::builder()
        .timeout_reused_first_byte(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let url = server.url("/log");
    client
        .post(&url)
        .send_bytes(b"1")
        .unwrap()
        .into_string()
        .unwrap();
    let err = client.post(&url).send_bytes(b"2").unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::FirstByte), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("reused connection to 127.0.0.1:{}", server.port())),
        "{text}"
    );
    assert!(
        text.contains("within 500 ms") && text.contains("not retried"),
        "{text}"
    );
    assert_eq!(seen(&server), [(0, 0), (0, 1)], "not sent twice");
    assert_eq!(client.stats().retries, 0);
}

#[test]
fn close_idle_after_a_network_change_spares_the_wait_on_a_dead_connection() {
    let server = server_silent_on_reuse();
    // No first-byte limit: only close_idle saves the second request.
    let client = Client::builder()
        .timeout_reused_first_byte(None)
        .timeout_read(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = server.url("/");
    client.get(&url).call().unwrap().into_string().unwrap();
    assert_eq!(client.close_idle(), 1);
    let resp = client.get(&url).call().unwrap();
    assert_eq!(resp.connection(), ConnectionKind::New);
    assert_eq!(resp.into_string().unwrap(), "connection 1");
    assert_eq!(seen(&server), [(0, 0), (1, 0)]);
}

/// A server answering the `replies` in turn, one per request, recording them.
fn scripted(replies: Vec<Reply>) -> Server {
    let replies = std::sync::Mutex::new(replies.into_iter());
    Server::http(move |_| {
        replies
            .lock()
            .unwrap()
            .next()
            .unwrap_or_else(|| Reply::status(500, &[], b"no more replies"))
    })
}

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts).backoff(Duration::from_millis(10), Duration::from_millis(40))
}

#[test]
fn retry_policy_waits_for_retry_after_on_503_then_gets_the_answer() {
    let server = scripted(vec![
        Reply::status(503, &[("retry-after", "1")], b"busy"),
        Reply::ok(b"done"),
    ]);
    let client = Client::builder().retry(quick_retries(3)).build().unwrap();
    let start = Instant::now();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.into_string().unwrap(), "done");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(client.stats().retries, 1);
}

/// The wait before an attempt counts as idle time: a connection idle past the idle
/// timeout by then is closed, not reused (the pool's clock is read again after a
/// wait, not taken from the request's start).
#[test]
fn a_connection_idle_through_a_retry_wait_expires() {
    let server = scripted(vec![
        Reply::status(503, &[("retry-after", "1")], b"busy"),
        Reply::ok(b"done"),
    ]);
    let client = Client::builder()
        .retry(quick_retries(3))
        .idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert_eq!(resp.into_string().unwrap(), "done");
    let s = client.stats();
    assert_eq!((s.pool_idle_expired, s.pool_reuses), (1, 0), "{s:?}");
    assert_eq!(s.connections_opened, 2, "{s:?}");
}

#[test]
fn retry_policy_sends_a_post_again_only_with_an_idempotency_key() {
    let busy = || Reply::status(429, &[("retry-after", "0")], b"slow down");
    let server = scripted(vec![busy(), busy(), Reply::ok(b"stored")]);
    let client = Client::builder().retry(quick_retries(3)).build().unwrap();
    let url = server.url("/upload");
    let resp = client.post(&url).send_bytes(b"data").unwrap();
    assert_eq!(resp.status(), 429, "a POST is not retried");
    assert_eq!(server.requests().len(), 1);
    let resp = client
        .post(&url)
        .header("Idempotency-Key", "reading-17")
        .send_bytes(b"data")
        .unwrap();
    assert_eq!(resp.status(), 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].body_text(), "data", "the body was sent again");
    assert_eq!(client.stats().retries, 1);
}

#[test]
fn retry_policy_retries_a_refused_connect_up_to_its_attempts() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder().retry(quick_retries(4)).build().unwrap();
    let err = client
        .get(&format!("http://127.0.0.1:{port}/"))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(client.stats().retries, 3, "4 attempts in all");
}

#[test]
fn retry_after_past_the_deadline_returns_the_answer_at_once() {
    let server = scripted(vec![Reply::status(503, &[("retry-after", "30")], b"later")]);
    let policy = quick_retries(3).max_retry_after(Duration::from_secs(120));
    let client = Client::builder()
        .retry(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "did not wait 30 s"
    );
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()["retry-after"],
        "30",
        "for the caller to schedule"
    );
    assert_eq!(client.stats().retries, 0);
}

#[test]
fn low_speed_limit_fails_a_stalled_transfer() {
    let server = Server::http(|_| {
        Reply::steps(
            vec![
                Step::Send(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nfirst bytes".to_vec(),
                ),
                Step::Sleep(Duration::from_secs(20)),
            ],
            false,
        )
    });
    let client = Client::builder()
        .low_speed_limit(1000, Duration::from_secs(1))
        .timeout_overall(None)
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = client.get(&server.url("/fw")).call().unwrap();
    let err = resp.into_vec().unwrap_err();
    assert!(start.elapsed() < MUST_END_WITHIN, "{:?}", start.elapsed());
    assert_eq!(err.timeout_phase(), Some(Phase::LowSpeed), "{err}");
    let text = err.to_string();
    assert!(text.contains("below the low-speed limit for 1 s"), "{text}");
}

#[test]
fn low_speed_limit_lets_a_steady_transfer_through() {
    let body = vec![b'x'; 64 * 1024];
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
    let mut steps = vec![Step::Send(head.into_bytes())];
    // 8 KiB every 100 ms: 80 KiB/s, far above 1 KiB/s.
    for chunk in body.chunks(8 * 1024) {
        steps.push(Step::Send(chunk.to_vec()));
        steps.push(Step::Sleep(Duration::from_millis(100)));
    }
    let server = Server::http(move |_| Reply::steps(steps.clone(), true));
    let client = Client::builder()
        .low_speed_limit(1024, Duration::from_secs(1))
        .build()
        .unwrap();
    let got = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    assert_eq!(got.len(), body.len());
}

#[test]
fn timings_show_the_phases_of_a_new_connection_and_none_for_a_reused_one() {
    let (pki, server) = support::pki_and_https(|_| Reply::ok(b"ok"));
    let client = Client::builder()
        .tls(support::trust(&pki))
        .resolve("localhost", server.port(), V4)
        .build()
        .unwrap();
    let url = server.url_with_host("localhost", "/");
    let first = client.get(&url).call().unwrap();
    let t = first.timings();
    first.into_string().unwrap();
    let (dns, connect, tls) = (t.dns().unwrap(), t.connect().unwrap(), t.tls().unwrap());
    let first_byte = t.first_byte().expect("a byte came");
    assert!(dns + connect + tls <= first_byte, "{t:?}");
    assert!(first_byte <= t.total(), "{t:?}");
    assert!(tls > Duration::ZERO, "{t:?}");
    let second = client.get(&url).call().unwrap();
    assert_eq!(second.connection(), ConnectionKind::Reused);
    let t = second.timings();
    assert_eq!((t.dns(), t.connect(), t.tls()), (None, None, None));
    assert!(t.first_byte().is_some_and(|b| b <= t.total()), "{t:?}");
}

/// The timer of the socket from 127.0.0.1:`port` in /proc/net/tcp ("tr": 2 is the
/// keepalive timer).
fn timer_of_socket_from(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()))
            .then(|| {
                fields
                    .get(5)
                    .map(|t| t.split(':').next().unwrap_or("").to_string())
            })
            .flatten()
    })
}

/// A server answering one request per connection and sending the client's
/// address of each.
fn peer_reporting_server() -> (RawServer, mpsc::Receiver<SocketAddr>) {
    let (tx, rx) = mpsc::channel();
    let server = RawServer::start(move |_, mut sock| {
        let peer = sock.peer_addr().unwrap();
        if read_message(&mut sock).is_ok() {
            let _ = respond(&mut sock, b"ok");
            tx.send(peer).unwrap();
            // Hold the connection until the client closes it.
            let _ = read_message(&mut sock);
        }
    });
    (server, rx)
}

#[test]
fn tcp_keepalive_is_off_by_default_and_on_when_asked() {
    for keepalive in [false, true] {
        let (server, peers) = peer_reporting_server();
        let mut builder = Client::builder();
        if keepalive {
            builder = builder.tcp_keepalive(Duration::from_secs(60), Duration::from_secs(5), 3);
        }
        let client = builder.build().unwrap();
        client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let peer = peers.recv_timeout(MUST_END_WITHIN).unwrap();
        let timer = timer_of_socket_from(peer.port()).expect("the pooled socket");
        assert_eq!(
            timer == "02",
            keepalive,
            "timer {timer}, keepalive {keepalive}"
        );
    }
}

#[test]
fn local_address_is_the_source_of_connections() {
    let (server, peers) = peer_reporting_server();
    let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));
    let client = Client::builder().local_address(local).build().unwrap();
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(peers.recv_timeout(MUST_END_WITHIN).unwrap().ip(), local);
}

#[test]
fn interface_binding_uses_the_named_device_and_names_a_missing_one() {
    let (server, peers) = peer_reporting_server();
    let client = Client::builder().interface("lo").build().unwrap();
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(peers.recv_timeout(MUST_END_WITHIN).is_ok());
    let client = Client::builder().interface("wwan9").build().unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("binding to interface wwan9"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port())),
        "{text}"
    );
}

#[test]
fn socket_settings_out_of_range_are_refused_at_build() {
    let refused = [
        Client::builder().tcp_keepalive(Duration::ZERO, Duration::from_secs(1), 3),
        Client::builder().tcp_keepalive(Duration::from_secs(1), Duration::from_secs(1), 0),
        Client::builder().tcp_user_timeout(Duration::ZERO),
        Client::builder().interface(""),
        Client::builder().interface("a-name-too-long-for-linux"),
        Client::builder().low_speed_limit(0, Duration::from_secs(1)),
        Client::builder().timeout_reused_first_byte(Some(Duration::ZERO)),
        Client::builder().retry(RetryPolicy::new(0)),
    ];
    for builder in refused {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }
}

#[test]
fn tcp_user_timeout_is_accepted_and_the_request_works() {
    let server = Server::http(|_| Reply::ok(b"ok"));
    let client = Client::builder()
        .tcp_user_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let body = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "ok");
    // That the option reaches the socket is checked in connect.rs's unit tests.
}

#[test]
fn after_the_first_byte_a_reused_connection_has_the_whole_read_limit() {
    let server = Server::http(|request| {
        if request.seq_on_conn == 0 {
            return Reply::ok(b"first");
        }
        Reply::steps(
            vec![
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec()),
                Step::Sleep(Duration::from_secs(20)),
            ],
            false,
        )
    });
    let client = Client::builder()
        .timeout_reused_first_byte(Some(Duration::from_secs(1)))
        .timeout_read(Duration::from_secs(3))
        .build()
        .unwrap();
    let url = server.url("/");
    client.get(&url).call().unwrap().into_string().unwrap();
    let resp = client.get(&url).call().unwrap();
    assert_eq!(resp.connection(), ConnectionKind::Reused);
    let start = Instant::now();
    let err = resp.into_string().unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.timeout_phase(), Some(Phase::Read), "{err}");
    assert!(
        err.to_string().contains("read timed out after 3 s"),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(2900),
        "the whole read limit: {took:?}"
    );
    assert!(took < MUST_END_WITHIN, "{took:?}");
}
