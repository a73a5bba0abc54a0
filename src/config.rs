//! [`ClientBuilder`], the validated [`Config`] it makes, and the defaults of every
//! setting with the reason for each value.
//!
//! [`ClientBuilder::build`] itself is in `client.rs`: it makes the [`Client`], and
//! this module does not depend on the client.
//!
//! [`Client`]: crate::Client

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::HeaderValue;

use crate::connect::{Keepalive, SocketOptions};
use crate::deadline::{LowSpeedLimit, Timeouts};
use crate::error::{Error, Result};
use crate::exchange::SEND_BUFFER;
use crate::pool::PoolLimits;
use crate::proxy::{Proxies, Proxy};
use crate::resolve::{Resolve, Resolver};
use crate::retry::{RetryPolicy, MAX_ATTEMPTS_ALLOWED};
use crate::tls::{Clock, HostPattern, TlsConfigs, TlsSettings};

// Defaults. -------------------------------------------------------------------------

/// DNS + TCP connect, one budget for the lookup and every address. Ten seconds
/// covers a slow cellular attach; a LAN answers in ms.
pub const DEFAULT_TIMEOUT_CONNECT: Duration = Duration::from_secs(10);
/// The whole TLS handshake. A full handshake is two round trips plus ~15 ms of
/// crypto on a Cortex-A7; ten seconds leaves room for a loaded server and a slow link.
pub const DEFAULT_TIMEOUT_HANDSHAKE: Duration = Duration::from_secs(10);
/// One socket write making no progress (the server stopped reading).
pub const DEFAULT_TIMEOUT_WRITE: Duration = Duration::from_secs(30);
/// Silence between two reads of the response (the server stopped sending).
pub const DEFAULT_TIMEOUT_READ: Duration = Duration::from_secs(30);
/// The whole request, from connect to the last body byte. Long enough for a 1 MiB
/// download at 4 KiB/s, short enough that a server dribbling a byte every few seconds
/// cannot hold a daemon's thread forever.
pub const DEFAULT_TIMEOUT_OVERALL: Duration = Duration::from_secs(300);

/// The first response byte on a reused (pooled) connection; past it the connection
/// is taken for stale ([`Phase::FirstByte`](crate::Phase::FirstByte)). NAT boxes
/// and modem reconnects drop idle connections without a word, and the next
/// request on one would wait the whole read limit. Ten seconds: a third of the
/// read limit, and several times the slowest first byte of a device's REST call
/// on a poor cellular link (a few round trips of up to a second, plus the
/// server's time); a request to an endpoint that may take longer sets its own
/// limit ([`ClientBuilder::timeout_reused_first_byte`]). A fresh connection
/// always has the whole read limit.
pub const DEFAULT_TIMEOUT_REUSED_FIRST_BYTE: Duration = Duration::from_secs(10);

/// Default number of redirects followed before
/// [`Error::TooManyRedirects`]: as many as a browser's first tries, far fewer than a
/// loop needs to be noticed.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// Default limit on the request head (request line + headers), in bytes: room for
/// the largest tokens and presigned URLs seen in practice (a few KiB to 16 KiB), and
/// more than most servers accept (nginx, Apache: 8 KiB per line by default). Set it
/// with [`ClientBuilder::max_request_head_size`].
pub const DEFAULT_MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Default limit on the response head (status line + headers), in bytes: many
/// times an ordinary head (about 1 KiB), well below what a connection may hold.
pub const DEFAULT_MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Default limit of [`Response::into_string`](crate::Response::into_string) and
/// [`Response::into_vec`](crate::Response::into_vec): 1 MiB, far above a REST
/// response and far below a device's memory. Stream larger bodies with
/// [`Response::into_reader`](crate::Response::into_reader) or raise it with
/// [`ClientBuilder::body_limit`].
///
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// Idle connections kept per netloc. Two let a request and a retry or a second thread
/// find one without opening a third.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 2;
/// Idle connections kept in all: bounds memory whatever the number of hosts.
pub const DEFAULT_MAX_IDLE: usize = 16;
/// Idle time after which a connection is closed instead of reused: below the
/// keep-alive timeouts of common servers and load balancers (nginx 75 s, AWS ALB 60 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default capacity of the per-netloc TLS config cache: firmware talks to few hosts.
pub const DEFAULT_TLS_CACHE_SIZE: usize = 8;

