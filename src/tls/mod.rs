//! TLS trust policies and the per-netloc cache of `Arc<rustls::ClientConfig>`.
//!
//! A *policy* is what a [`TlsSettings`] says: which roots to trust, which client
//! certificate to show, ALPN, versions and cipher order. Each policy owns, built once:
//! the certificate verifier, the client-certificate resolver and the session store.
//! rustls resumes a session only under a config with the very same verifier and
//! resolver `Arc`s, so configs of one policy resume each other's sessions, and a
//! session earned under one policy is never offered under another.
//!
//! A policy's trust can change under it: its root files and client identity files
//! are re-checked by stamp at most every [`TRUST_RECHECK_INTERVAL`] (and whenever a
//! config is built), and a change resets the policy: new generation, no state, no
//! sessions, no cached configs; the client drops its idle connections, and one
//! still in use when the change is seen is never handed out again (its pool key
//! names the old generation).
//!
//! [`TlsConfigs`] maps a netloc to its config in a small LRU; a miss builds a config
//! from the policy (~5-10 K instructions on armv7 — what the cache really saves is
//! the work the policy keeps: parsed roots and resumable sessions).
//!
//! Certificates are checked at the client's [`clock`] (the system clock, never
//! before a floor), by [`verify`] (webpki, then pins); [`identity`] loads client
//! identities, [`expiry`] reports when certificates lapse, [`x509`] reads their
//! dates.

mod clock;
mod expiry;
mod identity;
mod pin;
mod roots;
mod verify;
pub(crate) mod x509;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use rustls::client::{ClientSessionMemoryCache, Resumption, VerifierBuilderError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{CipherSuite, ClientConfig};

use crate::deadline::Throttle;
use crate::error::{Error, Result};
use crate::netloc::{self, Netloc};
use crate::stats::Counters;
use crate::sync::lock;
pub use clock::DEFAULT_TIME_FLOOR;
pub(crate) use clock::{days_from_civil, Clock};
use expiry::ServerLeaves;
pub use expiry::{CertificateExpiry, IdentityExpiry, ServerExpiry};
pub(crate) use identity::Identity;
use identity::{IdentitySource, KeySource};
use pin::Pin;
use roots::{RootSource, RootStores};
use verify::Verifier;

/// How often, at most, the root certificate files of a client's trust policies are
/// checked for changes (size and modification time, one `stat` per file). A change
/// drops everything made under the old trust: that policy's cached configs, its
/// sessions and its idle connections. A replaced file is thus in force from the
/// first request that starts this long after the change; one second keeps the
/// check off the per-request cost of a keep-alive loop.
pub const TRUST_RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Session stores a policy keeps, one per port, least recently used out first.
/// A device talks to a few ports; a server that sends it across ports (redirects)
/// must not grow memory: each store preallocates room for its tickets (~15 KiB at
/// the default size). A port whose store was evicted does its next handshake in
/// full.
const SESSION_STORES_PER_POLICY: NonZeroUsize = NonZeroUsize::new(16).expect("not zero");

/// Default capacity of a session store, in tickets. A policy has one store per port.
/// rustls keeps up to 8 TLS 1.3 tickets per server, so a store holds sessions for
/// about `size / 8` servers: 256 covers the 32 hosts a device may talk to on a port.
pub const DEFAULT_SESSION_CACHE_SIZE: usize = 256;

/// The trust store when none is named: the compiled-in webpki-roots, or the system
/// store when the crate is built without its `webpki-roots` feature.
#[cfg(feature = "webpki-roots")]
const DEFAULT_ROOTS: &[RootSource] = &[RootSource::Webpki];
#[cfg(not(feature = "webpki-roots"))]
const DEFAULT_ROOTS: &[RootSource] = &[RootSource::System];

/// A bulk cipher, for [`TlsSettings::cipher_preference`].
///
/// ```
/// use tinyhttps::{Cipher, TlsSettings};
/// // ChaCha20 only: the cheapest on a core without AES instructions.
/// let settings = TlsSettings::new().cipher_preference(&[Cipher::ChaCha20Poly1305]);
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cipher {
    /// ChaCha20-Poly1305: the fastest on CPUs without AES instructions (32-bit ARM).
    ChaCha20Poly1305,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
}

/// The default order: on 32-bit ARM, where ring has no hardware AES, ChaCha20 costs
/// ~25 instructions a byte against ~54 for AES-128-GCM; elsewhere AES comes first.
#[cfg(target_arch = "arm")]
const DEFAULT_CIPHERS: [Cipher; 3] = [
    Cipher::ChaCha20Poly1305,
    Cipher::Aes128Gcm,
    Cipher::Aes256Gcm,
];
#[cfg(not(target_arch = "arm"))]
const DEFAULT_CIPHERS: [Cipher; 3] = [
    Cipher::Aes128Gcm,
    Cipher::Aes256Gcm,
    Cipher::ChaCha20Poly1305,
];

/// A TLS protocol version, for [`TlsSettings::min_version`]. TLS 1.2 is offered
/// only when the crate is built with its `tls12` feature (on by default).
///
/// ```
/// use tinyhttps::{TlsSettings, TlsVersion};
/// let settings = TlsSettings::new().min_version(TlsVersion::Tls13);
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// How to do TLS with some hosts: trusted roots, public key pins, client
/// certificate, ALPN, versions, cipher order, session resumption. Used for all
/// hosts with [`ClientBuilder::tls`](crate::ClientBuilder::tls) or for some with
/// [`ClientBuilder::tls_for`](crate::ClientBuilder::tls_for).
///
/// ```
/// use tinyhttps::{TlsSettings, TlsVersion};
/// let settings = TlsSettings::new()
///     .root_pem_file("/etc/device/backend-ca.pem")
///     .min_version(TlsVersion::Tls13)
///     .alpn(&["http/1.1"]);
/// # let _ = settings;
/// ```
#[derive(Clone)]
pub struct TlsSettings {
    roots: Vec<RootSource>,
    pins: Vec<Pin>,
    pin_error: Option<Arc<str>>,
    identity: Option<IdentitySource>,
    client_auth_error: Option<Arc<str>>,
    alpn: Vec<Vec<u8>>,
    min_version: TlsVersion,
    ciphers: Vec<Cipher>,
    session_cache_size: usize,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the key.
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots)
            .field("pins", &self.pins)
            .field("client_auth", &self.identity)
            .field("alpn", &self.alpn)
            .field("min_version", &self.min_version)
            .field("ciphers", &self.ciphers)
            .field("session_cache_size", &self.session_cache_size)
            .finish()
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings::new()
    }
}

