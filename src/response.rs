//! `Response` and its streaming body, which gives the connection back to the pool when
//! the body has been read to its end.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode, Uri, Version};

use crate::deadline::ShortWait;
use crate::error::{Error, Result};
use crate::exchange::{self, BodyReader, Transport};
use crate::head::Head;
use crate::netloc;
use crate::pool::{Connection, Pool};
use crate::timings::Timings;
use crate::transport::ConnectionKind;

/// Most body bytes read and thrown away when a body is dropped before its end, to keep
/// its connection: a dropped tail of a few KiB costs less than a new handshake.
const DRAIN_LIMIT: u64 = 16 * 1024;

/// Longest wait for each read of that tail; a slower server loses its connection.
const DRAIN_WAIT: Duration = Duration::from_millis(100);

/// Most bytes [`Response::into_vec_limited`] reserves up front from a
/// `Content-Length`: the length is the server's word, and reserving a forged 10 TB
/// aborts the process. Beyond this the buffer grows as bytes arrive.
const PREALLOCATE_LIMIT: u64 = 64 * 1024;

/// Longest time spent reading that tail in all: dropping a body never blocks the
/// caller longer than this (plus up to 50 ms of timer granularity), however the
/// server dribbles. About what a new TLS handshake costs on a Cortex-A7.
const DRAIN_TIME: Duration = Duration::from_millis(250);

/// Whether a response's head allows its connection to be reused after the body. Both
/// `Transfer-Encoding` and `Content-Length` is a smuggling pattern: the body is read
/// as chunked (RFC 9112 §6.3) and the connection is then closed, never reused.
pub(crate) fn reuse_allowed(head: &Head) -> bool {
    !head.framed_twice()
}

/// A response: status, headers, and the body as a stream.
///
/// The connection goes back to the pool once the body is read to its end. A response
/// dropped before that keeps its connection only if the rest of the body is small
/// and comes fast (up to 16 KiB, each read within 100 ms, 250 ms in all) and is read
/// away; otherwise it is closed.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client.get("https://device-api.example.com/v1/config").call()?;
/// if resp.status() == 200 && resp.header("content-type") == Some("application/json") {
///     println!("from {} over a {:?} connection", resp.url(), resp.connection());
///     let json = resp.into_string_limited(64 * 1024)?; // BodyTooLarge above 64 KiB
///     # let _ = json;
/// }
/// # Ok(()) }
/// ```
pub struct Response {
    head: Head,
    url: Uri,
    body: Body,
    connection: ConnectionKind,
    timings: Timings,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.head.status())
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn new(
        head: Head,
        url: Uri,
        body: Body,
        connection: ConnectionKind,
        timings: Timings,
    ) -> Response {
        Response {
            head,
            url: netloc::without_password(url),
            body,
            connection,
            timings,
        }
    }

    /// The response head exactly as the server sent it: status line with its reason
    /// phrase, header names in their case, line ends and the blank line included.
    /// Only when the request asked for it with
    /// [`RequestBuilder::keep_raw_head`](crate::RequestBuilder::keep_raw_head),
    /// else `None`. 1xx responses before it are not included.
    pub fn raw_head(&self) -> Option<&[u8]> {
        self.head.raw()
    }

    /// How this response's connection was had: reused from the pool, or new (with a
    /// full or a resumed TLS handshake). After redirects, the last hop's.
    pub fn connection(&self) -> ConnectionKind {
        self.connection
    }

    /// How long the request's phases took ([`Timings`]): DNS, connect and TLS of
    /// a new connection, time to the first byte and to the complete head.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// The status code. Compares with integers: `resp.status() == 200`.
    pub fn status(&self) -> StatusCode {
        self.head.status()
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// All response headers. The map is made on the first call (from the head as
    /// received, each value sharing its bytes), so a response whose headers nobody
    /// reads costs no map (the `gzip` feature and a retry policy look at headers,
    /// and so make it).
    pub fn headers(&self) -> &HeaderMap {
        self.head.headers()
    }

    /// The first value of a header, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that answered (after redirects). A password in its `user:password@`
    /// part is replaced by `***` (a userinfo without a password, often a token,
    /// is `***` whole), so that this URL is safe to log or show; the user name and
    /// everything else are as sent. To request it again with credentials, use the
    /// URL you built, or set `Authorization` yourself.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The body as a stream (`impl Read`): nothing is buffered whole. With the
    /// `gzip` feature, a gzip body is decoded as it streams, and the decoded bytes
    /// are held to the client's body limit (see the crate docs' Features section).
    pub fn into_reader(self) -> Body {
        self.body
    }

    /// The body as text, up to the client's body limit (default
    /// [`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT)); a larger body is [`Error::BodyTooLarge`], never cut.
    pub fn into_string(self) -> Result<String> {
        let limit = self.body.limit;
        self.into_string_limited(limit)
    }

    /// The body as text, up to `limit` bytes.
    pub fn into_string_limited(self, limit: u64) -> Result<String> {
        // A reference count, not a copy: the host is formatted only on an error.
        let authority = self.url.authority().cloned();
        let bytes = self.into_vec_limited(limit)?;
        String::from_utf8(bytes).map_err(|e| {
            let host = authority
                .as_ref()
                .map_or("", |a| netloc::host_port(a.as_str()));
            Error::protocol(host, e)
        })
    }

    /// The body as bytes, up to the client's body limit.
    pub fn into_vec(self) -> Result<Vec<u8>> {
        let limit = self.body.limit;
        self.into_vec_limited(limit)
    }

    /// The body as bytes, up to `limit` bytes; a larger body is
    /// [`Error::BodyTooLarge`]. Memory is reserved as bytes arrive (up to 64 KiB at
    /// once from the `Content-Length`), never from the length the server claims.
    pub fn into_vec_limited(self, limit: u64) -> Result<Vec<u8>> {
        // The length the body is framed with: its Content-Length, without making
        // the header map for it.
        let hint = self
            .body
            .framed_length()
            .unwrap_or(0)
            .min(limit)
            .min(PREALLOCATE_LIMIT);
        let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        let mut body = self.body;
        #[cfg(feature = "gzip")]
        if let Some(decoder) = &mut body.gzip {
            decoder.set_limit(limit);
        }
        // Taken before reading: a body read to its end no longer knows its host.
        let host = body.host();
        (&mut body)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::from_io(e, host.as_deref().unwrap_or("")))?;
        if out.len() as u64 > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        Ok(out)
    }
}

