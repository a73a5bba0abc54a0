//! `Client`, its builder, and the loop that runs one request: connection, exchange,
//! redirects, retry.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Uri};
use ureq_proto::client::state::Prepare;
use ureq_proto::client::{Call, RecvResponseResult};

use crate::deadline::{Deadline, Timeouts};
use crate::error::{Error, Result};
use crate::exchange::{
    self, Answer, HeadRules, ReqBody, DEFAULT_MAX_REQUEST_HEAD, DEFAULT_MAX_RESPONSE_HEAD,
    SEND_BUFFER,
};
use crate::netloc::{self, Netloc, Redacted, Scheme};
use crate::pool::{Conn, ConnectionKind, Pool, PoolKey, PoolLimits};
use crate::proxy::{self, Proxies, Proxy};
use crate::redirect::{self, DEFAULT_MAX_REDIRECTS};
use crate::request::{RequestBuilder, RequestParts};
use crate::resolve::{Resolve, Resolver};
use crate::response::{self, Body, Response, DEFAULT_BODY_LIMIT};
use crate::stats::{Counters, Stats};
use crate::tls::{
    CertificateExpiry, Clock, HostPattern, TlsConfigs, TlsSettings, DEFAULT_TLS_CACHE_SIZE,
};
use crate::transport::{Handshake, Io};

/// The `User-Agent` sent unless the request sets one.
const USER_AGENT: &str = concat!("tinyhttps/", env!("CARGO_PKG_VERSION"));

/// Most body bytes read and thrown away to reuse a connection after a redirect;
/// beyond that, closing and reconnecting is cheaper.
const REDIRECT_DRAIN_LIMIT: u64 = 64 * 1024;

/// Longest accepted time limit (each phase, the overall deadline, the idle timeout):
/// one day. A longer one is a unit mistake (milliseconds given as seconds); a
/// download that may take longer turns the overall deadline off with
/// [`ClientBuilder::timeout_overall`]`(None)`, and each phase limit still applies.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Most redirects a client may be set to follow: browsers stop at 20, curl at 50;
/// a chain longer than 100 is a loop.
const MAX_REDIRECTS_ALLOWED: u32 = 100;

/// Smallest accepted response head limit: an ordinary server's head (status, date,
/// server, content type and length, a cookie, CORS headers) takes up to about 1 KiB.
const MIN_RESPONSE_HEAD: usize = 1024;

/// Largest accepted response head limit: a connection's receive buffer may grow to
/// it, so it bounds what a server can make the client hold per connection.
const MAX_RESPONSE_HEAD: usize = 1024 * 1024;

/// Smallest accepted request head limit: the stack buffer a head is assembled in,
/// where it costs nothing; a lower limit would save nothing.
const MIN_REQUEST_HEAD: usize = SEND_BUFFER;

/// Largest accepted request head limit: the send buffer grows to the head's size,
/// and servers refuse far less (8 to 64 KiB).
const MAX_REQUEST_HEAD: usize = 1024 * 1024;

/// Largest accepted default body limit: [`Response::into_string`] and
/// [`Response::into_vec`] hold the whole body in memory, and a device has tens of
/// MiB. Stream larger bodies with [`Response::into_reader`], or pass a larger limit
/// to [`Response::into_vec_limited`] for one call.
const MAX_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

/// Most idle connections the pool may be set to keep (per host, and in all): each
/// holds a socket (the default file limit is 1024) and about 44 KiB, and the pool
/// scans them linearly.
const MAX_IDLE_ALLOWED: usize = 1024;

/// Largest accepted TLS config cache: the cache reserves its capacity up front.
const MAX_TLS_CACHE_SIZE: usize = 1024;

/// Longest accepted `User-Agent`: more than any list of product tokens, and it is
/// sent with every request.
const MAX_USER_AGENT: usize = 1024;

/// A blocking HTTP/1.1 and HTTPS client.
///
/// Build one at start-up and use it for the life of the program: it keeps the TLS
/// configs, resumable sessions and idle connections that make later requests cheap.
/// `Clone` is cheap (an `Arc`), and a client may be shared by many threads.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client
///     .get("https://device-api.example.com/v1/status")
///     .header("Accept", "application/json")
///     .call()?;
/// assert_eq!(resp.status(), 200);
/// let text = resp.into_string()?;
/// # let _ = text; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub pool: Pool,
    tls: TlsConfigs,
    counters: Arc<Counters>,
}

