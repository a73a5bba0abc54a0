//! The one error type of the crate.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a dependency (rustls, ureq-proto), kept behind a box so that
/// their 0.x upgrades never change this crate's public API.
type Source = Box<dyn StdError + Send + Sync + 'static>;

/// The phase of a request whose time limit elapsed, carried by [`Error::Timeout`].
///
/// ```no_run
/// use tinyhttps::Phase;
/// let client = tinyhttps::Client::new();
/// match client.get("https://device-api.example.com/v1/status").call() {
///     Err(e) if e.timeout_phase() == Some(Phase::Connect) => { /* the network is down */ }
///     Err(e) if e.is_timeout() => { /* the server is slow: back off */ }
///     other => { let _ = other; }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Name resolution and TCP connect.
    Connect,
    /// The TLS handshake.
    Handshake,
    /// Writing the request (a socket write made no progress in time).
    Write,
    /// Reading the response (no byte arrived in time).
    Read,
    /// The overall per-request deadline ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
    Overall,
    /// The first response byte on a reused (pooled) connection
    /// ([`ClientBuilder::timeout_reused_first_byte`](crate::ClientBuilder::timeout_reused_first_byte)):
    /// the connection is taken for stale (a NAT box or a modem reconnect dropped it
    /// while it sat idle). An idempotent request with a replayable body is sent
    /// again on a fresh connection; others fail with this.
    FirstByte,
    /// The transfer stayed slower than the low-speed limit for its whole time window
    /// ([`ClientBuilder::low_speed_limit`](crate::ClientBuilder::low_speed_limit)).
    LowSpeed,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Handshake => "TLS handshake",
            Phase::Write => "write",
            Phase::Read => "read",
            Phase::Overall => "overall deadline",
            Phase::FirstByte => "first response byte on a reused connection",
            Phase::LowSpeed => "low-speed limit",
        })
    }
}

/// How a response body says where it ends, carried by [`Error::Truncated`].
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// use tinyhttps::{Error, Framing};
/// let client = tinyhttps::Client::new();
/// match client.get("https://device-api.example.com/v1/fw").call()?.into_vec() {
///     Err(Error::Truncated { framing: Framing::ContentLength, host, .. }) => {
///         println!("{host} sent less than its Content-Length: try again");
///     }
///     other => { let _ = other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// `Content-Length`: the body ended before that many bytes.
    ContentLength,
    /// Chunked: the body ended before its last (zero-size) chunk.
    Chunked,
    /// Neither (HTTP/1.0 style): the body runs until the server closes. Over TLS
    /// only `close_notify` tells that end from a cut connection; the stream ended
    /// without it, so the body is refused.
    CloseDelimited,
}

