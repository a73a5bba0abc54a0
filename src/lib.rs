//! A small blocking HTTPS/1.1 client for Linux devices on ARM Cortex-A cores.
//!
//! Firmware daemons call a few REST hosts all day. On a Cortex-A5 most of the CPU an
//! HTTPS client burns is TLS: building contexts, parsing root certificates, full
//! handshakes. tinyhttps keeps that work: TLS configs are cached per host, root
//! stores are parsed once, sessions resume, idle connections are reused, and each
//! request leaves in as few writes as it can.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let client = tinyhttps::Client::builder()
//!     .timeout(Duration::from_secs(20))
//!     .build()?;
//! let resp = client
//!     .get("https://device-api.example.com/v1/status")
//!     .header("Accept", "application/json")
//!     .call()?;
//! println!("{} {}", resp.status(), resp.into_string()?);
//!
//! // Streaming both ways: nothing is buffered whole.
//! let firmware = std::fs::File::open("/tmp/upload.bin")?;
//! client.put("https://device-api.example.com/v1/blob").send_reader(firmware)?;
//! let mut download = client.get("https://device-api.example.com/v1/fw").call()?.into_reader();
//! std::io::copy(&mut download, &mut std::fs::File::create("/tmp/fw.bin")?)?;
//! println!("{:?}", client.stats());
//! # Ok(()) }
//! ```
//!
//! # What it does
//! - HTTP/1.1 over TCP or TLS (rustls with ring), framing by `ureq-proto`:
//!   Content-Length, chunked (trailers skipped), close-delimited bodies, HEAD/204/304
//!   without body, 1xx skipped, `Expect: 100-continue`.
//! - Every phase has a time limit, on by default: connect (DNS + TCP), TLS handshake,
//!   each read, each write, and an overall deadline. See [`Error::Timeout`].
//! - Redirects are followed (10 by default); https → http is refused; `Host` and
//!   credentials (`Authorization`, `Cookie`, `Proxy-Authorization`) you set are
//!   dropped when the scheme, host or port changes ([`ClientBuilder::redirects`]).
//! - HTTP proxies ([`ClientBuilder::proxy`], [`ClientBuilder::proxy_from_env`]):
//!   https through a CONNECT tunnel with TLS end to end, http in absolute form.
//!   Names resolve through fixed entries ([`ClientBuilder::resolve`]), your own
//!   [`Resolve`], or the system's resolver bounded by the connect time limit.
//! - A body shorter than its framing promised is an error ([`Error::Truncated`]),
//!   never a short success; that includes a close-delimited body whose TLS stream
//!   ended without `close_notify`.
//!
//! # Security defaults
//! Certificates are verified by webpki against Mozilla's roots (webpki-roots) unless
//! [`TlsSettings`] says otherwise; there is no switch to accept invalid certificates.
//! Sessions resume only under the trust policy that made them. Certificates are
//! checked at the system clock, but never before a floor ([`DEFAULT_TIME_FLOOR`],
//! [`ClientBuilder::time_floor`]): a board whose clock reads 1970 gets an error
//! that says "clock". Public key pins ([`TlsSettings::pin_sha256`]) add to the
//! chain and name checks; client identities reload from their files
//! ([`TlsSettings::client_auth_pem_files`]); [`Client::certificate_expiry`] tells
//! when certificates lapse.
//!
//! # Logging
//! Through the `log` crate. `debug`: state changes — connect, handshake (full or
//! resumed, version, cipher suite), pool reuse and discard, TLS config build and
//! eviction, redirects, retries, failures. `trace`: each request line. Nothing at
//! `info`; `warn` only when a changed client identity file cannot be used (the last
//! good identity stays in use, see [`TlsSettings::client_auth_pem_files`]).
//! tinyhttps never logs header values or bodies, and shows URLs
//! with the password of a `user:password@` part as `***` (in errors and `Debug`
//! too). Note that its dependency ureq-proto hex-dumps the bytes it writes and
//! reads at `trace` under the `ureq_proto` target: request headers such as
//! `Authorization` and `Proxy-Authorization` (base64, not encryption) and response
//! headers such as `Set-Cookie`. Keep that target below `trace` where requests or
//! responses carry secrets.
//!
//! # Memory
//! An idle pooled TLS connection holds about 44 KiB of heap (rustls' buffers plus an
//! 8 KiB receive buffer); the request head is assembled on the stack (a head over
//! 4 KiB, on the heap for that request, up to
//! [`ClientBuilder::max_request_head_size`]). Pool, TLS config cache and session
//! stores are bounded, whatever the number of hosts.
//!
//! # Features
//! `webpki-roots` (default): Mozilla's roots compiled in as the default trust store;
//! without it the default is the system store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the
//! usual bundle paths).

#![forbid(unsafe_code)]

#[macro_use]
extern crate log;

mod client;
mod deadline;
mod error;
mod exchange;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
mod netloc;
mod no_proxy;
mod pool;
mod proxy;
mod redirect;
mod request;
mod resolve;
mod response;
mod stats;
mod tls;
mod transport;

pub use client::{Client, ClientBuilder};
pub use deadline::{
    DEFAULT_TIMEOUT_CONNECT, DEFAULT_TIMEOUT_HANDSHAKE, DEFAULT_TIMEOUT_OVERALL,
    DEFAULT_TIMEOUT_READ, DEFAULT_TIMEOUT_WRITE,
};
pub use error::{Error, Framing, Phase, Result};
pub use exchange::{DEFAULT_MAX_REQUEST_HEAD, DEFAULT_MAX_RESPONSE_HEAD};
pub use http::{HeaderMap, Method, StatusCode, Uri, Version};
pub use pool::{ConnectionKind, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE, DEFAULT_MAX_IDLE_PER_HOST};
pub use redirect::DEFAULT_MAX_REDIRECTS;
pub use request::RequestBuilder;
pub use resolve::Resolve;
pub use response::{Body, Response, DEFAULT_BODY_LIMIT};
pub use stats::Stats;
pub use tls::{
    CertificateExpiry, Cipher, IdentityExpiry, ServerExpiry, TlsSettings, TlsVersion,
    DEFAULT_SESSION_CACHE_SIZE, DEFAULT_TIME_FLOOR, DEFAULT_TLS_CACHE_SIZE, TRUST_RECHECK_INTERVAL,
};
