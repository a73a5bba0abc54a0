//! The default trust store of a build without the `webpki-roots` feature is the
//! system's. `cargo test --no-default-features` runs these (CI does, on the host).
//!
//! The store is found through the environment (`SSL_CERT_FILE`), which a test must not
//! change in a process whose other threads read it: each case runs this test binary
//! again as a child process with its own environment, and the child makes the request
//! with `Client::new()`, the defaults and nothing else.
#![cfg(not(feature = "webpki-roots"))]

mod support;

use std::process::Command;

use support::{pki_and_https, Pki, Reply};

/// Set in the child: the URL to fetch with the default client.
const CHILD_URL: &str = "TINYHTTPS_TEST_CHILD_URL";

/// In the child: fetches the URL with `Client::new()` and prints the outcome; in the
/// parent (no URL set): does nothing, the cases below drive it.
#[test]
fn child_fetch_with_the_defaults() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    match tinyhttps::Client::new().get(&url).call() {
        Ok(resp) => println!("CHILD-OK {}", resp.status().as_u16()),
        Err(e) => println!("CHILD-ERR {e}"),
    }
}

/// Runs [`child_fetch_with_the_defaults`] in a child process with `SSL_CERT_FILE` set
/// to `cert_file`, and returns what it printed.
fn run_child(url: &str, cert_file: &std::path::Path) -> String {
    let out = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "child_fetch_with_the_defaults", "--nocapture"])
        .env(CHILD_URL, url)
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("child test process runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed: {stdout}");
    stdout
        .lines()
        .find(|l| l.starts_with("CHILD-"))
        .unwrap_or_else(|| panic!("child printed no outcome: {stdout}"))
        .to_string()
}

fn write_ca(pki: &Pki, name: &str) -> std::path::PathBuf {
    let dir = support::temp_dir(name);
    let path = dir.join("ca.pem");
    std::fs::write(&path, &pki.ca_pem).expect("write CA file");
    path
}

#[test]
fn default_client_trusts_the_system_store_named_by_ssl_cert_file() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"hello"));
    let ca = write_ca(&pki, "system-store-trusted");
    let line = run_child(&server.url("/"), &ca);
    let _ = std::fs::remove_dir_all(ca.parent().expect("temp dir"));
    assert_eq!(line, "CHILD-OK 200");
}

#[test]
fn default_client_refuses_a_server_the_system_store_does_not_trust() {
    let (_pki, server) = pki_and_https(|_| Reply::ok(b"hello"));
    let other = Pki::new("another CA");
    let ca = write_ca(&other, "system-store-other");
    let line = run_child(&server.url("/"), &ca);
    let _ = std::fs::remove_dir_all(ca.parent().expect("temp dir"));
    assert!(
        line.starts_with("CHILD-ERR") && line.contains("certificate"),
        "{line}"
    );
}
