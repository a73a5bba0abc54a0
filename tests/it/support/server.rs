//! A scriptable in-process HTTP/1.1 server, plain or TLS, on std threads.
//!
//! It listens on 127.0.0.1 (any free port), serves each accepted connection
//! on its own thread, records every request (see [`Request`]) and answers
//! with whatever the handler returns (a [`Reply`]: [`Step`]s, then keep the
//! connection or close it). The request's own `Connection` header is not
//! looked at: only `Reply::keep_alive` decides whether the server closes.
//!
//! `Expect: 100-continue` (see [`Options`]): by default the server writes
//! "HTTP/1.1 100 Continue" before reading the body. With `auto_continue:
//! false` it reads the body without sending it (a server that ignores
//! Expect). With `answer_before_body: true` it sends no 100 and reads no
//! body before answering: the handler sees the head (empty body); after the
//! reply the server reads what the client still sends until the client
//! closes (at most a second), records that as the body, and only then logs
//! the request and closes. There is no "Continue100" step.
//!
//! Stopping (drop or [`Server::stop`]) never hangs, and a handler's panic is
//! not lost: see [`service`](super::service).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::ring::{default_provider, Ticketer};
use rustls::pki_types::CertificateDer;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    HandshakeKind, RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion,
};

use super::lock;
pub use super::message::{Reply, Request, Step, TlsInfo};
use super::pki::Identity;
use super::service::{Core, Service};
use super::wire::{self, Wire};

/// TLS settings of an HTTPS test server.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The certificate chain and key the server presents.
    pub identity: Identity,
    /// Protocol versions offered. Default: TLS 1.3 and TLS 1.2.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// Some: require a client certificate signed by this CA.
    pub client_ca: Option<CertificateDer<'static>>,
    /// TLS 1.3 early data (0-RTT). Default: off.
    pub early_data: EarlyData,
}

/// What a test server does with TLS 1.3 early data (0-RTT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyData {
    /// Its tickets do not allow early data.
    Off,
    /// Its tickets allow [`EARLY_DATA_LIMIT`] bytes and it takes them: a request
    /// that came whole in early data is recorded so ([`Request::early_data`]).
    Accept,
    /// Its tickets allow early data, but it refuses it on every connection (as a
    /// server that lost its anti-replay state would): the client must send again.
    Refuse,
}

/// Early data a server with [`EarlyData::Accept`] or `Refuse` allows per
/// connection: nginx's amount.
pub const EARLY_DATA_LIMIT: u32 = 16 * 1024;

impl TlsOptions {
    /// Defaults: both versions, no client certificate. Sessions resume: TLS 1.3
    /// tickets and TLS 1.2 tickets from a ring `Ticketer`, plus an in-memory
    /// session cache for TLS 1.2 session ids.
    pub fn new(identity: Identity) -> Self {
        TlsOptions {
            identity,
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            client_ca: None,
            early_data: EarlyData::Off,
        }
    }

    /// Tickets allow early data, and it is taken or refused ([`EarlyData`]).
    /// Resumption is then stateful (an in-memory session cache, no ticketer):
    /// rustls takes early data only so, as each ticket can be used once.
    pub fn early_data(mut self, mode: EarlyData) -> Self {
        self.early_data = mode;
        self
    }

    /// Offers TLS 1.2 only.
    pub fn tls12_only(mut self) -> Self {
        self.versions = vec![&rustls::version::TLS12];
        self
    }

    /// Requires a client certificate signed by `ca`.
    pub fn require_client_cert(mut self, ca: CertificateDer<'static>) -> Self {
        self.client_ca = Some(ca);
        self
    }

    /// The rustls configuration these options describe.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions)
            .expect("protocol versions");
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca.clone()).expect("client CA certificate");
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client certificate verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(self.identity.chain.clone(), self.identity.key.clone_key())
            .expect("server certificate and key");
        if self.early_data == EarlyData::Off {
            config.ticketer = Ticketer::new().expect("ticketer");
        } else {
            config.max_early_data_size = EARLY_DATA_LIMIT;
        }
        config.session_storage = ServerSessionMemoryCache::new(256);
        Arc::new(config)
    }
}

