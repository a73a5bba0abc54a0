//! Tests of the test proxy (`support::proxy`) itself, with raw sockets and
//! the test server as upstream: no tinyhttps code involved.

use crate::support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use support::{
    basic_auth, read_head, read_message, read_until_end, wait_until, Proxy, ProxyOptions, Reply,
    Server, Step,
};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

fn connect(proxy: &Proxy) -> TcpStream {
    let sock = TcpStream::connect(proxy.addr()).unwrap();
    sock.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    sock
}

fn connect_request(target: &str, extra: &str) -> Vec<u8> {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n").into_bytes()
}

fn echo_server() -> Server {
    Server::http(|r| Reply::ok(format!("{} {} {}", r.method, r.target, r.body_text()).as_bytes()))
}

#[test]
fn connect_tunnel_carries_keep_alive_requests_and_relays_the_end_of_stream() {
    let upstream = echo_server();
    let proxy = Proxy::start(ProxyOptions::default());
    assert_eq!(proxy.url(), format!("http://127.0.0.1:{}", proxy.port()));

    let target = format!("127.0.0.1:{}", upstream.port());
    let mut sock = connect(&proxy);
    sock.write_all(&connect_request(&target, "")).unwrap();
    assert_eq!(
        read_head(&mut sock).unwrap(),
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    for path in ["/one", "/two"] {
        sock.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .unwrap();
        let (head, body) = read_message(&mut sock).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, format!("GET {path} ").as_bytes());
    }

    // Our end of stream reaches the server, which closes; its close comes back.
    sock.shutdown(Shutdown::Write).unwrap();
    let (rest, end) = read_until_end(&mut sock);
    end.unwrap();
    assert!(rest.is_empty());

    let requests = upstream.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.conn_id == 0));
    assert_eq!(upstream.connections(), 1);
    assert_eq!((proxy.connections(), proxy.tunnels()), (1, 1));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, target);
    assert_eq!(seen[0].conn_id, 0);
    assert_eq!(seen[0].header("HOST"), Some(target.as_str()));
}