impl TlsSettings {
    /// Trust webpki-roots (Mozilla's set; the system store if the crate is built
    /// without its `webpki-roots` feature), TLS 1.2 (with the `tls12` feature, on
    /// by default) and 1.3, the platform's cipher order, session resumption on.
    pub fn new() -> TlsSettings {
        TlsSettings {
            roots: Vec::new(),
            pins: Vec::new(),
            pin_error: None,
            identity: None,
            client_auth_error: None,
            alpn: Vec::new(),
            min_version: TlsVersion::Tls12,
            ciphers: DEFAULT_CIPHERS.to_vec(),
            session_cache_size: DEFAULT_SESSION_CACHE_SIZE,
        }
    }

    /// Trusts the roots in a PEM file. The first root source given replaces the
    /// default webpki-roots; further ones add to it.
    pub fn root_pem_file(self, path: impl Into<PathBuf>) -> Self {
        self.add_roots(RootSource::PemFile(path.into()))
    }

    /// Trusts the roots in every `*.pem` and `*.crt` file of a directory.
    pub fn root_pem_dir(self, path: impl Into<PathBuf>) -> Self {
        self.add_roots(RootSource::PemDir(path.into()))
    }

    /// Trusts the roots in PEM text.
    pub fn root_pem(self, pem: &[u8]) -> Self {
        self.add_roots(RootSource::PemBytes(Arc::from(pem)))
    }

    /// Trusts the webpki-roots set (useful together with another source).
    #[cfg(feature = "webpki-roots")]
    pub fn webpki_roots(self) -> Self {
        self.add_roots(RootSource::Webpki)
    }

