//! The integration tests: one binary, one module per subject, so the test support
//! (`support/`: servers, proxy, PKI) compiles once. On armv7 that compile was most of
//! the test build when every file of `tests/` was a binary of its own.
//!
//! All tests share one process and run on parallel threads, so nothing here may
//! change process-wide state that another test reads:
//! - the heap is counted per [`support::alloc::Meter`], only on the threads that
//!   opted in (the global allocator below counts for them);
//! - a test that needs its own environment variables runs alone in a child process
//!   ([`support::child::run_isolated`]); one that must be killed half-way or run
//!   under a file size limit is a child process too ([`support::child::spawn_test`]);
//! - log records are captured per thread ([`support::logs::capture`]);
//! - signal handlers: SIGUSR1 only, sent to one thread by `signals`.
//!
//! Run one module with `cargo test --test it -- pool::`, the soak with
//! `bash ci/soak.sh`.

mod support;

mod close_idle;
mod download;
mod early;
mod features;
mod framing;
mod hostile;
mod http_api;
mod limits;
mod links;
mod memory;
mod pool;
mod proxy;
mod proxy_env;
mod redirects;
mod requests;
mod secrets;
mod signals;
mod soak;
mod support_proxy_selftest;
mod support_selftest;
// The default trust store is the system's only without the `webpki-roots` feature.
#[cfg(not(feature = "webpki-roots"))]
mod system_store;
mod timeouts;
mod tls;
mod trust;

/// The process's allocator: the system's, counting for [`support::alloc::Meter`]s.
#[global_allocator]
static ALLOCATOR: support::alloc::Counting = support::alloc::Counting;
