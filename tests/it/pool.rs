//! The connection pool: reuse, stale connections, retries, limits, threads.

use crate::support;

use std::collections::HashMap;
use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use support::raw::{self, RawServer};
use support::{pki_and_https, Pki, Reply, Server, Step, TlsOptions, SERVER_NAMES};
use tinyhttps::{Client, ClientBuilder, Error};

fn trusting(pki: &Pki) -> ClientBuilder {
    Client::builder().tls(support::trust(pki))
}

fn get(client: &Client, url: &str) -> String {
    client.get(url).call().unwrap().into_string().unwrap()
}

/// Answers, then closes the connection without saying so (no `Connection: close`),
/// as a server with a very short keep-alive timeout does.
fn answer_then_vanish(_: &support::Request) -> Reply {
    Reply::ok(b"hi").then_close()
}

#[test]
fn sequential_requests_share_one_connection_per_host() {
    let (pki, a) = pki_and_https(|_| Reply::ok(b"a"));
    let b = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), |_| {
        Reply::ok(b"b")
    });
    let client = trusting(&pki).build().unwrap();
    for _ in 0..100 {
        assert_eq!(get(&client, &a.url("/")), "a");
    }
    assert_eq!(client.stats().connections_opened, 1);
    assert_eq!(client.stats().pool_reuses, 99);
    for _ in 0..20 {
        assert_eq!(get(&client, &a.url("/")), "a");
        assert_eq!(get(&client, &b.url("/")), "b");
    }
    assert_eq!(client.stats().connections_opened, 2);
    assert_eq!((a.connections(), b.connections()), (1, 1));
    assert_eq!(client.stats().idle_connections, 2);
}

#[test]
fn server_closing_after_each_response_costs_no_failed_request() {
    let server = Server::http(answer_then_vanish);
    let client = Client::new();
    for _ in 0..10 {
        assert_eq!(get(&client, &server.url("/")), "hi");
    }
    let s = client.stats();
    // Each closed connection is noticed either when taken from the pool (stale) or
    // by a failed write/read before any response byte (retried on a fresh one).
    assert_eq!(s.pool_stale_discards + s.retries, 9, "{s:?}");
    assert_eq!(s.connections_opened, 10);
    // A retried request had gone to a socket the server had already closed: the
    // server read each request exactly once.
    assert_eq!(server.requests().len(), 10);
}

#[test]
fn pause_longer_than_the_servers_keepalive_gets_a_fresh_connection() {
    // The server answers, then closes the idle connection (its keep-alive timeout)
    // and says so; only then does the client send its next request.
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = RawServer::start(move |_, mut sock| {
        if support::read_message(&mut sock).is_ok() {
            let _ = raw::respond(&mut sock, b"hi");
        }
        drop(sock);
        let _ = closed_tx.send(());
    });
    let client = Client::new();
    assert_eq!(get(&client, &server.url("/")), "hi");
    closed_rx
        .recv_timeout(raw::READ_LIMIT)
        .expect("server closed the first connection");
    assert_eq!(get(&client, &server.url("/")), "hi");
    let s = client.stats();
    assert_eq!((s.connections_opened, s.pool_stale_discards), (2, 1));
    assert_eq!(s.retries, 0);
}

/// The second request on each connection is read and then the connection dropped
/// without an answer: the failure happens after the request went out.
fn drop_second_request(r: &support::Request) -> Reply {
    if r.seq_on_conn == 0 {
        Reply::ok(b"first")
    } else {
        Reply::steps(vec![Step::Close], false)
    }
}

#[test]
fn idempotent_request_failing_on_a_reused_connection_is_retried_once() {
    let server = Server::http(drop_second_request);
    let client = Client::new();
    assert_eq!(get(&client, &server.url("/")), "first");
    assert_eq!(get(&client, &server.url("/again")), "first");
    assert_eq!(client.stats().retries, 1);
    let seen = server.requests();
    assert_eq!(
        seen.len(),
        3,
        "the GET went out twice: once lost, once answered"
    );
}

#[test]
fn streamed_post_on_a_reused_connection_that_fails_is_not_retried() {
    let server = Server::http(drop_second_request);
    let client = Client::new();
    assert_eq!(get(&client, &server.url("/")), "first");
    let err = client
        .post(&server.url("/upload"))
        .send_reader(&b"sensor data"[..])
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(client.stats().retries, 0);
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "sent once, never twice");
    assert_eq!(posts[0].body, b"sensor data");
}

#[test]
fn seekable_body_is_rewound_and_sent_again_on_retry() {
    let server = Server::http(drop_second_request);
    let client = Client::new();
    assert_eq!(get(&client, &server.url("/")), "first");
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 241) as u8).collect();
    let mut source = std::io::Cursor::new(data.clone());
    source.set_position(0);
    let resp = client
        .put(&server.url("/blob"))
        .send_seekable(source)
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "first");
    assert_eq!(client.stats().retries, 1);
    let puts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(
        puts.len(),
        2,
        "once lost with its connection, once answered"
    );
    assert!(
        puts.iter().all(|p| p.body == data),
        "the whole body both times"
    );
}

