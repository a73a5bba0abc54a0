//! Response framing: every way a body can end, and every way it can end wrongly.

use crate::support;

use support::{client_trusting, pki_and_https, Reply, Server, Step};
use tinyhttps::{Client, Error};

const CLOSE_DELIMITED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n";

#[test]
fn chunked_body_with_trailers_is_reassembled_and_the_connection_kept() {
    let (pki, server) = pki_and_https(|_| {
        Reply::chunked(
            200,
            &[b"hello ", b"chunked ", b"world"],
            &[("x-sum", "abc")],
        )
    });
    let client = client_trusting(&pki);
    for _ in 0..2 {
        let body = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert_eq!(body, "hello chunked world");
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(client.stats().pool_reuses, 1);
}

#[test]
fn close_delimited_body_ending_with_close_notify_is_complete() {
    let (pki, server) = pki_and_https(|_| {
        let mut bytes = CLOSE_DELIMITED_HEAD.to_vec();
        bytes.extend_from_slice(b"all of it");
        Reply::steps(vec![Step::Send(bytes), Step::CloseNotify], false)
    });
    let body = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "all of it");
}

#[test]
fn close_delimited_tls_body_cut_without_close_notify_is_truncated() {
    let (pki, server) = pki_and_https(|_| {
        let mut bytes = CLOSE_DELIMITED_HEAD.to_vec();
        bytes.extend_from_slice(b"part of it");
        Reply::steps(vec![Step::Send(bytes), Step::Close], false)
    });
    let err = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
}

#[test]
fn close_delimited_plain_body_ends_at_fin() {
    let server = Server::http(|_| {
        let mut bytes = CLOSE_DELIMITED_HEAD.to_vec();
        bytes.extend_from_slice(b"plain");
        Reply::steps(vec![Step::Send(bytes), Step::Close], false)
    });
    let body = Client::new()
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, "plain");
}

#[test]
fn content_length_body_cut_short_is_truncated_over_tls_and_plain() {
    let short = |_: &support::Request| {
        Reply::steps(
            vec![
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this".to_vec()),
                Step::CloseNotify,
            ],
            false,
        )
    };
    let (pki, tls_server) = pki_and_https(short);
    let plain_server = Server::http(short);
    let tls_err = client_trusting(&pki)
        .get(&tls_server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap_err();
    let plain_err = Client::new()
        .get(&plain_server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap_err();
    for err in [tls_err, plain_err] {
        assert!(matches!(err, Error::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn chunked_body_cut_short_is_truncated() {
    let server = Server::http(|_| {
        Reply::steps(
            vec![
                Step::Send(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel".to_vec(),
                ),
                Step::Close,
            ],
            false,
        )
    });
    let err = Client::new()
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    // The message says what ended: the body before its last chunk.
    assert!(err.to_string().contains("last chunk"), "{err}");
}

#[test]
fn server_closing_before_any_response_is_an_io_error() {
    let server = Server::http(|_| Reply::steps(vec![Step::Close], false));
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
}

#[test]
fn oversized_response_head_is_refused() {
    let server = Server::http(|_| {
        let big = "v".repeat(4000);
        let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n");
        for i in 0..4 {
            head.push_str(&format!("x-big-{i}: {big}\r\n"));
        }
        head.push_str("\r\n");
        Reply::raw(head.as_bytes())
    });
    let client = Client::builder()
        .max_response_header_size(8 * 1024)
        .build()
        .unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(
        matches!(err, Error::HeadersTooLarge { limit: 8192, .. }),
        "{err}"
    );
    // The default (64 KiB) takes it.
    assert!(Client::new().get(&server.url("/")).call().is_ok());
}

#[test]
fn too_many_headers_are_refused() {
    let server = Server::http(|_| {
        let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n");
        for i in 0..200 {
            head.push_str(&format!("x-h{i}: v\r\n"));
        }
        head.push_str("\r\n");
        Reply::raw(head.as_bytes())
    });
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::HeadersTooLarge { .. }), "{err}");
}

#[test]
fn conflicting_content_lengths_are_a_protocol_error() {
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd")
    });
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn a_status_line_that_is_not_http_is_a_protocol_error() {
    let server = Server::http(|_| Reply::raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn bytes_after_the_response_keep_the_connection_out_of_the_pool() {
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nforged")
    });
    let client = Client::new();
    for _ in 0..2 {
        let body = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert_eq!(
            body, "ok",
            "stray bytes must never be read as the next response"
        );
    }
    assert_eq!(server.connections(), 2);
    assert_eq!(client.stats().pool_reuses, 0);
}

#[test]
fn informational_flood_is_refused() {
    let server = Server::http(|_| {
        let mut bytes = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(50);
        bytes.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        Reply::raw(&bytes)
    });
    let err = Client::new().get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn truncation_messages_say_what_ended() {
    // A close-delimited body over TLS, then TCP closed without close_notify: there is
    // no declared end, and the message says why the body is refused.
    let (pki, server) = pki_and_https(|_| {
        let mut bytes = b"HTTP/1.0 200 OK\r\nserver: SimpleHTTP/0.6 Python/3.11\r\n\r\n".to_vec();
        bytes.extend_from_slice(b"<html>all of it</html>");
        Reply::steps(vec![Step::Send(bytes), Step::Close], false)
    });
    let err = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("close_notify"), "{text}");
    assert!(!text.contains("declared end"), "{text}");
    assert!(
        text.contains(&format!("localhost:{}", server.port())),
        "{text}"
    );

    // A Content-Length body cut short (with close_notify) is cut before its length.
    let (pki, server) = pki_and_https(|_| {
        Reply::steps(
            vec![
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this".to_vec()),
                Step::CloseNotify,
            ],
            false,
        )
    });
    let err = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("declared length"), "{err}");

    // A Content-Length body cut without close_notify is also cut before its length:
    // the missing close_notify is not the point there.
    let (pki, server) = pki_and_https(|_| {
        Reply::steps(
            vec![
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this".to_vec()),
                Step::Close,
            ],
            false,
        )
    });
    let err = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap_err();
    assert!(err.to_string().contains("declared length"), "{err}");
}
