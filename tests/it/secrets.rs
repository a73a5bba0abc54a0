//! The password of a URL's `user:password@` part (it becomes `Authorization: Basic`)
//! and a proxy's password never appear in errors, `Debug`, `Response::url` or logs.

use crate::support;

use support::{pki_and_https, Proxy, ProxyOptions, Reply, Server};
use tinyhttps::{Client, Error};

const SECRET: &str = "s3cret";

/// `user:s3cret` in base64, as it goes into `Authorization: Basic`.
const SECRET_BASE64: &str = "dXNlcjpzM2NyZXQ=";

fn redirect(code: u16, to: &str) -> Reply {
    Reply::status(code, &[("location", to)], b"moved")
}

/// `http://user:s3cret@127.0.0.1:PORT{path}` on a plain server.
fn url_with_password(server: &Server, path: &str) -> String {
    server.url_with_host(&format!("user:{SECRET}@127.0.0.1"), path)
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the password: {text}");
}

fn assert_error_hidden(err: &Error) {
    assert_hidden("Display", &err.to_string());
    assert_hidden("Debug", &format!("{err:?}"));
}

#[test]
fn too_many_redirects_does_not_show_the_password() {
    let server = Server::http(|_| redirect(302, "/again"));
    let client = Client::builder().redirects(2).build().unwrap();
    let err = client
        .get(&url_with_password(&server, "/"))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects { .. }), "{err}");
    assert!(err.to_string().contains("user:***@127.0.0.1"), "{err}");
    assert_error_hidden(&err);
    // The password did go where it belongs: every hop is the same origin.
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let basic = format!("Basic {SECRET_BASE64}");
    assert!(seen
        .iter()
        .all(|r| r.header("authorization") == Some(&*basic)));
}

#[test]
fn invalid_url_does_not_show_the_password() {
    let client = Client::new();
    for url in [
        "ftp://user:s3cret@a.example/",
        "http://user:s3cret@a.example:0/",
        "http://user:s3cret@a.example:99999/",
        "http://user:s3cret@a.example/with space",
        "http://user:pa/s3cret@a.example/",
        "//user:s3cret@a.example/",
    ] {
        let err = client.get(url).call().unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err}");
        assert_error_hidden(&err);
        let err = client.warm_up(url).unwrap_err();
        assert_error_hidden(&err);
        let pending = client.get(url);
        assert_hidden("RequestBuilder Debug", &format!("{pending:?}"));
    }
}

#[test]
fn insecure_redirect_does_not_show_the_password() {
    let (pki, server) = pki_and_https(|_| redirect(302, "http://user:s3cret@127.0.0.1:1/"));
    let client = support::client_trusting(&pki);
    let url = server.url_with_host(&format!("user:{SECRET}@localhost"), "/");
    let err = client.get(&url).call().unwrap_err();
    assert!(matches!(err, Error::InsecureRedirect { .. }), "{err}");
    assert_error_hidden(&err);
}

#[test]
fn response_url_and_debug_output_do_not_show_the_password() {
    let server = Server::http(|r| match r.target.as_str() {
        "/a" => redirect(301, "/b"),
        _ => Reply::ok(b"ok"),
    });
    let proxy = Proxy::start(ProxyOptions::default());
    let builder = Client::builder().proxy(&format!("http://puser:{SECRET}@127.0.0.1:1"));
    assert_hidden("ClientBuilder Debug", &format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_hidden("Client Debug", &format!("{client:?}"));
    let pending = client.get(&url_with_password(&server, "/a"));
    assert_hidden("RequestBuilder Debug", &format!("{pending:?}"));

    let direct = Client::new();
    let resp = direct
        .get(&url_with_password(&server, "/a"))
        .call()
        .unwrap();
    assert_eq!(resp.url().path(), "/b");
    assert_eq!(
        resp.url().to_string(),
        format!("http://user:***@127.0.0.1:{}/b", server.port())
    );
    assert_hidden("Response::url", &resp.url().to_string());
    assert_hidden("Response Debug", &format!("{resp:?}"));
    drop(resp);

    // Through a proxy the request line names the whole URL: never its userinfo.
    let proxied = Client::builder().proxy(&proxy.url()).build().unwrap();
    let url = url_with_password(&server, "/b");
    assert_eq!(proxied.get(&url).call().unwrap().status(), 200);
    let seen = proxy.seen();
    assert_eq!(
        seen[0].target,
        format!("http://127.0.0.1:{}/b", server.port())
    );
}

#[test]
fn logs_do_not_show_the_password() {
    // Every record of this thread, where the client logs; not those of the tests
    // running next to it (one of them receives a password from its server).
    let logs = support::logs::capture();

    let server = Server::http(|r| match r.target.as_str() {
        "/a" => redirect(302, "/b"),
        "/loop" => redirect(302, "/loop"),
        _ => Reply::ok(b"ok"),
    });
    let (pki, https) = pki_and_https(|r| match r.target.as_str() {
        "/a" => redirect(302, "/b"),
        _ => Reply::ok(b"ok"),
    });
    let client = Client::builder()
        .tls(support::trust(&pki))
        .redirects(2)
        .build()
        .unwrap();
    let resp = client
        .get(&url_with_password(&server, "/a"))
        .call()
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "ok");
    let err = client
        .get(&url_with_password(&server, "/loop"))
        .call()
        .unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects { .. }), "{err}");

    let proxy = Proxy::start(ProxyOptions::with_credentials("puser", SECRET));
    let proxied = Client::builder()
        .tls(support::trust(&pki))
        .proxy(&proxy.url_with_credentials("puser", SECRET))
        .build()
        .unwrap();
    let resp = proxied
        .get(&url_with_password(&server, "/a"))
        .call()
        .unwrap();
    assert_eq!(resp.into_string().unwrap(), "ok");
    let https_url = https.url_with_host(&format!("user:{SECRET}@localhost"), "/a");
    let resp = proxied.get(&https_url).call().unwrap();
    assert_eq!(resp.into_string().unwrap(), "ok");
    assert_eq!(proxy.tunnels(), 1);

    let records = logs.records();
    assert!(
        records.iter().any(|r| r.contains("redirect")),
        "the logger saw the requests: {records:?}"
    );
    for record in records.iter() {
        assert_hidden("a log record", record);
        if record.contains(" tinyhttps") {
            assert!(!record.contains(SECRET_BASE64), "{record}");
        }
    }
}