    /// Trusts the system store: `SSL_CERT_FILE`, else the files of `SSL_CERT_DIR`,
    /// else the first of the usual bundle paths
    /// (`/etc/ssl/certs/ca-certificates.crt`, ...).
    pub fn system_roots(self) -> Self {
        self.add_roots(RootSource::System)
    }

    fn add_roots(mut self, source: RootSource) -> Self {
        if !self.roots.contains(&source) {
            self.roots.push(source);
        }
        self
    }

    /// Shows this certificate chain (PEM, leaf first) and private key (PEM: PKCS#8,
    /// PKCS#1 or SEC1) to servers that ask: the device's identity for mTLS. A bad
    /// chain or key is reported by [`ClientBuilder::build`](crate::ClientBuilder::build).
    pub fn client_auth_pem(mut self, chain_pem: &[u8], key_pem: &[u8]) -> Self {
        let chain: std::result::Result<Vec<_>, _> =
            CertificateDer::pem_slice_iter(chain_pem).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem);
        match (chain, key) {
            (Ok(chain), Ok(key)) if !chain.is_empty() => return self.client_auth(chain, key),
            (Ok(_), Ok(_)) => self.client_auth_error = Some("no certificate in chain".into()),
            (Err(e), _) => self.client_auth_error = Some(format!("chain: {e}").into()),
            (_, Err(e)) => self.client_auth_error = Some(format!("key: {e}").into()),
        }
        self
    }

    /// Like [`client_auth_pem`](Self::client_auth_pem), from DER.
    pub fn client_auth(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        let provider = rustls::crypto::ring::default_provider();
        match CertifiedKey::from_der(chain, key, &provider) {
            Ok(k) => {
                self.identity = Some(IdentitySource::Fixed(Arc::new(k)));
                self.client_auth_error = None;
            }
            Err(e) => self.client_auth_error = Some(e.to_string().into()),
        }
        self
    }

    /// Shows the certificate chain in the PEM file `cert` (leaf first) and the
    /// private key in the PEM file `key` (PKCS#8, PKCS#1 or SEC1) to servers that
    /// ask, reading both again when they change: a device renewing a short-lived
    /// certificate just writes the new files (best: write each to a temporary name
    /// and rename it over the old one, key first).
    ///
    /// The files are read when first needed (a missing or bad file then fails that
    /// request with [`Error::Config`] naming it), and checked for changes with the
    /// root files, at most every [`TRUST_RECHECK_INTERVAL`] (size, mtime, inode).
    /// A change that loads — the key must be the certificate's — drops this
    /// policy's sessions, cached configs and idle connections. A change that does
    /// not (a half-written file, a certificate whose key is not there yet) keeps the
    /// last good identity: it is logged at `warn` once per change, and a TLS error
    /// of this policy (a server refusing the old certificate) says so, until the
    /// files change again.
    pub fn client_auth_pem_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.identity = Some(IdentitySource::Files {
            cert: cert.into(),
            key: KeySource::PemFile(key.into()),
        });
        self.client_auth_error = None;
        self
    }

    /// Like [`client_auth_pem_files`](Self::client_auth_pem_files), with the
    /// private key held in hardware (a TPM, a secure element, PKCS#11) behind your
    /// own [`SigningKey`]: rustls asks it for one signature per full handshake.
    /// The certificate chain comes from the PEM file `cert`, read again when it
    /// changes (the key stays, its certificate is renewed). A certificate for
    /// another key is refused as a bad change is, when the signer tells its public
    /// key ([`SigningKey::public_key`]).
    pub fn client_auth_signing_key(
        mut self,
        cert: impl Into<PathBuf>,
        key: Arc<dyn SigningKey>,
    ) -> Self {
        self.identity = Some(IdentitySource::Files {
            cert: cert.into(),
            key: KeySource::Signer(key),
        });
        self.client_auth_error = None;
        self
    }

    /// Accepts a server only if its certificate's public key is one of these:
    /// each pin is the SHA-256 of a SubjectPublicKeyInfo in base64, as curl's
    /// `--pinnedpubkey` writes it (`sha256//BASE64`) or bare (`BASE64`). Give the
    /// current key and a backup key (one not yet in use, kept offline), so that a
    /// key change does not cut the devices off.
    ///
    /// Pins are checked *in addition to* the chain and the name, never instead: a
    /// server must still present a valid certificate from a trusted root. A
    /// mismatch is [`Error::Certificate`] naming the key presented
    /// (`sha256//...`). A resumed session skips the check, safely: sessions
    /// resume only under the policy that checked the pins when they were made.
    /// Costs one SHA-256 of the key per full handshake; nothing without pins. A
    /// malformed pin is reported by [`ClientBuilder::build`](crate::ClientBuilder::build).
    ///
    /// Compute a pin from a certificate with openssl:
    /// `openssl x509 -pubkey -noout -in cert.pem | openssl pkey -pubin -outform der
    /// | openssl dgst -sha256 -binary | base64`.
    pub fn pin_sha256<I>(mut self, pins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.pins.clear();
        self.pin_error = None;
        for text in pins {
            match Pin::parse(text.as_ref()) {
                Ok(pin) if !self.pins.contains(&pin) => self.pins.push(pin),
                Ok(_) => {}
                Err(e) => {
                    self.pin_error.get_or_insert_with(|| e.into());
                }
            }
        }
        self
    }

    /// ALPN protocols to offer, most preferred first (none by default).
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    /// The lowest TLS version accepted (default TLS 1.2). Built without the
    /// `tls12` feature, the client offers TLS 1.3 only, whatever this says: a
    /// server that speaks at most TLS 1.2 then fails with [`Error::Tls`] naming
    /// the feature.
    pub fn min_version(mut self, version: TlsVersion) -> Self {
        self.min_version = version;
        self
    }

    /// The bulk ciphers to offer, most preferred first; others are not offered (a
    /// cipher named twice is offered once, at its first place).
    /// Default: ChaCha20 first on 32-bit ARM, AES-GCM first elsewhere.
    pub fn cipher_preference(mut self, ciphers: &[Cipher]) -> Self {
        self.ciphers.clear();
        for cipher in ciphers {
            if !self.ciphers.contains(cipher) {
                self.ciphers.push(*cipher);
            }
        }
        self
    }

    /// Capacity of this policy's session stores (one per port, for the 16 ports
    /// used last; each preallocates room for its tickets) in tickets (default
    /// [`DEFAULT_SESSION_CACHE_SIZE`]; a store remembers about `size / 8` servers,
    /// so size it for the number of hosts); 0 turns session resumption off.
    pub fn session_cache_size(mut self, size: usize) -> Self {
        self.session_cache_size = size;
        self
    }

    fn check(&self) -> Result<()> {
        if let Some(e) = &self.client_auth_error {
            return Err(Error::config(format_args!("client certificate: {e}")));
        }
        if let Some(e) = &self.pin_error {
            return Err(Error::config(format_args!("pin_sha256: {e}")));
        }
        if self.ciphers.is_empty() {
            return Err(Error::config("no cipher to offer"));
        }
        Ok(())
    }

    fn root_sources(&self) -> &[RootSource] {
        if self.roots.is_empty() {
            DEFAULT_ROOTS
        } else {
            &self.roots
        }
    }
}

