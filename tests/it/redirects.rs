//! Redirects: followed within bounds, never down to http, credentials kept home.

use crate::support;

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use support::{client_trusting, pki_and_https, Reply, Server, SERVER_NAMES};
use tinyhttps::{Client, Error};

fn redirect(code: u16, to: &str) -> Reply {
    Reply::status(code, &[("location", to)], b"moved")
}

#[test]
fn relative_redirect_is_followed_on_the_same_connection() {
    let (pki, server) = pki_and_https(|r| match r.target.as_str() {
        "/v1/old" => redirect(301, "new?x=1"),
        _ => Reply::ok(r.target.as_bytes()),
    });
    let client = client_trusting(&pki);
    let resp = client.get(&server.url("/v1/old")).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/v1/new");
    assert_eq!(resp.into_string().unwrap(), "/v1/new?x=1");
    assert_eq!(server.connections(), 1);
    assert_eq!(client.stats().requests, 2);
}

#[test]
fn redirect_loop_stops_at_the_bound() {
    let server = Server::http(|_| redirect(302, "/again"));
    let client = Client::builder().redirects(3).build().unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(
        matches!(err, Error::TooManyRedirects { limit: 3, .. }),
        "{err}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn redirects_zero_returns_the_redirect_itself() {
    let server = Server::http(|_| redirect(302, "/elsewhere"));
    let client = Client::builder().redirects(0).build().unwrap();
    let resp = client.get(&server.url("/")).call().unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.header("location"), Some("/elsewhere"));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn https_to_http_redirect_is_refused() {
    let plain = Server::http(|_| Reply::ok(b"in clear"));
    let target = plain.url("/");
    let (pki, server) = pki_and_https(move |_| redirect(302, &target));
    let err = client_trusting(&pki)
        .get(&server.url("/"))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::InsecureRedirect { .. }), "{err}");
    assert!(plain.requests().is_empty());
}

#[test]
fn credentials_are_dropped_when_the_host_changes_and_kept_when_it_does_not() {
    let other = Server::http(|_| Reply::ok(b"other"));
    let other_url = other.url("/landing");
    let home = Server::http(move |r| match r.target.as_str() {
        "/away" => redirect(302, &other_url),
        "/stay" => redirect(302, "/landing"),
        _ => Reply::ok(b"home"),
    });
    let client = Client::new();
    for path in ["/away", "/stay"] {
        client
            .get(&home.url(path))
            .header("Authorization", "Bearer device-token")
            .header("Cookie", "session=1")
            .call()
            .unwrap()
            .into_string()
            .unwrap();
    }
    let away = &other.requests()[0];
    assert_eq!(away.header("authorization"), None);
    assert_eq!(away.header("cookie"), None);
    let stayed = &home.requests()[2];
    assert_eq!(stayed.target, "/landing");
    assert_eq!(stayed.header("authorization"), Some("Bearer device-token"));
    assert_eq!(stayed.header("cookie"), Some("session=1"));
}

#[test]
fn credentials_are_dropped_when_only_the_host_name_changes() {
    // One server, two names from its certificate: the port stays, the origin does not.
    let (first, second) = (SERVER_NAMES[0], SERVER_NAMES[1]);
    let (pki, server) = pki_and_https(move |r| match r.target.as_str() {
        "/away" => {
            let port = r.header("host").and_then(|h| h.rsplit(':').next());
            redirect(302, &format!("https://{second}:{}/landing", port.unwrap()))
        }
        "/stay" => redirect(302, "/landing"),
        _ => Reply::ok(b"landed"),
    });
    let client = Client::builder()
        .tls(support::trust(&pki))
        .resolve(first, server.port(), Ipv4Addr::LOCALHOST.into())
        .build()
        .unwrap();
    for path in ["/away", "/stay"] {
        let resp = client
            .get(&server.url_with_host(first, path))
            .header("Authorization", "Bearer device-token")
            .header("Cookie", "session=1")
            .call()
            .unwrap();
        assert_eq!(resp.into_string().unwrap(), "landed");
    }
    // Credentials from the URL's userinfo stay with that URL too.
    let with_user = server.url_with_host(&format!("user:pw@{first}"), "/away");
    let resp = client.get(&with_user).call().unwrap();
    assert_eq!(resp.into_string().unwrap(), "landed");

    let seen = server.requests();
    let away = &seen[1];
    let second_host = format!("{second}:{}", server.port());
    assert_eq!(away.header("host"), Some(&*second_host));
    assert_eq!(away.header("authorization"), None);
    assert_eq!(away.header("cookie"), None);
    let stayed = &seen[3];
    assert_eq!(stayed.target, "/landing");
    assert_eq!(stayed.header("authorization"), Some("Bearer device-token"));
    assert_eq!(stayed.header("cookie"), Some("session=1"));
    assert!(seen[4].header("authorization").is_some());
    assert_eq!(seen[5].header("host"), Some(&*second_host));
    assert_eq!(seen[5].header("authorization"), None);
}