/// The response as an [`http::Response`], for code written against the `http`
/// types: status, version, headers, and the body as the stream [`Body`]. Its
/// extensions hold the URL that answered (an [`http::Uri`], as
/// [`Response::url`] shows it: without a password) and the [`ConnectionKind`].
/// The raw head ([`Response::raw_head`]) is not carried over.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tinyhttps::{http, ConnectionKind};
/// let client = tinyhttps::Client::new();
/// let resp: http::Response<tinyhttps::Body> =
///     client.get("https://device-api.example.com/v1/status").call()?.into();
/// let url = resp.extensions().get::<http::Uri>();
/// let how = resp.extensions().get::<ConnectionKind>();
/// println!("{} from {url:?} ({how:?})", resp.status());
/// # Ok(()) }
/// ```
impl From<Response> for http::Response<Body> {
    fn from(response: Response) -> Self {
        let mut out = http::Response::new(response.body);
        let mut head = response.head;
        *out.status_mut() = head.status();
        *out.version_mut() = head.version();
        *out.headers_mut() = head.take_headers();
        let extensions = out.extensions_mut();
        extensions.insert(response.url);
        extensions.insert(response.connection);
        out
    }
}

/// A response body being read: `impl Read`. `read` returns 0 only at the body's
/// real end (or for an empty buffer, which changes nothing); a body cut short is an
/// error ([`Error::Truncated`] inside the `io::Error`, see [`Error`]'s docs).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::Read;
/// let client = tinyhttps::Client::new();
/// let mut body = client.get("https://device-api.example.com/v1/fw").call()?.into_reader();
/// let mut chunk = [0u8; 16 * 1024];
/// loop {
///     let n = body.read(&mut chunk)?; // an error, never 0, when the body is cut short
///     if n == 0 {
///         break; // the end: the connection is back in the pool
///     }
///     // write chunk[..n] to flash
/// }
/// # Ok(()) }
/// ```
pub struct Body {
    state: State,
    limit: u64,
    /// Inflates a `Content-Encoding: gzip` body (feature `gzip`).
    #[cfg(feature = "gzip")]
    gzip: Option<Box<crate::gzip::Decoder>>,
}

enum State {
    Done,
    Failed,
    Reading(Box<Reading>),
}

struct Reading {
    conn: Box<Connection>,
    reader: BodyReader,
    /// Where the connection goes back at the body's end: the body needs the pool,
    /// not the whole client.
    pool: Arc<Pool>,
    host: Arc<str>,
    /// False when the head already rules out reuse (see [`reuse_allowed`]).
    reusable: bool,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Done => "done",
            State::Failed => "failed",
            State::Reading(_) => "reading",
        };
        f.debug_struct("Body").field("state", &state).finish()
    }
}

impl Body {
    /// A body that is already complete (none, or none left).
    pub(crate) fn empty(limit: u64) -> Body {
        Body {
            state: State::Done,
            limit,
            #[cfg(feature = "gzip")]
            gzip: None,
        }
    }