/// Which hosts a policy applies to: `api.example.com` exactly, or `*.example.com`
/// for every name below `example.com` (not `example.com` itself). Both the pattern
/// and the host are compared lower-cased and without one trailing dot, as DNS and
/// certificate checks compare them: `API.example.com.` in a URL gets the rule of
/// `api.example.com`. A rule applies on every port: a pattern naming a port or a
/// scheme is refused, it would silently never match.
#[derive(Debug, Clone)]
pub(crate) struct HostPattern(String);

impl HostPattern {
    pub fn new(pattern: &str) -> Result<HostPattern> {
        let bad = |why: &str| Error::config(format_args!("tls_for pattern {pattern:?}: {why}"));
        let lower = pattern.trim().to_ascii_lowercase();
        if lower.contains("://") {
            return Err(bad("names a scheme; give the host name only"));
        }
        // An IPv6 literal, bracketed or not, is a host; any other colon is a port.
        let unbracketed = lower
            .strip_prefix('[')
            .and_then(|p| p.strip_suffix(']'))
            .unwrap_or(&lower);
        let p = if unbracketed.parse::<std::net::Ipv6Addr>().is_ok() {
            unbracketed
        } else if lower.contains(':') {
            return Err(bad(
                "names a port; a rule applies on every port, give the host only",
            ));
        } else {
            netloc::without_trailing_dot(&lower)
        };
        let bare = p.strip_prefix("*.").unwrap_or(p);
        if bare.is_empty() || bare.contains(['*', '/', ' ', '[', ']']) {
            return Err(bad("not a host name or *.domain"));
        }
        Ok(HostPattern(p.to_string()))
    }

