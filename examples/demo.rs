//! tinyhttps in a nutshell: `cargo run --example demo`.
//!
//! Starts an HTTPS server on 127.0.0.1 in this process, with a test CA and a
//! certificate for "localhost" made at start-up, then sends it a series of requests
//! with ONE client that trusts only that CA. For each request it prints the status,
//! the body size, the time taken and what the connection cost: a new connection with
//! a full TLS handshake, a new one that resumed the TLS session, or a pooled
//! connection reused. That last column comes from the client's own counters
//! ([`tinyhttps::Client::stats`]) read before and after each request.
//!
//! No network beyond loopback, no files, no setup.

// The scriptable server of the integration tests (rustls on std threads); the demo
// uses a small part of it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use support::{Pki, Reply, Request, Server, TlsOptions, SERVER_NAMES};
use tinyhttps::http::{self, header::CONTENT_TYPE};
use tinyhttps::{Client, Method, Stats, TlsSettings};

/// The requests of the demo: method, path, body.
const SERIES: &[(Method, &str, Option<&str>)] = &[
    (Method::GET, "/hello", None),
    (Method::GET, "/hello", None),
    (
        Method::POST,
        "/echo",
        Some(r#"{"sensor":"t1","celsius":21.5}"#),
    ),
    (Method::GET, "/bye", None),
    (Method::GET, "/hello", None),
    (Method::GET, "/stream", None),
    (Method::GET, "/old", None),
    (Method::GET, "/missing", None),
];

/// The server's side: one answer per path.
fn answer(request: &Request) -> Reply {
    const TEXT: (&str, &str) = ("content-type", "text/plain");
    const JSON: (&str, &str) = ("content-type", "application/json");
    match (request.method.as_str(), request.target.as_str()) {
        ("GET", "/hello") => Reply::status(200, &[TEXT], b"hello from the demo server\n"),
        ("POST", "/echo") => {
            let echo = format!("{{\"received_bytes\":{}}}", request.body.len());
            Reply::status(200, &[JSON], echo.as_bytes())
        }
        // Answers, then closes: the next request needs a new connection.
        ("GET", "/bye") => {
            Reply::status(200, &[TEXT, ("connection", "close")], b"goodbye\n").then_close()
        }
        ("GET", "/stream") => Reply::chunked(
            200,
            &[b"chunk one\n", b"chunk two\n", b"chunk three\n"],
            &[],
        ),
        ("GET", "/old") => Reply::status(301, &[("location", "/hello")], b""),
        _ => Reply::status(404, &[TEXT], b"no such page\n"),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let pki = Pki::new("tinyhttps demo CA");
    let server = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), answer);
    let port = server.port();

    let client = Client::builder()
        // Trust only the demo CA: the first root source replaces webpki-roots.
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        // "localhost" is 127.0.0.1 here, whatever /etc/hosts says about ::1.
        .resolve("localhost", port, IpAddr::V4(Ipv4Addr::LOCALHOST))
        .build()?;

    println!(
        "HTTPS server on {} (certificate from a CA made just now)\n",
        server.url("/")
    );
    println!(
        "{:>2}  {:<6} {:<16} {:>6} {:>6} {:>7}  connection",
        "#", "method", "path", "status", "bytes", "ms"
    );
    for (n, (method, path, body)) in SERIES.iter().enumerate() {
        let url = server.url(path);
        let before = client.stats();
        let clock = Instant::now();
        // Built with the `http` crate's request type, sent with Client::run
        // (client.request(method, &url).send_string(json) is the same request).
        let request = http::Request::builder().method(method.clone()).uri(&url);
        let response = match body {
            Some(json) => client.run(
                request
                    .header(CONTENT_TYPE, "application/json")
                    .body(*json)?,
            )?,
            None => client.run(request.body(())?)?,
        };
        let status = response.status().as_u16();
        let closes = response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let redirected_to = Some(response.url().path()).filter(|p| p != path);
        let shown_path = match redirected_to {
            Some(to) => format!("{path} -> {to}"),
            None => path.to_string(),
        };
        // Streamed to its end: that is also what gives the connection back to the pool.
        let bytes = std::io::copy(&mut response.into_reader(), &mut std::io::sink())?;
        let ms = clock.elapsed().as_secs_f64() * 1000.0;
        let mut note = connection_note(&before, &client.stats());
        if chunked {
            note.push_str("; chunked body");
        }
        if closes {
            note.push_str("; server says Connection: close");
        }
        println!(
            "{:>2}  {:<6} {:<16} {:>6} {:>6} {:>7.2}  {note}",
            n + 1,
            method.as_str(),
            shown_path,
            status,
            bytes,
            ms
        );
    }

    println!("\nclient.stats():");
    for (name, value) in client.stats().fields() {
        println!("  {name}: {value}");
    }
    println!(
        "server saw: {} connections, {} full and {} resumed TLS handshakes, {} requests",
        server.connections(),
        server.handshakes_full(),
        server.handshakes_resumed(),
        server.requests().len()
    );

    // Closing the client's idle connections first lets the server stop at once.
    drop(client);
    server.stop();
    println!("done in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}

/// What one request cost in connections, from the counters before and after it.
fn connection_note(before: &Stats, after: &Stats) -> String {
    let count = |n: u64, what: &str| match n {
        0 => None,
        1 => Some(what.to_string()),
        n => Some(format!("{what} (x{n})")),
    };
    let notes: Vec<String> = [
        count(
            after.handshakes_full - before.handshakes_full,
            "new connection, full TLS handshake",
        ),
        count(
            after.handshakes_resumed - before.handshakes_resumed,
            "new connection, TLS session resumed",
        ),
        count(
            after.pool_reuses - before.pool_reuses,
            "reused pooled connection",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if notes.is_empty() {
        "-".to_string()
    } else {
        notes.join(" + ")
    }
}