/// Server behaviour that is not TLS.
#[derive(Clone, Debug)]
pub struct Options {
    /// On `Expect: 100-continue`, write "HTTP/1.1 100 Continue" before
    /// reading the body. Default true.
    pub auto_continue: bool,
    /// On `Expect: 100-continue`, neither send 100 nor read the body: call
    /// the handler with the head only, then close the connection after the
    /// reply. Takes precedence over `auto_continue`. What the client sends after
    /// the head is recorded as the body once the client closes, and the request is
    /// logged only then. Default false.
    pub answer_before_body: bool,
    /// How long to wait before writing "100 Continue" (default zero): long enough,
    /// and a client that does not wait has sent body bytes by then
    /// ([`Request::body_before_continue`]).
    pub continue_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auto_continue: true,
            answer_before_body: false,
            continue_delay: Duration::ZERO,
        }
    }
}

type Handler = Box<dyn Fn(&Request) -> Reply + Send + Sync>;

/// State shared by the server handle and its connection threads.
struct Shared {
    handler: Handler,
    options: Options,
    tls: Option<Arc<ServerConfig>>,
    /// Refuse early data on every connection ([`EarlyData::Refuse`]).
    refuse_early_data: bool,
    log: Mutex<Vec<Request>>,
    handshakes_full: AtomicUsize,
    handshakes_resumed: AtomicUsize,
    tls_failures: AtomicUsize,
}

/// A running test server; stops when dropped.
pub struct Server {
    service: Service,
    shared: Arc<Shared>,
}

impl Server {
    /// A plain-HTTP server with default [`Options`].
    pub fn http(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::start(None, false, Options::default(), Box::new(handler))
    }

    /// An HTTPS server with default [`Options`].
    pub fn https(
        tls: TlsOptions,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let config = Some(tls.server_config());
        let refuse = tls.early_data == EarlyData::Refuse;
        Server::start(config, refuse, Options::default(), Box::new(handler))
    }

    /// A plain-HTTP server with these options.
    pub fn http_with(
        options: Options,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(None, false, options, Box::new(handler))
    }

    fn start(
        tls: Option<Arc<ServerConfig>>,
        refuse_early_data: bool,
        options: Options,
        handler: Handler,
    ) -> Server {
        let shared = Arc::new(Shared {
            handler,
            options,
            tls,
            refuse_early_data,
            log: Mutex::new(Vec::new()),
            handshakes_full: AtomicUsize::new(0),
            handshakes_resumed: AtomicUsize::new(0),
            tls_failures: AtomicUsize::new(0),
        });
        let for_threads = shared.clone();
        let service = Service::start("test server", move |core, sock, id| {
            run_connection(&for_threads, core, sock, id)
        });
        Server { service, shared }
    }

    /// The listening address (127.0.0.1, some port).
    pub fn addr(&self) -> SocketAddr {
        self.service.addr()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// True for an HTTPS server.
    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    /// "https://localhost:{port}{path}" for TLS, "http://127.0.0.1:{port}{path}" plain.
    pub fn url(&self, path: &str) -> String {
        if self.is_tls() {
            self.url_with_host("localhost", path)
        } else {
            self.url_with_host("127.0.0.1", path)
        }
    }

    /// The URL of `path` on this server, naming the host `host`.
    pub fn url_with_host(&self, host: &str, path: &str) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{host}:{}{path}", self.port())
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.log).clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.service.connections()
    }

    /// Completed full TLS handshakes (with or without HelloRetryRequest).
    pub fn handshakes_full(&self) -> usize {
        self.shared.handshakes_full.load(Ordering::SeqCst)
    }

    /// Completed resumed TLS handshakes.
    pub fn handshakes_resumed(&self) -> usize {
        self.shared.handshakes_resumed.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed (certificate rejected, no client cert, ...).
    pub fn tls_failures(&self) -> usize {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }

    /// Stops the server (same as dropping it).
    pub fn stop(self) {}
}

