//! `RequestBuilder` (method, URL, headers, per-request options, then the body) and
//! [`SendBody`], the bodies [`Client::run`] sends.

use std::fmt;
use std::io::{Read, Seek};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Uri};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exchange::ReqBody;
use crate::netloc;
use crate::response::Response;
use crate::run::Options;

/// A request being built; sent by [`call`](Self::call) or one of the `send_*` methods.
///
/// It holds its own handle to the [`Client`] (an `Arc` clone: one atomic increment
/// when made, one decrement when sent or dropped), so it can be stored or passed on
/// without a lifetime.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client
///     .post("https://device-api.example.com/v1/readings")
///     .header("Content-Type", "application/json")
///     .send_string(r#"{"temp":21.5}"#)?;
/// assert_eq!(resp.status(), 201);
/// # Ok(()) }
/// ```
#[must_use = "a request is sent only by call() or a send_* method"]
pub struct RequestBuilder {
    client: Client,
    /// Method, URL, version and headers; the first mistake made while building,
    /// reported when the request is sent.
    parts: Result<Parts>,
    options: Options,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold credentials: names only.
        match &self.parts {
            Ok(p) => f
                .debug_struct("RequestBuilder")
                .field("method", &p.method)
                // Not yet checked: hide as for a URL that did not parse.
                .field("uri", &netloc::redact_str(&p.uri.to_string()))
                .field("headers", &p.headers.keys().collect::<Vec<_>>())
                .finish(),
            Err(e) => f.debug_struct("RequestBuilder").field("error", e).finish(),
        }
    }
}

