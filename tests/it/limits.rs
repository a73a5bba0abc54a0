//! Limits: `build()` checks every builder setting, request heads grow up to their
//! limit, response heads stop at theirs, and a forged length reserves no memory.

use crate::support;

use std::time::Duration;

use support::{pki_and_https, Proxy, ProxyOptions, Reply, Request, Server};
use tinyhttps::{Client, ClientBuilder, Error};

/// A header value of `len` bytes, like a JWT: base64url characters and dots.
fn token(len: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    (0..len)
        .map(|i| char::from(alphabet[(i * 7 + i / 64) % alphabet.len()]))
        .collect()
}

/// A path of `len` bytes with a query, like a presigned URL.
fn long_path(len: usize) -> String {
    let mut path = String::from("/bucket/object.bin?X-Amz-Signature=");
    path.push_str(&token(len - path.len()).replace('.', "0"));
    path
}

/// Echoes the body's length, so the client sees the server got it all.
fn echo_length(r: &Request) -> Reply {
    Reply::ok(r.body.len().to_string().as_bytes())
}

#[test]
// A table of settings, one per line: splitting it would not make it clearer.
#[allow(clippy::too_many_lines)]
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
        (
            "max_request_head_size",
            Client::builder().max_request_head_size(4095),
        ),
        (
            "max_request_head_size",
            Client::builder().max_request_head_size(usize::MAX),
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
        Client::builder().max_request_head_size(4096),
        Client::builder().max_request_head_size(1024 * 1024),
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

/// Sends a 6,000-byte bearer token, a 16,000-byte header and an 8,000-byte URL to
/// `server` and checks that it received each exactly.
fn long_heads_reach(client: &Client, server: &Server) {
    let bearer = format!("Bearer {}", token(6000 - "Bearer ".len()));
    let big = token(16_000);
    let path = long_path(8000);
    let resp = client
        .get(&server.url("/jwt"))
        .header("Authorization", &bearer)
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_vec().unwrap();
    client
        .get(&server.url("/big"))
        .header("X-Big", &big)
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    client
        .get(&server.url(&path))
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    // A body after a long head, in the same write where it fits.
    let body = client
        .post(&server.url("/post"))
        .header("X-Big", &big)
        .send_bytes(b"payload")
        .unwrap();
    assert_eq!(body.into_string().unwrap(), "7");
    let seen = server.requests();
    assert_eq!(seen[0].header("authorization"), Some(&*bearer));
    assert_eq!(seen[1].header("x-big"), Some(&*big));
    assert_eq!(seen[2].target, path);
    assert_eq!(seen[3].header("x-big"), Some(&*big));
    assert_eq!(seen[3].body, b"payload");
}

#[test]
fn long_headers_and_urls_are_sent_over_plain_http() {
    let server = Server::http(echo_length);
    long_heads_reach(&Client::new(), &server);
    assert_eq!(server.connections(), 1, "one kept-alive connection");
}

#[test]
fn long_headers_and_urls_are_sent_over_tls() {
    let (pki, server) = pki_and_https(echo_length);
    long_heads_reach(&support::client_trusting(&pki), &server);
    assert_eq!(server.connections(), 1, "one kept-alive connection");
}

#[test]
fn long_headers_and_urls_go_through_a_proxy_in_absolute_form() {
    let server = Server::http(echo_length);
    let proxy = Proxy::start(ProxyOptions::default());
    let client = Client::builder().proxy(&proxy.url()).build().unwrap();
    long_heads_reach(&client, &server);
    assert_eq!(
        proxy.connections(),
        1,
        "one kept-alive connection to the proxy"
    );
    let seen = proxy.seen();
    assert_eq!(seen[2].target, server.url(&long_path(8000)));
    assert_eq!(seen[1].header("x-big"), Some(&*token(16_000)));
    // A head that fits the 4 KiB first buffer in origin form, but not in absolute
    // form. Its size without the path, from a direct request:
    let direct = Server::http(echo_length);
    Client::new().get(&direct.url("/")).call().unwrap();
    let base = direct.requests()[0].raw_head.len() - 1;
    let path = long_path(4096 - base);
    client
        .get(&server.url(&path))
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    assert_eq!(proxy.seen()[4].target, server.url(&path));
    assert_eq!(server.requests()[4].target, path);
}

#[test]
fn send_bytes_with_a_caller_set_chunked_encoding_frames_every_byte() {
    let server = Server::http(echo_length);
    let client = Client::new();
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let send = |pad: usize| {
        client
            .post(&server.url("/chunked"))
            .header("Transfer-Encoding", "chunked")
            .header("X-Pad", &token(pad))
            .send_bytes(&body)
            .unwrap()
            .into_string()
            .unwrap()
    };
    assert_eq!(send(10), body.len().to_string());
    // The head's size without the pad, to place the body's first chunk at every
    // kind of offset in the 4 KiB first buffer: room to spare, too little room for
    // a chunk, no room at all; then a head on the heap.
    let base = server.requests()[0].raw_head.len() - 10;
    for pad in [4096 - base - 100, 4096 - base - 7, 4096 - base, 6000] {
        assert_eq!(send(pad), body.len().to_string(), "pad {pad}");
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[3].raw_head.len(), 4096, "the head filled the buffer");
    for seen in seen {
        assert!(seen.is_chunked());
        assert_eq!(seen.body, body);
    }
}

#[test]
fn request_head_above_the_limit_is_refused_with_its_size_and_the_host() {
    let server = Server::http(|_| Reply::ok(b"ok"));
    let client = Client::new();
    let err = client
        .get(&server.url("/"))
        .header("X-Big", &token(70_000))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    let text = err.to_string();
    let size: usize = text
        .split("request head is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {text:?}"));
    assert!((70_009..70_300).contains(&size), "{text}");
    assert!(
        text.contains(&format!(
            "request head is {size} bytes, above the limit of 65536"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port())),
        "{text}"
    );
    assert!(server.requests().is_empty(), "nothing was sent");
    // The client is fine afterwards.
    let ok = client.get(&server.url("/")).call().unwrap();
    assert_eq!(ok.into_string().unwrap(), "ok");
    // A lower limit, set on the builder.
    let strict = Client::builder()
        .max_request_head_size(8192)
        .build()
        .unwrap();
    let call = |len| {
        strict
            .get(&server.url("/"))
            .header("X-Big", &token(len))
            .call()
    };
    assert_eq!(call(6000).unwrap().status(), 200);
    let err = call(9000).unwrap_err().to_string();
    assert!(err.contains("above the limit of 8192"), "{err}");
    assert_eq!(server.requests().len(), 2);
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