    /// Whether the pattern covers `host` (lower-case, as [`Netloc`] keeps it).
    fn matches(&self, host: &str) -> bool {
        let host = netloc::without_trailing_dot(host);
        match self.0.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
            None => self.0 == host,
        }
    }
}

/// What a policy builds once and every config of it shares; rebuilt only when a
/// root file or the client identity changes on disk.
struct PolicyState {
    roots: Vec<Arc<rustls::RootCertStore>>,
    /// The client identity the resolver shows.
    identity: Option<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
    verifier: Arc<Verifier>,
    resolver: Arc<dyn rustls::client::ResolvesClientCert>,
}

struct Policy {
    pattern: Option<HostPattern>,
    settings: TlsSettings,
    /// The client identity, and what was last read from its files.
    identity: Arc<Identity>,
    state: Mutex<Option<Arc<PolicyState>>>,
    /// Session stores of this policy, one per port, at most
    /// [`SESSION_STORES_PER_POLICY`]. rustls keys sessions by server name only, so
    /// servers on two ports of one host would overwrite each other's tickets in a
    /// shared store. A cached config keeps its store alive after eviction here, so
    /// a policy holds at most this many stores plus one per cached config.
    sessions: Mutex<LruCache<u16, Resumption>>,
    /// Bumped when the policy's root files or client identity change: configs and
    /// pooled connections of an older generation are never used again.
    generation: AtomicU64,
}

impl Policy {
    fn new(pattern: Option<HostPattern>, settings: TlsSettings) -> Policy {
        Policy {
            pattern,
            identity: Arc::new(Identity::new(settings.identity.clone())),
            settings,
            state: Mutex::new(None),
            sessions: Mutex::new(LruCache::new(SESSION_STORES_PER_POLICY)),
            generation: AtomicU64::new(0),
        }
    }

    fn resumption(&self, port: u16) -> Resumption {
        let size = self.settings.session_cache_size;
        if size == 0 {
            return Resumption::disabled();
        }
        lock(&self.sessions)
            .get_or_insert(port, || {
                Resumption::store(Arc::new(ClientSessionMemoryCache::new(size)))
            })
            .clone()
    }
}

/// One trust policy of a client: its place among them (`tls_for` rules in the
/// order given, then the default policy). Made only by [`TlsConfigs::policy_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PolicyId(usize);

impl std::fmt::Display for PolicyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The trust a TLS config or connection was made under: its policy, and that
/// policy's generation at the time (bumped when its root files change, so that
/// nothing made under the old roots is used again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trust {
    pub policy: PolicyId,
    pub generation: u64,
}

/// A config and the trust it was made under.
#[derive(Clone)]
pub(crate) struct Lookup {
    pub config: Arc<ClientConfig>,
    pub trust: Trust,
    /// The policy's client identity when it comes from files: its TLS errors say
    /// when a changed file was refused.
    pub identity: Option<Arc<Identity>>,
}

/// Netloc → config, least recently used first out.
type ConfigCache = LruCache<Netloc, Lookup>;

