//! `ClientBuilder::proxy_from_env` through the real process environment. It changes
//! the environment, which no other thread may read meanwhile (`getaddrinfo` does):
//! the test runs alone in a child process, and sets the variables before any request.
//! The rules themselves are unit-tested in `src/proxy.rs` and `src/no_proxy.rs`.

use crate::support;

use support::{pki_and_https, Proxy, ProxyOptions, Reply, Server};
use tinyhttps::Client;

#[test]
fn environment_proxy_applies_except_for_no_proxy_hosts() {
    if support::child::run_isolated() {
        return;
    }
    let (pki, https) = pki_and_https(|_| Reply::ok(b"ok"));
    let http = Server::http(|_| Reply::ok(b"ok"));
    let proxy = Proxy::start(ProxyOptions::default());
    let vars = [
        // Blank upper case: the lower-case one applies.
        ("HTTPS_PROXY", String::new()),
        ("https_proxy", proxy.url()),
        // Meant for other programs: ignored, not a build error.
        ("ALL_PROXY", "socks5://127.0.0.1:1".to_string()),
        // A CGI program: HTTP_PROXY may come from a request header.
        ("REQUEST_METHOD", "GET".to_string()),
        ("HTTP_PROXY", proxy.url()),
        ("NO_PROXY", "127.0.0.0/8".to_string()),
    ];
    for (name, value) in &vars {
        std::env::set_var(name, value);
    }
    let built = Client::builder()
        .tls(support::trust(&pki))
        .proxy_from_env()
        .build();
    for (name, _) in &vars {
        std::env::remove_var(name);
    }
    let client = built.unwrap();

    let get = |url: &str| client.get(url).call().unwrap().into_string().unwrap();
    get(&https.url("/"));
    assert_eq!(proxy.tunnels(), 1, "https_proxy applies to localhost");
    get(&https.url_with_host("127.0.0.1", "/"));
    assert_eq!(proxy.tunnels(), 1, "127.0.0.0/8 goes direct");
    get(&http.url_with_host("localhost", "/"));
    assert_eq!(proxy.seen().len(), 1, "HTTP_PROXY was ignored");
    assert_eq!(http.requests().len(), 1);
}