/// Settings fixed at build time.
pub(crate) struct Config {
    pub timeouts: Timeouts,
    pub redirects: u32,
    pub max_response_head: usize,
    pub max_request_head: usize,
    pub body_limit: u64,
    user_agent: HeaderValue,
    resolver: Resolver,
    proxies: Proxies,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeouts", &self.inner.config.timeouts)
            .field("redirects", &self.inner.config.redirects)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the defaults: webpki-roots trust, every timeout set (see
    /// [`ClientBuilder`]), redirects followed up to 10, pooling on.
    pub fn new() -> Client {
        ClientBuilder::new()
            .build()
            .expect("the default settings are valid")
    }

    /// A builder to change the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, url)
    }

    /// A HEAD request (the response has no body).
    pub fn head(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::HEAD, url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, url)
    }

    /// An OPTIONS request.
    pub fn options(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::OPTIONS, url)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        RequestBuilder::new(self, method, url)
    }

    /// A snapshot of the counters: requests, connections, handshakes, pool and TLS
    /// cache activity, bytes.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// When the certificates this client depends on expire: each trust policy's
    /// client certificate, and the leaf each server presented in its last full
    /// handshake. A daemon checks [`CertificateExpiry::soonest`] against its alarm
    /// horizon (weeks, not days: a fielded device may need a firmware update to
    /// trust a new chain).
    pub fn certificate_expiry(&self) -> CertificateExpiry {
        self.inner.tls.expiry()
    }

    /// Opens a connection to `url`'s host ahead of need (TCP, TLS handshake) and
    /// keeps it in the pool, unless a live one is there already: a daemon does this
    /// at boot, while the CPU is idle, so its first real request is cheap.
    pub fn warm_up(&self, url: &str) -> Result<()> {
        let uri: Uri = url.parse().map_err(|_| Error::InvalidUrl {
            url: netloc::redact_str(url).into(),
            reason: "not a valid URL",
        })?;
        let netloc = Netloc::from_uri(&uri)?;
        let conn = self.connection(&netloc, Deadline::start(self.inner.config.timeouts), false)?;
        self.inner.pool.checkin(conn);
        Ok(())
    }

    /// Runs one request to its response head: connection, exchange, redirects, retry.
    pub(crate) fn execute(&self, parts: RequestParts, mut body: ReqBody) -> Result<Response> {
        let inner = &self.inner;
        let RequestParts {
            mut method,
            mut uri,
            mut headers,
            timeout,
            keep_raw_head,
        } = parts;
        let mut timeouts = inner.config.timeouts;
        if timeout.is_some() {
            timeouts.overall = timeout;
        }
        let deadline = Deadline::start(timeouts);
        let mut hops = 0;
        let mut retried = false;
        let mut first = true;
        loop {
            if !first {
                body.rewind()?;
            }
            first = false;
            let netloc = Netloc::from_uri(&uri)?;
            let proxy = match netloc.scheme {
                Scheme::Http => inner.config.proxies.for_netloc(&netloc).cloned(),
                Scheme::Https => None,
            };
            let mut call = self.new_call(&method, &uri, &headers, &body, proxy.as_deref())?;
            let mut conn = self.connection(&netloc, deadline, retried)?;
            if !headers.contains_key(header::HOST) {
                // Made once per connection instead of formatted per request.
                let host = conn.host_header.clone();
                if let Err(e) = call.header(header::HOST, host) {
                    inner.pool.checkin(conn);
                    return Err(Error::invalid_request(e));
                }
            }
            conn.io.set_deadline(deadline);
            conn.buf.received = false;
            Counters::add(&inner.counters.requests, 1);
            trace!("{method} {}", Redacted(&uri));
            let host = conn.io.host().clone();
            let head_rules = HeadRules {
                max_request: inner.config.max_request_head,
                max: inner.config.max_response_head,
                keep_raw: keep_raw_head,
            };
            // Through a proxy, plain http names the whole URL in the request line.
            let absolute = proxy.as_ref().map(|_| netloc::absolute_form(&uri));
            let result = exchange::send_and_receive(
                &mut conn.io,
                &mut conn.buf,
                call,
                &mut body,
                &host,
                absolute.as_deref(),
                head_rules,
            );
            let Answer {
                head,
                next,
                reusable,
            } = match result {
                Ok(v) => v,
                Err(e) => {
                    let retry = conn.kind == ConnectionKind::Reused
                        && !conn.buf.received
                        && !retried
                        && matches!(e, Error::Io { .. })
                        && body.is_replayable()
                        && is_idempotent(&method, &headers);
                    conn.close();
                    if retry {
                        debug!(
                            "retrying {method} {} on a fresh connection after: {e}",
                            Redacted(&uri)
                        );
                        Counters::add(&inner.counters.retries, 1);
                        retried = true;
                        continue;
                    }
                    debug!("{method} {} failed: {e}", Redacted(&uri));
                    return Err(e);
                }
            };
            let status = head.status();
            let kind = conn.kind;
            let body_reader = match next {
                RecvResponseResult::RecvBody(call) => {
                    let reusable = reusable && response::reuse_allowed(head.headers());
                    Body::reading(conn, call, inner.clone(), reusable)
                }
                other => {
                    if reusable && exchange::finish_bodyless(other, &conn.buf) {
                        inner.pool.checkin(conn);
                    } else {
                        conn.close();
                    }
                    Body::empty(inner.config.body_limit)
                }
            };
            let location = head
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let follow = match location {
                Some(location) if redirect::is_redirect(status) && inner.config.redirects > 0 => {
                    let keeps = redirect::keeps_method(status, &method);
                    // A streamed body cannot be sent again: hand the 307/308 back.
                    (!keeps || body.is_replayable()).then(|| (location.to_string(), keeps))
                }
                _ => None,
            };
            let Some((location, keeps)) = follow else {
                return Ok(Response::new(head, uri, body_reader, kind));
            };
            let to = redirect::target(&uri, &location, &host)?;
            if hops == inner.config.redirects {
                return Err(Error::TooManyRedirects {
                    limit: inner.config.redirects,
                    url: Redacted(&to).to_string().into(),
                });
            }
            debug!(
                "following {status} redirect from {} to {}",
                Redacted(&uri),
                Redacted(&to)
            );
            drain(body_reader);
            redirect::next_headers(&mut headers, &uri, &to, keeps);
            if !keeps {
                if method != Method::HEAD {
                    method = Method::GET;
                }
                body = ReqBody::None;
            }
            uri = to;
            hops += 1;
        }
    }

    /// A pooled connection for `netloc`, or a new one (always new when `fresh`).
    fn connection(&self, netloc: &Netloc, deadline: Deadline, fresh: bool) -> Result<Conn> {
        let inner = &self.inner;
        let drop_idle = &mut |policy| inner.pool.drop_policy(policy);
        let (policy, trust) = match netloc.scheme {
            Scheme::Https => {
                // Before the pool: a pooled connection must not outlive a change of
                // the root files it was verified with. When the re-check is not due
                // this is two relaxed atomic loads (its time, the generation).
                inner.tls.recheck(deadline.started(), drop_idle);
                let policy = inner.tls.policy_for(&netloc.host);
                (policy, inner.tls.generation(policy))
            }
            Scheme::Http => (usize::MAX, 0),
        };
        let mut key = PoolKey {
            netloc: netloc.clone(),
            policy,
            trust,
            proxy: inner.config.proxies.for_netloc(netloc).cloned(),
        };
        if !fresh {
            if let Some(conn) = inner.pool.checkout(&key) {
                return Ok(conn);
            }
        }
        let tls = match netloc.scheme {
            Scheme::Https => {
                let found = inner.tls.get(netloc, &inner.counters, drop_idle)?;
                // A change noticed while building makes this the new generation.
                key.trust = found.trust;
                Some(found)
            }
            Scheme::Http => None,
        };
        let dial = key.proxy.as_ref().map_or(netloc, |p| &p.netloc);
        let resolver = &inner.config.resolver;
        let mut io = Io::connect_tcp(dial, netloc, resolver, deadline, &inner.counters)?;
        let mut kind = ConnectionKind::New;
        if let Some(found) = tls {
            if let Some(proxy) = &key.proxy {
                proxy::tunnel(&mut io, proxy, netloc)?;
            }
            let (tls_io, handshake) = io.start_tls(found.config, netloc, found.identity)?;
            if handshake == Handshake::Full {
                inner.tls.saw_server(netloc, tls_io.server_leaf());
            }
            io = tls_io;
            kind = match handshake {
                Handshake::Full => ConnectionKind::NewTlsFull,
                Handshake::Resumed => ConnectionKind::NewTlsResumed,
            };
        }
        Ok(Conn::new(io, key, kind))
    }

    /// The ureq-proto call for one hop, with the headers this client adds.
    fn new_call(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &ReqBody,
        proxy: Option<&Proxy>,
    ) -> Result<Call<Prepare>> {
        let invalid = |e: ureq_proto::Error| Error::invalid_request(e);
        let mut request = http::Request::new(());
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers.clone();
        let mut call = Call::new(request).map_err(invalid)?;
        if let Some(proxy) = proxy {
            proxy.authorize(&mut call)?;
        }
        if !headers.contains_key(header::USER_AGENT) {
            call.header(header::USER_AGENT, self.inner.config.user_agent.clone())
                .map_err(invalid)?;
        }
        let framed = headers.contains_key(header::CONTENT_LENGTH)
            || headers.contains_key(header::TRANSFER_ENCODING);
        if !framed {
            match body {
                ReqBody::None if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
                    call.header(header::CONTENT_LENGTH, "0").map_err(invalid)?
                }
                ReqBody::None => {}
                ReqBody::Bytes(b) => call
                    .header(header::CONTENT_LENGTH, b.len().to_string())
                    .map_err(invalid)?,
                ReqBody::Reader(_) | ReqBody::Seekable(..) => call
                    .header(header::TRANSFER_ENCODING, "chunked")
                    .map_err(invalid)?,
            }
        }
        Ok(call)
    }
}