    /// A body read from `conn`, which goes back to `pool` at the body's end if
    /// `reusable`; [`Response::into_string`] and [`Response::into_vec`] read up to
    /// `limit` bytes of it.
    pub(crate) fn reading(
        conn: Box<Connection>,
        reader: BodyReader,
        pool: Arc<Pool>,
        limit: u64,
        reusable: bool,
    ) -> Body {
        let host = conn.stream.host().clone();
        Body {
            state: State::Reading(Box::new(Reading {
                conn,
                reader,
                pool,
                host,
                reusable,
            })),
            limit,
            #[cfg(feature = "gzip")]
            gzip: None,
        }
    }

    /// Makes this body inflate gzip as it is read (see [`crate::gzip::decode`]);
    /// false, and nothing changed, when it has no bytes to read.
    #[cfg(feature = "gzip")]
    pub(crate) fn decode_gzip(&mut self) -> bool {
        let State::Reading(r) = &self.state else {
            return false;
        };
        let decoder = crate::gzip::Decoder::new(&r.host, self.limit);
        self.gzip = Some(Box::new(decoder));
        true
    }

    /// The length still to come of a body framed by a `Content-Length`.
    fn framed_length(&self) -> Option<u64> {
        match &self.state {
            State::Reading(r) => r.reader.length_left(),
            _ => None,
        }
    }

    fn host(&self) -> Option<Arc<str>> {
        match &self.state {
            State::Reading(r) => Some(r.host.clone()),
            _ => None,
        }
    }
}

impl Read for Body {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            // Not the end of the body: nothing was asked for.
            return Ok(0);
        }
        #[cfg(feature = "gzip")]
        if let Some(mut decoder) = self.gzip.take() {
            // `self` without its decoder is the raw body the decoder reads from.
            let read = decoder.read(dst, self);
            match read {
                Ok(0) => {} // the end: the decoder's memory is freed
                Ok(_) => self.gzip = Some(decoder),
                Err(_) => {
                    if let State::Reading(r) = std::mem::replace(&mut self.state, State::Failed) {
                        r.conn.close();
                    }
                }
            }
            return read;
        }
        let State::Reading(r) = &mut self.state else {
            return match self.state {
                State::Failed => Err(io::Error::other("response body failed earlier")),
                _ => Ok(0),
            };
        };
        match r.read(dst) {
            Ok(0) => {
                if let State::Reading(r) = std::mem::replace(&mut self.state, State::Done) {
                    r.finish();
                }
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                if let State::Reading(r) = std::mem::replace(&mut self.state, State::Failed) {
                    r.conn.close();
                }
                Err(e.into_io())
            }
        }
    }
}

impl Reading {
    fn read(&mut self, dst: &mut [u8]) -> Result<usize> {
        // A chunk-size line or trailer must fit the receive buffer as it is.
        let max_line = exchange::RECV_BUFFER;
        let conn = &mut self.conn;
        exchange::read_body(
            &mut conn.stream,
            &mut conn.buf,
            &mut self.reader,
            dst,
            &self.host,
            max_line,
        )
    }

    /// At the body's end: back to the pool if the response allows it, else closed.
    fn finish(self) {
        let Reading {
            conn,
            reader,
            pool,
            reusable,
            ..
        } = self;
        if exchange::finish_body(reader, &conn.buf) && reusable {
            pool.checkin(conn);
        } else {
            conn.close();
        }
    }

    /// Reads away the rest of a body dropped early, if it is small and comes fast
    /// ([`DRAIN_LIMIT`], [`DRAIN_WAIT`], [`DRAIN_TIME`]).
    fn drain(&mut self) -> bool {
        let small = match self.reader.length_left() {
            Some(left) => left <= DRAIN_LIMIT,
            None => self.reader.is_chunked(),
        };
        if !small {
            return false;
        }
        let wait = ShortWait::start(DRAIN_WAIT, DRAIN_TIME);
        self.conn.stream.set_read_cap(Some(wait));
        let mut scratch = [0u8; 2048];
        let mut total = 0u64;
        let drained = loop {
            match self.read(&mut scratch) {
                Ok(0) => break true,
                Ok(n) => {
                    total = total.saturating_add(n as u64);
                    if total > DRAIN_LIMIT {
                        break false;
                    }
                }
                Err(_) => break false,
            }
        };
        self.conn.stream.set_read_cap(None);
        drained
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let State::Reading(mut r) = std::mem::replace(&mut self.state, State::Done) {
            if r.drain() {
                debug!("drained the rest of a dropped body from {}", r.host);
                r.finish();
            } else {
                debug!("body dropped before its end: closing {}", r.host);
                r.conn.close();
            }
        }
    }
}
