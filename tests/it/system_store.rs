//! The default trust store of a build without the `webpki-roots` feature is the
//! system's. `cargo test --no-default-features` runs these (CI does, on the host).
//!
//! The store is found through the environment (`SSL_CERT_FILE`), which a test must not
//! change in a process whose other threads read it: each case runs alone in a child
//! process, sets the variable there, and makes the request with `Client::new()`, the
//! defaults and nothing else.

use crate::support;

use support::{pki_and_https, Pki, Reply};

/// Fetches `/` from an HTTPS server with a certificate of a new test CA, with
/// `Client::new()` and `SSL_CERT_FILE` naming a file with the certificate of `trusted`
/// (that same CA when None). Call it in a child process only.
fn fetch_with_the_system_store(trusted: Option<&Pki>) -> Result<u16, tinyhttps::Error> {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"hello"));
    let dir = support::temp_dir("system-store");
    let ca = trusted.unwrap_or(&pki).write_ca_pem(&dir);
    std::env::set_var("SSL_CERT_FILE", &ca);
    std::env::remove_var("SSL_CERT_DIR");
    let result = tinyhttps::Client::new().get(&server.url("/")).call();
    let _ = std::fs::remove_dir_all(dir);
    result.map(|resp| resp.status().as_u16())
}

#[test]
fn default_client_trusts_the_system_store_named_by_ssl_cert_file() {
    if support::child::run_isolated() {
        return;
    }
    assert_eq!(fetch_with_the_system_store(None).unwrap(), 200);
}

#[test]
fn default_client_refuses_a_server_the_system_store_does_not_trust() {
    if support::child::run_isolated() {
        return;
    }
    let other = Pki::new("another CA");
    let err = fetch_with_the_system_store(Some(&other)).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}
