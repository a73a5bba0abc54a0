//! TLS 1.3 early data (0-RTT), `ClientBuilder::early_data`: what goes in the first
//! flight of a new resumed connection, and what happens when the server refuses
//! it or answers `425 Too Early`. The test server records, per request, whether
//! it arrived whole as early data.

use tinyhttps::ConnectionKind::{NewTlsFull, NewTlsResumed};
use tinyhttps::{Client, ClientBuilder, Stats};

use crate::support::{
    trust, EarlyData, Pki, Proxy, ProxyOptions, Reply, Request, Server, TlsOptions, SERVER_NAMES,
};

/// An HTTPS server whose tickets allow early data, taken or refused (`mode`).
fn server(
    mode: EarlyData,
    handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> (Pki, Server) {
    let pki = Pki::new("tinyhttps test CA");
    let tls = TlsOptions::new(pki.server(SERVER_NAMES)).early_data(mode);
    let server = Server::https(tls, handler);
    (pki, server)
}

/// Answers with whether the request came as early data.
fn tell_early(r: &Request) -> Reply {
    Reply::ok(format!("early={}", r.early_data).as_bytes())
}

/// A client trusting the test CA, with a new connection for every request.
fn fresh(pki: &Pki) -> ClientBuilder {
    Client::builder().tls(trust(pki)).max_idle_per_host(0)
}

/// What the server saw: (target, arrived as early data), in order.
fn seen(server: &Server) -> Vec<(String, bool)> {
    server
        .requests()
        .iter()
        .map(|r| (r.target.clone(), r.early_data))
        .collect()
}

/// The early-data counters: (sent, accepted, rejected).
fn early_counts(s: &Stats) -> (u64, u64, u64) {
    (
        s.early_data_sent,
        s.early_data_accepted,
        s.early_data_rejected,
    )
}

/// A first request on a full handshake, so the client holds a ticket.
fn first(client: &Client, server: &Server) {
    let resp = client.get(&server.url("/first")).call().unwrap();
    assert_eq!(resp.connection(), NewTlsFull);
    resp.into_string().unwrap();
}

#[test]
fn a_resumed_new_connection_sends_a_get_as_early_data() {
    let (pki, server) = server(EarlyData::Accept, tell_early);
    let client = fresh(&pki).early_data(true).build().unwrap();
    first(&client, &server);
    let resp = client.get(&server.url("/second")).call().unwrap();
    assert_eq!(resp.connection(), NewTlsResumed);
    assert_eq!(resp.into_string().unwrap(), "early=true");
    assert_eq!(
        seen(&server),
        [("/first".into(), false), ("/second".into(), true)]
    );
    let s = client.stats();
    assert_eq!(early_counts(&s), (1, 1, 0), "{s:?}");
    assert_eq!(
        (s.requests, s.handshakes_full, s.handshakes_resumed),
        (2, 1, 1)
    );
    assert_eq!(server.handshakes_resumed(), 1);
}

#[test]
fn a_first_connection_with_a_full_handshake_sends_nothing_early() {
    let (pki, server) = server(EarlyData::Accept, tell_early);
    let client = fresh(&pki).early_data(true).build().unwrap();
    let resp = client.get(&server.url("/only")).call().unwrap();
    assert_eq!(resp.connection(), NewTlsFull);
    assert_eq!(resp.into_string().unwrap(), "early=false");
    assert_eq!(seen(&server), [("/only".into(), false)]);
    assert_eq!(early_counts(&client.stats()), (0, 0, 0));
}

#[test]
fn early_data_is_off_by_default() {
    let (pki, server) = server(EarlyData::Accept, tell_early);
    let client = fresh(&pki).build().unwrap();
    first(&client, &server);
    let resp = client.get(&server.url("/second")).call().unwrap();
    // Resumed with a ticket that allows early data: the client chose not to.
    assert_eq!(resp.connection(), NewTlsResumed);
    assert_eq!(resp.into_string().unwrap(), "early=false");
    assert_eq!(
        seen(&server),
        [("/first".into(), false), ("/second".into(), false)]
    );
    assert_eq!(early_counts(&client.stats()), (0, 0, 0));
}

#[test]
fn requests_with_a_body_go_early_only_with_an_idempotency_key() {
    let (pki, server) = server(EarlyData::Accept, tell_early);
    let client = fresh(&pki).early_data(true).build().unwrap();
    first(&client, &server);
    let post = client.post(&server.url("/post")).send_bytes(b"reading");
    assert_eq!(post.unwrap().into_string().unwrap(), "early=false");
    let get = client.get(&server.url("/get-body")).send_bytes(b"filter");
    assert_eq!(get.unwrap().into_string().unwrap(), "early=false");
    let keyed = client
        .post(&server.url("/keyed"))
        .header("Idempotency-Key", "k-1")
        .send_bytes(b"reading");
    assert_eq!(keyed.unwrap().into_string().unwrap(), "early=true");
    let requests = server.requests();
    let got: Vec<_> = requests
        .iter()
        .map(|r| {
            (
                r.target.as_str(),
                r.early_data,
                r.body_text(),
                r.tls.as_ref().unwrap().resumed,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/first", false, String::new(), false),
            ("/post", false, "reading".into(), true),
            ("/get-body", false, "filter".into(), true),
            ("/keyed", true, "reading".into(), true),
        ]
    );
    assert_eq!(early_counts(&client.stats()), (1, 1, 0));
}

#[test]
fn early_data_refused_by_the_server_is_sent_again_on_the_same_connection() {
    let (pki, server) = server(EarlyData::Refuse, tell_early);
    let client = fresh(&pki).early_data(true).build().unwrap();
    first(&client, &server);
    let resp = client.get(&server.url("/second")).call().unwrap();
    assert_eq!(resp.connection(), NewTlsResumed);
    assert_eq!(resp.into_string().unwrap(), "early=false");
    // Once, as normal data, on the second connection.
    assert_eq!(
        seen(&server),
        [("/first".into(), false), ("/second".into(), false)]
    );
    assert_eq!(server.connections(), 2);
    let s = client.stats();
    assert_eq!(early_counts(&s), (1, 0, 1), "{s:?}");
    assert_eq!((s.requests, s.retries, s.connections_opened), (2, 0, 2));
}

#[test]
fn a_425_to_early_data_is_sent_again_not_early_on_the_same_connection() {
    let (pki, server) = server(EarlyData::Accept, |r| {
        if r.early_data {
            Reply::status(425, &[], b"too early")
        } else {
            Reply::ok(b"done")
        }
    });
    // Pooled, so the 425's connection can carry the request again.
    let client = Client::builder()
        .tls(trust(&pki))
        .early_data(true)
        .build()
        .unwrap();
    first(&client, &server);
    client.close_idle();
    let resp = client.get(&server.url("/second")).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.into_string().unwrap(), "done");
    let requests = server.requests();
    let got: Vec<_> = requests
        .iter()
        .map(|r| (r.target.as_str(), r.early_data, r.conn_id))
        .collect();
    assert_eq!(
        got,
        [
            ("/first", false, 0),
            ("/second", true, 1),
            ("/second", false, 1)
        ]
    );
    let s = client.stats();
    assert_eq!(early_counts(&s), (1, 1, 1), "{s:?}");
    assert_eq!((s.requests, s.connections_opened, s.pool_reuses), (3, 2, 1));
}

#[test]
fn a_server_that_always_answers_425_gets_an_early_request_twice_and_no_more() {
    let (pki, server) = server(EarlyData::Accept, |_| Reply::status(425, &[], b"no"));
    let client = fresh(&pki).early_data(true).build().unwrap();
    // Not early: the 425 is the answer.
    let resp = client.get(&server.url("/first")).call().unwrap();
    assert_eq!(
        (resp.connection(), resp.status().as_u16()),
        (NewTlsFull, 425)
    );
    resp.into_string().unwrap();
    // Early, then once more not early (a new connection: pooling is off); that
    // 425 is the answer.
    let resp = client.get(&server.url("/second")).call().unwrap();
    assert_eq!(resp.status(), 425);
    resp.into_string().unwrap();
    assert_eq!(
        seen(&server),
        [
            ("/first".into(), false),
            ("/second".into(), true),
            ("/second".into(), false)
        ]
    );
    let s = client.stats();
    assert_eq!(early_counts(&s), (1, 1, 1), "{s:?}");
    assert_eq!((s.requests, s.connections_opened), (3, 3));
}

#[test]
fn early_data_goes_through_a_connect_tunnel_with_tls_end_to_end() {
    let (pki, server) = server(EarlyData::Accept, tell_early);
    let proxy = Proxy::start(ProxyOptions::default());
    let client = fresh(&pki)
        .proxy(&proxy.url())
        .early_data(true)
        .build()
        .unwrap();
    first(&client, &server);
    let resp = client.get(&server.url("/second")).call().unwrap();
    assert_eq!(resp.into_string().unwrap(), "early=true");
    assert_eq!(proxy.tunnels(), 2);
    assert_eq!(
        seen(&server),
        [("/first".into(), false), ("/second".into(), true)]
    );
    assert_eq!(early_counts(&client.stats()), (1, 1, 0));
}
