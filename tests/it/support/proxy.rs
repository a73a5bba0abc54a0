//! An in-process HTTP proxy for tests, on std threads, listening on
//! 127.0.0.1 (any free port).
//!
//! - `CONNECT host:port`: after the credentials check (if any), connects to
//!   the target, answers "200 Connection established" and relays bytes both
//!   ways until both sides have closed. When one side closes its sending
//!   half, the proxy closes the matching half towards the other side, so an
//!   end of stream travels through the tunnel.
//! - Absolute-form requests (`GET http://127.0.0.1:PORT/path HTTP/1.1`):
//!   forwarded in origin form (`GET /path HTTP/1.1`) on a new upstream
//!   connection, one per request, closed after its response. The headers go
//!   as received except `Proxy-Authorization` and `Proxy-Connection`; the
//!   request body and the response are relayed byte for byte, read per
//!   their framing (Content-Length, chunked, or until close for responses).
//!   Interim 1xx responses are relayed too (`Expect: 100-continue` works).
//!   The client connection is kept for the next request unless the request
//!   or the response says `Connection: close`, the response is delimited by
//!   the close, or the request body could not be relayed.
//! - Only loopback targets (127.0.0.0/8, ::1, "localhost") are reached; any
//!   other gets 502 without a name lookup, so tests never leave the host.
//! - Errors (400 bad request, 403 `refuse_connect`, 407 missing or wrong
//!   credentials, 502 bad target or upstream down) carry a Content-Length
//!   and `Connection: close`, then the client connection is closed.
//!
//! Every request head is recorded ([`Proxy::seen`]), rejected ones included.
//! Stopping (drop) never hangs: every socket read polls a stop flag, open
//! sockets (client and upstream) are shut down, and all threads are joined.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::message::{invalid, Request};
use super::wire::{is_disconnect, stopping, MAX_HEAD, POLL};

/// How long connecting to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write may block (a peer that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing client connection keeps reading (and discarding) what
/// the client still sends, so the close is a FIN and not a reset.
const LINGER: Duration = Duration::from_secs(1);

/// How the proxy behaves.
#[derive(Clone, Debug, Default)]
pub struct ProxyOptions {
    /// Some((user, pass)): every request (CONNECT or forwarded) must carry
    /// `Proxy-Authorization: Basic base64(user:pass)`; otherwise the proxy
    /// answers 407 with `Proxy-Authenticate: Basic realm="test"` and closes.
    pub credentials: Option<(String, String)>,
    /// Answer every CONNECT with 403 Forbidden and close.
    pub refuse_connect: bool,
}

impl ProxyOptions {
    /// Options requiring these credentials.
    pub fn with_credentials(user: &str, pass: &str) -> ProxyOptions {
        ProxyOptions {
            credentials: Some((user.to_string(), pass.to_string())),
            ..ProxyOptions::default()
        }
    }
}

/// A request head as the proxy received it.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    /// Index of the accepted client connection, from 0.
    pub conn_id: usize,
    /// "CONNECT", "GET", ...
    pub method: String,
    /// "host:port" for CONNECT, the absolute URL for forwarded requests.
    pub target: String,
    /// Header fields in order; names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl ProxyRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The `Proxy-Authorization` value for these credentials: "Basic base64(user:pass)".
pub fn basic_auth(user: &str, pass: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))
}

/// State shared by the proxy handle and its threads.
struct Shared {
    stop: AtomicBool,
    options: ProxyOptions,
    seen: Mutex<Vec<ProxyRequest>>,
    connections: AtomicUsize,
    tunnels: AtomicUsize,
    panics: AtomicUsize,
    next_socket: AtomicUsize,
    /// Clones of every open socket (client and upstream), to shut them down at stop.
    open: Mutex<HashMap<usize, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Registers a clone of `sock` to be shut down at stop, until the guard drops.
    fn track(&self, sock: &TcpStream) -> io::Result<Tracked<'_>> {
        let key = self.next_socket.fetch_add(1, Ordering::SeqCst);
        let clone = sock.try_clone()?;
        lock(&self.open).insert(key, clone);
        // Registered after the stop sweep: nobody else will shut it down.
        if self.stopped() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        Ok(Tracked { shared: self, key })
    }
}

