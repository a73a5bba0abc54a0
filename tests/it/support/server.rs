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
//! Stopping (drop or [`Server::stop`]) never hangs: every socket read polls
//! a stop flag, sleeps are cut short, open sockets are shut down, and all
//! threads are joined. If a handler panicked, the drop panics too (unless
//! the test is already panicking), so assertions in handlers are not lost.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::crypto::ring::{default_provider, Ticketer};
use rustls::pki_types::CertificateDer;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    HandshakeKind, RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion,
};

pub use super::message::{Reply, Request, Step, TlsInfo};
use super::pki::Identity;
use super::wire::{self, Wire};

/// TLS settings of an HTTPS test server.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The certificate chain and key the server presents.
    pub identity: Identity,
    /// Protocol versions offered. Default: TLS 1.3 and TLS 1.2.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// Session resumption. true (default): TLS 1.3 tickets and TLS 1.2
    /// tickets from a ring `Ticketer`, plus an in-memory session cache for
    /// TLS 1.2 session ids. false: no resumption at all (no tickets, no cache).
    pub tickets: bool,
    /// Some: require a client certificate signed by this CA.
    pub client_ca: Option<CertificateDer<'static>>,
}

impl TlsOptions {
    /// Defaults: both versions, tickets on, no client certificate.
    pub fn new(identity: Identity) -> Self {
        TlsOptions {
            identity,
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            tickets: true,
            client_ca: None,
        }
    }

    /// Offers TLS 1.3 only.
    pub fn tls13_only(mut self) -> Self {
        self.versions = vec![&rustls::version::TLS13];
        self
    }

    /// Offers TLS 1.2 only.
    pub fn tls12_only(mut self) -> Self {
        self.versions = vec![&rustls::version::TLS12];
        self
    }