/// The policies of a client and the per-netloc config cache.
pub(crate) struct TlsConfigs {
    /// `tls_for` rules in the order given, then the default policy last.
    policies: Vec<Policy>,
    /// `None` when the cache is disabled (`tls_cache_size(0)`).
    cache: Option<Mutex<ConfigCache>>,
    roots: RootStores,
    /// When the root and identity files are next checked for changes.
    recheck: Throttle,
    /// The time provider of every config: certificates are checked at
    /// `max(clock, floor)`.
    clock: Arc<Clock>,
    /// The notAfter of the last leaf of each netloc, for the expiry report.
    servers: ServerLeaves,
    /// Whether configs let rustls send early data
    /// ([`ClientBuilder::early_data`](crate::ClientBuilder::early_data)).
    early_data: bool,
}

impl TlsConfigs {
    pub fn new(
        default: TlsSettings,
        rules: Vec<(HostPattern, TlsSettings)>,
        cache_size: usize,
        clock: Clock,
    ) -> Result<TlsConfigs> {
        let mut policies: Vec<Policy> = rules
            .into_iter()
            .map(|(p, s)| Policy::new(Some(p), s))
            .collect();
        policies.push(Policy::new(None, default));
        for p in &policies {
            p.settings.check()?;
        }
        let cache = std::num::NonZeroUsize::new(cache_size).map(|n| Mutex::new(LruCache::new(n)));
        Ok(TlsConfigs {
            policies,
            cache,
            roots: RootStores::default(),
            recheck: Throttle::new(TRUST_RECHECK_INTERVAL),
            clock: Arc::new(clock),
            servers: ServerLeaves::default(),
            early_data: false,
        })
    }

    /// Lets the configs built from now on send TLS 1.3 early data (rustls'
    /// `enable_early_data`; what goes early is decided in `early.rs`).
    pub fn with_early_data(mut self, on: bool) -> TlsConfigs {
        self.early_data = on;
        self
    }

    /// The policy that applies to `host`: the first `tls_for` rule matching it,
    /// else the default policy (last).
    pub fn policy_for(&self, host: &str) -> PolicyId {
        let rule = self
            .policies
            .iter()
            .position(|p| p.pattern.as_ref().is_some_and(|pat| pat.matches(host)));
        PolicyId(rule.unwrap_or(self.policies.len().saturating_sub(1)))
    }

    /// The current trust of a policy: one relaxed atomic load.
    pub fn trust(&self, policy: PolicyId) -> Trust {
        let generation = self
            .policies
            .get(policy.0)
            .map_or(0, |p| p.generation.load(Relaxed));
        Trust { policy, generation }
    }

    /// The policy behind an id (ids are made from this list's positions).
    fn policy(&self, id: PolicyId) -> Result<&Policy> {
        self.policies
            .get(id.0)
            .ok_or_else(|| Error::config(format_args!("no TLS policy {id}")))
    }

    /// Checks the root and client identity files of the policies in use for
    /// changes, if the last check is [`TRUST_RECHECK_INTERVAL`] old at `now`; each
    /// policy whose trust changed loses its configs and sessions and is passed to
    /// `dropped` (for its idle connections). When not due: one relaxed atomic load.
    pub fn recheck(&self, now: Instant, dropped: &mut dyn FnMut(PolicyId)) {
        if !self.recheck.due(now) {
            return;
        }
        for (index, p) in self.policies.iter().enumerate() {
            let id = PolicyId(index);
            let Some(state) = lock(&p.state).clone() else {
                continue;
            };
            let current = p
                .settings
                .root_sources()
                .iter()
                .zip(&state.roots)
                .all(|(source, held)| self.roots.is_current(source, held))
                && p.identity
                    .current()
                    .is_ok_and(|k| same_identity(&k, &state.identity));
            if !current {
                self.reset(id);
                dropped(id);
            }
        }
    }