fn run_connection(shared: &Shared, core: &Core, sock: TcpStream, id: usize) -> io::Result<()> {
    let _tracked = core.track(&sock)?;
    let tls = match &shared.tls {
        None => None,
        Some(config) => {
            let mut conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            if shared.refuse_early_data {
                conn.reject_early_data();
            }
            Some(conn)
        }
    };
    let mut wire = Wire::new(sock, tls, &core.stop)?;
    let tls_info = match handshake(shared, &mut wire) {
        Ok(info) => info,
        Err(e) => {
            if !core.stopped() {
                eprintln!("test server: connection {id}: TLS handshake failed: {e}");
            }
            wire.finish();
            return Ok(());
        }
    };
    for seq in 0.. {
        // Bytes of the stream read before this request (see `Request::early_data`).
        let before = wire.consumed();
        let Some(head) = wire.read_head()? else {
            return Ok(());
        };
        let mut request = Request::parse_head(&head)?;
        request.conn_id = id;
        request.seq_on_conn = seq;
        request.tls = tls_info.clone();
        let early = request.expects_continue() && shared.options.answer_before_body;
        if !early {
            if request.expects_continue() && shared.options.auto_continue {
                if !core.sleep(shared.options.continue_delay) {
                    return Err(wire::stopping());
                }
                request.body_before_continue = wire.buffered_now()?;
                wire.send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            request.body = read_body(&mut wire, &request)?;
            request.early_data =
                before < wire.early_received() && wire.consumed() <= wire.early_received();
            lock(&shared.log).push(request.clone());
        }
        let reply = match catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))) {
            Ok(reply) => reply,
            Err(_) => {
                core.panicked();
                wire.finish();
                return Err(io::Error::other("handler panicked"));
            }
        };
        let ended = run_steps(core, &mut wire, &reply.steps);
        if early {
            // What the client sent after the head, until it closed: nothing, from
            // a client that waits for 100 Continue.
            if matches!(ended, Ok(false)) {
                let _ = wire.close_notify();
                request.body = wire.finish();
            }
            lock(&shared.log).push(request);
            return ended.map(|_| ());
        }
        if ended? {
            return Ok(());
        }
        if !reply.keep_alive {
            wire.close_notify()?;
            wire.finish();
            return Ok(());
        }
    }
    Ok(())
}

/// Runs the TLS handshake (if any) and counts how it went.
fn handshake(shared: &Shared, wire: &mut Wire<'_>) -> io::Result<Option<TlsInfo>> {
    if let Err(e) = wire.handshake() {
        if !wire.stopped() {
            shared.tls_failures.fetch_add(1, Ordering::SeqCst);
        }
        return Err(e);
    }
    let Some(conn) = wire.tls() else {
        return Ok(None);
    };
    let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
    let counter = if resumed {
        &shared.handshakes_resumed
    } else {
        &shared.handshakes_full
    };
    counter.fetch_add(1, Ordering::SeqCst);
    Ok(Some(TlsInfo {
        sni: conn.server_name().map(str::to_string),
        version: conn.protocol_version(),
        cipher_suite: conn.negotiated_cipher_suite().map(|s| s.suite()),
        resumed,
        client_cert: conn.peer_certificates().and_then(|c| c.first().cloned()),
    }))
}

/// The request body: chunked (de-chunked, trailers dropped), Content-Length, or none.
fn read_body(wire: &mut Wire<'_>, request: &Request) -> io::Result<Vec<u8>> {
    if request.is_chunked() {
        return wire.read_chunked(|_| Ok(()));
    }
    match request.content_length()? {
        Some(n) => wire.read_exact(n),
        None => Ok(Vec::new()),
    }
}

/// Runs the steps; true if one of them ended the connection.
fn run_steps(core: &Core, wire: &mut Wire<'_>, steps: &[Step]) -> io::Result<bool> {
    for step in steps {
        match step {
            Step::Send(bytes) => wire.send(bytes)?,
            Step::SendSlowly(bytes, pause) => {
                for (i, byte) in bytes.iter().enumerate() {
                    if i > 0 && !core.sleep(*pause) {
                        return Err(wire::stopping());
                    }
                    wire.send(std::slice::from_ref(byte))?;
                }
            }
            Step::Sleep(duration) => {
                if !core.sleep(*duration) {
                    return Err(wire::stopping());
                }
            }
            Step::CloseNotify => {
                wire.close_notify()?;
                wire.finish();
                return Ok(true);
            }
            Step::Close => {
                wire.finish();
                return Ok(true);
            }
        }
    }
    Ok(false)
}