/// The `User-Agent` sent unless the request sets one.
const USER_AGENT: &str = concat!("tinyhttps/", env!("CARGO_PKG_VERSION"));

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_TIMEOUT_CONNECT,
            handshake: DEFAULT_TIMEOUT_HANDSHAKE,
            write: DEFAULT_TIMEOUT_WRITE,
            read: DEFAULT_TIMEOUT_READ,
            overall: Some(DEFAULT_TIMEOUT_OVERALL),
            reused_first_byte: Some(DEFAULT_TIMEOUT_REUSED_FIRST_BYTE),
            low_speed: None,
        }
    }
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            max_idle: DEFAULT_MAX_IDLE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

// Accepted ranges, checked by `build`. -----------------------------------------------

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

/// Largest accepted default body limit: `into_string` and `into_vec` hold the whole
/// body in memory, and a device has tens of MiB. Stream larger bodies with
/// `Response::into_reader`, or pass a larger limit to `Response::into_vec_limited`
/// for one call.
const MAX_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

/// Most idle connections the pool may be set to keep (per host, and in all): each
/// holds a socket (the default file limit is 1024) and about 44 KiB, and the pool
/// scans them linearly.
const MAX_IDLE_ALLOWED: usize = 1024;

/// Largest accepted TLS config cache: the cache reserves its capacity up front.
const MAX_TLS_CACHE_SIZE: usize = 1024;

/// Most keepalive probes: Linux's limit for `TCP_KEEPCNT`.
const MAX_KEEPALIVE_COUNT: u32 = 127;

/// Longest interface name: `IFNAMSIZ` (16) less the terminating NUL.
const MAX_INTERFACE_NAME: usize = 15;

/// Longest accepted `User-Agent`: more than any list of product tokens, and it is
/// sent with every request.
const MAX_USER_AGENT: usize = 1024;

/// Settings fixed at build time, checked.
pub(crate) struct Config {
    pub timeouts: Timeouts,
    pub redirects: u32,
    pub max_response_head: usize,
    pub max_request_head: usize,
    pub body_limit: u64,
    pub user_agent: HeaderValue,
    pub resolver: Resolver,
    pub proxies: Proxies,
    pub pool: PoolLimits,
    pub sockets: SocketOptions,
    pub retry: Option<RetryPolicy>,
    /// Send idempotent requests as TLS 1.3 early data ([`ClientBuilder::early_data`]).
    pub early_data: bool,
}