    /// The config for a netloc: from the cache, or built. A root file change noticed
    /// while building resets the policy as [`recheck`](Self::recheck) does.
    pub fn get(
        &self,
        netloc: &Netloc,
        counters: &Counters,
        dropped: &mut dyn FnMut(PolicyId),
    ) -> Result<Lookup> {
        if let Some(cache) = &self.cache {
            let mut cache = lock(cache);
            if let Some(found) = cache.get(netloc) {
                if found.trust == self.trust(found.trust.policy) {
                    Counters::add(&counters.tls_config_cache_hits, 1);
                    return Ok(found.clone());
                }
                // Built under a trust that changed meanwhile.
                cache.pop(netloc);
            }
        }
        let policy = self.policy_for(&netloc.host);
        let (config, trust) = self.build(policy, netloc.port, counters, dropped)?;
        let identity = self
            .policies
            .get(policy.0)
            .filter(|p| p.identity.watches_files())
            .map(|p| p.identity.clone());
        let found = Lookup {
            config: Arc::new(config),
            trust,
            identity,
        };
        debug!("built TLS config for {netloc} (policy {policy})");
        if let Some(cache) = &self.cache {
            let evicted = lock(cache).push(netloc.clone(), found.clone());
            if let Some((old, _)) = evicted.filter(|(old, _)| old != netloc) {
                Counters::add(&counters.tls_config_evictions, 1);
                debug!("evicted TLS config for {old}");
            }
        }
        Ok(found)
    }

    /// Notes the leaf certificate a server presented in a full handshake, for
    /// [`expiry`](Self::expiry).
    pub fn saw_server(&self, netloc: &Netloc, leaf: Option<&CertificateDer<'_>>) {
        self.servers.saw(netloc, leaf);
    }

    /// When the certificates in use expire: each policy's client certificate
    /// (read from its files if not yet), the last leaf of each server seen.
    pub fn expiry(&self) -> CertificateExpiry {
        let identities = self
            .policies
            .iter()
            .filter_map(|p| {
                let not_after = x509::system_time(p.identity.not_after()?)?;
                Some(IdentityExpiry {
                    rule: p.pattern.as_ref().map(|pattern| pattern.0.clone()),
                    not_after,
                })
            })
            .collect();
        CertificateExpiry {
            identities,
            servers: self.servers.report(),
        }
    }

    /// Forgets everything made under `policy`'s current trust: its shared state,
    /// sessions and cached configs; bumps its generation.
    fn reset(&self, policy: PolicyId) {
        let Ok(p) = self.policy(policy) else {
            return;
        };
        p.generation.fetch_add(1, Relaxed);
        *lock(&p.state) = None;
        lock(&p.sessions).clear();
        if let Some(cache) = &self.cache {
            let mut cache = lock(cache);
            let stale: Vec<Netloc> = cache
                .iter()
                .filter(|(_, found)| found.trust.policy == policy)
                .map(|(netloc, _)| netloc.clone())
                .collect();
            for netloc in stale {
                cache.pop(&netloc);
            }
        }
        debug!("root certificates or client identity of policy {policy} changed: dropped its TLS configs, sessions and idle connections");
    }

    /// Builds a config of `policy` and says under which trust generation, building
    /// the policy's shared state first if needed (first use, or a root file or the
    /// client identity changed on disk: then the policy is reset first and passed
    /// to `dropped`).
    fn build(
        &self,
        policy: PolicyId,
        port: u16,
        counters: &Counters,
        dropped: &mut dyn FnMut(PolicyId),
    ) -> Result<(ClientConfig, Trust)> {
        let p = self.policy(policy)?;
        let mut trust = self.trust(policy);
        let roots = p
            .settings
            .root_sources()
            .iter()
            .map(|s| self.roots.get(s, counters))
            .collect::<Result<Vec<_>>>()?;
        let identity = p.identity.current()?;
        let current = lock(&p.state).clone();
        let state = match current {
            Some(s) if same_stores(&s.roots, &roots) && same_identity(&s.identity, &identity) => s,
            old => {
                if old.is_some() {
                    // Noticed here before the periodic check.
                    self.reset(policy);
                    dropped(policy);
                    trust = self.trust(policy);
                }
                let state = Arc::new(new_state(&p.settings, roots, identity, &self.clock)?);
                *lock(&p.state) = Some(state.clone());
                state
            }
        };
        let versions: &[&rustls::SupportedProtocolVersion] = match p.settings.min_version {
            #[cfg(feature = "tls12")]
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            // Without the `tls12` feature, TLS 1.3 only, whatever the minimum (rustls
            // may still have TLS 1.2 compiled in for another crate of the build).
            _ => &[&rustls::version::TLS13],
        };
        let mut config =
            ClientConfig::builder_with_details(state.provider.clone(), self.clock.clone())
                .with_protocol_versions(versions)
                .map_err(|e| Error::config(format_args!("TLS settings: {e}")))?
                // webpki's verifier, wrapped: dates reworded, pins checked after it.
                .dangerous()
                .with_custom_certificate_verifier(state.verifier.clone())
                .with_client_cert_resolver(state.resolver.clone());
        config.alpn_protocols = p.settings.alpn.clone();
        config.resumption = p.resumption(port);
        config.enable_early_data = self.early_data;
        Counters::add(&counters.tls_config_builds, 1);
        Ok((config, trust))
    }
}