/// A plain server that redirects `/away` to `/landing` on itself, named `to_host`,
/// and `/stay` to `/landing` (same origin).
fn redirecting_to_itself_as(to_host: &'static str) -> Server {
    let port = Arc::new(OnceLock::new());
    let known = port.clone();
    let server = Server::http(move |r| match r.target.as_str() {
        "/away" => {
            let port: &u16 = known.get().unwrap();
            redirect(302, &format!("http://{to_host}:{port}/landing"))
        }
        "/stay" => redirect(302, "/landing"),
        _ => Reply::ok(b"landed"),
    });
    port.set(server.port()).unwrap();
    server
}

#[test]
fn caller_host_header_is_recomputed_when_the_host_name_changes() {
    let server = redirecting_to_itself_as("localhost");
    let client = Client::builder()
        .resolve("localhost", server.port(), Ipv4Addr::LOCALHOST.into())
        .build()
        .unwrap();
    for path in ["/away", "/stay"] {
        let resp = client
            .get(&server.url(path))
            .header("Host", "a.example")
            .call()
            .unwrap();
        assert_eq!(resp.into_string().unwrap(), "landed");
    }
    let hosts: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("host").unwrap_or_default().to_string())
        .collect();
    let own = format!("localhost:{}", server.port());
    assert_eq!(hosts, ["a.example", &own, "a.example", "a.example"]);
}

#[test]
fn caller_host_header_is_recomputed_when_the_port_changes() {
    let other = Server::http(|_| Reply::ok(b"other"));
    let other_url = other.url("/landing");
    let home = Server::http(move |_| redirect(302, &other_url));
    let resp = Client::new()
        .get(&home.url("/away"))
        .header("Host", "a.example")
        .call()
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "other");
    assert_eq!(home.requests()[0].header("host"), Some("a.example"));
    let own = format!("127.0.0.1:{}", other.port());
    assert_eq!(other.requests()[0].header("host"), Some(&*own));
}

#[test]
fn see_other_turns_a_post_into_a_get_without_body() {
    let server = Server::http(|r| match r.target.as_str() {
        "/form" => redirect(303, "/result"),
        _ => Reply::ok(r.method.as_bytes()),
    });
    let resp = Client::new()
        .post(&server.url("/form"))
        .header("Content-Type", "text/plain")
        .send_string("data")
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "GET");
    let second = &server.requests()[1];
    assert!(second.body.is_empty());
    assert_eq!(second.header("content-type"), None);
    assert_eq!(second.header("content-length"), None);
}

#[test]
fn temporary_redirect_resends_method_and_body() {
    let server = Server::http(|r| match r.target.as_str() {
        "/a" => redirect(307, "/b"),
        _ => Reply::ok(&r.body),
    });
    let resp = Client::new()
        .post(&server.url("/a"))
        .send_bytes(b"again")
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "again");
    assert_eq!(server.requests()[1].method, "POST");
}

#[test]
fn temporary_redirect_of_a_seekable_body_is_followed_with_the_whole_body() {
    let server = Server::http(|r| match r.target.as_str() {
        "/a" => redirect(308, "/b"),
        _ => Reply::ok(&r.body),
    });
    let mut file = std::io::Cursor::new(b"skip:the body".to_vec());
    file.set_position(5);
    let resp = Client::new()
        .put(&server.url("/a"))
        .send_seekable(file)
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "the body");
    let seen = server.requests();
    assert_eq!(
        (seen[0].body.as_slice(), seen[1].body.as_slice()),
        (&b"the body"[..], &b"the body"[..])
    );
}

#[test]
fn temporary_redirect_of_a_streamed_body_is_returned_not_followed() {
    let server = Server::http(|_| redirect(307, "/b"));
    let resp = Client::new()
        .put(&server.url("/a"))
        .send_reader(&b"stream"[..])
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(server.requests().len(), 1);
}