#[test]
fn non_idempotent_post_is_not_retried_unless_marked() {
    let server = Server::http(drop_second_request);
    let client = Client::new();
    get(&client, &server.url("/"));
    assert!(client.post(&server.url("/p")).send_bytes(b"x").is_err());
    get(&client, &server.url("/"));
    let resp = client
        .post(&server.url("/p"))
        .header("Idempotency-Key", "k-1")
        .send_bytes(b"x")
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "first");
    assert_eq!(client.stats().retries, 1);
}

#[test]
fn early_drop_keeps_the_connection_only_for_a_small_remainder() {
    let server = Server::http(|r| match r.target.as_str() {
        "/small" => Reply::ok(&[b's'; 3000]),
        _ => Reply::ok(&vec![b'L'; 1_000_000]),
    });
    let client = Client::new();
    let mut small = client
        .get(&server.url("/small"))
        .call()
        .unwrap()
        .into_reader();
    let mut first = [0u8; 10];
    small.read_exact(&mut first).unwrap();
    drop(small);
    assert_eq!(client.stats().idle_connections, 1, "small rest drained");
    let mut large = client
        .get(&server.url("/large"))
        .call()
        .unwrap()
        .into_reader();
    large.read_exact(&mut first).unwrap();
    drop(large);
    assert_eq!(client.stats().idle_connections, 0, "large rest: closed");
    assert_eq!(get(&client, &server.url("/small")).len(), 3000);
    assert_eq!(server.connections(), 2);
}

#[test]
fn idle_timeout_expires_connections() {
    const IDLE: Duration = Duration::from_millis(100);
    let server = Server::http(|_| Reply::ok(b"x"));
    let client = Client::builder().idle_timeout(IDLE).build().unwrap();
    get(&client, &server.url("/"));
    // Not a margin: the connection went idle before `get` returned, and a sleep
    // never ends early, so it has been idle at least IDLE when the next request
    // looks.
    std::thread::sleep(IDLE);
    get(&client, &server.url("/"));
    let s = client.stats();
    assert_eq!((s.pool_idle_expired, s.connections_opened), (1, 2));
}

#[test]
fn limits_evict_the_oldest_idle_connections() {
    let servers: Vec<Server> = (0..4).map(|_| Server::http(|_| Reply::ok(b"x"))).collect();
    let client = Client::builder().max_idle(3).build().unwrap();
    for s in &servers {
        get(&client, &s.url("/"));
    }
    assert_eq!(client.stats().idle_connections, 3);
    // The first server's connection was the oldest: it was closed.
    get(&client, &servers[0].url("/"));
    assert_eq!(servers[0].connections(), 2);
    get(&client, &servers[3].url("/"));
    assert_eq!(servers[3].connections(), 1);
}

#[test]
fn warm_up_opens_a_connection_before_it_is_needed() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let client = trusting(&pki).build().unwrap();
    client.warm_up(&server.url("/")).unwrap();
    assert_eq!(client.stats().handshakes_full, 1);
    assert_eq!(server.requests().len(), 0);
    get(&client, &server.url("/"));
    let s = client.stats();
    assert_eq!((s.connections_opened, s.pool_reuses), (1, 1));
}

#[test]
fn threads_share_a_client_without_sharing_a_connection() {
    let (pki, a) = pki_and_https(|_| Reply::ok(b"a"));
    let b = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), |_| {
        Reply::ok(b"b")
    });
    let client = trusting(&pki)
        .max_idle_per_host(2)
        .max_idle(3)
        .build()
        .unwrap();
    let urls = [a.url("/"), b.url("/")];
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            let urls = urls.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let url = &urls[(t + i) % 2];
                    let want = if url == &urls[0] { "a" } else { "b" };
                    assert_eq!(get(&client, url), want);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = client.stats();
    assert_eq!(s.requests, 1600);
    assert!(s.idle_connections <= 3, "{s:?}");
    // Each connection carried whole requests one after another, never interleaved:
    // the server parsed every one and numbered them 0, 1, 2, ... on each connection.
    let seen = [a.requests(), b.requests()].concat();
    assert_eq!(seen.len(), 1600);
    let mut per_conn: HashMap<(u16, usize), Vec<usize>> = HashMap::new();
    for (port, reqs) in [(a.port(), a.requests()), (b.port(), b.requests())] {
        for r in reqs {
            per_conn
                .entry((port, r.conn_id))
                .or_default()
                .push(r.seq_on_conn);
        }
    }
    for seqs in per_conn.values_mut() {
        seqs.sort_unstable();
        assert!(seqs.iter().enumerate().all(|(i, s)| i == *s), "{seqs:?}");
    }
}