fn same_stores(a: &[Arc<rustls::RootCertStore>], b: &[Arc<rustls::RootCertStore>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

fn same_identity(a: &Option<Arc<CertifiedKey>>, b: &Option<Arc<CertifiedKey>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Builds a policy's shared state: verifier and client-certificate resolver.
fn new_state(
    settings: &TlsSettings,
    roots: Vec<Arc<rustls::RootCertStore>>,
    identity: Option<Arc<CertifiedKey>>,
    clock: &Arc<Clock>,
) -> Result<PolicyState> {
    let provider = Arc::new(provider(&settings.ciphers));
    let merged = if let [only] = roots.as_slice() {
        only.clone()
    } else {
        let mut all = rustls::RootCertStore::empty();
        for r in &roots {
            all.roots.extend(r.roots.iter().cloned());
        }
        Arc::new(all)
    };
    if merged.is_empty() {
        let e = VerifierBuilderError::NoRootAnchors;
        return Err(Error::config(format_args!("certificate verifier: {e}")));
    }
    let verifier = Arc::new(Verifier::new(
        merged,
        provider.signature_verification_algorithms,
        &settings.pins,
        clock.clone(),
    ));
    let resolver: Arc<dyn rustls::client::ResolvesClientCert> = match &identity {
        Some(key) => Arc::new(SingleCertAndKey::from(key.clone())),
        None => Arc::new(NoClientAuth),
    };
    Ok(PolicyState {
        roots,
        identity,
        provider,
        verifier,
        resolver,
    })
}

/// The bulk cipher of each cipher suite ring's provider has. A suite missing here
/// is never offered: one that a later rustls adds must be listed to be used (a
/// unit test checks that every suite of the provider is).
const SUITE_CIPHERS: [(CipherSuite, Cipher); 9] = [
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        Cipher::ChaCha20Poly1305,
    ),
    (CipherSuite::TLS13_AES_128_GCM_SHA256, Cipher::Aes128Gcm),
    (CipherSuite::TLS13_AES_256_GCM_SHA384, Cipher::Aes256Gcm),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        Cipher::ChaCha20Poly1305,
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        Cipher::ChaCha20Poly1305,
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        Cipher::Aes128Gcm,
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        Cipher::Aes128Gcm,
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        Cipher::Aes256Gcm,
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        Cipher::Aes256Gcm,
    ),
];

/// The bulk cipher of a cipher suite, if it is one of [`SUITE_CIPHERS`].
fn cipher_of(suite: CipherSuite) -> Option<Cipher> {
    SUITE_CIPHERS
        .iter()
        .find(|(s, _)| *s == suite)
        .map(|(_, cipher)| *cipher)
}

/// ring's provider with its cipher suites filtered and ordered by `ciphers` (the
/// provider's own order kept among suites of one cipher: TLS 1.3 first).
fn provider(ciphers: &[Cipher]) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    // Picked cipher by cipher rather than sorted: the same order, without a
    // sort's code (~3 KiB on armv7) for a list of nine.
    let all = std::mem::take(&mut provider.cipher_suites);
    for cipher in ciphers {
        let of_cipher = all.iter().filter(|s| cipher_of(s.suite()) == Some(*cipher));
        provider.cipher_suites.extend(of_cipher);
    }
    provider
}

/// The resolver of a policy without a client certificate. One per policy, so that its
/// `Arc` identity ties sessions to the policy.
#[derive(Debug)]
struct NoClientAuth;

impl rustls::client::ResolvesClientCert for NoClientAuth {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
