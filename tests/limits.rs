//! Limits: `build()` checks every builder setting, request heads grow up to their
//! limit, response heads stop at theirs, and a forged length reserves no memory.

mod support;

use std::time::Duration;

use support::{Reply, Server};
use tinyhttps::{Client, ClientBuilder, Error};

#[test]
fn out_of_range_builder_settings_are_config_errors_naming_the_setting() {
    let day_and_a_bit = Duration::from_secs(24 * 3600 + 1);
    let cases: Vec<(&str, ClientBuilder)> = vec![
        ("timeout", Client::builder().timeout(Duration::ZERO)),
        ("timeout", Client::builder().timeout(Duration::MAX)),
        (
            "timeout_overall",
            Client::builder().timeout_overall(Some(Duration::ZERO)),
        ),
        (
            "timeout_connect",
            Client::builder().timeout_connect(Duration::ZERO),
        ),
        (
            "timeout_handshake",
            Client::builder().timeout_handshake(day_and_a_bit),
        ),
        (
            "timeout_read",
            Client::builder().timeout_read(Duration::MAX),
        ),
        (
            "timeout_write",
            Client::builder().timeout_write(Duration::ZERO),
        ),
        ("redirects", Client::builder().redirects(101)),
        ("redirects", Client::builder().redirects(u32::MAX)),
        (
            "max_response_header_size",
            Client::builder().max_response_header_size(0),
        ),
        (
            "max_response_header_size",
            Client::builder().max_response_header_size(1023),
        ),
        (
            "max_response_header_size",
            Client::builder().max_response_header_size(usize::MAX),
        ),
        ("body_limit", Client::builder().body_limit(0)),
        ("body_limit", Client::builder().body_limit(u64::MAX)),
        (
            "max_idle_per_host",
            Client::builder().max_idle_per_host(usize::MAX),
        ),
        ("max_idle", Client::builder().max_idle(1_000_000)),
        (
            "idle_timeout",
            Client::builder().idle_timeout(Duration::ZERO),
        ),
        (
            "idle_timeout",
            Client::builder().idle_timeout(Duration::MAX),
        ),
        (
            "tls_cache_size",
            Client::builder().tls_cache_size(usize::MAX),
        ),
        ("user_agent", Client::builder().user_agent("")),
        ("user_agent", Client::builder().user_agent("line\nbreak")),
        (
            "user_agent",
            Client::builder().user_agent(&"u".repeat(2000)),
        ),
    ];
    for (setting, builder) in cases {
        let err = match builder.build() {
            Ok(_) => panic!("{setting}: an out-of-range value was accepted"),
            Err(e) => e,
        };
        assert!(matches!(err, Error::Config { .. }), "{setting}: {err}");
        let text = err.to_string();
        assert!(text.contains(setting), "{setting}: {text}");
        assert!(text.contains("accepted"), "{setting}: {text}");
        assert!(!text.contains('\n'), "{setting}: {text}");
    }
}

#[test]
fn builder_settings_at_the_edges_of_their_ranges_build() {
    let day = Duration::from_secs(24 * 3600);
    let edges = [
        Client::builder().timeout(Duration::from_nanos(1)),
        Client::builder().timeout(day),
        Client::builder()
            .timeout_overall(None)
            .timeout_read(day)
            .timeout_write(day),
        Client::builder().redirects(0),
        Client::builder().redirects(100),
        Client::builder().max_response_header_size(1024),
        Client::builder().max_response_header_size(1024 * 1024),
        Client::builder().body_limit(1),
        Client::builder().body_limit(1 << 30),
        Client::builder().max_idle_per_host(0).max_idle(0),
        Client::builder().max_idle_per_host(1024).max_idle(1024),
        Client::builder().idle_timeout(Duration::from_millis(1)),
        Client::builder().tls_cache_size(0),
        Client::builder().tls_cache_size(1024),
        Client::builder().user_agent("device-agent/1.2"),
    ];
    for (i, builder) in edges.into_iter().enumerate() {
        if let Err(e) = builder.build() {
            panic!("case {i}: {e}");
        }
    }
}

#[test]
fn response_head_limit_below_the_receive_buffer_is_exact() {
    // Heads of exactly 4096 bytes and of 4097 bytes: the receive buffer (8 KiB)
    // holds either, so the limit must be checked on the head itself.
    let head_of = |size: usize| {
        let start = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-pad: ";
        let pad = "p".repeat(size - start.len() - 4);
        format!("{start}{pad}\r\n\r\nok")
    };
    let server = Server::http(move |r| match r.target.as_str() {
        "/edge" => Reply::raw(head_of(4096).as_bytes()),
        "/over" => Reply::raw(head_of(4097).as_bytes()),
        _ => Reply::ok(b"small"),
    });
    let client = Client::builder()
        .max_response_header_size(4096)
        .build()
        .unwrap();
    let body = client.get(&server.url("/")).call().unwrap().into_string();
    assert_eq!(body.unwrap(), "small");
    let edge = client.get(&server.url("/edge")).call().unwrap();
    assert_eq!(edge.into_string().unwrap(), "ok");
    let err = client.get(&server.url("/over")).call().unwrap_err();
    assert!(
        matches!(err, Error::HeadersTooLarge { limit: 4096, .. }),
        "{err}"
    );
    // On a new connection too (the first read decides).
    let fresh = Client::builder()
        .max_response_header_size(4096)
        .build()
        .unwrap();
    let err = fresh.get(&server.url("/over")).call().unwrap_err();
    assert!(
        matches!(err, Error::HeadersTooLarge { limit: 4096, .. }),
        "{err}"
    );
}

#[test]
fn forged_huge_content_length_reserves_no_memory_and_is_truncated() {
    // 9,999,999,999,999 bytes promised, 5 sent: reserving the promise aborts the
    // process (and is cut to 1.3 GB by `as usize` on 32-bit targets).
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 9999999999999\r\n\r\nshort").then_close()
    });
    let resp = Client::new().get(&server.url("/")).call().unwrap();
    let err = resp.into_vec_limited(u64::MAX).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
}
