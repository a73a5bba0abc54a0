//! Every phase has a time limit, and the error names the phase and the limit.
//! Connect (DNS and every address) and the TLS handshake are each one budget,
//! however many waits they take.

use crate::support;

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::raw::{self, Blackhole, RawServer};
use support::{Reply, Server, Step};
use tinyhttps::{Client, Phase};

/// Generous: the assertion is that the limit fired, well before the server's 30 s.
const MUST_END_WITHIN: Duration = Duration::from_secs(10);

fn silent_reply() -> Reply {
    Reply::steps(vec![Step::Sleep(Duration::from_secs(30))], false)
}

#[test]
fn server_that_never_answers_hits_the_read_timeout() {
    let server = Server::http(|_| silent_reply());
    let client = Client::builder()
        .timeout_read(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Read), "{err}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(start.elapsed() < MUST_END_WITHIN, "{:?}", start.elapsed());
    // The message names the limit that elapsed, so the fix is obvious.
    let text = err.to_string();
    assert!(text.contains("read timed out after 1 s"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port())),
        "{text}"
    );
}

#[test]
fn dribbling_server_hits_the_overall_deadline() {
    let server = Server::http(|_| {
        Reply::steps(
            vec![Step::SendSlowly(
                b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec(),
                Duration::from_millis(50),
            )],
            false,
        )
    });
    let client = Client::builder()
        .timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Overall), "{err}");
    assert!(start.elapsed() < MUST_END_WITHIN, "{:?}", start.elapsed());
    let text = err.to_string();
    assert!(text.contains("overall deadline of 600 ms passed"), "{text}");
}

#[test]
fn per_request_timeout_overrides_the_client_deadline() {
    let server = Server::http(|_| silent_reply());
    let start = Instant::now();
    let err = Client::new()
        .get(&server.url("/"))
        .timeout(Duration::from_millis(300))
        .call()
        .unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Overall), "{err}");
    assert!(start.elapsed() < MUST_END_WITHIN);
}

#[test]
fn body_read_after_the_head_still_has_a_deadline() {
    let server = Server::http(|_| {
        Reply::steps(
            vec![
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec()),
                Step::Sleep(Duration::from_secs(30)),
            ],
            false,
        )
    });
    let client = Client::builder()
        .timeout_read(Duration::from_millis(300))
        .build()
        .unwrap();
    let resp = client.get(&server.url("/")).call().unwrap();
    let err = resp.into_string().unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Read), "{err}");
}

#[test]
fn server_that_accepts_but_never_speaks_tls_hits_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (_socket, _) = listener.accept().unwrap();
        // Hold the connection open, silent, until the test is over.
        let _ = done_rx.recv_timeout(Duration::from_secs(30));
    });
    let client = Client::builder()
        .timeout_handshake(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client
        .get(&format!("https://127.0.0.1:{port}/"))
        .call()
        .unwrap_err();
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(err.timeout_phase(), Some(Phase::Handshake), "{err}");
    assert!(start.elapsed() < MUST_END_WITHIN);
}

#[test]
fn zero_timeouts_are_refused_at_build() {
    assert!(Client::builder()
        .timeout_read(Duration::ZERO)
        .build()
        .is_err());
}

/// Pause between the bytes of a dribbled handshake: well under the handshake limit,
/// so only a limit on the whole handshake (not on each read) can fire.
const DRIBBLE_PAUSE: Duration = Duration::from_millis(500);

#[test]
fn handshake_dribbled_a_byte_at_a_time_ends_at_the_handshake_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let dribbler = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        // A handshake record header announcing 16 KiB, then its body byte by byte:
        // every byte is valid so far, and none completes the record.
        let mut bytes = [0x16u8, 0x03, 0x03, 0x40, 0x00]
            .into_iter()
            .chain(std::iter::repeat(0));
        loop {
            let byte = bytes.next().unwrap_or(0);
            if sock.write_all(&[byte]).is_err() {
                return;
            }
            match stop_rx.recv_timeout(DRIBBLE_PAUSE) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    });
    let (result_tx, result_rx) = mpsc::channel();
    let client_thread = std::thread::spawn(move || {
        let client = Client::builder()
            .timeout_handshake(Duration::from_secs(2))
            .timeout_overall(None)
            .build()
            .unwrap();
        let start = Instant::now();
        let result = client.get(&format!("https://127.0.0.1:{port}/")).call();
        let _ = result_tx.send((result.map(|_| ()), start.elapsed()));
    });
    let outcome = result_rx.recv_timeout(Duration::from_secs(6));
    // Stop the dribbler either way: its socket closes and a stuck client ends.
    drop(stop_tx);
    dribbler.join().unwrap();
    client_thread.join().unwrap();
    let (result, took) = outcome.expect("the handshake did not end within 6 s");
    let err = result.unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Handshake), "{err}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(err.to_string().contains("after 2 s"), "{err}");
}

/// A port with a blackhole on 127.0.0.2, and `second` bound to 127.0.0.3 on the
/// same port (the name resolves to both, with one port).
fn blackhole_and<T>(second: impl Fn(SocketAddr) -> io::Result<T>) -> (Blackhole, T) {
    for _ in 0..20 {
        let first = Blackhole::bind(SocketAddr::from(([127, 0, 0, 2], 0))).unwrap();
        match second(SocketAddr::from(([127, 0, 0, 3], first.port()))) {
            Ok(other) => return (first, other),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("bind 127.0.0.3: {e}"),
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

fn two_address_client(port: u16) -> Client {
    Client::builder()
        .timeout_connect(Duration::from_secs(2))
        .timeout_overall(None)
        .resolve("twice.test", port, Ipv4Addr::new(127, 0, 0, 2).into())
        .resolve("twice.test", port, Ipv4Addr::new(127, 0, 0, 3).into())
        .build()
        .unwrap()
}

#[test]
fn connect_limit_covers_every_address_of_a_name() {
    let (first, _second) = blackhole_and(Blackhole::bind);
    let port = first.port();
    let client = two_address_client(port);
    let start = Instant::now();
    let err = client
        .get(&format!("http://twice.test:{port}/"))
        .call()
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.timeout_phase(), Some(Phase::Connect), "{err}");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(
        took < Duration::from_millis(3500),
        "one budget, not one per address: {took:?}"
    );
    assert!(
        err.to_string().contains("connect timed out after 2 s"),
        "{err}"
    );
}

#[test]
fn connect_budget_leaves_time_for_a_later_address() {
    let (first, server) = blackhole_and(|addr| {
        RawServer::start_on(addr, |_, mut sock| {
            if support::read_message(&mut sock).is_ok() {
                let _ = raw::respond(&mut sock, b"second address");
            }
        })
    });
    let port = first.port();
    assert_eq!(server.port(), port);
    let body = two_address_client(port)
        .get(&format!("http://twice.test:{port}/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "second address");
}
