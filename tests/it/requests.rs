//! Methods, headers, request bodies, response bodies and limits, over TLS and plain.

use crate::support;

use std::io::Read;
use std::time::Duration;

use support::{client_trusting, pki_and_https, Reply, Server, Step};
use tinyhttps::{Client, ConnectionKind, Error};

#[test]
fn get_over_tls_returns_status_headers_and_body() {
    let (pki, server) = pki_and_https(|_| Reply::status(200, &[("x-answer", "42")], b"hello"));
    let client = client_trusting(&pki);
    let resp = client
        .get(&server.url("/v1/status?x=1"))
        .header("Accept", "application/json")
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("x-answer"), Some("42"));
    assert_eq!(resp.into_string().unwrap(), "hello");
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/v1/status?x=1");
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("host"),
        Some(&*format!("localhost:{}", server.port()))
    );
    assert!(seen.header("user-agent").unwrap().starts_with("tinyhttps/"));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.connections_opened), (1, 1));
    assert_eq!(stats.handshakes_full, 1);
    assert!(stats.bytes_sent > 0 && stats.bytes_received > 0);
}

#[test]
fn every_method_reaches_the_server() {
    let (pki, server) = pki_and_https(|r| Reply::ok(r.method.as_bytes()));
    let client = client_trusting(&pki);
    let url = server.url("/m");
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let method = tinyhttps::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = client.request(method.clone(), &url).call().unwrap();
        assert_eq!(resp.into_string().unwrap(), method.as_str());
    }
    // The shorthands are the same requests.
    assert_eq!(
        client.patch(&url).call().unwrap().into_string().unwrap(),
        "PATCH"
    );
    let head = client.head(&url).call().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.into_vec().unwrap(), b"", "HEAD has no body");
    let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(
        methods,
        ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PATCH", "HEAD"]
    );
    // A bodiless POST says so rather than sending an empty chunked body.
    assert_eq!(server.requests()[1].header("content-length"), Some("0"));
    assert_eq!(server.connections(), 1, "all on one kept-alive connection");
}

#[test]
fn bytes_and_text_bodies_carry_a_content_length() {
    let (pki, server) = pki_and_https(|r| Reply::ok(format!("{}", r.body.len()).as_bytes()));
    let client = client_trusting(&pki);
    let json = br#"{"temp":21.5}"#;
    let resp = client
        .post(&server.url("/r"))
        .header("Content-Type", "application/json")
        .send_bytes(json)
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), json.len().to_string());
    client.put(&server.url("/t")).send_string("text").unwrap();
    let big = vec![7u8; 100_000];
    client.post(&server.url("/big")).send_bytes(&big).unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].body, json);
    assert_eq!(seen[0].header("content-length"), Some("13"));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].body, b"text");
    assert_eq!(seen[2].body, big);
    assert!(!seen[2].is_chunked());
}

#[test]
fn reader_body_streams_chunked_or_with_the_given_length() {
    let (pki, server) = pki_and_https(|r| Reply::ok(format!("{}", r.body.len()).as_bytes()));
    let client = client_trusting(&pki);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    client
        .put(&server.url("/chunked"))
        .send_reader(&data[..])
        .unwrap();
    client
        .put(&server.url("/sized"))
        .header("Content-Length", &data.len().to_string())
        .send_reader(&data[..])
        .unwrap();
    let seen = server.requests();
    assert!(seen[0].is_chunked());
    assert_eq!(seen[0].body, data);
    assert!(!seen[1].is_chunked());
    assert_eq!(seen[1].body, data);
}

#[test]
fn reader_shorter_than_its_content_length_is_an_error() {
    let server = Server::http(|_| Reply::ok(b""));
    let client = Client::new();
    let err = client
        .put(&server.url("/short"))
        .header("Content-Length", "10")
        .send_reader(&b"12345"[..])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert!(err.to_string().contains("Content-Length"), "{err}");
}

#[test]
fn streamed_download_reads_the_whole_body() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let reply = Reply::ok(&body);
    let (pki, server) = pki_and_https(move |_| reply.clone());
    let client = client_trusting(&pki);
    let mut reader = client.get(&server.url("/fw")).call().unwrap().into_reader();
    let mut got = Vec::new();
    let mut small = [0u8; 1000];
    loop {
        let n = reader.read(&mut small).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&small[..n]);
    }
    assert_eq!(got, body);
}

#[test]
fn reading_into_an_empty_buffer_changes_nothing() {
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 249) as u8).collect();
    let reply = Reply::ok(&body);
    let server = Server::http(move |_| reply.clone());
    let client = Client::new();
    let mut reader = client.get(&server.url("/")).call().unwrap().into_reader();
    assert_eq!(reader.read(&mut []).unwrap(), 0);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), body.len());
    assert_eq!(got, body);
    assert_eq!(reader.read(&mut []).unwrap(), 0, "and at the end");
    drop(reader);
    assert_eq!(client.stats().idle_connections, 1, "back in the pool");
    client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_vec()
        .unwrap();
    let stats = client.stats();
    assert_eq!((stats.connections_opened, stats.pool_reuses), (1, 1));
}

#[test]
fn into_string_errors_above_the_limit_instead_of_truncating() {
    let server = Server::http(|_| Reply::ok(&[b'a'; 2000]));
    let client = Client::builder().body_limit(1000).build().unwrap();
    let err = client
        .get(&server.url("/"))
        .call()
        .unwrap()
        .into_string()
        .unwrap_err();
    assert!(matches!(err, Error::BodyTooLarge { limit: 1000 }), "{err}");
    let ok = client.get(&server.url("/")).call().unwrap();
    assert_eq!(ok.into_string_limited(2000).unwrap().len(), 2000);
    let exact = client.get(&server.url("/")).call().unwrap();
    assert!(exact.into_vec_limited(1999).is_err());
}