/// Everything that can go wrong with a request.
///
/// Each variant is something a caller can act on; hosts are named as `host:port`.
/// URLs are shown with the password of a `user:password@` part replaced by `***`
/// (a userinfo without a password is `***` whole): errors are safe to log.
/// Errors from rustls and ureq-proto are reachable through [`std::error::Error::source`].
///
/// ```no_run
/// use tinyhttps::Error;
/// let client = tinyhttps::Client::new();
/// if let Err(e) = client.get("https://device-api.example.com/v1/status").call() {
///     match &e {
///         Error::Certificate { .. } => eprintln!("check the clock and the CA file: {e}"),
///         e if e.is_timeout() => eprintln!("{e}"), // names the phase and its limit
///         _ => eprintln!("request failed: {e}"),
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be used: not http/https, no host, bad port.
    InvalidUrl {
        /// The URL as given, its password shown as `***`.
        url: Box<str>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request could not be built or sent as asked (bad header, body not allowed,
    /// a streamed body shorter or longer than its `Content-Length`).
    InvalidRequest {
        /// What is wrong with it.
        reason: Box<str>,
    },
    /// The client configuration is unusable (bad PEM file, empty trust store, bad key).
    Config {
        /// What is wrong with it, naming the file and certificate index where there is one.
        reason: Box<str>,
    },
    /// The host name did not resolve to any address.
    Resolve {
        /// The host that did not resolve.
        host: Box<str>,
        /// The resolver's error.
        source: io::Error,
    },
    /// No TCP connection could be made (refused, unreachable).
    Connect {
        /// `host:port`.
        host: Box<str>,
        /// The last connect error.
        source: io::Error,
    },
    /// A time limit elapsed.
    Timeout {
        /// Which limit.
        phase: Phase,
        /// `host:port`.
        host: Box<str>,
        /// The limit that elapsed: the phase's own, or the overall deadline.
        limit: Duration,
    },
    /// The server's certificate was rejected (unknown issuer, wrong name, expired or
    /// not valid yet, a key that matches no pin). Dates are ISO 8601 in UTC; when
    /// the device's clock looks wrong (behind the time floor, or before the
    /// certificate's start) the message says so: "... this device's clock reads
    /// 1970-01-02T00:00:00Z: is the clock set?".
    Certificate {
        /// `host:port`.
        host: Box<str>,
        /// The verifier's reason.
        source: Source,
    },
    /// The TLS session failed for another reason (alert from the server, protocol
    /// violation, no common cipher suite, client certificate refused).
    Tls {
        /// `host:port`.
        host: Box<str>,
        /// rustls' error.
        source: Source,
    },
    /// The connection failed while the request was under way (reset, closed early).
    Io {
        /// `host:port`.
        host: Box<str>,
        /// The socket error; `UnexpectedEof` when the server closed before answering.
        source: io::Error,
    },
    /// The server's response is not valid HTTP/1.1 (or breaks a framing rule).
    Protocol {
        /// `host:port`.
        host: Box<str>,
        /// The parser's reason.
        source: Source,
    },
    /// The proxy refused to open a tunnel (407: credentials missing or wrong).
    Proxy {
        /// `host:port` of the proxy.
        proxy: Box<str>,
        /// The proxy's status code.
        status: u16,
    },
    /// The response head (status line and headers) is larger than the limit.
    HeadersTooLarge {
        /// `host:port`.
        host: Box<str>,
        /// The limit in bytes.
        limit: usize,
    },
    /// The response body ended before its framing said it would: a short
    /// `Content-Length` body, an unfinished chunked body, or a close-delimited body
    /// whose TLS stream ended without `close_notify`. The last is refused even if
    /// the body was complete: without `close_notify` it cannot be told from a cut
    /// one (the truncation attack). Some servers close that way (Python's
    /// `http.server` over `ssl`, some embedded ones); they must send a
    /// `Content-Length` or use chunked encoding to be read.
    Truncated {
        /// `host:port`.
        host: Box<str>,
        /// How the body said where it ends.
        framing: Framing,
    },
    /// The body is larger than the limit given to `into_string`/`into_vec`.
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// More redirects than allowed ([`ClientBuilder::redirects`](crate::ClientBuilder::redirects)).
    TooManyRedirects {
        /// The allowed number.
        limit: u32,
        /// The last URL redirected to, its password shown as `***`.
        url: Box<str>,
    },
    /// A redirect from `https` to `http` was refused.
    InsecureRedirect {
        /// The `https` URL that redirected, its password shown as `***`.
        from: Box<str>,
        /// The `http` URL it pointed to, its password shown as `***`.
        to: Box<str>,
    },
    /// A [download](crate::Client::download) was answered with a status that does
    /// not deliver the file (404, 401, 500, ...). 5xx, 408 and 429 are retried
    /// within the download's attempts; this is the last one's status.
    Status {
        /// The URL asked for, its password shown as `***`.
        url: Box<str>,
        /// The status code.
        status: u16,
    },
    /// A [download](crate::Client::download)'s SHA-256 is not the one expected. The
    /// partial file and its sidecar were deleted: the next run starts from zero.
    Digest {
        /// The expected digest, lower-case hex.
        expected: Box<str>,
        /// The digest of what was received, lower-case hex.
        actual: Box<str>,
    },
    /// A local file operation of a [download](crate::Client::download) failed (disk
    /// full, read-only file system, file size limit, permission). The partial file
    /// keeps what was written before, so a later run resumes from there.
    File {
        /// The file or directory operated on.
        path: Box<Path>,
        /// The system's error (`ErrorKind::StorageFull`, `ReadOnlyFilesystem`,
        /// `FileTooLarge`, ...).
        source: io::Error,
    },
    /// The response body is not the JSON expected
    /// ([`Response::into_json`](crate::Response::into_json), feature `json`):
    /// not JSON, or not of the type asked for.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Json {
        /// `host:port`.
        host: Box<str>,
        /// serde_json's error: what and where (line, column).
        source: Source,
    },
}