/// Removes a socket from [`Shared::open`] when dropped.
struct Tracked<'a> {
    shared: &'a Shared,
    key: usize,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        lock(&self.shared.open).remove(&self.key);
    }
}

/// A running test proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1, any free port.
    pub fn start(options: ProxyOptions) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            options,
            seen: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            tunnels: AtomicUsize::new(0),
            panics: AtomicUsize::new(0),
            next_socket: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        });
        let for_thread = shared.clone();
        let accept = thread::Builder::new()
            .name(format!("test-proxy-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))
            .expect("spawn proxy accept thread");
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// "http://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// "http://user:pass@127.0.0.1:PORT", user and pass percent-encoded
    /// (all but unreserved characters).
    pub fn url_with_credentials(&self, user: &str, pass: &str) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}",
            percent_encode(user),
            percent_encode(pass),
            self.port()
        )
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request head received so far, in order (rejected ones included).
    pub fn seen(&self) -> Vec<ProxyRequest> {
        lock(&self.shared.seen).clone()
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// CONNECT tunnels established so far (200 sent).
    pub fn tunnels(&self) -> usize {
        self.shared.tunnels.load(Ordering::SeqCst)
    }

    /// Stops the proxy (same as dropping it).
    pub fn stop(self) {}
}

impl Drop for Proxy {
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
        loop {
            let threads = std::mem::take(&mut *lock(&self.shared.threads));
            if threads.is_empty() {
                break;
            }
            for handle in threads {
                if handle.join().is_err() {
                    self.shared.panics.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let panics = self.shared.panics.load(Ordering::SeqCst);
        if panics > 0 && !thread::panicking() {
            panic!("test proxy: {panics} thread panic(s), see messages above");
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopped() {
            return;
        }
        let sock = match accepted {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("test proxy: accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        let for_thread = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("test-proxy-conn-{id}"))
            .spawn(move || serve(&for_thread, sock, id));
        match spawned {
            Ok(handle) => lock(&shared.threads).push(handle),
            Err(e) => eprintln!("test proxy: cannot spawn connection thread: {e}"),
        }
    }
}

/// Connection thread body: runs the client connection, logs how it failed.
fn serve(shared: &Arc<Shared>, sock: TcpStream, id: usize) {
    if let Err(e) = run_client(shared, sock, id) {
        if !shared.stopped() && !is_disconnect(&e) {
            eprintln!("test proxy: connection {id}: {e}");
        }
    }
}

/// What happens to the client connection after a forwarded exchange.
#[derive(PartialEq)]
enum Next {
    KeepAlive,
    Close,
}

fn run_client(shared: &Arc<Shared>, sock: TcpStream, conn_id: usize) -> io::Result<()> {
    let _tracked = shared.track(&sock)?;
    let mut client = Conn::new(sock, shared)?;
    loop {
        let Some(head) = client.read_head()? else {
            return Ok(());
        };
        let Ok(request) = Request::parse_head(&head) else {
            return reject(&mut client, 400, "Bad Request", "");
        };
        lock(&shared.seen).push(ProxyRequest {
            conn_id,
            method: request.method.clone(),
            target: request.target.clone(),
            headers: request.headers.clone(),
        });
        if !authorized(&shared.options, &request) {
            let challenge = "Proxy-Authenticate: Basic realm=\"test\"\r\n";
            return reject(&mut client, 407, "Proxy Authentication Required", challenge);
        }
        if request.method.eq_ignore_ascii_case("CONNECT") {
            return tunnel(shared, client, &request.target);
        }
        if forward(shared, &mut client, &request, &head)? == Next::Close {
            client.finish();
            return Ok(());
        }
    }
}

/// Sends an error response with `Connection: close`, then closes.
fn reject(client: &mut Conn<'_>, code: u16, reason: &str, extra: &str) -> io::Result<()> {
    send_error(client, code, reason, extra)?;
    client.finish();
    Ok(())
}

fn send_error(client: &mut Conn<'_>, code: u16, reason: &str, extra: &str) -> io::Result<()> {
    let body = format!("test proxy: {code} {reason}\n");
    let response = format!(
        "HTTP/1.1 {code} {reason}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.send(response.as_bytes())
}

fn authorized(options: &ProxyOptions, request: &Request) -> bool {
    let Some((user, pass)) = &options.credentials else {
        return true;
    };
    let expected = base64(format!("{user}:{pass}").as_bytes());
    request
        .header_all("proxy-authorization")
        .iter()
        .filter_map(|v| v.split_once(' '))
        .any(|(scheme, token)| scheme.eq_ignore_ascii_case("basic") && token.trim() == expected)
}

// ---------------------------------------------------------------------------
// CONNECT

fn tunnel(shared: &Arc<Shared>, mut client: Conn<'_>, target: &str) -> io::Result<()> {
    if shared.options.refuse_connect {
        return reject(&mut client, 403, "Forbidden", "");
    }
    let Some((host, port)) = split_host_port(target, None) else {
        return reject(&mut client, 400, "Bad Request", "");
    };
    let Some(upstream) = connect_loopback(&host, port) else {
        return reject(&mut client, 502, "Bad Gateway", "");
    };
    let _tracked = shared.track(&upstream)?;
    configure(&upstream)?;
    // Counted first, so a client that saw the 200 sees the count.
    shared.tunnels.fetch_add(1, Ordering::SeqCst);
    client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let Conn {
        sock: client_sock,
        buf: early,
        ..
    } = client;
    // Bytes the client sent right after the CONNECT head.
    (&upstream).write_all(&early)?;

    let (from_client, to_upstream) = (client_sock.try_clone()?, upstream.try_clone()?);
    let for_thread = shared.clone();
    let outbound = thread::Builder::new()
        .name("test-proxy-pump".into())
        .spawn(move || pump(&for_thread, from_client, to_upstream))?;
    pump(shared, upstream, client_sock);
    if outbound.join().is_err() {
        shared.panics.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// Copies `from` to `to` until `from` ends (or fails, or the proxy stops),
/// then closes the sending half of `to` so the other side sees the end.
fn pump(shared: &Shared, mut from: TcpStream, mut to: TcpStream) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&chunk[..n]).is_err() {
                    // The destination is gone: stop reading for it.
                    let _ = from.shutdown(Shutdown::Read);
                    break;
                }
            }
            Err(e) if is_timeout(&e) => {
                if shared.stopped() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---------------------------------------------------------------------------
// Absolute-form forwarding

fn forward(
    shared: &Shared,
    client: &mut Conn<'_>,
    request: &Request,
    head: &[u8],
) -> io::Result<Next> {
    let Some((host, port, path)) = parse_absolute(&request.target) else {
        send_error(client, 400, "Bad Request", "")?;
        return Ok(Next::Close);
    };
    let Some(sock) = connect_loopback(&host, port) else {
        send_error(client, 502, "Bad Gateway", "")?;
        return Ok(Next::Close);
    };
    let _tracked = shared.track(&sock)?;
    let mut upstream = Conn::new(sock, shared)?;
    upstream.send(&origin_form_head(head, request, &path))?;

    let expects = request.expects_continue();
    let mut body_pending = request.is_chunked() || request.content_length()?.unwrap_or(0) > 0;
    let (status, headers) = loop {
        if body_pending && (!expects || !first_to_speak_is_upstream(client, &mut upstream)?) {
            relay_request_body(client, &mut upstream.sock, request)?;
            body_pending = false;
        }
        let Some(response_head) = upstream.read_head()? else {
            send_error(client, 502, "Bad Gateway", "")?;
            return Ok(Next::Close);
        };
        let (status, headers) = parse_response_head(&response_head)?;
        client.send(&response_head)?;
        // Interim responses are relayed, then the final one is read.
        if !(100..200).contains(&status) || status == 101 {
            break (status, headers);
        }
    };

    let framing = response_framing(request, status, &headers)?;
    match framing {
        Framing::Empty => {}
        Framing::Length(n) => upstream.relay_exact(n, &mut client.sock)?,
        Framing::Chunked => relay_chunked(&mut upstream, &mut client.sock)?,
        Framing::UntilClose => upstream.relay_to_end(&mut client.sock)?,
    }

    let close_requested = has_token(request.header_all("connection"), "close")
        || has_token(
            headers
                .iter()
                .filter(|(n, _)| n == "connection")
                .map(|(_, v)| v.as_str()),
            "close",
        );
    if framing == Framing::UntilClose || body_pending || close_requested {
        Ok(Next::Close)
    } else {
        Ok(Next::KeepAlive)
    }
}

/// How a response body is delimited.
#[derive(Clone, Copy, PartialEq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// RFC 9112 6.3, for the final response to `request`. A 101 is treated as
/// the start of a stream that lasts until the close.
fn response_framing(
    request: &Request,
    status: u16,
    headers: &[(String, String)],
) -> io::Result<Framing> {
    if status == 101 {
        return Ok(Framing::UntilClose);
    }
    if request.method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    let last_coding = headers
        .iter()
        .filter(|(n, _)| n == "transfer-encoding")
        .flat_map(|(_, v)| v.split(','))
        .next_back();
    if let Some(coding) = last_coding {
        if coding.trim().eq_ignore_ascii_case("chunked") {
            return Ok(Framing::Chunked);
        }
        return Ok(Framing::UntilClose);
    }
    match headers.iter().find(|(n, _)| n == "content-length") {
        Some((_, value)) => value
            .parse()
            .map(Framing::Length)
            .map_err(|_| invalid(format!("bad content-length {value:?}"))),
        None => Ok(Framing::UntilClose),
    }
}

/// With `Expect: 100-continue`: waits until the upstream answers (true:
/// 100 Continue or a final response) or the client sends the body anyway
/// (false). Either side ending counts as speaking.
fn first_to_speak_is_upstream(client: &mut Conn<'_>, upstream: &mut Conn<'_>) -> io::Result<bool> {
    loop {
        if !upstream.buf.is_empty() || upstream.try_fill()?.is_some() {
            return Ok(true);
        }
        if !client.buf.is_empty() || client.try_fill()?.is_some() {
            return Ok(false);
        }
        if client.shared.stopped() {
            return Err(stopping());
        }
    }
}

fn relay_request_body(
    client: &mut Conn<'_>,
    to: &mut TcpStream,
    request: &Request,
) -> io::Result<()> {
    if request.is_chunked() {
        relay_chunked(client, to)
    } else {
        let n = request.content_length()?.unwrap_or(0);
        client.relay_exact(n as u64, to)
    }
}

/// Relays a chunked body as it is: size lines, data, last chunk, trailers.
fn relay_chunked(from: &mut Conn<'_>, to: &mut TcpStream) -> io::Result<()> {
    loop {
        let line = from.read_line()?;
        to.write_all(&line)?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size line {text:?}")))?;
        if size == 0 {
            loop {
                let trailer = from.read_line()?;
                to.write_all(&trailer)?;
                if trailer == b"\r\n" {
                    return Ok(());
                }
            }
        }
        // The data and its CRLF.
        from.relay_exact(size + 2, to)?;
    }
}

/// The head with its request line in origin form and without the
/// proxy-only header fields.
fn origin_form_head(head: &[u8], request: &Request, path: &str) -> Vec<u8> {
    let mut out = format!("{} {} {}\r\n", request.method, path, request.version).into_bytes();
    let fields = head
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty());
    for line in fields {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name);
        let name = name.trim();
        if name.eq_ignore_ascii_case("proxy-authorization")
            || name.eq_ignore_ascii_case("proxy-connection")
        {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Status code and header fields (names lowercased) of a response head.
fn parse_response_head(raw: &[u8]) -> io::Result<(u16, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("bad header line {line:?}")));
        };
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        headers.push((name.trim().to_ascii_lowercase(), value.to_string()));
    }
    Ok((status, headers))
}

fn has_token<'v>(values: impl IntoIterator<Item = &'v str>, token: &str) -> bool {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

// ---------------------------------------------------------------------------
// Targets

/// "http://host[:port][/path][?query]" → (host, port, origin-form target).
fn parse_absolute(target: &str) -> Option<(String, u16, String)> {
    let scheme = target.get(..7)?;
    if !scheme.eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &target[7..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority, Some(80))?;
    Some((host, port, path))
}

/// "host:port" or "[v6]:port" (the port may be left out if there is a default).
fn split_host_port(authority: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port?,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port))
}

/// Connects to a loopback host; None for any other host (never looked up)
/// or if the connection fails.
fn connect_loopback(host: &str, port: u16) -> Option<TcpStream> {
    let ips: Vec<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
        vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
    } else {
        match host.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() => vec![ip],
            _ => return None,
        }
    };
    ips.into_iter()
        .find_map(|ip| TcpStream::connect_timeout(&SocketAddr::new(ip, port), CONNECT_TIMEOUT).ok())
}

