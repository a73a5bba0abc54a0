//! Every phase has a time limit, and the error names the phase.

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
        .timeout_read(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert_eq!(err.timeout_phase(), Some(Phase::Read), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < MUST_END_WITHIN, "{:?}", start.elapsed());
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
