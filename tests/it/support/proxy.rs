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
//! Stopping (drop) never hangs: see [`service`](super::service); the upstream
//! sockets are shut down too.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::prelude::{Engine, BASE64_STANDARD};

use super::lock;
use super::message::{content_length, parse_response_head, Request};
use super::service::{Core, Service};
use super::wire::{configure, is_timeout, stopping, Wire};

/// How long connecting to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The `Proxy-Authorization` value for these credentials: "Basic base64(user:pass)".
pub fn basic_auth(user: &str, pass: &str) -> String {
    format!("Basic {}", BASE64_STANDARD.encode(format!("{user}:{pass}")))
}

/// State shared by the proxy handle and its threads.
struct Shared {
    options: ProxyOptions,
    seen: Mutex<Vec<Request>>,
    tunnels: AtomicUsize,
}

/// A running test proxy; stops when dropped.
pub struct Proxy {
    service: Service,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1, any free port.
    pub fn start(options: ProxyOptions) -> Proxy {
        let shared = Arc::new(Shared {
            options,
            seen: Mutex::new(Vec::new()),
            tunnels: AtomicUsize::new(0),
        });
        let for_threads = shared.clone();
        let service = Service::start("test proxy", move |core, sock, id| {
            run_client(&for_threads, core, sock, id)
        });
        Proxy { service, shared }
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
        self.service.addr()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Every request head received so far, in order (rejected ones included):
    /// `conn_id` is the client connection's index, the body is not recorded.
    pub fn seen(&self) -> Vec<Request> {
        lock(&self.shared.seen).clone()
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> usize {
        self.service.connections()
    }

    /// CONNECT tunnels established so far (200 sent).
    pub fn tunnels(&self) -> usize {
        self.shared.tunnels.load(Ordering::SeqCst)
    }
}

/// What happens to the client connection after a forwarded exchange.
#[derive(PartialEq)]
enum Next {
    KeepAlive,
    Close,
}

fn run_client(shared: &Shared, core: &Core, sock: TcpStream, conn_id: usize) -> io::Result<()> {
    let _tracked = core.track(&sock)?;
    let mut client = Wire::new(sock, None, &core.stop)?;
    loop {
        let Some(head) = client.read_head()? else {
            return Ok(());
        };
        let Ok(request) = Request::parse_head(&head) else {
            return reject(&mut client, 400, "Bad Request", "");
        };
        lock(&shared.seen).push(Request {
            conn_id,
            ..request.clone()
        });
        if !authorized(&shared.options, &request) {
            let challenge = "Proxy-Authenticate: Basic realm=\"test\"\r\n";
            return reject(&mut client, 407, "Proxy Authentication Required", challenge);
        }
        if request.method.eq_ignore_ascii_case("CONNECT") {
            return tunnel(shared, core, client, &request.target);
        }
        if forward(core, &mut client, &request, &head)? == Next::Close {
            client.finish();
            return Ok(());
        }
    }
}

/// Sends an error response with `Connection: close`, then closes.
fn reject(client: &mut Wire<'_>, code: u16, reason: &str, extra: &str) -> io::Result<()> {
    send_error(client, code, reason, extra)?;
    client.finish();
    Ok(())
}

fn send_error(client: &mut Wire<'_>, code: u16, reason: &str, extra: &str) -> io::Result<()> {
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
    let expected = BASE64_STANDARD.encode(format!("{user}:{pass}"));
    request
        .header_all("proxy-authorization")
        .iter()
        .filter_map(|v| v.split_once(' '))
        .any(|(scheme, token)| scheme.eq_ignore_ascii_case("basic") && token.trim() == expected)
}

// ---------------------------------------------------------------------------
// CONNECT

fn tunnel(shared: &Shared, core: &Core, mut client: Wire<'_>, target: &str) -> io::Result<()> {
    if shared.options.refuse_connect {
        return reject(&mut client, 403, "Forbidden", "");
    }
    let Some((host, port)) = parse_authority(target) else {
        return reject(&mut client, 400, "Bad Request", "");
    };
    let Some(upstream) = connect_loopback(&host, port) else {
        return reject(&mut client, 502, "Bad Gateway", "");
    };
    let _tracked = core.track(&upstream)?;
    configure(&upstream)?;
    // Counted first, so a client that saw the 200 sees the count.
    shared.tunnels.fetch_add(1, Ordering::SeqCst);
    client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (client_sock, early) = client.into_parts();
    // Bytes the client sent right after the CONNECT head.
    (&upstream).write_all(&early)?;

    let (from_client, to_upstream) = (client_sock.try_clone()?, upstream.try_clone()?);
    thread::scope(|both_ways| {
        both_ways.spawn(|| pump(core, from_client, to_upstream));
        pump(core, upstream, client_sock);
    });
    Ok(())
}

/// Copies `from` to `to` until `from` ends (or fails, or the proxy stops),
/// then closes the sending half of `to` so the other side sees the end.
fn pump(core: &Core, mut from: TcpStream, mut to: TcpStream) {
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
                if core.stopped() {
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

fn forward(core: &Core, client: &mut Wire<'_>, request: &Request, head: &[u8]) -> io::Result<Next> {
    let Some((host, port, path)) = parse_absolute(&request.target) else {
        send_error(client, 400, "Bad Request", "")?;
        return Ok(Next::Close);
    };
    let Some(sock) = connect_loopback(&host, port) else {
        send_error(client, 502, "Bad Gateway", "")?;
        return Ok(Next::Close);
    };
    let _tracked = core.track(&sock)?;
    let mut upstream = Wire::new(sock, None, &core.stop)?;
    upstream.send(&origin_form_head(head, request, &path))?;

    let expects = request.expects_continue();
    let mut body_pending = request.is_chunked() || request.content_length()?.unwrap_or(0) > 0;
    let (status, headers) = loop {
        if body_pending && (!expects || !first_to_speak_is_upstream(client, &mut upstream)?) {
            relay_request_body(client, &mut upstream, request)?;
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
        Framing::Length(n) => upstream.relay_exact(n, client)?,
        Framing::Chunked => {
            upstream.read_chunked(|b| client.write_all(b))?;
        }
        Framing::UntilClose => upstream.relay_to_end(client)?,
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
    Ok(match content_length(headers)? {
        Some(n) => Framing::Length(n as u64),
        None => Framing::UntilClose,
    })
}

/// With `Expect: 100-continue`: waits until the upstream answers (true:
/// 100 Continue or a final response) or the client sends the body anyway
/// (false). Either side ending counts as speaking.
fn first_to_speak_is_upstream(client: &mut Wire<'_>, upstream: &mut Wire<'_>) -> io::Result<bool> {
    loop {
        if upstream.has_buffered() || upstream.try_fill()?.is_some() {
            return Ok(true);
        }
        if client.has_buffered() || client.try_fill()?.is_some() {
            return Ok(false);
        }
        if client.stopped() {
            return Err(stopping());
        }
    }
}

fn relay_request_body(
    client: &mut Wire<'_>,
    upstream: &mut Wire<'_>,
    request: &Request,
) -> io::Result<()> {
    if request.is_chunked() {
        client.read_chunked(|b| upstream.write_all(b))?;
        Ok(())
    } else {
        let n = request.content_length()?.unwrap_or(0);
        client.relay_exact(n as u64, upstream)
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
    let uri: http::Uri = target.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let query = uri.query().map_or(String::new(), |q| format!("?{q}"));
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    Some((host.to_string(), port, format!("{}{query}", uri.path())))
}

/// "host:port" or "[v6]:port" → (host, port).
fn parse_authority(target: &str) -> Option<(String, u16)> {
    let authority: http::uri::Authority = target.parse().ok()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    Some((host.to_string(), authority.port_u16()?))
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

// ---------------------------------------------------------------------------
// Encodings

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