    /// Turns session resumption off.
    pub fn no_resumption(mut self) -> Self {
        self.tickets = false;
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
        if self.tickets {
            config.ticketer = Ticketer::new().expect("ticketer");
            config.session_storage = ServerSessionMemoryCache::new(256);
        } else {
            config.session_storage = Arc::new(NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
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

/// State shared by the server handle, the accept thread and connection threads.
struct Shared {
    stop: AtomicBool,
    handler: Handler,
    options: Options,
    tls: Option<Arc<ServerConfig>>,
    log: Mutex<Vec<Request>>,
    connections: AtomicUsize,
    handshakes_full: AtomicUsize,
    handshakes_resumed: AtomicUsize,
    tls_failures: AtomicUsize,
    panics: AtomicUsize,
    /// Clones of the open connections' sockets, to shut them down at stop.
    open: Mutex<HashMap<usize, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running test server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Server {
    /// A plain-HTTP server with default [`Options`].
    pub fn http(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::start(None, Options::default(), Box::new(handler))
    }

    /// An HTTPS server with default [`Options`].
    pub fn https(
        tls: TlsOptions,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(
            Some(tls.server_config()),
            Options::default(),
            Box::new(handler),
        )
    }

    /// A plain-HTTP server with these options.
    pub fn http_with(
        options: Options,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(None, options, Box::new(handler))
    }

    /// An HTTPS server with these options.
    pub fn https_with(
        tls: TlsOptions,
        options: Options,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(Some(tls.server_config()), options, Box::new(handler))
    }

    fn start(tls: Option<Arc<ServerConfig>>, options: Options, handler: Handler) -> Server {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            handler,
            options,
            tls,
            log: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            handshakes_full: AtomicUsize::new(0),
            handshakes_resumed: AtomicUsize::new(0),
            tls_failures: AtomicUsize::new(0),
            panics: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        });
        let for_thread = shared.clone();
        let accept = thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))
            .expect("spawn accept thread");
        Server {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// The listening address (127.0.0.1, some port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
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
        self.shared.connections.load(Ordering::SeqCst)
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

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread; it sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            if accept.join().is_err() {
                self.shared.panics.fetch_add(1, Ordering::SeqCst);
            }
        }
        for sock in lock(&self.shared.open).values() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for handle in threads {
            if handle.join().is_err() {
                self.shared.panics.fetch_add(1, Ordering::SeqCst);
            }
        }
        let panics = self.shared.panics.load(Ordering::SeqCst);
        if panics > 0 && !thread::panicking() {
            panic!("test server: {panics} handler/server thread panic(s), see messages above");
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let sock = match accepted {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("test server: accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = sock.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        let for_thread = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("test-conn-{id}"))
            .spawn(move || serve(&for_thread, sock, id));
        match spawned {
            Ok(handle) => lock(&shared.threads).push(handle),
            Err(e) => {
                eprintln!("test server: cannot spawn connection thread: {e}");
                lock(&shared.open).remove(&id);
            }
        }
    }
}

/// Connection thread body: runs the connection, logs how it failed.
fn serve(shared: &Shared, sock: TcpStream, id: usize) {
    if let Err(e) = run_connection(shared, sock, id) {
        if !shared.stop.load(Ordering::SeqCst) {
            eprintln!("test server: connection {id}: {e}");
        }
    }
    lock(&shared.open).remove(&id);
}

fn run_connection(shared: &Shared, sock: TcpStream, id: usize) -> io::Result<()> {
    let tls = match &shared.tls {
        None => None,
        Some(config) => Some(ServerConnection::new(config.clone()).map_err(io::Error::other)?),
    };
    let mut wire = Wire::new(sock, tls, &shared.stop)?;
    let tls_info = match handshake(shared, &mut wire) {
        Ok(info) => info,
        Err(e) => {
            if !shared.stop.load(Ordering::SeqCst) {
                eprintln!("test server: connection {id}: TLS handshake failed: {e}");
            }
            wire.finish();
            return Ok(());
        }
    };
    for seq in 0.. {
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
                if !sleep(shared, shared.options.continue_delay) {
                    return Err(wire::stopping());
                }
                request.body_before_continue = wire.buffered_now()?;
                wire.send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            request.body = read_body(&mut wire, &request)?;
            lock(&shared.log).push(request.clone());
        }
        let reply = match catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))) {
            Ok(reply) => reply,
            Err(_) => {
                shared.panics.fetch_add(1, Ordering::SeqCst);
                wire.finish();
                return Err(io::Error::other("handler panicked"));
            }
        };
        let ended = run_steps(shared, &mut wire, &reply.steps);
        if early {
            // What the client sent after the head, until it closed: nothing, from
            // a client that waits for 100 Continue.
            if matches!(ended, Ok(false)) {
                let _ = wire.close_notify();
                request.body = wire.finish_collecting();
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
        if !shared.stop.load(Ordering::SeqCst) {
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
        let mut body = Vec::new();
        loop {
            let line = String::from_utf8_lossy(&wire.read_line()?).into_owned();
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| super::message::invalid(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                while !wire.read_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend_from_slice(&wire.read_exact(size)?);
            if !wire.read_line()?.is_empty() {
                return Err(super::message::invalid("chunk not followed by CRLF".into()));
            }
        }
    }
    match request.content_length()? {
        Some(n) => wire.read_exact(n),
        None => Ok(Vec::new()),
    }
}

/// Runs the steps; true if one of them ended the connection.
fn run_steps(shared: &Shared, wire: &mut Wire<'_>, steps: &[Step]) -> io::Result<bool> {
    for step in steps {
        match step {
            Step::Send(bytes) => wire.send(bytes)?,
            Step::SendSlowly(bytes, pause) => {
                for (i, byte) in bytes.iter().enumerate() {
                    if i > 0 && !sleep(shared, *pause) {
                        return Err(wire::stopping());
                    }
                    wire.send(std::slice::from_ref(byte))?;
                }
            }
            Step::Sleep(duration) => {
                if !sleep(shared, *duration) {
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

/// Sleeps in small slices; false if the server stopped meanwhile.
fn sleep(shared: &Shared, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}
