//! Test support shared by the integration tests (`mod support;`):
//!
//! - [`pki`]: a CA and certificates made at test time with rcgen;
//! - [`server`]: a scriptable in-process HTTP/1.1 server, plain or TLS,
//!   that records requests and counts connections and TLS handshakes;
//! - [`message`]: what that server records ([`Request`]) and how it is told
//!   to answer ([`Reply`], made of [`Step`]s).
//!
//! The most used names are re-exported here.

pub mod alloc;
pub mod child;
pub mod logs;
pub mod message;
pub mod pki;
pub mod proxy;
pub mod ranged;
pub mod raw;
pub mod server;
mod service;
mod wire;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use message::{head_end, read_head, read_message, read_until_end};
pub use pki::{temp_dir, Identity, Pki};
pub use proxy::{basic_auth, Proxy, ProxyOptions};
pub use server::{EarlyData, Options, Reply, Request, Server, Step, TlsOptions};

/// Server names in the default server certificate.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// A new CA ("tinyhttps test CA") and an HTTPS server presenting a
/// certificate from it for "localhost" and 127.0.0.1.
pub fn pki_and_https(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> (Pki, Server) {
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(TlsOptions::new(pki.server(SERVER_NAMES)), handler);
    (pki, server)
}

/// TLS settings that trust only this test CA.
pub fn trust(pki: &Pki) -> tinyhttps::TlsSettings {
    tinyhttps::TlsSettings::new().root_pem(pki.ca_pem.as_bytes())
}

/// A client with the defaults, but trusting only this test CA.
pub fn client_trusting(pki: &Pki) -> tinyhttps::Client {
    tinyhttps::Client::builder()
        .tls(trust(pki))
        .build()
        .expect("valid settings")
}

/// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
/// For server-side effects that trail what the client sees, like a failed
/// handshake being counted.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Locks `m`, also after a panic of another holder (a test that failed).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
