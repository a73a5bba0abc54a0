//! The `http` crate's types at the edge: requests made with `tinyhttps::http::Request`
//! and sent with `Client::run`, responses turned into `http::Response<Body>`.

use std::io::Read;

use crate::support::{client_trusting, pki_and_https, Reply, Server};
use tinyhttps::http::{self, Request};
use tinyhttps::{Body, Client, ConnectionKind, Error, SendBody};

/// A server that answers every request with 200 and "ok".
fn ok_server() -> Server {
    Server::http(|_| Reply::ok(b"ok"))
}

#[test]
fn get_built_with_http_request_sends_its_headers() {
    let server = ok_server();
    let client = Client::new();
    let request = Request::get(server.url("/v1/status?x=1"))
        .header("Accept", "application/json")
        .header("X-Device", "t1")
        .body(())
        .unwrap();
    let resp = client.run(request).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.into_string().unwrap(), "ok");
    let seen = &server.requests()[0];
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("GET", "/v1/status?x=1")
    );
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("x-device"), Some("t1"));
    assert_eq!(seen.header("content-length"), None, "a GET without a body");
    assert!(seen.header("user-agent").unwrap().starts_with("tinyhttps/"));
    assert_eq!(
        seen.header("host"),
        Some(&*format!("127.0.0.1:{}", server.port()))
    );
}

#[test]
fn post_with_a_vec_body_sends_it_with_its_length() {
    let server = ok_server();
    let client = Client::new();
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let request = Request::post(server.url("/upload"))
        .header("Content-Type", "application/octet-stream")
        .body(body.clone())
        .unwrap();
    client.run(request).unwrap().into_vec().unwrap();
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-length"), Some("10000"));
    assert!(!seen.is_chunked());
    assert_eq!(seen.body, body);
}

#[test]
fn text_slice_and_unit_bodies_are_sent_as_given() {
    let server = ok_server();
    let client = Client::new();
    let url = server.url("/b");
    let owned = String::from("owned text");
    fn send<B: SendBody>(client: &Client, request: Request<B>) {
        assert_eq!(client.run(request).unwrap().into_string().unwrap(), "ok");
    }
    send(&client, Request::post(&url).body(owned.clone()).unwrap());
    send(&client, Request::put(&url).body("borrowed text").unwrap());
    send(&client, Request::post(&url).body(&owned).unwrap());
    send(&client, Request::post(&url).body(&b"bytes"[..]).unwrap());
    send(&client, Request::post(&url).body(b"array").unwrap());
    send(&client, Request::post(&url).body(&vec![1u8, 2, 3]).unwrap());
    send(&client, Request::post(&url).body(()).unwrap());
    let seen = server.requests();
    let bodies: Vec<&[u8]> = seen.iter().map(|r| &r.body[..]).collect();
    let expected: [&[u8]; 7] = [
        b"owned text",
        b"borrowed text",
        b"owned text",
        b"bytes",
        b"array",
        &[1, 2, 3],
        b"",
    ];
    assert_eq!(bodies, expected);
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[6].header("content-length"), Some("0"), "() on a POST");
    assert!(seen.iter().all(|r| !r.is_chunked()));
}

#[test]
fn run_uses_the_clients_settings_and_follows_redirects() {
    let server = Server::http(|r| match r.target.as_str() {
        "/old" => Reply::status(303, &[("location", "/new")], b""),
        _ => Reply::ok(r.method.as_bytes()),
    });
    let client = Client::builder().user_agent("probe/1").build().unwrap();
    let request = Request::post(server.url("/old")).body("x").unwrap();
    let resp = client.run(request).unwrap();
    assert_eq!(resp.url().path(), "/new");
    assert_eq!(
        resp.into_string().unwrap(),
        "GET",
        "303 turns a POST into a GET"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|r| r.header("user-agent") == Some("probe/1")));
    assert_eq!(client.stats().requests, 2);
}

#[test]
fn request_extensions_are_ignored_and_bad_requests_are_refused() {
    let server = ok_server();
    let client = Client::new();
    let mut request = Request::get(server.url("/")).body(()).unwrap();
    request.extensions_mut().insert(42u32);
    assert_eq!(client.run(request).unwrap().into_string().unwrap(), "ok");

    let relative = Request::get("/no/host").body(()).unwrap();
    let err = client.run(relative).unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");

    let h2 = Request::get(server.url("/"))
        .version(http::Version::HTTP_2)
        .body(())
        .unwrap();
    let err = client.run(h2).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert_eq!(server.requests().len(), 1, "refused before sending");
}

#[test]
fn response_converts_to_http_response_with_url_and_connection_kind() {
    let (pki, server) = pki_and_https(|_| Reply::status(201, &[("x-answer", "42")], b"made"));
    let client = client_trusting(&pki);
    let url = server
        .url("/item")
        .replace("https://", "https://dev:s3cret@");
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let request = Request::post(&url).body("{}").unwrap();
        let resp: http::Response<Body> = client.run(request).unwrap().into();
        assert_eq!(resp.status(), http::StatusCode::CREATED);
        assert_eq!(resp.version(), http::Version::HTTP_11);
        assert_eq!(resp.headers()["x-answer"], "42");
        let shown = resp.extensions().get::<http::Uri>().unwrap().to_string();
        assert!(shown.ends_with("/item"), "{shown}");
        assert!(
            shown.contains("dev:***@") && !shown.contains("s3cret"),
            "{shown}"
        );
        kinds.push(*resp.extensions().get::<ConnectionKind>().unwrap());
        let mut body = String::new();
        resp.into_body().read_to_string(&mut body).unwrap();
        assert_eq!(body, "made");
    }
    assert_eq!(kinds, [ConnectionKind::NewTlsFull, ConnectionKind::Reused]);
    assert_eq!(
        client.stats().pool_reuses,
        1,
        "the body read to its end pooled it"
    );
}

#[test]
fn builder_headers_take_http_types_and_strings() {
    let server = ok_server();
    let client = Client::new();
    let token = String::from("Bearer t0k");
    let name = http::HeaderName::from_static("x-static");
    client
        .get(&server.url("/"))
        .header(
            http::header::ACCEPT,
            http::HeaderValue::from_static("text/plain"),
        )
        .header(name, "1")
        .header("Authorization", &token)
        .header(String::from("X-Owned"), token.clone())
        .call()
        .unwrap();
    let seen = &server.requests()[0];
    assert_eq!(seen.header("accept"), Some("text/plain"));
    assert_eq!(seen.header("x-static"), Some("1"));
    assert_eq!(seen.header("authorization"), Some("Bearer t0k"));
    assert_eq!(seen.header("x-owned"), Some("Bearer t0k"));
}

#[test]
fn invalid_header_fails_at_send_without_showing_its_value() {
    let client = Client::new();
    let err = client
        .get("http://127.0.0.1:9/")
        .header("X-Token", "s3cret\nInjected: 1")
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("x-token") && !text.contains("s3cret"),
        "{text}"
    );
    let err = client
        .get("http://127.0.0.1:9/")
        .header("bad name", "x")
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
}

#[test]
fn request_builder_owns_its_client_handle() {
    let server = ok_server();
    // Built in a function that drops its client: the builder keeps it alive.
    fn pending(url: &str) -> tinyhttps::RequestBuilder {
        Client::new().get(url).header("X-Late", "yes")
    }
    let request = pending(&server.url("/late"));
    assert_eq!(request.call().unwrap().into_string().unwrap(), "ok");
    assert_eq!(server.requests()[0].header("x-late"), Some("yes"));
}
