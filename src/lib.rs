//! A small blocking HTTPS/1.1 client for Linux devices on ARM Cortex-A cores.
//!
//! Firmware daemons call a few REST hosts all day. On a Cortex-A5 most of the CPU an
//! HTTPS client burns is TLS: building contexts, parsing root certificates, full
//! handshakes. tinyhttps keeps that work: TLS configs are cached per host, root
//! stores are parsed once, sessions resume, idle connections are reused, and each
//! request leaves in as few writes as it can.
//!
//! # In scope
//! - HTTP/1.1 (and 1.0 servers) over TCP or TLS 1.2/1.3 (rustls with ring; TLS 1.2
//!   is the default feature `tls12`: without it, TLS 1.3 only), on blocking std
//!   sockets, from one or many threads sharing one [`Client`].
//! - The [`http`] crate's types at the edge: send an [`http::Request`] with
//!   [`Client::run`], turn a [`Response`] into an `http::Response<Body>`.
//! - Pooled keep-alive connections, TLS session resumption, a bounded cache of TLS
//!   configs, per-host trust policies with client certificates (mTLS).
//! - A time limit on every phase, redirects, HTTP proxies (CONNECT for https),
//!   streaming bodies both ways, counters of what the work cost ([`Stats`]).
//!
//! # Out of scope
//! - HTTP/2 and HTTP/3; `async` (use a thread per concurrent request, or another
//!   crate).
//! - Cookies, caching, content decoding other than gzip (brotli, zstd, deflate),
//!   multipart forms: the body is bytes; set and read the headers yourself. JSON
//!   and gzip are optional features (below), off by default.
//! - SOCKS and https:// proxies, proxy auto-configuration.
//! - Switching certificate verification off: there is no such switch.
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tinyhttps::http::Request;
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
//! // The same with the `http` crate's request type.
//! let request = Request::get("https://device-api.example.com/v1/status")
//!     .header("Accept", "application/json")
//!     .body(())?;
//! let resp = client.run(request)?;
//! println!("{:?}", resp.connection()); // Reused: the connection of the first request
//! # drop(resp);
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
//! # A request's path
//! ```text
//! Client::get(url).header(..).call()     Client::run(http::Request)
//!            └──────────────┬──────────────────┘
//!                           ▼
//! run::run ── one hop at a time; Hop::Retry once on a fresh connection,
//!   │         Hop::Redirect up to the limit, Hop::Done(Response) to the caller
//!   ▼
//! pool::checkout(netloc, trust, proxy) ── a live idle connection? ──► reuse
//!   │ no
//!   ▼
//! connect: resolve (DNS, one budget) ─► TCP ─► [proxy CONNECT] ─► TLS handshake
//!          (config from the per-netloc LRU; session resumed when the policy has one)
//!   ▼
//! exchange: request head (+ small body) in one write ─► response head parsed
//!   ▼
//! Body (impl Read) ── read to its end ──► the connection goes back to the pool
//! ```
//! `client.rs` is the handle and its verbs, `config.rs` the builder and every
//! default, `run.rs` the loop, `pool.rs` the idle connections, `transport.rs` the
//! sockets and their time limits, `tls/` the trust policies, `exchange.rs` the
//! protocol (it drives ureq-proto for the request, reads the response with
//! `head.rs` and `framing.rs`, and knows no sockets), `response.rs` the body.
//!
//! # What it does
//! - HTTP/1.1 over TCP or TLS (rustls with ring), requests framed by `ureq-proto`,
//!   responses by this crate with the same rules: Content-Length, chunked (trailers
//!   skipped), close-delimited bodies, HEAD/204/304 without body, 1xx skipped,
//!   `Expect: 100-continue`.
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
//! - Firmware downloads ([`Client::download`]): resumable (`Range`/`If-Range`, also
//!   after a reboot), SHA-256-verified, atomic (`fsync`, rename), retried over a
//!   link that breaks, in one 16 KiB buffer whatever the size.
//!
//! # Security defaults
//! Certificates are verified by webpki against Mozilla's roots (webpki-roots) unless
//! [`TlsSettings`] says otherwise; there is no switch to accept invalid certificates.
//! Sessions resume only under the trust policy that made them. Certificates are
//! checked at the system clock, but never before a floor ([`DEFAULT_TIME_FLOOR`],
//! [`ClientBuilder::time_floor`]), so a board whose clock reads 1970 still verifies
//! certificates issued before the floor; one dated after the floor (or expired before
//! it) gets an error that says "clock". Public key pins ([`TlsSettings::pin_sha256`]) add to the
//! chain and name checks; client identities reload from their files
//! ([`TlsSettings::client_auth_pem_files`]); [`Client::certificate_expiry`] tells
//! when certificates lapse.
//!
//! # Logging
//! Through the `log` crate. `debug`: state changes — connect, handshake (full or
//! resumed, version, cipher suite), pool reuse and discard, TLS config build and
//! eviction, redirects, retries, early data taken or refused, failures. `trace`:
//! each request line. Nothing at
//! `info`; `warn` only when a changed client identity file cannot be used (the last
//! good identity stays in use, see [`TlsSettings::client_auth_pem_files`]).
//! tinyhttps never logs header values or bodies, and shows URLs
//! with the password of a `user:password@` part as `***` (in errors and `Debug`
//! too). Note that its dependency ureq-proto hex-dumps the bytes it writes at
//! `trace` under the `ureq_proto` target: request headers such as `Authorization`
//! and `Proxy-Authorization` (base64, not encryption). Keep that target below
//! `trace` where requests carry secrets.
//!
//! A firmware build can remove those calls altogether: `log`'s
//! `release_max_level_*` features set the highest level compiled into release
//! builds, for every crate of the program. With this in the firmware's `Cargo.toml`
//! the `debug!` and `trace!` calls of tinyhttps (and of ureq-proto and rustls) are
//! compiled out of release builds: no code, no formatting, no level check:
//! ```toml
//! log = { version = "0.4", features = ["release_max_level_warn"] }
//! ```
//!
//! # Memory
//! An idle pooled TLS connection holds about 44 KiB of heap (rustls' buffers plus an
//! 8 KiB receive buffer); the request head is assembled in a 4 KiB send buffer each
//! thread that sends keeps for its lifetime (a head over 4 KiB, in a heap buffer for
//! that request, up to [`ClientBuilder::max_request_head_size`]). Pool, TLS config cache and session
//! stores are bounded, whatever the number of hosts.
//!
//! # Features
//! - `webpki-roots` (default): Mozilla's roots compiled in as the default trust
//!   store; without it the default is the system store (`SSL_CERT_FILE`,
//!   `SSL_CERT_DIR`, the usual bundle paths).
//! - `json` (off): `RequestBuilder::send_json` (any `serde::Serialize`, with
//!   `Content-Type: application/json` unless set) and `Response::into_json` (any
//!   `DeserializeOwned`, read within the client's body limit; a body that is not
//!   the JSON expected is `Error::Json`, naming the host, line and column). Adds
//!   serde and serde_json; the code is generic, so a program pays only for what it
//!   serializes (nothing in `examples/fetch`).
//! - `gzip` (off): requests send `Accept-Encoding: gzip` unless they set
//!   `Accept-Encoding` (or `Range`) themselves, and a `Content-Encoding: gzip` body
//!   is inflated as it streams through [`Body`]'s `Read` (pure Rust: miniz_oxide).
//!   Decoded bytes count against the client's
//!   [`body_limit`](ClientBuilder::body_limit) in every way of reading, the stream
//!   from [`Response::into_reader`] included (or against the limit given to
//!   `into_string_limited`/`into_vec_limited`): a decompression bomb is
//!   [`Error::BodyTooLarge`], never unbounded output; raise the limit to stream a
//!   larger gzip body. A corrupt, truncated or wrongly checksummed stream is
//!   [`Error::Protocol`], never a short body. A decoded response has no
//!   `Content-Encoding` nor `Content-Length` header (they described the encoded
//!   bytes; [`Response::raw_head`] still shows them). An empty body reads as empty.
//!   Memory: about 47 KiB (the 32 KiB window, the inflater's tables, a 4 KiB input
//!   buffer) while a gzip body is read, freed at its end; nothing otherwise.
//!   Downloads ([`Client::download`]) ask for `identity`: the file as stored.
//!   Adds about 35 KB to an armv7 binary (README: Features).