#[test]
fn plain_http_works_too() {
    let server = Server::http(|r| Reply::ok(r.target.as_bytes()));
    let client = Client::new();
    let resp = client.get(&server.url("/gw/status")).call().unwrap();
    assert_eq!(resp.connection(), ConnectionKind::New);
    assert_eq!(resp.into_string().unwrap(), "/gw/status");
    let again = client.get(&server.url("/gw/status")).call().unwrap();
    assert_eq!(again.connection(), ConnectionKind::Reused);
}

#[test]
fn no_content_and_not_modified_have_no_body() {
    let server = Server::http(|r| match r.target.as_str() {
        "/204" => Reply::status(204, &[], b""),
        _ => Reply::status(304, &[("etag", "\"x\"")], b""),
    });
    let client = Client::new();
    for path in ["/204", "/304", "/204"] {
        let resp = client.get(&server.url(path)).call().unwrap();
        assert_eq!(resp.status().as_str(), &path[1..]);
        assert!(resp.into_vec().unwrap().is_empty());
    }
    assert_eq!(
        server.connections(),
        1,
        "bodiless responses keep the connection"
    );
}

#[test]
fn informational_responses_are_skipped() {
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    });
    let resp = Client::new().get(&server.url("/")).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.into_string().unwrap(), "ok");
}

#[test]
fn expect_continue_waits_for_the_go_ahead() {
    // The server holds "100 Continue" back a while (well within the client's one
    // second of waiting), then records what of the body had arrived before it.
    let options = support::Options {
        continue_delay: Duration::from_millis(200),
        ..Default::default()
    };
    let server = Server::http_with(options, |r| Reply::ok(&r.body));
    let resp = Client::new()
        .put(&server.url("/upload"))
        .header("Expect", "100-continue")
        .send_bytes(b"payload")
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "payload");
    let seen = &server.requests()[0];
    assert!(seen.expects_continue());
    assert_eq!(
        seen.body_before_continue, 0,
        "body sent before 100 Continue"
    );
    assert_eq!(seen.body, b"payload");
}

#[test]
fn expect_continue_refused_returns_the_final_answer_without_sending_the_body() {
    let options = support::Options {
        answer_before_body: true,
        ..Default::default()
    };
    let server = Server::http_with(options, |_| {
        Reply::status(413, &[], b"too big").then_close()
    });
    let resp = Client::new()
        .put(&server.url("/upload"))
        .header("Expect", "100-continue")
        .send_bytes(&[0u8; 10_000])
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.into_string().unwrap(), "too big");
    // The server records what the client sent after the head once the client has
    // closed: nothing, the body was never sent.
    assert!(support::wait_until(Duration::from_secs(10), || server
        .requests()
        .len()
        == 1));
    assert!(server.requests()[0].body.is_empty());
}

#[test]
fn invalid_urls_and_headers_are_clear_errors() {
    let client = Client::new();
    for url in ["ftp://x/", "not a url", "/relative"] {
        let err = client.get(url).call().unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err}");
    }
    let err = client
        .get("http://127.0.0.1:9/")
        .header("bad header", "x")
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
}

#[test]
fn connection_refused_names_the_host() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::new()
        .get(&format!("http://127.0.0.1:{port}/"))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn client_is_clone_send_sync_and_shared_by_threads() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Client>();
    // A response (and its streaming body) may be handed to another thread.
    fn assert_send<T: Send + 'static>() {}
    assert_send::<tinyhttps::Response>();
    assert_send::<tinyhttps::Body>();
    let server = Server::http(|_| Reply::ok(b"x"));
    let client = Client::new();
    let url = server.url("/");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let body = client.get(&url).call().unwrap().into_string().unwrap();
                    assert_eq!(body, "x");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(client.stats().requests, 20);
}

#[test]
fn slow_server_within_the_read_timeout_is_fine() {
    let server = Server::http(|_| {
        Reply::steps(
            vec![
                Step::Sleep(Duration::from_millis(200)),
                Step::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1".to_vec()),
            ],
            true,
        )
    });
    let client = Client::builder()
        .timeout_read(Duration::from_secs(5))
        .build()
        .unwrap();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert_eq!(resp.into_string().unwrap(), "1");
}

#[test]
fn raw_head_keeps_the_reason_phrase_and_header_case_when_asked() {
    const HEAD: &[u8] =
        b"HTTP/1.1 200 Everything Fine\r\nX-Custom-Header: a\r\nContent-Length: 2\r\n\r\n";
    let server = Server::http(|_| {
        let mut bytes = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n".to_vec();
        bytes.extend_from_slice(HEAD);
        bytes.extend_from_slice(b"ok");
        Reply::raw(&bytes)
    });
    let client = Client::new();
    let resp = client.get(&server.url("/")).keep_raw_head().call().unwrap();
    // The final head as sent, without the 1xx before it.
    assert_eq!(resp.raw_head(), Some(HEAD));
    assert_eq!(resp.header("x-custom-header"), Some("a"));
    assert_eq!(resp.into_string().unwrap(), "ok");
    // Not asked for: not kept.
    let resp = client.get(&server.url("/")).call().unwrap();
    assert_eq!(resp.raw_head(), None);
    assert_eq!(resp.into_string().unwrap(), "ok");
}