/// Reads a redirect's body away so its connection can be reused; a large one is
/// dropped instead (closing the connection).
fn drain(mut body: Body) {
    let _ = std::io::copy(
        &mut (&mut body).take(REDIRECT_DRAIN_LIMIT),
        &mut std::io::sink(),
    );
}

/// Whether a request may be sent twice: RFC 9110's idempotent methods, or one the
/// caller marked with an `Idempotency-Key`.
fn is_idempotent(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    ) || headers.contains_key("idempotency-key")
}

/// Builds a [`Client`]. Every setting has a documented default; `build` checks them.
///
/// ```
/// use std::time::Duration;
/// let client = tinyhttps::Client::builder()
///     .timeout(Duration::from_secs(20))
///     .redirects(3)
///     .max_idle_per_host(1)
///     .build()?;
/// # let _ = client; Ok::<(), tinyhttps::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    timeouts: Timeouts,
    redirects: u32,
    max_response_head: usize,
    max_request_head: usize,
    body_limit: u64,
    user_agent: String,
    resolver: Resolver,
    proxies: Result<Proxies>,
    pool: PoolLimits,
    tls: TlsSettings,
    tls_rules: Vec<(String, TlsSettings)>,
    tls_cache_size: usize,
    clock: Clock,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// The defaults (each named constant is documented at its definition).
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            timeouts: Timeouts::default(),
            redirects: DEFAULT_MAX_REDIRECTS,
            max_response_head: DEFAULT_MAX_RESPONSE_HEAD,
            max_request_head: DEFAULT_MAX_REQUEST_HEAD,
            body_limit: DEFAULT_BODY_LIMIT,
            user_agent: USER_AGENT.to_string(),
            resolver: Resolver::default(),
            proxies: Ok(Proxies::default()),
            pool: PoolLimits::default(),
            tls: TlsSettings::new(),
            tls_rules: Vec::new(),
            tls_cache_size: DEFAULT_TLS_CACHE_SIZE,
            clock: Clock::default(),
        }
    }

    /// The overall deadline of each request, from connect to the last body byte
    /// (default [`DEFAULT_TIMEOUT_OVERALL`](crate::DEFAULT_TIMEOUT_OVERALL)). Also
    /// caps every phase timeout at this value.
    ///
    /// Every time limit must be above zero and at most one day, else
    /// [`build`](Self::build) fails with [`Error::Config`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let t = &mut self.timeouts;
        t.overall = Some(timeout);
        for phase in [&mut t.connect, &mut t.handshake, &mut t.read, &mut t.write] {
            *phase = (*phase).min(timeout);
        }
        self
    }

    /// The overall deadline alone, without touching the phase limits; `None` turns it
    /// off (each phase keeps its own limit, so nothing waits forever: a long
    /// download then runs as long as data keeps coming). `Some` accepts above zero
    /// to one day.
    pub fn timeout_overall(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.overall = timeout;
        self
    }

    /// DNS resolution plus TCP connect (default
    /// [`DEFAULT_TIMEOUT_CONNECT`](crate::DEFAULT_TIMEOUT_CONNECT); above zero, at
    /// most one day): one budget for the lookup and every address, each address
    /// getting an equal share of what is left.
    pub fn timeout_connect(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// The whole TLS handshake, however its bytes arrive (default
    /// [`DEFAULT_TIMEOUT_HANDSHAKE`](crate::DEFAULT_TIMEOUT_HANDSHAKE); above zero,
    /// at most one day).
    pub fn timeout_handshake(mut self, timeout: Duration) -> Self {
        self.timeouts.handshake = timeout;
        self
    }

    /// Longest wait for the next response bytes (default
    /// [`DEFAULT_TIMEOUT_READ`](crate::DEFAULT_TIMEOUT_READ); above zero, at most
    /// one day).
    pub fn timeout_read(mut self, timeout: Duration) -> Self {
        self.timeouts.read = timeout;
        self
    }

    /// Longest wait for a socket write to make progress (default
    /// [`DEFAULT_TIMEOUT_WRITE`](crate::DEFAULT_TIMEOUT_WRITE); above zero, at most
    /// one day).
    pub fn timeout_write(mut self, timeout: Duration) -> Self {
        self.timeouts.write = timeout;
        self
    }

    /// How many redirects to follow (default 10, at most 100); 0 returns 3xx
    /// responses as they are.
    ///
    /// A redirect from `https` to `http` is refused ([`Error::InsecureRedirect`]).
    /// When a redirect changes the origin (scheme, host name or port), the headers
    /// you set named `Host`, `Authorization`, `Cookie` and `Proxy-Authorization` are
    /// dropped for that hop and the ones after it, and `Host` is then made from each
    /// hop's URL; credentials in the URL's `user:password@` part go only to a URL
    /// that carries them (a relative `Location` keeps them, another origin's does
    /// not). Every other header you set follows every redirect: send secrets in
    /// `Authorization`, or set 0 here and follow redirects yourself.
    pub fn redirects(mut self, max: u32) -> Self {
        self.redirects = max;
        self
    }

    /// Largest accepted response head, status line and headers (default
    /// [`DEFAULT_MAX_RESPONSE_HEAD`](crate::DEFAULT_MAX_RESPONSE_HEAD), 64 KiB;
    /// accepted 1 KiB to 1 MiB). A larger head is [`Error::HeadersTooLarge`].
    pub fn max_response_header_size(mut self, bytes: usize) -> Self {
        self.max_response_head = bytes;
        self
    }

    /// Largest request head, request line and headers, that a request may send
    /// (default [`DEFAULT_MAX_REQUEST_HEAD`](crate::DEFAULT_MAX_REQUEST_HEAD),
    /// 64 KiB; accepted 4 KiB to 1 MiB). A head up to 4 KiB is assembled on the
    /// stack; a larger one (a JWT bearer token, a presigned URL) on the heap. A
    /// request with a larger head fails with [`Error::InvalidRequest`] ("request
    /// head is N bytes, above the limit of M") before anything is sent.
    pub fn max_request_head_size(mut self, bytes: usize) -> Self {
        self.max_request_head = bytes;
        self
    }

    /// Default limit of [`Response::into_string`] and [`Response::into_vec`]
    /// (default [`DEFAULT_BODY_LIMIT`], 1 MiB; accepted 1 byte to 1 GiB).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The `User-Agent` header sent when a request sets none: a valid header value
    /// of 1 to 1024 bytes.
    pub fn user_agent(mut self, value: &str) -> Self {
        self.user_agent = value.to_string();
        self
    }

    /// Connects to `addr` for `host:port` instead of resolving it (like curl's
    /// `--resolve`); TLS still verifies the certificate for `host`.
    pub fn resolve(mut self, host: &str, port: u16, addr: IpAddr) -> Self {
        self.resolver
            .fixed
            .entry((host.to_ascii_lowercase(), port))
            .or_default()
            .push(SocketAddr::new(addr, port));
        self
    }

    /// Resolves host names with your own [`Resolve`] (a fixed table, a cache) instead
    /// of the system's `getaddrinfo`; [`resolve`](Self::resolve) entries still come
    /// first.
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver.custom = Some(Arc::new(resolver));
        self
    }

    /// Sends every request through this HTTP proxy: `http://[user:pass@]host[:port]`
    /// (port 3128 by default). https goes through a CONNECT tunnel, with TLS end to
    /// end and the certificate checked for the target; plain http is sent to the
    /// proxy in absolute form. A bad URL is reported by [`build`](Self::build).
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxies = Proxy::parse(url).map(Proxies::all);
        self
    }

    /// Takes the proxy from `HTTPS_PROXY` (https), `HTTP_PROXY` (http) or `ALL_PROXY`
    /// (either), except for the hosts listed in `NO_PROXY`, read when this is called.
    ///
    /// - Each name is read upper case first, then lower case; a variable set but
    ///   blank counts as unset.
    /// - In a CGI program (`REQUEST_METHOD` set) upper-case `HTTP_PROXY` is
    ///   ignored: the web server fills it from the request's `Proxy:` header
    ///   ("httpoxy"). Lower-case `http_proxy` still applies.
    /// - A proxy with another scheme than `http://` (`socks5://`, `https://`) is
    ///   ignored with a debug log, so that variable means no proxy; a malformed
    ///   `http://` one is an error from [`build`](Self::build).
    /// - `NO_PROXY` is a comma-separated list of: `*` (no proxy at all);
    ///   `example.com`, `.example.com` or `*.example.com` (that name and every
    ///   name below it); an IP address, IPv6 bare or bracketed (`::1`, `[::1]`);
    ///   any of those with `:port` to bypass only that port; a CIDR range
    ///   (`10.0.0.0/8`, `fd00::/8`) for addresses in it. Names match names and
    ///   addresses match addresses: nothing is resolved. Entries that are none of
    ///   these are ignored.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxies = Proxies::from_env();
        self
    }

    /// Idle connections kept per host (default 2, at most 1024); 0 turns pooling off.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.pool.max_idle_per_host = n;
        self
    }

    /// Idle connections kept in all (default 16, at most 1024); 0 turns pooling off.
    pub fn max_idle(mut self, n: usize) -> Self {
        self.pool.max_idle = n;
        self
    }

    /// How long a connection may sit idle and still be reused (default 30 s; above
    /// zero, at most one day: turn pooling off with
    /// [`max_idle_per_host`](Self::max_idle_per_host)`(0)`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool.idle_timeout = timeout;
        self
    }

    /// TLS settings for every host without a [`tls_for`](Self::tls_for) rule
    /// (default: [`TlsSettings::new`], webpki-roots).
    pub fn tls(mut self, settings: TlsSettings) -> Self {
        self.tls = settings;
        self
    }

    /// TLS settings for the hosts matching `pattern`: `host.example.com` exactly, or
    /// `*.example.com` for every name below it, compared without case and without
    /// a trailing dot (`https://HOST.example.com./` gets the rule of
    /// `host.example.com`). A rule applies on every port: [`build`](Self::build)
    /// refuses a pattern with a port or a scheme. The first matching rule wins. Each
    /// rule is its own trust policy, with its own session store.
    pub fn tls_for(mut self, pattern: &str, settings: TlsSettings) -> Self {
        self.tls_rules.push((pattern.to_string(), settings));
        self
    }

    /// Capacity of the per-netloc TLS config cache (default 8, at most 1024); 0 builds
    /// a config for every new connection (sessions still resume: they live with the
    /// policy).
    pub fn tls_cache_size(mut self, n: usize) -> Self {
        self.tls_cache_size = n;
        self
    }

    /// Certificates are never checked at a time earlier than this (default
    /// [`DEFAULT_TIME_FLOOR`](crate::DEFAULT_TIME_FLOOR), a date before this
    /// release; a time earlier than that changes nothing: the floor only rises).
    /// The verification time is the system clock, or the floor if the clock is
    /// behind it: a board without a battery-backed clock boots at 1970 and, until
    /// NTP answers, would find every certificate "not valid yet". Give the time of
    /// the last NTP sync that the daemon saved to storage.
    ///
    /// The floor only moves time forward to a date known to have passed, so it
    /// never accepts a certificate the true time would reject as expired; give
    /// only a time that has passed (an authenticated sync, not a server's `Date`).
    /// When a certificate is still refused on its dates and the clock is behind
    /// the floor or the certificate's start, [`Error::Certificate`] says so:
    /// "... this device's clock reads 1970-01-02T00:00:00Z: is the clock set?".
    pub fn time_floor(mut self, time: SystemTime) -> Self {
        self.clock.raise_floor(time);
        self
    }

    /// Reads the wall-clock time from `source` instead of the system clock, for
    /// tests of the time floor and clock errors. Not part of the stable API.
    #[doc(hidden)]
    pub fn time_source(mut self, source: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock.set_source(Arc::new(source));
        self
    }

    /// Checks the settings and builds the client. Root certificate files are read
    /// when first needed, not here.
    ///
    /// # Errors
    /// [`Error::Config`] for a setting out of its range (named in the message, with
    /// the accepted range; each setter says its range), a bad proxy URL or TLS rule
    /// pattern, or unusable TLS settings.
    pub fn build(self) -> Result<Client> {
        self.check_limits()?;
        let user_agent = HeaderValue::from_str(&self.user_agent).map_err(|_| {
            Error::config(format_args!(
                "user_agent is not a valid header value: accepted visible ASCII \
                 and spaces, 1 to {MAX_USER_AGENT} bytes"
            ))
        })?;
        let rules = self
            .tls_rules
            .into_iter()
            .map(|(p, s)| Ok((HostPattern::new(&p)?, s)))
            .collect::<Result<Vec<_>>>()?;
        let tls = TlsConfigs::new(self.tls, rules, self.tls_cache_size, self.clock)?;
        let counters = Arc::<Counters>::default();
        Ok(Client {
            inner: Arc::new(Inner {
                config: Config {
                    timeouts: self.timeouts,
                    redirects: self.redirects,
                    max_response_head: self.max_response_head,
                    max_request_head: self.max_request_head,
                    body_limit: self.body_limit,
                    user_agent,
                    resolver: self.resolver,
                    proxies: self.proxies?,
                },
                pool: Pool::new(self.pool, counters.clone()),
                tls,
                counters,
            }),
        })
    }

    /// Checks every number against its accepted range.
    fn check_limits(&self) -> Result<()> {
        let t = &self.timeouts;
        let time = Duration::from_nanos(1)..=MAX_TIMEOUT;
        if let Some(overall) = t.overall {
            in_range("timeout/timeout_overall", overall, time.clone(), "")?;
        }
        in_range("timeout_connect", t.connect, time.clone(), "")?;
        in_range("timeout_handshake", t.handshake, time.clone(), "")?;
        in_range("timeout_read", t.read, time.clone(), "")?;
        in_range("timeout_write", t.write, time.clone(), "")?;
        in_range("idle_timeout", self.pool.idle_timeout, time, "")?;
        in_range("redirects", self.redirects, 0..=MAX_REDIRECTS_ALLOWED, "")?;
        let response_head = MIN_RESPONSE_HEAD..=MAX_RESPONSE_HEAD;
        let request_head = MIN_REQUEST_HEAD..=MAX_REQUEST_HEAD;
        let bytes = " bytes";
        in_range(
            "max_response_header_size",
            self.max_response_head,
            response_head,
            bytes,
        )?;
        in_range(
            "max_request_head_size",
            self.max_request_head,
            request_head,
            bytes,
        )?;
        in_range("body_limit", self.body_limit, 1..=MAX_BODY_LIMIT, bytes)?;
        let idle = 0..=MAX_IDLE_ALLOWED;
        in_range(
            "max_idle_per_host",
            self.pool.max_idle_per_host,
            idle.clone(),
            "",
        )?;
        in_range("max_idle", self.pool.max_idle, idle, "")?;
        in_range(
            "tls_cache_size",
            self.tls_cache_size,
            0..=MAX_TLS_CACHE_SIZE,
            "",
        )?;
        let ua = self.user_agent.len();
        in_range("user_agent length", ua, 1..=MAX_USER_AGENT, bytes)
    }
}

/// [`Error::Config`] naming `setting`, its value and the accepted range, unless
/// `value` is in `range`.
fn in_range<T: PartialOrd + fmt::Debug>(
    setting: &str,
    value: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<()> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(Error::config(format_args!(
        "{setting} = {value:?}{unit} is out of range: accepted {:?} to {:?}{unit}",
        range.start(),
        range.end()
    )))
}