impl Error {
    /// True for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The phase whose time limit elapsed, for [`Error::Timeout`].
    pub fn timeout_phase(&self) -> Option<Phase> {
        match self {
            Error::Timeout { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// True when the server's certificate was rejected.
    pub fn is_certificate(&self) -> bool {
        matches!(self, Error::Certificate { .. })
    }

    pub(crate) fn invalid_request(reason: impl fmt::Display) -> Error {
        Error::InvalidRequest {
            reason: reason.to_string().into(),
        }
    }

    pub(crate) fn config(reason: impl fmt::Display) -> Error {
        Error::Config {
            reason: reason.to_string().into(),
        }
    }

    pub(crate) fn protocol(host: &str, source: impl Into<Source>) -> Error {
        Error::Protocol {
            host: host.into(),
            source: source.into(),
        }
    }

    /// Sorts a rustls error into [`Error::Certificate`] or [`Error::Tls`]. A
    /// certificate refused by this crate's verifier (dates in words, pins) carries
    /// its own reason: that is the source, without rustls' wrapping text.
    pub(crate) fn tls(host: &str, e: rustls::Error) -> Error {
        let host = host.into();
        match e {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                Error::Certificate {
                    host,
                    source: Box::new(other.0),
                }
            }
            rustls::Error::InvalidCertificate(_) => Error::Certificate {
                host,
                source: Box::new(e),
            },
            #[cfg(not(feature = "tls12"))]
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion) => Error::Tls {
                host,
                source: Box::new(Tls13Only(e)),
            },
            e => Error::Tls {
                host,
                source: Box::new(e),
            },
        }
    }

    /// Wraps this error in an `io::Error` so it can travel through `Read`/`Write`;
    /// [`Error::from_io`] takes it out again.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::Io { source, .. } | Error::Connect { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// Turns an `io::Error` from a connection with `host` into an [`Error`], unwrapping
    /// one made by [`Error::into_io`].
    pub(crate) fn from_io(e: io::Error, host: &str) -> Error {
        match e.downcast::<Error>() {
            Ok(inner) => inner,
            Err(e) => Error::Io {
                host: host.into(),
                source: e,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            Error::InvalidRequest { reason } => write!(f, "invalid request: {reason}"),
            Error::Config { reason } => write!(f, "configuration error: {reason}"),
            Error::Resolve { host, source } => write!(f, "cannot resolve {host}: {source}"),
            Error::Connect { host, source } => write!(f, "cannot connect to {host}: {source}"),
            Error::Timeout { phase, host, limit } => timeout(f, *phase, host, *limit),
            Error::Certificate { host, source } => {
                write!(f, "certificate of {host} rejected: {source}")
            }
            Error::Tls { host, source } => write!(f, "TLS with {host} failed: {source}"),
            Error::Io { host, source } if source.kind() == io::ErrorKind::UnexpectedEof => {
                write!(
                    f,
                    "{host} closed the connection before the response was complete"
                )
            }
            Error::Io { host, source } if host.is_empty() => write!(f, "I/O error: {source}"),
            Error::Io { host, source } => write!(f, "connection to {host} failed: {source}"),
            Error::Protocol { host, source } => {
                write!(f, "invalid HTTP response from {host}: {source}")
            }
            Error::Proxy { proxy, status: 407 } => write!(
                f,
                "proxy {proxy} requires authentication (407): check the proxy credentials"
            ),
            Error::Proxy { proxy, status } => {
                write!(f, "proxy {proxy} refused the tunnel with status {status}")
            }
            Error::HeadersTooLarge { host, limit } => {
                write!(f, "response head from {host} exceeds {limit} bytes")
            }
            Error::Truncated { host, framing } => truncated(f, host, *framing),
            Error::BodyTooLarge { limit } => write!(f, "response body exceeds {limit} bytes"),
            Error::TooManyRedirects { limit, url } => {
                write!(f, "more than {limit} redirects (last to {url})")
            }
            Error::InsecureRedirect { from, to } => {
                write!(f, "refused redirect from https to http: {from} -> {to}")
            }
            Error::Status { url, status } => {
                let reason = http::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                write!(f, "{url} answered {status} {reason}")
            }
            Error::Digest { expected, actual } => write!(
                f,
                "SHA-256 of the download is {actual}, expected {expected}: \
                 the partial file was deleted"
            ),
            Error::File { path, source } => {
                write!(f, "file error on {}: {source}", path.display())
            }
            #[cfg(feature = "json")]
            Error::Json { host, source } => {
                write!(
                    f,
                    "response body from {host} is not the JSON expected: {source}"
                )
            }
        }
    }
}

/// The message of [`Error::Truncated`]: what ended, and why that is refused.
fn truncated(f: &mut fmt::Formatter<'_>, host: &str, framing: Framing) -> fmt::Result {
    match framing {
        Framing::ContentLength => write!(
            f,
            "response body from {host} ended before its declared length (truncated)"
        ),
        Framing::Chunked => write!(
            f,
            "response body from {host} ended before its last chunk (truncated)"
        ),
        Framing::CloseDelimited => write!(
            f,
            "TLS stream from {host} ended without close_notify, so its response body \
             (no length, delimited by the close) cannot be told from a cut one: \
             refused as truncated"
        ),
    }
}

/// The message of [`Error::Timeout`]: the limit that elapsed, and with whom.
fn timeout(f: &mut fmt::Formatter<'_>, phase: Phase, host: &str, limit: Duration) -> fmt::Result {
    let limit = Secs(limit);
    match phase {
        Phase::Overall => write!(f, "overall deadline of {limit} passed with {host}"),
        Phase::FirstByte => write!(
            f,
            "reused connection to {host} sent no response byte within {limit}: taken for \
             stale and not retried (the request is not idempotent or its body cannot be \
             sent again)"
        ),
        Phase::LowSpeed => write!(
            f,
            "transfer with {host} stayed below the low-speed limit for {limit}"
        ),
        phase => write!(f, "{phase} timed out after {limit} with {host}"),
    }
}

/// A server's refusal of the protocol version, when this build offers TLS 1.3 only
/// (the `tls12` feature off): the likely cause is a server without TLS 1.3, so the
/// message says which feature would reach it.
#[cfg(not(feature = "tls12"))]
#[derive(Debug)]
struct Tls13Only(rustls::Error);

#[cfg(not(feature = "tls12"))]
impl fmt::Display for Tls13Only {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (this client offers TLS 1.3 only: built without tinyhttps' `tls12` \
             feature; a server that speaks at most TLS 1.2 needs it)",
            self.0
        )
    }
}

#[cfg(not(feature = "tls12"))]
impl StdError for Tls13Only {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// A time limit as people write it: "30 s", "2.5 s", "300 ms".
struct Secs(Duration);

impl fmt::Display for Secs {
    /// In integers: formatting an `f64` would link the float printing code
    /// (~13 KiB on armv7) for this message alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = (self.0.as_secs(), self.0.subsec_nanos());
        let millis = nanos / NANOS_PER_MILLI;
        if secs == 0 {
            write!(f, "{millis} ms")
        } else if millis == 0 {
            write!(f, "{secs} s")
        } else {
            // The fraction's digits without trailing zeros: "2.5 s", "1.25 s".
            let mut fraction = nanos;
            let mut width = NANOS_DIGITS;
            while fraction % 10 == 0 {
                fraction /= 10;
                width = width.saturating_sub(1);
            }
            write!(f, "{secs}.{fraction:0width$} s")
        }
    }
}

/// Nanoseconds in a millisecond, for [`Secs`].
const NANOS_PER_MILLI: u32 = 1_000_000;
/// Digits of a second's fraction in nanoseconds, for [`Secs`].
const NANOS_DIGITS: usize = 9;

/// Takes back an [`Error`] carried inside an `io::Error` (as [`Body`](crate::Body)'s
/// `Read` returns them); any other I/O error becomes [`Error::Io`] without a host.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::from_io(e, "")
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Resolve { source, .. }
            | Error::Connect { source, .. }
            | Error::Io { source, .. }
            | Error::File { source, .. } => Some(source),
            Error::Certificate { source, .. }
            | Error::Tls { source, .. }
            | Error::Protocol { source, .. } => Some(source.as_ref()),
            #[cfg(feature = "json")]
            Error::Json { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Returned by value on every call: at most 40 bytes (five words on 64-bit
        // targets; 24 bytes on armv7, where a `u64` field sets the alignment).
        let size = std::mem::size_of::<Error>();
        assert!(size <= 40, "Error is {size} bytes");
    }

    #[test]
    fn error_survives_a_trip_through_io_error() {
        let e = Error::Timeout {
            phase: Phase::Read,
            host: "h:1".into(),
            limit: Duration::from_secs(30),
        };
        let io = e.into_io();
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
        let back = Error::from_io(io, "other:2");
        assert_eq!(back.timeout_phase(), Some(Phase::Read));
        assert_eq!(back.to_string(), "read timed out after 30 s with h:1");
    }

    #[test]
    fn timeout_names_its_limit_as_people_write_it() {
        let timeout = |phase, ms| Error::Timeout {
            phase,
            host: "h:1".into(),
            limit: Duration::from_millis(ms),
        };
        assert_eq!(
            timeout(Phase::Connect, 2500).to_string(),
            "connect timed out after 2.5 s with h:1"
        );
        assert_eq!(
            timeout(Phase::Read, 300).to_string(),
            "read timed out after 300 ms with h:1"
        );
        assert_eq!(
            timeout(Phase::Overall, 300_000).to_string(),
            "overall deadline of 300 s passed with h:1"
        );
        // Seconds with a fraction: its digits without trailing zeros; below a
        // millisecond does not count.
        let secs = |limit| Secs(limit).to_string();
        assert_eq!(secs(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(secs(Duration::from_millis(61_001)), "61.001 s");
        assert_eq!(secs(Duration::from_nanos(1_234_567_800)), "1.2345678 s");
        assert_eq!(secs(Duration::from_nanos(1_000_500_000)), "1 s");
        assert_eq!(secs(Duration::from_micros(999_999)), "999 ms");
    }

    #[test]
    fn io_error_from_a_body_read_converts_back() {
        let carried = Error::Truncated {
            host: "h:1".into(),
            framing: Framing::Chunked,
        }
        .into_io();
        assert!(matches!(Error::from(carried), Error::Truncated { .. }));
        let local: Error = io::Error::from(io::ErrorKind::PermissionDenied).into();
        assert!(local.to_string().starts_with("I/O error"), "{local}");
    }

    #[test]
    fn plain_io_error_names_the_host() {
        let e = Error::from_io(io::ErrorKind::ConnectionReset.into(), "api:443");
        assert!(e.to_string().contains("api:443"), "{e}");
        assert!(e.source().is_some());
    }
}