/// Builds a [`Client`](crate::Client). Every setting has a documented default;
/// [`build`](Self::build) checks them.
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
    sockets: SocketOptions,
    retry: Option<RetryPolicy>,
    early_data: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// The defaults (each named constant is documented at its definition).
    ///
    /// ```
    /// use std::time::Duration;
    /// // The same client as Client::new(): every default spelled out.
    /// let client = tinyhttps::ClientBuilder::new()
    ///     .timeout_overall(Some(tinyhttps::DEFAULT_TIMEOUT_OVERALL))
    ///     .timeout_read(tinyhttps::DEFAULT_TIMEOUT_READ)
    ///     .redirects(tinyhttps::DEFAULT_MAX_REDIRECTS)
    ///     .max_idle_per_host(tinyhttps::DEFAULT_MAX_IDLE_PER_HOST)
    ///     .body_limit(tinyhttps::DEFAULT_BODY_LIMIT)
    ///     .build()?;
    /// assert_eq!(tinyhttps::DEFAULT_TIMEOUT_READ, Duration::from_secs(30));
    /// # let _ = client; Ok::<(), tinyhttps::Error>(())
    /// ```
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
            sockets: SocketOptions::default(),
            retry: None,
            early_data: false,
        }
    }

    // Time limits. ------------------------------------------------------------------

    /// The overall deadline of each request, from connect to the last body byte
    /// (default [`DEFAULT_TIMEOUT_OVERALL`]). Also
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
    /// [`DEFAULT_TIMEOUT_CONNECT`]; above zero, at
    /// most one day): one budget for the lookup and every address, each address
    /// getting an equal share of what is left.
    pub fn timeout_connect(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// The whole TLS handshake, however its bytes arrive (default
    /// [`DEFAULT_TIMEOUT_HANDSHAKE`]; above zero,
    /// at most one day).
    pub fn timeout_handshake(mut self, timeout: Duration) -> Self {
        self.timeouts.handshake = timeout;
        self
    }

    /// Longest wait for the next response bytes (default
    /// [`DEFAULT_TIMEOUT_READ`]; above zero, at most
    /// one day).
    pub fn timeout_read(mut self, timeout: Duration) -> Self {
        self.timeouts.read = timeout;
        self
    }

    /// Longest wait for a socket write to make progress (default
    /// [`DEFAULT_TIMEOUT_WRITE`]; above zero, at most
    /// one day).
    pub fn timeout_write(mut self, timeout: Duration) -> Self {
        self.timeouts.write = timeout;
        self
    }

    /// Longest wait for the first response byte on a reused (pooled) connection
    /// (default [`DEFAULT_TIMEOUT_REUSED_FIRST_BYTE`]; above zero, at most one
    /// day); `None`: the read limit. Past it the connection is taken for stale (a
    /// NAT box or a modem reconnect dropped it while idle): an idempotent request
    /// with a body that can be sent again goes out again once on a fresh
    /// connection (counted in [`Stats::retries`](crate::Stats::retries)), others
    /// fail with [`Phase::FirstByte`](crate::Phase::FirstByte). Raise it for
    /// endpoints that think longer before they answer.
    pub fn timeout_reused_first_byte(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.reused_first_byte = timeout;
        self
    }

    /// Fails a request whose transfer (request and response bytes, from the
    /// request on) moves fewer than `bytes_per_sec` bytes per second over a whole
    /// `window`, like curl's `--speed-limit`/`--speed-time` (off by default;
    /// `bytes_per_sec` above zero, `window` 1 s to one day). The bytes are counted
    /// over consecutive windows, so a stall is caught within one to two windows;
    /// the error is [`Phase::LowSpeed`](crate::Phase::LowSpeed). Waiting for a
    /// slow server's first byte counts as slow too.
    pub fn low_speed_limit(mut self, bytes_per_sec: u64, window: Duration) -> Self {
        self.timeouts.low_speed = Some(LowSpeedLimit {
            bytes_per_sec,
            window,
        });
        self
    }

    // Sockets. -----------------------------------------------------------------------

    /// TCP keepalive on every new connection (off by default: each probe wakes a
    /// cellular radio and costs power and data): after `idle` without traffic a
    /// probe every `interval`, and after `count` unanswered ones the connection is
    /// dropped. `idle` and `interval` 1 s to one day (whole seconds are used),
    /// `count` 1 to 127. Keepalive finds dead idle connections only slowly; for a
    /// request in flight see [`tcp_user_timeout`](Self::tcp_user_timeout).
    pub fn tcp_keepalive(mut self, idle: Duration, interval: Duration, count: u32) -> Self {
        self.sockets.keepalive = Some(Keepalive {
            idle,
            interval,
            count,
        });
        self
    }

    /// `TCP_USER_TIMEOUT` on every new connection (Linux; off by default): the
    /// longest time data sent may stay unacknowledged before the kernel drops the
    /// connection, so a dead path fails a request in bounded time even while data
    /// is in flight (an upload whose writes all fit the send buffer). 1 ms to one
    /// day.
    pub fn tcp_user_timeout(mut self, timeout: Duration) -> Self {
        self.sockets.user_timeout = Some(timeout);
        self
    }

    /// Sends every connection through this network interface (`eth0`, `wwan0`;
    /// `SO_BINDTODEVICE`, Linux, needs `CAP_NET_RAW`), whatever the routing table
    /// says: a multi-homed board picks its link. 1 to 15 bytes. A missing
    /// interface (a modem not up yet) fails the connect with
    /// [`Error::Connect`] naming it.
    pub fn interface(mut self, name: &str) -> Self {
        self.sockets.interface = Some(name.into());
        self
    }

    /// Connects from this local address (and so only to the server's addresses
    /// of its family).
    pub fn local_address(mut self, addr: IpAddr) -> Self {
        self.sockets.local_address = Some(addr);
        self
    }

    /// Sends requests again on failures and on 429/503 answers ([`RetryPolicy`]
    /// says which and when); off by default.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    // Redirects, size limits, headers. ------------------------------------------------

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
    /// [`DEFAULT_MAX_RESPONSE_HEAD`], 64 KiB;
    /// accepted 1 KiB to 1 MiB). A larger head is [`Error::HeadersTooLarge`].
    pub fn max_response_header_size(mut self, bytes: usize) -> Self {
        self.max_response_head = bytes;
        self
    }

    /// Largest request head, request line and headers, that a request may send
    /// (default [`DEFAULT_MAX_REQUEST_HEAD`],
    /// 64 KiB; accepted 4 KiB to 1 MiB). A head up to 4 KiB is assembled on the
    /// stack; a larger one (a JWT bearer token, a presigned URL) on the heap. A
    /// request with a larger head fails with [`Error::InvalidRequest`] ("request
    /// head is N bytes, above the limit of M") before anything is sent.
    pub fn max_request_head_size(mut self, bytes: usize) -> Self {
        self.max_request_head = bytes;
        self
    }

    /// Default limit of [`Response::into_string`](crate::Response::into_string) and
    /// [`Response::into_vec`](crate::Response::into_vec)
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

    // Names and proxies. -------------------------------------------------------------

    /// Connects to `addr` for `host:port` instead of resolving it (like curl's
    /// `--resolve`); TLS still verifies the certificate for `host`. Called again
    /// for the same `host:port`, adds an address (see
    /// [`resolve_all`](Self::resolve_all)).
    pub fn resolve(self, host: &str, port: u16, addr: IpAddr) -> Self {
        self.resolve_all(host, port, &[addr])
    }

    /// Connects to these addresses for `host:port` instead of resolving it, like
    /// curl's `--resolve host:port:addr,addr`: tried as Happy Eyeballs tries a
    /// name's addresses (families interleaved from the first one's, the next
    /// attempt 250 ms after the previous one, the first to connect wins).
    pub fn resolve_all(mut self, host: &str, port: u16, addrs: &[IpAddr]) -> Self {
        self.resolver
            .fixed
            .entry((host.to_ascii_lowercase(), port))
            .or_default()
            .extend(addrs.iter().map(|addr| SocketAddr::new(*addr, port)));
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

    // The pool. ----------------------------------------------------------------------

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

    // TLS. ---------------------------------------------------------------------------

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

    /// Sends a request as TLS 1.3 early data ("0-RTT") when it can (default
    /// false): in the first flight of a new connection that resumes a TLS 1.3
    /// session, with the ClientHello, so the answer comes a round trip sooner (a
    /// new resumed connection costs 2 round trips instead of 3: TCP, then TLS and
    /// the request together).
    ///
    /// **Early data can be replayed.** An attacker who records the first flight
    /// can send it to the server again, and the server may act on the request
    /// twice (TLS 1.3 gives no protection against that, RFC 8446 §8). So only
    /// requests that are harmless to repeat go early:
    ///
    /// - `GET`, `HEAD` and `OPTIONS` without a body, or any request with an
    ///   `Idempotency-Key` header (the server dedupes it), with no body or one of
    ///   known length in memory ([`send_bytes`](crate::RequestBuilder::send_bytes),
    ///   at most 16 KiB); never a streamed body, never with `Expect`;
    /// - only on a new connection that resumes a TLS 1.3 session whose ticket
    ///   allows early data, and only when the whole request fits what the server
    ///   takes (its ticket says how much); otherwise it is sent as usual after the
    ///   handshake. A pooled connection never needs it;
    /// - through a proxy's CONNECT tunnel too (TLS runs end to end; the proxy sees
    ///   only ciphertext); plain http has no TLS, so never early.
    ///
    /// A request goes early at most once. When the server does not take the early
    /// data, the request is sent again, normally, on the same connection; when it
    /// answers `425 Too Early`, the request is sent again not early (on the same
    /// connection if it can be reused). The caller sees only the final response;
    /// [`Stats`](crate::Stats) counts `early_data_sent`, `early_data_accepted` and
    /// `early_data_rejected`.
    ///
    /// Turn it on only for servers whose handlers of these requests are safe to
    /// run twice. Early data is also not forward secret: it is encrypted under a
    /// key derived from the session ticket, so whoever later gets the server's
    /// ticket key can read it, headers (`Authorization`, cookies) included. Applies to every host of the client (the TLS configs get
    /// rustls' `enable_early_data`). A server may answer an early request before
    /// its next session ticket reaches the client; a connection closed right
    /// after such an answer (pooling off) leaves the ticket unread, so some later
    /// new connections do a full handshake.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// let client = tinyhttps::Client::builder().early_data(true).build()?;
    /// // A status poll, safe to replay: on a new resumed connection it rides in
    /// // the first flight.
    /// let status = client.get("https://device-api.example.com/v1/status").call()?;
    /// // A POST goes early only with an Idempotency-Key that the server honours.
    /// client
    ///     .post("https://device-api.example.com/v1/readings")
    ///     .header("Idempotency-Key", "reading-20261202T100000Z")
    ///     .send_bytes(br#"{"t":21.5}"#)?;
    /// println!("{} early, {} taken", client.stats().early_data_sent, client.stats().early_data_accepted);
    /// # let _ = status; Ok(()) }
    /// ```
    pub fn early_data(mut self, on: bool) -> Self {
        self.early_data = on;
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
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// // The daemon saved the time of its last NTP sync.
    /// let last_sync = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let client = tinyhttps::Client::builder().time_floor(last_sync).build()?;
    /// # let _ = client; Ok::<(), tinyhttps::Error>(())
    /// ```
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

    // Checks. ------------------------------------------------------------------------

    /// Checks the settings ([`build`](Self::build) documents the errors) and
    /// makes what the client is built from: the validated [`Config`] and the TLS
    /// policies.
    pub(crate) fn into_config(self) -> Result<(Config, TlsConfigs)> {
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
        let tls = TlsConfigs::new(self.tls, rules, self.tls_cache_size, self.clock)?
            .with_early_data(self.early_data);
        let config = Config {
            timeouts: self.timeouts,
            redirects: self.redirects,
            max_response_head: self.max_response_head,
            max_request_head: self.max_request_head,
            body_limit: self.body_limit,
            user_agent,
            resolver: self.resolver,
            proxies: self.proxies?,
            pool: self.pool,
            sockets: self.sockets,
            retry: self.retry,
            early_data: self.early_data,
        };
        Ok((config, tls))
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
        in_range("idle_timeout", self.pool.idle_timeout, time.clone(), "")?;
        if let Some(first_byte) = t.reused_first_byte {
            in_range("timeout_reused_first_byte", first_byte, time.clone(), "")?;
        }
        if let Some(low) = t.low_speed {
            in_range(
                "low_speed_limit bytes_per_sec",
                low.bytes_per_sec,
                1..=u64::MAX,
                "",
            )?;
            let window = Duration::from_secs(1)..=MAX_TIMEOUT;
            in_range("low_speed_limit window", low.window, window, "")?;
        }
        self.check_sockets(time.clone())?;
        if let Some(retry) = self.retry {
            let attempts = 1..=MAX_ATTEMPTS_ALLOWED;
            in_range("retry max_attempts", retry.max_attempts, attempts, "")?;
            in_range("retry backoff", retry.backoff, time.clone(), "")?;
            let max = retry.backoff..=MAX_TIMEOUT;
            in_range("retry max backoff", retry.max_backoff, max, "")?;
            let after = Duration::ZERO..=MAX_TIMEOUT;
            in_range("retry max_retry_after", retry.max_retry_after, after, "")?;
        }
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

impl ClientBuilder {
    /// Checks the socket options against their accepted ranges.
    fn check_sockets(&self, time: RangeInclusive<Duration>) -> Result<()> {
        let s = &self.sockets;
        if let Some(k) = s.keepalive {
            let seconds = Duration::from_secs(1)..=MAX_TIMEOUT;
            in_range("tcp_keepalive idle", k.idle, seconds.clone(), "")?;
            in_range("tcp_keepalive interval", k.interval, seconds, "")?;
            in_range("tcp_keepalive count", k.count, 1..=MAX_KEEPALIVE_COUNT, "")?;
        }
        if let Some(user_timeout) = s.user_timeout {
            let ms = Duration::from_millis(1)..=*time.end();
            in_range("tcp_user_timeout", user_timeout, ms, "")?;
        }
        if let Some(name) = &s.interface {
            let length = 1..=MAX_INTERFACE_NAME;
            in_range("interface name length", name.len(), length, " bytes")?;
            if name.contains('\0') {
                return Err(Error::config("interface name contains a NUL byte"));
            }
        }
        Ok(())
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