fn configure(sock: &TcpStream) -> io::Result<()> {
    sock.set_read_timeout(Some(POLL))?;
    sock.set_write_timeout(Some(WRITE_TIMEOUT))?;
    sock.set_nodelay(true)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

// ---------------------------------------------------------------------------
// Buffered connection

/// A socket with a receive buffer; every read polls the stop flag.
struct Conn<'a> {
    sock: TcpStream,
    buf: Vec<u8>,
    shared: &'a Shared,
}

impl<'a> Conn<'a> {
    fn new(sock: TcpStream, shared: &'a Shared) -> io::Result<Conn<'a>> {
        configure(&sock)?;
        Ok(Conn {
            sock,
            buf: Vec::new(),
            shared,
        })
    }

    /// One read (at most one poll interval). Some(0) = end of stream,
    /// None = nothing arrived in time.
    fn try_fill(&mut self) -> io::Result<Option<usize>> {
        let mut chunk = [0u8; 8 * 1024];
        match self.sock.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(Some(n))
            }
            Err(e) if is_timeout(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads more bytes into the buffer. Ok(0) = end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        loop {
            if self.shared.stopped() {
                return Err(stopping());
            }
            if let Some(n) = self.try_fill()? {
                return Ok(n);
            }
        }
    }

    /// The next head, through its blank line. None if the peer closed (or
    /// the proxy stopped) before sending anything more.
    fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..end + 4).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("head too large".into()));
            }
            let idle = self.buf.is_empty();
            match self.fill() {
                Ok(0) if idle => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if idle && (is_disconnect(&e) || self.shared.stopped()) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// One line, its CRLF included.
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                return Ok(self.buf.drain(..end + 2).collect());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Copies exactly `n` bytes to `to`, as they arrive.
    fn relay_exact(&mut self, n: u64, to: &mut TcpStream) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            if self.buf.is_empty() && self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = self
                .buf
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            to.write_all(&self.buf[..take])?;
            self.buf.drain(..take);
            left -= take as u64;
        }
        Ok(())
    }

    /// Copies everything to `to` until the end of stream.
    fn relay_to_end(&mut self, to: &mut TcpStream) -> io::Result<()> {
        loop {
            to.write_all(&self.buf)?;
            self.buf.clear();
            if self.fill()? == 0 {
                return Ok(());
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sock.write_all(bytes)?;
        self.sock.flush()
    }

    /// Closes our sending side (FIN), then reads and discards what the peer
    /// still sends, for at most [`LINGER`], so the close is not a reset.
    fn finish(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        while Instant::now() < deadline && !self.shared.stopped() {
            match self.sock.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Encodings

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let byte = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
        let bits = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= group.len() {
                let index = (bits >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