/// The parts of a request without a body: `method` to `uri`, HTTP/1.1, no headers.
pub(crate) fn parts(method: Method, uri: Uri) -> Parts {
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request.into_parts().0
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> Self {
        let parts = url
            .parse::<Uri>()
            .map_err(|_| Error::InvalidUrl {
                url: netloc::redact_str(url).into(),
                reason: "not a valid URL",
            })
            .map(|uri| parts(method, uri));
        RequestBuilder {
            client,
            parts,
            options: Options::default(),
        }
    }

    /// Adds a header (a repeated name adds another value). Takes what `http`'s own
    /// builder takes: `&str`, `String`, [`HeaderName`],
    /// [`HeaderValue`], bytes. An invalid name or value makes the
    /// request fail with [`Error::InvalidRequest`] when sent (the message never shows
    /// the value: it may be a credential).
    ///
    /// Setting `Content-Length` before [`send_reader`](Self::send_reader) sends the
    /// body with that length instead of chunked; `Expect: 100-continue` waits for
    /// the server's go-ahead (up to a second) before sending the body.
    ///
    /// ```
    /// use tinyhttps::http::header::ACCEPT;
    /// let client = tinyhttps::Client::new();
    /// let token = String::from("Bearer 0123");
    /// let request = client
    ///     .get("https://device-api.example.com/v1/status")
    ///     .header(ACCEPT, "application/json")
    ///     .header("Authorization", &token);
    /// # let _ = request;
    /// ```
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        let Ok(parts) = &mut self.parts else {
            return self;
        };
        let name = match HeaderName::try_from(name) {
            Ok(name) => name,
            Err(e) => {
                let e: http::Error = e.into();
                self.parts = Err(Error::invalid_request(format_args!("header name: {e}")));
                return self;
            }
        };
        match HeaderValue::try_from(value) {
            Ok(value) => {
                parts.headers.append(name, value);
            }
            Err(e) => {
                let e: http::Error = e.into();
                self.parts = Err(Error::invalid_request(format_args!(
                    "value of header {name}: {e}"
                )));
            }
        }
        self
    }

    /// The overall deadline of this request (connect to last body byte), replacing
    /// the client's [`timeout`](crate::ClientBuilder::timeout).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// use std::time::Duration;
    /// let client = tinyhttps::Client::new();
    /// let image = client
    ///     .get("https://device-api.example.com/v1/fw")
    ///     .timeout(Duration::from_secs(600)) // a large download
    ///     .call()?;
    /// # let _ = image; Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Keeps the response head exactly as the server sent it, for
    /// [`Response::raw_head`]: the reason phrase and the case of header names, which
    /// [`Response::status`] and [`Response::headers`] do not keep (a curl-like tool
    /// shows them). Costs a copy of the head per response, so it is off by default.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), tinyhttps::Error> {
    /// let client = tinyhttps::Client::new();
    /// let resp = client.get("https://example.com/").keep_raw_head().call()?;
    /// print!("{}", String::from_utf8_lossy(resp.raw_head().unwrap_or_default()));
    /// # Ok(()) }
    /// ```
    pub fn keep_raw_head(mut self) -> Self {
        self.options.keep_raw_head = true;
        self
    }

    /// Sends the request without a body (a POST, PUT or PATCH says
    /// `Content-Length: 0`).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::InvalidRequest`] for a mistake made while
    /// building it (nothing is sent); then whatever the exchange meets: resolving,
    /// connecting, TLS, a time limit, the server's answer, a redirect refused (see
    /// [`Error`]). A status such as 404 or 500 is a response, not an error.
    pub fn call(self) -> Result<Response> {
        self.send(ReqBody::None)
    }

    /// Sends `body` with a `Content-Length`. The head and a body of up to a few KiB
    /// leave in one write.
    ///
    /// A server that answers before it has the whole body (413, 401) and stops
    /// reading or closes fails the upload's writes: its answer is then returned, as
    /// the response (the connection is closed after it), not the write error, and
    /// the request is not retried.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn send_bytes(self, body: &[u8]) -> Result<Response> {
        self.send(ReqBody::Bytes(body))
    }

    /// Sends text as the body (see [`send_bytes`](Self::send_bytes)).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn send_string(self, body: &str) -> Result<Response> {
        self.send_bytes(body.as_bytes())
    }

    /// Streams the body from a reader: chunked, or with the `Content-Length` header
    /// if one was set (then the reader must yield exactly that many bytes). Nothing
    /// is buffered whole. A streamed body cannot be replayed, so such a request is
    /// never retried and 307/308 redirects are returned, not followed. An answer
    /// that comes before the body is all sent is returned as for
    /// [`send_bytes`](Self::send_bytes).
    ///
    /// # Errors
    /// As [`call`](Self::call); also [`Error::InvalidRequest`] when reading `reader`
    /// fails, or when it yields fewer bytes than the `Content-Length` set.
    pub fn send_reader(self, mut reader: impl Read) -> Result<Response> {
        self.send(ReqBody::Reader(&mut reader))
    }

    /// Streams the body like [`send_reader`](Self::send_reader), from a source that
    /// can be read again (a `File`, a `Cursor`): if an idempotent request fails on a
    /// reused connection before any answer, or a 307/308 redirect keeps the body,
    /// it seeks back to where it started and sends the body again.
    ///
    /// # Errors
    /// As [`send_reader`](Self::send_reader); also [`Error::InvalidRequest`] when
    /// the source cannot tell or seek to its position.
    pub fn send_seekable(self, mut source: impl Read + Seek) -> Result<Response> {
        let start = source.stream_position().map_err(|e| {
            Error::invalid_request(format_args!("request body position unknown: {e}"))
        })?;
        self.send(ReqBody::Seekable(&mut source, start))
    }

    /// Whether the caller set header `name`.
    #[cfg(feature = "json")]
    pub(crate) fn has_header(&self, name: HeaderName) -> bool {
        self.parts
            .as_ref()
            .is_ok_and(|p| p.headers.contains_key(name))
    }

    fn send(self, body: ReqBody) -> Result<Response> {
        self.client.execute(self.parts?, self.options, body)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A request body [`Client::run`] can send: bytes, sent with a `Content-Length`,
/// or `()` for none (then a POST, PUT or PATCH says `Content-Length: 0`).
///
/// Implemented for `()`, `Vec<u8>`, `&Vec<u8>`, `&[u8]`, `&[u8; N]`, `String`,
/// `&String` and `&str`. Sealed: the crate may add bodies (a reader) without
/// breaking anyone. To stream a body, use
/// [`RequestBuilder::send_reader`] or [`RequestBuilder::send_seekable`].
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tinyhttps::http::Request;
/// let client = tinyhttps::Client::new();
/// let url = "https://device-api.example.com/v1/readings";
/// client.run(Request::post(url).body(br#"{"temp":21.5}"#)?)?;
/// client.run(Request::post(url).body(String::from("text"))?)?;
/// client.run(Request::get(url).body(())?)?;
/// # Ok(()) }
/// ```
pub trait SendBody: sealed::Sealed {
    /// The bytes to send, `None` for no body. Not part of the stable API.
    #[doc(hidden)]
    fn bytes(&self) -> Option<&[u8]>;
}

impl<T: SendBody + ?Sized> sealed::Sealed for &T {}

impl<T: SendBody + ?Sized> SendBody for &T {
    fn bytes(&self) -> Option<&[u8]> {
        (**self).bytes()
    }
}

/// No body.
impl sealed::Sealed for () {}
impl SendBody for () {
    fn bytes(&self) -> Option<&[u8]> {
        None
    }
}

impl sealed::Sealed for [u8] {}
impl SendBody for [u8] {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl<const N: usize> sealed::Sealed for [u8; N] {}
impl<const N: usize> SendBody for [u8; N] {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl sealed::Sealed for Vec<u8> {}
impl SendBody for Vec<u8> {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl sealed::Sealed for str {}
impl SendBody for str {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}

impl sealed::Sealed for String {}
impl SendBody for String {
    fn bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}

/// The exchange's view of a [`SendBody`].
pub(crate) fn req_body<B: SendBody + ?Sized>(body: &B) -> ReqBody<'_> {
    match body.bytes() {
        Some(bytes) => ReqBody::Bytes(bytes),
        None => ReqBody::None,
    }
}
