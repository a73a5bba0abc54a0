//! HTTP proxies: https through a CONNECT tunnel (TLS end to end), http in absolute
//! form, credentials, refusals (the environment: proxy_env.rs).

use crate::support;

use support::{pki_and_https, Pki, Proxy, ProxyOptions, Reply, Server, TlsOptions};
use tinyhttps::{Client, ClientBuilder, Error};

fn trusting(pki: &Pki) -> ClientBuilder {
    Client::builder().tls(support::trust(pki))
}

#[test]
fn https_goes_through_a_tunnel_with_tls_end_to_end_and_is_reused() {
    let (pki, server) = pki_and_https(|r| Reply::ok(r.target.as_bytes()));
    let proxy = Proxy::start(ProxyOptions::default());
    let client = trusting(&pki).proxy(&proxy.url()).build().unwrap();
    for path in ["/a", "/b"] {
        let body = client
            .get(&server.url(path))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert_eq!(body, path);
    }
    assert_eq!(
        proxy.tunnels(),
        1,
        "the pooled tunnel carried both requests"
    );
    let seen = proxy.seen();
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, format!("localhost:{}", server.port()));
    // The server saw TLS with the target's name, as if there were no proxy.
    let tls = server.requests()[0].tls.clone().unwrap();
    assert_eq!(tls.sni.as_deref(), Some("localhost"));
}

#[test]
fn the_target_certificate_is_still_checked_through_the_tunnel() {
    // A trusted CA, but a certificate for the proxy's name (127.0.0.1) only: the
    // name checked must be the target's (localhost), not the proxy's.
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(TlsOptions::new(pki.server(&["127.0.0.1"])), |_| {
        Reply::ok(b"secret")
    });
    let proxy = Proxy::start(ProxyOptions::default());
    assert!(proxy.url().contains("127.0.0.1"));
    let client = trusting(&pki).proxy(&proxy.url()).build().unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(err.is_certificate(), "{err}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert_eq!(proxy.tunnels(), 1, "the handshake went through the tunnel");
    assert!(server.requests().is_empty());
}

#[test]
fn plain_http_is_sent_to_the_proxy_in_absolute_form() {
    let server = Server::http(|r| Reply::ok(r.target.as_bytes()));
    let proxy = Proxy::start(ProxyOptions::default());
    let client = Client::builder().proxy(&proxy.url()).build().unwrap();
    let url = server.url("/gw/status?x=1");
    let body = client.get(&url).call().unwrap().into_string().unwrap();
    assert_eq!(body, "/gw/status?x=1");
    let seen = proxy.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, url);
    assert_eq!(
        seen[0].header("host"),
        Some(&*format!("127.0.0.1:{}", server.port()))
    );
    let post = client.post(&url).send_string("data").unwrap();
    assert_eq!(post.into_string().unwrap(), "/gw/status?x=1");
    assert_eq!(server.requests()[1].body, b"data");
    assert_eq!(proxy.connections(), 1);
}

#[test]
fn proxy_credentials_are_sent_and_a_407_is_a_clear_error() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"ok"));
    let proxy = Proxy::start(ProxyOptions::with_credentials("device", "p@ss"));
    let good = trusting(&pki)
        .proxy(&proxy.url_with_credentials("device", "p@ss"))
        .build()
        .unwrap();
    assert_eq!(
        good.get(&server.url("/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
        "ok"
    );
    assert_eq!(
        proxy.seen()[0].header("proxy-authorization"),
        Some(&*support::basic_auth("device", "p@ss"))
    );
    let bad = trusting(&pki).proxy(&proxy.url()).build().unwrap();
    let err = bad.get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Proxy { status: 407, .. }), "{err}");
    assert!(err.to_string().contains("authentication"), "{err}");
}

#[test]
fn refused_tunnel_is_a_clear_error() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"ok"));
    let proxy = Proxy::start(ProxyOptions {
        refuse_connect: true,
        ..Default::default()
    });
    let client = trusting(&pki).proxy(&proxy.url()).build().unwrap();
    let err = client.get(&server.url("/")).call().unwrap_err();
    assert!(matches!(err, Error::Proxy { status: 403, .. }), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn bad_proxy_url_is_reported_at_build_without_the_password() {
    let err = Client::builder()
        .proxy("socks5://user:hunter2@proxy.lan:1080")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