#![forbid(unsafe_code)]
// No panic reachable from what a server sends or a caller gives: each `allow` of
// these names the invariant that holds. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
extern crate log;

mod client;
mod config;
mod connect;
mod deadline;
mod download;
mod early;
mod error;
mod exchange;
mod framing;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
#[cfg(feature = "gzip")]
mod gzip;
mod head;
#[cfg(feature = "json")]
mod json;
mod netloc;
mod no_proxy;
mod pool;
mod proxy;
mod redirect;
mod request;
mod resolve;
mod response;
mod retry;
mod run;
mod stats;
mod sync;
mod timings;
mod tls;
mod transport;

pub use client::Client;
pub use config::{
    ClientBuilder, DEFAULT_BODY_LIMIT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE,
    DEFAULT_MAX_IDLE_PER_HOST, DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_REQUEST_HEAD,
    DEFAULT_MAX_RESPONSE_HEAD, DEFAULT_TIMEOUT_CONNECT, DEFAULT_TIMEOUT_HANDSHAKE,
    DEFAULT_TIMEOUT_OVERALL, DEFAULT_TIMEOUT_READ, DEFAULT_TIMEOUT_REUSED_FIRST_BYTE,
    DEFAULT_TIMEOUT_WRITE, DEFAULT_TLS_CACHE_SIZE,
};
pub use download::{
    Download, DownloadReport, DEFAULT_DOWNLOAD_ATTEMPTS, DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_RETRY_PAUSE,
};
pub use error::{Error, Framing, Phase, Result};
pub use http;
pub use http::{HeaderMap, Method, StatusCode, Uri, Version};
pub use request::{RequestBuilder, SendBody};
pub use resolve::Resolve;
pub use response::{Body, Response};
pub use retry::{
    RetryPolicy, DEFAULT_MAX_RETRY_AFTER, DEFAULT_RETRY_BACKOFF, DEFAULT_RETRY_MAX_BACKOFF,
};
pub use stats::Stats;
pub use timings::Timings;
pub use tls::{
    CertificateExpiry, Cipher, IdentityExpiry, ServerExpiry, TlsSettings, TlsVersion,
    DEFAULT_SESSION_CACHE_SIZE, DEFAULT_TIME_FLOOR, TRUST_RECHECK_INTERVAL,
};
pub use transport::ConnectionKind;