#[test]
fn tunnel_relays_the_upstream_close_to_the_client() {
    let upstream = Server::http(|_| Reply::ok(b"bye").then_close());
    let proxy = Proxy::start(ProxyOptions::default());
    let mut sock = connect(&proxy);
    sock.write_all(&connect_request(
        &format!("localhost:{}", upstream.port()),
        "",
    ))
    .unwrap();
    read_head(&mut sock).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (data, end) = read_until_end(&mut sock);
    end.unwrap();
    assert!(data.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(data.ends_with(b"\r\n\r\nbye"));
}

#[test]
fn absolute_form_requests_are_forwarded_in_origin_form_on_one_client_connection() {
    let upstream = Server::http(|r| match r.target.as_str() {
        "/chunked" => Reply::chunked(200, &[b"ab", b"cde"], &[("x-trailer", "t")]),
        _ => Reply::ok(format!("{} {} {}", r.method, r.target, r.body_text()).as_bytes()),
    });
    let proxy = Proxy::start(ProxyOptions::default());
    let base = format!("http://127.0.0.1:{}", upstream.port());
    let mut sock = connect(&proxy);

    let get = format!(
        "GET {base}/path?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive\r\nX-Test: Yes\r\n\r\n"
    );
    sock.write_all(get.as_bytes()).unwrap();
    let (_, body) = read_message(&mut sock).unwrap();
    assert_eq!(body, b"GET /path?q=1 ");

    let post = format!("POST {base}/post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    sock.write_all(post.as_bytes()).unwrap();
    let (_, body) = read_message(&mut sock).unwrap();
    assert_eq!(body, b"POST /post hello");

    let chunked_post = format!(
        "PUT {base}/put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nx-t: 1\r\n\r\n"
    );
    sock.write_all(chunked_post.as_bytes()).unwrap();
    let (_, body) = read_message(&mut sock).unwrap();
    assert_eq!(body, b"PUT /put abcde");

    // A chunked response is relayed byte for byte, trailers included.
    sock.write_all(format!("GET {base}/chunked HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let expected = Reply::chunked(200, &[b"ab", b"cde"], &[("x-trailer", "t")]).bytes();
    let mut got = vec![0u8; expected.len()];
    sock.read_exact(&mut got).unwrap();
    assert_eq!(got, expected);

    // HEAD: no body read even though the response announces a length.
    sock.write_all(format!("HEAD {base}/h HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let head = read_head(&mut sock).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));

    let requests = upstream.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/path?q=1", "/post", "/put", "/chunked", "/h"]);
    assert!(requests[0]
        .raw_head
        .starts_with(b"GET /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    assert_eq!(requests[0].header("x-test"), Some("Yes"));
    assert_eq!(requests[0].header("proxy-connection"), None);
    assert_eq!(requests[2].header("transfer-encoding"), Some("chunked"));
    // One upstream connection per forwarded request, one client connection.
    assert_eq!(upstream.connections(), 5);
    assert_eq!((proxy.connections(), proxy.tunnels()), (1, 0));

    let seen = proxy.seen();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|r| r.conn_id == 0));
    assert_eq!(seen[0].target, format!("{base}/path?q=1"));
    assert_eq!(seen[0].header("proxy-connection"), Some("keep-alive"));
    assert_eq!(seen[4].method, "HEAD");
}

#[test]
fn close_delimited_response_is_relayed_then_the_client_connection_closes() {
    let upstream = Server::http(|_| Reply::raw(b"HTTP/1.1 200 OK\r\n\r\nuntil close").then_close());
    let proxy = Proxy::start(ProxyOptions::default());
    let mut sock = connect(&proxy);
    let get = format!(
        "GET http://localhost:{}/ HTTP/1.1\r\nHost: x\r\n\r\n",
        upstream.port()
    );
    sock.write_all(get.as_bytes()).unwrap();
    let (data, end) = read_until_end(&mut sock);
    end.unwrap();
    assert_eq!(data, b"HTTP/1.1 200 OK\r\n\r\nuntil close");
}

#[test]
fn expect_continue_is_relayed_through_the_forwarding_path() {
    let upstream = Server::http(|r| Reply::ok(&r.body));
    let proxy = Proxy::start(ProxyOptions::default());
    let mut sock = connect(&proxy);
    let put = format!(
        "PUT http://127.0.0.1:{}/p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        upstream.port()
    );
    sock.write_all(put.as_bytes()).unwrap();
    assert_eq!(
        read_head(&mut sock).unwrap(),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
    sock.write_all(b"data").unwrap();
    let (head, body) = read_message(&mut sock).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(body, b"data");
}

#[test]
fn credentials_are_required_when_configured_and_not_forwarded() {
    assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
    assert_eq!(basic_auth("a", ""), "Basic YTo=");
    let upstream = echo_server();
    let proxy = Proxy::start(ProxyOptions::with_credentials("user", "p@ss"));
    assert_eq!(
        proxy.url_with_credentials("user", "p@ss"),
        format!("http://user:p%40ss@127.0.0.1:{}", proxy.port())
    );
    let target = format!("127.0.0.1:{}", upstream.port());
    let good = format!("Proxy-Authorization: {}\r\n", basic_auth("user", "p@ss"));
    let bad = format!("Proxy-Authorization: {}\r\n", basic_auth("user", "nope"));

    // No credentials, then wrong ones: 407 with a challenge, then the close.
    for extra in ["", bad.as_str()] {
        let mut sock = connect(&proxy);
        sock.write_all(&connect_request(&target, extra)).unwrap();
        let (data, end) = read_until_end(&mut sock);
        end.unwrap();
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    }
    assert_eq!(proxy.tunnels(), 0);

    // Right ones: a tunnel, and a forwarded request without the header.
    let mut sock = connect(&proxy);
    sock.write_all(&connect_request(&target, &good)).unwrap();
    assert_eq!(
        read_head(&mut sock).unwrap(),
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    assert_eq!(proxy.tunnels(), 1);
    drop(sock);

    let mut sock = connect(&proxy);
    let get = format!("GET http://{target}/a HTTP/1.1\r\nHost: x\r\n{good}\r\n");
    sock.write_all(get.as_bytes()).unwrap();
    let (_, body) = read_message(&mut sock).unwrap();
    assert_eq!(body, b"GET /a ");
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("proxy-authorization"), None);

    let seen = proxy.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].header("proxy-authorization"), None);
    assert_eq!(
        seen[3].header("proxy-authorization"),
        Some(basic_auth("user", "p@ss").as_str())
    );
    assert_eq!(proxy.connections(), 4);
}

#[test]
fn refuse_connect_answers_403_and_closes() {
    let upstream = echo_server();
    let proxy = Proxy::start(ProxyOptions {
        refuse_connect: true,
        ..ProxyOptions::default()
    });
    let mut sock = connect(&proxy);
    let target = format!("127.0.0.1:{}", upstream.port());
    sock.write_all(&connect_request(&target, "")).unwrap();
    let (data, end) = read_until_end(&mut sock);
    end.unwrap();
    let text = String::from_utf8(data).unwrap();
    assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{text}");
    assert!(text.contains("\r\nContent-Length: "));
    assert_eq!(proxy.tunnels(), 0);
    assert_eq!(proxy.seen()[0].method, "CONNECT");
    assert_eq!(upstream.connections(), 0);
}

#[test]
fn non_loopback_targets_get_502_without_leaving_the_host() {
    let proxy = Proxy::start(ProxyOptions::default());
    let requests = [
        connect_request("example.com:443", ""),
        connect_request("192.0.2.1:443", ""),
        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
    ];
    for request in requests {
        let mut sock = connect(&proxy);
        sock.write_all(&request).unwrap();
        let (data, end) = read_until_end(&mut sock);
        end.unwrap();
        assert!(data.starts_with(b"HTTP/1.1 502 Bad Gateway\r\n"));
    }
    assert_eq!(proxy.seen().len(), 3);
    assert_eq!(proxy.tunnels(), 0);
}

#[test]
fn dropping_the_proxy_with_an_open_tunnel_returns_quickly() {
    let upstream = Server::http(|_| Reply::steps(vec![Step::Sleep(Duration::from_secs(60))], true));
    let proxy = Proxy::start(ProxyOptions::default());
    let mut sock = connect(&proxy);
    sock.write_all(&connect_request(
        &format!("127.0.0.1:{}", upstream.port()),
        "",
    ))
    .unwrap();
    read_head(&mut sock).unwrap();
    sock.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || upstream
        .requests()
        .len()
        == 1));

    let started = Instant::now();
    drop(proxy);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "drop took {took:?}");
    let (data, _) = read_until_end(&mut sock);
    assert!(data.is_empty());
}
